/* guest/cuda/torch_ctx_id.c - a context's unique id (cuCtxGetId), which
 * cuBLAS also reads through entry 4 of the 21318c60 export table.
 *
 * Contract: cuCtxGetId(ctx, &id) gives ctx's id, ctx NULL meaning the
 * calling thread's current context (none: CUDA_ERROR_INVALID_CONTEXT, as
 * the driver documents). The real driver numbers contexts per process from
 * 1 in creation order; a guest process has exactly one context, the
 * primary context its worker holds (guest/cuda/ctx.c), created first, so
 * its id is 1 for the life of the process, as natively for a program that
 * uses only the primary context. A handle that is not this process's
 * context is CUDA_ERROR_INVALID_CONTEXT (the real driver would follow it).
 * Weak: the stream area defines cuCtxGetId too (guest/cuda/stream.c on its
 * branch, asking the worker's driver); that one replaces this when both
 * are linked.
 */
#include "export_table.h"
#include "rpc.h"

#define VGPU_PRIMARY_CTX_ID 1ull

VGPU_EXPORT __attribute__((weak)) CUresult
cuCtxGetId(CUcontext ctx, unsigned long long *id)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!id)
		return CUDA_ERROR_INVALID_VALUE;
	if (!ctx && (r = cuCtxGetCurrent(&ctx)))
		return r;
	if (!ctx || !vgpu_cu.ctx_id ||
	    (uint64_t)(uintptr_t)ctx != vgpu_cu.ctx_id)
		return CUDA_ERROR_INVALID_CONTEXT;
	*id = VGPU_PRIMARY_CTX_ID;
	return CUDA_SUCCESS;
}
