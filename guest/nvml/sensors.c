/* guest/nvml/sensors.c - clocks, thermals, power, fan, ECC, modes, PCIe,
 * utilization.
 *
 * The physical GPU's values as vgpud's supervisor last sampled them from
 * the host's NVML (about once a second), or the sim backend's fixed
 * values (the block says which). Clocks, temperature and power belong to
 * the whole board, which the VM shares; utilization is this VM's share
 * (ring/vminfo.h says how it is measured). A value the host could not
 * read answers NVML_ERROR_NOT_SUPPORTED, as NVML does for a sensor the
 * board lacks (an H100 SXM has no fan). */
#include "internal.h"
#include <stdio.h>

VN_VAL(nvmlDeviceGetPowerUsage, unsigned, VGPU_VMI_POWER, s.power_usage)
VN_VAL(nvmlDeviceGetPowerManagementLimit, unsigned, VGPU_VMI_POWER, s.power_limit)
VN_VAL(nvmlDeviceGetEnforcedPowerLimit, unsigned, VGPU_VMI_POWER, s.power_limit)
VN_VAL(nvmlDeviceGetPowerManagementDefaultLimit, unsigned, VGPU_VMI_POWER,
    s.power_default_limit)
VN_VAL(nvmlDeviceGetFanSpeed, unsigned, VGPU_VMI_FAN, s.fan_speed)
VN_VAL(nvmlDeviceGetNumFans, unsigned, VGPU_VMI_FAN, s.nfans)
VN_VAL(nvmlDeviceGetCurrPcieLinkGeneration, unsigned, VGPU_VMI_PCIE, s.pcie_gen)
VN_VAL(nvmlDeviceGetMaxPcieLinkGeneration, unsigned, VGPU_VMI_PCIE, s.pcie_gen_max)
VN_VAL(nvmlDeviceGetGpuMaxPcieLinkGeneration, unsigned, VGPU_VMI_PCIE, s.pcie_gen_max)
VN_VAL(nvmlDeviceGetCurrPcieLinkWidth, unsigned, VGPU_VMI_PCIE, s.pcie_width)
VN_VAL(nvmlDeviceGetMaxPcieLinkWidth, unsigned, VGPU_VMI_PCIE, s.pcie_width_max)

VN_VAL(nvmlDeviceGetPerformanceState, nvmlPstates_t, VGPU_VMI_PSTATE, s.pstate)
VN_VAL(nvmlDeviceGetPowerState, nvmlPstates_t, VGPU_VMI_PSTATE, s.pstate)
VN_VAL(nvmlDeviceGetPersistenceMode, nvmlEnableState_t, VGPU_VMI_MODES, s.persistence)
VN_VAL(nvmlDeviceGetComputeMode, nvmlComputeMode_t, VGPU_VMI_MODES, s.compute_mode)
VN_VAL(nvmlDeviceGetPowerManagementMode, nvmlEnableState_t, VGPU_VMI_POWER, NVML_FEATURE_ENABLED)
/* no display engine is exposed to a VM */
VN_VAL(nvmlDeviceGetDisplayMode, nvmlEnableState_t, VGPU_VMI_IDENTITY, NVML_FEATURE_DISABLED)
VN_VAL(nvmlDeviceGetDisplayActive, nvmlEnableState_t, VGPU_VMI_IDENTITY, NVML_FEATURE_DISABLED)

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(
	nvmlDevice_t d, unsigned long long *mj)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_get(d, &s, VGPU_VMI_ENERGY, mj);
	if (!r)
		*mj = s.energy;
	return r;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(
	nvmlDevice_t d, unsigned *min, unsigned *max)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_get(d, &s, VGPU_VMI_POWER, min);
	if (!r && !max)
		r = NVML_ERROR_INVALID_ARGUMENT;
	if (!r)
		*min = s.power_min_limit, *max = s.power_max_limit;
	return r;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetFanSpeed_v2(nvmlDevice_t d,
						   unsigned fan, unsigned *out)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_get(d, &s, VGPU_VMI_FAN, out);
	if (!r && fan >= s.nfans)
		r = NVML_ERROR_INVALID_ARGUMENT;
	if (!r)
		*out = s.fan_speed;
	return r;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d,
						   nvmlTemperatureSensors_t t,
						   unsigned *out)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_get(d, &s, VGPU_VMI_TEMP, out);
	if (!r && t != NVML_TEMPERATURE_GPU)
		r = NVML_ERROR_INVALID_ARGUMENT;
	if (!r)
		*out = s.temp_gpu;
	return r;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetTemperatureThreshold(
	nvmlDevice_t d, nvmlTemperatureThresholds_t t, unsigned *out)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_get(d, &s, VGPU_VMI_TEMP, out);
	if (r)
		return r;
	if ((unsigned)t >= NVML_TEMPERATURE_THRESHOLD_COUNT)
		return NVML_ERROR_INVALID_ARGUMENT;
	unsigned v = t == NVML_TEMPERATURE_THRESHOLD_SHUTDOWN ? s.temp_shutdown
		   : t == NVML_TEMPERATURE_THRESHOLD_SLOWDOWN ? s.temp_slowdown
		   : t == NVML_TEMPERATURE_THRESHOLD_GPU_MAX ? s.temp_max_gpu
							     : 0;
	if (!v)
		return NVML_ERROR_NOT_SUPPORTED;
	*out = v;
	return NVML_SUCCESS;
}

static nvmlReturn_t clock(nvmlDevice_t d, nvmlClockType_t t, unsigned *out,
			  bool max)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_get(d, &s, VGPU_VMI_CLOCKS, out);
	if (!r && (unsigned)t >= VGPU_VMI_NCLK)
		r = NVML_ERROR_INVALID_ARGUMENT;
	if (!r)
		*out = max ? s.clock_max[t] : s.clock[t];
	return r;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d,
						 nvmlClockType_t t,
						 unsigned *out)
{
	return clock(d, t, out, false);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t d,
						    nvmlClockType_t t,
						    unsigned *out)
{
	return clock(d, t, out, true);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetMaxCustomerBoostClock(nvmlDevice_t d,
							     nvmlClockType_t t,
							     unsigned *out)
{
	return clock(d, t, out, true);
}

/* Application clocks: the board's, set by the host's administrator
 * (guest/nvml/board.c). */
VGPU_EXPORT nvmlReturn_t nvmlDeviceGetClock(nvmlDevice_t d, nvmlClockType_t t,
					     nvmlClockId_t id, unsigned *out)
{
	if (id == NVML_CLOCK_ID_CURRENT)
		return clock(d, t, out, false);
	if (id == NVML_CLOCK_ID_CUSTOMER_BOOST_MAX)
		return clock(d, t, out, true);
	if (id == NVML_CLOCK_ID_APP_CLOCK_TARGET ||
	    id == NVML_CLOCK_ID_APP_CLOCK_DEFAULT)
		return vn_app_clock(d, t, out,
				    id == NVML_CLOCK_ID_APP_CLOCK_DEFAULT);
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(d, &s);
	return r ? r : NVML_ERROR_INVALID_ARGUMENT;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t d,
					       nvmlEnableState_t *cur,
					       nvmlEnableState_t *pending)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_get(d, &s, VGPU_VMI_ECC, cur);
	if (!r && !pending)
		r = NVML_ERROR_INVALID_ARGUMENT;
	if (!r) {
		*cur = s.ecc_current ? NVML_FEATURE_ENABLED
				     : NVML_FEATURE_DISABLED;
		*pending = s.ecc_pending ? NVML_FEATURE_ENABLED
					 : NVML_FEATURE_DISABLED;
	}
	return r;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetTotalEccErrors(
	nvmlDevice_t d, nvmlMemoryErrorType_t type, nvmlEccCounterType_t ctr,
	unsigned long long *out)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_get(d, &s, VGPU_VMI_ECC, out);
	if (r)
		return r;
	if ((unsigned)type >= NVML_MEMORY_ERROR_TYPE_COUNT ||
	    (unsigned)ctr >= NVML_ECC_COUNTER_TYPE_COUNT)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (!s.ecc_current) /* counters exist only with ECC on */
		return NVML_ERROR_NOT_SUPPORTED;
	bool corr = type == NVML_MEMORY_ERROR_TYPE_CORRECTED;
	*out = ctr == NVML_VOLATILE_ECC
		       ? (corr ? s.ecc_volatile_corrected
			       : s.ecc_volatile_uncorrected)
		       : (corr ? s.ecc_aggregate_corrected
			       : s.ecc_aggregate_uncorrected);
	return NVML_SUCCESS;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d,
							nvmlUtilization_t *u)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_get(d, &s, VGPU_VMI_UTIL, u);
	if (!r) {
		u->gpu = s.util_gpu > 100 ? 100 : s.util_gpu;
		u->memory = s.util_mem > 100 ? 100 : s.util_mem;
	}
	return r;
}

/* MIG is the host's business: the VM's GPU is never partitioned. */
VGPU_EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t d, unsigned *cur,
					       unsigned *pending)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_get(d, &s, VGPU_VMI_IDENTITY, cur);
	if (!r && !pending)
		r = NVML_ERROR_INVALID_ARGUMENT;
	if (!r)
		*cur = *pending = NVML_DEVICE_MIG_DISABLE;
	return r;
}
