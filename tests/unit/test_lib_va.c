/* Device address windows (docs/memory.md, "Address spaces"): the address
 * space helpers both sides use (ring/va_maps.c) on this process's own
 * mappings, and the worker's VGPU_CU_VA_WINDOW over the sim (daemon/
 * worker_lib_va.c): the window it names holds the device memory it hands
 * out, the guest's list keeps its driver out of the guest's ranges, and
 * hostile lists are refused whole. The guest's side runs in the
 * integration suite (tests/gpu/lib_va.c).
 */
#define _GNU_SOURCE
#include "../../daemon/worker.h"
#include "../../ring/va_maps.h"
#include "../support/worker_fixture.h"
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define MIB (1ull << 20)

/* A free, 2 MiB-aligned range of len bytes (mapped, then given back). */
static uint64_t free_range(uint64_t len)
{
	void *p = mmap(NULL, len + 2 * MIB, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	munmap(p, len + 2 * MIB);
	return ((uint64_t)(uintptr_t)p + 2 * MIB - 1) & ~(2 * MIB - 1);
}

static int mapped_at(uint64_t a)
{
	void *p = mmap((void *)(uintptr_t)a, 4096, PROT_READ,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return errno == EEXIST;
	munmap(p, 4096);
	return 0;
}

Test(va_maps, merge_joins_the_smallest_gaps_first)
{
	struct vgpu_va_range v[5] = {
		{0x1000, 0x2000}, {0x3000, 0x4000}, {0x10000, 0x11000},
		{0x11800, 0x12000}, {0x100000, 0x101000}};
	int n = vgpu_maps_merge(v, 5, 3);
	cr_assert_eq(n, 3);
	cr_assert_eq(v[0].lo, 0x1000);
	cr_assert_eq(v[0].hi, 0x4000);
	cr_assert_eq(v[1].lo, 0x10000);
	cr_assert_eq(v[1].hi, 0x12000);
	cr_assert_eq(v[2].lo, 0x100000);
	cr_assert_eq(vgpu_maps_merge(v, 3, 8), 3);
}

Test(va_maps, read_and_find_see_our_own_mappings)
{
	static struct vgpu_va_range v[8192];
	struct vgpu_va_range m;
	void *p = mmap(NULL, 8 * MIB, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	uint64_t a = (uint64_t)(uintptr_t)p;
	int n = vgpu_maps_read(v, 8192);
	cr_assert_gt(n, 0);
	for (int i = 1; i < n; i++)
		cr_assert_gt(v[i].lo, v[i - 1].hi, "sorted and apart");
	cr_assert_eq(vgpu_maps_find(a + 4 * MIB, &m), 0);
	cr_assert(m.lo <= a && m.hi >= a + 8 * MIB);
	munmap(p, 8 * MIB);
}

struct parts {
	int n;
	struct vgpu_va_range r[4];
};

static void note(uint64_t lo, uint64_t hi, void *arg)
{
	struct parts *p = arg;
	if (p->n < 4)
		p->r[p->n++] = (struct vgpu_va_range){lo, hi};
}

Test(va_maps, reserve_free_leaves_what_is_mapped)
{
	uint64_t base = free_range(64 * MIB);
	struct parts got = {0};
	uint8_t *mine = mmap((void *)(uintptr_t)(base + 16 * MIB), 2 * MIB,
			     PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			     -1, 0);
	cr_assert_eq((uint64_t)(uintptr_t)mine, base + 16 * MIB);
	mine[5] = 7;
	cr_assert_eq(vgpu_maps_reserve_free(base, base + 64 * MIB, note, &got),
		     0);
	cr_assert_eq(got.n, 2);
	cr_assert_eq(got.r[0].lo, base);
	cr_assert_eq(got.r[0].hi, base + 16 * MIB);
	cr_assert_eq(got.r[1].lo, base + 18 * MIB);
	cr_assert_eq(got.r[1].hi, base + 64 * MIB);
	cr_assert_eq(mine[5], 7, "the existing mapping is untouched");
	cr_assert(mapped_at(base + 40 * MIB));
	munmap((void *)(uintptr_t)base, 64 * MIB);
}

/* ---- the worker's VGPU_CU_VA_WINDOW over the sim ------------------------ */

TestSuite(va_worker, .init = vwf_up, .fini = vwf_down);

static int32_t window(const struct vgpu_cu_va *q, struct vgpu_cu_va *out)
{
	memset(out, 0, sizeof(*out));
	return request(VGPU_CU_VA_WINDOW, 0, q, sizeof(*q), out, sizeof(*out));
}

static bool inside(const struct vgpu_cu_va *w, uint64_t a, uint64_t n)
{
	for (uint32_t i = 0; i < w->n; i++)
		if (a >= w->r[i].lo && a + n <= w->r[i].hi)
			return true;
	return false;
}

Test(va_worker, window_holds_device_memory_and_keeps_out_our_ranges)
{
	struct vgpu_cu_va q = {.n = 1}, w;
	uint64_t guest = free_range(32 * MIB);
	q.r[0].lo = guest;
	q.r[0].hi = guest + 32 * MIB;
	cr_assert_eq(window(&q, &w), CUDA_SUCCESS);
	cr_assert_geq(w.n, 1);
	cr_assert(mapped_at(guest + 8 * MIB), "the guest's range is kept out");
	struct vgpu_cu_args a = {{64 * MIB}};
	cr_assert_eq(call("cuMemAlloc_v2", &a), CUDA_SUCCESS);
	cr_assert(inside(&w, a.a[0], 64 * MIB), "0x%llx outside the window",
		  (unsigned long long)a.a[0]);
	/* one list a process */
	cr_assert_eq(window(&q, &w), CUDA_ERROR_INVALID_VALUE);
}

Test(va_worker, hostile_lists_refused_whole)
{
	struct vgpu_cu_va q, w;
	uint64_t g = free_range(4 * MIB);
	const struct {
		uint32_t n;
		uint64_t lo0, hi0, lo1, hi1;
	} bad[] = {
		{VGPU_CU_VA_MAX + 1, g, g + MIB, 0, 0},
		{1, g + MIB, g, 0, 0},                  /* backwards */
		{1, g, g, 0, 0},                        /* empty */
		{1, g + 1, g + MIB, 0, 0},              /* unaligned */
		{1, g, VGPU_VA_LIMIT + 4096, 0, 0},     /* past 2^47 */
		{2, g + MIB, g + 2 * MIB, g, g + MIB},  /* out of order */
		{2, 0, 10ull << 40, 20ull << 40, 30ull << 40}, /* 20 TiB */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&q, 0, sizeof(q));
		q.n = bad[i].n;
		q.r[0].lo = bad[i].lo0;
		q.r[0].hi = bad[i].hi0;
		q.r[1].lo = bad[i].lo1;
		q.r[1].hi = bad[i].hi1;
		cr_assert_eq(window(&q, &w), CUDA_ERROR_INVALID_VALUE, "case %zu",
			     i);
	}
	cr_assert_eq(request(VGPU_CU_VA_WINDOW, 0, &q, sizeof(q) - 8, &w,
			     sizeof(w)),
		     CUDA_ERROR_INVALID_VALUE);
	cr_assert_not(mapped_at(g), "nothing was reserved");
	memset(&q, 0, sizeof(q)); /* an empty list is fine */
	cr_assert_eq(window(&q, &w), CUDA_SUCCESS);
	cr_assert_geq(w.n, 1);
}
