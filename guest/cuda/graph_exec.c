/* guest/cuda/graph_exec.c - executable graphs: instantiate (every
 * exported form), update, kernel node parameters of an executable, and
 * the per-thread-stream forms of launch and upload (cuGraphUpload and
 * cuGraphCreate are generated from ring/cuda.api; cuGraphLaunch and
 * cuGraphExecDestroy wrap generated ones in graph_host.c; a launch is
 * sent without a round trip, as cuLaunchKernel, unless the executable
 * reads pageable host memory).
 */
#include "graph.h"
#include <string.h>

static CUresult instantiate(CUgraphExec *e, CUgraph g, uint64_t flags,
			    CUstream upload, bool with_params,
			    struct vgpu_cu_args *out)
{
	if (!e)
		return CUDA_ERROR_INVALID_VALUE;
	*out = (struct vgpu_cu_args){{(uint64_t)(uintptr_t)g, flags,
				      (uint64_t)(uintptr_t)upload,
				      with_params}};
	CUresult r = vgpu_cu_rpc(VGPU_CU_GRAPH_INSTANTIATE, out, true,
				 "cuGraphInstantiate");
	if (!r && out->a[3] &&
	    (r = vgpu_graph_host_learn(out->a[0], out->a[3])))
		vgpu_gen_cuGraphExecDestroy((CUgraphExec)(uintptr_t)out->a[0]);
	if (!r)
		*e = (CUgraphExec)(uintptr_t)out->a[0];
	return r;
}

VGPU_EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec *e, CUgraph g,
						 unsigned long long flags)
{
	struct vgpu_cu_args out;
	return instantiate(e, g, flags, NULL, false, &out);
}

/* The CUDA 10 and 11 forms: an error node and a log, both empty here. */
static CUresult instantiate_old(CUgraphExec *e, CUgraph g,
				CUgraphNode *err, char *log, size_t logsize)
{
	if (err)
		*err = NULL;
	if (log && logsize)
		log[0] = 0;
	return cuGraphInstantiateWithFlags(e, g, 0);
}

#undef cuGraphInstantiate
VGPU_EXPORT CUresult cuGraphInstantiate(CUgraphExec *e, CUgraph g,
					CUgraphNode *err, char *log,
					size_t logsize)
{
	return instantiate_old(e, g, err, log, logsize);
}

VGPU_EXPORT CUresult cuGraphInstantiate_v2(CUgraphExec *e, CUgraph g,
					   CUgraphNode *err, char *log,
					   size_t logsize)
{
	return instantiate_old(e, g, err, log, logsize);
}

static CUresult with_params(CUgraphExec *e, CUgraph g,
			    CUDA_GRAPH_INSTANTIATE_PARAMS *p, bool ptsz)
{
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args out = {{0}};
	CUstream s = ptsz ? vgpu_ptsz(p->hUploadStream) : p->hUploadStream;
	CUresult r = instantiate(e, g, p->flags, s, true, &out);
	p->result_out = (CUgraphInstantiateResult)out.a[1];
	p->hErrNode_out = (CUgraphNode)(uintptr_t)out.a[2];
	return r;
}

VGPU_EXPORT CUresult cuGraphInstantiateWithParams(
	CUgraphExec *e, CUgraph g, CUDA_GRAPH_INSTANTIATE_PARAMS *p)
{
	return with_params(e, g, p, false);
}

VGPU_EXPORT CUresult cuGraphInstantiateWithParams_ptsz(
	CUgraphExec *e, CUgraph g, CUDA_GRAPH_INSTANTIATE_PARAMS *p)
{
	return with_params(e, g, p, true);
}

VGPU_EXPORT CUresult cuGraphExecUpdate_v2(CUgraphExec e, CUgraph g,
					  CUgraphExecUpdateResultInfo *info)
{
	if (!info)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{(uint64_t)(uintptr_t)e,
				  (uint64_t)(uintptr_t)g}};
	uint64_t exec = a.a[0];
	CUresult r = vgpu_cu_rpc(VGPU_CU_EXEC_UPDATE, &a, true,
				 "cuGraphExecUpdate");
	if (!r) /* its copies now read the new graph's host ranges */
		r = vgpu_graph_host_learn(exec, a.a[3]);
	*info = (CUgraphExecUpdateResultInfo){
		.result = (CUgraphExecUpdateResult)a.a[0],
		.errorNode = (CUgraphNode)(uintptr_t)a.a[1],
		.errorFromNode = (CUgraphNode)(uintptr_t)a.a[2]};
	return r;
}

#undef cuGraphExecUpdate
VGPU_EXPORT CUresult cuGraphExecUpdate(CUgraphExec e, CUgraph g,
				       CUgraphNode *err,
				       CUgraphExecUpdateResult *res)
{
	CUgraphExecUpdateResultInfo info;
	if (!err || !res)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = cuGraphExecUpdate_v2(e, g, &info);
	*err = info.errorNode;
	*res = info.result;
	return r;
}

VGPU_EXPORT CUresult cuGraphExecKernelNodeSetParams_v2(
	CUgraphExec e, CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS *p)
{
	if (!e)
		return CUDA_ERROR_INVALID_VALUE;
	return vgpu_graph_knode_set(e, node, p);
}

#undef cuGraphExecKernelNodeSetParams
VGPU_EXPORT CUresult cuGraphExecKernelNodeSetParams(
	CUgraphExec e, CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS_v1 *p)
{
	CUDA_KERNEL_NODE_PARAMS q = {0};
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&q, p, sizeof(*p)); /* v1 is v2's prefix */
	return cuGraphExecKernelNodeSetParams_v2(e, node, &q);
}

VGPU_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec e, CUstream s)
{
	return cuGraphLaunch(e, vgpu_ptsz(s));
}

VGPU_EXPORT CUresult cuGraphUpload_ptsz(CUgraphExec e, CUstream s)
{
	return cuGraphUpload(e, vgpu_ptsz(s));
}
