/* tests/gpu/torch_tmap.c - cuTensorMapEncodeTiled as Triton calls it, a
 * plain driver-API program: natively it checks NVIDIA's driver, through
 * vgpu the guest library and the worker (on the sim in the integration
 * suite, on the real driver with tests/gpu/run.sh), with the same
 * expectations:
 *  tmap_encode   a 2D float32 tensor with 128-byte swizzle encodes; the
 *                same request gives the same 128 bytes again; a view at
 *                an offset inside the allocation encodes too
 *  tmap_errors   the driver's refusals with their codes: rank 0 and 6,
 *                a row pitch not a multiple of 16, a box over 256, a box
 *                wider than the swizzle span, a NULL map
 *  memfree_null  cuMemFree(0) and cuMemFreeHost(NULL) succeed (free(NULL)
 *                semantics): cudaFree(NULL), with which programs force
 *                initialisation, passes 0 to the driver and returns what
 *                the driver says
 * (The descriptor's bytes hold the device address, which differs between
 * runs, so no digest; tests/gpu/torch/check.py runs a Triton TMA kernel.)
 */
#include "check.h"
#include <stdint.h>

static CUresult tile(CUtensorMap *m, CUdeviceptr d, cuuint32_t rank,
		     cuuint64_t rows, cuuint64_t cols, cuuint64_t pitch,
		     cuuint32_t bw, cuuint32_t bh, CUtensorMapSwizzle sw)
{
	cuuint64_t dim[5] = {cols, rows, 1, 1, 1}, stride[4] = {pitch, pitch * rows,
							    pitch * rows, pitch * rows};
	cuuint32_t box[5] = {bw, bh, 1, 1, 1}, es[5] = {1, 1, 1, 1, 1};
	return cuTensorMapEncodeTiled(m, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, rank,
				      (void *)(uintptr_t)d, dim, stride, box,
				      es, CU_TENSOR_MAP_INTERLEAVE_NONE, sw,
				      CU_TENSOR_MAP_L2_PROMOTION_NONE,
				      CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
}

int main(void)
{
	CUcontext ctx;
	CUdeviceptr d;
	CUtensorMap a, b;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (cuInit(0) || cuDevicePrimaryCtxRetain(&ctx, 0) ||
	    cuCtxSetCurrent(ctx) || cuMemAlloc(&d, 256 * 128 * 4)) {
		printf("FAIL tmap_setup\n");
		return 1;
	}
	struct check c = {.name = "tmap_encode"};
	const CUtensorMapSwizzle S = CU_TENSOR_MAP_SWIZZLE_128B;
	memset(&a, 0, sizeof(a));
	memset(&b, 0xff, sizeof(b));
	EXPECT_OK(&c, tile(&a, d, 2, 256, 128, 512, 32, 64, S));
	EXPECT_OK(&c, tile(&b, d, 2, 256, 128, 512, 32, 64, S));
	if (memcmp(&a, &b, sizeof(a)))
		check_fail(&c, "the same request gave other bytes");
	EXPECT_OK(&c, tile(&a, d + 128 * 512, 2, 128, 128, 512, 32, 64, S));
	check_end(&c);

	c = (struct check){.name = "tmap_errors"};
	const CUresult INVAL = CUDA_ERROR_INVALID_VALUE;
	EXPECT(&c, INVAL, tile(&a, d, 0, 256, 128, 512, 32, 64, S));
	EXPECT(&c, INVAL, tile(&a, d, 6, 256, 128, 512, 32, 64, S));
	EXPECT(&c, INVAL, tile(&a, d, 2, 256, 127, 508, 32, 64, S));
	EXPECT(&c, INVAL, tile(&a, d, 2, 256, 128, 512, 32, 257, S));
	EXPECT(&c, INVAL, tile(&a, d, 2, 256, 128, 512, 64, 64, S));
	EXPECT(&c, INVAL, tile(NULL, d, 2, 256, 128, 512, 32, 64, S));
	check_end(&c);
	cuMemFree(d);

	c = (struct check){.name = "memfree_null"};
	EXPECT_OK(&c, cuMemFree(0));
	EXPECT_OK(&c, cuMemFreeHost(NULL));
	check_end(&c);
	return check_summary("torch_tmap");
}
