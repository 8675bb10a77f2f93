/* guest/cuda/graph_node.c - the generic node calls of CUDA 12.2+
 * (cuGraphAddNode, cuGraphNodeSetParams, cuGraphExecNodeSetParams): each
 * node type goes to its own call (guest/cuda/graph_build.c); types vgpu
 * does not build (child graph, memory, semaphores, conditional,
 * batch memory operations) are CUDA_ERROR_NOT_SUPPORTED. Kernel
 * parameters v3 have v2's layout.
 */
#include "graph.h"
#include <string.h>

static CUresult kernel_of(const CUgraphNodeParams *p,
			  CUDA_KERNEL_NODE_PARAMS *k)
{
	_Static_assert(sizeof(p->kernel) == sizeof(*k), "v3 is v2's layout");
	memcpy(k, &p->kernel, sizeof(*k));
	return CUDA_SUCCESS;
}

static CUresult add(CUgraphNode *out, CUgraph g, const CUgraphNode *deps,
		    size_t n, CUgraphNodeParams *p)
{
	CUDA_KERNEL_NODE_PARAMS k;
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	switch (p->type) {
	case CU_GRAPH_NODE_TYPE_KERNEL:
		kernel_of(p, &k);
		return cuGraphAddKernelNode_v2(out, g, deps, n, &k);
	case CU_GRAPH_NODE_TYPE_MEMCPY:
		if (p->memcpy.flags || p->memcpy.reserved)
			return CUDA_ERROR_INVALID_VALUE;
		return cuGraphAddMemcpyNode(out, g, deps, n,
					    &p->memcpy.copyParams,
					    p->memcpy.copyCtx);
	case CU_GRAPH_NODE_TYPE_MEMSET: {
		CUDA_MEMSET_NODE_PARAMS m = {
			.dst = p->memset.dst, .pitch = p->memset.pitch,
			.value = p->memset.value,
			.elementSize = p->memset.elementSize,
			.width = p->memset.width, .height = p->memset.height};
		return cuGraphAddMemsetNode(out, g, deps, n, &m, p->memset.ctx);
	}
	case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
		return cuGraphAddEventRecordNode(out, g, deps, n,
						 p->eventRecord.event);
	case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
		return cuGraphAddEventWaitNode(out, g, deps, n,
					       p->eventWait.event);
	case CU_GRAPH_NODE_TYPE_EMPTY:
		return cuGraphAddEmptyNode(out, g, deps, n);
	case CU_GRAPH_NODE_TYPE_HOST: {
		CUDA_HOST_NODE_PARAMS h = {.fn = p->host.fn,
					   .userData = p->host.userData};
		return cuGraphAddHostNode(out, g, deps, n, &h);
	}
	default:
		return CUDA_ERROR_NOT_SUPPORTED;
	}
}

#undef cuGraphAddNode
VGPU_EXPORT CUresult cuGraphAddNode(CUgraphNode *out, CUgraph g,
				    const CUgraphNode *deps, size_t n,
				    CUgraphNodeParams *p)
{
	return add(out, g, deps, n, p);
}

VGPU_EXPORT CUresult cuGraphAddNode_v2(CUgraphNode *out, CUgraph g,
				       const CUgraphNode *deps,
				       const CUgraphEdgeData *edges, size_t n,
				       CUgraphNodeParams *p)
{
	static const CUgraphEdgeData zero;
	for (size_t i = 0; edges && i < n; i++)
		if (memcmp(&edges[i], &zero, sizeof(zero)))
			return CUDA_ERROR_NOT_SUPPORTED; /* programmatic */
	return add(out, g, deps, n, p);
}

VGPU_EXPORT CUresult cuGraphNodeSetParams(CUgraphNode node,
					  CUgraphNodeParams *p)
{
	CUDA_KERNEL_NODE_PARAMS k;
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	if (p->type != CU_GRAPH_NODE_TYPE_KERNEL)
		return CUDA_ERROR_NOT_SUPPORTED;
	kernel_of(p, &k);
	return vgpu_graph_knode_set(NULL, node, &k);
}

VGPU_EXPORT CUresult cuGraphExecNodeSetParams(CUgraphExec e, CUgraphNode node,
					      CUgraphNodeParams *p)
{
	CUDA_KERNEL_NODE_PARAMS k;
	if (!p || !e)
		return CUDA_ERROR_INVALID_VALUE;
	if (p->type != CU_GRAPH_NODE_TYPE_KERNEL)
		return CUDA_ERROR_NOT_SUPPORTED;
	kernel_of(p, &k);
	return vgpu_graph_knode_set(e, node, &k);
}
