/* daemon/worker_calls.c - execute one request: the generated calls of
 * ring/cuda.api through vw_gen_table, and the hand-written ones (device
 * identity, bulk copies through the arena, modules, launches) here. */
#include "image_check.h"
#include "worker.h"
#include "worker_sched.h"
#include "cuda_api_ops.h" /* generated: the graph launch opcode */
#include <stdlib.h>
#include <string.h>

#define MAX_IMAGE (1ull << 30) /* a module image larger than this is refused */

void vw_reply(struct vworker *W, const struct vgpu_msg *m, CUresult r,
	      const void *data, uint32_t len, uint64_t arena_len)
{
	if (m->flags & VGPU_MSG_NOREPLY) {
		/* asynchronous: tell the guest at its next synchronising call */
		pthread_mutex_lock(&W->mu);
		if (r != CUDA_SUCCESS && W->async_err == CUDA_SUCCESS)
			W->async_err = r;
		pthread_mutex_unlock(&W->mu);
		return;
	}
	pthread_mutex_lock(&W->mu);
	vgpu_hchan_reply(&W->r, &W->srv.ch[W->chan], m, (int32_t)r, data, len,
			 arena_len);
	pthread_mutex_unlock(&W->mu);
}

/* A synchronising call reports an earlier asynchronous failure once. */
static CUresult take_async_err(struct vworker *W, CUresult r)
{
	pthread_mutex_lock(&W->mu);
	CUresult a = W->async_err;
	W->async_err = CUDA_SUCCESS;
	pthread_mutex_unlock(&W->mu);
	return r == CUDA_SUCCESS && a != CUDA_SUCCESS ? a : r;
}

CUresult vw_take_async_err(struct vworker *W, CUresult r)
{
	return take_async_err(W, r);
}

static const struct vw_gen_entry *gen_entry(uint16_t op)
{
	for (const struct vw_gen_entry *e = vw_gen_table; e->fn; e++)
		if (e->op == op)
			return e;
	return NULL;
}

static void gen_call(struct vworker *W, const struct vw_gen_entry *e,
		     const struct vgpu_msg *m)
{
	struct vgpu_cu_args in = {{0}}, out = {{0}};
	if (m->len != sizeof(in)) {
		vw_reply(W, m, CUDA_ERROR_INVALID_VALUE, NULL, 0, 0);
		return;
	}
	memcpy(&in, m->data, sizeof(in));
	CUresult r = e->fn(W, &in, &out);
	if (e->sync)
		r = take_async_err(W, r);
	vw_reply(W, m, r, &out, sizeof(out), 0);
}

static uint8_t *arena_at(struct vworker *W, const struct vgpu_msg *m)
{
	/* the ring checked arena_off + arena_len against the slice */
	return vgpu_arena(&W->r, W->chan) + m->arena_off;
}

/* The argument block of a bulk transfer (guest/cuda/rpc.h's layout). */
struct xfer {
	uint64_t dev, stream;
};
#define NO_STREAM UINT64_MAX

static bool arg_xfer(const struct vgpu_msg *m, struct xfer *x)
{
	if (m->len != sizeof(*x) || !(m->flags & VGPU_MSG_ARENA))
		return false;
	memcpy(x, m->data, sizeof(*x));
	return x->dev + m->tag >= x->dev; /* no wrap-around */
}

/* A copy on a stream must follow that stream's earlier work; the arena
 * half is reused once we reply, so it is also complete before that. */
static CUresult copy(struct vworker *W, const struct xfer *x, bool htod,
		     CUdeviceptr d, void *h, size_t n)
{
	if (x->stream == NO_STREAM)
		return htod ? W->drv.cuMemcpyHtoD_v2(d, h, n)
			    : W->drv.cuMemcpyDtoH_v2(h, d, n);
	CUstream s;
	CUresult r = vw_stream(W, x->stream, &s);
	if (!r)
		r = vw_graph_staged_copy_ok(W, s, htod);
	if (!r)
		r = htod ? W->drv.cuMemcpyHtoDAsync_v2(d, h, n, s)
			 : W->drv.cuMemcpyDtoHAsync_v2(h, d, n, s);
	return r ? r : W->drv.cuStreamSynchronize(s);
}

static void device_info(struct vworker *W, const struct vgpu_msg *m)
{
	uint64_t n = m->arena_len, dev = 0;
	if (m->len >= sizeof(dev)) /* xfer.dev: which device (multigpu) */
		memcpy(&dev, m->data, sizeof(dev));
	const struct vgpu_cu_devinfo *info = vw_dev_info(W, dev);
	if (!info) {
		vw_reply(W, m, CUDA_ERROR_INVALID_DEVICE, NULL, 0, 0);
		return;
	}
	if (!(m->flags & VGPU_MSG_ARENA) || m->tag > sizeof(*info) ||
	    n > sizeof(*info) - m->tag) {
		vw_reply(W, m, CUDA_ERROR_INVALID_VALUE, NULL, 0, 0);
		return;
	}
	memcpy(arena_at(W, m), (const uint8_t *)info + m->tag, n);
	vw_reply(W, m, CUDA_SUCCESS, NULL, 0, n);
}

static void memcpy_chunk(struct vworker *W, const struct vgpu_msg *m,
			 bool htod)
{
	struct xfer x;
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (arg_xfer(m, &x))
		r = vw_range(W, x.dev + m->tag, m->arena_len);
	if (r == CUDA_SUCCESS && m->arena_len &&
	    (r = copy(W, &x, htod, x.dev + m->tag, arena_at(W, m),
		      m->arena_len)) == CUDA_SUCCESS)
		vw_copied(W, m->arena_len);
	r = take_async_err(W, r);
	vw_reply(W, m, r, NULL, 0, !htod && r == CUDA_SUCCESS ? m->arena_len : 0);
}

/* Small copies travel inside the message: one round trip, no arena. */
static void memcpy_inline(struct vworker *W, const struct vgpu_msg *m,
			  bool htod)
{
	struct xfer x;
	uint64_t n = 0;
	/* per executor thread, not on the stack: after a sticky fault a
	 * stream sync may return while a copy into buf is still running
	 * (the sim can do that); it may then scribble on this thread's
	 * buffer, never on a dead stack frame */
	static __thread uint8_t buf[VGPU_MAX_SLOT_SIZE];
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	size_t hdr = htod ? sizeof(x) : sizeof(x) + 8;
	if (m->len >= hdr) {
		memcpy(&x, m->data, sizeof(x));
		if (htod)
			n = m->len - hdr;
		else
			memcpy(&n, m->data + sizeof(x), 8);
		if (x.dev + n >= x.dev && n <= vgpu_inline_max(&W->r))
			r = vw_range(W, x.dev, n);
	}
	if (r == CUDA_SUCCESS && n)
		r = htod ? copy(W, &x, true, x.dev, m->data + hdr, n)
			 : copy(W, &x, false, x.dev, buf, n);
	if (r == CUDA_SUCCESS)
		vw_copied(W, n);
	r = take_async_err(W, r);
	vw_reply(W, m, r, buf, !htod && r == CUDA_SUCCESS ? (uint32_t)n : 0, 0);
}

/* Chunks of one image come from one guest thread, so from one executor,
 * in order: assemble them here, load at COMMIT. */
static void module_chunk(struct vworker *W, struct vw_exec *x,
			 const struct vgpu_msg *m)
{
	struct vw_exec_state *st = vw_exec_state(x);
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (m->tag == 0) {
		free(st->image);
		st->image = NULL;
		st->image_len = st->image_got = 0;
		if (m->total && m->total <= MAX_IMAGE &&
		    (st->image = malloc(m->total + 1)))
			st->image_len = m->total;
	}
	if (st->image && m->tag == st->image_got &&
	    m->arena_len <= st->image_len - m->tag) {
		memcpy(st->image + m->tag, arena_at(W, m), m->arena_len);
		st->image_got += m->arena_len;
		r = CUDA_SUCCESS;
	}
	vw_reply(W, m, r, NULL, 0, 0);
}

static void module_commit(struct vworker *W, struct vw_exec *x,
			  const struct vgpu_msg *m)
{
	struct vw_exec_state *st = vw_exec_state(x);
	struct vgpu_cu_args in = {{0}}, out = {{0}};
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	CUmodule mod;
	if (m->len == sizeof(in)) /* older guests send nothing here */
		memcpy(&in, m->data, sizeof(in));
	/* the driver believes the sizes an image states: check them first */
	if (st->image && st->image_got == st->image_len &&
	    vgpu_image_fits(st->image, st->image_len)) {
		st->image[st->image_len] = 0; /* PTX images are text */
		r = W->drv.cuModuleLoadData(&mod, st->image);
	}
	if (r == CUDA_SUCCESS) {
		out.a[0] = vw_handle_new(W, VGPU_HK_MODULE, mod);
		if (!out.a[0]) {
			W->drv.cuModuleUnload(mod);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		}
	}
	/* a library on several GPUs loads again on each (multigpu) */
	if (r == CUDA_SUCCESS && W->ndev > 1 &&
	    (in.a[0] & VGPU_CU_COMMIT_LIBRARY)) {
		vw_mlib_keep(W, out.a[0], st->image);
		st->image = NULL;
	}
	free(st->image);
	st->image = NULL;
	st->image_len = st->image_got = 0;
	vw_reply(W, m, take_async_err(W, r), &out, sizeof(out), 0);
}

static bool read_getfn(const struct vgpu_msg *m, struct vgpu_cu_getfn *g)
{
	if (m->len != sizeof(*g))
		return false;
	memcpy(g, m->data, sizeof(*g));
	return memchr(g->name, 0, sizeof(g->name)) != NULL;
}

CUresult vw_fn_layout(struct vworker *W, CUfunction f,
		      struct vgpu_cu_fninfo *fi)
{
	size_t off, size;
	uint32_t n = 0;
	while (W->drv.cuFuncGetParamInfo(f, n, &off, &size) == CUDA_SUCCESS) {
		if (n == VGPU_CU_MAX_PARAMS || off + size > 0xFFFF)
			return CUDA_ERROR_NOT_SUPPORTED;
		fi->offset[n] = (uint16_t)off;
		fi->size[n] = (uint16_t)size;
		if (off + size > fi->param_bytes)
			fi->param_bytes = (uint32_t)(off + size);
		n++;
	}
	fi->nparams = n;
	W->drv.cuFuncGetAttribute(&fi->max_threads_per_block,
				  CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f);
	W->drv.cuFuncGetAttribute(&fi->shared_size_bytes,
				  CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f);
	return CUDA_SUCCESS;
}

static void get_function(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_getfn g;
	struct vgpu_cu_fninfo *fi = calloc(1, sizeof(*fi)), reply = {0};
	CUmodule mod;
	CUfunction f;
	CUresult r = fi && read_getfn(m, &g) ? CUDA_SUCCESS
					     : CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = vw_handle_get(W, VGPU_HK_MODULE, g.module, (void **)&mod);
	if (r == CUDA_SUCCESS)
		r = W->drv.cuModuleGetFunction(&f, mod, g.name);
	if (r == CUDA_SUCCESS)
		r = vw_fn_layout(W, f, fi);
	/* from here the handle owns fi (the launch path reads a copy), and
	 * an unload on another executor may free it: answer from a copy */
	if (r == CUDA_SUCCESS) {
		reply = *fi;
		reply.function = vw_function_new(W, f, fi, g.module);
		if (!reply.function)
			r = CUDA_ERROR_OUT_OF_MEMORY;
	}
	vw_reply(W, m, take_async_err(W, r), &reply, r ? 0 : sizeof(reply), 0);
	if (r)
		free(fi);
}

static void get_global(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_getfn g;
	struct vgpu_cu_args out = {{0}};
	CUmodule mod;
	CUdeviceptr p = 0;
	size_t n = 0;
	CUresult r = read_getfn(m, &g) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		r = vw_handle_get(W, VGPU_HK_MODULE, g.module, (void **)&mod);
	if (r == CUDA_SUCCESS) /* a library's: this GPU's copy */
		r = vw_mlib_module(W, g.module, &mod);
	if (r == CUDA_SUCCESS)
		r = W->drv.cuModuleGetGlobal_v2(&p, &n, mod, g.name);
	if (r == CUDA_SUCCESS && vw_range(W, p, n) != CUDA_SUCCESS)
		r = vw_alloc_global(W, p, n, g.module); /* copies to symbols */
	out.a[0] = p;
	out.a[1] = n;
	vw_reply(W, m, take_async_err(W, r), &out, sizeof(out), 0);
}

static CUresult launch(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_launch L;
	if (m->len < sizeof(L))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&L, m->data, sizeof(L));
	if (L.param_bytes > m->len - sizeof(L))
		return CUDA_ERROR_INVALID_VALUE;
	CUfunction f;
	struct vgpu_cu_fninfo fi;
	CUstream s;
	CUresult r = vw_function(W, L.function, &f, &fi);
	if (!r)
		r = vw_stream(W, L.stream, &s);
	if (r)
		return r;
	if (L.param_bytes < fi.param_bytes)
		return CUDA_ERROR_INVALID_VALUE;
	/* the driver copies the arguments before returning */
	uint8_t *params = m->data + sizeof(L);
	void *ptrs[VGPU_CU_MAX_PARAMS];
	for (uint32_t i = 0; i < fi.nparams; i++)
		ptrs[i] = params + fi.offset[i];
	struct vw_ticket t;
	vw_sched_before(W, f, s, &t); /* may wait for the VM's tokens */
	r = W->drv.cuLaunchKernel(f, L.grid[0], L.grid[1], L.grid[2],
				  L.block[0], L.block[1], L.block[2],
				  L.shared_bytes, s, ptrs, NULL);
	vw_sched_after(W, &t, s, r);
	return r;
}

static void ctx_retain(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args out = {{0}};
	out.a[0] = W->ctx_id;
	vw_reply(W, m, CUDA_SUCCESS, &out, sizeof(out), 0);
}

void vw_execute(struct vworker *W, struct vw_exec *x, const struct vgpu_msg *m)
{
	const struct vw_gen_entry *e;
	switch (m->op) {
	case VGPU_CU_DEVICE_INFO: device_info(W, m); return;
	case VGPU_CU_CTX_RETAIN: ctx_retain(W, m); return;
	case VGPU_CU_MEMCPY_HTOD: memcpy_chunk(W, m, true); return;
	case VGPU_CU_MEMCPY_DTOH: memcpy_chunk(W, m, false); return;
	case VGPU_CU_MEMCPY_HTOD_INLINE: memcpy_inline(W, m, true); return;
	case VGPU_CU_MEMCPY_DTOH_INLINE: memcpy_inline(W, m, false); return;
	case VGPU_CU_MODULE_LOAD: module_chunk(W, x, m); return;
	case VGPU_CU_MODULE_COMMIT: module_commit(W, x, m); return;
	case VGPU_CU_MODULE_GET_FUNCTION: get_function(W, m); return;
	case VGPU_CU_MODULE_GET_GLOBAL: get_global(W, m); return;
	case VGPU_CU_LAUNCH: vw_reply(W, m, launch(W, m), NULL, 0, 0); return;
	case VGPU_CU_OP_cuGraphLaunch: vw_sched_graph_launch(W, m); return;
	}
	if (vw_mem_execute(W, x, m) || vw_stream_execute(W, x, m) ||
	    vw_graph_execute(W, x, m) || vw_vmm_execute(W, x, m) ||
	    vw_lib_execute(W, x, m) || vw_torch_execute(W, x, m) ||
	    vw_ctx_execute(W, x, m) || vw_cublas_execute(W, x, m) ||
	    vw_multigpu_execute(W, x, m))
		return;
	if ((e = gen_entry(m->op)))
		gen_call(W, e, m);
	else
		vw_reply(W, m, CUDA_ERROR_NOT_SUPPORTED, NULL, 0, 0);
}
