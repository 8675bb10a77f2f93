/* tests/unit/test_pinned_alias.c - pinned memory at its device address
 * (guest/cuda/mem_host_alias.h): the address arithmetic every pinned
 * lookup goes through (edges, overflow, no slice), and the second mapping
 * of a region file at a given address: shared with the first, never over
 * an existing mapping, refused when misaligned or when the file is gone,
 * and not inherited by a forked child. */
#define _GNU_SOURCE
#include "../../guest/cuda/mem_host_alias.c" /* the guest's code, linked here */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define KB 1024ull
#define MB (1024 * KB)

static const struct vgpu_pool_view V = {.base = 0x7f0000000000ull,
					.size = 4 * MB,
					.dev = 0x7e0000000000ull};

Test(pinned_alias, offsets_inside_and_at_the_edges)
{
	uint64_t off = 77;
	cr_assert(vgpu_pool_view_off(&V, V.base, 1, &off));
	cr_expect_eq(off, 0);
	cr_assert(vgpu_pool_view_off(&V, V.base + 4096, 4 * MB - 4096, &off));
	cr_expect_eq(off, 4096);
	cr_assert(vgpu_pool_view_off(&V, V.base + 4 * MB - 1, 1, &off));
	cr_expect_eq(off, 4 * MB - 1);
	cr_assert(vgpu_pool_view_off(&V, V.base + 5, 0, &off)); /* 0 is 1 */
	cr_expect_eq(off, 5);
}

Test(pinned_alias, outside_and_overflow_refused)
{
	uint64_t off = 77;
	cr_expect_not(vgpu_pool_view_off(&V, V.base - 1, 1, &off));
	cr_expect_not(vgpu_pool_view_off(&V, V.base + 4 * MB, 1, &off));
	cr_expect_not(vgpu_pool_view_off(&V, V.base + 4 * MB, 0, &off));
	cr_expect_not(vgpu_pool_view_off(&V, V.base + 1, 4 * MB, &off));
	cr_expect_not(vgpu_pool_view_off(&V, V.base + 8, UINT64_MAX, &off));
	cr_expect_not(vgpu_pool_view_off(&V, UINT64_MAX, 2, &off));
	cr_expect_eq(off, 77, "untouched on a miss");
	struct vgpu_pool_view none = {0};
	cr_expect_not(vgpu_pool_view_off(&none, 0, 1, &off));
	cr_expect_not(vgpu_pool_view_host(&none, 0, 1, &off));
}

Test(pinned_alias, device_to_host)
{
	uint64_t h = 0;
	cr_assert(vgpu_pool_view_host(&V, V.dev + 100, 28, &h));
	cr_expect_eq(h, V.base + 100);
	cr_assert(vgpu_pool_view_host(&V, V.dev, 4 * MB, &h));
	cr_expect_eq(h, V.base);
	cr_expect_not(vgpu_pool_view_host(&V, V.dev - 1, 1, &h));
	cr_expect_not(vgpu_pool_view_host(&V, V.dev + 4 * MB, 1, &h));
	cr_expect_not(vgpu_pool_view_host(&V, V.dev + 4, UINT64_MAX - 2, &h));
	cr_expect_not(vgpu_pool_view_host(&V, V.base, 1, &h),
		      "a host address is no device address here");
}

/* Once the alias is mapped, base == dev: one address answers both. */
Test(pinned_alias, mapped_alias_is_both)
{
	struct vgpu_pool_view v = {.base = V.dev, .size = V.size, .dev = V.dev};
	uint64_t off = 0, h = 0;
	cr_assert(vgpu_pool_view_off(&v, V.dev + 8192, 16, &off));
	cr_assert(vgpu_pool_view_host(&v, V.dev + 8192, 16, &h));
	cr_expect_eq(off, 8192);
	cr_expect_eq(h, V.dev + 8192);
}

/* A region file, mapped whole, and an address where nothing is mapped. */
static char path[64];
static uint8_t *region;
static uint64_t hole;

static void up(void)
{
	snprintf(path, sizeof(path), "/dev/shm/vgpu-pinned-alias-%d", (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 8 * MB), 0);
	region = mmap(NULL, 8 * MB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert_neq(region, MAP_FAILED);
	void *h = mmap(NULL, 4 * MB, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(h, MAP_FAILED);
	munmap(h, 4 * MB);
	hole = (uint64_t)(uintptr_t)h;
}

static void down(void)
{
	munmap(region, 8 * MB);
	unlink(path);
}

TestSuite(pinned_alias, .init = up, .fini = down);

Test(pinned_alias, second_mapping_shares_the_bytes)
{
	const char *why = NULL;
	uint8_t *m = vgpu_pool_alias_map(path, 2 * MB, 1 * MB, hole, false, &why);
	cr_assert_eq((uint64_t)(uintptr_t)m, hole, "why: %s", why);
	memset(region + 2 * MB, 0xab, 4096);
	cr_expect_eq(m[0], 0xab);
	cr_expect_eq(m[4095], 0xab);
	m[1 * MB - 1] = 0x5c; /* the slice's last byte */
	cr_expect_eq(region[3 * MB - 1], 0x5c);
	cr_expect_eq(region[3 * MB], 0, "nothing past the slice");
	vgpu_pool_alias_unmap(m, 1 * MB);
}

Test(pinned_alias, never_over_an_existing_mapping)
{
	const char *why = NULL;
	uint8_t *mine = mmap((void *)(uintptr_t)(hole + 1 * MB), 4096,
			     PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			     -1, 0);
	cr_assert_eq((uint64_t)(uintptr_t)mine, hole + 1 * MB);
	mine[0] = 42;
	cr_expect_null(vgpu_pool_alias_map(path, 0, 2 * MB, hole, false, &why));
	cr_expect_str_eq(why, "that address range is taken here");
	cr_expect_eq(mine[0], 42, "the mapping in the way is untouched");
	/* nor the part below it: the range is still free */
	void *m = mmap((void *)(uintptr_t)hole, 1 * MB, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
		       0);
	cr_expect_eq((uint64_t)(uintptr_t)m, hole);
	munmap(m, 1 * MB);
	munmap(mine, 4096);
}

Test(pinned_alias, refused_misaligned_or_without_the_file)
{
	const char *why = NULL;
	cr_expect_null(vgpu_pool_alias_map(path, 0, 1 * MB, hole + 8, false, &why));
	cr_expect_str_eq(why, "the device address is no page-aligned user address");
	cr_expect_null(vgpu_pool_alias_map(path, 100, 1 * MB, hole, false, &why));
	cr_expect_null(vgpu_pool_alias_map(path, 0, 0, hole, false, &why));
	cr_expect_null(vgpu_pool_alias_map(path, 0, 1 * MB,
					   UINT64_MAX - 4095, false, &why));
	cr_expect_null(vgpu_pool_alias_map("/dev/shm/vgpu-pinned-alias-none", 0, 1 * MB,
					   hole, false, &why));
	cr_expect_str_eq(why, "the region file cannot be opened again");
}

Test(pinned_alias, not_inherited_by_a_child)
{
	const char *why = NULL;
	uint8_t *m = vgpu_pool_alias_map(path, 0, 1 * MB, hole, false, &why);
	cr_assert_not_null(m, "why: %s", why);
	pid_t pid = fork();
	if (!pid) {
		unsigned char vec[1];
		/* ENOMEM: nothing is mapped there in the child */
		_exit(mincore(m, 4096, vec) == -1 && errno == ENOMEM ? 0 : 1);
	}
	int st = 0;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	vgpu_pool_alias_unmap(m, 1 * MB);
}

/* The guest's candidates (VGPU_CU_POOL_OPEN): distinct, 2 MiB aligned
 * reservations of ours, none over another mapping; the one kept can be
 * mapped over, the others are free again once released. */
Test(pinned_alias, candidates_are_reserved_aligned_and_released)
{
	uint64_t c[VGPU_ALIAS_CANDS];
	unsigned n = vgpu_pool_alias_reserve(1 * MB, c, VGPU_ALIAS_CANDS);
	cr_assert_geq(n, 3u, "the kernel-placed ones at least");
	for (unsigned i = 0; i < n; i++) {
		cr_expect_eq(c[i] % (2 * MB), 0);
		cr_expect_lt(c[i] + 1 * MB, 1ull << 47);
		for (unsigned j = 0; j < i; j++)
			cr_expect(c[i] + 1 * MB <= c[j] || c[j] + 1 * MB <= c[i],
				  "candidates %u and %u overlap", i, j);
		/* reserved: nobody else's mapping lands there */
		void *m = mmap((void *)(uintptr_t)c[i], 4096, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			       -1, 0);
		cr_expect_eq(m, MAP_FAILED, "candidate %u not reserved", i);
	}
	const char *why = NULL;
	uint8_t *a = vgpu_pool_alias_map(path, 2 * MB, 1 * MB, c[1], false, &why);
	cr_expect_null(a, "never over a reservation without over");
	a = vgpu_pool_alias_map(path, 2 * MB, 1 * MB, c[1], true, &why);
	cr_assert_eq((uint64_t)(uintptr_t)a, c[1], "why: %s", why);
	vgpu_pool_alias_release(c, n, 1 * MB, c[1]);
	region[2 * MB + 7] = 0x77;
	cr_expect_eq(a[7], 0x77, "the kept one is the alias");
	for (unsigned i = 0; i < n; i++) {
		if (i == 1)
			continue;
		void *m = mmap((void *)(uintptr_t)c[i], 1 * MB, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			       -1, 0);
		cr_expect_eq((uint64_t)(uintptr_t)m, c[i], "%u released", i);
		munmap(m, 1 * MB);
	}
	vgpu_pool_alias_unmap(a, 1 * MB);
	cr_expect_eq(vgpu_pool_alias_reserve(1 * MB + 1, c, 1), 0u,
		     "no reservation of a partial page");
}
