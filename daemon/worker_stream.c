/* daemon/worker_stream.c - the worker's streams, priorities, host callbacks,
 * stream memory ops, launch variants, occupancy, contexts.
 *
 * Contract: vw_stream_execute() runs the hand-written requests of this area
 * (its opcode range in ring/cuda_proto.h, payloads in
 * ring/cuda_proto_stream.h) and replies; any other opcode returns false
 * untouched. Every stream, function and context id and every device
 * address is checked to be the caller's before the driver sees it; enum
 * values (limits, cache configurations, attributes) go to the driver,
 * whose error for a bad one is the native answer. The plain calls of this
 * area (priorities, flags, record with flags, single wait/write values)
 * are generated from ring/cuda.api.
 */
#include "worker_stream.h"
#include "../ring/cuda_proto_stream.h"
#include <string.h>

/* A synchronising call reports an earlier asynchronous failure once. */
static CUresult with_async_err(struct vworker *W, CUresult r)
{
	pthread_mutex_lock(&W->mu);
	CUresult a = W->async_err;
	W->async_err = CUDA_SUCCESS;
	pthread_mutex_unlock(&W->mu);
	return r == CUDA_SUCCESS && a != CUDA_SUCCESS ? a : r;
}

static CUresult ctx_of(struct vworker *W, uint64_t id, CUcontext *c)
{
	return vw_handle_get(W, VGPU_HK_CONTEXT, id, (void **)c);
}

static CUresult stream_ctl(struct vworker *W, const struct vgpu_cu_args *in,
			   struct vgpu_cu_args *o)
{
	int least = 0, greatest = 0;
	size_t v = 0;
	unsigned u = 0;
	unsigned long long id = 0;
	CUfunc_cache cc = CU_FUNC_CACHE_PREFER_NONE;
	CUcontext ctx;
	CUstream s;
	CUresult r;
	switch (in->a[0]) {
	case VGPU_SCTL_PRIORITY_RANGE:
		r = W->drv.cuCtxGetStreamPriorityRange(&least, &greatest);
		o->a[0] = (uint64_t)(int64_t)least;
		o->a[1] = (uint64_t)(int64_t)greatest;
		return r;
	case VGPU_SCTL_GET_LIMIT:
		if (in->a[1] > UINT32_MAX)
			return CUDA_ERROR_UNSUPPORTED_LIMIT;
		r = W->drv.cuCtxGetLimit(&v, (CUlimit)in->a[1]);
		o->a[0] = v;
		return r;
	case VGPU_SCTL_SET_LIMIT:
		if (in->a[1] > UINT32_MAX)
			return CUDA_ERROR_UNSUPPORTED_LIMIT;
		return W->drv.cuCtxSetLimit((CUlimit)in->a[1], (size_t)in->a[2]);
	case VGPU_SCTL_GET_CACHE_CONFIG:
		r = W->drv.cuCtxGetCacheConfig(&cc);
		o->a[0] = (uint64_t)cc;
		return r;
	case VGPU_SCTL_SET_CACHE_CONFIG:
		if (in->a[1] > UINT32_MAX)
			return CUDA_ERROR_INVALID_VALUE;
		return W->drv.cuCtxSetCacheConfig((CUfunc_cache)in->a[1]);
	case VGPU_SCTL_GET_FLAGS:
		r = W->drv.cuCtxGetFlags(&u);
		o->a[0] = u;
		return r;
	case VGPU_SCTL_API_VERSION:
		if ((r = ctx_of(W, in->a[1], &ctx)))
			return CUDA_ERROR_INVALID_CONTEXT;
		r = W->drv.cuCtxGetApiVersion(ctx, &u);
		o->a[0] = u;
		return r;
	case VGPU_SCTL_CTX_ID:
		if (ctx_of(W, in->a[1], &ctx))
			return CUDA_ERROR_INVALID_CONTEXT;
		r = W->drv.cuCtxGetId(ctx, &id);
		o->a[0] = id;
		return r;
	case VGPU_SCTL_STREAM_ID:
		if ((r = vw_stream(W, in->a[1], &s)))
			return r;
		r = W->drv.cuStreamGetId(s, &id);
		o->a[0] = id;
		return r;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

/* The guest's operations, as the driver's structures. Every address a
 * wait or write names must lie inside the caller's memory. */
static CUresult to_params(struct vworker *W, const struct vgpu_cu_memop *w,
			  CUstreamBatchMemOpParams *p)
{
	memset(p, 0, sizeof(*p));
	p->operation = (CUstreamBatchMemOpType)w->op;
	switch (w->op) {
	case CU_STREAM_MEM_OP_WAIT_VALUE_32:
	case CU_STREAM_MEM_OP_WAIT_VALUE_64:
		p->waitValue.address = w->addr;
		p->waitValue.value64 = w->value;
		p->waitValue.flags = w->flags;
		break;
	case CU_STREAM_MEM_OP_WRITE_VALUE_32:
	case CU_STREAM_MEM_OP_WRITE_VALUE_64:
		p->writeValue.address = w->addr;
		p->writeValue.value64 = w->value;
		p->writeValue.flags = w->flags;
		break;
	case CU_STREAM_MEM_OP_FLUSH_REMOTE_WRITES:
		p->flushRemoteWrites.flags = w->flags;
		return CUDA_SUCCESS;
	case CU_STREAM_MEM_OP_BARRIER:
		p->memoryBarrier.flags = w->flags;
		return CUDA_SUCCESS;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
	bool is64 = w->op == CU_STREAM_MEM_OP_WAIT_VALUE_64 ||
		    w->op == CU_STREAM_MEM_OP_WRITE_VALUE_64;
	return vw_range(W, w->addr, is64 ? 8 : 4);
}

#define MAX_MEMOPS 256 /* the driver's own cap on a batch */

static CUresult batch_memop(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_memops h;
	static __thread CUstreamBatchMemOpParams p[MAX_MEMOPS];
	if (m->len < sizeof(h))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&h, m->data, sizeof(h));
	if (!h.count || h.count > MAX_MEMOPS ||
	    (m->len - sizeof(h)) / sizeof(struct vgpu_cu_memop) < h.count)
		return CUDA_ERROR_INVALID_VALUE;
	CUstream s;
	CUresult r = vw_stream(W, h.stream, &s);
	for (uint32_t i = 0; i < h.count && !r; i++) {
		struct vgpu_cu_memop w;
		memcpy(&w, m->data + sizeof(h) + i * sizeof(w), sizeof(w));
		r = to_params(W, &w, &p[i]);
	}
	return r ? r : W->drv.cuStreamBatchMemOp_v2(s, h.count, p, h.flags);
}

/* tell_async: whether an earlier asynchronous failure is reported here.
 * Not by a host-call enqueue: it would say "failed" of a call the driver
 * took, and the guest would forget a callback that is going to run. */
/* Stream attributes: values go to the driver as they are, except an
 * access policy window, whose range must be the caller's memory. */
static void stream_attr(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_sattr a;
	CUstreamAttrValue v;
	CUstream s, src;
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	_Static_assert(sizeof(v) == sizeof(a.value), "CUstreamAttrValue");
	memset(&v, 0, sizeof(v));
	if (m->len != sizeof(a)) {
		vw_reply(W, m, r, NULL, 0, 0);
		return;
	}
	memcpy(&a, m->data, sizeof(a));
	memcpy(&v, a.value, sizeof(v));
	r = vw_stream(W, a.stream, &s);
	if (!r && a.op == VGPU_SATTR_GET) {
		r = W->drv.cuStreamGetAttribute(s, (CUstreamAttrID)a.id, &v);
	} else if (!r && a.op == VGPU_SATTR_SET) {
		CUdeviceptr base = (CUdeviceptr)(uintptr_t)v.accessPolicyWindow.base_ptr;
		if (a.id == CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW &&
		    (base || v.accessPolicyWindow.num_bytes))
			r = vw_range(W, base, v.accessPolicyWindow.num_bytes);
		if (!r)
			r = W->drv.cuStreamSetAttribute(s, (CUstreamAttrID)a.id,
							&v);
	} else if (!r && a.op == VGPU_SATTR_COPY) {
		if (!(r = vw_stream(W, a.src, &src)))
			r = W->drv.cuStreamCopyAttributes(s, src);
	} else if (!r) {
		r = CUDA_ERROR_INVALID_VALUE;
	}
	r = with_async_err(W, r);
	vw_reply(W, m, r, &v, r ? 0 : sizeof(v), 0);
}

static void args_call(struct vworker *W, const struct vgpu_msg *m,
		      CUresult (*fn)(struct vworker *,
				     const struct vgpu_cu_args *,
				     struct vgpu_cu_args *),
		      bool tell_async)
{
	struct vgpu_cu_args in = {{0}}, out = {{0}};
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (m->len == sizeof(in)) {
		memcpy(&in, m->data, sizeof(in));
		r = fn(W, &in, &out);
	}
	if (tell_async)
		r = with_async_err(W, r);
	vw_reply(W, m, r, &out, r ? 0 : sizeof(out), 0);
}

/* The sending guest thread's current context, on its executor thread. */
static CUresult ctx_current(struct vworker *W, const struct vgpu_cu_args *in,
			    struct vgpu_cu_args *out)
{
	CUcontext c = NULL;
	(void)out;
	if (in->a[0] && vw_handle_get(W, VGPU_HK_CONTEXT, in->a[0], (void **)&c))
		return CUDA_ERROR_INVALID_CONTEXT;
	CUresult r = W->drv.cuCtxSetCurrent(c);
	if (!r) /* what this thread now makes is the context's */
		vw_ctx_tag(in->a[0]);
	return r;
}

static CUresult host_func(struct vworker *W, const struct vgpu_cu_args *in,
			  struct vgpu_cu_args *out)
{
	(void)out;
	return vw_cb_enqueue(W, in);
}

bool vw_stream_execute(struct vworker *W, struct vw_exec *x,
		       const struct vgpu_msg *m)
{
	(void)x;
	switch (m->op) {
	case VGPU_CU_STREAM_CTL:
		args_call(W, m, stream_ctl, true);
		return true;
	case VGPU_CU_HOST_FUNC:
		args_call(W, m, host_func, false);
		return true;
	case VGPU_CU_CTX_CURRENT:
		args_call(W, m, ctx_current, false);
		return true;
	case VGPU_CU_CB_POLL:
		vw_cb_poll(W, m);
		return true;
	case VGPU_CU_FUNC_CTL:
		if (m->len == sizeof(struct vgpu_cu_args) &&
		    *(const uint64_t *)m->data == VGPU_FCTL_GET_NAME)
			vw_func_name(W, m);
		else
			args_call(W, m, vw_func_ctl, true);
		return true;
	case VGPU_CU_LAUNCH_EX:
		vw_reply(W, m, vw_launch_ex(W, m->data, m->len), NULL, 0, 0);
		return true;
	case VGPU_CU_STREAM_ATTR:
		stream_attr(W, m);
		return true;
	case VGPU_CU_LAUNCH_PART:
		vw_launch_part(W, m);
		return true;
	case VGPU_CU_LAUNCH_BIG:
		vw_launch_big(W, m);
		return true;
	case VGPU_CU_BATCH_MEMOP:
		vw_reply(W, m, batch_memop(W, m), NULL, 0, 0);
		return true;
	default:
		return false;
	}
}
