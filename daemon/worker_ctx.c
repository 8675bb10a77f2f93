/* daemon/worker_ctx.c - non-primary contexts: cuCtxCreate, cuCtxDestroy.
 *
 * Contract: the worker holds the primary context (made at start-up) and
 * every context the guest process creates, each named by a
 * VGPU_HK_CONTEXT id checked to be this worker's. Creating leaves the
 * executor's current context as it was: the guest pushes the new one and
 * says so (VGPU_CU_CTX_CURRENT), as for any change. Every handle and
 * allocation is tagged with the context current on the executor that made
 * it (vw_ctx_tag); destroying a context first forgets everything tagged
 * with it (vw_ctx_sweep: later uses are refused as unknown handles or
 * pointers, never passed to the driver, which may crash on them) and
 * uncharges its memory, then destroys it in the driver, which frees it.
 * The primary context cannot be destroyed this way (INVALID_CONTEXT).
 * A stream's context is its tag (cuStreamGetCtx).
 */
#include "worker.h"
#include <string.h>

static __thread uint64_t tagged; /* this executor's current context */

void vw_ctx_tag(uint64_t ctx)
{
	tagged = ctx;
}

uint64_t vw_ctx_tagged(void)
{
	return tagged;
}

static CUresult create(struct vworker *W, const struct vgpu_cu_args *in,
		       struct vgpu_cu_args *out)
{
	CUcontext c = NULL, back = NULL;
	if (in->a[0] > UINT32_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	int dev = vw_dev_host(W, (int64_t)in->a[1]); /* a1: guest device */
	if (dev < 0)
		return CUDA_ERROR_INVALID_DEVICE;
	CUresult r = W->drv.cuCtxCreate_v2(&c, (unsigned)in->a[0], dev);
	if (r)
		return r;
	W->drv.cuCtxPopCurrent_v2(&back); /* the driver pushed it */
	out->a[0] = vw_handle_new(W, VGPU_HK_CONTEXT, c);
	if (!out->a[0]) {
		W->drv.cuCtxDestroy_v2(c);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	/* a context is the device's, not its creator's: never swept */
	vw_handle_entry(W, VGPU_HK_CONTEXT, out->a[0])->ctx = 0;
	return CUDA_SUCCESS;
}

static CUresult destroy(struct vworker *W, const struct vgpu_cu_args *in,
			struct vgpu_cu_args *out)
{
	CUcontext c;
	(void)out;
	for (uint32_t i = 0; i < VGPU_CU_MAX_DEVS; i++)
		if (in->a[0] == vw_dev_ctx_id(W, i))
			return CUDA_ERROR_INVALID_CONTEXT;
	if (!in->a[0] || in->a[0] == W->ctx_id ||
	    vw_handle_get(W, VGPU_HK_CONTEXT, in->a[0], (void **)&c))
		return CUDA_ERROR_INVALID_CONTEXT;
	/* the guest waits for its work first (cuCtxSynchronize): nothing of
	 * the context runs any more when its handles are forgotten */
	vw_handle_del(W, VGPU_HK_CONTEXT, in->a[0]);
	vw_ctx_sweep(W, in->a[0]);
	if (tagged == in->a[0])
		tagged = 0; /* the driver pops it from this thread */
	return W->drv.cuCtxDestroy_v2(c);
}

/* cuStreamGetCtx: made with no context tagged, it was the primary's
 * (the guest pushes the primary one for calls that need a context). */
static CUresult of_stream(struct vworker *W, const struct vgpu_cu_args *in,
			  struct vgpu_cu_args *out)
{
	uint64_t c = 0;
	CUresult r = vw_handle_ctx(W, VGPU_HK_STREAM, in->a[0], &c);
	out->a[0] = c ? c : W->ctx_id;
	return r;
}

static void args_call(struct vworker *W, const struct vgpu_msg *m,
		      CUresult (*fn)(struct vworker *,
				     const struct vgpu_cu_args *,
				     struct vgpu_cu_args *))
{
	struct vgpu_cu_args in = {{0}}, out = {{0}};
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (m->len == sizeof(in)) {
		memcpy(&in, m->data, sizeof(in));
		r = fn(W, &in, &out);
	}
	vw_reply(W, m, r, &out, r ? 0 : sizeof(out), 0);
}

bool vw_ctx_execute(struct vworker *W, struct vw_exec *x,
		    const struct vgpu_msg *m)
{
	(void)x;
	switch (m->op) {
	case VGPU_CU_CTX_CREATE:
		args_call(W, m, create);
		return true;
	case VGPU_CU_CTX_DESTROY:
		args_call(W, m, destroy);
		return true;
	case VGPU_CU_CTX_OF_STREAM:
		args_call(W, m, of_stream);
		return true;
	}
	return false;
}
