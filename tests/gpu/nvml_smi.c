/* tests/gpu/nvml_smi.c - the NVML calls nvidia-smi makes, through vgpu.
 *
 * Usage: nvml_smi [--sim]   (linked with -lnvidia-ml only)
 *
 * NVIDIA's nvidia-smi cannot run without NVIDIA's userspace, so this
 * program makes the sequence of calls its default table and `-q` make
 * (derived from what each prints, field by field, and from the calls the
 * real nvidia-smi 580 made through vgpu on the GPU host) and checks each
 * returns what vgpu documents (docs/nvml.md):
 *   OK      NVML_SUCCESS, with a plausible value;
 *   SENSOR  a reading of the physical board: SUCCESS, or NOT_SUPPORTED
 *           when the host cannot read it (with --sim, the sim supplies
 *           every one: SUCCESS only);
 *   NS      NOT_SUPPORTED: nothing a VM can truthfully report;
 *   TIMEOUT an event wait on which nothing arrives.
 * An answer outside these (above all "Unknown Error" or a crash) is what
 * makes nvidia-smi print "Internal NVML error" and stop. Each section
 * prints "ok NAME" or "FAIL NAME: why"; ends "nvml_smi: N passed, N failed".
 */
#define _GNU_SOURCE
#include "../../guest/nvml/nvml_api.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Not implemented by vgpu (generated stubs); prototypes for the call
 * only: the arguments are never touched. */
nvmlReturn_t nvmlDeviceGetAddressingMode(nvmlDevice_t, void *);
nvmlReturn_t nvmlDeviceGetAccountingMode(nvmlDevice_t, nvmlEnableState_t *);
nvmlReturn_t nvmlDeviceGetAccountingBufferSize(nvmlDevice_t, unsigned *);
nvmlReturn_t nvmlDeviceGetInforomVersion(nvmlDevice_t, int, char *, unsigned);
nvmlReturn_t nvmlDeviceGetGpuOperationMode(nvmlDevice_t, int *, int *);
nvmlReturn_t nvmlDeviceGetHostVgpuMode(nvmlDevice_t, int *);
nvmlReturn_t nvmlDeviceGetBridgeChipInfo(nvmlDevice_t, void *);
nvmlReturn_t nvmlDeviceGetPcieReplayCounter(nvmlDevice_t, unsigned *);
nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t, unsigned *,
					     unsigned *);
nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t, unsigned *,
					     unsigned *);
nvmlReturn_t nvmlDeviceGetEncoderStats(nvmlDevice_t, unsigned *, unsigned *,
				       unsigned *);
nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t, int, unsigned *,
				       unsigned long long *);
nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t, unsigned *, unsigned *,
				       unsigned *, unsigned *);
nvmlReturn_t nvmlDeviceGetAutoBoostedClocksEnabled(nvmlDevice_t,
						   nvmlEnableState_t *,
						   nvmlEnableState_t *);
nvmlReturn_t nvmlDeviceGetGpuFabricInfoV(nvmlDevice_t, void *);

enum want { OK, SENSOR, NS, TIMEOUT };
static const char *want_name[] = {"SUCCESS", "SUCCESS or NOT_SUPPORTED",
				  "NOT_SUPPORTED", "TIMEOUT"};

static int sim, passed, failed;

struct section {
	const char *name;
	int bad;
	char why[256];
};

__attribute__((format(printf, 2, 3))) static void fail(struct section *s,
							const char *fmt, ...)
{
	if (s->bad++)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
}

static bool accepts(enum want w, nvmlReturn_t r)
{
	switch (w) {
	case OK:
		return r == NVML_SUCCESS;
	case SENSOR:
		return r == NVML_SUCCESS ||
		       (!sim && r == NVML_ERROR_NOT_SUPPORTED);
	case NS:
		return r == NVML_ERROR_NOT_SUPPORTED;
	case TIMEOUT:
		return r == NVML_ERROR_TIMEOUT;
	}
	return false;
}

/* Returns whether the call succeeded, so a value check can follow. */
static bool expect_(struct section *s, enum want w, nvmlReturn_t r,
		    const char *call, int line)
{
	if (!accepts(w, r))
		fail(s, "line %d: %s = %d (%s), want %s", line, call, (int)r,
		     nvmlErrorString(r), want_name[w]);
	return r == NVML_SUCCESS;
}
#define E(s, w, call) expect_((s), (w), (call), #call, __LINE__)
#define TRUE(s, cond, fmt, ...)                                              \
	((cond) ? (void)0                                                    \
		: fail((s), "line %d: " fmt, __LINE__, ##__VA_ARGS__))

static void end(struct section *s)
{
	if (s->bad) {
		failed++;
		printf("FAIL %s: %s\n", s->name, s->why);
	} else {
		passed++;
		printf("ok %s\n", s->name);
	}
}

/* Header line: versions, device count; the event set nvidia-smi opens
 * before it reads any device (its absence was "Internal NVML error"). */
static nvmlDevice_t header(nvmlEventSet_t *es)
{
	struct section s = {.name = "header"};
	char v[96];
	int cuda = 0;
	unsigned n = 0;
	nvmlDevice_t d = NULL;
	E(&s, OK, nvmlInit_v2());
	if (E(&s, OK, nvmlSystemGetDriverVersion(v, sizeof(v))))
		TRUE(&s, strchr(v, '.') != NULL, "driver version '%s'", v);
	E(&s, OK, nvmlSystemGetNVMLVersion(v, sizeof(v)));
	if (E(&s, OK, nvmlSystemGetCudaDriverVersion_v2(&cuda)))
		TRUE(&s, cuda >= 12000, "CUDA version %d", cuda);
	E(&s, OK, nvmlEventSetCreate(es));
	if (E(&s, OK, nvmlDeviceGetCount_v2(&n)))
		TRUE(&s, n == 1, "%u devices", n);
	E(&s, OK, nvmlDeviceGetHandleByIndex_v2(0, &d));
	end(&s);
	return d;
}

/* The events nvidia-smi listens for: only those vgpu can deliver may be
 * registered; the rest are NOT_SUPPORTED; a wait with nothing pending
 * times out. */
static void events(nvmlDevice_t d, nvmlEventSet_t es)
{
	struct section s = {.name = "events"};
	unsigned long long types = ~0ull;
	nvmlEventData_t ev;
	E(&s, OK, nvmlDeviceGetSupportedEventTypes(d, &types));
	E(&s, OK, nvmlDeviceRegisterEvents(d, types, es));
	unsigned long long xid = nvmlEventTypeXidCriticalError;
	E(&s, (types & xid) ? OK : NS, nvmlDeviceRegisterEvents(d, xid, es));
	E(&s, TIMEOUT, nvmlEventSetWait_v2(es, &ev, 0));
	E(&s, TIMEOUT, nvmlEventSetWait_v2(es, &ev, 10));
	end(&s);
}

/* The default table: one row block per GPU. */
static void table(nvmlDevice_t d)
{
	struct section s = {.name = "default_table"};
	char name[96];
	nvmlEnableState_t e, e2;
	nvmlPciInfo_t pci;
	unsigned long long ecc;
	unsigned u, u2, cur, pend;
	nvmlPstates_t ps;
	nvmlMemory_v2_t m = {.version = nvmlMemory_v2};
	nvmlUtilization_t ut;
	nvmlComputeMode_t cm;
	E(&s, OK, nvmlDeviceGetName(d, name, sizeof(name)));
	E(&s, SENSOR, nvmlDeviceGetPersistenceMode(d, &e));
	E(&s, OK, nvmlDeviceGetPciInfo_v3(d, &pci));
	E(&s, OK, nvmlDeviceGetDisplayActive(d, &e));
	if (E(&s, SENSOR, nvmlDeviceGetEccMode(d, &e, &e2)) &&
	    e == NVML_FEATURE_ENABLED)
		E(&s, OK, nvmlDeviceGetTotalEccErrors(
				  d, NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
				  NVML_VOLATILE_ECC, &ecc));
	E(&s, SENSOR, nvmlDeviceGetFanSpeed(d, &u));
	E(&s, SENSOR, nvmlDeviceGetTemperature(d, NVML_TEMPERATURE_GPU, &u));
	if (E(&s, SENSOR, nvmlDeviceGetPerformanceState(d, &ps)))
		TRUE(&s, ps <= NVML_PSTATE_15, "pstate %d", (int)ps);
	if (E(&s, SENSOR, nvmlDeviceGetPowerUsage(d, &u)) &&
	    E(&s, OK, nvmlDeviceGetEnforcedPowerLimit(d, &u2)))
		TRUE(&s, u2 > 0, "power cap %u", u2);
	if (E(&s, OK, nvmlDeviceGetMemoryInfo_v2(d, &m)))
		TRUE(&s, m.used <= m.total && m.free <= m.total,
		     "memory %llu used %llu free of %llu", m.used, m.free,
		     m.total);
	if (E(&s, OK, nvmlDeviceGetUtilizationRates(d, &ut)))
		TRUE(&s, ut.gpu <= 100, "util %u", ut.gpu);
	E(&s, SENSOR, nvmlDeviceGetComputeMode(d, &cm));
	if (E(&s, OK, nvmlDeviceGetMigMode(d, &cur, &pend)))
		TRUE(&s, cur == NVML_DEVICE_MIG_DISABLE, "MIG mode %u", cur);
	if (E(&s, OK, nvmlDeviceGetMaxMigDeviceCount(d, &u)))
		TRUE(&s, u == 0, "%u MIG devices", u);
	if (E(&s, OK, nvmlDeviceIsMigDeviceHandle(d, &u)))
		TRUE(&s, u == 0, "a MIG device handle");
	end(&s);
}

/* The processes table: compute, graphics and MPS lists, names by pid. */
static void processes(nvmlDevice_t d)
{
	struct section s = {.name = "processes"};
	nvmlProcessInfo_t p[64];
	unsigned n = 64;
	char name[256];
	if (E(&s, OK, nvmlDeviceGetComputeRunningProcesses_v3(d, &n, p)))
		for (unsigned i = 0; i < n; i++)
			if (p[i].pid == (unsigned)getpid())
				E(&s, OK, nvmlSystemGetProcessName(
						  p[i].pid, name, sizeof(name)));
	n = 64;
	E(&s, OK, nvmlDeviceGetGraphicsRunningProcesses_v3(d, &n, p));
	n = 64;
	E(&s, OK, nvmlDeviceGetMPSComputeRunningProcesses_v3(d, &n, p));
	end(&s);
}

/* nvidia-smi -q: identity and board. */
static void query_board(nvmlDevice_t d)
{
	struct section s = {.name = "q_board"};
	char v[96], gsp[64];
	nvmlBrandType_t b;
	nvmlDeviceArchitecture_t a;
	nvmlEnableState_t e;
	unsigned u, mode[2];
	int im, pm;
	/* an NVIDIA board's name names its product line (the sim's does not) */
	if (E(&s, OK, nvmlDeviceGetName(d, v, sizeof(v))) &&
	    E(&s, OK, nvmlDeviceGetBrand(d, &b)))
		TRUE(&s, strncmp(v, "NVIDIA ", 7) || b != NVML_BRAND_UNKNOWN,
		     "brand of '%s' unknown", v);
	E(&s, OK, nvmlDeviceGetArchitecture(d, &a));
	E(&s, OK, nvmlDeviceGetDisplayMode(d, &e));
	E(&s, OK, nvmlDeviceGetDisplayActive(d, &e));
	E(&s, SENSOR, nvmlDeviceGetPersistenceMode(d, &e));
	E(&s, NS, nvmlDeviceGetAddressingMode(d, mode));
	E(&s, OK, nvmlDeviceGetMigMode(d, &mode[0], &mode[1]));
	E(&s, NS, nvmlDeviceGetAccountingMode(d, &e));
	E(&s, NS, nvmlDeviceGetAccountingBufferSize(d, &u));
	E(&s, OK, nvmlDeviceGetSerial(d, v, sizeof(v)));
	E(&s, OK, nvmlDeviceGetUUID(d, v, sizeof(v)));
	E(&s, OK, nvmlDeviceGetMinorNumber(d, &u));
	E(&s, SENSOR, nvmlDeviceGetVbiosVersion(d, v, sizeof(v)));
	if (E(&s, OK, nvmlDeviceGetMultiGpuBoard(d, &u)))
		TRUE(&s, u == 0, "multi-GPU board");
	E(&s, SENSOR, nvmlDeviceGetBoardId(d, &u));
	E(&s, SENSOR, nvmlDeviceGetBoardPartNumber(d, v, sizeof(v)));
	E(&s, SENSOR, nvmlDeviceGetInforomImageVersion(d, v, sizeof(v)));
	for (int obj = 0; obj < 3; obj++) /* OEM, ECC, power objects */
		E(&s, NS, nvmlDeviceGetInforomVersion(d, obj, v, sizeof(v)));
	E(&s, NS, nvmlDeviceGetGpuOperationMode(d, &im, &pm));
	E(&s, NS, nvmlDeviceGetHostVgpuMode(d, &im));
	E(&s, SENSOR, nvmlDeviceGetGspFirmwareVersion(d, gsp));
	end(&s);
}

/* nvidia-smi -q: PCI, link, memory, modes, utilization, ECC. */
static void query_pci_memory(nvmlDevice_t d)
{
	struct section s = {.name = "q_pci_memory"};
	nvmlPciInfoExt_v1_t px = {.version = nvmlPciInfoExt_v1};
	nvmlBAR1Memory_t bar;
	nvmlMemory_v2_t m = {.version = nvmlMemory_v2};
	nvmlComputeMode_t cm;
	nvmlUtilization_t ut;
	nvmlEnableState_t e, e2;
	unsigned u, u2, u3;
	unsigned long long ull[8];
	E(&s, OK, nvmlDeviceGetPciInfoExt(d, &px));
	E(&s, SENSOR, nvmlDeviceGetMaxPcieLinkGeneration(d, &u));
	E(&s, SENSOR, nvmlDeviceGetGpuMaxPcieLinkGeneration(d, &u));
	E(&s, SENSOR, nvmlDeviceGetCurrPcieLinkGeneration(d, &u));
	E(&s, SENSOR, nvmlDeviceGetMaxPcieLinkWidth(d, &u));
	E(&s, SENSOR, nvmlDeviceGetCurrPcieLinkWidth(d, &u));
	E(&s, NS, nvmlDeviceGetBridgeChipInfo(d, ull));
	E(&s, NS, nvmlDeviceGetPcieReplayCounter(d, &u));
	E(&s, SENSOR, nvmlDeviceGetFanSpeed(d, &u));
	E(&s, OK, nvmlDeviceGetMemoryInfo_v2(d, &m));
	E(&s, SENSOR, nvmlDeviceGetBAR1MemoryInfo(d, &bar));
	E(&s, SENSOR, nvmlDeviceGetComputeMode(d, &cm));
	E(&s, OK, nvmlDeviceGetUtilizationRates(d, &ut));
	E(&s, NS, nvmlDeviceGetEncoderUtilization(d, &u, &u2));
	E(&s, NS, nvmlDeviceGetDecoderUtilization(d, &u, &u2));
	E(&s, NS, nvmlDeviceGetEncoderStats(d, &u, &u2, &u3));
	if (E(&s, SENSOR, nvmlDeviceGetEccMode(d, &e, &e2)) &&
	    e == NVML_FEATURE_ENABLED)
		for (int t = 0; t < 2; t++)
			for (int c = 0; c < 2; c++)
				E(&s, OK,
				  nvmlDeviceGetTotalEccErrors(
					  d, (nvmlMemoryErrorType_t)t,
					  (nvmlEccCounterType_t)c, &ull[0]));
	u = 0;
	E(&s, NS, nvmlDeviceGetRetiredPages(d, 0, &u, ull));
	E(&s, NS, nvmlDeviceGetRemappedRows(d, &u, &u2, &u3, &u));
	end(&s);
}

/* nvidia-smi -q: performance, clocks event reasons, thermals, power. */
static void query_perf(nvmlDevice_t d)
{
	struct section s = {.name = "q_perf_power"};
	nvmlPstates_t ps;
	unsigned long long r, sup, mj;
	unsigned u, lo, hi;
	nvmlEnableState_t e, e2;
	nvmlTemperature_v1_t tv = {.version = nvmlTemperature_v1,
				   .sensorType = NVML_TEMPERATURE_GPU};
	E(&s, SENSOR, nvmlDeviceGetPerformanceState(d, &ps));
	if (E(&s, SENSOR, nvmlDeviceGetCurrentClocksEventReasons(d, &r)) &&
	    E(&s, OK, nvmlDeviceGetSupportedClocksEventReasons(d, &sup)))
		TRUE(&s, (r & ~sup) == 0, "reasons %#llx outside %#llx", r,
		     sup);
	E(&s, SENSOR, nvmlDeviceGetTemperature(d, NVML_TEMPERATURE_GPU, &u));
	E(&s, SENSOR, nvmlDeviceGetTemperatureV(d, &tv));
	/* shutdown, slowdown, GPU max operating */
	static const nvmlTemperatureThresholds_t th[] = {
		NVML_TEMPERATURE_THRESHOLD_SHUTDOWN,
		NVML_TEMPERATURE_THRESHOLD_SLOWDOWN,
		NVML_TEMPERATURE_THRESHOLD_GPU_MAX};
	for (int t = 0; t < 3; t++)
		E(&s, SENSOR, nvmlDeviceGetTemperatureThreshold(d, th[t], &u));
	E(&s, SENSOR, nvmlDeviceGetPowerManagementMode(d, &e));
	E(&s, SENSOR, nvmlDeviceGetPowerUsage(d, &u));
	E(&s, SENSOR, nvmlDeviceGetPowerManagementLimit(d, &u));
	E(&s, SENSOR, nvmlDeviceGetPowerManagementDefaultLimit(d, &u));
	E(&s, SENSOR, nvmlDeviceGetEnforcedPowerLimit(d, &u));
	if (E(&s, SENSOR, nvmlDeviceGetPowerManagementLimitConstraints(
				  d, &lo, &hi)))
		TRUE(&s, lo <= hi, "power limits %u..%u", lo, hi);
	E(&s, SENSOR, nvmlDeviceGetTotalEnergyConsumption(d, &mj));
	E(&s, NS, nvmlDeviceGetAutoBoostedClocksEnabled(d, &e, &e2));
	end(&s);
}

/* nvidia-smi -q: clocks, application clocks, max and boost clocks. */
static void query_clocks(nvmlDevice_t d)
{
	struct section s = {.name = "q_clocks"};
	unsigned cur, max, app, dflt;
	for (int t = 0; t < 4; t++) { /* graphics, SM, memory, video */
		nvmlClockType_t c = (nvmlClockType_t)t;
		if (E(&s, SENSOR, nvmlDeviceGetClockInfo(d, c, &cur)) &&
		    E(&s, OK, nvmlDeviceGetMaxClockInfo(d, c, &max)))
			TRUE(&s, cur <= max, "clock %d: %u > max %u", t, cur,
			     max);
		E(&s, SENSOR, nvmlDeviceGetMaxCustomerBoostClock(d, c, &max));
		if (t != NVML_CLOCK_GRAPHICS && t != NVML_CLOCK_MEM)
			continue; /* the application clocks nvidia-smi shows */
		if (E(&s, SENSOR, nvmlDeviceGetApplicationsClock(d, c, &app)) &&
		    E(&s, OK, nvmlDeviceGetDefaultApplicationsClock(d, c,
								     &dflt)))
			TRUE(&s, app > 0 && dflt > 0, "app clocks %u %u", app,
			     dflt);
		E(&s, SENSOR, nvmlDeviceGetClock(d, c,
						  NVML_CLOCK_ID_APP_CLOCK_TARGET,
						  &app));
	}
	end(&s);
}

/* nvidia-smi -q: fabric (NvLink switches) and teardown. */
static void query_end(nvmlDevice_t d, nvmlEventSet_t es)
{
	struct section s = {.name = "q_fabric_and_shutdown"};
	unsigned char fabric[512] = {0};
	E(&s, NS, nvmlDeviceGetGpuFabricInfoV(d, fabric));
	E(&s, OK, nvmlEventSetFree(es));
	E(&s, OK, nvmlShutdown());
	end(&s);
}

int main(int argc, char **argv)
{
	sim = argc > 1 && !strcmp(argv[1], "--sim");
	setvbuf(stdout, NULL, _IOLBF, 0);
	nvmlEventSet_t es = NULL;
	nvmlDevice_t d = header(&es);
	if (!failed) {
		events(d, es);
		table(d);
		processes(d);
		query_board(d);
		query_pci_memory(d);
		query_perf(d);
		query_clocks(d);
		query_end(d, es);
	}
	printf("nvml_smi: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
