/* daemon/sim/sim_stream_ops.c - operations a stream runs besides copies and
 * kernels: host functions and stream memory operations.
 *
 * Contract: cuLaunchHostFunc and cuStreamAddCallback queue a host call that
 * the stream's worker makes in stream order; later work on that stream
 * waits until it returns, as natively. A callback is called with the
 * context's sticky error as its status (CUDA_SUCCESS if none); host
 * functions run whatever the state. cuStreamWaitValue32/64 block the
 * stream until the condition holds on device memory (GEQ is the wrapping
 * comparison (int32_t)(*addr - value) >= 0, EQ, AND, NOR), polling with a
 * sleep doubling from 10 us to 1 ms; cuStreamWriteValue32/64 store with
 * release ordering; cuStreamBatchMemOp runs its operations in order as
 * one stream operation. Addresses are checked at the call (inside one
 * allocation, aligned to the value's size: INVALID_VALUE) and again when
 * the operation runs: memory freed meanwhile is a sticky
 * CUDA_ERROR_ILLEGAL_ADDRESS, never a host access. Once the context has a
 * sticky error, memory operations are skipped (waits end); a context
 * reset (the last primary-context release) also ends the waits.
 */
#include "sim.h"
#include <stdlib.h>
#include <string.h>

/* ---- host calls ---------------------------------------------------------- */

static CUresult queue_host(CUstream h, CUhostFn fn, CUstreamCallback cb,
			   void *data)
{
	struct sim_stream *s;
	CUresult rc = sim_stream_resolve(h, &s);
	if (rc)
		return rc;
	struct sim_op *op = sim_op_new(SIM_OP_HOST);
	if (!op) {
		sim_stream_put(s);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	op->u.host.fn = fn;
	op->u.host.cb = cb;
	op->u.host.h = h;
	op->u.host.data = data;
	rc = sim_submit(s, op, NULL);
	sim_stream_put(s);
	return rc;
}

CUresult sim_cuLaunchHostFunc(CUstream h, CUhostFn fn, void *userData)
{
	if (!fn) {
		CUresult rc = sim_check_init();
		return rc ? rc : CUDA_ERROR_INVALID_VALUE;
	}
	return queue_host(h, fn, NULL, userData);
}

CUresult sim_cuStreamAddCallback(CUstream h, CUstreamCallback cb,
				 void *userData, unsigned int flags)
{
	if (!cb || flags) {
		CUresult rc = sim_check_init();
		return rc ? rc : CUDA_ERROR_INVALID_VALUE;
	}
	return queue_host(h, NULL, cb, userData);
}

/* ---- memory operations --------------------------------------------------- */

static bool wait_holds(unsigned flags, uint64_t cur, uint64_t v, bool is64)
{
	if (!is64) {
		cur = (uint32_t)cur;
		v = (uint32_t)v;
	}
	switch (flags & 0xF) {
	case CU_STREAM_WAIT_VALUE_GEQ:
		return is64 ? (int64_t)(cur - v) >= 0
			    : (int32_t)(uint32_t)(cur - v) >= 0;
	case CU_STREAM_WAIT_VALUE_EQ:
		return cur == v;
	case CU_STREAM_WAIT_VALUE_AND:
		return (cur & v) != 0;
	default: /* NOR, checked at the call */
		return is64 ? ~(cur | v) != 0 : (uint32_t)~(cur | v) != 0;
	}
}

/* Read (write == false) or write *addr atomically; false if the memory is
 * gone (a sticky fault is recorded). */
static bool access_value(CUdeviceptr addr, bool is64, bool write,
			 uint64_t *v)
{
	sim_heap_rdlock();
	void *p = sim_heap_map(addr, is64 ? 8 : 4);
	if (p && write && is64)
		__atomic_store_n((uint64_t *)p, *v, __ATOMIC_RELEASE);
	else if (p && write)
		__atomic_store_n((uint32_t *)p, (uint32_t)*v, __ATOMIC_RELEASE);
	else if (p && is64)
		*v = __atomic_load_n((uint64_t *)p, __ATOMIC_ACQUIRE);
	else if (p)
		*v = __atomic_load_n((uint32_t *)p, __ATOMIC_ACQUIRE);
	sim_heap_unlock();
	if (!p)
		sim_fault(CUDA_ERROR_ILLEGAL_ADDRESS);
	return p != NULL;
}

static void wait_value(const CUstreamBatchMemOpParams *o, bool is64)
{
	long ns = 10000;
	for (;;) {
		uint64_t cur = 0;
		/* a context being reset abandons its waits, as the driver's
		 * teardown does: nothing would ever satisfy them */
		if (sim_sticky() || !atomic_load(&sim_ctx.active) ||
		    !access_value(o->waitValue.address, is64, false, &cur))
			return;
		if (wait_holds(o->waitValue.flags, cur, o->waitValue.value64,
			       is64))
			return;
		struct timespec ts = {0, ns};
		nanosleep(&ts, NULL);
		if (ns < 1000000)
			ns *= 2;
	}
}

static void run_memop(const CUstreamBatchMemOpParams *o)
{
	uint64_t v = o->writeValue.value64;
	switch (o->operation) {
	case CU_STREAM_MEM_OP_WAIT_VALUE_32:
		wait_value(o, false);
		break;
	case CU_STREAM_MEM_OP_WAIT_VALUE_64:
		wait_value(o, true);
		break;
	case CU_STREAM_MEM_OP_WRITE_VALUE_32:
		access_value(o->writeValue.address, false, true, &v);
		break;
	case CU_STREAM_MEM_OP_WRITE_VALUE_64:
		access_value(o->writeValue.address, true, true, &v);
		break;
	default: /* barriers, flushes: operations run one at a time anyway */
		break;
	}
}

void sim_stream_op_exec(struct sim_op *op, CUresult err)
{
	if (op->kind == SIM_OP_HOST) {
		if (op->u.host.fn)
			op->u.host.fn(op->u.host.data);
		else
			op->u.host.cb(op->u.host.h, err, op->u.host.data);
		return;
	}
	for (unsigned i = 0; i < op->u.memop.n && !sim_sticky(); i++)
		run_memop(&op->u.memop.ops[i]);
}

void sim_stream_op_free(struct sim_op *op)
{
	free(op->u.memop.ops);
}

/* One operation as the API states it: INVALID_VALUE for unknown
 * operations or flags, and addresses not aligned or not allocated. */
static CUresult check_memop(const CUstreamBatchMemOpParams *o)
{
	bool is64 = false;
	switch (o->operation) {
	case CU_STREAM_MEM_OP_WAIT_VALUE_64:
		is64 = true;
		/* fall through */
	case CU_STREAM_MEM_OP_WAIT_VALUE_32:
		if ((o->waitValue.flags & ~(unsigned)CU_STREAM_WAIT_VALUE_FLUSH) >
		    CU_STREAM_WAIT_VALUE_NOR)
			return CUDA_ERROR_INVALID_VALUE;
		break;
	case CU_STREAM_MEM_OP_WRITE_VALUE_64:
		is64 = true;
		/* fall through */
	case CU_STREAM_MEM_OP_WRITE_VALUE_32:
		if (o->writeValue.flags &
		    ~(unsigned)CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER)
			return CUDA_ERROR_INVALID_VALUE;
		break;
	case CU_STREAM_MEM_OP_FLUSH_REMOTE_WRITES:
		return CUDA_SUCCESS;
	case CU_STREAM_MEM_OP_BARRIER:
		return o->memoryBarrier.flags <= CU_STREAM_MEMORY_BARRIER_TYPE_GPU
			       ? CUDA_SUCCESS
			       : CUDA_ERROR_INVALID_VALUE;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
	/* waitValue.address and writeValue.address share their offset */
	CUdeviceptr a = o->waitValue.address;
	if (a % (is64 ? 8 : 4))
		return CUDA_ERROR_INVALID_VALUE;
	return sim_heap_check(a, is64 ? 8 : 4);
}

CUresult sim_cuStreamBatchMemOp_v2(CUstream h, unsigned int count,
				   CUstreamBatchMemOpParams *ops,
				   unsigned int flags)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	/* the driver caps a batch at 256 operations */
	if (!ops || !count || count > 256 || flags)
		return CUDA_ERROR_INVALID_VALUE;
	for (unsigned i = 0; i < count; i++)
		if ((rc = check_memop(&ops[i])))
			return rc;
	struct sim_stream *s;
	if ((rc = sim_stream_resolve(h, &s)))
		return rc;
	struct sim_op *op = sim_op_new(SIM_OP_MEMOP);
	CUstreamBatchMemOpParams *copy = malloc(count * sizeof(*copy));
	if (!op || !copy) {
		free(op);
		free(copy);
		sim_stream_put(s);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	memcpy(copy, ops, count * sizeof(*copy));
	op->u.memop.ops = copy;
	op->u.memop.n = count;
	rc = sim_submit(s, op, NULL); /* frees op on failure */
	sim_stream_put(s);
	return rc;
}

static CUresult one(CUstream h, CUstreamBatchMemOpType t, CUdeviceptr addr,
		    uint64_t value, unsigned int flags)
{
	CUstreamBatchMemOpParams o;
	memset(&o, 0, sizeof(o));
	o.operation = t;
	if (t == CU_STREAM_MEM_OP_WAIT_VALUE_32 ||
	    t == CU_STREAM_MEM_OP_WAIT_VALUE_64) {
		o.waitValue.address = addr;
		o.waitValue.value64 = value;
		o.waitValue.flags = flags;
	} else {
		o.writeValue.address = addr;
		o.writeValue.value64 = value;
		o.writeValue.flags = flags;
	}
	return sim_cuStreamBatchMemOp_v2(h, 1, &o, 0);
}

CUresult sim_cuStreamWaitValue32_v2(CUstream h, CUdeviceptr addr,
				    cuuint32_t value, unsigned int flags)
{
	return one(h, CU_STREAM_MEM_OP_WAIT_VALUE_32, addr, value, flags);
}

CUresult sim_cuStreamWriteValue32_v2(CUstream h, CUdeviceptr addr,
				     cuuint32_t value, unsigned int flags)
{
	return one(h, CU_STREAM_MEM_OP_WRITE_VALUE_32, addr, value, flags);
}

CUresult sim_cuStreamWaitValue64_v2(CUstream h, CUdeviceptr addr,
				    cuuint64_t value, unsigned int flags)
{
	return one(h, CU_STREAM_MEM_OP_WAIT_VALUE_64, addr, value, flags);
}

CUresult sim_cuStreamWriteValue64_v2(CUstream h, CUdeviceptr addr,
				     cuuint64_t value, unsigned int flags)
{
	return one(h, CU_STREAM_MEM_OP_WRITE_VALUE_64, addr, value, flags);
}
