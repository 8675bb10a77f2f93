/* daemon/sim/sim_torch.c - the sim's cuTensorMapEncodeTiled.
 *
 * The sim has no copy engine to run TMA, so its descriptor only has to be
 * a deterministic function of the arguments, built after the checks the
 * CUDA reference lists for cuTensorMapEncodeTiled, with its error code
 * (CUDA_ERROR_INVALID_VALUE): rank 1..5 (3..5 when interleaved), the
 * address aligned to 16 bytes (32 for 32-byte interleave), every dimension
 * 1..2^32, strides multiples of 16 below 2^40, boxes 1..256 (the inner one
 * at most the swizzle span when swizzled and not interleaved), element
 * strides 1..8, enums in range. The layout it fills is our own: the
 * address, then the dimensions, the strides and the box, in order.
 */
#include "sim.h"
#include <string.h>

static const uint32_t swizzle_span[] = {0, 32, 64, 128};

static const uint8_t elem_size[] = {1, 2, 4, 4, 8, 8, 2, 4, 8, 2, 4, 4, 4};

static bool args_ok(CUtensorMapDataType dt, cuuint32_t rank,
		    const void *address, const cuuint64_t *dim,
		    const cuuint64_t *stride, const cuuint32_t *box,
		    const cuuint32_t *es, CUtensorMapInterleave il,
		    CUtensorMapSwizzle sw, CUtensorMapL2promotion l2,
		    CUtensorMapFloatOOBfill oob)
{
	if ((unsigned)dt >= sizeof(elem_size) || (unsigned)il > 2 ||
	    (unsigned)sw > 3 || (unsigned)l2 > 3 || (unsigned)oob > 1)
		return false;
	if (rank < (il ? 3u : 1u) || rank > 5 || !dim || !box || !es ||
	    (rank > 1 && !stride))
		return false;
	if ((uintptr_t)address % (il == CU_TENSOR_MAP_INTERLEAVE_32B ? 32 : 16))
		return false;
	for (cuuint32_t i = 0; i < rank; i++) {
		if (!dim[i] || dim[i] > (1ull << 32) || !box[i] ||
		    box[i] > 256 || !es[i] || es[i] > 8)
			return false;
		if (i && (stride[i - 1] % 16 || stride[i - 1] >= (1ull << 40)))
			return false;
	}
	if (!il && sw && (uint64_t)box[0] * elem_size[dt] > swizzle_span[sw])
		return false;
	return true;
}

CUresult sim_cuTensorMapEncodeTiled(
	CUtensorMap *map, CUtensorMapDataType dt, cuuint32_t rank,
	void *address, const cuuint64_t *dim, const cuuint64_t *stride,
	const cuuint32_t *box, const cuuint32_t *es,
	CUtensorMapInterleave il, CUtensorMapSwizzle sw,
	CUtensorMapL2promotion l2, CUtensorMapFloatOOBfill oob)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!map ||
	    !args_ok(dt, rank, address, dim, stride, box, es, il, sw, l2, oob))
		return CUDA_ERROR_INVALID_VALUE;
	memset(map, 0, sizeof(*map));
	uint64_t *q = map->opaque;
	*q++ = (uint64_t)(uintptr_t)address;
	for (cuuint32_t i = 0; i < rank; i++)
		*q++ = dim[i];
	for (cuuint32_t i = 0; i + 1 < rank; i++)
		*q++ = stride[i];
	for (cuuint32_t i = 0; i < rank; i++)
		*q++ = (uint64_t)box[i] | (uint64_t)es[i] << 32;
	*q = (uint64_t)dt | (uint64_t)rank << 8 | (uint64_t)il << 16 |
	     (uint64_t)sw << 24 | (uint64_t)l2 << 32 | (uint64_t)oob << 40;
	return CUDA_SUCCESS;
}
