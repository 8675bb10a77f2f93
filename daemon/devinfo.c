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

/* The device attributes vgpu does not simply pass through, and why: a
 * capability is reported only if every call it promises works through
 * vgpu (ggml, for one, aborts when an advertised VMM call fails). */
#define GPU_VALUE (-1) /* the GPU's own value: vgpu serves all of it */
static const struct {
	CUdevice_attribute attr;
	int value;
	const char *why;
} policy[] = {
	{CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, 0, "managed memory: not yet"},
	{CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, 0, "managed memory"},
	{CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS, 0,
	 "the GPU cannot reach a guest's pageable memory"},
	{CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, 0, "mapped host memory: not yet"},
	{CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, GPU_VALUE,
	 "every VMM call is remoted (daemon/worker_vmm.c, tests/gpu/vmm.c)"},
	{CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED, 0,
	 "a host fd cannot reach the guest: cuMemExportToShareableHandle "
	 "is NOT_SUPPORTED"},
	{CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_HANDLE_SUPPORTED, 0, "Linux host"},
	{CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_KMT_HANDLE_SUPPORTED, 0,
	 "Linux host"},
	{CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED, 0,
	 "fabric handles are shareable handles: not exported"},
	{CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED, 0,
	 "no RDMA peer inside a VM"},
	{CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED, 0,
	 "cuMemGetHandleForAddressRange makes a host fd: cannot reach a guest"},
	{CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED, 0,
	 "cuMulticast* (VMM handles bound to multicast objects): not yet"},
	{CU_DEVICE_ATTRIBUTE_SPARSE_CUDA_ARRAY_SUPPORTED, 0,
	 "cuMemMapArrayAsync (VMM handles into sparse arrays): not yet"},
	{CU_DEVICE_ATTRIBUTE_HOST_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, 0,
	 "host locations are refused by the worker"},
	{CU_DEVICE_ATTRIBUTE_HOST_NUMA_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, 0,
	 "host locations are refused by the worker"},
	{CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, GPU_VALUE,
	 "cuMemPool*, cuMemAllocAsync, cuMemFreeAsync are remoted "
	 "(daemon/worker_vmm_pool.c)"},
	{CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES, 0,
	 "pools are not exportable: shareable handles cannot reach a guest"},
	{CU_DEVICE_ATTRIBUTE_HOST_MEMORY_POOLS_SUPPORTED, 0,
	 "host locations are refused by the worker"},
	{CU_DEVICE_ATTRIBUTE_HOST_NUMA_MEMORY_POOLS_SUPPORTED, 0,
	 "host locations are refused by the worker"},
	{CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED, GPU_VALUE,
	 "IPC of memory and events between the VM's guest processes "
	 "(daemon/worker_vmm_ipc.c); refused across VMs"},
};

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
	/* capabilities vgpu decides itself (table above) */
	for (size_t i = 0; i < sizeof(policy) / sizeof(policy[0]); i++)
		if (policy[i].value != GPU_VALUE)
			o->attrs[policy[i].attr] = policy[i].value;
	return CUDA_SUCCESS;
}
