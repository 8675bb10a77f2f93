/* daemon/worker_vmm_pool.c - the worker's memory pools (the stream-ordered
 * allocator's cuMemPool* and cuDevice*MemPool calls).
 *
 * Contract: pools are named by VGPU_HK_MEM_POOL handle ids from the
 * worker's handle table (so the generated cuMemAllocFromPoolAsync and
 * cuMemPoolTrimTo check them like any handle); the device's default pool
 * gets an id when first asked for. A pool id maps back to the driver's
 * pool and the driver's pool (from cuDeviceGetMemPool) to the id through
 * W's pool list, so the guest never sees a driver value. Pools are not
 * exportable: a pool asking for shareable handle types is refused with
 * CUDA_ERROR_NOT_SUPPORTED (the device reports no pool handle types).
 * Allocations from pools are ordinary allocations of the caller
 * (ring/cuda.api: cuMemAllocAsync, cuMemFreeAsync), counted in the ledger.
 */
#include "worker_vmm.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(CUmemPoolProps) == 88, "props travel as 88 bytes");

static uint64_t id_of(struct vw_vmm_pools *P, CUmemoryPool real)
{
	for (uint32_t i = 0; i < P->n; i++)
		if (P->v[i].real == real)
			return P->v[i].id;
	return 0;
}

/* A new id for real, in the handle table and the list. */
static uint64_t name_pool(struct vworker *W, struct vw_vmm_pools *P,
			  CUmemoryPool real)
{
	if (P->n == P->cap) {
		uint32_t cap = P->cap ? P->cap * 2 : 8;
		struct vw_pool *v = realloc(P->v, cap * sizeof(*v));
		if (!v)
			return 0;
		P->v = v;
		P->cap = cap;
	}
	uint64_t id = vw_handle_new(W, VGPU_HK_MEM_POOL, real);
	if (id)
		P->v[P->n++] = (struct vw_pool){id, real};
	return id;
}

static void forget_pool(struct vworker *W, struct vw_vmm_pools *P, uint64_t id)
{
	vw_handle_del(W, VGPU_HK_MEM_POOL, id);
	for (uint32_t i = 0; i < P->n; i++)
		if (P->v[i].id == id) {
			P->v[i] = P->v[--P->n];
			break;
		}
}

static CUresult create(struct vworker *W, struct vw_vmm_pools *P,
		       const struct vgpu_msg *m, uint64_t *o)
{
	CUmemPoolProps props;
	CUmemoryPool real;
	if (m->len != sizeof(props))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&props, m->data, sizeof(props));
	/* a guest pointer: the driver requires it zero off Windows */
	if (props.win32SecurityAttributes)
		return CUDA_ERROR_INVALID_VALUE;
	if (props.handleTypes != CU_MEM_HANDLE_TYPE_NONE)
		return CUDA_ERROR_NOT_SUPPORTED;
	uint64_t l;
	memcpy(&l, &props.location, sizeof(l));
	CUresult r = vw_vmm_loc_in(W, l, &props.location);
	if (!r)
		r = W->drv.cuMemPoolCreate(&real, &props);
	if (r)
		return r;
	if (!(o[0] = name_pool(W, P, real))) {
		W->drv.cuMemPoolDestroy(real);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return CUDA_SUCCESS;
}

static CUresult attr(struct vworker *W, CUmemoryPool pool, const uint64_t *a,
		     bool set, uint64_t *o)
{
	size_t n = vgpu_cu_pool_attr_size(a[2]);
	if (!n)
		return CUDA_ERROR_INVALID_VALUE;
	int iv = (int)a[3];
	cuuint64_t uv = a[3];
	void *val = n == sizeof(int) ? (void *)&iv : (void *)&uv;
	CUmemPool_attribute at = (CUmemPool_attribute)a[2];
	CUresult r = set ? W->drv.cuMemPoolSetAttribute(pool, at, val)
			 : W->drv.cuMemPoolGetAttribute(pool, at, val);
	if (!r && !set)
		o[0] = n == sizeof(int) ? (uint64_t)(uint32_t)iv : uv;
	return r;
}

static CUresult set_access(struct vworker *W, CUmemoryPool pool,
			   const uint64_t *a)
{
	CUmemAccessDesc d[VGPU_CU_MAX_POOL_ACCESS];
	if (a[2] > VGPU_CU_MAX_POOL_ACCESS)
		return CUDA_ERROR_INVALID_VALUE;
	for (uint64_t i = 0; i < a[2]; i++) {
		CUresult r = vw_vmm_loc_in(W, a[3 + 2 * i], &d[i].location);
		if (r)
			return r;
		d[i].flags = (CUmemAccess_flags)a[4 + 2 * i];
	}
	return W->drv.cuMemPoolSetAccess(pool, d, a[2]);
}

static CUresult get_access(struct vworker *W, CUmemoryPool pool,
			   const uint64_t *a, uint64_t *o)
{
	CUmemLocation l;
	CUmemAccess_flags f = CU_MEM_ACCESS_FLAGS_PROT_NONE;
	CUresult r = vw_vmm_loc_in(W, a[2], &l);
	if (!r)
		r = W->drv.cuMemPoolGetAccess(&f, pool, &l);
	o[0] = (uint64_t)f;
	return r;
}

/* The guest's device ordinals are the VM's GPUs; others name none. */
static CUdevice dev_in(struct vworker *W, uint64_t d)
{
	int h = d > INT_MAX ? -1 : vw_dev_host(W, (int64_t)d);
	return h < 0 ? INT_MAX : h;
}

static CUresult device_pool(struct vworker *W, struct vw_vmm_pools *P,
			    const uint64_t *a, uint64_t *o)
{
	CUmemoryPool real;
	CUresult r = a[0] == VGPU_POOL_DEVICE_DEFAULT
			     ? W->drv.cuDeviceGetDefaultMemPool(&real,
								dev_in(W, a[2]))
			     : W->drv.cuDeviceGetMemPool(&real, dev_in(W, a[2]));
	if (r)
		return r;
	o[0] = id_of(P, real);
	if (!o[0] && !(o[0] = name_pool(W, P, real)))
		return CUDA_ERROR_OUT_OF_MEMORY;
	return CUDA_SUCCESS;
}

static CUresult pool_op(struct vworker *W, struct vw_vmm_pools *P,
			const struct vgpu_msg *m, uint64_t *o)
{
	uint64_t a[8];
	CUmemoryPool pool = NULL;
	if (m->len != sizeof(a))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(a, m->data, sizeof(a));
	if (a[0] == VGPU_POOL_DEVICE_DEFAULT || a[0] == VGPU_POOL_DEVICE_GET)
		return device_pool(W, P, a, o);
	/* every other operation names one of the caller's pools */
	CUresult r = vw_handle_get(W, VGPU_HK_MEM_POOL, a[1], (void **)&pool);
	if (r)
		return r;
	switch (a[0]) {
	case VGPU_POOL_DESTROY:
		r = W->drv.cuMemPoolDestroy(pool);
		if (r == CUDA_SUCCESS) /* the default pool stays */
			forget_pool(W, P, a[1]);
		return r;
	case VGPU_POOL_SET_ATTR: return attr(W, pool, a, true, o);
	case VGPU_POOL_GET_ATTR: return attr(W, pool, a, false, o);
	case VGPU_POOL_SET_ACCESS: return set_access(W, pool, a);
	case VGPU_POOL_GET_ACCESS: return get_access(W, pool, a, o);
	case VGPU_POOL_DEVICE_SET:
		return W->drv.cuDeviceSetMemPool(dev_in(W, a[2]), pool);
	}
	return CUDA_ERROR_INVALID_VALUE;
}

void vw_vmm_pool(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args out = {{0}};
	struct vw_vmm *v = vw_vmm_of(W);
	CUresult r = CUDA_ERROR_OUT_OF_MEMORY;
	if (v) {
		pthread_mutex_lock(&v->mu);
		r = m->op == VGPU_CU_MEM_POOL_CREATE
			    ? create(W, &v->pools, m, out.a)
			    : pool_op(W, &v->pools, m, out.a);
		pthread_mutex_unlock(&v->mu);
	}
	vw_reply(W, m, vw_take_async_err(W, r), &out, sizeof(out), 0);
}
