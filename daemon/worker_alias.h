/* daemon/worker_alias.h - the pinned pool slice mapped at an address the
 * guest process also has free (docs/memory.md "Host memory").
 *
 * Contract: VGPU_CU_POOL_OPEN may carry candidate addresses the guest has
 * reserved in its own process (a[0] = count, a[1..count] addresses).
 * vw_alias_valid() says whether such a list is well formed: at most
 * VW_ALIAS_MAX entries, each non-zero, page aligned, and [c, c + size)
 * below 2^47 without overflow; the caller answers CUDA_ERROR_INVALID_VALUE
 * otherwise. vw_alias_map() maps [file_off, file_off + size) of the region
 * file at path, shared, at the first candidate that is free in this
 * process (MAP_FIXED_NOREPLACE: never over a mapping of ours; on
 * hugetlbfs only a huge-page aligned one maps), and returns it, or NULL
 * where none maps. vw_alias_unmap() undoes it. Registering the mapping
 * with the driver is the caller's (worker_mem.c).
 */
#ifndef VGPU_DAEMON_WORKER_ALIAS_H
#define VGPU_DAEMON_WORKER_ALIAS_H

#include <stdbool.h>
#include <stdint.h>

#define VW_ALIAS_MAX 7u /* the args block's a[1..7] */
#define VW_ALIAS_TOP (1ull << 47) /* x86-64 and arm64 user space */

bool vw_alias_valid(const uint64_t *cand, uint64_t n, uint64_t size);
void *vw_alias_map(const char *path, uint64_t file_off, uint64_t size,
		   const uint64_t *cand, unsigned n);
void vw_alias_unmap(void *p, uint64_t size);

#endif
