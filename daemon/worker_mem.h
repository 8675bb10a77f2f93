/* daemon/worker_mem.h - helpers of the worker's memory area, shared with
 * its tests.
 *
 * Contract: vw_mem_extent() computes the bytes a pitched 3D rectangle
 * spans from its first byte: (depth-1)*rows*pitch + (height-1)*pitch +
 * width, 0 for an empty one; false when a pitch is below the width (more
 * than one row), a slice has fewer rows than the rectangle (more than one
 * slice), or the sum overflows 64 bits.
 *
 * vw_mem_pool_close() drops the pinned pool slice's second mapping
 * (worker_alias.h) and its registration, once no executor can copy
 * through it any more (the worker's end).
 */
#ifndef VGPU_DAEMON_WORKER_MEM_H
#define VGPU_DAEMON_WORKER_MEM_H

#include <stdbool.h>
#include <stdint.h>

bool vw_mem_extent(uint64_t pitch, uint64_t rows, uint64_t width,
		   uint64_t height, uint64_t depth, uint64_t *out);
struct vworker;
void vw_mem_pool_close(struct vworker *W);

#endif
