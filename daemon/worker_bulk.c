/* daemon/worker_bulk.c - register the region's arena and pinned pool at
 * worker start-up (worker_bulk.h says why and what on failure). */
#include "worker_bulk.h"
#include "../ring/wait.h"

#define BULK_FLAGS (CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP)

/* [arena_off, end of the pool): one range, so one registration (the gap
 * between arena and pool is region memory too, at most 2 MiB). */
static void bulk_range(const struct vgpu_region *r, uint8_t **p, uint64_t *n)
{
	const struct vgpu_geom *g = &r->g;
	uint64_t end = g->pool_size ? g->pool_off + g->pool_size
				    : g->arena_off +
					      (uint64_t)g->nchannels *
						      g->arena_per_chan;
	*p = r->base + g->arena_off;
	*n = end - g->arena_off;
}

CUresult vw_bulk_register(struct vworker *W, uint64_t *ns)
{
	uint8_t *p;
	uint64_t n, t0 = vgpu_now_ns();
	bulk_range(&W->r, &p, &n);
	*ns = 0;
	if (!n || W->r.g.arena_off + n > W->r.maplen)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = W->drv.cuMemHostRegister_v2(p, n, BULK_FLAGS);
	*ns = vgpu_now_ns() - t0;
	if (!r) {
		W->bulk_base = p;
		W->bulk_len = n;
	}
	return r;
}

bool vw_bulk_pool_dev(struct vworker *W, uint8_t *slice, CUdeviceptr *d)
{
	return W->bulk_base && slice >= W->bulk_base &&
	       (uint64_t)(slice - W->bulk_base) < W->bulk_len &&
	       W->drv.cuMemHostGetDevicePointer_v2(d, slice, 0) == CUDA_SUCCESS;
}
