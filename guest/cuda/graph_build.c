/* guest/cuda/graph_build.c - graphs built by hand and read back: nodes,
 * edges, node types, kernel node parameters.
 *
 * Kernel nodes are marshalled as cuLaunchKernel marshals a launch (the
 * function's cached layout, kernelParams or extra form) and checked the
 * same way. Memcpy nodes copy device to device only (unified addresses
 * must lie in the caller's allocations): a host pointer in a graph would
 * be replayed by the worker from its own address space, where the
 * guest's memory is not (CUDA_ERROR_NOT_SUPPORTED, logged once).
 * Dependencies beyond what one message carries are added as edges right
 * after the node, which is the same graph. Host nodes are not here: the
 * generated stub answers CUDA_ERROR_NOT_SUPPORTED until host callbacks
 * run in the guest.
 */
#include "callbacks.h"
#include "graph.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t msg_max(void)
{
	return vgpu_inline_max(&vgpu_cu.conn.t.r);
}

/* AddDependencies in chunks that fit a message. */
static CUresult add_edges(CUgraph g, const CUgraphNode *from,
			  const CUgraphNode *to, size_t n)
{
	size_t per = (msg_max() - 16) / 16;
	uint64_t *buf = malloc(16 + 16 * (n < per ? n : per));
	CUresult r = buf ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
	for (size_t done = 0; !r && (done < n || !n); done += per) {
		size_t k = n - done < per ? n - done : per;
		buf[0] = (uint64_t)(uintptr_t)g;
		buf[1] = k;
		for (size_t i = 0; i < k; i++) {
			buf[2 + i] = (uint64_t)(uintptr_t)from[done + i];
			buf[2 + k + i] = (uint64_t)(uintptr_t)to[done + i];
		}
		r = vgpu_cu_call(VGPU_CU_GRAPH_ADD_DEPS, buf,
				 (uint32_t)(16 + 16 * k), NULL, 0, true,
				 "cuGraphAddDependencies");
		if (!n)
			break;
	}
	free(buf);
	return r;
}

/* Send node n (its graph, type and parameters set) after deps; extra
 * bytes (kernel arguments) follow the dependencies. */
static CUresult add_node(CUgraphNode *out, struct vgpu_cu_gnode *n,
			 const CUgraphNode *deps, size_t ndeps,
			 const void *extra, uint32_t elen)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!out || (ndeps && !deps))
		return CUDA_ERROR_INVALID_VALUE;
	uint32_t max = msg_max();
	if (sizeof(*n) + elen > max)
		return CUDA_ERROR_NOT_SUPPORTED;
	size_t fit = (max - sizeof(*n) - elen) / 8;
	size_t first = ndeps < fit ? ndeps : fit;
	uint8_t *msg = malloc(max);
	if (!msg)
		return CUDA_ERROR_OUT_OF_MEMORY;
	n->ndeps = (uint32_t)first;
	memcpy(msg, n, sizeof(*n));
	for (size_t i = 0; i < first; i++) {
		uint64_t id = (uint64_t)(uintptr_t)deps[i];
		memcpy(msg + sizeof(*n) + 8 * i, &id, 8);
	}
	uint32_t len = (uint32_t)(sizeof(*n) + 8 * first);
	if (elen)
		memcpy(msg + len, extra, elen);
	struct vgpu_cu_args a = {{0}};
	r = vgpu_cu_call(VGPU_CU_GRAPH_ADD_NODE, msg, len + elen, &a,
			 sizeof(a), true, "cuGraphAddNode");
	free(msg);
	if (r)
		return r;
	*out = (CUgraphNode)(uintptr_t)a.a[0];
	if (ndeps > first) {
		size_t rest = ndeps - first;
		CUgraphNode *to = malloc(rest * sizeof(*to));
		if (!to)
			return CUDA_ERROR_OUT_OF_MEMORY;
		for (size_t i = 0; i < rest; i++)
			to[i] = *out;
		r = add_edges((CUgraph)(uintptr_t)n->graph, deps + first, to,
			      rest);
		free(to);
	}
	return r;
}

static struct vgpu_cu_gnode gnode(CUgraph g, CUgraphNodeType t)
{
	return (struct vgpu_cu_gnode){.graph = (uint64_t)(uintptr_t)g,
				      .type = (uint32_t)t};
}

/* Kernel parameters in v2 form (v1 is its prefix), packed into buf. */
static CUresult pack_kernel(const CUDA_KERNEL_NODE_PARAMS *p,
			    struct vgpu_cu_gnode *n, uint8_t *buf,
			    uint32_t cap)
{
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	const struct vgpu_fn *f = vgpu_fn_of(p->func);
	if (!p->func)
		return CUDA_ERROR_NOT_SUPPORTED; /* CUkernel: not yet */
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (p->kernelParams && p->extra)
		return CUDA_ERROR_INVALID_VALUE;
	n->u.k.function = f->info.function;
	n->u.k.grid[0] = p->gridDimX;
	n->u.k.grid[1] = p->gridDimY;
	n->u.k.grid[2] = p->gridDimZ;
	n->u.k.block[0] = p->blockDimX;
	n->u.k.block[1] = p->blockDimY;
	n->u.k.block[2] = p->blockDimZ;
	n->u.k.shared_bytes = p->sharedMemBytes;
	return vgpu_launch_pack(f, p->kernelParams, p->extra, buf, cap,
				&n->u.k.param_bytes);
}

static CUresult v2_of(const CUDA_KERNEL_NODE_PARAMS_v1 *p,
		      CUDA_KERNEL_NODE_PARAMS *q)
{
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	*q = (CUDA_KERNEL_NODE_PARAMS){0};
	memcpy(q, p, sizeof(*p)); /* v1 is v2's prefix */
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuGraphAddKernelNode_v2(CUgraphNode *node, CUgraph g,
					     const CUgraphNode *deps,
					     size_t ndeps,
					     const CUDA_KERNEL_NODE_PARAMS *p)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	struct vgpu_cu_gnode n = gnode(g, CU_GRAPH_NODE_TYPE_KERNEL);
	uint32_t cap = msg_max() - (uint32_t)sizeof(n);
	uint8_t *buf = malloc(cap);
	if (!buf)
		return CUDA_ERROR_OUT_OF_MEMORY;
	r = pack_kernel(p, &n, buf, cap);
	if (!r)
		r = add_node(node, &n, deps, ndeps, buf, n.u.k.param_bytes);
	free(buf);
	return r;
}

#undef cuGraphAddKernelNode
VGPU_EXPORT CUresult cuGraphAddKernelNode(CUgraphNode *node, CUgraph g,
					  const CUgraphNode *deps,
					  size_t ndeps,
					  const CUDA_KERNEL_NODE_PARAMS_v1 *p)
{
	CUDA_KERNEL_NODE_PARAMS q;
	CUresult r = v2_of(p, &q);
	return r ? r : cuGraphAddKernelNode_v2(node, g, deps, ndeps, &q);
}

static CUresult host_memcpy(void)
{
	static _Atomic int told;
	if (!atomic_exchange(&told, 1))
		fprintf(stderr, "vgpu: cuGraphAddMemcpyNode: only device to "
			"device copies in graphs (CUDA_ERROR_NOT_SUPPORTED)\n");
	return CUDA_ERROR_NOT_SUPPORTED;
}

/* A unified address (cudart's cudaMemcpyDefault) is taken as a device
 * one: the worker accepts it only inside the caller's allocations. */
static bool device_side(CUmemorytype t)
{
	return t == CU_MEMORYTYPE_DEVICE || t == CU_MEMORYTYPE_UNIFIED;
}

VGPU_EXPORT CUresult cuGraphAddMemcpyNode(CUgraphNode *node, CUgraph g,
					  const CUgraphNode *deps,
					  size_t ndeps, const CUDA_MEMCPY3D *p,
					  CUcontext ctx)
{
	(void)ctx; /* the worker's one context */
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	if (!device_side(p->srcMemoryType) || !device_side(p->dstMemoryType) ||
	    p->srcLOD || p->dstLOD)
		return host_memcpy();
	struct vgpu_cu_gnode n = gnode(g, CU_GRAPH_NODE_TYPE_MEMCPY);
	n.u.cp.src = p->srcDevice;
	n.u.cp.src_x = p->srcXInBytes;
	n.u.cp.src_y = p->srcY;
	n.u.cp.src_z = p->srcZ;
	n.u.cp.src_pitch = p->srcPitch;
	n.u.cp.src_height = p->srcHeight;
	n.u.cp.dst = p->dstDevice;
	n.u.cp.dst_x = p->dstXInBytes;
	n.u.cp.dst_y = p->dstY;
	n.u.cp.dst_z = p->dstZ;
	n.u.cp.dst_pitch = p->dstPitch;
	n.u.cp.dst_height = p->dstHeight;
	n.u.cp.width = p->WidthInBytes;
	n.u.cp.height = p->Height;
	n.u.cp.depth = p->Depth;
	return add_node(node, &n, deps, ndeps, NULL, 0);
}

VGPU_EXPORT CUresult cuGraphAddMemsetNode(CUgraphNode *node, CUgraph g,
					  const CUgraphNode *deps,
					  size_t ndeps,
					  const CUDA_MEMSET_NODE_PARAMS *p,
					  CUcontext ctx)
{
	(void)ctx;
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_gnode n = gnode(g, CU_GRAPH_NODE_TYPE_MEMSET);
	n.u.set.dst = p->dst;
	n.u.set.pitch = p->pitch;
	n.u.set.width = p->width;
	n.u.set.height = p->height;
	n.u.set.value = p->value;
	n.u.set.elem = p->elementSize;
	return add_node(node, &n, deps, ndeps, NULL, 0);
}

VGPU_EXPORT CUresult cuGraphAddEventRecordNode(CUgraphNode *node, CUgraph g,
					       const CUgraphNode *deps,
					       size_t ndeps, CUevent e)
{
	struct vgpu_cu_gnode n = gnode(g, CU_GRAPH_NODE_TYPE_EVENT_RECORD);
	n.u.event = (uint64_t)(uintptr_t)e;
	return add_node(node, &n, deps, ndeps, NULL, 0);
}

VGPU_EXPORT CUresult cuGraphAddEventWaitNode(CUgraphNode *node, CUgraph g,
					     const CUgraphNode *deps,
					     size_t ndeps, CUevent e)
{
	struct vgpu_cu_gnode n = gnode(g, CU_GRAPH_NODE_TYPE_WAIT_EVENT);
	n.u.event = (uint64_t)(uintptr_t)e;
	return add_node(node, &n, deps, ndeps, NULL, 0);
}

/* A host node: (fn, userData) stays registered under its token for the
 * process's life (the node, its execs and their copies may all replay
 * it); the worker's host node posts the token at each launch. */
static void run_host_node(void *arg, CUresult status)
{
	const CUDA_HOST_NODE_PARAMS *p = arg;
	(void)status;
	p->fn(p->userData);
}

VGPU_EXPORT CUresult cuGraphAddHostNode(CUgraphNode *node, CUgraph g,
					const CUgraphNode *deps, size_t ndeps,
					const CUDA_HOST_NODE_PARAMS *p)
{
	if (!p || !p->fn)
		return CUDA_ERROR_INVALID_VALUE;
	CUDA_HOST_NODE_PARAMS *copy = malloc(sizeof(*copy));
	uint64_t token = 0;
	if (!copy)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*copy = *p;
	CUresult r = vgpu_cb_register(run_host_node, copy, false, &token);
	if (r) {
		free(copy);
		return r;
	}
	struct vgpu_cu_gnode n = gnode(g, CU_GRAPH_NODE_TYPE_HOST);
	n.u.event = token;
	if ((r = add_node(node, &n, deps, ndeps, NULL, 0))) {
		vgpu_cb_forget(token);
		free(copy);
	}
	return r;
}

VGPU_EXPORT CUresult cuGraphAddEmptyNode(CUgraphNode *node, CUgraph g,
					 const CUgraphNode *deps,
					 size_t ndeps)
{
	struct vgpu_cu_gnode n = gnode(g, CU_GRAPH_NODE_TYPE_EMPTY);
	return add_node(node, &n, deps, ndeps, NULL, 0);
}

#undef cuGraphAddDependencies
VGPU_EXPORT CUresult cuGraphAddDependencies(CUgraph g,
					    const CUgraphNode *from,
					    const CUgraphNode *to, size_t n)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (n && (!from || !to))
		return CUDA_ERROR_INVALID_VALUE;
	return add_edges(g, from, to, n);
}

static bool default_edges(const CUgraphEdgeData *e, size_t n)
{
	static const CUgraphEdgeData zero;
	for (size_t i = 0; e && i < n; i++)
		if (memcmp(&e[i], &zero, sizeof(zero)))
			return false;
	return true;
}

VGPU_EXPORT CUresult cuGraphAddDependencies_v2(CUgraph g,
					       const CUgraphNode *from,
					       const CUgraphNode *to,
					       const CUgraphEdgeData *edges,
					       size_t n)
{
	if (!default_edges(edges, n))
		return CUDA_ERROR_NOT_SUPPORTED; /* programmatic edges */
	return cuGraphAddDependencies(g, from, to, n);
}

/* Nodes, roots, edges (width 2) of graph g, or a node's neighbours (g is
 * then the node), per the driver's array convention. */
static CUresult list(void *g, uint64_t what, CUgraphNode *a,
		     CUgraphNode *b, size_t *count, const char *name)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	size_t w = what == VGPU_GL_EDGES ? 2 : 1, n;
	struct vgpu_cu_args q = {{(uint64_t)(uintptr_t)g, what}};
	uint64_t head[4], *ids;
	if ((r = vgpu_graph_ids(VGPU_CU_GRAPH_LIST, &q, 2, w, &ids, &n, head,
				name)))
		return r;
	if (a) {
		for (size_t i = 0; i < *count; i++) {
			a[i] = i < n ? (CUgraphNode)(uintptr_t)ids[w * i] : NULL;
			if (b)
				b[i] = i < n ? (CUgraphNode)(uintptr_t)ids[w * i + 1]
					     : NULL;
		}
		*count = n < *count ? n : *count;
	} else {
		*count = n;
	}
	free(ids);
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuGraphGetNodes(CUgraph g, CUgraphNode *nodes,
				     size_t *n)
{
	return list(g, VGPU_GL_NODES, nodes, NULL, n, "cuGraphGetNodes");
}

VGPU_EXPORT CUresult cuGraphGetRootNodes(CUgraph g, CUgraphNode *nodes,
					 size_t *n)
{
	return list(g, VGPU_GL_ROOTS, nodes, NULL, n, "cuGraphGetRootNodes");
}

#undef cuGraphGetEdges
VGPU_EXPORT CUresult cuGraphGetEdges(CUgraph g, CUgraphNode *from,
				     CUgraphNode *to, size_t *n)
{
	if (!from != !to)
		return CUDA_ERROR_INVALID_VALUE;
	return list(g, VGPU_GL_EDGES, from, to, n, "cuGraphGetEdges");
}

VGPU_EXPORT CUresult cuGraphGetEdges_v2(CUgraph g, CUgraphNode *from,
					CUgraphNode *to,
					CUgraphEdgeData *edges, size_t *n)
{
	CUresult r = cuGraphGetEdges(g, from, to, n);
	if (!r && edges && from) /* all edges here are default ones */
		memset(edges, 0, *n * sizeof(*edges));
	return r;
}

static CUresult neighbours(CUgraphNode node, uint64_t what, CUgraphNode *v,
			   CUgraphEdgeData *edges, size_t *n, const char *name)
{
	CUresult r = list(node, what, v, NULL, n, name);
	if (!r && edges && v) /* all edges here are default ones */
		memset(edges, 0, *n * sizeof(*edges));
	return r;
}

#undef cuGraphNodeGetDependencies
VGPU_EXPORT CUresult cuGraphNodeGetDependencies(CUgraphNode node,
						CUgraphNode *deps, size_t *n)
{
	return neighbours(node, VGPU_GL_DEPS, deps, NULL, n,
			  "cuGraphNodeGetDependencies");
}

VGPU_EXPORT CUresult cuGraphNodeGetDependencies_v2(CUgraphNode node,
						   CUgraphNode *deps,
						   CUgraphEdgeData *edges,
						   size_t *n)
{
	return neighbours(node, VGPU_GL_DEPS, deps, edges, n,
			  "cuGraphNodeGetDependencies");
}

#undef cuGraphNodeGetDependentNodes
VGPU_EXPORT CUresult cuGraphNodeGetDependentNodes(CUgraphNode node,
						  CUgraphNode *deps,
						  size_t *n)
{
	return neighbours(node, VGPU_GL_DEPENDENTS, deps, NULL, n,
			  "cuGraphNodeGetDependentNodes");
}

VGPU_EXPORT CUresult cuGraphNodeGetDependentNodes_v2(CUgraphNode node,
						     CUgraphNode *deps,
						     CUgraphEdgeData *edges,
						     size_t *n)
{
	return neighbours(node, VGPU_GL_DEPENDENTS, deps, edges, n,
			  "cuGraphNodeGetDependentNodes");
}

VGPU_EXPORT CUresult cuGraphNodeGetType(CUgraphNode node,
					CUgraphNodeType *type)
{
	if (!type)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{(uint64_t)(uintptr_t)node}};
	CUresult r = vgpu_cu_rpc(VGPU_CU_NODE_TYPE, &a, true,
				 "cuGraphNodeGetType");
	if (!r)
		*type = (CUgraphNodeType)a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuGraphKernelNodeGetParams_v2(CUgraphNode node,
						   CUDA_KERNEL_NODE_PARAMS *p)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	uint32_t max = msg_max();
	uint8_t *buf = malloc(max);
	struct vgpu_cu_args a = {{(uint64_t)(uintptr_t)node}};
	struct vgpu_cu_knode k;
	if (!buf)
		return CUDA_ERROR_OUT_OF_MEMORY;
	r = vgpu_cu_call(VGPU_CU_KNODE_GET, &a, sizeof(a), buf, max, true,
			 "cuGraphKernelNodeGetParams");
	if (!r)
		memcpy(&k, buf, sizeof(k));
	const struct vgpu_fn *f = r ? NULL : vgpu_fn_by_id(k.function);
	if (!r && (!f || k.param_bytes > max - sizeof(k) ||
		   k.param_bytes < f->info.param_bytes))
		r = CUDA_ERROR_UNKNOWN;
	void **ptrs = r ? NULL : vgpu_graph_kparams(k.node, k.graph, f,
						    buf + sizeof(k),
						    k.param_bytes);
	if (!r && !ptrs)
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (!r)
		*p = (CUDA_KERNEL_NODE_PARAMS){
			.func = (CUfunction)f, .gridDimX = k.grid[0],
			.gridDimY = k.grid[1], .gridDimZ = k.grid[2],
			.blockDimX = k.block[0], .blockDimY = k.block[1],
			.blockDimZ = k.block[2],
			.sharedMemBytes = k.shared_bytes, .kernelParams = ptrs};
	free(buf);
	return r;
}

#undef cuGraphKernelNodeGetParams
VGPU_EXPORT CUresult cuGraphKernelNodeGetParams(CUgraphNode node,
						CUDA_KERNEL_NODE_PARAMS_v1 *p)
{
	CUDA_KERNEL_NODE_PARAMS q;
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = cuGraphKernelNodeGetParams_v2(node, &q);
	if (!r)
		memcpy(p, &q, sizeof(*p));
	return r;
}

CUresult vgpu_graph_knode_set(CUgraphExec e, CUgraphNode node,
			      const CUDA_KERNEL_NODE_PARAMS *p)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	struct vgpu_cu_gnode n = {0};
	uint32_t max = msg_max();
	struct vgpu_cu_knode k = {.exec = (uint64_t)(uintptr_t)e,
				  .node = (uint64_t)(uintptr_t)node};
	uint8_t *buf = malloc(max);
	if (!buf)
		return CUDA_ERROR_OUT_OF_MEMORY;
	r = pack_kernel(p, &n, buf + sizeof(k), max - (uint32_t)sizeof(k));
	if (!r) {
		k.function = n.u.k.function;
		memcpy(k.grid, n.u.k.grid, sizeof(k.grid));
		memcpy(k.block, n.u.k.block, sizeof(k.block));
		k.shared_bytes = n.u.k.shared_bytes;
		k.param_bytes = n.u.k.param_bytes;
		memcpy(buf, &k, sizeof(k));
		r = vgpu_cu_call(VGPU_CU_KNODE_SET, buf,
				 (uint32_t)sizeof(k) + k.param_bytes, NULL, 0,
				 true, "cuGraphKernelNodeSetParams");
	}
	free(buf);
	return r;
}

VGPU_EXPORT CUresult cuGraphKernelNodeSetParams_v2(
	CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS *p)
{
	return vgpu_graph_knode_set(NULL, node, p);
}

#undef cuGraphKernelNodeSetParams
VGPU_EXPORT CUresult cuGraphKernelNodeSetParams(
	CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS_v1 *p)
{
	CUDA_KERNEL_NODE_PARAMS q;
	CUresult r = v2_of(p, &q);
	return r ? r : vgpu_graph_knode_set(NULL, node, &q);
}

VGPU_EXPORT CUresult cuGraphDestroy(CUgraph g)
{
	struct vgpu_cu_args a = {{(uint64_t)(uintptr_t)g}};
	CUresult r = vgpu_cu_rpc(VGPU_CU_GRAPH_DESTROY, &a, true,
				 "cuGraphDestroy");
	vgpu_graph_forget((uint64_t)(uintptr_t)g);
	return r;
}
