/* The worker's TMA descriptor opcode (daemon/worker_torch.c,
 * VGPU_CU_TENSORMAP_TILED) run in-process over the sim: a descriptor for a
 * tensor inside the caller's allocation is the driver's 128 bytes (the
 * sim's own deterministic layout here); a tensor reaching outside the
 * caller's memory, a rank the arrays cannot hold, sizes that overflow and
 * malformed messages are refused with CUDA_ERROR_INVALID_VALUE before the
 * driver sees them; the driver's own checks (stride alignment, box size)
 * come back unchanged. The harness is worker_fixture.c.
 */
#define _GNU_SOURCE
#include "../../daemon/devinfo.h"
#include "../../daemon/worker.h"
#include "../../ring/host.h"
#include "../support/worker_fixture.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(torch_worker, .init = vwf_up, .fini = vwf_down);

/* ---- sending requests ---------------------------------------------------- */

static uint64_t alloc(uint64_t bytes)
{
	struct vgpu_cu_args a = {{bytes}};
	cr_assert_eq(call("cuMemAlloc_v2", &a), CUDA_SUCCESS);
	return a.a[0];
}

/* A 2D float32 tensor of rows x cols, row pitch cols * 4, 64x32 boxes. */
static struct vgpu_cu_tmap tile2d(uint64_t addr, uint64_t rows,
				  uint64_t cols)
{
	return (struct vgpu_cu_tmap){
		.address = addr, .dim = {cols, rows}, .stride = {cols * 4},
		.box = {32, 64}, .elem_stride = {1, 1},
		.dtype = CU_TENSOR_MAP_DATA_TYPE_FLOAT32, .rank = 2,
		.swizzle = CU_TENSOR_MAP_SWIZZLE_128B};
}

static int32_t encode(const struct vgpu_cu_tmap *t, CUtensorMap *map)
{
	return request(VGPU_CU_TENSORMAP_TILED, 0, t, sizeof(*t), map,
		       sizeof(*map));
}

Test(torch_worker, descriptor_for_own_tensor)
{
	uint64_t d = alloc(256 * 128 * 4);
	struct vgpu_cu_tmap t = tile2d(d, 256, 128);
	CUtensorMap a, b;
	memset(&a, 0xAA, sizeof(a));
	memset(&b, 0x55, sizeof(b));
	cr_assert_eq(encode(&t, &a), CUDA_SUCCESS);
	cr_assert_eq(encode(&t, &b), CUDA_SUCCESS);
	cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0, "all 128 bytes answered");
	cr_assert_eq(a.opaque[0], d); /* the sim's layout: address first */
	cr_assert_eq(a.opaque[1], 128);
	cr_assert_eq(a.opaque[2], 256);
	/* a view inside the allocation is the caller's too */
	t = tile2d(d + 128 * 128 * 4, 128, 128);
	cr_assert_eq(encode(&t, &a), CUDA_SUCCESS);
	cr_assert_eq(a.opaque[0], d + 128 * 128 * 4);
}

Test(torch_worker, tensor_outside_callers_memory_refused)
{
	uint64_t d = alloc(256 * 128 * 4);
	CUtensorMap m;
	struct vgpu_cu_tmap t = tile2d(d, 257, 128); /* one row too many */
	cr_assert_eq(encode(&t, &m), CUDA_ERROR_INVALID_VALUE);
	t = tile2d(d + 16, 256, 128); /* shifted past the end */
	cr_assert_eq(encode(&t, &m), CUDA_ERROR_INVALID_VALUE);
	t = tile2d(d ^ (1ull << 40), 16, 16); /* nobody's memory */
	cr_assert_eq(encode(&t, &m), CUDA_ERROR_INVALID_VALUE);
	t = tile2d(d, 4, 4);
	t.dim[1] = 0; /* no extent */
	cr_assert_eq(encode(&t, &m), CUDA_ERROR_INVALID_VALUE);
	t = tile2d(d, 4, 4);
	t.dim[1] = UINT64_MAX; /* (dim - 1) * stride overflows */
	cr_assert_eq(encode(&t, &m), CUDA_ERROR_INVALID_VALUE);
	t = tile2d(d, 4, 4);
	t.dim[0] = UINT64_MAX / 2; /* dim * element size overflows */
	cr_assert_eq(encode(&t, &m), CUDA_ERROR_INVALID_VALUE);
}

Test(torch_worker, rank_and_message_size_checked)
{
	uint64_t d = alloc(4096);
	CUtensorMap m;
	struct vgpu_cu_tmap t = tile2d(d, 4, 4);
	t.rank = 0;
	cr_assert_eq(encode(&t, &m), CUDA_ERROR_INVALID_VALUE);
	t.rank = VGPU_CU_TMAP_RANK_MAX + 1;
	cr_assert_eq(encode(&t, &m), CUDA_ERROR_INVALID_VALUE);
	t.rank = UINT32_MAX;
	cr_assert_eq(encode(&t, &m), CUDA_ERROR_INVALID_VALUE);
	t = tile2d(d, 4, 4);
	uint8_t big[sizeof(t) + 8] = {0};
	memcpy(big, &t, sizeof(t));
	cr_assert_eq(request(VGPU_CU_TENSORMAP_TILED, 0, big, sizeof(t) - 8,
			     &m, sizeof(m)), CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(request(VGPU_CU_TENSORMAP_TILED, 0, big, sizeof(big), &m,
			     sizeof(m)), CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(request(VGPU_CU_TENSORMAP_TILED, 0, NULL, 0, &m,
			     sizeof(m)), CUDA_ERROR_INVALID_VALUE);
}

/* What the driver checks is the driver's answer: a row pitch that is not
 * a multiple of 16, a box over 256, a swizzle span smaller than the box. */
Test(torch_worker, driver_checks_pass_through)
{
	uint64_t d = alloc(64 * 64 * 4);
	CUtensorMap m;
	struct vgpu_cu_tmap t = tile2d(d, 64, 63);
	t.stride[0] = 63 * 4;
	cr_assert_eq(encode(&t, &m), CUDA_ERROR_INVALID_VALUE);
	t = tile2d(d, 64, 64);
	t.box[1] = 257;
	cr_assert_eq(encode(&t, &m), CUDA_ERROR_INVALID_VALUE);
	t = tile2d(d, 64, 64);
	t.box[0] = 64; /* 256 bytes wide, the 128-byte swizzle spans 128 */
	cr_assert_eq(encode(&t, &m), CUDA_ERROR_INVALID_VALUE);
	t.swizzle = CU_TENSOR_MAP_SWIZZLE_NONE;
	cr_assert_eq(encode(&t, &m), CUDA_SUCCESS);
}

/* VGPU_CU_ORDER_AFTER's payload: 1..16 thread ids, exactly 4 + 4n bytes;
 * anything else is refused. (Its wait is the executor's, exercised by
 * tests/gpu/torch_order.c in the integration suite: a standalone executor
 * has no queue to wait on.) */
Test(torch_worker, order_request_checked)
{
	struct vgpu_cu_order o = {.n = 2, .tid = {12345, 678}};
	cr_assert_eq(request(VGPU_CU_ORDER_AFTER, 0, &o, 4 + 2 * 4, NULL, 0),
		     CUDA_SUCCESS);
	o.n = VGPU_CU_ORDER_MAX;
	cr_assert_eq(request(VGPU_CU_ORDER_AFTER, 0, &o, sizeof(o), NULL, 0),
		     CUDA_SUCCESS);
	cr_assert_eq(request(VGPU_CU_ORDER_AFTER, 0, &o, sizeof(o) - 4, NULL,
			     0), CUDA_ERROR_INVALID_VALUE);
	o.n = 0;
	cr_assert_eq(request(VGPU_CU_ORDER_AFTER, 0, &o, 4, NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	/* one id too many, sent whole: a payload longer than the struct */
	uint32_t big[1 + VGPU_CU_ORDER_MAX + 1] = {VGPU_CU_ORDER_MAX + 1};
	cr_assert_eq(request(VGPU_CU_ORDER_AFTER, 0, big, sizeof(big), NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	o.n = UINT32_MAX; /* 4 + 4n wraps: still refused */
	cr_assert_eq(request(VGPU_CU_ORDER_AFTER, 0, &o, 0, NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(request(VGPU_CU_ORDER_AFTER, 0, &o, 2, NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
}
