/* ring/va_maps.c - the process's mappings, and reserving what is free
 * (contract in va_maps.h). */
#define _GNU_SOURCE
#include "va_maps.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

/* Ranges read at once: beyond it the last range absorbs the rest, which
 * only makes the free space found smaller. */
#define MAPS_MAX 8192

int vgpu_maps_read(struct vgpu_va_range *v, int cap)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	unsigned long lo, hi;
	int n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2 || lo >= hi ||
		    hi > VGPU_VA_LIMIT)
			continue;
		if (n && v[n - 1].hi >= lo) { /* the file is sorted */
			if (hi > v[n - 1].hi)
				v[n - 1].hi = hi;
		} else if (n < cap) {
			v[n].lo = lo;
			v[n].hi = hi;
			n++;
		} else {
			/* out of room: the last range absorbs the rest */
			v[n - 1].hi = hi;
		}
	}
	fclose(f);
	return n;
}

int vgpu_maps_find(uint64_t p, struct vgpu_va_range *out)
{
	struct vgpu_va_range *v = malloc(MAPS_MAX * sizeof(*v));
	int n = v ? vgpu_maps_read(v, MAPS_MAX) : -1, rc = -1;
	for (int i = 0; i < n && rc; i++)
		if (p >= v[i].lo && p < v[i].hi) {
			*out = v[i];
			rc = 0;
		}
	free(v);
	return rc;
}

int vgpu_maps_merge(struct vgpu_va_range *v, int n, int max)
{
	if (max < 1)
		return n;
	while (n > max) {
		int best = 0;
		for (int i = 1; i + 1 < n; i++)
			if (v[i + 1].lo - v[i].hi < v[best + 1].lo - v[best].hi)
				best = i;
		v[best].hi = v[best + 1].hi;
		for (int i = best + 1; i + 1 < n; i++)
			v[i] = v[i + 1];
		n--;
	}
	return n;
}

static int reserve(uint64_t lo, uint64_t hi,
		   void (*fn)(uint64_t, uint64_t, void *), void *arg)
{
	void *p = mmap((void *)(uintptr_t)lo, hi - lo, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			       MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return errno == EEXIST ? 0 : errno;
	if ((uint64_t)(uintptr_t)p != lo) { /* a kernel ignoring the flag */
		munmap(p, hi - lo);
		return 0;
	}
	if (fn)
		fn(lo, hi, arg);
	return 0;
}

int vgpu_maps_reserve_free(uint64_t lo, uint64_t hi,
			   void (*fn)(uint64_t lo, uint64_t hi, void *arg),
			   void *arg)
{
	struct vgpu_va_range *v = malloc(MAPS_MAX * sizeof(*v));
	int n = v ? vgpu_maps_read(v, MAPS_MAX) : -1, err = 0;
	uint64_t at = lo;
	if (n < 0) {
		err = v ? EIO : ENOMEM;
		free(v);
		return err;
	}
	for (int i = 0; i < n && at < hi && !err; i++) {
		if (v[i].hi <= at)
			continue;
		if (v[i].lo > at)
			err = reserve(at, v[i].lo < hi ? v[i].lo : hi, fn, arg);
		at = v[i].hi;
	}
	if (!err && at < hi)
		err = reserve(at, hi, fn, arg);
	free(v);
	return err;
}
