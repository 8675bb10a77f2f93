/* guest/nvml/nvml_api.h - prototypes of the NVML calls vgpu implements.
 *
 * Contract: NVML's public signatures (nvml_abi.h has the types) for every
 * entry point guest/nvml/ implements, so the library's definitions are
 * checked against them and vgpu's own programs (vgpu-smi, tests) can call
 * NVML without an nvml.h. The NvLink calls are absent on purpose: the
 * library defines them with one shared signature (guest/nvml/nvlink.c).
 */
#ifndef VGPU_GUEST_NVML_API_H
#define VGPU_GUEST_NVML_API_H

#include "nvml_abi.h"

typedef nvmlDevice_t nvmlDev;

nvmlReturn_t nvmlInit(void);
nvmlReturn_t nvmlInit_v2(void);
nvmlReturn_t nvmlInitWithFlags(unsigned flags);
nvmlReturn_t nvmlShutdown(void);
const char *nvmlErrorString(nvmlReturn_t r);
/* nvidia-smi's private table (guest/nvml/export_table.c) */
nvmlReturn_t nvmlInternalGetExportTable(const void **table, const void *id);

nvmlReturn_t nvmlSystemGetDriverVersion(char *v, unsigned len);
nvmlReturn_t nvmlSystemGetNVMLVersion(char *v, unsigned len);
nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v);
nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v);
nvmlReturn_t nvmlSystemGetProcessName(unsigned pid, char *name, unsigned len);

nvmlReturn_t nvmlDeviceGetCount(unsigned *n);
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *n);
nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned i, nvmlDev *d);
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned i, nvmlDev *d);
nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDev *d);
nvmlReturn_t nvmlDeviceGetHandleBySerial(const char *serial, nvmlDev *d);
nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *id, nvmlDev *d);
nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *id, nvmlDev *d);

nvmlReturn_t nvmlDeviceGetName(nvmlDev d, char *name, unsigned len);
nvmlReturn_t nvmlDeviceGetUUID(nvmlDev d, char *uuid, unsigned len);
nvmlReturn_t nvmlDeviceGetSerial(nvmlDev d, char *serial, unsigned len);
nvmlReturn_t nvmlDeviceGetIndex(nvmlDev d, unsigned *i);
nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDev d, unsigned *minor);
nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDev d, int *major,
						int *minor);
nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDev d, nvmlDeviceArchitecture_t *a);
nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDev d, nvmlPciInfo_v2_t *p);
nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDev d, nvmlPciInfo_v2_t *p);
nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDev d, nvmlPciInfo_t *p);
nvmlReturn_t nvmlDeviceGetPciInfoExt(nvmlDev d, nvmlPciInfoExt_v1_t *p);

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDev d, nvmlMemory_t *m);
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDev d, nvmlMemory_v2_t *m);
nvmlReturn_t nvmlDeviceGetBAR1MemoryInfo(nvmlDev d, nvmlBAR1Memory_t *b);
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDev d, unsigned *n,
						  nvmlProcessInfo_v1_t *p);
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDev d, unsigned *n,
						     nvmlProcessInfo_v2_t *p);
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDev d, unsigned *n,
						     nvmlProcessInfo_t *p);
nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDev d, unsigned *n,
						   nvmlProcessInfo_v1_t *p);
nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDev d, unsigned *n,
						      nvmlProcessInfo_v2_t *p);
nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDev d, unsigned *n,
						      nvmlProcessInfo_t *p);
nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses(nvmlDev d, unsigned *n,
						     nvmlProcessInfo_v1_t *p);
nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v2(
	nvmlDev d, unsigned *n, nvmlProcessInfo_v2_t *p);
nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v3(
	nvmlDev d, unsigned *n, nvmlProcessInfo_t *p);
nvmlReturn_t nvmlDeviceGetRunningProcessDetailList(
	nvmlDev d, nvmlProcessDetailList_v1_t *l);

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDev d, nvmlUtilization_t *u);
nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDev d, nvmlClockType_t t,
				    unsigned *mhz);
nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDev d, nvmlClockType_t t,
				       unsigned *mhz);
nvmlReturn_t nvmlDeviceGetMaxCustomerBoostClock(nvmlDev d, nvmlClockType_t t,
						unsigned *mhz);
nvmlReturn_t nvmlDeviceGetClock(nvmlDev d, nvmlClockType_t t,
				nvmlClockId_t id, unsigned *mhz);
nvmlReturn_t nvmlDeviceGetTemperature(nvmlDev d, nvmlTemperatureSensors_t s,
				      unsigned *c);
nvmlReturn_t nvmlDeviceGetTemperatureThreshold(nvmlDev d,
					       nvmlTemperatureThresholds_t t,
					       unsigned *c);
nvmlReturn_t nvmlDeviceGetTemperatureV(nvmlDev d, nvmlTemperature_v1_t *t);
nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDev d, int count,
				      nvmlFieldValue_t *values);
nvmlReturn_t nvmlDeviceGetMemoryBusWidth(nvmlDev d, unsigned *bits);
nvmlReturn_t nvmlDeviceGetMultiGpuBoard(nvmlDev d, unsigned *multi);
nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDev d, unsigned *mw);
nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDev d, unsigned *mw);
nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDev d, unsigned *mw);
nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDev d,
							  unsigned *min,
							  unsigned *max);
nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDev d, unsigned *mw);
nvmlReturn_t nvmlDeviceGetPowerManagementMode(nvmlDev d,
					      nvmlEnableState_t *m);
nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDev d,
						 unsigned long long *mj);
nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDev d, unsigned *pct);
nvmlReturn_t nvmlDeviceGetFanSpeed_v2(nvmlDev d, unsigned fan, unsigned *pct);
nvmlReturn_t nvmlDeviceGetNumFans(nvmlDev d, unsigned *n);
nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDev d, nvmlPstates_t *p);
nvmlReturn_t nvmlDeviceGetPowerState(nvmlDev d, nvmlPstates_t *p);
nvmlReturn_t nvmlDeviceGetEccMode(nvmlDev d, nvmlEnableState_t *cur,
				  nvmlEnableState_t *pending);
nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDev d, nvmlMemoryErrorType_t t,
					 nvmlEccCounterType_t c,
					 unsigned long long *n);
nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDev d, nvmlEnableState_t *m);
nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDev d, nvmlComputeMode_t *m);
nvmlReturn_t nvmlDeviceGetDisplayMode(nvmlDev d, nvmlEnableState_t *m);
nvmlReturn_t nvmlDeviceGetDisplayActive(nvmlDev d, nvmlEnableState_t *m);
nvmlReturn_t nvmlDeviceGetMigMode(nvmlDev d, unsigned *cur, unsigned *pending);
nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDev d, unsigned *g);
nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDev d, unsigned *g);
nvmlReturn_t nvmlDeviceGetGpuMaxPcieLinkGeneration(nvmlDev d, unsigned *g);
nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDev d, unsigned *w);
nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDev d, unsigned *w);
nvmlReturn_t nvmlDeviceGetVbiosVersion(nvmlDev d, char *v, unsigned len);
nvmlReturn_t nvmlDeviceGetBoardPartNumber(nvmlDev d, char *v, unsigned len);

/* events (guest/nvml/events.c) */
nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set);
nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set);
nvmlReturn_t nvmlEventSetWait(nvmlEventSet_t set, nvmlEventData_t *data,
			      unsigned timeoutms);
nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data,
				 unsigned timeoutms);
nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDev d,
					      unsigned long long *types);
nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDev d, unsigned long long types,
				      nvmlEventSet_t set);

/* board facts and MIG (guest/nvml/board.c) */
nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDev d, unsigned *n);
nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDev d, unsigned *is_mig);
nvmlReturn_t nvmlDeviceGetBoardId(nvmlDev d, unsigned *id);
nvmlReturn_t nvmlDeviceGetBrand(nvmlDev d, nvmlBrandType_t *b);
nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDev d,
						    unsigned long long *r);
nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDev d,
						       unsigned long long *r);
nvmlReturn_t nvmlDeviceGetSupportedClocksEventReasons(nvmlDev d,
						      unsigned long long *r);
nvmlReturn_t nvmlDeviceGetSupportedClocksThrottleReasons(
	nvmlDev d, unsigned long long *r);
nvmlReturn_t nvmlDeviceGetApplicationsClock(nvmlDev d, nvmlClockType_t t,
					    unsigned *mhz);
nvmlReturn_t nvmlDeviceGetDefaultApplicationsClock(nvmlDev d,
						   nvmlClockType_t t,
						   unsigned *mhz);
nvmlReturn_t nvmlDeviceGetInforomImageVersion(nvmlDev d, char *v,
					      unsigned len);
nvmlReturn_t nvmlDeviceGetGspFirmwareVersion(nvmlDev d, char *v);

#endif
