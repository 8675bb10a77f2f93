/* Stream capture and graphs: the sim's rules (suite graph_sim, driver
 * calls straight into the sim) and the worker's handlers (suite
 * graph_worker, messages as the ring delivers them): every handle and
 * range checked, refusals with the native error, never a crash.
 */
#define _GNU_SOURCE
#include "../../daemon/devinfo.h"
#include "../../daemon/sim/sim.h"
#include "../../daemon/worker.h"
#include "../../ring/host.h"
#include "../support/worker_fixture.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOT_SIZE VWF_SLOT_SIZE
#define ARENA VWF_ARENA

static struct vgpu_driver *D = &W.drv;

/* Kernels the sim implements in C, by name and parameter sizes. */
static const char PTX[] =
	".version 9.0\n.target sm_90\n.address_size 64\n"
	".visible .entry vgpu_fill_u32(.param .u64 p, .param .u32 v, "
	".param .u64 n) { ret; }\n";

static void ok_(CUresult rc, const char *what, int line)
{
	cr_assert_eq(rc, CUDA_SUCCESS, "line %d: %s = %d (%s)", line, what,
		     (int)rc, vgpu_sim_last_error_detail());
}
#define OK(x) ok_((x), #x, __LINE__)
#define ERR(x, want)                                                      \
	cr_assert_eq((x), (want), "line %d: %s = %d, want %d", __LINE__, #x, \
		     (int)(x), (int)(want))

/* Down releases any host node still waiting and forgets the host nodes. */
static void up(void)
{
	vwf_opts = (struct vwf_opts){.cb_close = true, .graph_forget = true};
	vwf_up();
}

TestSuite(graph_sim, .init = up, .fini = vwf_down);
TestSuite(graph_worker, .init = up, .fini = vwf_down);

/* ---- the sim ------------------------------------------------------------- */

static CUfunction fill_fn(void)
{
	CUmodule m;
	CUfunction f;
	OK(D->cuModuleLoadData(&m, PTX));
	OK(D->cuModuleGetFunction(&f, m, "vgpu_fill_u32"));
	return f;
}

static CUresult fill(CUfunction f, CUstream s, CUdeviceptr p, unsigned v,
		     unsigned long long n)
{
	void *args[] = {&p, &v, &n};
	return D->cuLaunchKernel(f, 1, 1, 1, 64, 1, 1, 0, s, args, NULL);
}

static uint32_t word(CUdeviceptr p)
{
	uint32_t v;
	OK(D->cuMemcpyDtoH_v2(&v, p, 4));
	return v;
}

static CUresult run(CUgraph g, CUstream s)
{
	CUgraphExec e;
	CUresult r = D->cuGraphInstantiateWithFlags(&e, g, 0);
	if (!r)
		r = D->cuGraphLaunch(e, s);
	if (!r)
		r = D->cuStreamSynchronize(s);
	if (!r)
		r = D->cuGraphExecDestroy(e);
	return r;
}

Test(graph_sim, captured_work_runs_only_when_the_graph_does)
{
	CUstream s;
	CUdeviceptr p;
	CUgraph g;
	CUgraphNode nodes[4];
	CUgraphNodeType t;
	size_t n = 4;
	CUfunction f = fill_fn();
	OK(D->cuMemAlloc_v2(&p, 256));
	OK(D->cuMemsetD8_v2(p, 0, 256));
	OK(D->cuStreamCreate(&s, 0));
	OK(D->cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	OK(D->cuMemsetD8Async(p, 0x11, 4, s));
	OK(fill(f, s, p + 4, 7, 1));
	OK(D->cuStreamEndCapture(s, &g));
	OK(D->cuStreamSynchronize(s));
	cr_expect_eq(word(p), 0u, "captured memset ran at capture");
	cr_expect_eq(word(p + 4), 0u, "captured kernel ran at capture");
	OK(D->cuGraphGetNodes(g, nodes, &n));
	cr_assert_eq(n, 2u);
	OK(D->cuGraphNodeGetType(nodes[0], &t));
	cr_expect_eq(t, CU_GRAPH_NODE_TYPE_MEMSET);
	OK(D->cuGraphNodeGetType(nodes[1], &t));
	cr_expect_eq(t, CU_GRAPH_NODE_TYPE_KERNEL);
	cr_expect_null(nodes[2], "the driver NULLs the rest");
	OK(run(g, s));
	cr_expect_eq(word(p), 0x11111111u);
	cr_expect_eq(word(p + 4), 7u);
	OK(D->cuGraphDestroy(g));
	ERR(D->cuGraphNodeGetType(nodes[0], &t), CUDA_ERROR_INVALID_HANDLE);
}

Test(graph_sim, the_legacy_stream_cannot_capture_nor_be_used_meanwhile)
{
	CUstream s, nb;
	CUdeviceptr p;
	CUgraph g = (CUgraph)1;
	CUstreamCaptureStatus st;
	OK(D->cuMemAlloc_v2(&p, 256));
	OK(D->cuStreamCreate(&s, 0)); /* blocking: ordered with legacy */
	OK(D->cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));
	ERR(D->cuStreamBeginCapture_v2(NULL, CU_STREAM_CAPTURE_MODE_GLOBAL),
	    CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	OK(D->cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_RELAXED));
	ERR(D->cuStreamIsCapturing(CU_STREAM_LEGACY, &st),
	    CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);
	/* non-blocking: unrelated (and unordered: its own bytes) */
	OK(D->cuMemsetD8Async(p + 64, 1, 4, nb));
	ERR(D->cuMemsetD8Async(p, 1, 4, CU_STREAM_LEGACY),
	    CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);
	OK(D->cuStreamIsCapturing(s, &st));
	cr_expect_eq(st, CU_STREAM_CAPTURE_STATUS_INVALIDATED);
	ERR(D->cuMemsetD8Async(p, 1, 4, s),
	    CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	ERR(D->cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	cr_expect_null(g);
	OK(D->cuStreamIsCapturing(s, &st));
	cr_expect_eq(st, CU_STREAM_CAPTURE_STATUS_NONE);
	OK(D->cuMemsetD8Async(p, 1, 4, CU_STREAM_LEGACY)); /* usable again */
	OK(D->cuCtxSynchronize());
}

Test(graph_sim, synchronising_querying_and_host_copies_invalidate)
{
	CUstream s;
	CUdeviceptr p;
	CUgraph g;
	CUevent e;
	uint32_t h = 0;
	OK(D->cuMemAlloc_v2(&p, 256));
	OK(D->cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	OK(D->cuEventCreate(&e, 0));
	CUresult (*bad[])(CUstream) = {D->cuStreamSynchronize,
				       D->cuStreamQuery};
	for (int i = 0; i < 2; i++) {
		OK(D->cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
		ERR(bad[i](s), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
		ERR(D->cuStreamEndCapture(s, &g),
		    CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	}
	OK(D->cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	ERR(D->cuCtxSynchronize(), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	ERR(D->cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	OK(D->cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	OK(D->cuEventRecord(e, s));
	ERR(D->cuEventQuery(e), CUDA_ERROR_CAPTURED_EVENT);
	ERR(D->cuEventSynchronize(e), CUDA_ERROR_CAPTURED_EVENT);
	ERR(D->cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	OK(D->cuEventQuery(e)); /* the capture is over: an event again */
	OK(D->cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	ERR(D->cuMemcpyDtoHAsync_v2(&h, p, 4, s),
	    CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	ERR(D->cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
}

/* As natively for pageable memory: a captured host-to-device copy reads
 * the host bytes each time the graph runs. */
Test(graph_sim, captured_host_copies_read_the_host_at_each_replay)
{
	CUstream s;
	CUdeviceptr p;
	CUgraph g;
	CUgraphExec e;
	uint32_t h = 1, got = 0;
	OK(D->cuMemAlloc_v2(&p, 4));
	OK(D->cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	OK(D->cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	OK(D->cuMemcpyHtoDAsync_v2(p, &h, 4, s));
	OK(D->cuStreamEndCapture(s, &g));
	OK(D->cuGraphInstantiateWithFlags(&e, g, 0));
	for (uint32_t k = 2; k < 6; k++) {
		h = k;
		OK(D->cuGraphLaunch(e, s));
		OK(D->cuStreamSynchronize(s));
		OK(D->cuMemcpyDtoH_v2(&got, p, 4));
		cr_expect_eq(got, k);
	}
	OK(D->cuGraphExecDestroy(e));
	OK(D->cuGraphDestroy(g));
}

Test(graph_sim, forks_must_join_and_captures_stay_apart)
{
	CUstream a, b, c;
	CUevent fork, join, outside;
	CUdeviceptr p;
	CUgraph g;
	OK(D->cuMemAlloc_v2(&p, 256));
	OK(D->cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
	OK(D->cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
	OK(D->cuStreamCreate(&c, CU_STREAM_NON_BLOCKING));
	OK(D->cuEventCreate(&fork, 0));
	OK(D->cuEventCreate(&join, 0));
	OK(D->cuEventCreate(&outside, 0));
	OK(D->cuEventRecord(outside, c));
	/* forked work never joined */
	OK(D->cuStreamBeginCapture_v2(a, CU_STREAM_CAPTURE_MODE_GLOBAL));
	OK(D->cuEventRecord(fork, a));
	OK(D->cuStreamWaitEvent(b, fork, 0));
	OK(D->cuMemsetD8Async(p, 1, 4, b));
	ERR(D->cuStreamEndCapture(b, &g), CUDA_ERROR_STREAM_CAPTURE_UNMATCHED);
	ERR(D->cuStreamEndCapture(a, &g), CUDA_ERROR_STREAM_CAPTURE_UNJOINED);
	cr_expect_null(g);
	/* joined: one graph, the memset before the origin's next node */
	OK(D->cuStreamBeginCapture_v2(a, CU_STREAM_CAPTURE_MODE_GLOBAL));
	OK(D->cuEventRecord(fork, a));
	OK(D->cuStreamWaitEvent(b, fork, 0));
	OK(D->cuMemsetD8Async(p, 1, 4, b));
	OK(D->cuEventRecord(join, b));
	OK(D->cuStreamWaitEvent(a, join, 0));
	OK(D->cuMemsetD8Async(p + 4, 2, 4, a));
	OK(D->cuStreamEndCapture(a, &g));
	size_t ne = 0;
	OK(D->cuGraphGetEdges(g, NULL, NULL, &ne));
	cr_expect_eq(ne, 1u);
	OK(D->cuGraphDestroy(g));
	/* a dependency on work outside the capture */
	OK(D->cuStreamBeginCapture_v2(a, CU_STREAM_CAPTURE_MODE_GLOBAL));
	ERR(D->cuStreamWaitEvent(a, outside, 0),
	    CUDA_ERROR_STREAM_CAPTURE_ISOLATION);
	ERR(D->cuStreamEndCapture(a, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	/* two captures meeting */
	OK(D->cuStreamBeginCapture_v2(a, CU_STREAM_CAPTURE_MODE_GLOBAL));
	OK(D->cuStreamBeginCapture_v2(b, CU_STREAM_CAPTURE_MODE_GLOBAL));
	OK(D->cuEventRecord(fork, a));
	ERR(D->cuStreamWaitEvent(b, fork, 0), CUDA_ERROR_STREAM_CAPTURE_MERGE);
	ERR(D->cuStreamEndCapture(a, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	ERR(D->cuStreamEndCapture(b, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	/* a capturing stream destroyed: its capture goes with it */
	OK(D->cuStreamBeginCapture_v2(c, CU_STREAM_CAPTURE_MODE_GLOBAL));
	OK(D->cuStreamDestroy_v2(c));
	OK(D->cuMemsetD8Async(p, 1, 4, CU_STREAM_LEGACY));
	OK(D->cuCtxSynchronize());
}

struct other {
	CUstreamCaptureMode mode;
	CUresult alloc, end;
	CUstream s;
};

static void *other_thread(void *arg)
{
	struct other *o = arg;
	CUdeviceptr p = 0;
	CUgraph g = NULL;
	D->cuCtxSetCurrent(W.ctx);
	D->cuThreadExchangeStreamCaptureMode(&o->mode);
	o->alloc = D->cuMemAlloc_v2(&p, 64);
	if (!o->alloc)
		D->cuMemFree_v2(p);
	if (o->s)
		o->end = D->cuStreamEndCapture(o->s, &g);
	return NULL;
}

static struct other on_other(CUstreamCaptureMode mode, CUstream end)
{
	struct other o = {.mode = mode, .s = end};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, other_thread, &o), 0);
	pthread_join(t, NULL);
	return o;
}

Test(graph_sim, capture_modes_decide_who_may_make_unsafe_calls)
{
	CUstream s;
	CUgraph g;
	CUdeviceptr p;
	CUstreamCaptureMode m = CU_STREAM_CAPTURE_MODE_RELAXED;
	OK(D->cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	/* a global capture: every thread in global mode is refused */
	OK(D->cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	cr_expect_eq(on_other(CU_STREAM_CAPTURE_MODE_THREAD_LOCAL, NULL).alloc,
		     CUDA_SUCCESS);
	cr_expect_eq(on_other(CU_STREAM_CAPTURE_MODE_GLOBAL, NULL).alloc,
		     CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	ERR(D->cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	/* a thread-local capture bothers only its own thread */
	OK(D->cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
	cr_expect_eq(on_other(CU_STREAM_CAPTURE_MODE_GLOBAL, NULL).alloc,
		     CUDA_SUCCESS);
	ERR(D->cuMemAlloc_v2(&p, 64), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	ERR(D->cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	/* a relaxed thread may; and ends belong to the capturing thread */
	OK(D->cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	OK(D->cuThreadExchangeStreamCaptureMode(&m));
	cr_expect_eq(m, CU_STREAM_CAPTURE_MODE_GLOBAL);
	OK(D->cuMemAlloc_v2(&p, 64));
	OK(D->cuThreadExchangeStreamCaptureMode(&m));
	cr_expect_eq(m, CU_STREAM_CAPTURE_MODE_RELAXED);
	cr_expect_eq(on_other(CU_STREAM_CAPTURE_MODE_RELAXED, s).end,
		     CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD);
	/* natively the refused end ended the capture */
	ERR(D->cuStreamEndCapture(s, &g), CUDA_ERROR_ILLEGAL_STATE);
	m = (CUstreamCaptureMode)7;
	ERR(D->cuThreadExchangeStreamCaptureMode(&m), CUDA_ERROR_INVALID_VALUE);
	ERR(D->cuStreamBeginCapture_v2(s, (CUstreamCaptureMode)7),
	    CUDA_ERROR_INVALID_VALUE);
}

/* Independent nodes run in an order drawn at each launch, edges hold. */
Test(graph_sim, launches_draw_a_topological_order)
{
	enum { K = 6, LAUNCHES = 40 };
	CUstream s;
	CUgraph free_g, chain_g;
	CUgraphNode n[K];
	CUgraphExec fe, ce;
	CUdeviceptr p;
	unsigned seen = 0;
	OK(D->cuMemAlloc_v2(&p, 4));
	OK(D->cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	OK(D->cuGraphCreate(&free_g, 0));
	OK(D->cuGraphCreate(&chain_g, 0));
	for (int i = 0; i < K; i++) {
		CUDA_MEMSET_NODE_PARAMS m = {.dst = p, .value = (unsigned)i,
					     .elementSize = 4, .width = 1,
					     .height = 1};
		OK(D->cuGraphAddMemsetNode(&n[i], free_g, NULL, 0, &m, NULL));
		OK(D->cuGraphAddMemsetNode(&n[i], chain_g, i ? &n[i - 1] : NULL,
					   i ? 1 : 0, &m, NULL));
	}
	OK(D->cuGraphInstantiateWithFlags(&fe, free_g, 0));
	OK(D->cuGraphInstantiateWithFlags(&ce, chain_g, 0));
	for (int l = 0; l < LAUNCHES; l++) {
		OK(D->cuGraphLaunch(fe, s));
		OK(D->cuStreamSynchronize(s));
		seen |= 1u << word(p);
		OK(D->cuGraphLaunch(ce, s));
		OK(D->cuStreamSynchronize(s));
		cr_assert_eq(word(p), K - 1u, "an edge was not respected");
	}
	cr_expect_gt(__builtin_popcount(seen), 1, "always the same order");
}

Test(graph_sim, graphs_refuse_bad_edges_and_cycles)
{
	CUgraph g, h;
	CUgraphNode a, b, c, other;
	CUgraphExec e;
	OK(D->cuGraphCreate(&g, 0));
	OK(D->cuGraphCreate(&h, 0));
	OK(D->cuGraphAddEmptyNode(&a, g, NULL, 0));
	OK(D->cuGraphAddEmptyNode(&b, g, &a, 1));
	OK(D->cuGraphAddEmptyNode(&other, h, NULL, 0));
	ERR(D->cuGraphAddEmptyNode(&c, g, &other, 1), CUDA_ERROR_INVALID_VALUE);
	CUgraphNode twice[] = {a, a};
	ERR(D->cuGraphAddEmptyNode(&c, g, twice, 2), CUDA_ERROR_INVALID_VALUE);
	ERR(D->cuGraphAddDependencies(g, &a, &b, 1), CUDA_ERROR_INVALID_VALUE);
	ERR(D->cuGraphAddDependencies(g, &a, &a, 1), CUDA_ERROR_INVALID_VALUE);
	ERR(D->cuGraphAddEmptyNode(&c, (CUgraph)&W, NULL, 0),
	    CUDA_ERROR_INVALID_HANDLE);
	OK(D->cuGraphAddDependencies(g, &b, &a, 1)); /* a cycle */
	ERR(D->cuGraphInstantiateWithFlags(&e, g, 0), CUDA_ERROR_INVALID_VALUE);
	CUgraphNode roots[2], nb[3];
	size_t nr = 2, nn = 3;
	OK(D->cuGraphGetRootNodes(h, roots, &nr));
	cr_expect_eq(nr, 1u);
	cr_expect_eq(roots[0], other);
	OK(D->cuGraphNodeGetDependencies(b, nb, &nn));
	cr_expect(nn == 1 && nb[0] == a && !nb[1] && !nb[2]);
	nn = 0;
	OK(D->cuGraphNodeGetDependentNodes(a, NULL, &nn));
	cr_expect_eq(nn, 1u);
	ERR(D->cuGraphNodeGetDependencies(a, nb, NULL), CUDA_ERROR_INVALID_VALUE);
	OK(D->cuGraphDestroy(g));
	OK(D->cuGraphDestroy(h));
	ERR(D->cuGraphDestroy(h), CUDA_ERROR_INVALID_HANDLE);
}

Test(graph_sim, exec_update_checks_topology_and_node_types)
{
	CUstream s;
	CUdeviceptr p;
	CUgraph g1, g2, g3, g4;
	CUgraphNode n1, n2, x;
	CUgraphExec e;
	CUgraphExecUpdateResultInfo info;
	CUfunction f = fill_fn();
	unsigned v = 5;
	unsigned long long cnt = 1;
	void *args[] = {&p, &v, &cnt};
	CUDA_KERNEL_NODE_PARAMS kp = {.func = f, .gridDimX = 1, .gridDimY = 1,
				      .gridDimZ = 1, .blockDimX = 1,
				      .blockDimY = 1, .blockDimZ = 1,
				      .kernelParams = args};
	CUDA_MEMSET_NODE_PARAMS m = {.value = 9, .elementSize = 4,
				     .width = 1, .height = 1};
	OK(D->cuMemAlloc_v2(&p, 64));
	m.dst = p;
	OK(D->cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	OK(D->cuGraphCreate(&g1, 0));
	OK(D->cuGraphAddKernelNode_v2(&n1, g1, NULL, 0, &kp));
	OK(D->cuGraphInstantiateWithFlags(&e, g1, 0));
	v = 6; /* the node copied its arguments */
	OK(D->cuGraphLaunch(e, s));
	OK(D->cuStreamSynchronize(s));
	cr_expect_eq(word(p), 5u);
	OK(D->cuGraphCreate(&g2, 0));
	OK(D->cuGraphAddKernelNode_v2(&n2, g2, NULL, 0, &kp));
	OK(D->cuGraphExecUpdate_v2(e, g2, &info));
	cr_expect_eq(info.result, CU_GRAPH_EXEC_UPDATE_SUCCESS);
	OK(D->cuGraphLaunch(e, s));
	OK(D->cuStreamSynchronize(s));
	cr_expect_eq(word(p), 6u);
	OK(D->cuGraphCreate(&g3, 0));
	OK(D->cuGraphAddMemsetNode(&x, g3, NULL, 0, &m, NULL));
	ERR(D->cuGraphExecUpdate_v2(e, g3, &info),
	    CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
	cr_expect_eq(info.result, CU_GRAPH_EXEC_UPDATE_ERROR_NODE_TYPE_CHANGED);
	cr_expect_eq(info.errorNode, x);
	OK(D->cuGraphCreate(&g4, 0));
	OK(D->cuGraphAddKernelNode_v2(&x, g4, NULL, 0, &kp));
	OK(D->cuGraphAddKernelNode_v2(&x, g4, &x, 1, &kp));
	ERR(D->cuGraphExecUpdate_v2(e, g4, &info),
	    CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
	cr_expect_eq(info.result, CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED);
	/* refused updates changed nothing; the exec's node by its first
	 * graph's name */
	v = 8;
	OK(D->cuGraphExecKernelNodeSetParams_v2(e, n1, &kp));
	ERR(D->cuGraphExecKernelNodeSetParams_v2(e, x, &kp),
	    CUDA_ERROR_INVALID_VALUE);
	OK(D->cuGraphDestroy(g1)); /* the executable is independent */
	OK(D->cuGraphLaunch(e, s));
	OK(D->cuStreamSynchronize(s));
	cr_expect_eq(word(p), 8u);
	CUDA_KERNEL_NODE_PARAMS got;
	OK(D->cuGraphKernelNodeGetParams_v2(n2, &got));
	cr_expect_eq(got.func, f);
	cr_expect_eq(*(unsigned *)got.kernelParams[1], 6u);
	OK(D->cuGraphExecDestroy(e));
}

/* ---- the worker's handlers ------------------------------------------------ */

static int32_t args(uint16_t op, struct vgpu_cu_args *a)
{
	struct vgpu_cu_args in = *a;
	return request(op, 0, &in, sizeof(in), a, sizeof(*a));
}

static uint64_t new_id(const char *name, uint64_t arg)
{
	struct vgpu_cu_args a = {{arg}};
	cr_assert_eq(call(name, &a), CUDA_SUCCESS, "%s", name);
	return a.a[0];
}

static uint64_t function(void)
{
	uint32_t at = vwf_pos();
	struct vgpu_msg m = {.pos = at, .op = VGPU_CU_MODULE_LOAD,
			     .flags = VGPU_MSG_ARENA, .reply = at % 16,
			     .epoch = W.srv.ch[0].epoch,
			     .arena_len = sizeof(PTX) - 1,
			     .total = sizeof(PTX) - 1};
	uint8_t none = 0;
	m.data = &none;
	memcpy(vgpu_arena(&W.r, 0), PTX, sizeof(PTX) - 1);
	vw_execute(&W, X, &m);
	struct vgpu_cu_args a = {{0}};
	cr_assert_eq(request(VGPU_CU_MODULE_COMMIT, 0, NULL, 0, &a, sizeof(a)),
		     CUDA_SUCCESS);
	struct vgpu_cu_getfn g = {.module = a.a[0]};
	strcpy(g.name, "vgpu_fill_u32");
	struct vgpu_cu_fninfo fi;
	cr_assert_eq(request(VGPU_CU_MODULE_GET_FUNCTION, 0, &g, sizeof(g), &fi,
			     sizeof(fi)), CUDA_SUCCESS);
	return fi.function;
}

/* A node of type t with deps; kernel parameters (p, v, n) if a kernel. */
static int32_t add(uint64_t graph, uint32_t t, const uint64_t *deps,
		   uint32_t nd, struct vgpu_cu_gnode *n, uint64_t *node)
{
	uint8_t buf[SLOT_SIZE];
	n->graph = graph;
	n->type = t;
	n->ndeps = nd;
	memcpy(buf, n, sizeof(*n));
	if (nd) /* memcpy from NULL is undefined even for 0 bytes */
		memcpy(buf + sizeof(*n), deps, 8 * nd);
	uint32_t len = (uint32_t)sizeof(*n) + 8 * nd;
	if (t == CU_GRAPH_NODE_TYPE_KERNEL) {
		memset(buf + len, 0, n->u.k.param_bytes);
		len += n->u.k.param_bytes;
	}
	struct vgpu_cu_args a = {{0}};
	int32_t r = request(VGPU_CU_GRAPH_ADD_NODE, 0, buf, len, &a, sizeof(a));
	*node = a.a[0];
	return r;
}

static int32_t empty(uint64_t graph, uint64_t *node)
{
	struct vgpu_cu_gnode n = {0};
	return add(graph, CU_GRAPH_NODE_TYPE_EMPTY, NULL, 0, &n, node);
}

Test(graph_worker, foreign_and_wrong_kind_handles_are_refused)
{
	uint64_t g = new_id("cuGraphCreate", 0), node, bad;
	uint64_t s = new_id("cuStreamCreate", 0);
	struct vgpu_cu_gnode n = {0};
	cr_assert_eq(empty(g, &node), CUDA_SUCCESS);
	cr_expect_eq(empty(s, &bad), CUDA_ERROR_INVALID_HANDLE, "a stream");
	cr_expect_eq(empty(g ^ (1ull << 40), &bad), CUDA_ERROR_INVALID_HANDLE,
		     "another worker's graph");
	uint64_t dep = node + 7;
	cr_expect_eq(add(g, CU_GRAPH_NODE_TYPE_EMPTY, &dep, 1, &n, &bad),
		     CUDA_ERROR_INVALID_HANDLE);
	n.u.event = s; /* a stream where an event belongs */
	cr_expect_eq(add(g, CU_GRAPH_NODE_TYPE_EVENT_RECORD, NULL, 0, &n, &bad),
		     CUDA_ERROR_INVALID_HANDLE);
	struct vgpu_cu_args a = {{node}};
	cr_expect_eq(args(VGPU_CU_KNODE_GET, &a), CUDA_ERROR_INVALID_VALUE,
		     "not a kernel node");
	a = (struct vgpu_cu_args){{g}};
	cr_expect_eq(args(VGPU_CU_NODE_TYPE, &a), CUDA_ERROR_INVALID_HANDLE);
	a = (struct vgpu_cu_args){{g, 0, 0, 0}};
	cr_assert_eq(args(VGPU_CU_GRAPH_INSTANTIATE, &a), CUDA_SUCCESS);
	uint64_t e = a.a[0];
	a = (struct vgpu_cu_args){{g, s}};
	cr_expect_eq(call("cuGraphLaunch", &a), CUDA_ERROR_INVALID_HANDLE,
		     "a graph where the executable belongs (async error)");
	W.async_err = CUDA_SUCCESS;
	a = (struct vgpu_cu_args){{e, s}};
	cr_expect_eq(call("cuGraphLaunch", &a), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{e, g ^ 1}};
	cr_expect_eq(args(VGPU_CU_EXEC_UPDATE, &a), CUDA_ERROR_INVALID_HANDLE);
	a = (struct vgpu_cu_args){{s}};
	cr_expect_eq(call("cuStreamSynchronize", &a), CUDA_SUCCESS);
}

Test(graph_worker, a_destroyed_graph_takes_its_node_ids)
{
	uint64_t g = new_id("cuGraphCreate", 0), a, b;
	cr_assert_eq(empty(g, &a), CUDA_SUCCESS);
	cr_assert_eq(empty(g, &b), CUDA_SUCCESS);
	struct vgpu_cu_args q = {{g, 0, 0, 0}};
	cr_assert_eq(args(VGPU_CU_GRAPH_INSTANTIATE, &q), CUDA_SUCCESS);
	uint64_t e = q.a[0];
	/* listing names the same nodes again */
	uint8_t buf[SLOT_SIZE];
	struct vgpu_cu_args l = {{g, VGPU_GL_NODES, 0}};
	cr_assert_eq(request(VGPU_CU_GRAPH_LIST, 0, &l, sizeof(l), buf,
			     sizeof(buf)), CUDA_SUCCESS);
	struct vgpu_cu_ids *ids = (struct vgpu_cu_ids *)buf;
	cr_expect_eq(ids->total, 2u);
	cr_expect_eq(ids->id[0], a);
	cr_expect_eq(ids->id[1], b);
	q = (struct vgpu_cu_args){{g}};
	cr_assert_eq(args(VGPU_CU_GRAPH_DESTROY, &q), CUDA_SUCCESS);
	cr_expect_null(vw_handle_entry(&W, VGPU_HK_GRAPH_NODE, a));
	cr_expect_null(vw_handle_entry(&W, VGPU_HK_GRAPH_NODE, b));
	q = (struct vgpu_cu_args){{a}};
	cr_expect_eq(args(VGPU_CU_NODE_TYPE, &q), CUDA_ERROR_INVALID_HANDLE);
	q = (struct vgpu_cu_args){{g}};
	cr_expect_eq(args(VGPU_CU_GRAPH_DESTROY, &q), CUDA_ERROR_INVALID_HANDLE);
	q = (struct vgpu_cu_args){{e, 0}};
	cr_expect_eq(call("cuGraphLaunch", &q), CUDA_SUCCESS,
		     "an executable outlives its graph");
	q = (struct vgpu_cu_args){{e}};
	cr_expect_eq(call("cuGraphExecDestroy", &q), CUDA_SUCCESS);
	cr_expect_eq(call("cuGraphExecDestroy", &q), CUDA_ERROR_INVALID_HANDLE);
}

Test(graph_worker, node_ranges_and_lengths_are_checked)
{
	struct vgpu_cu_args a = {{4096}};
	cr_assert_eq(call("cuMemAlloc_v2", &a), CUDA_SUCCESS);
	uint64_t p = a.a[0], g = new_id("cuGraphCreate", 0), node;
	struct vgpu_cu_gnode n = {0};
	n.u.set.dst = p;
	n.u.set.width = 1024;
	n.u.set.height = 1;
	n.u.set.elem = 4;
	cr_expect_eq(add(g, CU_GRAPH_NODE_TYPE_MEMSET, NULL, 0, &n, &node),
		     CUDA_SUCCESS);
	n.u.set.width = 1025;
	cr_expect_eq(add(g, CU_GRAPH_NODE_TYPE_MEMSET, NULL, 0, &n, &node),
		     CUDA_ERROR_INVALID_VALUE, "one word past the allocation");
	n.u.set.width = UINT64_MAX / 2;
	cr_expect_eq(add(g, CU_GRAPH_NODE_TYPE_MEMSET, NULL, 0, &n, &node),
		     CUDA_ERROR_INVALID_VALUE, "width * elem overflows");
	n = (struct vgpu_cu_gnode){0};
	n.u.cp.src = n.u.cp.dst = p;
	n.u.cp.dst_x = 2048;
	n.u.cp.width = 2048;
	n.u.cp.height = n.u.cp.depth = 1;
	cr_expect_eq(add(g, CU_GRAPH_NODE_TYPE_MEMCPY, NULL, 0, &n, &node),
		     CUDA_SUCCESS);
	n.u.cp.dst_x = 2049;
	cr_expect_eq(add(g, CU_GRAPH_NODE_TYPE_MEMCPY, NULL, 0, &n, &node),
		     CUDA_ERROR_INVALID_VALUE);
	n.u.cp.dst_x = 0;
	n.u.cp.height = 2;
	n.u.cp.src_pitch = n.u.cp.dst_pitch = UINT64_MAX / 2 + 2;
	cr_expect_eq(add(g, CU_GRAPH_NODE_TYPE_MEMCPY, NULL, 0, &n, &node),
		     CUDA_ERROR_INVALID_VALUE, "pitch * rows overflows");
	n = (struct vgpu_cu_gnode){0};
	n.u.k.function = function();
	n.u.k.grid[0] = n.u.k.grid[1] = n.u.k.grid[2] = 1;
	n.u.k.block[0] = n.u.k.block[1] = n.u.k.block[2] = 1;
	n.u.k.param_bytes = 8; /* the layout needs 24 */
	cr_expect_eq(add(g, CU_GRAPH_NODE_TYPE_KERNEL, NULL, 0, &n, &node),
		     CUDA_ERROR_INVALID_VALUE);
	n.u.k.param_bytes = 24;
	cr_expect_eq(add(g, CU_GRAPH_NODE_TYPE_KERNEL, NULL, 0, &n, &node),
		     CUDA_SUCCESS);
	n.type = CU_GRAPH_NODE_TYPE_GRAPH;
	cr_expect_eq(add(g, CU_GRAPH_NODE_TYPE_GRAPH, NULL, 0, &n, &node),
		     CUDA_ERROR_NOT_SUPPORTED);
	/* lengths that lie */
	uint8_t buf[SLOT_SIZE] = {0};
	struct vgpu_cu_gnode big = {.graph = g, .ndeps = UINT32_MAX};
	memcpy(buf, &big, sizeof(big));
	cr_expect_eq(request(VGPU_CU_GRAPH_ADD_NODE, 0, buf, sizeof(big) + 8,
			     NULL, 0), CUDA_ERROR_INVALID_VALUE);
	uint64_t hdr[2] = {g, (1ull << 62)};
	memcpy(buf, hdr, sizeof(hdr));
	cr_expect_eq(request(VGPU_CU_GRAPH_ADD_DEPS, 0, buf, 48, NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	struct vgpu_cu_knode k = {.node = node, .function = n.u.k.function,
				  .param_bytes = 1000};
	memcpy(buf, &k, sizeof(k));
	cr_expect_eq(request(VGPU_CU_KNODE_SET, 0, buf, sizeof(k) + 24, NULL,
			     0), CUDA_ERROR_INVALID_VALUE);
	for (uint16_t op = VGPU_CU_CAPTURE_BEGIN; op <= VGPU_CU_GRAPH_DESTROY;
	     op++)
		cr_expect_eq(request(op, 0, buf, 3, NULL, 0),
			     CUDA_ERROR_INVALID_VALUE, "op 0x%x, 3 bytes", op);
}

Test(graph_worker, lists_come_in_pages)
{
	enum { NODES = 300 };
	uint64_t g = new_id("cuGraphCreate", 0), ids[NODES];
	for (int i = 0; i < NODES; i++)
		cr_assert_eq(empty(g, &ids[i]), CUDA_SUCCESS);
	uint8_t buf[SLOT_SIZE];
	struct vgpu_cu_ids *r = (struct vgpu_cu_ids *)buf;
	size_t got = 0;
	while (got < NODES) {
		struct vgpu_cu_args l = {{g, VGPU_GL_ROOTS, got}};
		cr_assert_eq(request(VGPU_CU_GRAPH_LIST, 0, &l, sizeof(l), buf,
				     sizeof(buf)), CUDA_SUCCESS);
		cr_assert_eq(r->total, NODES);
		cr_assert_gt(r->n, 0u);
		cr_assert_leq(sizeof(*r) + r->n * 8, SLOT_SIZE - 64);
		for (size_t i = 0; i < r->n; i++)
			cr_assert_eq(r->id[i], ids[got + i]);
		got += r->n;
	}
	struct vgpu_cu_args l = {{g, VGPU_GL_EDGES, 0}};
	cr_assert_eq(request(VGPU_CU_GRAPH_LIST, 0, &l, sizeof(l), buf,
			     sizeof(buf)), CUDA_SUCCESS);
	cr_expect_eq(r->total, 0u);
	/* a node's neighbours: the subject is a node, a graph is refused */
	uint64_t last;
	struct vgpu_cu_gnode n = {0};
	cr_assert_eq(add(g, CU_GRAPH_NODE_TYPE_EMPTY, ids, 2, &n, &last),
		     CUDA_SUCCESS);
	l = (struct vgpu_cu_args){{last, VGPU_GL_DEPS, 0}};
	cr_assert_eq(request(VGPU_CU_GRAPH_LIST, 0, &l, sizeof(l), buf,
			     sizeof(buf)), CUDA_SUCCESS);
	cr_expect(r->total == 2 && r->id[0] == ids[0] && r->id[1] == ids[1]);
	l = (struct vgpu_cu_args){{ids[1], VGPU_GL_DEPENDENTS, 0}};
	cr_assert_eq(request(VGPU_CU_GRAPH_LIST, 0, &l, sizeof(l), buf,
			     sizeof(buf)), CUDA_SUCCESS);
	cr_expect(r->total == 1 && r->id[0] == last);
	l = (struct vgpu_cu_args){{g, VGPU_GL_DEPS, 0}};
	cr_expect_eq(request(VGPU_CU_GRAPH_LIST, 0, &l, sizeof(l), buf,
			     sizeof(buf)), CUDA_ERROR_INVALID_HANDLE);
	l = (struct vgpu_cu_args){{g, 9, 0}};
	cr_expect_eq(request(VGPU_CU_GRAPH_LIST, 0, &l, sizeof(l), buf,
			     sizeof(buf)), CUDA_ERROR_INVALID_VALUE);
}

static int32_t launch_on(uint64_t fn, uint64_t stream, uint64_t p)
{
	uint8_t buf[sizeof(struct vgpu_cu_launch) + 24] = {0};
	struct vgpu_cu_launch L = {.function = fn, .stream = stream,
				   .grid = {1, 1, 1}, .block = {1, 1, 1},
				   .param_bytes = 24};
	uint32_t v = 42;
	uint64_t one = 1;
	memcpy(buf, &L, sizeof(L));
	memcpy(buf + sizeof(L), &p, 8);
	memcpy(buf + sizeof(L) + 8, &v, 4);
	memcpy(buf + sizeof(L) + 16, &one, 8);
	return request(VGPU_CU_LAUNCH, 0, buf, sizeof(buf), NULL, 0);
}

Test(graph_worker, a_capture_names_its_graph_and_nodes_once)
{
	struct vgpu_cu_args a = {{64}};
	cr_assert_eq(call("cuMemAlloc_v2", &a), CUDA_SUCCESS);
	uint64_t p = a.a[0], fn = function();
	uint64_t s = new_id("cuStreamCreate", CU_STREAM_NON_BLOCKING);
	a = (struct vgpu_cu_args){{s, CU_STREAM_CAPTURE_MODE_GLOBAL}};
	cr_assert_eq(args(VGPU_CU_CAPTURE_BEGIN, &a), CUDA_SUCCESS);
	cr_assert_eq(launch_on(fn, s, p), CUDA_SUCCESS);
	uint8_t buf[SLOT_SIZE];
	struct vgpu_cu_ids *r = (struct vgpu_cu_ids *)buf;
	a = (struct vgpu_cu_args){{s, 0, 0}};
	cr_assert_eq(request(VGPU_CU_CAPTURE_INFO, 0, &a, sizeof(a), buf,
			     sizeof(buf)), CUDA_SUCCESS);
	cr_expect_eq(r->a[0], CU_STREAM_CAPTURE_STATUS_ACTIVE);
	cr_expect_neq(r->a[1], 0u);
	uint64_t cg = r->a[2], dep = r->id[0];
	cr_assert_eq(r->total, 1u);
	a = (struct vgpu_cu_args){{cg}};
	cr_expect_eq(args(VGPU_CU_GRAPH_DESTROY, &a), CUDA_ERROR_INVALID_VALUE,
		     "the graph being captured into is the capture's");
	a = (struct vgpu_cu_args){{s}};
	cr_assert_eq(args(VGPU_CU_CAPTURE_END, &a), CUDA_SUCCESS);
	cr_expect_eq(a.a[0], cg, "the graph captured into is the one ended");
	struct vgpu_cu_args l = {{cg, VGPU_GL_NODES, 0}};
	cr_assert_eq(request(VGPU_CU_GRAPH_LIST, 0, &l, sizeof(l), buf,
			     sizeof(buf)), CUDA_SUCCESS);
	cr_expect_eq(r->id[0], dep);
	a = (struct vgpu_cu_args){{dep}};
	struct vgpu_cu_knode k;
	uint8_t kb[SLOT_SIZE];
	cr_assert_eq(request(VGPU_CU_KNODE_GET, 0, &a, sizeof(a), kb,
			     sizeof(kb)), CUDA_SUCCESS);
	memcpy(&k, kb, sizeof(k));
	cr_expect_eq(k.function, fn);
	cr_expect_eq(k.graph, cg);
	cr_expect_eq(k.param_bytes, 24u);
	uint32_t v;
	memcpy(&v, kb + sizeof(k) + 8, 4);
	cr_expect_eq(v, 42u);
	a = (struct vgpu_cu_args){{s}};
	cr_expect_eq(call("cuStreamDestroy_v2", &a), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{dep}};
	cr_expect_eq(args(VGPU_CU_NODE_TYPE, &a), CUDA_SUCCESS,
		     "an ended capture's graph is the program's");
}

/* One chunk of a host range's bytes, as guest/cuda/graph_host.c sends. */
static int32_t fill_range(uint64_t exec, uint64_t index, uint64_t tag, uint8_t v,
		    uint32_t n)
{
	uint32_t at = vwf_pos();
	uint64_t x[2] = {exec, index};
	struct vgpu_msg m = {.pos = at, .op = VGPU_CU_GRAPH_HOST_FILL,
			     .flags = VGPU_MSG_ARENA, .tid = 1, .len = 16,
			     .reply = at % 16, .epoch = W.srv.ch[0].epoch,
			     .tag = tag, .arena_len = n, .total = n};
	m.data = (uint8_t *)x;
	memset(vgpu_arena(&W.r, 0), v, n);
	vw_execute(&W, X, &m);
	struct vgpu_slot *s = vgpu_reply_at(&W.r, 0, m.reply);
	cr_assert_eq(atomic_load(&s->seq), m.pos + 2, "fill unanswered");
	return s->result;
}

static uint64_t device_u64(uint64_t p, uint64_t s)
{
	uint64_t req[3] = {p, s, 8}, v = 0;
	cr_assert_eq(request(VGPU_CU_MEMCPY_DTOH_INLINE, 0, req, sizeof(req),
			     &v, 8), CUDA_SUCCESS);
	return v;
}

/* A pageable host-to-device copy in capture: the staged copy is refused
 * without harming the capture, the guest asks again with GRAPH_HOST, and
 * each launch copies the bytes the guest filled in before it, also once
 * the graph is gone; the ranges go with the executable. */
Test(graph_worker, host_copies_in_capture_read_each_launch_bytes)
{
	struct vgpu_cu_args a = {{64}};
	cr_assert_eq(call("cuMemAlloc_v2", &a), CUDA_SUCCESS);
	uint64_t p = a.a[0];
	uint64_t s = new_id("cuStreamCreate", CU_STREAM_NON_BLOCKING);
	a = (struct vgpu_cu_args){{s, CU_STREAM_CAPTURE_MODE_GLOBAL}};
	cr_assert_eq(args(VGPU_CU_CAPTURE_BEGIN, &a), CUDA_SUCCESS);
	uint8_t buf[SLOT_SIZE];
	uint64_t x[2] = {p, s};
	memcpy(buf, x, sizeof(x));
	memset(buf + 16, 0x5a, 8);
	cr_expect_eq(request(VGPU_CU_MEMCPY_HTOD_INLINE, 0, buf, 24, NULL, 0),
		     CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	a = (struct vgpu_cu_args){{VGPU_GH_CAPTURE, p + 60, s, 0x1000, 8}};
	cr_expect_eq(args(VGPU_CU_GRAPH_HOST, &a), CUDA_ERROR_INVALID_VALUE,
		     "past the allocation");
	a = (struct vgpu_cu_args){{VGPU_GH_CAPTURE, p, s, UINT64_MAX - 4, 8}};
	cr_expect_eq(args(VGPU_CU_GRAPH_HOST, &a), CUDA_ERROR_INVALID_VALUE,
		     "guest range wraps");
	a = (struct vgpu_cu_args){{VGPU_GH_CAPTURE, p, s, 0x1000, 8}};
	cr_assert_eq(args(VGPU_CU_GRAPH_HOST, &a), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{s}};
	cr_assert_eq(args(VGPU_CU_CAPTURE_END, &a), CUDA_SUCCESS);
	uint64_t g = a.a[0];
	a = (struct vgpu_cu_args){{g, 0, 0, 0}};
	cr_assert_eq(args(VGPU_CU_GRAPH_INSTANTIATE, &a), CUDA_SUCCESS);
	uint64_t e = a.a[0];
	cr_expect_eq(a.a[3], 1u, "one host range");
	a = (struct vgpu_cu_args){{VGPU_GH_RANGE, e, 0}};
	cr_assert_eq(args(VGPU_CU_GRAPH_HOST, &a), CUDA_SUCCESS);
	cr_expect_eq(a.a[0], 0x1000u);
	cr_expect_eq(a.a[1], 8u);
	a = (struct vgpu_cu_args){{VGPU_GH_RANGE, e, 1}};
	cr_expect_eq(args(VGPU_CU_GRAPH_HOST, &a), CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{VGPU_GH_RANGE, s, 0}};
	cr_expect_neq(args(VGPU_CU_GRAPH_HOST, &a), CUDA_SUCCESS, "a stream");
	cr_expect_eq(fill_range(e, 0, 4, 1, 8), CUDA_ERROR_INVALID_VALUE, "past");
	cr_expect_eq(fill_range(e, 1, 0, 1, 8), CUDA_ERROR_INVALID_VALUE, "index");
	cr_expect_neq(fill_range(s, 0, 0, 1, 8), CUDA_SUCCESS, "not an exec");
	for (uint8_t v = 1; v < 4; v++) {
		cr_assert_eq(fill_range(e, 0, 0, v, 8), CUDA_SUCCESS);
		a = (struct vgpu_cu_args){{VGPU_GH_LAUNCH, e, s}};
		cr_assert_eq(args(VGPU_CU_GRAPH_HOST, &a), CUDA_SUCCESS);
		cr_expect_eq(device_u64(p, s), 0x0101010101010101ull * v);
		if (v == 2) { /* the executable outlives its graph */
			a = (struct vgpu_cu_args){{g}};
			cr_expect_eq(args(VGPU_CU_GRAPH_DESTROY, &a),
				     CUDA_SUCCESS);
		}
	}
	a = (struct vgpu_cu_args){{e}};
	cr_expect_eq(call("cuGraphExecDestroy", &a), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{VGPU_GH_RANGE, e, 0}};
	cr_expect_neq(args(VGPU_CU_GRAPH_HOST, &a), CUDA_SUCCESS);
	cr_expect_eq(vw_graph_host_count(&W), 0u, "ranges freed");
}

/* A staged device-to-host copy must never be captured: the worker
 * refuses it and the capture fails, and the ids the capture handed out
 * go with it. */
Test(graph_worker, staged_copies_are_refused_in_capture)
{
	struct vgpu_cu_args a = {{64}};
	cr_assert_eq(call("cuMemAlloc_v2", &a), CUDA_SUCCESS);
	uint64_t p = a.a[0];
	uint64_t s = new_id("cuStreamCreate", CU_STREAM_NON_BLOCKING);
	a = (struct vgpu_cu_args){{s, CU_STREAM_CAPTURE_MODE_GLOBAL}};
	cr_assert_eq(args(VGPU_CU_CAPTURE_BEGIN, &a), CUDA_SUCCESS);
	uint8_t buf[SLOT_SIZE];
	struct vgpu_cu_ids *r = (struct vgpu_cu_ids *)buf;
	a = (struct vgpu_cu_args){{s, 0, 0}};
	cr_assert_eq(request(VGPU_CU_CAPTURE_INFO, 0, &a, sizeof(a), buf,
			     sizeof(buf)), CUDA_SUCCESS);
	uint64_t cg = r->a[2];
	cr_assert_neq(cg, 0u);
	uint64_t x[2] = {p, s};
	memset(buf + 16, 0x5a, 8);
	uint64_t req[3] = {p, s, 8};
	cr_expect_eq(request(VGPU_CU_MEMCPY_DTOH_INLINE, 0, req, sizeof(req),
			     NULL, 0), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	a = (struct vgpu_cu_args){{s}};
	cr_expect_eq(args(VGPU_CU_CAPTURE_END, &a),
		     CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	cr_expect_eq(a.a[0], 0u);
	cr_expect_null(vw_handle_entry(&W, VGPU_HK_GRAPH, cg));
	a = (struct vgpu_cu_args){{s, 0, 1}};
	cr_assert_eq(request(VGPU_CU_CAPTURE_INFO, 0, &a, sizeof(a), buf,
			     sizeof(buf)), CUDA_SUCCESS);
	cr_expect_eq(r->a[0], CU_STREAM_CAPTURE_STATUS_NONE);
	memcpy(buf, x, sizeof(x));
	cr_expect_eq(request(VGPU_CU_MEMCPY_HTOD_INLINE, 0, buf, 24, NULL, 0),
		     CUDA_SUCCESS, "outside capture the copy is fine");
}

/* An earlier asynchronous failure is told by the next call, which then
 * does not act: no capture is left running behind an error. */
Test(graph_worker, a_pending_async_failure_is_told_before_acting)
{
	uint64_t s = new_id("cuStreamCreate", CU_STREAM_NON_BLOCKING);
	struct vgpu_cu_args a = {{s ^ 1, s}};
	cr_assert_eq(call("cuGraphLaunch", &a), CUDA_ERROR_INVALID_HANDLE);
	a = (struct vgpu_cu_args){{s, CU_STREAM_CAPTURE_MODE_GLOBAL}};
	cr_expect_eq(args(VGPU_CU_CAPTURE_BEGIN, &a), CUDA_ERROR_INVALID_HANDLE);
	uint8_t buf[SLOT_SIZE];
	struct vgpu_cu_ids *r = (struct vgpu_cu_ids *)buf;
	a = (struct vgpu_cu_args){{s, 0, 1}};
	cr_assert_eq(request(VGPU_CU_CAPTURE_INFO, 0, &a, sizeof(a), buf,
			     sizeof(buf)), CUDA_SUCCESS, "told once");
	cr_expect_eq(r->a[0], CU_STREAM_CAPTURE_STATUS_NONE);
}

/* A free that a global capture forbids did not happen: the allocation
 * stays the caller's, usable and freeable once the capture is over. */
Test(graph_worker, a_free_refused_by_capture_keeps_the_allocation)
{
	struct vgpu_cu_args a = {{256}};
	cr_assert_eq(call("cuMemAlloc_v2", &a), CUDA_SUCCESS);
	uint64_t p = a.a[0];
	uint64_t s = new_id("cuStreamCreate", CU_STREAM_NON_BLOCKING);
	a = (struct vgpu_cu_args){{s, CU_STREAM_CAPTURE_MODE_GLOBAL}};
	cr_assert_eq(args(VGPU_CU_CAPTURE_BEGIN, &a), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{p}};
	cr_expect_eq(call("cuMemFree_v2", &a),
		     CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	cr_expect_eq(vw_range(&W, p, 256), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{s}};
	cr_expect_eq(args(VGPU_CU_CAPTURE_END, &a),
		     CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	a = (struct vgpu_cu_args){{p}};
	cr_expect_eq(call("cuMemFree_v2", &a), CUDA_SUCCESS);
	cr_expect_eq(vw_range(&W, p, 1), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(W.mem_in_use, 0u);
}

/* The per-thread stream has no handle: its failed capture's graph id is
 * still forgotten (tagged with the guest thread, not a stream id). */
Test(graph_worker, a_failed_per_thread_capture_forgets_its_graph)
{
	uint64_t pts = (uint64_t)(uintptr_t)CU_STREAM_PER_THREAD;
	struct vgpu_cu_args a = {{pts, CU_STREAM_CAPTURE_MODE_GLOBAL}};
	cr_assert_eq(args(VGPU_CU_CAPTURE_BEGIN, &a), CUDA_SUCCESS);
	uint8_t buf[SLOT_SIZE];
	struct vgpu_cu_ids *r = (struct vgpu_cu_ids *)buf;
	a = (struct vgpu_cu_args){{pts, 0, 0}};
	cr_assert_eq(request(VGPU_CU_CAPTURE_INFO, 0, &a, sizeof(a), buf,
			     sizeof(buf)), CUDA_SUCCESS);
	uint64_t cg = r->a[2];
	cr_assert_neq(cg, 0u);
	a = (struct vgpu_cu_args){{pts}};
	cr_expect_eq(call("cuStreamSynchronize", &a),
		     CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	a = (struct vgpu_cu_args){{pts}};
	cr_expect_eq(args(VGPU_CU_CAPTURE_END, &a),
		     CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	cr_expect_null(vw_handle_entry(&W, VGPU_HK_GRAPH, cg));
}

/* ---- random requests ------------------------------------------------------ */

static uint64_t rnd(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* What fuzz_worker does not reach yet (its opcode list predates this
 * area): every graph opcode with random bytes, and with 64-bit slots
 * drawn from this process's own ids and pointers, of every kind, live and
 * destroyed. The worker must answer each, never crash (run it under
 * ASan). No kernel node is ever launched: random grids could run long. */
Test(graph_worker, random_requests_are_answered_and_never_crash)
{
	uint64_t pool[16], seed = 7, node;
	size_t np = 0;
	struct vgpu_cu_args a = {{4096}};
	/* random host nodes must not wait for a guest that never polls */
	vw_cb_close(&W);
	cr_assert_eq(call("cuMemAlloc_v2", &a), CUDA_SUCCESS);
	pool[np++] = a.a[0];
	pool[np++] = a.a[0] + 4000;
	pool[np++] = new_id("cuStreamCreate", CU_STREAM_NON_BLOCKING);
	pool[np++] = new_id("cuEventCreate", 0);
	uint64_t g = new_id("cuGraphCreate", 0);
	pool[np++] = g;
	cr_assert_eq(empty(g, &node), CUDA_SUCCESS);
	pool[np++] = node;
	cr_assert_eq(empty(g, &node), CUDA_SUCCESS);
	pool[np++] = node;
	a = (struct vgpu_cu_args){{g, 0, 0, 0}};
	cr_assert_eq(args(VGPU_CU_GRAPH_INSTANTIATE, &a), CUDA_SUCCESS);
	pool[np++] = a.a[0];
	pool[np++] = function();
	uint64_t dead = new_id("cuGraphCreate", 0);
	a = (struct vgpu_cu_args){{dead}};
	cr_assert_eq(args(VGPU_CU_GRAPH_DESTROY, &a), CUDA_SUCCESS);
	pool[np++] = dead;
	pool[np++] = (uint64_t)(uintptr_t)CU_STREAM_PER_THREAD;
	pool[np++] = 0;
	pool[np++] = 1;
	pool[np++] = UINT64_MAX;
	uint8_t buf[SLOT_SIZE];
	for (int it = 0; it < 12000; it++) {
		uint16_t op = (uint16_t)(VGPU_CU_CAPTURE_BEGIN +
					 rnd(&seed) % (VGPU_CU_GRAPH_DESTROY -
						       VGPU_CU_CAPTURE_BEGIN + 1));
		if (op == VGPU_CU_KNODE_SET)
			continue; /* would change launched nodes' grids */
		uint32_t len = (uint32_t)(rnd(&seed) % 4 ? 64 : rnd(&seed) % 600);
		if (op == VGPU_CU_GRAPH_ADD_NODE && rnd(&seed) % 2)
			len = (uint32_t)sizeof(struct vgpu_cu_gnode) + 16 +
			      (uint32_t)(rnd(&seed) % 64);
		for (uint32_t i = 0; i + 8 <= len; i += 8) {
			uint64_t v = rnd(&seed) % 3 ? pool[rnd(&seed) % np]
						    : rnd(&seed) % 8;
			memcpy(buf + i, &v, 8);
		}
		if (op == VGPU_CU_GRAPH_ADD_NODE &&
		    len >= sizeof(struct vgpu_cu_gnode)) {
			/* mostly into g, after a few of its nodes */
			uint32_t t = (uint32_t)(rnd(&seed) % 12);
			uint32_t nd = (uint32_t)(rnd(&seed) % 3);
			if (rnd(&seed) % 4)
				memcpy(buf, &g, 8);
			memcpy(buf + 8, &t, 4);
			memcpy(buf + 12, &nd, 4);
			for (uint32_t d = 0; d < nd &&
			     sizeof(struct vgpu_cu_gnode) + 8 * (d + 1) <= len; d++)
				memcpy(buf + sizeof(struct vgpu_cu_gnode) + 8 * d,
				       &pool[5 + rnd(&seed) % 2], 8);
		}
		if (op == VGPU_CU_GRAPH_DESTROY && !memcmp(buf, &g, 8))
			continue; /* g stays, to grow */
		request(op, 0, buf, len, buf, sizeof(buf));
		if (rnd(&seed) % 16 == 0) { /* and run what exists */
			a = (struct vgpu_cu_args){{pool[7], pool[2]}};
			call("cuGraphLaunch", &a);
			W.async_err = CUDA_SUCCESS;
		}
	}
	a = (struct vgpu_cu_args){{pool[2]}};
	int32_t r = call("cuStreamSynchronize", &a);
	cr_expect(r == CUDA_SUCCESS ||
		  r == CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
		  "stream sync after the storm: %d", r);
}

/* ---- host nodes ----------------------------------------------------------- */

static int host_ran;
static uint32_t host_saw[8];
static CUdeviceptr host_p;

/* Runs on the sim stream's thread: reads the sim's device memory
 * directly to see what the first kernel wrote. */
static void host_log(void *arg)
{
	(void)arg;
	uint32_t v = 0;
	sim_heap_rdlock();
	const void *d = sim_heap_map(host_p, 4);
	if (d)
		memcpy(&v, d, 4);
	sim_heap_unlock();
	if (host_ran < 8)
		host_saw[host_ran] = v;
	host_ran++;
}

Test(graph_sim, host_nodes_run_at_each_launch_between_their_kernels)
{
	CUstream s;
	CUgraph g, g2;
	CUgraphNode k1, h, k2;
	CUgraphExec e;
	CUfunction f = fill_fn();
	unsigned v1 = 0, v2 = 0;
	unsigned long long cnt = 1;
	OK(D->cuMemAlloc_v2(&host_p, 64));
	void *a1[] = {&host_p, &v1, &cnt}, *a2[] = {&host_p, &v2, &cnt};
	CUDA_KERNEL_NODE_PARAMS kp = {.func = f, .gridDimX = 1, .gridDimY = 1,
				      .gridDimZ = 1, .blockDimX = 1,
				      .blockDimY = 1, .blockDimZ = 1};
	CUDA_HOST_NODE_PARAMS hp = {.fn = host_log};
	OK(D->cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	OK(D->cuGraphCreate(&g, 0));
	v1 = 11, v2 = 22;
	kp.kernelParams = a1;
	OK(D->cuGraphAddKernelNode_v2(&k1, g, NULL, 0, &kp));
	OK(D->cuGraphAddHostNode(&h, g, &k1, 1, &hp));
	kp.kernelParams = a2;
	OK(D->cuGraphAddKernelNode_v2(&k2, g, &h, 1, &kp));
	ERR(D->cuGraphAddHostNode(&h, g, NULL, 0, NULL),
	    CUDA_ERROR_INVALID_VALUE);
	CUgraphNodeType t;
	OK(D->cuGraphNodeGetType(h, &t));
	cr_expect_eq(t, CU_GRAPH_NODE_TYPE_HOST);
	OK(D->cuGraphInstantiateWithFlags(&e, g, 0));
	OK(D->cuGraphDestroy(g)); /* the exec keeps its own copy */
	for (int r = 1; r <= 3; r++) {
		OK(D->cuGraphLaunch(e, s));
		OK(D->cuStreamSynchronize(s));
		cr_expect_eq(host_ran, r);
		cr_expect_eq(host_saw[r - 1], 11u, "the host node ran first");
		cr_expect_eq(word(host_p), 22u);
	}
	OK(D->cuGraphExecDestroy(e));
	/* captured: cuLaunchHostFunc is a host node, a callback is refused */
	host_ran = 0;
	OK(D->cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	OK(fill(f, s, host_p, 33, 1));
	OK(D->cuLaunchHostFunc(s, host_log, NULL));
	OK(fill(f, s, host_p, 44, 1));
	OK(D->cuStreamEndCapture(s, &g2));
	cr_expect_eq(host_ran, 0, "capture runs nothing");
	for (int r = 1; r <= 2; r++) {
		OK(run(g2, s));
		cr_expect_eq(host_ran, r);
		cr_expect_eq(host_saw[r - 1], 33u);
		cr_expect_eq(word(host_p), 44u);
	}
	OK(D->cuGraphDestroy(g2));
}

static void some_cb(CUstream s, CUresult r, void *p)
{
	(void)s, (void)r, (void)p;
}

Test(graph_sim, a_stream_callback_cannot_be_captured)
{
	CUstream s;
	CUgraph g;
	OK(D->cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	OK(D->cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	ERR(D->cuStreamAddCallback(s, some_cb, NULL, 0),
	    CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
	ERR(D->cuStreamEndCapture(s, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
}

struct poller {
	uint64_t done;
	int32_t r;
	uint64_t token;
};

static void *poll_main(void *arg)
{
	struct poller *p = arg;
	struct vgpu_cu_args a = {{p->done}};
	p->r = request(VGPU_CU_CB_POLL, 0, &a, sizeof(a), &a, sizeof(a));
	p->token = a.a[0];
	return NULL;
}

/* The worker's host node posts the guest's token at every launch and
 * holds later work until the guest's poll says it ran; a token of 0 is
 * refused, an unknown token acknowledged changes nothing. */
Test(graph_worker, host_nodes_post_their_token_at_each_launch)
{
	uint64_t g = new_id("cuGraphCreate", 0), node, bad;
	uint64_t s = new_id("cuStreamCreate", CU_STREAM_NON_BLOCKING);
	struct vgpu_cu_gnode n = {0};
	cr_expect_eq(add(g, CU_GRAPH_NODE_TYPE_HOST, NULL, 0, &n, &bad),
		     CUDA_ERROR_INVALID_VALUE, "no token");
	n.u.event = 0x1234;
	cr_assert_eq(add(g, CU_GRAPH_NODE_TYPE_HOST, NULL, 0, &n, &node),
		     CUDA_SUCCESS);
	struct vgpu_cu_args a = {{node}};
	cr_assert_eq(args(VGPU_CU_NODE_TYPE, &a), CUDA_SUCCESS);
	cr_expect_eq(a.a[0], CU_GRAPH_NODE_TYPE_HOST);
	a = (struct vgpu_cu_args){{g, 0, 0, 0}};
	cr_assert_eq(args(VGPU_CU_GRAPH_INSTANTIATE, &a), CUDA_SUCCESS);
	uint64_t e = a.a[0];
	a = (struct vgpu_cu_args){{g}};
	cr_assert_eq(request(VGPU_CU_GRAPH_DESTROY, 0, &a, sizeof(a), &a,
			     sizeof(a)), CUDA_SUCCESS);
	uint64_t done = 0x999; /* a token nobody posted: ignored */
	for (int r = 0; r < 3; r++) {
		a = (struct vgpu_cu_args){{e, s}};
		cr_assert_eq(call("cuGraphLaunch", &a), CUDA_SUCCESS);
		struct poller p = {.done = done};
		poll_main(&p); /* waits until the launch reaches the node */
		cr_assert_eq(p.r, CUDA_SUCCESS);
		cr_expect_eq(p.token, 0x1234u, "launch %d", r);
		a = (struct vgpu_cu_args){{s}};
		cr_expect_eq(call("cuStreamQuery", &a), CUDA_ERROR_NOT_READY,
			     "the node waits for the guest");
		done = p.token;
	}
	/* the last acknowledgement, from a thread that then waits on */
	struct poller last = {.done = done};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, poll_main, &last), 0);
	a = (struct vgpu_cu_args){{s}};
	cr_expect_eq(call("cuStreamSynchronize", &a), CUDA_SUCCESS);
	vw_cb_close(&W);
	pthread_join(t, NULL);
	cr_expect_eq(last.r, CUDA_ERROR_DEINITIALIZED);
	a = (struct vgpu_cu_args){{e}};
	cr_expect_eq(call("cuGraphExecDestroy", &a), CUDA_SUCCESS);
}
