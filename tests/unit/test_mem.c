/* The worker's memory area (daemon/worker_mem.c) over the sim, message by
 * message: pitched and 3D extents computed without overflow, every device
 * range checked to be the caller's (foreign, out-of-range and wrapping
 * requests answered with the driver's error code, never executed), and
 * the data of memsets and rectangle copies byte-exact, including arena
 * chunks that split rows.
 */
#define _GNU_SOURCE
#include "../../daemon/devinfo.h"
#include "../../daemon/worker.h"
#include "../../daemon/worker_mem.h"
#include "../../ring/host.h"
#include "../support/worker_fixture.h"
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POOL (64u << 10)
#define NOS UINT64_MAX

/* A region with a pinned pool. */
static void up(void)
{
	vwf_opts = (struct vwf_opts){.pool = POOL};
	vwf_up();
}

TestSuite(mem, .init = up, .fini = vwf_down);

/* One request; a bulk chunk when arena_len (bytes at arena offset 0) is
 * given with tag/total. Returns the result, out gets the payload. */
static int32_t req(uint16_t op, uint16_t flags, const void *data, uint32_t len,
		   void *out, uint32_t outlen, uint64_t tag, uint64_t arena_len,
		   uint64_t total)
{
	struct vgpu_msg m = {.op = op, .flags = flags, .len = len, .tag = tag,
			     .arena_len = arena_len, .total = total};
	return vwf_send(&m, data, out, outlen);
}

static int32_t simple(uint16_t op, const void *data, uint32_t len, void *out,
		      uint32_t outlen)
{
	return req(op, 0, data, len, out, outlen, 0, 0, 0);
}

static uint64_t alloc(uint64_t n)
{
	struct vgpu_cu_args a = {{n}};
	for (const struct vw_gen_entry *e = vw_gen_table; e->fn; e++)
		if (!strcmp(e->name, "cuMemAlloc_v2"))
			cr_assert_eq(simple(e->op, &a, sizeof(a), &a, sizeof(a)),
				     CUDA_SUCCESS);
	return a.a[0];
}

static void readback(uint64_t dev, void *h, size_t n)
{
	cr_assert_eq(W.drv.cuMemcpyDtoH_v2(h, dev, n), CUDA_SUCCESS);
}

Test(mem, extents_are_computed_without_overflow)
{
	uint64_t n;
	cr_expect(vw_mem_extent(100, 10, 50, 4, 3, &n));
	cr_expect_eq(n, 2 * 10 * 100 + 3 * 100 + 50);
	cr_expect(vw_mem_extent(0, 0, 7, 1, 1, &n), "one row needs no pitch");
	cr_expect_eq(n, 7);
	cr_expect(vw_mem_extent(1, 1, 0, 5, 5, &n));
	cr_expect_eq(n, 0, "an empty rectangle spans nothing");
	cr_expect_not(vw_mem_extent(8, 0, 9, 2, 1, &n), "pitch below width");
	cr_expect_not(vw_mem_extent(16, 3, 9, 4, 2, &n), "slice below height");
	cr_expect_not(vw_mem_extent(1ull << 40, 1ull << 30, 1, 2, 2, &n));
	cr_expect_not(vw_mem_extent(UINT64_MAX, 0, 1, 2, 1, &n));
	cr_expect_not(vw_mem_extent(1, 1, UINT64_MAX, 1, 1, &n) && n < 2,
		      "width alone may not wrap");
}

Test(mem, memsets_check_every_row_and_write_exactly)
{
	uint64_t d = alloc(4096);
	struct vgpu_cu_memset q = {.dst = d, .pitch = 256, .width = 10,
				   .height = 4, .value = 0xabcd, .elem = 2};
	uint8_t got[4096], want[4096];
	cr_assert_eq(W.drv.cuMemsetD8_v2(d, 0, 4096), CUDA_SUCCESS);
	cr_expect_eq(simple(VGPU_CU_MEMSET_2D, &q, sizeof(q), NULL, 0),
		     CUDA_SUCCESS);
	W.drv.cuCtxSynchronize();
	readback(d, got, sizeof(got));
	memset(want, 0, sizeof(want));
	for (int y = 0; y < 4; y++)
		for (int x = 0; x < 10; x++)
			memcpy(want + y * 256 + 2 * x, &(uint16_t){0xabcd}, 2);
	cr_expect_arr_eq(got, want, sizeof(got));

	struct vgpu_cu_memset bad = q;
	bad.height = 17; /* 16 * 256 + 20 > 4096 */
	cr_expect_eq(simple(VGPU_CU_MEMSET_2D, &bad, sizeof(bad), NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	bad = q;
	bad.dst = d + 8192; /* nobody's */
	cr_expect_eq(simple(VGPU_CU_MEMSET_2D, &bad, sizeof(bad), NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	bad = q;
	bad.pitch = UINT64_MAX / 2; /* (height - 1) * pitch wraps */
	cr_expect_eq(simple(VGPU_CU_MEMSET_2D, &bad, sizeof(bad), NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	bad = q;
	bad.width = UINT64_MAX / 2 + 1; /* width * elem wraps */
	bad.height = 1;
	cr_expect_eq(simple(VGPU_CU_MEMSET_2D, &bad, sizeof(bad), NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	bad = q;
	bad.elem = 8;
	cr_expect_eq(simple(VGPU_CU_MEMSET_2D, &bad, sizeof(bad), NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	bad = q;
	bad.stream = 0xC4ull << 56 | 7; /* a stream id never issued */
	cr_expect_eq(simple(VGPU_CU_MEMSET_2D, &bad, sizeof(bad), NULL, 0),
		     CUDA_ERROR_INVALID_HANDLE);
	cr_expect_eq(simple(VGPU_CU_MEMSET_2D, &q, sizeof(q) - 1, NULL, 0),
		     CUDA_ERROR_INVALID_VALUE, "short message");
	readback(d, got, sizeof(got));
	cr_expect_arr_eq(got, want, sizeof(got), "refused memsets wrote");
}

Test(mem, device_rectangles_are_checked_on_both_sides)
{
	uint64_t a = alloc(4096), b = alloc(4096);
	uint8_t src[4096], got[4096], want[4096];
	for (int i = 0; i < 4096; i++)
		src[i] = (uint8_t)(i * 7 + 1);
	cr_assert_eq(W.drv.cuMemcpyHtoD_v2(a, src, 4096), CUDA_SUCCESS);
	cr_assert_eq(W.drv.cuMemsetD8_v2(b, 0, 4096), CUDA_SUCCESS);
	/* 3 slices of 5 rows of 30 bytes: src pitch 64 (8 rows a slice),
	 * dst pitch 48 (6 rows a slice) */
	struct vgpu_cu_rect x = {.dst = b + 1, .src = a + 2, .dpitch = 48,
				 .spitch = 64, .drows = 6, .srows = 8,
				 .width = 30, .height = 5, .depth = 3};
	cr_expect_eq(simple(VGPU_CU_RECT_DTOD, &x, sizeof(x), NULL, 0),
		     CUDA_SUCCESS);
	readback(b, got, sizeof(got));
	memset(want, 0, sizeof(want));
	for (int z = 0; z < 3; z++)
		for (int y = 0; y < 5; y++)
			memcpy(want + 1 + (z * 6 + y) * 48,
			       src + 2 + (z * 8 + y) * 64, 30);
	cr_expect_arr_eq(got, want, sizeof(got));

	struct vgpu_cu_rect bad = x;
	bad.depth = 12; /* source ends past a */
	cr_expect_eq(simple(VGPU_CU_RECT_DTOD, &bad, sizeof(bad), NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	bad = x;
	bad.src = 0x1000; /* nobody's */
	cr_expect_eq(simple(VGPU_CU_RECT_DTOD, &bad, sizeof(bad), NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	bad = x;
	bad.srows = 4; /* fewer rows a slice than the rectangle */
	cr_expect_eq(simple(VGPU_CU_RECT_DTOD, &bad, sizeof(bad), NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	bad = x;
	bad.drows = UINT64_MAX / 40; /* wraps */
	cr_expect_eq(simple(VGPU_CU_RECT_DTOD, &bad, sizeof(bad), NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	readback(b, got, sizeof(got));
	cr_expect_arr_eq(got, want, sizeof(got), "refused copies wrote");
}

/* A packed host rectangle in two arena chunks split inside a row. */
Test(mem, host_rectangles_scatter_and_gather_across_chunks)
{
	uint64_t d = alloc(8192);
	struct vgpu_cu_rect x = {.dst = d + 3, .dpitch = 100, .drows = 9,
				 .width = 70, .height = 7, .depth = 2};
	uint64_t total = 70 * 7 * 2, cut = 70 * 3 + 33;
	uint8_t *arena = vgpu_arena(&W.r, 0), packed[980], got[8192];
	uint8_t want[8192] = {0};
	for (uint64_t i = 0; i < total; i++)
		packed[i] = (uint8_t)(i * 13 + 5);
	cr_assert_eq(W.drv.cuMemsetD8_v2(d, 0, 8192), CUDA_SUCCESS);
	memcpy(arena, packed, cut);
	cr_expect_eq(req(VGPU_CU_RECT_HTOD, VGPU_MSG_ARENA | VGPU_MSG_MORE, &x,
			 sizeof(x), NULL, 0, 0, cut, total), CUDA_SUCCESS);
	memcpy(arena, packed + cut, total - cut);
	cr_expect_eq(req(VGPU_CU_RECT_HTOD, VGPU_MSG_ARENA, &x, sizeof(x), NULL,
			 0, cut, total - cut, total), CUDA_SUCCESS);
	readback(d, got, sizeof(got));
	for (int z = 0; z < 2; z++)
		for (int y = 0; y < 7; y++)
			memcpy(want + 3 + (z * 9 + y) * 100,
			       packed + (z * 7 + y) * 70, 70);
	cr_expect_arr_eq(got, want, sizeof(got));

	/* and back: gather into the arena, chunk by chunk */
	struct vgpu_cu_rect y = x;
	y.src = x.dst, y.spitch = 100, y.srows = 9, y.dst = 0;
	memset(arena, 0, total);
	cr_expect_eq(req(VGPU_CU_RECT_DTOH, VGPU_MSG_ARENA, &y, sizeof(y), NULL,
			 0, 0, cut, total), CUDA_SUCCESS);
	cr_expect_arr_eq(arena, packed, cut);
	cr_expect_eq(req(VGPU_CU_RECT_DTOH, VGPU_MSG_ARENA, &y, sizeof(y), NULL,
			 0, cut, total - cut, total), CUDA_SUCCESS);
	cr_expect_arr_eq(arena, packed + cut, total - cut);

	/* the stream's total, chunk ranges and the device side are checked */
	cr_expect_eq(req(VGPU_CU_RECT_HTOD, VGPU_MSG_ARENA, &x, sizeof(x), NULL,
			 0, 0, 10, total + 1), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(req(VGPU_CU_RECT_HTOD, VGPU_MSG_ARENA, &x, sizeof(x), NULL,
			 0, total - 5, 10, total), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(req(VGPU_CU_RECT_HTOD, 0, &x, sizeof(x), NULL, 0, 0, 0,
			 total), CUDA_ERROR_INVALID_VALUE, "no arena");
	struct vgpu_cu_rect far = x;
	far.depth = 10; /* 9 * 9 * 100 + ... > 8192 */
	cr_expect_eq(req(VGPU_CU_RECT_HTOD, VGPU_MSG_ARENA, &far, sizeof(far),
			 NULL, 0, 0, 10, 70 * 7 * 10), CUDA_ERROR_INVALID_VALUE);
	readback(d, got, sizeof(got));
	cr_expect_arr_eq(got, want, sizeof(got), "refused chunks wrote");
}

Test(mem, pitched_allocations_are_tracked_and_ranges_answered)
{
	struct vgpu_cu_args a = {{100, 9, 4}}, r = {{0}};
	cr_assert_eq(simple(VGPU_CU_MEM_ALLOC_PITCH, &a, sizeof(a), &a,
			    sizeof(a)), CUDA_SUCCESS);
	uint64_t p = a.a[0], pitch = a.a[1];
	cr_expect_geq(pitch, 100);
	cr_expect_eq(vw_range(&W, p, pitch * 9), CUDA_SUCCESS);
	cr_expect_eq(vw_range(&W, p, pitch * 9 + 1), CUDA_ERROR_INVALID_VALUE);
	r.a[0] = p + pitch * 4;
	cr_expect_eq(simple(VGPU_CU_MEM_RANGE, &r, sizeof(r), &r, sizeof(r)),
		     CUDA_SUCCESS);
	cr_expect_eq(r.a[0], p);
	cr_expect_eq(r.a[1], pitch * 9);
	r = (struct vgpu_cu_args){{p + pitch * 9}};
	cr_expect_eq(simple(VGPU_CU_MEM_RANGE, &r, sizeof(r), &r, sizeof(r)),
		     CUDA_ERROR_NOT_FOUND);
	a = (struct vgpu_cu_args){{100, 9, 3}}; /* element size 3 */
	cr_expect_eq(simple(VGPU_CU_MEM_ALLOC_PITCH, &a, sizeof(a), &a,
			    sizeof(a)), CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{100, 9, 1ull << 32 | 4}};
	cr_expect_eq(simple(VGPU_CU_MEM_ALLOC_PITCH, &a, sizeof(a), &a,
			    sizeof(a)), CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{1ull << 40, 1ull << 30, 4}};
	cr_expect_eq(simple(VGPU_CU_MEM_ALLOC_PITCH, &a, sizeof(a), &a,
			    sizeof(a)), CUDA_ERROR_OUT_OF_MEMORY);
	cr_expect_eq(W.nallocs, 1u);
}

static int32_t pool_copy(uint64_t dev, uint64_t off, uint64_t len, int htod)
{
	struct vgpu_cu_poolcopy q = {.dev = dev, .off = off, .len = len,
				     .stream = NOS, .htod = (uint64_t)htod};
	return simple(VGPU_CU_POOL_COPY, &q, sizeof(q), NULL, 0);
}

Test(mem, the_pinned_pool_is_registered_zeroed_and_bounded)
{
	uint64_t d = alloc(8192);
	uint8_t *pool = vgpu_pool(&W.r, 0), got[100];
	memset(pool, 0x33, POOL); /* a previous owner's leftovers */
	cr_expect_eq(pool_copy(d, 0, 16, 1), CUDA_ERROR_INVALID_VALUE,
		     "copies before the pool is open");
	struct vgpu_cu_args a = {{0}};
	cr_assert_eq(simple(VGPU_CU_POOL_OPEN, NULL, 0, &a, sizeof(a)),
		     CUDA_SUCCESS);
	cr_expect_eq(a.a[0], (uint64_t)(uintptr_t)pool, "the sim: UVA");
	cr_expect_eq(a.a[1], POOL);
	cr_expect_eq(pool[0], 0);
	cr_expect_eq(pool[POOL - 1], 0, "zeroed at open");
	for (int i = 0; i < 100; i++)
		pool[300 + i] = (uint8_t)(i + 1);
	cr_expect_eq(pool_copy(d + 50, 300, 100, 1), CUDA_SUCCESS);
	readback(d + 50, got, 100);
	cr_expect_arr_eq(got, pool + 300, 100);
	cr_expect_eq(pool_copy(d + 50, POOL - 100, 100, 0), CUDA_SUCCESS);
	cr_expect_arr_eq(pool + POOL - 100, got, 100);

	cr_expect_eq(pool_copy(d, POOL - 10, 11, 1), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(pool_copy(d, UINT64_MAX - 4, 10, 1),
		     CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(pool_copy(d, 8, UINT64_MAX, 0), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(pool_copy(d + 8190, 0, 4, 1), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(pool_copy(0x1000, 0, 4, 0), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(pool_copy(d, 0, 4, 2), CUDA_ERROR_INVALID_VALUE);
	/* a second open answers the same slice and keeps its contents */
	cr_assert_eq(simple(VGPU_CU_POOL_OPEN, NULL, 0, &a, sizeof(a)),
		     CUDA_SUCCESS);
	cr_expect_eq(pool[300], 1);
	/* the registration is the driver's: a second one of the range fails */
	cr_expect_eq(W.drv.cuMemHostRegister_v2(pool, 4096, 0),
		     CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
}

static int32_t gen(const char *name, struct vgpu_cu_args *a)
{
	for (const struct vw_gen_entry *e = vw_gen_table; e->fn; e++)
		if (!strcmp(e->name, name))
			return simple(e->op, a, sizeof(*a), a, sizeof(*a));
	cr_assert_fail("%s is not in ring/cuda.api", name);
	return -1;
}

Test(mem, stream_ordered_allocations_are_the_callers)
{
	struct vgpu_cu_args a = {{1000, 0}};
	cr_assert_eq(gen("cuMemAllocAsync", &a), CUDA_SUCCESS);
	uint64_t p = a.a[0];
	cr_expect_eq(vw_range(&W, p, 1000), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{p + 8, 0}};
	cr_expect_eq(gen("cuMemFreeAsync", &a), CUDA_ERROR_INVALID_VALUE,
		     "not an allocation's start");
	a = (struct vgpu_cu_args){{p, 0xC4ull << 56 | 9}};
	cr_expect_eq(gen("cuMemFreeAsync", &a), CUDA_ERROR_INVALID_HANDLE);
	cr_expect_eq(vw_range(&W, p, 1000), CUDA_SUCCESS, "still ours");
	a = (struct vgpu_cu_args){{1000, 0xC4ull << 56 | 9}};
	cr_expect_eq(gen("cuMemAllocAsync", &a), CUDA_ERROR_INVALID_HANDLE);
	a = (struct vgpu_cu_args){{p, 0}};
	cr_expect_eq(gen("cuMemFreeAsync", &a), CUDA_SUCCESS);
	cr_expect_eq(vw_range(&W, p, 1), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(W.mem_in_use, 0u);
}
