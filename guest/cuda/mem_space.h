/* guest/cuda/mem_space.h - the guest's map of its unified address space.
 *
 * Contract: every range of device memory this process allocated through
 * vgpu (cuMemAlloc*, cuMemAllocPitch, cuMemAllocAsync) and every range of
 * host memory the driver knows (pinned pool blocks, registered ranges) is
 * recorded here with its kind, so unified-addressing calls
 * (cuPointerGetAttribute(s), cuMemcpy direction inference,
 * cuMemGetAddressRange) answer in the guest. A device range is also
 * reserved in this process's own address space (PROT_NONE, by 2 MiB
 * granule, MAP_FIXED_NOREPLACE, kept after the memory is freed, as the
 * driver keeps its virtual range) so that no later host allocation of the
 * guest can ever have an address inside it (inside the worker's device
 * address windows, reserved whole before the first allocation by
 * lib_va.c, nothing more is needed); an allocation the guest's own
 * mappings already overlap is not handed out (the allocating wrapper asks
 * the worker again). Entries belong to one connection: after fork() and a
 * fresh cuInit the parent's are gone. docs/memory.md states the policy.
 */
#ifndef VGPU_GUEST_CUDA_MEM_SPACE_H
#define VGPU_GUEST_CUDA_MEM_SPACE_H

#include <cuda.h>
#include <stdbool.h>
#include <stdint.h>

enum vgpu_space_kind {
	VGPU_SPACE_DEVICE = 1,     /* device memory */
	VGPU_SPACE_PINNED,         /* cuMemHostAlloc: the region's pool */
	VGPU_SPACE_REGISTERED,     /* cuMemHostRegister: staged copies */
};

struct vgpu_space {
	uint64_t base, size;       /* as the guest addresses it */
	uint64_t dev;              /* device address of base (host kinds:
				    * cuMemHostGetDevicePointer's answer) */
	uint64_t id;               /* CU_POINTER_ATTRIBUTE_BUFFER_ID */
	uint64_t pool_off;         /* PINNED: offset in the channel's pool */
	unsigned flags;            /* cuMemHostAlloc/Register flags */
	uint8_t kind;
	bool async;                /* DEVICE: from cuMemAllocAsync */
	bool global;               /* DEVICE: a module's variable */
	bool reserved;             /* DEVICE: reserved here (a global may not be) */
};

/* Record e (id assigned here). DEVICE ranges are reserved first:
 * CUDA_ERROR_ALREADY_MAPPED if a guest mapping is in the way. */
CUresult vgpu_space_add(struct vgpu_space *e);
/* A module global the guest learnt of: recorded as device memory, and
 * reserved where the guest's mappings allow (its address is fixed). Any
 * later allocation overlapping it replaces it: the module is gone. */
void vgpu_space_note_global(uint64_t base, uint64_t size);
/* The entry containing [p, p + n) (n 0 counts as 1), copied. */
bool vgpu_space_find(uint64_t p, uint64_t n, struct vgpu_space *out);
/* Whether any entry overlaps [p, p + n); the first one found, copied. */
bool vgpu_space_overlap(uint64_t p, uint64_t n, struct vgpu_space *out);
/* The entry of that kind whose device alias contains p (host kinds). */
bool vgpu_space_find_dev(uint64_t p, struct vgpu_space *out);
/* Remove the entry of that kind starting at base; false if none. */
bool vgpu_space_take(uint64_t base, uint8_t kind, struct vgpu_space *out);

/* Device memory through the worker, recorded here (mem_space.c). */
CUresult vgpu_mem_alloc(CUdeviceptr *p, size_t n);
/* The worker's allocation calls the hand-written exports wrap. */
CUresult vgpu_gen_cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize);
CUresult vgpu_gen_cuMemFree_v2(CUdeviceptr dptr);
CUresult vgpu_gen_cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize,
				  CUstream hStream);
CUresult vgpu_gen_cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream);
CUresult vgpu_gen_cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize,
					  CUmemoryPool pool, CUstream hStream);

/* Copies between guest memory and the device (guest/cuda/mem.c): stream
 * VGPU_CU_NO_STREAM for the plain synchronous forms; async false for the
 * synchronous per-thread-stream ones. */
CUresult vgpu_mem_htod(CUdeviceptr dst, const void *src, size_t n,
		       uint64_t stream, bool async);
CUresult vgpu_mem_dtoh(void *dst, CUdeviceptr src, size_t n,
		       uint64_t stream, bool async);

/* Pinned memory (guest/cuda/mem_host.c): whether [p, p + n) lies in this
 * process's pool slice, and its offset there; a copy between it and the
 * device. */
bool vgpu_pool_range(const void *p, size_t n, uint64_t *off);
CUresult vgpu_pool_copy(CUdeviceptr dev, uint64_t off, size_t n,
			uint64_t stream, bool htod, bool async);
/* Whether device range [dev, dev + n) is the alias of pinned memory, and
 * its host address; a host copy ordered after the stream's work. */
bool vgpu_pool_alias(uint64_t dev, size_t n, void **host);
CUresult vgpu_pool_host_copy(void *dst, const void *src, size_t n,
			     uint64_t stream);

/* The stream a _ptsz entry point means by s: 0 is the per-thread one. */
static inline CUstream vgpu_ptsz(CUstream s)
{
	return s ? s : CU_STREAM_PER_THREAD;
}

#endif
