/* guest/cuda/vmm.c - virtual memory management: reservations, physical
 * allocations, mappings, access.
 *
 * Contract: each call is one synchronous request (ring/cuda_proto.h's
 * VMM opcodes); the worker checks every address and handle id against
 * what it gave this process. Handles are the worker's ids, not the
 * driver's values. Structures travel as their bytes; the guest's device
 * ordinal 0 is translated in the worker. Out-pointers and structure
 * pointers are checked here, as the driver does, before anything is sent.
 */
#include "rpc.h"
#include <string.h>

static CUresult call(uint16_t op, struct vgpu_cu_args *a, const char *name)
{
	return vgpu_cu_rpc(op, a, true, name);
}

VGPU_EXPORT CUresult cuMemGetAllocationGranularity(
	size_t *granularity, const CUmemAllocationProp *prop,
	CUmemAllocationGranularity_flags option)
{
	if (!granularity || !prop)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{(uint64_t)option}};
	memcpy(&a.a[1], prop, sizeof(*prop));
	CUresult r = call(VGPU_CU_MEM_GET_GRANULARITY, &a,
			  "cuMemGetAllocationGranularity");
	if (r == CUDA_SUCCESS)
		*granularity = a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size,
					 size_t alignment, CUdeviceptr addr,
					 unsigned long long flags)
{
	if (!ptr)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{size, alignment, addr, flags}};
	CUresult r = call(VGPU_CU_MEM_ADDRESS_RESERVE, &a, "cuMemAddressReserve");
	if (r == CUDA_SUCCESS)
		*ptr = a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
	struct vgpu_cu_args a = {{ptr, size}};
	return call(VGPU_CU_MEM_ADDRESS_FREE, &a, "cuMemAddressFree");
}

VGPU_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle,
				 size_t size, const CUmemAllocationProp *prop,
				 unsigned long long flags)
{
	if (!handle || !prop)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{size, flags}};
	memcpy(&a.a[2], prop, sizeof(*prop));
	CUresult r = call(VGPU_CU_MEM_CREATE, &a, "cuMemCreate");
	if (r == CUDA_SUCCESS)
		*handle = a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
	struct vgpu_cu_args a = {{handle}};
	return call(VGPU_CU_MEM_RELEASE, &a, "cuMemRelease");
}

VGPU_EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
			      CUmemGenericAllocationHandle handle,
			      unsigned long long flags)
{
	struct vgpu_cu_args a = {{ptr, size, offset, handle, flags}};
	return call(VGPU_CU_MEM_MAP, &a, "cuMemMap");
}

VGPU_EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	struct vgpu_cu_args a = {{ptr, size}};
	return call(VGPU_CU_MEM_UNMAP, &a, "cuMemUnmap");
}

VGPU_EXPORT CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size,
				    const CUmemAccessDesc *desc, size_t count)
{
	uint64_t m[3 + 2 * VGPU_CU_MAX_ACCESS_DESCS] = {ptr, size, count};
	if (!desc || count > VGPU_CU_MAX_ACCESS_DESCS)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < count; i++) {
		memcpy(&m[3 + 2 * i], &desc[i].location, 8);
		m[4 + 2 * i] = (uint64_t)desc[i].flags;
	}
	struct vgpu_cu_args reply; /* the worker answers every call with one */
	return vgpu_cu_call(VGPU_CU_MEM_SET_ACCESS, m,
			    (uint32_t)((3 + 2 * count) * 8), &reply,
			    sizeof(reply), true, "cuMemSetAccess");
}

VGPU_EXPORT CUresult cuMemGetAccess(unsigned long long *flags,
				    const CUmemLocation *location,
				    CUdeviceptr ptr)
{
	if (!flags || !location)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{ptr}};
	memcpy(&a.a[1], location, sizeof(*location));
	CUresult r = call(VGPU_CU_MEM_GET_ACCESS, &a, "cuMemGetAccess");
	if (r == CUDA_SUCCESS)
		*flags = a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuMemGetAllocationPropertiesFromHandle(
	CUmemAllocationProp *prop, CUmemGenericAllocationHandle handle)
{
	if (!prop)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{handle}};
	CUresult r = call(VGPU_CU_MEM_GET_PROP, &a,
			  "cuMemGetAllocationPropertiesFromHandle");
	if (r == CUDA_SUCCESS)
		memcpy(prop, a.a, sizeof(*prop));
	return r;
}

VGPU_EXPORT CUresult cuMemRetainAllocationHandle(
	CUmemGenericAllocationHandle *handle, void *addr)
{
	if (!handle)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{(uint64_t)(uintptr_t)addr}};
	CUresult r = call(VGPU_CU_MEM_RETAIN_HANDLE, &a,
			  "cuMemRetainAllocationHandle");
	if (r == CUDA_SUCCESS)
		*handle = a.a[0];
	return r;
}
