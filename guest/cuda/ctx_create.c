/* guest/cuda/ctx_create.c - non-primary contexts: cuCtxCreate (v1 to v4),
 * cuCtxDestroy (v1, v2), and which contexts are the process's.
 *
 * Contract: the worker creates and holds each context (VGPU_CU_CTX_CREATE)
 * and names it by an id, which is the CUcontext the program sees; the new
 * context is pushed on the calling thread's stack, as natively. Flags are
 * the driver's to judge. Execution-affinity and CIG parameters are refused
 * (an SM-count affinity needs MPS, which a VM's worker does not have:
 * CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY; CIG: CUDA_ERROR_NOT_SUPPORTED);
 * NULL or empty parameters create a plain context. cuCtxDestroy asks the
 * worker to destroy it: every handle and allocation made in it is refused
 * from then on; the context is popped if it is the caller's current one,
 * and its context-local storage ends. The primary context is not a
 * cuCtxDestroy's (CUDA_ERROR_INVALID_CONTEXT).
 */
#include "rpc.h"
#include <pthread.h>
#include <string.h>
#include "export_table.h" /* vgpu_cls_destroy */

#define LIVE_MAX 256 /* contexts created and not destroyed, at once */
static uint64_t live[LIVE_MAX];
static int live_dev[LIVE_MAX]; /* the device each was created on */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

bool vgpu_cu_ctx_known(CUcontext ctx)
{
	uint64_t id = (uint64_t)(uintptr_t)ctx;
	if (!id)
		return false;
	if (vgpu_cu_ctx_dev(id) >= 0)
		return true;
	bool found = false;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < LIVE_MAX && !found; i++)
		found = live[i] == id;
	pthread_mutex_unlock(&mu);
	return found;
}

void vgpu_cu_ctx_forget_created(void)
{
	memset(live, 0, sizeof(live));
	pthread_mutex_init(&mu, NULL);
}

int vgpu_cu_ctx_created_dev(uint64_t id)
{
	int d = -1;
	pthread_mutex_lock(&mu);
	for (int i = 0; id && i < LIVE_MAX && d < 0; i++)
		if (live[i] == id)
			d = live_dev[i];
	pthread_mutex_unlock(&mu);
	return d;
}

static bool remember(uint64_t id, CUdevice dev)
{
	bool ok = false;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < LIVE_MAX && !ok; i++)
		if (!live[i])
			live[i] = id, live_dev[i] = dev, ok = true;
	pthread_mutex_unlock(&mu);
	return ok;
}

static bool forget(uint64_t id)
{
	bool found = false;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < LIVE_MAX && !found; i++)
		if (live[i] == id)
			live[i] = 0, found = true;
	pthread_mutex_unlock(&mu);
	return found;
}

static CUresult destroy_id(uint64_t id)
{
	struct vgpu_cu_args a = {{id}};
	return vgpu_cu_rpc(VGPU_CU_CTX_DESTROY, &a, true, "cuCtxDestroy");
}

static CUresult create(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	if (!vgpu_cu_dev(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	if (!vgpu_cu_ctx_room())
		return CUDA_ERROR_OUT_OF_MEMORY;
	struct vgpu_cu_args a = {{flags, (uint64_t)dev}};
	if ((r = vgpu_cu_rpc(VGPU_CU_CTX_CREATE, &a, true, "cuCtxCreate")))
		return r;
	if (!remember(a.a[0], dev)) {
		destroy_id(a.a[0]);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	vgpu_cu_ctx_pushed(a.a[0]);
	*pctx = (CUcontext)(uintptr_t)a.a[0];
	return CUDA_SUCCESS;
}

static CUresult affinity(const CUexecAffinityParam *p, int n)
{
	if (n < 0 || (n > 0 && !p))
		return CUDA_ERROR_INVALID_VALUE;
	return n ? CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY : CUDA_SUCCESS;
}

/* cuda.h maps the plain name to _v4; the v1 ABI symbol takes v2's
 * arguments */
#undef cuCtxCreate
VGPU_EXPORT CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags,
				 CUdevice dev)
{
	return create(pctx, flags, dev);
}

VGPU_EXPORT CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags,
				    CUdevice dev)
{
	return create(pctx, flags, dev);
}

VGPU_EXPORT CUresult cuCtxCreate_v3(CUcontext *pctx,
				    CUexecAffinityParam *params, int n,
				    unsigned int flags, CUdevice dev)
{
	CUresult r = vgpu_cu_ready();
	if (!r)
		r = affinity(params, n);
	return r ? r : create(pctx, flags, dev);
}

VGPU_EXPORT CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *p,
				    unsigned int flags, CUdevice dev)
{
	CUresult r = vgpu_cu_ready();
	if (!r && p)
		r = affinity(p->execAffinityParams, p->numExecAffinityParams);
	if (!r && p && p->cigParams)
		r = CUDA_ERROR_NOT_SUPPORTED;
	return r ? r : create(pctx, flags, dev);
}

static CUresult destroy(CUcontext ctx)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	uint64_t id = (uint64_t)(uintptr_t)ctx;
	if (!id)
		return CUDA_ERROR_INVALID_VALUE;
	if (!forget(id))
		return CUDA_ERROR_INVALID_CONTEXT;
	r = destroy_id(id);
	vgpu_cls_destroy(ctx);
	vgpu_cu_ctx_destroyed(id);
	return r;
}

#undef cuCtxDestroy
VGPU_EXPORT CUresult cuCtxDestroy(CUcontext ctx)
{
	return destroy(ctx);
}

VGPU_EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx)
{
	return destroy(ctx);
}
