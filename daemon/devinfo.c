/* daemon/devinfo.c - build a VM's view of the device. */
#include "devinfo.h"
#include <stdio.h>
#include <string.h>

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Name-based UUID (RFC 9562 version 8 layout) from VM name + GPU UUID. */
static void vm_uuid(const char *vm, const CUuuid *gpu, uint8_t out[16])
{
	uint64_t a = fnv(0xcbf29ce484222325ull, vm, strlen(vm));
	a = fnv(a, gpu->bytes, 16);
	uint64_t b = fnv(a ^ 0x9e3779b97f4a7c15ull, gpu->bytes, 16);
	b = fnv(b, vm, strlen(vm));
	memcpy(out, &a, 8);
	memcpy(out + 8, &b, 8);
	out[6] = (uint8_t)((out[6] & 0x0f) | 0x80); /* version 8 */
	out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* variant 10 */
}

CUresult vgpu_devinfo_fill(const struct vgpu_driver *d, CUdevice dev,
			   const char *vm, uint64_t memory_limit,
			   struct vgpu_cu_devinfo *o)
{
	CUuuid uuid;
	size_t total;
	memset(o, 0, sizeof(*o));
	CUresult r = d->cuDeviceGetName(o->name, sizeof(o->name) - 1, dev);
	if (!r)
		r = d->cuDeviceGetUuid_v2(&uuid, dev);
	if (!r)
		r = d->cuDeviceTotalMem_v2(&total, dev);
	if (!r)
		r = d->cuDriverGetVersion(&o->driver_version);
	if (r)
		return r;
	vm_uuid(vm, &uuid, o->uuid);
	o->total_mem = memory_limit && memory_limit < total ? memory_limit
							    : total;
	o->nattrs = CU_DEVICE_ATTRIBUTE_MAX < VGPU_CU_MAX_ATTRS
			    ? CU_DEVICE_ATTRIBUTE_MAX
			    : VGPU_CU_MAX_ATTRS;
	for (uint32_t a = 0; a < o->nattrs; a++) {
		int v;
		o->attrs[a] = d->cuDeviceGetAttribute(&v, (CUdevice_attribute)a,
						      dev) == CUDA_SUCCESS
				      ? v
				      : VGPU_CU_ATTR_INVALID;
	}
	/* the guest's bus id, and the attributes that must agree with it */
	snprintf(o->pci_bus_id, sizeof(o->pci_bus_id), "0000:01:00.0");
	o->attrs[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID] = 0;
	o->attrs[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID] = 1;
	o->attrs[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID] = 0;
	/* not implemented by vgpu yet: never claim what does not work */
	o->attrs[CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY] = 0;
	o->attrs[CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS] = 0;
	o->attrs[CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS] = 0;
	o->attrs[CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED] = 0;
	o->attrs[CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY] = 0;
	return CUDA_SUCCESS;
}
