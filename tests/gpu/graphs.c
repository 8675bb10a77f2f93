/* tests/gpu/graphs.c - stream capture and CUDA graphs, as a plain driver
 * API program (runs natively and through vgpu, on the GPU or the sim).
 *
 * Usage: graphs KERNELS.cubin|.fatbin|.ptx
 *
 *  capture_replay     two streams captured (fork and join through events):
 *                     kernels, a memset, then the graph replayed 20 times;
 *                     every element checked after each launch.
 *  capture_dtod       a captured cuMemcpyDtoDAsync (skipped, with a line
 *                     saying so, where the library lacks that call).
 *  capture_status     cuStreamIsCapturing / cuStreamGetCaptureInfo during
 *                     and after capture.
 *  manual_graph       a graph built node by node (kernels, memset, memcpy,
 *                     event record, an empty node by cuGraphAddNode, an
 *                     added edge): node
 *                     types, nodes, roots, edges, a node's dependencies
 *                     and dependents, kernel node parameters
 *                     read back and changed, then run; the executable's
 *                     copy of a kernel node changed on its own.
 *  unified_memcpy     a memcpy node between unified addresses of device
 *                     memory (what cudart's cudaMemcpyDefault makes).
 *  exec_update        an executable updated from a recapture (as llama.cpp
 *                     does), refused for a changed topology; a graph
 *                     instantiated with an upload, uploaded, launched.
 *  capture_errors     the legacy stream cannot capture; synchronising a
 *                     capturing stream invalidates it; cuMemAlloc is
 *                     refused in a global capture and allowed after the
 *                     thread switches to relaxed mode; a captured event
 *                     cannot be queried; a global capture ends only on
 *                     its own thread; pageable host-to-device copies
 *                     capture (the outcome is a digest).
 *  pageable_replay    captured copies from pageable memory (1 MiB and 256
 *                     bytes) and a device copy of the first's bytes,
 *                     replayed 5 times with the host bytes changed
 *                     between launches: the device holds each launch's
 *                     bytes; the executable outlives its graph.
 *  host_node          kernel -> cuGraphAddHostNode -> kernel, then the
 *                     same captured with cuLaunchHostFunc, each replayed:
 *                     the host function runs once per launch, the kernels
 *                     around it in order.
 * Results native and remoted runs must share are "digest" lines: data,
 * and the outcomes of calls whose native answer this program does not
 * assert. The last line is "graphs: N passed, N failed".
 */
#include "digest.h"
#include "check.h"
#include "file.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

enum { N = 4096, REPLAYS = 20 };
#define ONE 0x3f800000u /* 1.0f */
#define TWO 0x40000000u /* 2.0f */

static CUmodule mod;
static CUfunction f_fill, f_add, f_saxpy;
static CUdeviceptr dx, dy, dz, dw;

static void digest_rc(const char *name, CUresult r)
{
	printf("digest %s %s\n", name, cu_name(r));
}

/* Every float of d equals want. */
static int all_equal(struct check *c, CUdeviceptr d, float want,
		     const char *what)
{
	static float h[N];
	if (!EXPECT_OK(c, cuMemcpyDtoH(h, d, sizeof(h))))
		return 0;
	for (int i = 0; i < N; i++)
		if (h[i] != want) {
			check_fail(c, "%s[%d] = %g, want %g", what, i, h[i],
				   want);
			return 0;
		}
	return 1;
}

static int fill(struct check *c, CUstream s, CUdeviceptr p, unsigned v)
{
	unsigned long long n = N;
	void *args[] = {&p, &v, &n};
	return EXPECT_OK(c, cuLaunchKernel(f_fill, 16, 1, 1, 128, 1, 1, 0, s,
					   args, NULL));
}

static int saxpy(struct check *c, CUstream s, float a, CUdeviceptr x,
		 CUdeviceptr y)
{
	int n = N;
	void *args[] = {&a, &x, &y, &n};
	return EXPECT_OK(c, cuLaunchKernel(f_saxpy, N / 128, 1, 1, 128, 1, 1,
					   0, s, args, NULL));
}

/* s: x = 1; fork to s2: y += 2x; join; s: z bytes = 0x11, y += 0.5x.
 * Each replay adds 2.5 to every y. */
static void capture_replay(void)
{
	struct check c = {.name = "capture_replay"};
	CUstream s, s2;
	CUevent fork, join;
	CUgraph g = NULL;
	CUgraphExec e;
	int ok = EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING)) &&
		 EXPECT_OK(&c, cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING)) &&
		 EXPECT_OK(&c, cuEventCreate(&fork, CU_EVENT_DISABLE_TIMING)) &&
		 EXPECT_OK(&c, cuEventCreate(&join, CU_EVENT_DISABLE_TIMING)) &&
		 EXPECT_OK(&c, cuMemsetD8(dy, 0, N * 4)) &&
		 EXPECT_OK(&c, cuCtxSynchronize());
	ok = ok &&
	     EXPECT_OK(&c, cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL)) &&
	     fill(&c, s, dx, ONE) && EXPECT_OK(&c, cuEventRecord(fork, s)) &&
	     EXPECT_OK(&c, cuStreamWaitEvent(s2, fork, 0)) &&
	     saxpy(&c, s2, 2.0f, dx, dy) &&
	     EXPECT_OK(&c, cuEventRecord(join, s2)) &&
	     EXPECT_OK(&c, cuMemsetD8Async(dz, 0x11, N * 4, s)) &&
	     EXPECT_OK(&c, cuStreamWaitEvent(s, join, 0)) &&
	     saxpy(&c, s, 0.5f, dx, dy) &&
	     EXPECT_OK(&c, cuStreamEndCapture(s, &g));
	size_t n = 0;
	ok = ok && EXPECT_OK(&c, cuGraphGetNodes(g, NULL, &n));
	if (ok && n != 4)
		check_fail(&c, "captured %zu nodes, want 4", n);
	ok = ok && EXPECT_OK(&c, cuGraphInstantiateWithFlags(&e, g, 0));
	for (int r = 1; ok && r <= REPLAYS; r++) {
		ok = EXPECT_OK(&c, cuGraphLaunch(e, s)) &&
		     EXPECT_OK(&c, cuStreamSynchronize(s)) &&
		     all_equal(&c, dy, 2.5f * (float)r, "y");
	}
	static uint8_t z[N * 4];
	if (ok && EXPECT_OK(&c, cuMemcpyDtoH(z, dz, sizeof(z)))) {
		for (int i = 0; i < N * 4 && !c.bad; i++)
			if (z[i] != 0x11)
				check_fail(&c, "z[%d] = %#x", i, z[i]);
		digest("capture_replay_z", z, sizeof(z));
	}
	static float y[N];
	if (ok && EXPECT_OK(&c, cuMemcpyDtoH(y, dy, sizeof(y))))
		digest("capture_replay_y", y, sizeof(y));
	if (ok) {
		EXPECT_OK(&c, cuGraphExecDestroy(e));
		EXPECT_OK(&c, cuGraphDestroy(g));
	}
	cuStreamDestroy(s);
	cuStreamDestroy(s2);
	cuEventDestroy(fork);
	cuEventDestroy(join);
	check_end(&c);
}

static void capture_dtod(void)
{
	struct check c = {.name = "capture_dtod"};
	CUstream s;
	CUgraph g;
	CUgraphExec e;
	if (!EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING))) {
		check_end(&c);
		return;
	}
	CUresult probe = cuMemcpyDtoDAsync(dw, dx, 4, s);
	if (probe == CUDA_ERROR_NOT_SUPPORTED) {
		printf("skip capture_dtod: cuMemcpyDtoDAsync not supported\n");
		cuStreamDestroy(s);
		return;
	}
	int ok = EXPECT_OK(&c, probe) && EXPECT_OK(&c, cuStreamSynchronize(s)) &&
		 EXPECT_OK(&c, cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL)) &&
		 fill(&c, s, dx, TWO) &&
		 EXPECT_OK(&c, cuMemcpyDtoDAsync(dw, dx, N * 4, s)) &&
		 EXPECT_OK(&c, cuStreamEndCapture(s, &g)) &&
		 EXPECT_OK(&c, cuMemsetD8(dw, 0, N * 4)) &&
		 EXPECT_OK(&c, cuGraphInstantiateWithFlags(&e, g, 0)) &&
		 EXPECT_OK(&c, cuGraphLaunch(e, s)) &&
		 EXPECT_OK(&c, cuStreamSynchronize(s)) &&
		 all_equal(&c, dw, 2.0f, "w");
	if (ok) {
		cuGraphExecDestroy(e);
		cuGraphDestroy(g);
	}
	cuStreamDestroy(s);
	check_end(&c);
}

static void capture_status(void)
{
	struct check c = {.name = "capture_status"};
	CUstream s;
	CUgraph g = NULL, cg = NULL;
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_INVALIDATED;
	cuuint64_t id = 0;
	const CUgraphNode *deps = NULL;
	size_t nd = 99;
	int ok = EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING)) &&
		 EXPECT_OK(&c, cuStreamIsCapturing(s, &st));
	if (ok && st != CU_STREAM_CAPTURE_STATUS_NONE)
		check_fail(&c, "status %d before capture", st);
	ok = ok &&
	     EXPECT_OK(&c, cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)) &&
	     EXPECT_OK(&c, cuStreamIsCapturing(s, &st));
	if (ok && st != CU_STREAM_CAPTURE_STATUS_ACTIVE)
		check_fail(&c, "status %d in capture", st);
	ok = ok && fill(&c, s, dx, ONE) &&
	     EXPECT_OK(&c, cuStreamGetCaptureInfo(s, &st, &id, &cg, &deps,
						  NULL, &nd));
	if (ok && (st != CU_STREAM_CAPTURE_STATUS_ACTIVE || !id || !cg ||
		   nd != 1 || !deps || !deps[0]))
		check_fail(&c, "capture info: status %d id %llu graph %p, "
			   "%zu deps", st, (unsigned long long)id, (void *)cg,
			   nd);
	CUgraphNodeType t = CU_GRAPH_NODE_TYPE_EMPTY;
	ok = ok && EXPECT_OK(&c, cuGraphNodeGetType(deps[0], &t));
	if (ok && t != CU_GRAPH_NODE_TYPE_KERNEL)
		check_fail(&c, "captured node type %d", t);
	ok = ok && EXPECT_OK(&c, cuStreamEndCapture(s, &g));
	if (ok && g != cg)
		check_fail(&c, "ended with another graph than captured into");
	ok = ok && EXPECT_OK(&c, cuStreamIsCapturing(s, &st));
	if (ok && st != CU_STREAM_CAPTURE_STATUS_NONE)
		check_fail(&c, "status %d after capture", st);
	if (g)
		cuGraphDestroy(g);
	cuStreamDestroy(s);
	check_end(&c);
}

static int kparams(CUDA_KERNEL_NODE_PARAMS *p, CUfunction f, unsigned gx,
		   unsigned bx, void **args)
{
	*p = (CUDA_KERNEL_NODE_PARAMS){.func = f, .gridDimX = gx,
				       .gridDimY = 1, .gridDimZ = 1,
				       .blockDimX = bx, .blockDimY = 1,
				       .blockDimZ = 1, .kernelParams = args};
	return 1;
}

static int count(struct check *c, CUgraph g, size_t want_nodes,
		 size_t want_roots, size_t want_edges)
{
	size_t n = 0, r = 0, e = 0;
	if (!EXPECT_OK(c, cuGraphGetNodes(g, NULL, &n)) ||
	    !EXPECT_OK(c, cuGraphGetRootNodes(g, NULL, &r)) ||
	    !EXPECT_OK(c, cuGraphGetEdges(g, NULL, NULL, NULL, &e)))
		return 0;
	if (n == want_nodes && r == want_roots && e == want_edges)
		return 1;
	check_fail(c, "%zu nodes %zu roots %zu edges, want %zu %zu %zu", n, r,
		   e, want_nodes, want_roots, want_edges);
	return 0;
}

/* k1: y = 2 (as bits); m: x = 1.0f; k2 (after k1, m): z = x + y;
 * cp (after k2): w = z; rec (after cp); empty node after rec (an edge
 * added by cuGraphAddDependencies). */
static void manual_graph(void)
{
	struct check c = {.name = "manual_graph"};
	CUgraph g;
	/* NULL until added: after a failed add, later steps see no node,
	 * not stack garbage (clang's -Wsometimes-uninitialized) */
	CUgraphNode k1 = NULL, m = NULL, k2 = NULL, cp = NULL, rec = NULL,
		    em = NULL;
	CUgraphExec e = NULL;
	CUevent ev;
	CUstream s;
	unsigned v = TWO;
	unsigned long long n64 = N;
	int n = N;
	void *a1[] = {&dy, &v, &n64}, *a2[] = {&dx, &dy, &dz, &n};
	CUDA_KERNEL_NODE_PARAMS p1, p2, got;
	CUDA_MEMSET_NODE_PARAMS ms = {.dst = dx, .value = ONE,
				      .elementSize = 4, .width = N,
				      .height = 1};
	CUDA_MEMCPY3D mc = {.srcMemoryType = CU_MEMORYTYPE_DEVICE,
			    .srcDevice = dz, .srcPitch = N * 4,
			    .srcHeight = 1,
			    .dstMemoryType = CU_MEMORYTYPE_DEVICE,
			    .dstDevice = dw, .dstPitch = N * 4, .dstHeight = 1,
			    .WidthInBytes = N * 4,
			    .Height = 1, .Depth = 1};
	CUgraphNode d2[2];
	CUgraphNodeParams np = {.type = CU_GRAPH_NODE_TYPE_EMPTY};
	kparams(&p1, f_fill, 16, 128, a1);
	kparams(&p2, f_add, N / 256, 256, a2);
	int ok = EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING)) &&
		 EXPECT_OK(&c, cuEventCreate(&ev, 0)) &&
		 EXPECT_OK(&c, cuGraphCreate(&g, 0)) &&
		 EXPECT_OK(&c, cuGraphAddKernelNode(&k1, g, NULL, 0, &p1)) &&
		 EXPECT_OK(&c, cuGraphAddMemsetNode(&m, g, NULL, 0, &ms,
						    NULL));
	d2[0] = k1;
	d2[1] = m;
	ok = ok && EXPECT_OK(&c, cuGraphAddKernelNode(&k2, g, d2, 2, &p2)) &&
	     EXPECT_OK(&c, cuGraphAddMemcpyNode(&cp, g, &k2, 1, &mc, NULL)) &&
	     EXPECT_OK(&c, cuGraphAddEventRecordNode(&rec, g, &cp, 1, ev)) &&
	     EXPECT_OK(&c, cuGraphAddNode(&em, g, NULL, NULL, 0, &np)) &&
	     EXPECT_OK(&c, cuGraphAddDependencies(g, &rec, &em, NULL, 1)) &&
	     count(&c, g, 6, 2, 5);
	static const CUgraphNodeType want[] = {
		CU_GRAPH_NODE_TYPE_KERNEL, CU_GRAPH_NODE_TYPE_MEMSET,
		CU_GRAPH_NODE_TYPE_KERNEL, CU_GRAPH_NODE_TYPE_MEMCPY,
		CU_GRAPH_NODE_TYPE_EVENT_RECORD, CU_GRAPH_NODE_TYPE_EMPTY};
	CUgraphNode all[6] = {k1, m, k2, cp, rec, em};
	for (int i = 0; ok && i < 6; i++) {
		CUgraphNodeType t;
		ok = EXPECT_OK(&c, cuGraphNodeGetType(all[i], &t));
		if (ok && t != want[i])
			check_fail(&c, "node %d has type %d, want %d", i, t,
				   want[i]);
	}
	/* the nodes the graph lists are the ones we added */
	CUgraphNode listed[8] = {0}, from[8], to[8];
	size_t nl = 8, ne = 8;
	ok = ok && EXPECT_OK(&c, cuGraphGetNodes(g, listed, &nl)) &&
	     EXPECT_OK(&c, cuGraphGetEdges(g, from, to, NULL, &ne));
	for (int i = 0; ok && i < 6; i++) {
		int found = 0;
		for (size_t k = 0; k < nl; k++)
			found |= listed[k] == all[i];
		if (!found)
			check_fail(&c, "node %d not listed", i);
	}
	int edge = 0;
	for (size_t k = 0; ok && k < ne; k++)
		edge |= from[k] == rec && to[k] == em;
	if (ok && (nl != 6 || ne != 5 || !edge || listed[6]))
		check_fail(&c, "listed %zu nodes, %zu edges", nl, ne);
	/* k2's neighbours: k1 and m before it, cp after it */
	CUgraphNode nb[4] = {0};
	size_t nn = 4, nd = 4;
	ok = ok && EXPECT_OK(&c, cuGraphNodeGetDependencies(k2, nb, NULL, &nn));
	if (ok && !(nn == 2 && ((nb[0] == k1 && nb[1] == m) ||
				(nb[0] == m && nb[1] == k1))))
		check_fail(&c, "k2 has %zu dependencies", nn);
	ok = ok && EXPECT_OK(&c, cuGraphNodeGetDependentNodes(k2, nb, NULL, &nd));
	if (ok && !(nd == 1 && nb[0] == cp && !nb[1]))
		check_fail(&c, "k2 has %zu dependents", nd);
	ok = ok && EXPECT_OK(&c, cuGraphKernelNodeGetParams(k1, &got));
	if (ok && (got.func != f_fill || got.gridDimX != 16 ||
		   got.blockDimX != 128 || !got.kernelParams ||
		   *(CUdeviceptr *)got.kernelParams[0] != dy ||
		   *(unsigned *)got.kernelParams[1] != TWO ||
		   *(unsigned long long *)got.kernelParams[2] != N))
		check_fail(&c, "kernel node parameters read back wrong");
	v = 0x40800000u; /* 4.0f: z = 5 */
	ok = ok && EXPECT_OK(&c, cuGraphKernelNodeSetParams(k1, &p1)) &&
	     EXPECT_OK(&c, cuGraphInstantiateWithFlags(&e, g, 0)) &&
	     EXPECT_OK(&c, cuGraphLaunch(e, s)) &&
	     EXPECT_OK(&c, cuEventSynchronize(ev)) &&
	     EXPECT_OK(&c, cuStreamSynchronize(s)) &&
	     all_equal(&c, dw, 5.0f, "w");
	if (ok) {
		static float w[N];
		cuMemcpyDtoH(w, dw, sizeof(w));
		digest("manual_graph_w", w, sizeof(w));
	}
	/* the executable's own copy of k1 changes, not the graph's */
	v = 0x40c00000u; /* 6.0f: z = 7 */
	ok = ok && EXPECT_OK(&c, cuGraphExecKernelNodeSetParams(e, k1, &p1)) &&
	     EXPECT_OK(&c, cuGraphLaunch(e, s)) &&
	     EXPECT_OK(&c, cuStreamSynchronize(s)) &&
	     all_equal(&c, dw, 7.0f, "w");
	ok = ok && EXPECT_OK(&c, cuGraphKernelNodeGetParams(k1, &got));
	if (ok && *(unsigned *)got.kernelParams[1] != 0x40800000u)
		check_fail(&c, "exec update changed the graph's node");
	if (e)
		cuGraphExecDestroy(e);
	cuGraphDestroy(g);
	cuEventDestroy(ev);
	cuStreamDestroy(s);
	check_end(&c);
}

/* cudart's cudaMemcpyDefault: unified addresses of device memory. */
static void unified_memcpy(void)
{
	struct check c = {.name = "unified_memcpy"};
	CUstream s;
	CUgraph g = NULL;
	CUgraphNode n;
	CUgraphExec e = NULL;
	CUDA_MEMCPY3D mc = {.srcMemoryType = CU_MEMORYTYPE_UNIFIED,
			    .srcDevice = dx, .srcPitch = N * 4, .srcHeight = 1,
			    .dstMemoryType = CU_MEMORYTYPE_UNIFIED,
			    .dstDevice = dw, .dstPitch = N * 4, .dstHeight = 1,
			    .WidthInBytes = N * 4, .Height = 1, .Depth = 1};
	int ok = EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING)) &&
		 fill(&c, s, dx, 0x41000000u /* 8.0f */) &&
		 EXPECT_OK(&c, cuMemsetD8Async(dw, 0, N * 4, s)) &&
		 EXPECT_OK(&c, cuStreamSynchronize(s)) &&
		 EXPECT_OK(&c, cuGraphCreate(&g, 0)) &&
		 EXPECT_OK(&c, cuGraphAddMemcpyNode(&n, g, NULL, 0, &mc, NULL)) &&
		 EXPECT_OK(&c, cuGraphInstantiateWithFlags(&e, g, 0)) &&
		 EXPECT_OK(&c, cuGraphLaunch(e, s)) &&
		 EXPECT_OK(&c, cuStreamSynchronize(s)) &&
		 all_equal(&c, dw, 8.0f, "w");
	(void)ok;
	if (e)
		cuGraphExecDestroy(e);
	if (g)
		cuGraphDestroy(g);
	cuStreamDestroy(s);
	check_end(&c);
}

/* A capture of y = a*x + y; (extra: and one more kernel). */
static CUgraph capture_saxpy(struct check *c, CUstream s, float a, int extra)
{
	CUgraph g = NULL;
	if (EXPECT_OK(c, cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL)) &&
	    saxpy(c, s, a, dx, dy) && (!extra || fill(c, s, dz, ONE)))
		EXPECT_OK(c, cuStreamEndCapture(s, &g));
	return g;
}

static void exec_update(void)
{
	struct check c = {.name = "exec_update"};
	CUstream s;
	CUgraphExec e = NULL;
	CUgraphExecUpdateResultInfo info;
	CUgraph g1 = NULL, g2 = NULL, g3 = NULL;
	int ok = EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING)) &&
		 fill(&c, s, dx, ONE) &&
		 EXPECT_OK(&c, cuMemsetD8Async(dy, 0, N * 4, s)) &&
		 (g1 = capture_saxpy(&c, s, 3.0f, 0)) &&
		 EXPECT_OK(&c, cuGraphInstantiateWithFlags(&e, g1, 0)) &&
		 EXPECT_OK(&c, cuGraphLaunch(e, s)) &&
		 EXPECT_OK(&c, cuStreamSynchronize(s)) &&
		 all_equal(&c, dy, 3.0f, "y") &&
		 (g2 = capture_saxpy(&c, s, 5.0f, 0)) &&
		 EXPECT_OK(&c, cuGraphExecUpdate(e, g2, &info));
	if (ok && info.result != CU_GRAPH_EXEC_UPDATE_SUCCESS)
		check_fail(&c, "update result %d", info.result);
	ok = ok && EXPECT_OK(&c, cuGraphLaunch(e, s)) &&
	     EXPECT_OK(&c, cuStreamSynchronize(s)) &&
	     all_equal(&c, dy, 8.0f, "y") &&
	     (g3 = capture_saxpy(&c, s, 7.0f, 1)) &&
	     EXPECT(&c, CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE,
		    cuGraphExecUpdate(e, g3, &info));
	if (ok && info.result != CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED)
		check_fail(&c, "topology change: update result %d",
			   info.result);
	/* refused: the executable still runs the 5.0 version */
	ok = ok && EXPECT_OK(&c, cuGraphLaunch(e, s)) &&
	     EXPECT_OK(&c, cuStreamSynchronize(s)) &&
	     all_equal(&c, dy, 13.0f, "y");
	/* instantiated with an upload, uploaded again, launched */
	CUgraphExec e3 = NULL;
	CUDA_GRAPH_INSTANTIATE_PARAMS ip = {
		.flags = CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD, .hUploadStream = s};
	ok = ok && EXPECT_OK(&c, cuGraphInstantiateWithParams(&e3, g3, &ip));
	if (ok && (ip.result_out != CUDA_GRAPH_INSTANTIATE_SUCCESS ||
		   ip.hErrNode_out))
		check_fail(&c, "instantiate result %d", ip.result_out);
	ok = ok && EXPECT_OK(&c, cuGraphUpload(e3, s)) &&
	     EXPECT_OK(&c, cuGraphLaunch(e3, s)) &&
	     EXPECT_OK(&c, cuStreamSynchronize(s)) &&
	     all_equal(&c, dy, 20.0f, "y") && all_equal(&c, dz, 1.0f, "z");
	if (e3)
		cuGraphExecDestroy(e3);
	if (e)
		cuGraphExecDestroy(e);
	if (g1)
		cuGraphDestroy(g1);
	if (g2)
		cuGraphDestroy(g2);
	if (g3)
		cuGraphDestroy(g3);
	cuStreamDestroy(s);
	check_end(&c);
}

struct ender {
	CUstream s;
	CUcontext ctx;
	CUresult r;
};

static void *end_elsewhere(void *p)
{
	struct ender *x = p;
	CUgraph g = NULL;
	cuCtxSetCurrent(x->ctx);
	x->r = cuStreamEndCapture(x->s, &g);
	return NULL;
}

static void capture_errors(void)
{
	struct check c = {.name = "capture_errors"};
	CUstream s;
	CUgraph g = (CUgraph)1;
	CUevent ev;
	CUdeviceptr p = 0;
	CUstreamCaptureStatus st;
	CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
	CUdeviceptr dbig = 0;
	int ok = EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING)) &&
		 EXPECT_OK(&c, cuEventCreate(&ev, 0)) &&
		 EXPECT_OK(&c, cuMemAlloc(&dbig, 1 << 20));
	/* refused, but the reference names no code: compared only */
	CUresult legacy = cuStreamBeginCapture(CU_STREAM_LEGACY,
					       CU_STREAM_CAPTURE_MODE_GLOBAL);
	if (legacy == CUDA_SUCCESS)
		check_fail(&c, "the legacy stream began a capture");
	digest_rc("capture_errors_legacy_begin", legacy);
	/* synchronising a capturing stream invalidates the capture */
	ok = ok && EXPECT_OK(&c, cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL)) &&
	     fill(&c, s, dx, ONE) &&
	     EXPECT(&c, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
		    cuStreamSynchronize(s)) &&
	     EXPECT_OK(&c, cuStreamIsCapturing(s, &st));
	if (ok && st != CU_STREAM_CAPTURE_STATUS_INVALIDATED)
		check_fail(&c, "status %d after a sync in capture", st);
	ok = ok && EXPECT(&c, CUDA_ERROR_STREAM_CAPTURE_INVALIDATED,
			  cuStreamEndCapture(s, &g));
	if (ok && g)
		check_fail(&c, "an invalidated capture gave a graph");
	/* an allocation is refused in a global capture... */
	ok = ok && EXPECT_OK(&c, cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL)) &&
	     EXPECT(&c, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
		    cuMemAlloc(&p, 256));
	if (ok) {
		CUresult r = cuStreamEndCapture(s, &g);
		digest_rc("capture_errors_alloc_then_end", r);
		if (!r && g)
			cuGraphDestroy(g);
	}
	/* ...and allowed once this thread is relaxed, as PyTorch does */
	ok = ok && EXPECT_OK(&c, cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL)) &&
	     EXPECT_OK(&c, cuThreadExchangeStreamCaptureMode(&mode));
	if (ok && mode != CU_STREAM_CAPTURE_MODE_GLOBAL)
		check_fail(&c, "thread's mode was %d, want GLOBAL", mode);
	ok = ok && EXPECT_OK(&c, cuMemAlloc(&p, 256)) &&
	     EXPECT_OK(&c, cuThreadExchangeStreamCaptureMode(&mode));
	if (ok && mode != CU_STREAM_CAPTURE_MODE_RELAXED)
		check_fail(&c, "exchanged mode back: got %d", mode);
	/* an event recorded in the capture cannot be asked about */
	ok = ok && fill(&c, s, dx, ONE) && EXPECT_OK(&c, cuEventRecord(ev, s)) &&
	     EXPECT(&c, CUDA_ERROR_CAPTURED_EVENT, cuEventQuery(ev));
	if (ok) {
		CUresult r = cuStreamEndCapture(s, &g);
		digest_rc("capture_errors_event_query_then_end", r);
		if (!r && g)
			cuGraphDestroy(g);
	}
	if (p)
		cuMemFree(p);
	/* a global capture ends only on the thread that began it */
	struct ender x = {.s = s};
	pthread_t t;
	ok = ok && EXPECT_OK(&c, cuCtxGetCurrent(&x.ctx)) &&
	     EXPECT_OK(&c, cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL)) &&
	     fill(&c, s, dx, ONE) && !pthread_create(&t, NULL, end_elsewhere, &x) &&
	     !pthread_join(t, NULL) &&
	     EXPECT(&c, CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD, x.r);
	if (ok) { /* whether the refusal invalidated it: compared only */
		CUresult r = cuStreamEndCapture(s, &g);
		digest_rc("capture_errors_end_after_wrong_thread", r);
		if (!r && g)
			cuGraphDestroy(g);
	}
	/* pageable host copies in capture, small and large: natively
	 * (H200, driver 580) both capture, and so does vgpu
	 * (pageable_replay checks what they copy) */
	static uint8_t h[1 << 20]; /* large: through the arena, in chunks */
	static const size_t sizes[] = {256, sizeof(h)};
	static const char *names[][2] = {
		{"capture_errors_pageable_htod", "capture_errors_pageable_htod_end"},
		{"capture_errors_pageable_htod_large",
		 "capture_errors_pageable_htod_large_end"}};
	for (int i = 0; ok && i < 2; i++) {
		if (!EXPECT_OK(&c, cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL)))
			break;
		CUresult r1 = cuMemcpyHtoDAsync(dbig, h, sizes[i], s);
		CUresult r2 = cuStreamEndCapture(s, &g);
		digest_rc(names[i][0], r1);
		digest_rc(names[i][1], r2);
		if (!r2 && g)
			cuGraphDestroy(g);
	}
	EXPECT_OK(&c, cuStreamSynchronize(s));
	if (dbig)
		cuMemFree(dbig);
	cuEventDestroy(ev);
	cuStreamDestroy(s);
	check_end(&c);
}

/* Pageable host memory copied to the device by a captured graph: each
 * replay copies what the host buffer holds when the graph is launched,
 * large (in chunks through vgpu's arena) and small (inside a message). */
enum { BIG = 1 << 20, SMALL = 256, PAGEABLE_REPLAYS = 5 };

static void pattern(uint8_t *p, size_t n, unsigned k)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + k * 31 + (i >> 8));
}

static int same_bytes(struct check *c, CUdeviceptr d, const uint8_t *want,
		      uint8_t *tmp, size_t n, const char *what, unsigned k)
{
	if (!EXPECT_OK(c, cuMemcpyDtoH(tmp, d, n)))
		return 0;
	if (memcmp(tmp, want, n)) {
		check_fail(c, "replay %u: %s differs from the host bytes", k,
			   what);
		return 0;
	}
	return 1;
}

static void pageable_replay(void)
{
	struct check c = {.name = "pageable_replay"};
	uint8_t *hb = malloc(BIG), *hs = malloc(SMALL), *tmp = malloc(BIG);
	CUdeviceptr db = 0, ds = 0, dc = 0;
	CUstream s = NULL;
	CUgraph g = NULL;
	CUgraphExec e = NULL;
	int ok = hb && hs && tmp &&
		 EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING)) &&
		 EXPECT_OK(&c, cuMemAlloc(&db, BIG)) &&
		 EXPECT_OK(&c, cuMemAlloc(&ds, SMALL)) &&
		 EXPECT_OK(&c, cuMemAlloc(&dc, SMALL));
	if (ok) {
		pattern(hb, BIG, 100);
		pattern(hs, SMALL, 200);
		ok = EXPECT_OK(&c, cuStreamBeginCapture(
					   s, CU_STREAM_CAPTURE_MODE_GLOBAL)) &&
		     EXPECT_OK(&c, cuMemcpyHtoDAsync(db, hb, BIG, s)) &&
		     EXPECT_OK(&c, cuMemcpyHtoDAsync(ds, hs, SMALL, s)) &&
		     /* after the first copy in stream order: its bytes */
		     EXPECT_OK(&c, cuMemcpyDtoDAsync(dc, db + 4096, SMALL, s));
		CUresult r = cuStreamEndCapture(s, &g);
		ok = EXPECT_OK(&c, r) && ok &&
		     EXPECT_OK(&c, cuGraphInstantiateWithFlags(&e, g, 0));
	}
	/* the executable outlives its graph */
	if (g)
		EXPECT_OK(&c, cuGraphDestroy(g));
	for (unsigned k = 0; ok && k < PAGEABLE_REPLAYS; k++) {
		pattern(hb, BIG, k);
		pattern(hs, SMALL, k + 50);
		ok = EXPECT_OK(&c, cuGraphLaunch(e, s)) &&
		     EXPECT_OK(&c, cuStreamSynchronize(s)) &&
		     same_bytes(&c, db, hb, tmp, BIG, "large copy", k) &&
		     same_bytes(&c, ds, hs, tmp, SMALL, "small copy", k) &&
		     same_bytes(&c, dc, hb + 4096, tmp, SMALL,
				"copy of the large copy", k);
	}
	if (ok)
		digest("pageable_replay", tmp, SMALL);
	if (e)
		EXPECT_OK(&c, cuGraphExecDestroy(e));
	if (s)
		EXPECT_OK(&c, cuStreamDestroy(s));
	cuMemFree(db);
	cuMemFree(ds);
	cuMemFree(dc);
	free(hb);
	free(hs);
	free(tmp);
	check_end(&c);
}

/* Host nodes: fill x -> host fn -> y += 2x, built by hand and captured
 * (cuLaunchHostFunc); each replay runs the host fn once, in order. */
static int host_calls;
static void host_count(void *p)
{
	(*(int *)p)++;
}

static void host_node(void)
{
	struct check c = {.name = "host_node"};
	CUstream s;
	CUgraph g = NULL, g2 = NULL;
	CUgraphExec e = NULL, e2 = NULL;
	CUgraphNode k1, h, k2;
	CUDA_KERNEL_NODE_PARAMS p1, p2;
	CUdeviceptr x = dx, y = dy;
	unsigned v = ONE;
	unsigned long long n = N;
	float a = 2.0f;
	int ni = N;
	void *fa[] = {&x, &v, &n}, *sa[] = {&a, &x, &y, &ni};
	CUDA_HOST_NODE_PARAMS hp = {.fn = host_count, .userData = &host_calls};
	host_calls = 0;
	int ok = EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING)) &&
		 EXPECT_OK(&c, cuMemsetD8(dy, 0, N * 4)) &&
		 EXPECT_OK(&c, cuGraphCreate(&g, 0)) &&
		 kparams(&p1, f_fill, 16, 128, fa) &&
		 kparams(&p2, f_saxpy, N / 128, 128, sa) &&
		 EXPECT_OK(&c, cuGraphAddKernelNode(&k1, g, NULL, 0, &p1)) &&
		 EXPECT_OK(&c, cuGraphAddHostNode(&h, g, &k1, 1, &hp)) &&
		 EXPECT_OK(&c, cuGraphAddKernelNode(&k2, g, &h, 1, &p2)) &&
		 EXPECT_OK(&c, cuGraphInstantiateWithFlags(&e, g, 0));
	for (int r = 1; ok && r <= REPLAYS; r++)
		ok = EXPECT_OK(&c, cuGraphLaunch(e, s)) &&
		     EXPECT_OK(&c, cuStreamSynchronize(s)) &&
		     all_equal(&c, dy, 2.0f * (float)r, "y");
	if (ok && host_calls != REPLAYS)
		check_fail(&c, "host node ran %d times, want %d", host_calls,
			   REPLAYS);
	/* the same through capture */
	host_calls = 0;
	ok = ok && EXPECT_OK(&c, cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL)) &&
	     fill(&c, s, dx, ONE) &&
	     EXPECT_OK(&c, cuLaunchHostFunc(s, host_count, &host_calls)) &&
	     saxpy(&c, s, 2.0f, dx, dy) &&
	     EXPECT_OK(&c, cuStreamEndCapture(s, &g2)) &&
	     EXPECT_OK(&c, cuGraphInstantiateWithFlags(&e2, g2, 0));
	for (int r = 1; ok && r <= REPLAYS; r++)
		ok = EXPECT_OK(&c, cuGraphLaunch(e2, s)) &&
		     EXPECT_OK(&c, cuStreamSynchronize(s)) &&
		     all_equal(&c, dy, 2.0f * (float)(REPLAYS + r), "y");
	if (ok && host_calls != REPLAYS)
		check_fail(&c, "captured host fn ran %d times, want %d",
			   host_calls, REPLAYS);
	static float yh[N];
	if (ok && EXPECT_OK(&c, cuMemcpyDtoH(yh, dy, sizeof(yh))))
		digest("host_node_y", yh, sizeof(yh));
	if (e)
		EXPECT_OK(&c, cuGraphExecDestroy(e));
	if (e2)
		EXPECT_OK(&c, cuGraphExecDestroy(e2));
	if (g)
		EXPECT_OK(&c, cuGraphDestroy(g));
	if (g2)
		EXPECT_OK(&c, cuGraphDestroy(g2));
	cuStreamDestroy(s);
	check_end(&c);
}

static int setup(void *image)
{
	CUdevice dev;
	CUcontext ctx;
	struct check c = {.name = "setup"};
	int ok = EXPECT_OK(&c, cuDeviceGet(&dev, 0)) &&
		 EXPECT_OK(&c, cuDevicePrimaryCtxRetain(&ctx, dev)) &&
		 EXPECT_OK(&c, cuCtxSetCurrent(ctx)) &&
		 EXPECT_OK(&c, cuModuleLoadData(&mod, image)) &&
		 EXPECT_OK(&c, cuModuleGetFunction(&f_fill, mod, "vgpu_fill_u32")) &&
		 EXPECT_OK(&c, cuModuleGetFunction(&f_add, mod, "vgpu_add_f32")) &&
		 EXPECT_OK(&c, cuModuleGetFunction(&f_saxpy, mod, "vgpu_saxpy")) &&
		 EXPECT_OK(&c, cuMemAlloc(&dx, N * 4)) &&
		 EXPECT_OK(&c, cuMemAlloc(&dy, N * 4)) &&
		 EXPECT_OK(&c, cuMemAlloc(&dz, N * 4)) &&
		 EXPECT_OK(&c, cuMemAlloc(&dw, N * 4));
	check_end(&c);
	return ok;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: graphs KERNELS.cubin|.fatbin|.ptx\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	void *image = read_file(argv[1]);
	if (!image || cuInit(0) != CUDA_SUCCESS || !setup(image)) {
		check_report("init", 0, "no image, cuInit or setup failed");
		return check_summary("graphs");
	}
	capture_replay();
	capture_dtod();
	capture_status();
	manual_graph();
	unified_memcpy();
	exec_update();
	capture_errors();
	pageable_replay();
	host_node();
	return check_summary("graphs");
}
