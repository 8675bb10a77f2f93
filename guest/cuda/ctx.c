/* guest/cuda/ctx.c - the primary context and each thread's context stack.
 *
 * The worker serving this process holds the device's primary context,
 * created before the process even started, and those the process creates
 * (guest/cuda/ctx_create.c). Each guest
 * thread has its own context stack, as natively: cuCtxPushCurrent pushes,
 * cuCtxPopCurrent pops (CUDA_ERROR_INVALID_CONTEXT when empty),
 * cuCtxSetCurrent replaces the top (NULL pops it; on an empty stack it
 * pushes), and the current context is the top. The stack holds
 * STACK_MAX entries; a push beyond is CUDA_ERROR_OUT_OF_MEMORY. Each
 * change of a thread's current context is sent to the worker, which makes
 * it current on that thread's executor, so calls on a thread without one
 * get the driver's CUDA_ERROR_INVALID_CONTEXT, as natively. The hot
 * queries (cuCtxGetCurrent, cuCtxGetDevice, cuDevicePrimaryCtxGetState)
 * never leave the guest. Non-primary contexts (cuCtxCreate, cuCtxDestroy)
 * are guest/cuda/ctx_create.c's; this file's calls accept any context of
 * the process (vgpu_cu_ctx_known). */
#include "rpc.h"
#include <pthread.h>
#include "export_table.h" /* vgpu_cls_destroy, vgpu_cu_primary_ctx */

#define STACK_MAX 64
static __thread uint64_t stack[STACK_MAX]; /* context ids, bottom first */
static __thread int depth;
#define current (depth ? stack[depth - 1] : 0)
static __thread uint64_t told; /* what this thread's executor has current */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* The worker runs this thread's calls on its own executor thread: give it
 * the same current context (asynchronously, in order with the calls), so
 * that a call without one gets the driver's CUDA_ERROR_INVALID_CONTEXT. */
static void tell_worker(void)
{
	uint64_t c = current;
	if (c == told)
		return;
	struct vgpu_cu_args a = {{c}};
	if (vgpu_cu_rpc(VGPU_CU_CTX_CURRENT, &a, false, "cuCtxSetCurrent") ==
	    CUDA_SUCCESS)
		told = c;
}

/* Runs in the child, on its only thread (the one that forked): without
 * this, the parent's context stayed current in a child that called cuInit
 * again, and a lock another parent thread held was held for ever. */
void vgpu_cu_ctx_after_fork(void)
{
	depth = 0;
	told = 0; /* the child's worker starts with none */
	pthread_mutex_init(&mu, NULL);
	vgpu_cu_ctx_forget_created();
}

static CUresult retain_id(void)
{
	if (vgpu_cu.ctx_id)
		return CUDA_SUCCESS;
	struct vgpu_cu_args a = {{0}};
	CUresult r = vgpu_cu_rpc(VGPU_CU_CTX_RETAIN, &a, true,
				 "cuDevicePrimaryCtxRetain");
	if (!r)
		vgpu_cu.ctx_id = a.a[0];
	return r;
}

/* CUDART_INTERFACE entry 2 and context-local storage need the handle
 * without taking a reference. */
CUresult vgpu_cu_primary_ctx(CUcontext *pctx)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	pthread_mutex_lock(&mu);
	r = retain_id();
	pthread_mutex_unlock(&mu);
	if (!r)
		*pctx = (CUcontext)(uintptr_t)vgpu_cu.ctx_id;
	return r;
}

VGPU_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	if (dev != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	pthread_mutex_lock(&mu);
	r = retain_id();
	if (!r)
		vgpu_cu.ctx_refs++;
	pthread_mutex_unlock(&mu);
	if (!r)
		*pctx = (CUcontext)(uintptr_t)vgpu_cu.ctx_id;
	return r;
}

static CUresult release(CUdevice dev)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (dev != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	pthread_mutex_lock(&mu);
	r = vgpu_cu.ctx_refs > 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
	bool last = !r && --vgpu_cu.ctx_refs == 0;
	pthread_mutex_unlock(&mu);
	/* the context the program sees ends here: its local storage too */
	if (last)
		vgpu_cls_destroy((CUcontext)(uintptr_t)vgpu_cu.ctx_id);
	return r;
}

/* cuda.h maps the name to _v2; the v1 ABI symbol is exported too */
#undef cuDevicePrimaryCtxRelease
VGPU_EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
	return release(dev);
}

VGPU_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	return release(dev);
}

VGPU_EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice dev,
						unsigned int *flags,
						int *active)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (dev != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	if (!flags || !active)
		return CUDA_ERROR_INVALID_VALUE;
	*flags = 0;
	*active = vgpu_cu.ctx_refs > 0;
	return CUDA_SUCCESS;
}

static bool is_ours(CUcontext ctx)
{
	return vgpu_cu_ctx_known(ctx);
}

/* cuCtxCreate: push the new context (no room: OUT_OF_MEMORY, before the
 * context is made). */
bool vgpu_cu_ctx_room(void)
{
	return depth < STACK_MAX;
}

void vgpu_cu_ctx_pushed(uint64_t id)
{
	stack[depth++] = id;
	tell_worker();
}

/* cuCtxDestroy: the driver pops the context if it is this thread's
 * current one; the worker's executor has lost it already. */
void vgpu_cu_ctx_destroyed(uint64_t id)
{
	if (depth && stack[depth - 1] == id)
		depth--;
	if (told == id)
		told = (uint64_t)-1; /* differs from any current: tell again */
	tell_worker();
}

VGPU_EXPORT CUresult cuCtxSetCurrent(CUcontext ctx)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (ctx && !is_ours(ctx))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!ctx) {
		if (depth)
			depth--;
	} else {
		if (!depth)
			depth = 1;
		stack[depth - 1] = (uint64_t)(uintptr_t)ctx;
	}
	tell_worker();
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuCtxGetCurrent(CUcontext *pctx)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	*pctx = (CUcontext)(uintptr_t)current;
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuCtxGetDevice(CUdevice *dev)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!dev)
		return CUDA_ERROR_INVALID_VALUE;
	if (!current)
		return CUDA_ERROR_INVALID_CONTEXT;
	*dev = 0;
	return CUDA_SUCCESS;
}

static CUresult push(CUcontext ctx)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!ctx || !is_ours(ctx))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (depth == STACK_MAX)
		return CUDA_ERROR_OUT_OF_MEMORY;
	stack[depth++] = (uint64_t)(uintptr_t)ctx;
	tell_worker();
	return CUDA_SUCCESS;
}

static CUresult pop(CUcontext *pctx)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!depth)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (pctx)
		*pctx = (CUcontext)(uintptr_t)stack[depth - 1];
	depth--;
	tell_worker();
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx)
{
	return push(ctx);
}

VGPU_EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *pctx)
{
	return pop(pctx);
}

/* the v1 ABI names (cuda.h maps the plain names to _v2) */
#undef cuCtxPushCurrent
#undef cuCtxPopCurrent
VGPU_EXPORT CUresult cuCtxPushCurrent(CUcontext ctx)
{
	return push(ctx);
}

VGPU_EXPORT CUresult cuCtxPopCurrent(CUcontext *pctx)
{
	return pop(pctx);
}
