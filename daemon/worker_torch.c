/* daemon/worker_torch.c - the worker's part of the torch area: TMA
 * descriptors (cuTensorMapEncodeTiled) for Triton, cuBLAS and cuDNN.
 *
 * Contract: vw_torch_execute() answers VGPU_CU_TENSORMAP_TILED and
 * VGPU_CU_ORDER_AFTER (whose wait the executor did: worker_exec.c) and
 * returns false for any other opcode. The request is copied out of the region
 * first; its rank must be 1..5 (the arrays' size), and the tensor it
 * describes, from the address to the last element the dimensions and
 * strides reach, must lie inside one of the caller's allocations: a
 * descriptor is a licence for the GPU's copy engine to read and write
 * there. Everything else (alignment, box limits, swizzle against the
 * box) is left to the driver, whose error code is the answer, as natively.
 * The reply is the driver's 128-byte CUtensorMap.
 */
#include "worker.h"
#include <string.h>

/* Bytes per element, an upper bound for the packed 4- and 6-bit types. */
static uint64_t elem_bytes(uint32_t dtype)
{
	static const uint8_t size[] = {1, 2, 4, 4, 8, 8, 2, 4, 8, 2, 4, 4, 4};
	return dtype < sizeof(size) ? size[dtype] : 1;
}

/* The bytes from t->address the tensor spans: dim[0] elements, then
 * (dim[i] - 1) strides for each outer dimension. 0 on overflow or a zero
 * dimension (then the driver refuses the request anyway; we never ask). */
static uint64_t extent(const struct vgpu_cu_tmap *t)
{
	uint64_t n, step;
	if (!t->dim[0] ||
	    __builtin_mul_overflow(t->dim[0], elem_bytes(t->dtype), &n))
		return 0;
	for (uint32_t i = 1; i < t->rank; i++) {
		if (!t->dim[i] ||
		    __builtin_mul_overflow(t->dim[i] - 1, t->stride[i - 1],
					   &step) ||
		    __builtin_add_overflow(n, step, &n))
			return 0;
	}
	return n;
}

static CUresult encode_tiled(struct vworker *W, const struct vgpu_msg *m,
			     CUtensorMap *map)
{
	struct vgpu_cu_tmap t;
	if (m->len != sizeof(t))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&t, m->data, sizeof(t));
	if (t.rank == 0 || t.rank > VGPU_CU_TMAP_RANK_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t n = extent(&t);
	if (!n || vw_range(W, t.address, n))
		return CUDA_ERROR_INVALID_VALUE;
	return W->drv.cuTensorMapEncodeTiled(
		map, (CUtensorMapDataType)t.dtype, t.rank,
		(void *)(uintptr_t)t.address, t.dim, t.stride, t.box,
		t.elem_stride, (CUtensorMapInterleave)t.interleave,
		(CUtensorMapSwizzle)t.swizzle, (CUtensorMapL2promotion)t.l2,
		(CUtensorMapFloatOOBfill)t.oob);
}

/* VGPU_CU_ORDER_AFTER: the executor already waited (daemon/worker_exec.c,
 * which read the same payload); what is left is the answer. */
static CUresult order_after(const struct vgpu_msg *m)
{
	uint32_t n;
	if (m->len < sizeof(n))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&n, m->data, sizeof(n));
	if (n < 1 || n > VGPU_CU_ORDER_MAX || m->len != sizeof(n) + n * 4)
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

bool vw_torch_execute(struct vworker *W, struct vw_exec *x,
		      const struct vgpu_msg *m)
{
	(void)x;
	if (m->op == VGPU_CU_ORDER_AFTER) {
		vw_reply(W, m, order_after(m), NULL, 0, 0);
		return true;
	}
	if (m->op != VGPU_CU_TENSORMAP_TILED)
		return false;
	CUtensorMap map;
	memset(&map, 0, sizeof(map));
	CUresult r = encode_tiled(W, m, &map);
	vw_reply(W, m, r, &map, r ? 0 : sizeof(map), 0);
	return true;
}
