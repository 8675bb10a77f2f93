/* guest/cuda/nvrtc_cache_store.h - the on-disk store behind table
 * da9151d3 (NVRTC's compute cache; guest/cuda/export_nvrtc_cache.c).
 *
 * Contract: an entry maps a key (bytes, at most VGPU_NC_KEY_MAX) to data
 * (at most VGPU_NC_DATA_MAX bytes). Each entry is one file in dir, named
 * by a hash of the key and holding the whole key, which a lookup compares
 * byte for byte: a hash collision or a damaged, truncated or foreign file
 * reads as a miss, never as another key's data. Stores write a temporary
 * file and rename it, so concurrent processes see whole entries or none;
 * a store is refused once the files in dir would exceed max_total bytes
 * (nothing is evicted). The store lives in the guest: it holds only what
 * processes of this VM put there, as the native driver's cache holds only
 * its user's.
 */
#ifndef VGPU_GUEST_CUDA_NVRTC_CACHE_STORE_H
#define VGPU_GUEST_CUDA_NVRTC_CACHE_STORE_H

#include <stddef.h>
#include <stdint.h>

#define VGPU_NC_KEY_MAX (64u << 20)
#define VGPU_NC_DATA_MAX (256u << 20)
#define VGPU_NC_TOTAL_DEFAULT (256ull << 20)

/* The directory from the environment: NULL when CUDA_CACHE_DISABLE=1 or
 * no directory is known; else $CUDA_CACHE_PATH/vgpu-nvrtc, or
 * $HOME/.nv/ComputeCache/vgpu-nvrtc (the native driver's defaults),
 * created (0700) if missing. Returns buf. */
const char *vgpu_nc_dir(char *buf, size_t cap);
/* CUDA_CACHE_MAXSIZE (bytes) when set and valid, else the default. */
uint64_t vgpu_nc_max_total(void);
/* 0 and a malloc'd copy of key's data (*n bytes); -1 on a miss. */
int vgpu_nc_get(const char *dir, const void *key, size_t kn, void **data,
		uint32_t *n);
/* 0 when key's entry is there afterwards; -1 when not stored. */
int vgpu_nc_put(const char *dir, const void *key, size_t kn,
		const void *data, uint32_t n, uint64_t max_total);

#endif
