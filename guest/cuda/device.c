/* guest/cuda/device.c - device queries, answered from the cache cuInit
 * filled: microseconds, no context, no round trip. Devices are the
 * process's 0..n-1 (the VM's GPUs after CUDA_VISIBLE_DEVICES). */
#include "rpc.h"
#include <stdio.h>
#include <string.h>

static CUresult dev_ok(CUdevice dev)
{
	CUresult r = vgpu_cu_ready();
	return r ? r : vgpu_cu_dev(dev) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

VGPU_EXPORT CUresult cuDeviceGetCount(int *count)
{
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = vgpu_cu_ready();
	*count = r ? 0 : vgpu_cu.ndev;
	return r;
}

VGPU_EXPORT CUresult cuDeviceGet(CUdevice *dev, int ordinal)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!dev)
		return CUDA_ERROR_INVALID_VALUE;
	if (!vgpu_cu_dev(ordinal))
		return CUDA_ERROR_INVALID_DEVICE;
	*dev = ordinal;
	return CUDA_SUCCESS;
}

/* A cached string of the device into the caller's buffer of len bytes. */
static CUresult get_string(char *dst, int len, CUdevice dev, const char *src)
{
	CUresult r = dev_ok(dev);
	if (r)
		return r;
	if (!dst || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	snprintf(dst, (size_t)len, "%s", src);
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
	CUresult r = dev_ok(dev);
	return r ? r : get_string(name, len, dev, vgpu_cu_dev(dev)->name);
}

static CUresult get_uuid(CUuuid *uuid, CUdevice dev)
{
	CUresult r = dev_ok(dev);
	if (r)
		return r;
	if (!uuid)
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(uuid->bytes, vgpu_cu_dev(dev)->uuid, 16);
	return CUDA_SUCCESS;
}

#undef cuDeviceGetUuid /* cuda.h maps it to _v2: export both ABIs */
VGPU_EXPORT CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
	return get_uuid(uuid, dev);
}

VGPU_EXPORT CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
	return get_uuid(uuid, dev);
}

static CUresult total_mem(size_t *bytes, CUdevice dev)
{
	CUresult r = dev_ok(dev);
	if (r)
		return r;
	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	*bytes = vgpu_cu_dev(dev)->total_mem;
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	return total_mem(bytes, dev);
}

/* v1 ABI (CUDA < 3.2): a 32-bit byte count. */
#undef cuDeviceTotalMem
VGPU_EXPORT CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
	size_t b;
	CUresult r = total_mem(&b, dev);
	if (!r && bytes)
		*bytes = b > 0xFFFFFFFFu ? 0xFFFFFFFFu : (unsigned int)b;
	return r ? r : bytes ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

VGPU_EXPORT CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib,
					  CUdevice dev)
{
	CUresult r = dev_ok(dev);
	if (r)
		return r;
	const struct vgpu_cu_devinfo *i = vgpu_cu_dev(dev);
	if (!pi || (unsigned)attrib >= i->nattrs ||
	    i->attrs[attrib] == VGPU_CU_ATTR_INVALID)
		return CUDA_ERROR_INVALID_VALUE;
	*pi = i->attrs[attrib];
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuDeviceGetPCIBusId(char *bus, int len, CUdevice dev)
{
	CUresult r = dev_ok(dev);
	return r ? r : get_string(bus, len, dev, vgpu_cu_dev(dev)->pci_bus_id);
}

VGPU_EXPORT CUresult cuDeviceComputeCapability(int *major, int *minor,
					       CUdevice dev)
{
	CUresult r = dev_ok(dev);
	if (r)
		return r;
	if (!major || !minor)
		return CUDA_ERROR_INVALID_VALUE;
	const int32_t *a = vgpu_cu_dev(dev)->attrs;
	*major = a[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR];
	*minor = a[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR];
	return CUDA_SUCCESS;
}
