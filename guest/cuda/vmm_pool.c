/* guest/cuda/vmm_pool.c - memory pools of the stream-ordered allocator.
 *
 * Contract: cuMemPool* and cuDevice*MemPool are synchronous requests
 * (ring/cuda_proto.h's VGPU_CU_MEM_POOL*); pools are the worker's ids.
 * cuMemAllocAsync, cuMemAllocFromPoolAsync and cuMemFreeAsync come from
 * ring/cuda.api; their _ptsz forms (what nvcc's per-thread default stream
 * calls) are here: the default stream means this thread's stream. Pointer
 * arguments are checked here, as the driver does, before anything is sent.
 */
#include "rpc.h"
#include <string.h>

static CUresult pool_call(uint64_t op, CUmemoryPool pool, uint64_t a2,
			  uint64_t a3, uint64_t *out, const char *name)
{
	struct vgpu_cu_args a = {{op, (uint64_t)(uintptr_t)pool, a2, a3}};
	CUresult r = vgpu_cu_rpc(VGPU_CU_MEM_POOL, &a, true, name);
	if (r == CUDA_SUCCESS && out)
		*out = a.a[0];
	return r;
}

static uint64_t loc_wire(const CUmemLocation *l)
{
	uint64_t w;
	memcpy(&w, l, sizeof(w));
	return w;
}

VGPU_EXPORT CUresult cuMemPoolCreate(CUmemoryPool *pool,
				     const CUmemPoolProps *props)
{
	if (!pool || !props)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args out;
	CUresult r = vgpu_cu_call(VGPU_CU_MEM_POOL_CREATE, props,
				  sizeof(*props), &out, sizeof(out), true,
				  "cuMemPoolCreate");
	if (r == CUDA_SUCCESS)
		*pool = (CUmemoryPool)(uintptr_t)out.a[0];
	return r;
}

VGPU_EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool)
{
	return pool_call(VGPU_POOL_DESTROY, pool, 0, 0, NULL,
			 "cuMemPoolDestroy");
}

VGPU_EXPORT CUresult cuMemPoolSetAttribute(CUmemoryPool pool,
					   CUmemPool_attribute attr,
					   void *value)
{
	unsigned n = vgpu_cu_pool_attr_size((uint64_t)attr);
	uint64_t v = 0;
	if (!value || !n)
		return CUDA_ERROR_INVALID_VALUE;
	if (n == sizeof(int)) {
		int i;
		memcpy(&i, value, sizeof(i));
		v = (uint64_t)(uint32_t)i;
	} else {
		memcpy(&v, value, sizeof(v));
	}
	return pool_call(VGPU_POOL_SET_ATTR, pool, (uint64_t)attr, v, NULL,
			 "cuMemPoolSetAttribute");
}

VGPU_EXPORT CUresult cuMemPoolGetAttribute(CUmemoryPool pool,
					   CUmemPool_attribute attr,
					   void *value)
{
	unsigned n = vgpu_cu_pool_attr_size((uint64_t)attr);
	uint64_t v = 0;
	if (!value || !n)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = pool_call(VGPU_POOL_GET_ATTR, pool, (uint64_t)attr, 0, &v,
			       "cuMemPoolGetAttribute");
	if (r == CUDA_SUCCESS && n == sizeof(int)) {
		int i = (int)(uint32_t)v;
		memcpy(value, &i, sizeof(i));
	} else if (r == CUDA_SUCCESS) {
		memcpy(value, &v, sizeof(v));
	}
	return r;
}

VGPU_EXPORT CUresult cuMemPoolSetAccess(CUmemoryPool pool,
					const CUmemAccessDesc *map,
					size_t count)
{
	if ((!map && count) || count > VGPU_CU_MAX_POOL_ACCESS)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{VGPU_POOL_SET_ACCESS,
				  (uint64_t)(uintptr_t)pool, count}};
	for (size_t i = 0; i < count; i++) {
		a.a[3 + 2 * i] = loc_wire(&map[i].location);
		a.a[4 + 2 * i] = (uint64_t)map[i].flags;
	}
	return vgpu_cu_rpc(VGPU_CU_MEM_POOL, &a, true, "cuMemPoolSetAccess");
}

VGPU_EXPORT CUresult cuMemPoolGetAccess(CUmemAccess_flags *flags,
					CUmemoryPool pool,
					CUmemLocation *location)
{
	uint64_t f;
	if (!flags || !location)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = pool_call(VGPU_POOL_GET_ACCESS, pool, loc_wire(location),
			       0, &f, "cuMemPoolGetAccess");
	if (r == CUDA_SUCCESS)
		*flags = (CUmemAccess_flags)f;
	return r;
}

static CUresult device_pool(uint64_t op, CUmemoryPool *pool, CUdevice dev,
			    const char *name)
{
	uint64_t id;
	if (!pool)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = pool_call(op, NULL, (uint64_t)(int64_t)dev, 0, &id, name);
	if (r == CUDA_SUCCESS)
		*pool = (CUmemoryPool)(uintptr_t)id;
	return r;
}

VGPU_EXPORT CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool,
					       CUdevice dev)
{
	return device_pool(VGPU_POOL_DEVICE_DEFAULT, pool, dev,
			   "cuDeviceGetDefaultMemPool");
}

VGPU_EXPORT CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev)
{
	return device_pool(VGPU_POOL_DEVICE_GET, pool, dev,
			   "cuDeviceGetMemPool");
}

VGPU_EXPORT CUresult cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool)
{
	return pool_call(VGPU_POOL_DEVICE_SET, pool, (uint64_t)(int64_t)dev, 0,
			 NULL, "cuDeviceSetMemPool");
}
