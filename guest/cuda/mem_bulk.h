/* guest/cuda/mem_bulk.h - large pageable copies on several guest threads
 * (mem_bulk.c states the contract). */
#ifndef VGPU_GUEST_CUDA_MEM_BULK_H
#define VGPU_GUEST_CUDA_MEM_BULK_H

#include "rpc.h"

/* op: VGPU_CU_MEMCPY_HTOD (out = true) or VGPU_CU_MEMCPY_DTOH. */
CUresult vgpu_bulk_copy(uint16_t op, const struct vgpu_cu_xfer *x, void *buf,
			uint64_t len, bool out);
/* Bytes per arena chunk for a stream of len bytes: VGPU_CHUNK if set,
 * else len / 8 within [1 MiB, 4 MiB]. */
uint64_t vgpu_bulk_chunk(uint64_t len);

#endif
