/* guest/cuda/mem_host_alias.c - map the pinned slice at its device address
 * (mem_host_alias.h states the contract, mem_host.c uses it). */
#define _GNU_SOURCE
#include "mem_host_alias.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096ull
#define HUGE (2ull << 20)
#define KERNEL_PLACED 3 /* then random ones */
#define RAND_LO (1ull << 45)
#define RAND_SPAN (1ull << 45)

/* Under ThreadSanitizer [2^45, 2^46) is not the program's memory: TSan's
 * mmap turns such an address into 0 and keeps MAP_FIXED_NOREPLACE, so
 * the "reservation" lands at address 0 and TSan dies ("mmap at bad
 * address ... res=0"). A TSan build offers the kernel-placed candidates
 * alone. */
#if defined(__SANITIZE_THREAD__)
#define RANDOM_CANDIDATES 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RANDOM_CANDIDATES 0
#endif
#endif
#ifndef RANDOM_CANDIDATES
#define RANDOM_CANDIDATES 1
#endif

static void *reserve_at(void *at, uint64_t len, int fixed)
{
	void *m = mmap(at, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | fixed, -1,
		       0);
	return m == MAP_FAILED ? NULL : m;
}

/* One range where the kernel puts it, trimmed to 2 MiB alignment. */
static uint64_t reserve_placed(uint64_t size)
{
	uint8_t *m = reserve_at(NULL, size + HUGE, 0);
	if (!m)
		return 0;
	uint64_t a = ((uint64_t)(uintptr_t)m + HUGE - 1) & ~(HUGE - 1);
	uint64_t head = a - (uint64_t)(uintptr_t)m;
	if (head)
		munmap(m, head);
	if (HUGE - head)
		munmap((uint8_t *)(uintptr_t)a + size, HUGE - head);
	return a;
}

static uint64_t random64(void)
{
	uint64_t x;
	if (getrandom(&x, sizeof(x), GRND_NONBLOCK) == (ssize_t)sizeof(x))
		return x;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return ((uint64_t)t.tv_nsec << 20) ^ (uint64_t)getpid() ^
	       (uint64_t)(uintptr_t)&x;
}

static uint64_t reserve_random(uint64_t size)
{
	if (!RANDOM_CANDIDATES || size >= RAND_SPAN)
		return 0;
	uint64_t a = (RAND_LO + random64() % (RAND_SPAN - size)) & ~(HUGE - 1);
	void *m = reserve_at((void *)(uintptr_t)a, size, MAP_FIXED_NOREPLACE);
	if (m && m != (void *)(uintptr_t)a) { /* taken as a hint */
		munmap(m, size);
		m = NULL;
	}
	return m ? a : 0;
}

unsigned vgpu_pool_alias_reserve(uint64_t size, uint64_t *cand, unsigned max)
{
	unsigned n = 0;
	if (!size || size % PAGE)
		return 0;
	for (unsigned i = 0; i < max; i++) {
		uint64_t a = i < KERNEL_PLACED ? reserve_placed(size)
					       : reserve_random(size);
		if (a)
			cand[n++] = a;
	}
	return n;
}

void vgpu_pool_alias_release(const uint64_t *cand, unsigned n, uint64_t size,
			     uint64_t keep)
{
	for (unsigned i = 0; i < n; i++)
		if (cand[i] != keep)
			munmap((void *)(uintptr_t)cand[i], size);
}

void *vgpu_pool_alias_map(const char *path, uint64_t file_off, uint64_t size,
			  uint64_t dev, bool over, const char **why)
{
	uint64_t end;
	if (!size || (dev | file_off | size) % PAGE ||
	    __builtin_add_overflow(dev, size, &end) || end > (1ull << 56) ||
	    file_off > (uint64_t)INT64_MAX) {
		*why = "the device address is no page-aligned user address";
		return NULL;
	}
	/* a new descriptor: the transport closed its own after mapping */
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		*why = "the region file cannot be opened again";
		return NULL;
	}
	void *want = (void *)(uintptr_t)dev;
	void *m = mmap(want, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | (over ? MAP_FIXED : MAP_FIXED_NOREPLACE),
		       fd, (off_t)file_off);
	int e = errno;
	close(fd);
	if (m == MAP_FAILED) {
		*why = e == EEXIST ? "that address range is taken here"
				   : "mapping the region there failed";
		return NULL;
	}
	if (m != want) { /* a kernel before 4.17 took the address as a hint */
		munmap(m, size);
		*why = "that address range is taken here";
		return NULL;
	}
	madvise(m, size, MADV_DONTFORK);
	return m;
}

void vgpu_pool_alias_unmap(void *p, uint64_t size)
{
	if (p)
		munmap(p, size);
}
