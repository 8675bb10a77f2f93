/* guest/cuda/stream.c - stream properties, context queries and settings,
 * and host calls on streams.
 *
 * Contract: calls that need a current context return
 * CUDA_ERROR_INVALID_CONTEXT on a thread without one, as natively; the
 * worker answers the rest from the driver (VGPU_CU_STREAM_CTL). A stream's
 * context and device are answered here once the worker has vouched for the
 * stream (its flags): the process has one context on one device.
 * Stream attributes travel whole (VGPU_CU_STREAM_ATTR, 64-byte values).
 * cuLaunchHostFunc and cuStreamAddCallback register the call with the
 * completion thread (callbacks.h) and have the worker enqueue it; they are
 * synchronous so that a bad stream is reported at once and its token
 * forgotten.
 */
#include "callbacks.h"
#include "rpc.h"
#include "../../ring/cuda_proto_stream.h"
#include <stdlib.h>
#include <string.h>

static CUresult need_ctx(void)
{
	CUcontext c = NULL;
	CUresult r = cuCtxGetCurrent(&c);
	return r ? r : c ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

static bool is_default(CUstream s)
{
	return !s || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD;
}

/* One VGPU_CU_STREAM_CTL call: a[0] = what, then up to two arguments. */
static CUresult ctl(uint64_t what, uint64_t x, uint64_t y,
		    struct vgpu_cu_args *out, const char *name)
{
	CUresult r = need_ctx();
	if (r)
		return r;
	*out = (struct vgpu_cu_args){{what, x, y}};
	return vgpu_cu_rpc(VGPU_CU_STREAM_CTL, out, true, name);
}

/* ---- the context ---------------------------------------------------------- */

VGPU_EXPORT CUresult cuCtxGetStreamPriorityRange(int *least, int *greatest)
{
	struct vgpu_cu_args a;
	CUresult r = ctl(VGPU_SCTL_PRIORITY_RANGE, 0, 0, &a,
			 "cuCtxGetStreamPriorityRange");
	if (r)
		return r;
	if (least)
		*least = (int)(int64_t)a.a[0];
	if (greatest)
		*greatest = (int)(int64_t)a.a[1];
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuCtxGetLimit(size_t *value, CUlimit limit)
{
	struct vgpu_cu_args a;
	if (!value) {
		CUresult r = need_ctx();
		return r ? r : CUDA_ERROR_INVALID_VALUE;
	}
	CUresult r = ctl(VGPU_SCTL_GET_LIMIT, (uint32_t)limit, 0, &a,
			 "cuCtxGetLimit");
	if (!r)
		*value = (size_t)a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuCtxSetLimit(CUlimit limit, size_t value)
{
	struct vgpu_cu_args a;
	return ctl(VGPU_SCTL_SET_LIMIT, (uint32_t)limit, value, &a,
		   "cuCtxSetLimit");
}

VGPU_EXPORT CUresult cuCtxGetCacheConfig(CUfunc_cache *config)
{
	struct vgpu_cu_args a;
	if (!config) {
		CUresult r = need_ctx();
		return r ? r : CUDA_ERROR_INVALID_VALUE;
	}
	CUresult r = ctl(VGPU_SCTL_GET_CACHE_CONFIG, 0, 0, &a,
			 "cuCtxGetCacheConfig");
	if (!r)
		*config = (CUfunc_cache)a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuCtxSetCacheConfig(CUfunc_cache config)
{
	struct vgpu_cu_args a;
	return ctl(VGPU_SCTL_SET_CACHE_CONFIG, (uint32_t)config, 0, &a,
		   "cuCtxSetCacheConfig");
}

VGPU_EXPORT CUresult cuCtxGetFlags(unsigned int *flags)
{
	struct vgpu_cu_args a;
	if (!flags) {
		CUresult r = need_ctx();
		return r ? r : CUDA_ERROR_INVALID_VALUE;
	}
	CUresult r = ctl(VGPU_SCTL_GET_FLAGS, 0, 0, &a, "cuCtxGetFlags");
	if (!r)
		*flags = (unsigned)a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int *version)
{
	struct vgpu_cu_args a = {{VGPU_SCTL_API_VERSION}};
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!ctx && (r = cuCtxGetCurrent(&ctx)) == CUDA_SUCCESS && !ctx)
		r = CUDA_ERROR_INVALID_CONTEXT;
	if (r)
		return r;
	if (!version)
		return CUDA_ERROR_INVALID_VALUE;
	a.a[1] = (uint64_t)(uintptr_t)ctx;
	if (!(r = vgpu_cu_rpc(VGPU_CU_STREAM_CTL, &a, true,
			      "cuCtxGetApiVersion")))
		*version = (unsigned)a.a[0];
	return r;
}

/* ctx, or the thread's current one for NULL; INVALID_CONTEXT if neither
 * is this process's context. */
static CUresult ctx_or_current(CUcontext *ctx)
{
	CUresult r = vgpu_cu_ready();
	if (!r && !*ctx)
		r = cuCtxGetCurrent(ctx);
	if (!r && !vgpu_cu_ctx_known(*ctx))
		r = CUDA_ERROR_INVALID_CONTEXT;
	return r;
}

VGPU_EXPORT CUresult cuCtxGetDevice_v2(CUdevice *dev, CUcontext ctx)
{
	CUresult r = ctx_or_current(&ctx);
	if (r)
		return r;
	if (!dev)
		return CUDA_ERROR_INVALID_VALUE;
	int d = vgpu_cu_ctx_dev((uint64_t)(uintptr_t)ctx);
	*dev = d < 0 ? 0 : d;
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuCtxGetId(CUcontext ctx, unsigned long long *id)
{
	CUresult r = ctx_or_current(&ctx);
	if (r)
		return r;
	if (!id)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{VGPU_SCTL_CTX_ID, (uint64_t)(uintptr_t)ctx}};
	if (!(r = vgpu_cu_rpc(VGPU_CU_STREAM_CTL, &a, true, "cuCtxGetId")))
		*id = a.a[0];
	return r;
}

/* Synchronise ctx whether or not it is current: made current for the
 * call if it is not. */
VGPU_EXPORT CUresult cuCtxSynchronize_v2(CUcontext ctx)
{
	CUcontext cur = NULL;
	CUresult r = ctx_or_current(&ctx);
	if (r || (r = cuCtxGetCurrent(&cur)))
		return r;
	if (cur == ctx)
		return cuCtxSynchronize();
	if ((r = cuCtxPushCurrent(ctx)))
		return r;
	r = cuCtxSynchronize();
	cuCtxPopCurrent(NULL);
	return r;
}

/* ---- streams --------------------------------------------------------------- */

/* The context s was created in (the worker's tag); a default stream's is
 * the current one. */
static CUresult stream_ctx(CUstream s, CUcontext *pctx)
{
	if (is_default(s))
		return cuCtxGetCurrent(pctx);
	struct vgpu_cu_args a = {{(uint64_t)(uintptr_t)s}};
	CUresult r = vgpu_cu_rpc(VGPU_CU_CTX_OF_STREAM, &a, true,
				 "cuStreamGetCtx");
	if (!r)
		*pctx = (CUcontext)(uintptr_t)a.a[0];
	return r;
}

/* The worker vouches for s (its flags), then the answer is local. */
static CUresult stream_ok(CUstream s)
{
	unsigned f;
	CUresult r = is_default(s) ? need_ctx() : vgpu_cu_ready();
	return r ? r : cuStreamGetFlags(s, &f);
}

VGPU_EXPORT CUresult cuStreamGetCtx(CUstream s, CUcontext *pctx)
{
	CUresult r = stream_ok(s);
	if (r)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	return stream_ctx(s, pctx);
}

VGPU_EXPORT CUresult cuStreamGetCtx_v2(CUstream s, CUcontext *pctx,
				       CUgreenCtx *pgreen)
{
	CUresult r = stream_ok(s);
	if (r)
		return r;
	if (!pctx || !pgreen)
		return CUDA_ERROR_INVALID_VALUE;
	*pgreen = NULL; /* no green contexts here */
	return stream_ctx(s, pctx);
}

VGPU_EXPORT CUresult cuStreamGetDevice(CUstream s, CUdevice *dev)
{
	CUresult r = stream_ok(s);
	if (r)
		return r;
	if (!dev)
		return CUDA_ERROR_INVALID_VALUE;
	*dev = 0;
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuStreamGetId(CUstream s, unsigned long long *id)
{
	struct vgpu_cu_args a = {{VGPU_SCTL_STREAM_ID, (uint64_t)(uintptr_t)s}};
	CUresult r = is_default(s) ? need_ctx() : vgpu_cu_ready();
	if (r)
		return r;
	if (!id)
		return CUDA_ERROR_INVALID_VALUE;
	if (!(r = vgpu_cu_rpc(VGPU_CU_STREAM_CTL, &a, true, "cuStreamGetId")))
		*id = a.a[0];
	return r;
}

/* The v1 ABI names (cuda.h maps the plain names to _v2). */
#undef cuStreamDestroy
#undef cuEventDestroy
#undef cuEventElapsedTime
VGPU_EXPORT CUresult cuStreamDestroy(CUstream s)
{
	return cuStreamDestroy_v2(s);
}

VGPU_EXPORT CUresult cuEventDestroy(CUevent e)
{
	return cuEventDestroy_v2(e);
}

VGPU_EXPORT CUresult cuEventElapsedTime(float *ms, CUevent a, CUevent b)
{
	return cuEventElapsedTime_v2(ms, a, b);
}

/* ---- stream attributes ----------------------------------------------------- */

static CUresult sattr(CUstream s, uint32_t op, CUstreamAttrID id,
		      CUstream src, CUstreamAttrValue *v, const char *name)
{
	struct vgpu_cu_sattr a = {.stream = (uint64_t)(uintptr_t)s,
				  .src = (uint64_t)(uintptr_t)src, .op = op,
				  .id = (uint32_t)id};
	_Static_assert(sizeof(*v) == sizeof(a.value), "CUstreamAttrValue");
	CUresult r = is_default(s) || (src && is_default(src)) ? need_ctx()
							       : vgpu_cu_ready();
	if (r)
		return r;
	if (op == VGPU_SATTR_SET)
		memcpy(a.value, v, sizeof(a.value));
	r = vgpu_cu_call(VGPU_CU_STREAM_ATTR, &a, sizeof(a), a.value,
			 sizeof(a.value), true, name);
	if (!r && op == VGPU_SATTR_GET)
		memcpy(v, a.value, sizeof(*v));
	return r;
}

VGPU_EXPORT CUresult cuStreamGetAttribute(CUstream s, CUstreamAttrID id,
					  CUstreamAttrValue *v)
{
	if (!v) {
		CUresult r = vgpu_cu_ready();
		return r ? r : CUDA_ERROR_INVALID_VALUE;
	}
	return sattr(s, VGPU_SATTR_GET, id, NULL, v, "cuStreamGetAttribute");
}

VGPU_EXPORT CUresult cuStreamSetAttribute(CUstream s, CUstreamAttrID id,
					  const CUstreamAttrValue *v)
{
	if (!v) {
		CUresult r = vgpu_cu_ready();
		return r ? r : CUDA_ERROR_INVALID_VALUE;
	}
	return sattr(s, VGPU_SATTR_SET, id, NULL, (CUstreamAttrValue *)v,
		     "cuStreamSetAttribute");
}

VGPU_EXPORT CUresult cuStreamCopyAttributes(CUstream dst, CUstream src)
{
	return sattr(dst, VGPU_SATTR_COPY, (CUstreamAttrID)0, src, NULL,
		     "cuStreamCopyAttributes");
}

/* ---- host calls ------------------------------------------------------------ */

struct host_call {
	CUhostFn fn;
	CUstreamCallback cb;
	CUstream s;
	void *data;
};

static void run_host_call(void *arg, CUresult status)
{
	struct host_call h = *(struct host_call *)arg;
	free(arg);
	if (h.fn)
		h.fn(h.data);
	else
		h.cb(h.s, status, h.data);
}

static void run_host_node(void *arg, CUresult status)
{
	const struct host_call *h = arg;
	(void)status;
	h->fn(h->data);
}

static CUresult host_call(CUstream s, const struct host_call *h,
			  uint64_t kind, unsigned flags, const char *name)
{
	CUresult r = is_default(s) ? need_ctx() : vgpu_cu_ready();
	if (r)
		return r;
	if (!h->fn && !h->cb)
		return CUDA_ERROR_INVALID_VALUE;
	struct host_call *copy = malloc(sizeof(*copy));
	uint64_t token = 0;
	if (!copy)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*copy = *h;
	/* captured, it is a host node run at each launch of the graph: its
	 * record stays for the process's life (docs/graphs.md) */
	CUstreamCaptureStatus cs = CU_STREAM_CAPTURE_STATUS_NONE;
	bool persist = kind == VGPU_HOSTFN_LAUNCH &&
		       !cuStreamIsCapturing(s, &cs) &&
		       cs != CU_STREAM_CAPTURE_STATUS_NONE;
	if ((r = vgpu_cb_register(persist ? run_host_node : run_host_call,
				  copy, !persist, &token))) {
		free(copy);
		return r;
	}
	struct vgpu_cu_args a = {{(uint64_t)(uintptr_t)s, token, kind, flags}};
	if ((r = vgpu_cu_rpc(VGPU_CU_HOST_FUNC, &a, true, name))) {
		vgpu_cb_forget(token); /* never enqueued: it will not run */
		free(copy);
	}
	return r;
}

VGPU_EXPORT CUresult cuLaunchHostFunc(CUstream s, CUhostFn fn, void *data)
{
	struct host_call h = {.fn = fn, .s = s, .data = data};
	return host_call(s, &h, VGPU_HOSTFN_LAUNCH, 0, "cuLaunchHostFunc");
}

VGPU_EXPORT CUresult cuStreamAddCallback(CUstream s, CUstreamCallback cb,
					 void *data, unsigned int flags)
{
	struct host_call h = {.cb = cb, .s = s, .data = data};
	return host_call(s, &h, VGPU_HOSTFN_CALLBACK, flags,
			 "cuStreamAddCallback");
}
