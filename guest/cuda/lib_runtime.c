/* guest/cuda/lib_runtime.c - context queries the CUDA 13 runtime makes at
 * start-up and in cudaDeviceSynchronize that no other file answered yet (found by running nvcc-built
 * programs over this library with VGPU_LOG=debug).
 *
 * Contract: the process has one context, the primary one, so a context
 * argument is either NULL (the calling thread's current context) or that
 * context; anything else is CUDA_ERROR_INVALID_CONTEXT, and NULL with no
 * current context too, as natively. cuCtxGetApiVersion reports 3020: the
 * context API version of every context since CUDA 3.2 (the driver keeps it
 * while its own version moves on, cuda.h's comment on the call).
 */
#include "export_table.h"
#include "rpc.h"

static CUresult context(CUcontext *ctx)
{
	CUresult r = vgpu_cu_ready();
	CUcontext primary;
	if (r)
		return r;
	if (!*ctx && (r = cuCtxGetCurrent(ctx)))
		return r;
	if (!*ctx)
		return CUDA_ERROR_INVALID_CONTEXT;
	if ((r = vgpu_cu_primary_ctx(&primary)))
		return r;
	return *ctx == primary ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

VGPU_EXPORT CUresult cuCtxGetDevice_v2(CUdevice *device, CUcontext ctx)
{
	CUresult r = context(&ctx);
	if (!r && !device)
		r = CUDA_ERROR_INVALID_VALUE;
	if (!r)
		*device = 0;
	return r;
}

/* Weak: the stream area defines it too (guest/cuda/stream.c on its
 * branch); that one replaces this when both are linked. */
VGPU_EXPORT __attribute__((weak)) CUresult
cuCtxGetApiVersion(CUcontext ctx, unsigned int *version)
{
	CUresult r = context(&ctx);
	if (!r && !version)
		r = CUDA_ERROR_INVALID_VALUE;
	if (!r)
		*version = 3020;
	return r;
}

/* CUDA 13's form of cuCtxSynchronize (what cudaDeviceSynchronize calls):
 * the named context, or the current one for NULL. */
VGPU_EXPORT CUresult cuCtxSynchronize_v2(CUcontext ctx)
{
	CUresult r = context(&ctx);
	return r ? r : cuCtxSynchronize();
}
