/* daemon/worker_alias.c - map the pinned pool slice at a guest-chosen
 * address (worker_alias.h states the contract). */
#define _GNU_SOURCE
#include "worker_alias.h"
#include <fcntl.h>
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096ull

bool vw_alias_valid(const uint64_t *cand, uint64_t n, uint64_t size)
{
	uint64_t end;
	if (n > VW_ALIAS_MAX || (n && (!size || size % PAGE)))
		return false;
	for (uint64_t i = 0; i < n; i++)
		if (!cand[i] || cand[i] % PAGE ||
		    __builtin_add_overflow(cand[i], size, &end) ||
		    end > VW_ALIAS_TOP)
			return false;
	return true;
}

/* One candidate: exactly there, or not at all. */
static void *map_at(int fd, uint64_t file_off, uint64_t size, uint64_t at)
{
	void *want = (void *)(uintptr_t)at;
	void *m = mmap(want, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED_NOREPLACE, fd, (off_t)file_off);
	if (m == MAP_FAILED)
		return NULL;
	if (m != want) { /* a kernel before 4.17 took the address as a hint */
		munmap(m, size);
		return NULL;
	}
	return m;
}

void *vw_alias_map(const char *path, uint64_t file_off, uint64_t size,
		   const uint64_t *cand, unsigned n)
{
	if (!path || !n || !vw_alias_valid(cand, n, size) ||
	    file_off % PAGE || file_off > (uint64_t)INT64_MAX)
		return NULL;
	/* a new descriptor: worker_main.c closed its own after mapping */
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	void *m = NULL;
	for (unsigned i = 0; i < n && !m; i++)
		m = map_at(fd, file_off, size, cand[i]);
	close(fd);
	if (m) /* as the region: a forked helper never shares the slice */
		madvise(m, size, MADV_DONTFORK);
	return m;
}

void vw_alias_unmap(void *p, uint64_t size)
{
	if (p)
		munmap(p, size);
}
