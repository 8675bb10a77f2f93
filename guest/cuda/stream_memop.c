/* guest/cuda/stream_memop.c - stream memory operations: the v1 entry
 * points and cuStreamBatchMemOp (the single _v2 waits and writes are
 * generated from ring/cuda.api).
 *
 * Contract: all are asynchronous, as the driver's are: sent without a
 * round trip, a bad address or flag surfacing at the next synchronising
 * call. A batch too large for one message slot travels as several
 * consecutive batches on the same stream (the same operations in the same
 * order; a bad operation in a later part leaves the earlier parts queued).
 * The v1 names have the v2 ABI and behaviour (the driver's v1 memops are
 * the same calls under a different enablement switch).
 */
#include "rpc.h"
#include "../../ring/cuda_proto_stream.h"
#include "../../ring/region.h"
#include <string.h>

static void pack(struct vgpu_cu_memop *w, const CUstreamBatchMemOpParams *p)
{
	memset(w, 0, sizeof(*w));
	w->op = (uint32_t)p->operation;
	switch (p->operation) {
	case CU_STREAM_MEM_OP_WAIT_VALUE_32:
	case CU_STREAM_MEM_OP_WAIT_VALUE_64:
		w->addr = p->waitValue.address;
		w->value = p->operation == CU_STREAM_MEM_OP_WAIT_VALUE_32
				   ? p->waitValue.value
				   : p->waitValue.value64;
		w->flags = p->waitValue.flags;
		break;
	case CU_STREAM_MEM_OP_WRITE_VALUE_32:
	case CU_STREAM_MEM_OP_WRITE_VALUE_64:
		w->addr = p->writeValue.address;
		w->value = p->operation == CU_STREAM_MEM_OP_WRITE_VALUE_32
				   ? p->writeValue.value
				   : p->writeValue.value64;
		w->flags = p->writeValue.flags;
		break;
	case CU_STREAM_MEM_OP_FLUSH_REMOTE_WRITES:
		w->flags = p->flushRemoteWrites.flags;
		break;
	case CU_STREAM_MEM_OP_BARRIER:
		w->flags = p->memoryBarrier.flags;
		break;
	default: /* the worker refuses it */
		break;
	}
}

static CUresult batch(CUstream s, unsigned count,
		      CUstreamBatchMemOpParams *ops, unsigned flags)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!ops || !count || count > 256)
		return CUDA_ERROR_INVALID_VALUE;
	uint8_t msg[VGPU_MAX_SLOT_SIZE];
	struct vgpu_cu_memops h = {.stream = (uint64_t)(uintptr_t)s,
				   .flags = flags};
	uint32_t cap = (vgpu_inline_max(&vgpu_cu.conn.t.r) - sizeof(h)) /
		       sizeof(struct vgpu_cu_memop);
	for (unsigned done = 0; done < count && !r; done += h.count) {
		h.count = count - done < cap ? count - done : cap;
		memcpy(msg, &h, sizeof(h));
		for (uint32_t i = 0; i < h.count; i++) {
			struct vgpu_cu_memop w;
			pack(&w, &ops[done + i]);
			memcpy(msg + sizeof(h) + i * sizeof(w), &w, sizeof(w));
		}
		r = vgpu_cu_call(VGPU_CU_BATCH_MEMOP, msg,
				 (uint32_t)(sizeof(h) +
					    h.count * sizeof(struct vgpu_cu_memop)),
				 NULL, 0, false, "cuStreamBatchMemOp");
	}
	return r;
}

VGPU_EXPORT CUresult cuStreamBatchMemOp_v2(CUstream s, unsigned int count,
					   CUstreamBatchMemOpParams *ops,
					   unsigned int flags)
{
	return batch(s, count, ops, flags);
}

#undef cuStreamBatchMemOp
#undef cuStreamWaitValue32
#undef cuStreamWaitValue64
#undef cuStreamWriteValue32
#undef cuStreamWriteValue64

VGPU_EXPORT CUresult cuStreamBatchMemOp(CUstream s, unsigned int count,
					CUstreamBatchMemOpParams *ops,
					unsigned int flags)
{
	return batch(s, count, ops, flags);
}

VGPU_EXPORT CUresult cuStreamWaitValue32(CUstream s, CUdeviceptr addr,
					 cuuint32_t value, unsigned int flags)
{
	return cuStreamWaitValue32_v2(s, addr, value, flags);
}

VGPU_EXPORT CUresult cuStreamWaitValue64(CUstream s, CUdeviceptr addr,
					 cuuint64_t value, unsigned int flags)
{
	return cuStreamWaitValue64_v2(s, addr, value, flags);
}

VGPU_EXPORT CUresult cuStreamWriteValue32(CUstream s, CUdeviceptr addr,
					  cuuint32_t value, unsigned int flags)
{
	return cuStreamWriteValue32_v2(s, addr, value, flags);
}

VGPU_EXPORT CUresult cuStreamWriteValue64(CUstream s, CUdeviceptr addr,
					  cuuint64_t value, unsigned int flags)
{
	return cuStreamWriteValue64_v2(s, addr, value, flags);
}
