/* guest/cuda/graph.h - what the guest driver's capture and graph files
 * (guest/cuda/graph_*.c) share.
 *
 * Graphs, nodes and executables are the daemon's ids, handed to the
 * program as the opaque CUgraph / CUgraphNode / CUgraphExec values. Kernel
 * node parameters travel packed by the function's cached layout, as
 * cuLaunchKernel's do; what cuGraphKernelNodeGetParams returns points
 * into storage kept here per node until its graph is destroyed.
 */
#ifndef VGPU_GUEST_CUDA_GRAPH_H
#define VGPU_GUEST_CUDA_GRAPH_H

#include "function.h"

/* _ptsz entry points: the default stream is the per-thread one. */
static inline CUstream vgpu_ptsz(CUstream s)
{
	return s ? s : CU_STREAM_PER_THREAD;
}

/* Every item of a paged list (struct vgpu_cu_ids): calls op with a,
 * a->a[slot] set to the first item wanted, until all total items came;
 * width ids per item. *ids is malloc'd (the caller frees it); head gets
 * the first reply's a[]. */
CUresult vgpu_graph_ids(uint16_t op, struct vgpu_cu_args *a, int slot,
			size_t width, uint64_t **ids, size_t *n,
			uint64_t head[4], const char *name);

/* Storage for a node's parameters as cuGraphKernelNodeGetParams hands
 * them out: bytes per the layout and one pointer per parameter. */
void **vgpu_graph_kparams(uint64_t node, uint64_t graph,
			  const struct vgpu_fn *f, const uint8_t *data,
			  uint32_t len);
/* New parameters for a graph's kernel node (e NULL) or an executable's
 * (guest/cuda/graph_build.c). */
CUresult vgpu_graph_knode_set(CUgraphExec e, CUgraphNode node,
			      const CUDA_KERNEL_NODE_PARAMS *p);
/* The graph is gone: so is its nodes' storage. */
void vgpu_graph_forget(uint64_t graph);

/* Pageable host-to-device copies in graphs (guest/cuda/graph_host.c):
 * capture one the worker refused as a staged copy; learn the count host
 * ranges an executable reads (instantiate, update: 0 forgets them). */
CUresult vgpu_graph_host_capture(CUdeviceptr dst, const void *src, size_t n,
				 uint64_t stream);
CUresult vgpu_graph_host_learn(uint64_t exec, uint64_t count);
CUresult vgpu_gen_cuGraphExecDestroy(CUgraphExec e); /* generated */

#endif
