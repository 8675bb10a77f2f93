/* guest/cuda/mem_host_alias.h - pinned memory at its device address.
 *
 * Contract: vgpu_pool_alias_map() maps the bytes of the region file under
 * this process's pool slice a second time, shared, at exactly the
 * worker's address for the slice (the device pointer the driver gave for
 * it), so that the blocks mem_host.c hands out are their own device
 * pointers, as natively with unified addressing: a kernel can dereference
 * a cuMemHostAlloc pointer. It never maps over anything (MAP_FIXED_NOREPLACE)
 * and, where it cannot map, returns NULL and a sentence saying why; the
 * caller then hands out the region's own addresses. The mapping is
 * MADV_DONTFORK, as the region's: a forked child opens its own slice.
 *
 * vgpu_pool_alias_reserve() reserves up to max ranges of size bytes,
 * 2 MiB aligned (a hugetlbfs region maps only there), PROT_NONE and
 * unbacked, where this process has room: the first ones where the kernel
 * places them, the rest at random addresses between 2^45 and 2^46, far
 * from both processes' libraries; their addresses go to the worker as
 * candidates (VGPU_CU_POOL_OPEN), and vgpu_pool_alias_release() gives
 * back every one but keep. With over set, vgpu_pool_alias_map() maps
 * over such a reservation of ours (MAP_FIXED) instead.
 *
 * vgpu_pool_view: the slice as blocks are handed out, and the pure
 * address arithmetic every pinned-memory lookup goes through.
 */
#ifndef VGPU_GUEST_CUDA_MEM_HOST_ALIAS_H
#define VGPU_GUEST_CUDA_MEM_HOST_ALIAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vgpu_pool_view {
	uint64_t base;  /* where the guest addresses the slice (0: none) */
	uint64_t size;
	uint64_t dev;   /* the slice's device address (the worker's) */
};

/* Whether [p, p + n) lies in the slice (n 0 counts as 1); its offset. */
static inline bool vgpu_pool_view_off(const struct vgpu_pool_view *v,
				      uint64_t p, uint64_t n, uint64_t *off)
{
	if (!n)
		n = 1;
	if (!v->base || p < v->base || p - v->base >= v->size ||
	    n > v->size - (p - v->base))
		return false;
	*off = p - v->base;
	return true;
}

/* Whether device range [d, d + n) is the slice's; the guest's address. */
static inline bool vgpu_pool_view_host(const struct vgpu_pool_view *v,
				       uint64_t d, uint64_t n, uint64_t *host)
{
	if (!n)
		n = 1;
	if (!v->base || !v->dev || d < v->dev || d - v->dev >= v->size ||
	    n > v->size - (d - v->dev))
		return false;
	*host = v->base + (d - v->dev);
	return true;
}

/* Map [file_off, file_off + size) of the file at path, read-write and
 * shared, at dev. The address mapped (== dev), or NULL with *why set. */
void *vgpu_pool_alias_map(const char *path, uint64_t file_off, uint64_t size,
			  uint64_t dev, bool over, const char **why);
#define VGPU_ALIAS_CANDS 7 /* the worker's VW_ALIAS_MAX */
unsigned vgpu_pool_alias_reserve(uint64_t size, uint64_t *cand, unsigned max);
void vgpu_pool_alias_release(const uint64_t *cand, unsigned n, uint64_t size,
			     uint64_t keep);
/* Undo a mapping vgpu_pool_alias_map made. */
void vgpu_pool_alias_unmap(void *p, uint64_t size);

#endif
