/* guest/cuda/graph_capture.c - stream capture: begin, end, status, and
 * the thread's capture mode, every exported version.
 *
 * All of it runs in the worker on this guest thread's own executor, so
 * the driver's rules (which thread began a capture, each thread's mode)
 * hold as natively. The _ptsz versions take the default stream as the
 * per-thread one. What cuStreamGetCaptureInfo returns through
 * dependencies_out is thread-local storage here, valid until this
 * thread's next call of it (natively: until the stream's next capture
 * operation). Edge data: captured edges are all default, so edgeData_out
 * is NULL ("may be NULL if all edges are default").
 */
#include "graph.h"
#include <stdlib.h>

VGPU_EXPORT CUresult cuStreamBeginCapture_v2(CUstream s,
					     CUstreamCaptureMode mode)
{
	struct vgpu_cu_args a = {{(uint64_t)(uintptr_t)s, (uint64_t)mode}};
	return vgpu_cu_rpc(VGPU_CU_CAPTURE_BEGIN, &a, true,
			   "cuStreamBeginCapture");
}

VGPU_EXPORT CUresult cuStreamBeginCapture_v2_ptsz(CUstream s,
						  CUstreamCaptureMode mode)
{
	return cuStreamBeginCapture_v2(vgpu_ptsz(s), mode);
}

/* The CUDA 10.0 ABI had no mode: the global one is the default. */
#undef cuStreamBeginCapture
VGPU_EXPORT CUresult cuStreamBeginCapture(CUstream s)
{
	return cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL);
}

VGPU_EXPORT CUresult cuStreamBeginCapture_ptsz(CUstream s)
{
	return cuStreamBeginCapture_v2(vgpu_ptsz(s),
				       CU_STREAM_CAPTURE_MODE_GLOBAL);
}

VGPU_EXPORT CUresult cuStreamEndCapture(CUstream s, CUgraph *g)
{
	if (!g)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{(uint64_t)(uintptr_t)s}};
	CUresult r = vgpu_cu_rpc(VGPU_CU_CAPTURE_END, &a, true,
				 "cuStreamEndCapture");
	/* an invalidated capture gives a NULL graph */
	if (r == CUDA_SUCCESS || r == CUDA_ERROR_STREAM_CAPTURE_INVALIDATED ||
	    r == CUDA_ERROR_STREAM_CAPTURE_UNJOINED)
		*g = (CUgraph)(uintptr_t)a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuStreamEndCapture_ptsz(CUstream s, CUgraph *g)
{
	return cuStreamEndCapture(vgpu_ptsz(s), g);
}

VGPU_EXPORT CUresult cuStreamIsCapturing(CUstream s,
					 CUstreamCaptureStatus *st)
{
	if (!st)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{(uint64_t)(uintptr_t)s, 0, 1}};
	struct vgpu_cu_ids r;
	CUresult rc = vgpu_cu_call(VGPU_CU_CAPTURE_INFO, &a, sizeof(a), &r,
				   sizeof(r), true, "cuStreamIsCapturing");
	if (!rc)
		*st = (CUstreamCaptureStatus)r.a[0];
	return rc;
}

VGPU_EXPORT CUresult cuStreamIsCapturing_ptsz(CUstream s,
					      CUstreamCaptureStatus *st)
{
	return cuStreamIsCapturing(vgpu_ptsz(s), st);
}

static __thread CUgraphNode *tl_deps;

static CUresult capture_info(CUstream s, CUstreamCaptureStatus *st,
			     cuuint64_t *id, CUgraph *graph,
			     const CUgraphNode **deps, size_t *ndeps)
{
	if (!st)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{(uint64_t)(uintptr_t)s}};
	uint64_t head[4], *ids = NULL;
	size_t n = 0;
	CUresult r = vgpu_graph_ids(VGPU_CU_CAPTURE_INFO, &a, 1, 1, &ids, &n,
				    head, "cuStreamGetCaptureInfo");
	if (r)
		return r;
	*st = (CUstreamCaptureStatus)head[0];
	if (*st == CU_STREAM_CAPTURE_STATUS_ACTIVE) { /* else not valid */
		if (id)
			*id = head[1];
		if (graph)
			*graph = (CUgraph)(uintptr_t)head[2];
		if (ndeps)
			*ndeps = n;
		if (deps) {
			free(tl_deps);
			tl_deps = (CUgraphNode *)ids; /* same width: ids */
			ids = NULL;
			*deps = tl_deps;
		}
	}
	free(ids);
	return CUDA_SUCCESS;
}

#undef cuStreamGetCaptureInfo /* cuda.h maps it to _v3: export each ABI */
VGPU_EXPORT CUresult cuStreamGetCaptureInfo(CUstream s,
					    CUstreamCaptureStatus *st,
					    cuuint64_t *id)
{
	return capture_info(s, st, id, NULL, NULL, NULL);
}

VGPU_EXPORT CUresult cuStreamGetCaptureInfo_ptsz(CUstream s,
						 CUstreamCaptureStatus *st,
						 cuuint64_t *id)
{
	return capture_info(vgpu_ptsz(s), st, id, NULL, NULL, NULL);
}

VGPU_EXPORT CUresult cuStreamGetCaptureInfo_v2(CUstream s,
					       CUstreamCaptureStatus *st,
					       cuuint64_t *id, CUgraph *graph,
					       const CUgraphNode **deps,
					       size_t *ndeps)
{
	return capture_info(s, st, id, graph, deps, ndeps);
}

VGPU_EXPORT CUresult cuStreamGetCaptureInfo_v2_ptsz(
	CUstream s, CUstreamCaptureStatus *st, cuuint64_t *id, CUgraph *graph,
	const CUgraphNode **deps, size_t *ndeps)
{
	return capture_info(vgpu_ptsz(s), st, id, graph, deps, ndeps);
}

VGPU_EXPORT CUresult cuStreamGetCaptureInfo_v3(
	CUstream s, CUstreamCaptureStatus *st, cuuint64_t *id, CUgraph *graph,
	const CUgraphNode **deps, const CUgraphEdgeData **edges,
	size_t *ndeps)
{
	CUresult r = capture_info(s, st, id, graph, deps, ndeps);
	if (!r && edges && *st == CU_STREAM_CAPTURE_STATUS_ACTIVE)
		*edges = NULL;
	return r;
}

VGPU_EXPORT CUresult cuStreamGetCaptureInfo_v3_ptsz(
	CUstream s, CUstreamCaptureStatus *st, cuuint64_t *id, CUgraph *graph,
	const CUgraphNode **deps, const CUgraphEdgeData **edges,
	size_t *ndeps)
{
	return cuStreamGetCaptureInfo_v3(vgpu_ptsz(s), st, id, graph, deps,
					 edges, ndeps);
}

VGPU_EXPORT CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode *m)
{
	if (!m)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{(uint64_t)*m}};
	CUresult r = vgpu_cu_rpc(VGPU_CU_CAPTURE_MODE, &a, true,
				 "cuThreadExchangeStreamCaptureMode");
	if (!r)
		*m = (CUstreamCaptureMode)a.a[0];
	return r;
}
