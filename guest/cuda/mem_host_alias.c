/* guest/cuda/mem_host_alias.c - map the pinned slice at its device address
 * (mem_host_alias.h states the contract, mem_host.c uses it). */
#define _GNU_SOURCE
#include "mem_host_alias.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096ull

void *vgpu_pool_alias_map(const char *path, uint64_t file_off, uint64_t size,
			  uint64_t dev, const char **why)
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
		       MAP_SHARED | MAP_FIXED_NOREPLACE, fd, (off_t)file_off);
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
