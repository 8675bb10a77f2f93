/* daemon/sim/sim_mem.c - the memory API: allocate, free, info, copies and
 * memsets.
 *
 * Contract: every device range is checked when the call is made (it must
 * lie inside one live allocation: CUDA_ERROR_INVALID_VALUE otherwise, as
 * is a NULL host pointer or a "host" range inside the device address
 * range) and again when the operation runs (an allocation freed in
 * between is an illegal address, sticky, as on hardware). Copies and sets
 * run on streams; the synchronous calls use the legacy stream with the
 * host-side behaviour the CUDA documentation gives for pageable memory:
 * HtoD and DtoH return when the copy is done, DtoD and memset return at
 * once (they are asynchronous with respect to the host natively too).
 * Async copies read and write the host buffer when they run, so a caller
 * that reuses it too early sees it. cuMemFree synchronises the device
 * first, as natively. Zero-length copies and sets do nothing.
 */
#include "sim.h"
#include <string.h>

void sim_mem_exec(struct sim_op *op)
{
	uint8_t *d = NULL;
	const uint8_t *s = NULL;
	size_t n = op->kind == SIM_OP_MEMSET ?
		op->u.set.count * op->u.set.elem : op->u.copy.n;
	sim_heap_rdlock();
	switch (op->kind) {
	case SIM_OP_HTOD:
		d = sim_heap_map(op->u.copy.dst, n);
		s = op->u.copy.hsrc;
		break;
	case SIM_OP_DTOH:
		d = op->u.copy.hdst;
		s = sim_heap_map(op->u.copy.src, n);
		break;
	case SIM_OP_DTOD:
		d = sim_heap_map(op->u.copy.dst, n);
		s = sim_heap_map(op->u.copy.src, n);
		break;
	default:
		d = sim_heap_map(op->u.set.dst, n);
		s = d;
	}
	if (!d || !s)
		sim_fault(CUDA_ERROR_ILLEGAL_ADDRESS);
	else if (op->kind != SIM_OP_MEMSET)
		memmove(d, s, n);
	else if (op->u.set.elem == 1)
		memset(d, (int)op->u.set.val, n);
	else
		for (size_t i = 0; i < op->u.set.count; i++)
			memcpy(d + 4 * i, &op->u.set.val, 4);
	sim_heap_unlock();
}

static CUresult check_host(const void *h, size_t n)
{
	if (!h || sim_heap_is_device_range(h, n))
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

/* Validate, queue on stream hs, and wait if asked. */
static CUresult submit(struct sim_op *op, CUstream hs, bool wait)
{
	struct sim_stream *s;
	uint64_t seq;
	CUresult rc = sim_stream_resolve(hs, &s);
	if (rc) {
		sim_op_free(op);
		return rc;
	}
	rc = sim_submit(s, op, &seq);
	if (!rc && wait)
		sim_stream_wait(s, seq);
	sim_stream_put(s);
	return rc ? rc : sim_sticky();
}

static CUresult copy(enum sim_op_kind k, CUdeviceptr dst, void *hdst,
		     CUdeviceptr src, const void *hsrc, size_t n, CUstream hs,
		     bool wait)
{
	CUresult rc = sim_enter();
	if (rc || n == 0)
		return rc;
	if ((k == SIM_OP_HTOD && (rc = check_host(hsrc, n))) ||
	    (k == SIM_OP_DTOH && (rc = check_host(hdst, n))) ||
	    (k != SIM_OP_DTOH && (rc = sim_heap_check(dst, n))) ||
	    (k != SIM_OP_HTOD && (rc = sim_heap_check(src, n))))
		return rc;
	struct sim_op *op = sim_op_new(k);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	op->u.copy.dst = dst;
	op->u.copy.hdst = hdst;
	op->u.copy.src = src;
	op->u.copy.hsrc = hsrc;
	op->u.copy.n = n;
	return submit(op, hs, wait);
}

static CUresult set(CUdeviceptr dst, uint32_t val, unsigned elem, size_t count,
		    CUstream hs)
{
	CUresult rc = sim_enter();
	if (rc || count == 0)
		return rc;
	if (count > SIZE_MAX / elem || (dst % elem) ||
	    (rc = sim_heap_check(dst, count * elem)))
		return rc ? rc : CUDA_ERROR_INVALID_VALUE;
	struct sim_op *op = sim_op_new(SIM_OP_MEMSET);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	op->u.set.dst = dst;
	op->u.set.val = val;
	op->u.set.elem = elem;
	op->u.set.count = count;
	return submit(op, hs, false);
}

CUresult sim_cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!free_bytes || !total)
		return CUDA_ERROR_INVALID_VALUE;
	sim_heap_info(free_bytes, total);
	return CUDA_SUCCESS;
}

CUresult sim_cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = sim_capture_unsafe()))
		return rc;
	return sim_heap_alloc(bytesize, NULL, dptr);
}

CUresult sim_cuMemFree_v2(CUdeviceptr dptr)
{
	CUresult rc = sim_enter();
	if (rc && rc != sim_sticky())
		return rc;
	CUresult crc = sim_capture_unsafe();
	if (crc)
		return crc;
	if (!dptr) /* free(NULL) semantics, as the driver */
		return rc;
	sim_ctx_drain();
	rc = sim_heap_free(dptr, NULL);
	return rc ? rc : sim_sticky();
}

CUresult sim_cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n)
{
	return copy(SIM_OP_HTOD, dst, NULL, 0, src, n, NULL, true);
}

CUresult sim_cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n)
{
	return copy(SIM_OP_DTOH, 0, dst, src, NULL, n, NULL, true);
}

CUresult sim_cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
	return copy(SIM_OP_DTOD, dst, NULL, src, NULL, n, NULL, false);
}

CUresult sim_cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n,
				  CUstream s)
{
	return copy(SIM_OP_HTOD, dst, NULL, 0, src, n, s, false);
}

CUresult sim_cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n,
				  CUstream s)
{
	return copy(SIM_OP_DTOH, 0, dst, src, NULL, n, s, false);
}

CUresult sim_cuMemsetD8_v2(CUdeviceptr dst, unsigned char uc, size_t n)
{
	return set(dst, uc, 1, n, NULL);
}

CUresult sim_cuMemsetD32_v2(CUdeviceptr dst, unsigned int ui, size_t n)
{
	return set(dst, ui, 4, n, NULL);
}

CUresult sim_cuMemsetD8Async(CUdeviceptr dst, unsigned char uc, size_t n,
			     CUstream s)
{
	return set(dst, uc, 1, n, s);
}
