/* guest/cuda/stream_ptsz.c - the per-thread-default-stream (_ptsz)
 * variants of this area's stream calls.
 *
 * Contract: a program built with --default-stream per-thread (or asking
 * cuGetProcAddress for CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)
 * calls these; the only difference from the plain call is that stream 0
 * means CU_STREAM_PER_THREAD. The worker runs each guest thread's calls on
 * its own executor thread, so the driver's per-thread stream is that guest
 * thread's, as natively; CU_STREAM_LEGACY stays the legacy stream.
 */
#include "rpc.h"

static CUstream pt(CUstream s)
{
	return s ? s : CU_STREAM_PER_THREAD;
}

#undef cuStreamWaitValue32
#undef cuStreamWaitValue64
#undef cuStreamWriteValue32
#undef cuStreamWriteValue64
#undef cuStreamBatchMemOp

VGPU_EXPORT CUresult cuStreamSynchronize_ptsz(CUstream s)
{
	return cuStreamSynchronize(pt(s));
}

VGPU_EXPORT CUresult cuStreamQuery_ptsz(CUstream s)
{
	return cuStreamQuery(pt(s));
}

VGPU_EXPORT CUresult cuStreamWaitEvent_ptsz(CUstream s, CUevent e,
					    unsigned int flags)
{
	return cuStreamWaitEvent(pt(s), e, flags);
}

VGPU_EXPORT CUresult cuEventRecord_ptsz(CUevent e, CUstream s)
{
	return cuEventRecord(e, pt(s));
}

VGPU_EXPORT CUresult cuEventRecordWithFlags_ptsz(CUevent e, CUstream s,
						 unsigned int flags)
{
	return cuEventRecordWithFlags(e, pt(s), flags);
}

VGPU_EXPORT CUresult cuStreamGetPriority_ptsz(CUstream s, int *priority)
{
	return cuStreamGetPriority(pt(s), priority);
}

VGPU_EXPORT CUresult cuStreamGetFlags_ptsz(CUstream s, unsigned int *flags)
{
	return cuStreamGetFlags(pt(s), flags);
}

VGPU_EXPORT CUresult cuStreamGetId_ptsz(CUstream s, unsigned long long *id)
{
	return cuStreamGetId(pt(s), id);
}

VGPU_EXPORT CUresult cuStreamGetCtx_ptsz(CUstream s, CUcontext *pctx)
{
	return cuStreamGetCtx(pt(s), pctx);
}

VGPU_EXPORT CUresult cuStreamGetCtx_v2_ptsz(CUstream s, CUcontext *pctx,
					    CUgreenCtx *pgreen)
{
	return cuStreamGetCtx_v2(pt(s), pctx, pgreen);
}

VGPU_EXPORT CUresult cuStreamGetDevice_ptsz(CUstream s, CUdevice *dev)
{
	return cuStreamGetDevice(pt(s), dev);
}

VGPU_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned gx,
					 unsigned gy, unsigned gz, unsigned bx,
					 unsigned by, unsigned bz,
					 unsigned shared, CUstream s,
					 void **params, void **extra)
{
	return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, pt(s), params,
			      extra);
}

VGPU_EXPORT CUresult cuLaunchHostFunc_ptsz(CUstream s, CUhostFn fn,
					   void *data)
{
	return cuLaunchHostFunc(pt(s), fn, data);
}

VGPU_EXPORT CUresult cuStreamAddCallback_ptsz(CUstream s, CUstreamCallback cb,
					      void *data, unsigned int flags)
{
	return cuStreamAddCallback(pt(s), cb, data, flags);
}

VGPU_EXPORT CUresult cuStreamWaitValue32_ptsz(CUstream s, CUdeviceptr a,
					      cuuint32_t v, unsigned int flags)
{
	return cuStreamWaitValue32_v2(pt(s), a, v, flags);
}

VGPU_EXPORT CUresult cuStreamWaitValue32_v2_ptsz(CUstream s, CUdeviceptr a,
						 cuuint32_t v,
						 unsigned int flags)
{
	return cuStreamWaitValue32_v2(pt(s), a, v, flags);
}

VGPU_EXPORT CUresult cuStreamWaitValue64_ptsz(CUstream s, CUdeviceptr a,
					      cuuint64_t v, unsigned int flags)
{
	return cuStreamWaitValue64_v2(pt(s), a, v, flags);
}

VGPU_EXPORT CUresult cuStreamWaitValue64_v2_ptsz(CUstream s, CUdeviceptr a,
						 cuuint64_t v,
						 unsigned int flags)
{
	return cuStreamWaitValue64_v2(pt(s), a, v, flags);
}

VGPU_EXPORT CUresult cuStreamWriteValue32_ptsz(CUstream s, CUdeviceptr a,
					       cuuint32_t v, unsigned int flags)
{
	return cuStreamWriteValue32_v2(pt(s), a, v, flags);
}

VGPU_EXPORT CUresult cuStreamWriteValue32_v2_ptsz(CUstream s, CUdeviceptr a,
						  cuuint32_t v,
						  unsigned int flags)
{
	return cuStreamWriteValue32_v2(pt(s), a, v, flags);
}

VGPU_EXPORT CUresult cuStreamWriteValue64_ptsz(CUstream s, CUdeviceptr a,
					       cuuint64_t v, unsigned int flags)
{
	return cuStreamWriteValue64_v2(pt(s), a, v, flags);
}

VGPU_EXPORT CUresult cuStreamWriteValue64_v2_ptsz(CUstream s, CUdeviceptr a,
						  cuuint64_t v,
						  unsigned int flags)
{
	return cuStreamWriteValue64_v2(pt(s), a, v, flags);
}

VGPU_EXPORT CUresult cuStreamBatchMemOp_ptsz(CUstream s, unsigned int count,
					     CUstreamBatchMemOpParams *ops,
					     unsigned int flags)
{
	return cuStreamBatchMemOp_v2(pt(s), count, ops, flags);
}

VGPU_EXPORT CUresult cuStreamBatchMemOp_v2_ptsz(CUstream s, unsigned int count,
						CUstreamBatchMemOpParams *ops,
						unsigned int flags)
{
	return cuStreamBatchMemOp_v2(pt(s), count, ops, flags);
}

VGPU_EXPORT CUresult cuStreamGetAttribute_ptsz(CUstream s, CUstreamAttrID id,
					       CUstreamAttrValue *v)
{
	return cuStreamGetAttribute(pt(s), id, v);
}

VGPU_EXPORT CUresult cuStreamSetAttribute_ptsz(CUstream s, CUstreamAttrID id,
					       const CUstreamAttrValue *v)
{
	return cuStreamSetAttribute(pt(s), id, v);
}

VGPU_EXPORT CUresult cuStreamCopyAttributes_ptsz(CUstream dst, CUstream src)
{
	return cuStreamCopyAttributes(pt(dst), pt(src));
}
