/* The pinned slice at an address both processes have free
 * (daemon/worker_alias.c, worker_mem.c's VGPU_CU_POOL_OPEN) over the sim:
 * hostile candidate lists refused with CUDA_ERROR_INVALID_VALUE before
 * anything is mapped or opened; a candidate taken in the worker skipped
 * and left untouched; the slice mapped at the next one, registered there,
 * answered as the device address and used by every pool copy; none
 * usable (or no region file): the region's own address, as before; the
 * worker's end unmaps and unregisters it.
 *
 * The fixture's region is ordinary memory, so the region file here is a
 * stand-in holding the slice's bytes at the slice's offset: what the
 * copies move shows which mapping they went through.
 */
#define _GNU_SOURCE
#include "../../daemon/worker.h"
#include "../../daemon/worker_alias.h"
#include "../../daemon/worker_mem.h"
#include "../../ring/host.h"
#include "../support/worker_fixture.h"
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define POOL (64u << 10)
#define NOS UINT64_MAX

static char path[64];
static uint64_t hole[2]; /* free addresses, POOL bytes each */
static uint8_t *taken;   /* a mapping of the worker's own */
static uint64_t slice_off;

static uint64_t free_range(void)
{
	void *h = mmap(NULL, POOL, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(h, MAP_FAILED);
	munmap(h, POOL);
	return (uint64_t)(uintptr_t)h;
}

static void up(void)
{
	vwf_opts = (struct vwf_opts){.pool = POOL};
	vwf_up();
	snprintf(path, sizeof(path), "/dev/shm/vgpu-alias-%d", (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	slice_off = (uint64_t)(vgpu_pool(&W.r, W.chan) - W.r.base);
	cr_assert_eq(ftruncate(fd, (off_t)(slice_off + POOL)), 0);
	uint8_t pat[POOL];
	for (unsigned i = 0; i < POOL; i++)
		pat[i] = (uint8_t)(i * 7 + 3);
	cr_assert_eq(pwrite(fd, pat, POOL, (off_t)slice_off), (ssize_t)POOL);
	close(fd);
	W.region_path = path;
	taken = mmap(NULL, POOL, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(taken, MAP_FAILED);
	taken[0] = 42;
	/* two holes, the second not adjacent to the first */
	hole[0] = free_range();
	void *gap = mmap((void *)(uintptr_t)hole[0], POOL, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			 -1, 0);
	hole[1] = free_range();
	munmap(gap, POOL);
}

static void down(void)
{
	vw_mem_pool_close(&W);
	unlink(path);
	vwf_down();
}

TestSuite(alias, .init = up, .fini = down);

static int32_t pool_open(const struct vgpu_cu_args *in, uint32_t len,
			 struct vgpu_cu_args *out)
{
	*out = (struct vgpu_cu_args){{0}};
	return request(VGPU_CU_POOL_OPEN, 0, in, len, out, sizeof(*out));
}

static int32_t pool_copy(uint64_t dev, uint64_t off, uint64_t len, int htod)
{
	struct vgpu_cu_poolcopy q = {.dev = dev, .off = off, .len = len,
				     .stream = NOS, .htod = (uint64_t)htod};
	return request(VGPU_CU_POOL_COPY, 0, &q, sizeof(q), NULL, 0);
}

static uint64_t dev_alloc(uint64_t n)
{
	struct vgpu_cu_args a = {{n}};
	cr_assert_eq(call("cuMemAlloc_v2", &a), CUDA_SUCCESS);
	return a.a[0];
}

Test(alias, hostile_lists_are_refused)
{
	const uint64_t top = VW_ALIAS_TOP, h = hole[0];
	struct {
		uint64_t a[8];
		const char *what;
	} bad[] = {
		{{8, h, h, h, h, h, h, h}, "more than seven"},
		{{UINT64_MAX, h}, "a count that wraps"},
		{{1, 0}, "address 0"},
		{{2, h, h + 100}, "not page aligned"},
		{{1, top - 4096}, "ends above 2^47"},
		{{1, top}, "starts at 2^47"},
		{{1, UINT64_MAX - 4095}, "wraps"},
		{{1, (UINT64_MAX - POOL + 1) & ~4095ull}, "ends exactly at 2^64"},
	};
	struct vgpu_cu_args in, out;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(in.a, bad[i].a, sizeof(in.a));
		cr_expect_eq(pool_open(&in, sizeof(in), &out),
			     CUDA_ERROR_INVALID_VALUE, "%s", bad[i].what);
		cr_expect_eq(out.a[0], 0);
	}
	in = (struct vgpu_cu_args){{1, h}};
	cr_expect_eq(pool_open(&in, 16, &out), CUDA_ERROR_INVALID_VALUE,
		     "a short argument block");
	cr_expect_eq(pool_copy(dev_alloc(64), 0, 16, 1),
		     CUDA_ERROR_INVALID_VALUE, "nothing was opened");
	cr_expect_eq(W.pool_alias, NULL);
	cr_expect(vw_alias_valid(NULL, 0, POOL), "no candidates: as before");
	cr_expect_not(vw_alias_valid(&h, 1, 0), "nothing to map");
	cr_expect_not(vw_alias_valid(&h, 1, 100), "a partial page");
}

Test(alias, a_candidate_taken_here_is_skipped)
{
	struct vgpu_cu_args in = {{3, (uint64_t)(uintptr_t)taken, hole[0],
				   hole[1]}}, out;
	cr_assert_eq(pool_open(&in, sizeof(in), &out), CUDA_SUCCESS);
	cr_expect_eq(out.a[0], hole[0], "the first candidate free here");
	cr_expect_eq(out.a[1], POOL);
	cr_expect_eq(taken[0], 42, "the mapping in the way is untouched");
	cr_expect_eq((uint64_t)(uintptr_t)W.pool_alias, hole[0]);
	/* registered there: its device pointer is its address */
	CUdeviceptr d = 0;
	cr_expect_eq(W.drv.cuMemHostGetDevicePointer_v2(
			     &d, (void *)(uintptr_t)(hole[0] + 100), 0),
		     CUDA_SUCCESS);
	cr_expect_eq(d, hole[0] + 100);
	/* a second open answers the same, whatever it offers */
	in = (struct vgpu_cu_args){{1, hole[1]}};
	cr_assert_eq(pool_open(&in, sizeof(in), &out), CUDA_SUCCESS);
	cr_expect_eq(out.a[0], hole[0]);
}

Test(alias, pool_copies_go_through_the_alias)
{
	struct vgpu_cu_args in = {{1, hole[1]}}, out;
	cr_assert_eq(pool_open(&in, sizeof(in), &out), CUDA_SUCCESS);
	cr_assert_eq(out.a[0], hole[1]);
	uint8_t *a = (uint8_t *)(uintptr_t)hole[1], got[256];
	uint64_t d = dev_alloc(4096);
	cr_assert_eq(pool_copy(d, 1000, 256, 1), CUDA_SUCCESS);
	cr_assert_eq(W.drv.cuMemcpyDtoH_v2(got, d, 256), CUDA_SUCCESS);
	for (unsigned i = 0; i < 256; i++)
		cr_expect_eq(got[i], (uint8_t)((1000 + i) * 7 + 3),
			     "byte %u: from the region file", i);
	memset(got, 0xe1, sizeof(got));
	cr_assert_eq(W.drv.cuMemcpyHtoD_v2(d, got, 256), CUDA_SUCCESS);
	cr_assert_eq(pool_copy(d, POOL - 256, 256, 0), CUDA_SUCCESS);
	cr_expect_eq(a[POOL - 256], 0xe1);
	cr_expect_eq(a[POOL - 1], 0xe1);
	int fd = open(path, O_RDONLY);
	uint8_t last = 0;
	cr_assert_eq(pread(fd, &last, 1, (off_t)(slice_off + POOL - 1)), 1);
	close(fd);
	cr_expect_eq(last, 0xe1, "shared: the region file has it");
	/* the worker's end: unregistered and unmapped */
	vw_mem_pool_close(&W);
	CUdeviceptr dp;
	cr_expect_eq(W.drv.cuMemHostGetDevicePointer_v2(&dp, a, 0),
		     CUDA_ERROR_INVALID_VALUE);
	void *m = mmap(a, POOL, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	cr_expect_eq(m, (void *)a, "the range is free again");
	munmap(m, POOL);
	cr_expect_eq(pool_copy(d, 0, 16, 1), CUDA_ERROR_INVALID_VALUE,
		     "closed");
}

Test(alias, nothing_usable_keeps_the_region_address)
{
	struct vgpu_cu_args in = {{1, (uint64_t)(uintptr_t)taken}}, out;
	cr_assert_eq(pool_open(&in, sizeof(in), &out), CUDA_SUCCESS);
	cr_expect_eq(out.a[0], (uint64_t)(uintptr_t)vgpu_pool(&W.r, W.chan));
	cr_expect_eq(W.pool_alias, NULL);
}

Test(alias, without_a_region_file_the_region_address)
{
	W.region_path = NULL;
	struct vgpu_cu_args in = {{1, hole[0]}}, out;
	cr_assert_eq(pool_open(&in, sizeof(in), &out), CUDA_SUCCESS);
	cr_expect_eq(out.a[0], (uint64_t)(uintptr_t)vgpu_pool(&W.r, W.chan));
}

Test(alias, the_map_itself)
{
	uint64_t c[3] = {(uint64_t)(uintptr_t)taken, hole[1], hole[0]};
	uint8_t *m = vw_alias_map(path, slice_off, POOL, c, 3);
	cr_assert_eq((uint64_t)(uintptr_t)m, hole[1], "the first free one");
	cr_expect_eq(m[5], (uint8_t)(5 * 7 + 3));
	vw_alias_unmap(m, POOL);
	cr_expect_null(vw_alias_map(path, slice_off + 1, POOL, c, 3),
		       "a file offset off the page");
	cr_expect_null(vw_alias_map(NULL, slice_off, POOL, c, 3));
	cr_expect_null(vw_alias_map("/dev/shm/vgpu-alias-none", slice_off,
				    POOL, c, 3));
	cr_expect_null(vw_alias_map(path, slice_off, POOL, c, 1),
		       "the only one taken");
	cr_expect_null(vw_alias_map(path, slice_off, POOL, c, 0));
}
