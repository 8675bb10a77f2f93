/* daemon/worker_graph.c - the worker's stream capture and graphs.
 *
 * Contract: vw_graph_execute() runs the hand-written requests of this area
 * (its opcode range in ring/cuda_proto.h) and replies; any other opcode
 * returns false untouched. Capture runs on the guest thread's own executor
 * thread, so the driver's per-thread capture mode and "the thread that
 * began the capture" are the guest thread's, as natively.
 *
 * Handles: graphs, nodes and executables are ids of this worker's table.
 * The driver names nodes (and a capture's graph) again in its answers, so
 * those are interned: one id per object, owned by its graph (a graph
 * being captured: by the stream), and forgotten with the owner. Every id
 * and device range in a request is checked before the driver sees it;
 * memcpy and memset nodes must lie inside the caller's allocations. Host
 * memory never enters a graph from here: the worker's copies of guest
 * memory go through staging buffers that are reused at once, so a copy
 * the guest queues on a capturing stream is refused rather than replayed
 * from stale or foreign bytes (vw_graph_staged_copy_ok); host-to-device
 * ones are then captured from buffers of their own that the guest fills
 * at each launch (worker_graph_host.c).
 */
#include "worker.h"
#include <stdlib.h>
#include <string.h>

/* As worker_calls.c does for synchronous calls: an earlier asynchronous
 * failure is told once, at the next synchronising call. Here it is told
 * before the call acts (pending_failure): a capture begun, or a graph
 * made, under an error the program takes for this call's would be left
 * behind half done. Destroying still acts, as gen_api.py's `del` does. */
static CUresult sync_result(struct vworker *W, CUresult r)
{
	pthread_mutex_lock(&W->mu);
	CUresult a = W->async_err;
	W->async_err = CUDA_SUCCESS;
	pthread_mutex_unlock(&W->mu);
	return r == CUDA_SUCCESS && a != CUDA_SUCCESS ? a : r;
}

static bool args_of(const struct vgpu_msg *m, struct vgpu_cu_args *a)
{
	if (m->len != sizeof(*a))
		return false;
	memcpy(a, m->data, sizeof(*a));
	return true;
}

static void reply_args(struct vworker *W, const struct vgpu_msg *m,
		       CUresult r, const struct vgpu_cu_args *out)
{
	vw_reply(W, m, sync_result(W, r), out, sizeof(*out), 0);
}

/* The owner to give objects tied to stream id: the stream's handle, or
 * for the per-thread default stream (no handle, one per guest thread) a
 * tag of the thread, which no handle id can equal (no kind byte). */
static uint64_t stream_owner(uint64_t id, const struct vgpu_msg *m)
{
	if (id >> VGPU_CU_HKIND_SHIFT == VGPU_HK_STREAM)
		return id;
	return (uint64_t)m->tid << 8 | (id & 0xff);
}

CUresult vw_graph_staged_copy_ok(struct vworker *W, CUstream s, bool htod)
{
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	CUresult r = W->drv.cuStreamIsCapturing(s, &st);
	if (r || st == CU_STREAM_CAPTURE_STATUS_NONE)
		return r;
	if (htod && st == CU_STREAM_CAPTURE_STATUS_ACTIVE)
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; /* guest: ask
							      * GRAPH_HOST */
	/* a staged copy must not be captured: make the capture fail (a
	 * synchronise is illegal in capture and invalidates it) */
	W->drv.cuStreamSynchronize(s);
	return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

/* ---- capture ------------------------------------------------------ */

/* Never below zero: an end the worker did not see begin changes nothing. */
static void uncount_capture(struct vworker *W)
{
	uint32_t n = atomic_load(&W->captures);
	while (n && !atomic_compare_exchange_weak(&W->captures, &n, n - 1))
		;
}

static void capture_begin(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args a = {{0}}, out = {{0}};
	CUstream s;
	CUresult r = args_of(m, &a) ? vw_stream(W, a.a[0], &s)
				    : CUDA_ERROR_INVALID_VALUE;
	if (!r)
		r = W->drv.cuStreamBeginCapture_v2(s, (CUstreamCaptureMode)a.a[1]);
	if (!r) /* capture modes are per thread: see vw_exec_submit */
		atomic_fetch_add(&W->captures, 1);
	reply_args(W, m, r, &out);
}

/* The graph of a capture: the id GET_CAPTURE_INFO may have issued (then
 * owned by the stream) becomes the program's; a capture that failed
 * takes its graph's ids with it, and so does one ended from the wrong
 * thread (natively that ends it too). One refused because the stream is
 * not the origin goes on, and so do its ids. */
static void capture_end(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args a = {{0}}, out = {{0}};
	CUstream s;
	CUgraph g = NULL, cg = NULL;
	CUstreamCaptureStatus st;
	cuuint64_t cap = 0;
	CUresult r = args_of(m, &a) ? vw_stream(W, a.a[0], &s)
				    : CUDA_ERROR_INVALID_VALUE;
	if (r) {
		reply_args(W, m, r, &out);
		return;
	}
	if (W->drv.cuStreamGetCaptureInfo_v2(s, &st, &cap, &cg, NULL, NULL) ||
	    st != CU_STREAM_CAPTURE_STATUS_ACTIVE) {
		cg = NULL; /* unspecified: ids of an invalidated capture's
			    * graph go with the stream's (below) */
		cap = 0;   /* its host ranges stay until the worker exits */
	}
	r = W->drv.cuStreamEndCapture(s, &g);
	/* natively a refused end from the wrong thread ends it too */
	bool ended = r == CUDA_SUCCESS ||
		     r == CUDA_ERROR_STREAM_CAPTURE_INVALIDATED ||
		     r == CUDA_ERROR_STREAM_CAPTURE_UNJOINED ||
		     r == CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
	if (ended) {
		vw_graph_host_capture_end(W, cap, g, r == CUDA_SUCCESS && g);
		uncount_capture(W);
	}
	uint64_t id = r || !g ? 0 : vw_handle_id_of(W, VGPU_HK_GRAPH, g);
	if (id)
		vw_handle_set_owner(W, VGPU_HK_GRAPH, id, 0);
	uint64_t cid = ended && cg && cg != g
			       ? vw_handle_id_of(W, VGPU_HK_GRAPH, cg)
			       : 0;
	if (cid)
		vw_handle_del(W, VGPU_HK_GRAPH, cid);
	if (ended)
		vw_handle_forget_owned(W, stream_owner(a.a[0], m));
	if (!r && g && !id && !(id = vw_handle_new(W, VGPU_HK_GRAPH, g))) {
		W->drv.cuGraphDestroy(g);
		r = CUDA_ERROR_OUT_OF_MEMORY;
	}
	out.a[0] = id;
	reply_args(W, m, r, &out);
}

/* Ids of real nodes [first, first + n) of v into ids, owned by graph. */
static CUresult node_ids(struct vworker *W, const CUgraphNode *v,
			 uint64_t *ids, size_t n, uint64_t graph)
{
	for (size_t i = 0; i < n; i++)
		if (!(ids[i] = vw_handle_intern(W, VGPU_HK_GRAPH_NODE, v[i],
						graph)))
			return CUDA_ERROR_OUT_OF_MEMORY;
	return CUDA_SUCCESS;
}

/* Items one reply can carry (each `width` ids). */
static size_t page(struct vworker *W, size_t width)
{
	return (vgpu_inline_max(&W->r) - sizeof(struct vgpu_cu_ids)) / 8 /
	       width;
}

static void send_ids(struct vworker *W, const struct vgpu_msg *m, CUresult r,
		     struct vgpu_cu_ids *ids, size_t width)
{
	uint32_t len = (uint32_t)(sizeof(*ids) + ids->n * width * 8);
	vw_reply(W, m, sync_result(W, r), ids, r ? 0 : len, 0);
}

static void capture_info(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args a = {{0}};
	struct vgpu_cu_ids *ids = calloc(1, vgpu_inline_max(&W->r));
	CUstream s;
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	cuuint64_t cap = 0;
	CUgraph g = NULL;
	const CUgraphNode *deps = NULL;
	size_t n = 0;
	CUresult r = !ids ? CUDA_ERROR_OUT_OF_MEMORY
		     : args_of(m, &a) ? vw_stream(W, a.a[0], &s)
				      : CUDA_ERROR_INVALID_VALUE;
	if (!r && a.a[2])
		r = W->drv.cuStreamIsCapturing(s, &st);
	else if (!r)
		r = W->drv.cuStreamGetCaptureInfo_v2(s, &st, &cap, &g, &deps,
						     &n);
	if (!r && st != CU_STREAM_CAPTURE_STATUS_ACTIVE) {
		/* the driver's other outputs are valid only then */
		n = cap = 0;
		g = NULL;
	}
	if (!r) {
		ids->a[0] = st;
		ids->a[1] = cap;
		ids->total = n;
	}
	if (!r && g && !(ids->a[2] = vw_handle_intern(W, VGPU_HK_GRAPH, g,
						      stream_owner(a.a[0], m))))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (!r && a.a[1] < n) {
		ids->n = n - a.a[1] < page(W, 1) ? n - a.a[1] : page(W, 1);
		r = node_ids(W, deps + a.a[1], ids->id, ids->n, ids->a[2]);
	}
	if (ids)
		send_ids(W, m, r, ids, 1);
	else
		vw_reply(W, m, r, NULL, 0, 0);
	free(ids);
}

static void capture_mode(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args a = {{0}}, out = {{0}};
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (args_of(m, &a)) {
		CUstreamCaptureMode mode = (CUstreamCaptureMode)a.a[0];
		r = W->drv.cuThreadExchangeStreamCaptureMode(&mode);
		out.a[0] = (uint64_t)mode;
	}
	reply_args(W, m, r, &out);
}

/* ---- building graphs --------------------------------------------- */

/* Kernel node parameters from a function id and packed arguments:
 * ptrs[] point into data, which the driver copies before returning. */
static CUresult kernel_params(struct vworker *W, uint64_t fid,
			      const uint32_t grid[3], const uint32_t block[3],
			      uint32_t shared, uint8_t *data, uint32_t len,
			      CUDA_KERNEL_NODE_PARAMS *p, void **ptrs)
{
	CUfunction f;
	struct vgpu_cu_fninfo fi;
	CUresult r = vw_function(W, fid, &f, &fi);
	if (r)
		return r;
	if (len < fi.param_bytes)
		return CUDA_ERROR_INVALID_VALUE;
	for (uint32_t i = 0; i < fi.nparams; i++)
		ptrs[i] = data + fi.offset[i];
	*p = (CUDA_KERNEL_NODE_PARAMS){
		.func = f, .gridDimX = grid[0], .gridDimY = grid[1],
		.gridDimZ = grid[2], .blockDimX = block[0],
		.blockDimY = block[1], .blockDimZ = block[2],
		.sharedMemBytes = shared, .kernelParams = ptrs};
	return CUDA_SUCCESS;
}

/* [start, start + len) that a pitched 3D block at (x, y, z) of
 * w x h x d bytes touches; false if it overflows or is empty. */
static bool block_range(uint64_t base, uint64_t x, uint64_t y, uint64_t z,
			uint64_t pitch, uint64_t height, uint64_t w,
			uint64_t h, uint64_t d, uint64_t *start,
			uint64_t *len)
{
	uint64_t slice, off, t, end;
	if (!w || !h || !d || (h > 1 && pitch < w) ||
	    (d > 1 && height < h))
		return false;
	if (__builtin_mul_overflow(pitch, height, &slice) ||
	    __builtin_mul_overflow(z, slice, &off) ||
	    __builtin_mul_overflow(y, pitch, &t) ||
	    __builtin_add_overflow(off, t, &off) ||
	    __builtin_add_overflow(off, x, &off) ||
	    __builtin_add_overflow(base, off, start))
		return false;
	if (__builtin_mul_overflow(d - 1, slice, &end) ||
	    __builtin_mul_overflow(h - 1, pitch, &t) ||
	    __builtin_add_overflow(end, t, &end) ||
	    __builtin_add_overflow(end, w, len))
		return false;
	return *start + *len >= *start;
}

static CUresult add_memcpy(struct vworker *W, const struct vgpu_cu_gnode *n,
			   CUgraphNode *node, CUgraph g,
			   const CUgraphNode *deps)
{
	uint64_t s0, sl, d0, dl;
	if (!block_range(n->u.cp.src, n->u.cp.src_x, n->u.cp.src_y,
			 n->u.cp.src_z, n->u.cp.src_pitch, n->u.cp.src_height,
			 n->u.cp.width, n->u.cp.height, n->u.cp.depth, &s0,
			 &sl) ||
	    !block_range(n->u.cp.dst, n->u.cp.dst_x, n->u.cp.dst_y,
			 n->u.cp.dst_z, n->u.cp.dst_pitch, n->u.cp.dst_height,
			 n->u.cp.width, n->u.cp.height, n->u.cp.depth, &d0,
			 &dl))
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = vw_range(W, s0, sl);
	if (!r)
		r = vw_range(W, d0, dl);
	if (r)
		return r;
	CUDA_MEMCPY3D c = {
		.srcXInBytes = n->u.cp.src_x, .srcY = n->u.cp.src_y,
		.srcZ = n->u.cp.src_z, .srcMemoryType = CU_MEMORYTYPE_DEVICE,
		.srcDevice = n->u.cp.src, .srcPitch = n->u.cp.src_pitch,
		.srcHeight = n->u.cp.src_height, .dstXInBytes = n->u.cp.dst_x,
		.dstY = n->u.cp.dst_y, .dstZ = n->u.cp.dst_z,
		.dstMemoryType = CU_MEMORYTYPE_DEVICE,
		.dstDevice = n->u.cp.dst, .dstPitch = n->u.cp.dst_pitch,
		.dstHeight = n->u.cp.dst_height,
		.WidthInBytes = n->u.cp.width, .Height = n->u.cp.height,
		.Depth = n->u.cp.depth};
	return W->drv.cuGraphAddMemcpyNode(node, g, deps, n->ndeps, &c,
					   W->ctx);
}

static CUresult add_memset(struct vworker *W, const struct vgpu_cu_gnode *n,
			   CUgraphNode *node, CUgraph g,
			   const CUgraphNode *deps)
{
	uint64_t start, len, elem = n->u.set.elem;
	if (elem != 1 && elem != 2 && elem != 4)
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t w;
	if (__builtin_mul_overflow(n->u.set.width, elem, &w) ||
	    !block_range(n->u.set.dst, 0, 0, 0, n->u.set.pitch, n->u.set.height,
			 w, n->u.set.height, 1, &start, &len))
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = vw_range(W, start, len);
	if (r)
		return r;
	CUDA_MEMSET_NODE_PARAMS p = {
		.dst = n->u.set.dst, .pitch = n->u.set.pitch,
		.value = n->u.set.value, .elementSize = n->u.set.elem,
		.width = n->u.set.width, .height = n->u.set.height};
	return W->drv.cuGraphAddMemsetNode(node, g, deps, n->ndeps, &p,
					   W->ctx);
}

static CUresult add_kind(struct vworker *W, const struct vgpu_cu_gnode *n,
			 CUgraphNode *node, CUgraph g,
			 const CUgraphNode *deps, uint8_t *params,
			 uint32_t avail)
{
	CUDA_KERNEL_NODE_PARAMS kp;
	void *ptrs[VGPU_CU_MAX_PARAMS];
	CUevent e;
	CUresult r;
	switch (n->type) {
	case CU_GRAPH_NODE_TYPE_KERNEL:
		if (n->u.k.param_bytes > avail)
			return CUDA_ERROR_INVALID_VALUE;
		r = kernel_params(W, n->u.k.function, n->u.k.grid, n->u.k.block,
				  n->u.k.shared_bytes, params,
				  n->u.k.param_bytes, &kp, ptrs);
		return r ? r : W->drv.cuGraphAddKernelNode_v2(node, g, deps,
							      n->ndeps, &kp);
	case CU_GRAPH_NODE_TYPE_MEMCPY:
		return add_memcpy(W, n, node, g, deps);
	case CU_GRAPH_NODE_TYPE_MEMSET:
		return add_memset(W, n, node, g, deps);
	case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
	case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
		r = vw_handle_get(W, VGPU_HK_EVENT, n->u.event, (void **)&e);
		if (r)
			return r;
		return n->type == CU_GRAPH_NODE_TYPE_EVENT_RECORD
			       ? W->drv.cuGraphAddEventRecordNode(node, g, deps,
								  n->ndeps, e)
			       : W->drv.cuGraphAddEventWaitNode(node, g, deps,
								n->ndeps, e);
	case CU_GRAPH_NODE_TYPE_EMPTY:
		return W->drv.cuGraphAddEmptyNode(node, g, deps, n->ndeps);
	case CU_GRAPH_NODE_TYPE_HOST: {
		/* u.event carries the guest's token: the trampoline's
		 * argument is that value, so execs copying it own nothing */
		if (!n->u.event)
			return CUDA_ERROR_INVALID_VALUE;
		CUDA_HOST_NODE_PARAMS hp = {
			.fn = vw_cb_persistent_fn,
			.userData = (void *)(uintptr_t)n->u.event};
		vw_cb_persist_bind(W);
		return W->drv.cuGraphAddHostNode(node, g, deps, n->ndeps, &hp);
	}
	default:
		return CUDA_ERROR_NOT_SUPPORTED;
	}
}

/* Real nodes for n ids at p, each the caller's. */
static CUresult nodes_of(struct vworker *W, const uint8_t *p, size_t n,
			 CUgraphNode *v)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t id;
		memcpy(&id, p + 8 * i, 8);
		CUresult r = vw_handle_get(W, VGPU_HK_GRAPH_NODE, id,
					   (void **)&v[i]);
		if (r)
			return r;
	}
	return CUDA_SUCCESS;
}

static void add_node(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_gnode n;
	struct vgpu_cu_args out = {{0}};
	CUgraphNode *deps = NULL, node = NULL;
	CUgraph g;
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (m->len >= sizeof(n)) {
		memcpy(&n, m->data, sizeof(n));
		if (n.ndeps <= (m->len - sizeof(n)) / 8)
			r = vw_handle_get(W, VGPU_HK_GRAPH, n.graph, (void **)&g);
	}
	if (!r && !(deps = calloc(n.ndeps + 1, sizeof(*deps))))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (!r)
		r = nodes_of(W, m->data + sizeof(n), n.ndeps, deps);
	if (!r) {
		size_t at = sizeof(n) + (size_t)n.ndeps * 8;
		r = add_kind(W, &n, &node, g, deps, m->data + at,
			     (uint32_t)(m->len - at));
	}
	if (!r && !(out.a[0] = vw_handle_intern(W, VGPU_HK_GRAPH_NODE, node,
						n.graph)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	free(deps);
	reply_args(W, m, r, &out);
}

static void add_deps(struct vworker *W, const struct vgpu_msg *m)
{
	uint64_t hdr[2];
	CUgraphNode *v = NULL;
	CUgraph g;
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (m->len >= sizeof(hdr)) {
		memcpy(hdr, m->data, sizeof(hdr));
		if (hdr[1] <= (m->len - sizeof(hdr)) / 16 &&
		    m->len == sizeof(hdr) + hdr[1] * 16)
			r = vw_handle_get(W, VGPU_HK_GRAPH, hdr[0], (void **)&g);
	}
	if (!r && !(v = calloc(2 * hdr[1] + 1, sizeof(*v))))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (!r)
		r = nodes_of(W, m->data + sizeof(hdr), 2 * hdr[1], v);
	if (!r)
		r = W->drv.cuGraphAddDependencies(g, v, v + hdr[1], hdr[1]);
	free(v);
	vw_reply(W, m, sync_result(W, r), NULL, 0, 0);
}

/* One list call of the driver: NULL v asks for the count. */
static CUresult list_call(struct vworker *W, void *subject, uint64_t what,
			  CUgraphNode *v, size_t *n)
{
	switch (what) {
	case VGPU_GL_EDGES:
		return W->drv.cuGraphGetEdges(subject, v, v ? v + *n : NULL, n);
	case VGPU_GL_ROOTS:
		return W->drv.cuGraphGetRootNodes(subject, v, n);
	case VGPU_GL_DEPS:
		return W->drv.cuGraphNodeGetDependencies(subject, v, n);
	case VGPU_GL_DEPENDENTS:
		return W->drv.cuGraphNodeGetDependentNodes(subject, v, n);
	default:
		return W->drv.cuGraphGetNodes(subject, v, n);
	}
}

/* The list (edges: 2 nodes each) from the driver, into a new *v. */
static CUresult fetch(struct vworker *W, void *subject, uint64_t what,
		      CUgraphNode **v, size_t *n)
{
	CUresult r = list_call(W, subject, what, NULL, n);
	size_t w = what == VGPU_GL_EDGES ? 2 : 1;
	if (r)
		return r;
	if (!(*v = calloc(*n * w + 1, sizeof(**v))))
		return CUDA_ERROR_OUT_OF_MEMORY;
	/* an empty list (PyTorch's empty capture that keeps a memory pool
	 * alive): asking again with an array of 0 is not needed, and the
	 * driver refused it with CUDA_ERROR_INVALID_VALUE */
	return *n ? list_call(W, subject, what, *v, n) : CUDA_SUCCESS;
}

/* The graph or node a list is of, and the graph that owns its nodes. */
static CUresult list_subject(struct vworker *W, uint64_t id, uint64_t what,
			     void **subject, uint64_t *graph)
{
	if (what > VGPU_GL_DEPENDENTS)
		return CUDA_ERROR_INVALID_VALUE;
	if (what < VGPU_GL_DEPS) {
		*graph = id;
		return vw_handle_get(W, VGPU_HK_GRAPH, id, subject);
	}
	*graph = vw_handle_owner(W, VGPU_HK_GRAPH_NODE, id);
	return vw_handle_get(W, VGPU_HK_GRAPH_NODE, id, subject);
}

static void graph_list(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args a = {{0}};
	struct vgpu_cu_ids *ids = calloc(1, vgpu_inline_max(&W->r));
	CUgraphNode *v = NULL;
	void *subject;
	uint64_t graph = 0;
	size_t n = 0, w = 1;
	CUresult r = !ids ? CUDA_ERROR_OUT_OF_MEMORY
		     : args_of(m, &a) ? list_subject(W, a.a[0], a.a[1],
						     &subject, &graph)
				      : CUDA_ERROR_INVALID_VALUE;
	if (!r) {
		w = a.a[1] == VGPU_GL_EDGES ? 2 : 1;
		r = fetch(W, subject, a.a[1], &v, &n);
	}
	if (!r) {
		ids->total = n;
		ids->n = a.a[2] >= n ? 0
		       : n - a.a[2] < page(W, w) ? n - a.a[2] : page(W, w);
	}
	for (size_t i = 0; !r && i < ids->n; i++) {
		size_t k = a.a[2] + i;
		r = node_ids(W, &v[k], &ids->id[w * i], 1, graph);
		if (!r && w == 2)
			r = node_ids(W, &v[n + k], &ids->id[2 * i + 1], 1,
				     graph);
	}
	free(v);
	if (ids)
		send_ids(W, m, r, ids, w);
	else
		vw_reply(W, m, r, NULL, 0, 0);
	free(ids);
}

static void node_type(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args a = {{0}}, out = {{0}};
	CUgraphNode node;
	CUgraphNodeType t = CU_GRAPH_NODE_TYPE_EMPTY;
	CUresult r = args_of(m, &a) ? vw_handle_get(W, VGPU_HK_GRAPH_NODE,
						    a.a[0], (void **)&node)
				    : CUDA_ERROR_INVALID_VALUE;
	if (!r)
		r = W->drv.cuGraphNodeGetType(node, &t);
	out.a[0] = (uint64_t)t;
	reply_args(W, m, r, &out);
}

/* ---- kernel node parameters --------------------------------------- */

/* The packed buffer of an `extra` array, if it holds one that large. */
static const void *extra_buffer(void **extra, uint32_t need)
{
	const void *buf = NULL;
	size_t size = 0;
	for (int i = 0; extra && i < 64 && extra[i] != CU_LAUNCH_PARAM_END;
	     i += 2) {
		if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER)
			buf = extra[i + 1];
		else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE && extra[i + 1])
			size = *(const size_t *)extra[i + 1];
	}
	return size >= need ? buf : NULL;
}

/* The arguments the driver keeps for a node (its own memory, not the
 * guest's), packed by the layout. */
static CUresult pack_params(const CUDA_KERNEL_NODE_PARAMS *p,
			    const struct vgpu_cu_fninfo *fi, uint8_t *out)
{
	if (!fi->nparams)
		return CUDA_SUCCESS;
	if (p->kernelParams) {
		for (uint32_t i = 0; i < fi->nparams; i++)
			memcpy(out + fi->offset[i], p->kernelParams[i],
			       fi->size[i]);
		return CUDA_SUCCESS;
	}
	const void *buf = extra_buffer(p->extra, fi->param_bytes);
	if (!buf)
		return CUDA_ERROR_NOT_SUPPORTED;
	memcpy(out, buf, fi->param_bytes);
	return CUDA_SUCCESS;
}

static void knode_get(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args a = {{0}};
	uint32_t max = vgpu_inline_max(&W->r);
	uint8_t *buf = calloc(1, max);
	struct vgpu_cu_knode k = {0};
	struct vgpu_cu_fninfo fi;
	CUDA_KERNEL_NODE_PARAMS p = {0};
	CUgraphNode node;
	CUfunction f;
	CUresult r = !buf ? CUDA_ERROR_OUT_OF_MEMORY
		     : args_of(m, &a) ? vw_handle_get(W, VGPU_HK_GRAPH_NODE,
						      a.a[0], (void **)&node)
				      : CUDA_ERROR_INVALID_VALUE;
	if (!r)
		r = W->drv.cuGraphKernelNodeGetParams_v2(node, &p);
	/* a function this process looked up; one from elsewhere (a library
	 * kernel) has no id to give */
	if (!r && !(k.function = vw_handle_id_of(W, VGPU_HK_FUNCTION, p.func)) &&
	    !(k.function = vw_mlib_fn_id(W, p.func))) /* another GPU's */
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (!r)
		r = vw_function(W, k.function, &f, &fi);
	if (!r && fi.param_bytes > max - sizeof(k))
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (!r)
		r = pack_params(&p, &fi, buf + sizeof(k));
	if (!r) {
		k.node = a.a[0];
		k.graph = vw_handle_owner(W, VGPU_HK_GRAPH_NODE, a.a[0]);
		k.grid[0] = p.gridDimX;
		k.grid[1] = p.gridDimY;
		k.grid[2] = p.gridDimZ;
		k.block[0] = p.blockDimX;
		k.block[1] = p.blockDimY;
		k.block[2] = p.blockDimZ;
		k.shared_bytes = p.sharedMemBytes;
		k.param_bytes = fi.param_bytes;
		memcpy(buf, &k, sizeof(k));
	}
	vw_reply(W, m, sync_result(W, r), buf,
		 r ? 0 : (uint32_t)sizeof(k) + k.param_bytes, 0);
	free(buf);
}

static void knode_set(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_knode k;
	CUDA_KERNEL_NODE_PARAMS p;
	void *ptrs[VGPU_CU_MAX_PARAMS];
	CUgraphNode node;
	CUgraphExec e = NULL;
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (m->len >= sizeof(k)) {
		memcpy(&k, m->data, sizeof(k));
		if (k.param_bytes <= m->len - sizeof(k))
			r = vw_handle_get(W, VGPU_HK_GRAPH_NODE, k.node,
					  (void **)&node);
	}
	if (!r && k.exec)
		r = vw_handle_get(W, VGPU_HK_GRAPH_EXEC, k.exec, (void **)&e);
	if (!r)
		r = kernel_params(W, k.function, k.grid, k.block,
				  k.shared_bytes, m->data + sizeof(k),
				  k.param_bytes, &p, ptrs);
	if (!r)
		r = e ? W->drv.cuGraphExecKernelNodeSetParams_v2(e, node, &p)
		      : W->drv.cuGraphKernelNodeSetParams_v2(node, &p);
	vw_reply(W, m, sync_result(W, r), NULL, 0, 0);
}

static void func_info(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args a = {{0}};
	struct vgpu_cu_fninfo fi = {0};
	CUfunction f;
	CUresult r = args_of(m, &a) ? vw_function(W, a.a[0], &f, &fi)
				    : CUDA_ERROR_INVALID_VALUE;
	fi.function = a.a[0];
	vw_reply(W, m, sync_result(W, r), &fi, r ? 0 : sizeof(fi), 0);
}

/* ---- graph lifetime, executables ---------------------------------- */

static void graph_destroy(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args a = {{0}}, out = {{0}};
	CUgraph g;
	CUresult r = args_of(m, &a) ? vw_handle_get(W, VGPU_HK_GRAPH, a.a[0],
						    (void **)&g)
				    : CUDA_ERROR_INVALID_VALUE;
	/* one still being captured into is the capture's (natively its
	 * destruction is undefined) */
	if (!r && vw_handle_owner(W, VGPU_HK_GRAPH, a.a[0]))
		r = CUDA_ERROR_INVALID_VALUE;
	if (!r) {
		r = W->drv.cuGraphDestroy(g);
		/* whatever it returned: see gen_api.py's `del` */
		vw_handle_del(W, VGPU_HK_GRAPH, a.a[0]);
		vw_graph_host_graph_gone(W, g);
	}
	reply_args(W, m, r, &out);
}

static void instantiate(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args a = {{0}}, out = {{0}};
	CUgraph g;
	CUgraphExec e = NULL;
	CUDA_GRAPH_INSTANTIATE_PARAMS ip = {0};
	CUresult r = args_of(m, &a) ? vw_handle_get(W, VGPU_HK_GRAPH, a.a[0],
						    (void **)&g)
				    : CUDA_ERROR_INVALID_VALUE;
	if (!r && a.a[3]) {
		ip.flags = a.a[1];
		r = vw_stream(W, a.a[2], &ip.hUploadStream);
		if (!r)
			r = W->drv.cuGraphInstantiateWithParams(&e, g, &ip);
		out.a[1] = (uint64_t)ip.result_out;
		if (ip.hErrNode_out)
			out.a[2] = vw_handle_intern(W, VGPU_HK_GRAPH_NODE,
						    ip.hErrNode_out, a.a[0]);
	} else if (!r) {
		r = W->drv.cuGraphInstantiateWithFlags(&e, g, a.a[1]);
	}
	if (!r && !(out.a[0] = vw_handle_new(W, VGPU_HK_GRAPH_EXEC, e))) {
		W->drv.cuGraphExecDestroy(e);
		r = CUDA_ERROR_OUT_OF_MEMORY;
	}
	/* the guest sends the host ranges' bytes at each launch */
	if (!r)
		out.a[3] = vw_graph_host_bind(W, out.a[0], g, &r);
	if (r && out.a[0]) {
		W->drv.cuGraphExecDestroy(e);
		vw_handle_del(W, VGPU_HK_GRAPH_EXEC, out.a[0]);
		out.a[0] = 0;
	}
	reply_args(W, m, r, &out);
}

static void exec_update(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args a = {{0}}, out = {{0}};
	CUgraphExec e;
	CUgraph g;
	CUgraphExecUpdateResultInfo info = {0};
	CUresult r = args_of(m, &a) ? vw_handle_get(W, VGPU_HK_GRAPH_EXEC,
						    a.a[0], (void **)&e)
				    : CUDA_ERROR_INVALID_VALUE;
	if (!r)
		r = vw_handle_get(W, VGPU_HK_GRAPH, a.a[1], (void **)&g);
	if (!r)
		r = W->drv.cuGraphExecUpdate_v2(e, g, &info);
	/* its memcpy nodes read g's host ranges now */
	CUresult rb = CUDA_SUCCESS;
	if (!r)
		out.a[3] = vw_graph_host_bind(W, a.a[0], g, &rb);
	out.a[0] = (uint64_t)info.result;
	if (info.errorNode)
		out.a[1] = vw_handle_intern(W, VGPU_HK_GRAPH_NODE,
					    info.errorNode, a.a[1]);
	if (info.errorFromNode)
		out.a[2] = vw_handle_intern(W, VGPU_HK_GRAPH_NODE,
					    info.errorFromNode, a.a[1]);
	reply_args(W, m, r ? r : rb, &out);
}

static bool pending_failure(struct vworker *W, const struct vgpu_msg *m)
{
	static const uint8_t zero[sizeof(struct vgpu_cu_args)];
	if (m->op == VGPU_CU_GRAPH_DESTROY)
		return false;
	pthread_mutex_lock(&W->mu);
	CUresult a = W->async_err;
	W->async_err = CUDA_SUCCESS;
	pthread_mutex_unlock(&W->mu);
	if (a == CUDA_SUCCESS)
		return false;
	/* zeroed answers: nothing made, no status */
	vw_reply(W, m, a, zero, sizeof(zero), 0);
	return true;
}

bool vw_graph_execute(struct vworker *W, struct vw_exec *x,
		      const struct vgpu_msg *m)
{
	(void)x;
	if (m->op < VGPU_CU_CAPTURE_BEGIN || m->op > VGPU_CU_GRAPH_HOST_FILL)
		return false;
	/* a fill is a chunk of a bulk transfer: it tells errors itself */
	if (m->op == VGPU_CU_GRAPH_HOST_FILL)
		return vw_graph_host_execute(W, m);
	if (pending_failure(W, m))
		return true;
	if (vw_graph_host_execute(W, m))
		return true;
	switch (m->op) {
	case VGPU_CU_CAPTURE_BEGIN: capture_begin(W, m); return true;
	case VGPU_CU_CAPTURE_END: capture_end(W, m); return true;
	case VGPU_CU_CAPTURE_INFO: capture_info(W, m); return true;
	case VGPU_CU_CAPTURE_MODE: capture_mode(W, m); return true;
	case VGPU_CU_GRAPH_ADD_NODE: add_node(W, m); return true;
	case VGPU_CU_GRAPH_ADD_DEPS: add_deps(W, m); return true;
	case VGPU_CU_GRAPH_LIST: graph_list(W, m); return true;
	case VGPU_CU_KNODE_GET: knode_get(W, m); return true;
	case VGPU_CU_KNODE_SET: knode_set(W, m); return true;
	case VGPU_CU_NODE_TYPE: node_type(W, m); return true;
	case VGPU_CU_GRAPH_INSTANTIATE: instantiate(W, m); return true;
	case VGPU_CU_EXEC_UPDATE: exec_update(W, m); return true;
	case VGPU_CU_FUNC_INFO: func_info(W, m); return true;
	case VGPU_CU_GRAPH_DESTROY: graph_destroy(W, m); return true;
	}
	return false;
}
