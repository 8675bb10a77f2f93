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

/* Device dev's primary context id and reference count (device 0's are
 * vgpu_cu.ctx_id and ctx_refs, as before there were several). */
static uint64_t *id_of(CUdevice dev)
{
	return dev == 0 ? &vgpu_cu.ctx_id : &vgpu_cu.more_ctx[dev - 1];
}

static int *refs_of(CUdevice dev)
{
	return dev == 0 ? &vgpu_cu.ctx_refs : &vgpu_cu.more_refs[dev - 1];
}

static CUresult dev_ok(CUdevice dev)
{
	return vgpu_cu_dev(dev) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

static CUresult retain_id_of(CUdevice dev)
{
	if (*id_of(dev))
		return CUDA_SUCCESS;
	struct vgpu_cu_args a = {{dev ? VGPU_MGPU_RETAIN : 0, (uint64_t)dev}};
	CUresult r = dev == 0 ? vgpu_cu_rpc(VGPU_CU_CTX_RETAIN, &a, true,
					    "cuDevicePrimaryCtxRetain")
			      : vgpu_cu_rpc(VGPU_CU_MGPU, &a, true,
					    "cuDevicePrimaryCtxRetain");
	if (!r)
		*id_of(dev) = a.a[0];
	return r;
}

static CUresult retain_id(void)
{
	return retain_id_of(0);
}

int vgpu_cu_ctx_dev(uint64_t id)
{
	for (int d = 0; id && d < vgpu_cu.ndev; d++)
		if (*id_of(d) == id)
			return d;
	return vgpu_cu_ctx_created_dev(id);
}

CUresult vgpu_cu_primary_ctx_of(CUdevice dev, CUcontext *pctx)
{
	CUresult r = vgpu_cu_ready();
	if (!r)
		r = dev_ok(dev);
	if (r)
		return r;
	pthread_mutex_lock(&mu);
	r = retain_id_of(dev);
	pthread_mutex_unlock(&mu);
	if (!r)
		*pctx = (CUcontext)(uintptr_t)*id_of(dev);
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
	if ((r = dev_ok(dev)))
		return r;
	pthread_mutex_lock(&mu);
	r = retain_id_of(dev);
	if (!r)
		(*refs_of(dev))++;
	pthread_mutex_unlock(&mu);
	if (!r)
		*pctx = (CUcontext)(uintptr_t)*id_of(dev);
	return r;
}

static CUresult release(CUdevice dev)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if ((r = dev_ok(dev)))
		return r;
	pthread_mutex_lock(&mu);
	r = *refs_of(dev) > 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
	bool last = !r && --*refs_of(dev) == 0;
	pthread_mutex_unlock(&mu);
	/* the context the program sees ends here: its local storage too */
	if (last)
		vgpu_cls_destroy((CUcontext)(uintptr_t)*id_of(dev));
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
	if ((r = dev_ok(dev)))
		return r;
	if (!flags || !active)
		return CUDA_ERROR_INVALID_VALUE;
	*flags = 0;
	*active = *refs_of(dev) > 0;
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
	int d = vgpu_cu_ctx_dev(current);
	*dev = d < 0 ? 0 : d;
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
