/* guest/nvml/nvlink.c - NVLink: the VM's GPU has none.
 *
 * A VM sees one GPU and no peers, so every NVLink query answers
 * NVML_ERROR_NOT_SUPPORTED, as NVML does on a board without NVLink (after
 * the usual checks: UNINITIALIZED before nvmlInit, INVALID_ARGUMENT for a
 * handle that is not ours). These are implemented, not stubs: they log
 * nothing. PyTorch checks that several of them exist.
 *
 * Each is defined as NAME(nvmlDevice_t) whatever its further parameters:
 * on x86_64 SysV a callee never touches arguments it does not declare, and
 * none of them is written before the answer is known. */
#include "internal.h"

static nvmlReturn_t no_nvlink(nvmlDevice_t d)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(d, &s);
	return r ? r : NVML_ERROR_NOT_SUPPORTED;
}

static nvmlReturn_t no_nvlink_system(void)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_snapshot(&s);
	return r ? r : NVML_ERROR_NOT_SUPPORTED;
}

#define DEV(name) VGPU_EXPORT nvmlReturn_t name(nvmlDevice_t d); \
	nvmlReturn_t name(nvmlDevice_t d) { return no_nvlink(d); }
#define SYS(name) VGPU_EXPORT nvmlReturn_t name(void); \
	nvmlReturn_t name(void) { return no_nvlink_system(); }

DEV(nvmlDeviceFreezeNvLinkUtilizationCounter)
DEV(nvmlDeviceGetNvlinkBwMode)
DEV(nvmlDeviceGetNvLinkCapability)
DEV(nvmlDeviceGetNvLinkErrorCounter)
DEV(nvmlDeviceGetNvLinkInfo)
DEV(nvmlDeviceGetNvLinkRemoteDeviceType)
DEV(nvmlDeviceGetNvLinkRemotePciInfo)
DEV(nvmlDeviceGetNvLinkRemotePciInfo_v2)
DEV(nvmlDeviceGetNvLinkState)
DEV(nvmlDeviceGetNvlinkSupportedBwModes)
DEV(nvmlDeviceGetNvLinkUtilizationControl)
DEV(nvmlDeviceGetNvLinkUtilizationCounter)
DEV(nvmlDeviceGetNvLinkVersion)
DEV(nvmlDeviceResetNvLinkErrorCounters)
DEV(nvmlDeviceResetNvLinkUtilizationCounter)
DEV(nvmlDeviceSetNvlinkBwMode)
DEV(nvmlDeviceSetNvLinkDeviceLowPowerThreshold)
DEV(nvmlDeviceSetNvLinkUtilizationControl)
SYS(nvmlSystemGetNvlinkBwMode)
SYS(nvmlSystemSetNvlinkBwMode)
