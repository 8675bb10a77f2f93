/* ring/va_maps.h - this process's address space as /proc/self/maps shows
 * it, for the guest library and the worker, which keep each other's
 * device and host ranges apart (docs/memory.md, "Address spaces").
 *
 * Contract: vgpu_maps_read() fills up to cap ranges [lo, hi) of the
 * process's mappings below 2^47, sorted and with touching ones joined,
 * and returns how many (-1 if the file cannot be read). The rest run on
 * such a list and allocate nothing. vgpu_maps_reserve_free() maps the
 * free parts of [lo, hi) inaccessible (PROT_NONE, MAP_NORESERVE,
 * MAP_FIXED_NOREPLACE, so nothing existing is ever replaced) and calls
 * fn on each part it reserved; it returns 0 or the first mmap errno other
 * than EEXIST (a mapping made since the list was read stays as it is).
 */
#ifndef VGPU_RING_VA_MAPS_H
#define VGPU_RING_VA_MAPS_H

#include <stddef.h>
#include <stdint.h>

#define VGPU_VA_LIMIT (1ull << 47)

struct vgpu_va_range {
	uint64_t lo, hi;
};

int vgpu_maps_read(struct vgpu_va_range *v, int cap);
/* The range of the mapping containing p, joined with touching ones. */
int vgpu_maps_find(uint64_t p, struct vgpu_va_range *out);
/* Merge v (sorted, n entries) in place until at most max remain, joining
 * across the smallest gaps first; the new count. */
int vgpu_maps_merge(struct vgpu_va_range *v, int n, int max);
int vgpu_maps_reserve_free(uint64_t lo, uint64_t hi,
			   void (*fn)(uint64_t lo, uint64_t hi, void *arg),
			   void *arg);

#endif
