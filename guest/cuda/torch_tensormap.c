/* guest/cuda/torch_tensormap.c - cuTensorMapEncodeTiled: TMA descriptors
 * (Triton, cuBLAS and cuDNN's Hopper kernels make them on the host and
 * pass the 128-byte CUtensorMap to a kernel by value).
 *
 * Contract: the descriptor's format is the driver's and not public, so the
 * worker's driver encodes it (VGPU_CU_TENSORMAP_TILED) and the guest hands
 * back those 128 bytes as they are; device addresses are the same in the
 * guest and on the host, so the descriptor is valid in the guest's
 * launches. The guest checks only what it must read: the map pointer and
 * the rank (1..5, the driver's limit) bounding the arrays; every other
 * check is the driver's (alignment, box sizes, swizzle), so its error
 * codes come back unchanged. The worker checks that the tensor lies in the
 * caller's memory. One round trip per descriptor.
 */
#include "rpc.h"
#include <string.h>

VGPU_EXPORT CUresult cuTensorMapEncodeTiled(
	CUtensorMap *map, CUtensorMapDataType dtype, cuuint32_t rank,
	void *address, const cuuint64_t *dim, const cuuint64_t *stride,
	const cuuint32_t *box, const cuuint32_t *estride,
	CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle,
	CUtensorMapL2promotion l2, CUtensorMapFloatOOBfill oob)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!map || rank == 0 || rank > VGPU_CU_TMAP_RANK_MAX || !dim ||
	    !box || !estride || (rank > 1 && !stride))
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_tmap t = {
		.address = (uint64_t)(uintptr_t)address, .dtype = dtype,
		.rank = rank, .interleave = interleave, .swizzle = swizzle,
		.l2 = l2, .oob = oob,
	};
	memcpy(t.dim, dim, rank * sizeof(t.dim[0]));
	memcpy(t.box, box, rank * sizeof(t.box[0]));
	memcpy(t.elem_stride, estride, rank * sizeof(t.elem_stride[0]));
	if (rank > 1)
		memcpy(t.stride, stride, (rank - 1) * sizeof(t.stride[0]));
	CUtensorMap out;
	r = vgpu_cu_call(VGPU_CU_TENSORMAP_TILED, &t, sizeof(t), &out,
			 sizeof(out), true, "cuTensorMapEncodeTiled");
	if (!r)
		*map = out;
	return r;
}
