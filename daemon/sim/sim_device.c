/* daemon/sim/sim_device.c - the sim's devices: identity and size.
 *
 * Contract: after cuInit there are VGPU_SIM_GPUS devices (default one),
 * ordinals 0..n-1 (CUdevice d = ordinal d), named "vgpu sim (CPU test
 * double)", each with a fixed UUID (ASCII "vgpu sim device" and one more
 * character: '0'.. for device 0..) and the PCI address 0000:0d:00.0 (bus
 * = ordinal, matching the PCI_* attributes in sim_attr.c) and
 * VGPU_SIM_MEMORY bytes of memory. Any other ordinal or device is
 * CUDA_ERROR_INVALID_DEVICE; NULL outputs are CUDA_ERROR_INVALID_VALUE.
 * These calls need no context.
 */
#include "sim.h"
#include <stdio.h>
#include <string.h>

static const char name[] = "vgpu sim (CPU test double)";
/* Fixed so that tests and NVML-side code can match it; reads as the ASCII
 * "vgpu sim device0" (GPU-76677075-2073-696d-2064-657669636530). */
static const char uuid[16] = "vgpu sim device0";

CUresult sim_check_dev(CUdevice dev)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	return dev >= 0 && dev < sim_cfg.ndevs ? CUDA_SUCCESS
					       : CUDA_ERROR_INVALID_DEVICE;
}
#define check_dev sim_check_dev

CUresult sim_cuDeviceGetCount(int *count)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	*count = sim_cfg.ndevs;
	return CUDA_SUCCESS;
}

CUresult sim_cuDeviceGet(CUdevice *dev, int ordinal)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (!dev)
		return CUDA_ERROR_INVALID_VALUE;
	if (ordinal < 0 || ordinal >= sim_cfg.ndevs)
		return CUDA_ERROR_INVALID_DEVICE;
	*dev = ordinal;
	return CUDA_SUCCESS;
}

/* Truncates to len - 1 characters, like the real one. */
CUresult sim_cuDeviceGetName(char *out, int len, CUdevice dev)
{
	CUresult rc = check_dev(dev);
	if (rc)
		return rc;
	if (!out || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	snprintf(out, (size_t)len, "%s", name);
	return CUDA_SUCCESS;
}

CUresult sim_cuDeviceGetUuid_v2(CUuuid *out, CUdevice dev)
{
	CUresult rc = check_dev(dev);
	if (rc)
		return rc;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(out->bytes, uuid, sizeof(out->bytes));
	out->bytes[15] = (char)(dev < 10 ? '0' + dev : 'a' + dev - 10);
	return CUDA_SUCCESS;
}

CUresult sim_cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	CUresult rc = check_dev(dev);
	if (rc)
		return rc;
	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	*bytes = sim_cfg.total_mem;
	return CUDA_SUCCESS;
}

/* "domain:bus:device.function" from the PCI_* attributes, so the two
 * views of the address cannot disagree. */
CUresult sim_cuDeviceGetPCIBusId(char *out, int len, CUdevice dev)
{
	CUresult rc = check_dev(dev);
	if (rc)
		return rc;
	if (!out || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	int dom, bus, slot;
	sim_cuDeviceGetAttribute(&dom, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, dev);
	sim_cuDeviceGetAttribute(&bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, dev);
	sim_cuDeviceGetAttribute(&slot, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, dev);
	snprintf(out, (size_t)len, "%04x:%02x:%02x.0", (unsigned)dom,
		 (unsigned)bus, (unsigned)slot);
	return CUDA_SUCCESS;
}
