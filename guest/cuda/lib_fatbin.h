/* guest/cuda/lib_fatbin.h - the bytes of a kernel image worth shipping.
 *
 * Contract: cuModuleLoadData and cuLibraryLoadData get a pointer and no
 * length: a cubin (ELF64), a fatbin (0xBA55ED50), a fatbin wrapper
 * (0x466243B1, version 1: {magic, version, fatbin, unused}; version 2, what
 * nvcc 12/13 emit: {magic, version, fatbin, NULL-terminated array of
 * prelinked fatbins}) or PTX text. vgpu_image_prepare() finds the image's
 * extent from its own headers and, for a fatbin, keeps only what a device
 * of compute capability sm (major * 10 + minor) runs: every cubin of the
 * best compatible architecture (same major, minor <= the device's; the
 * newest such), else the newest PTX not newer than the device. Kept
 * entries are copied as they are, compressed ones included (the host's
 * driver decompresses). Nothing usable: CUDA_ERROR_NO_BINARY_FOR_GPU. A
 * malformed image: CUDA_ERROR_INVALID_IMAGE. A version 2 wrapper that
 * lists prelinked fatbins (relocatable device code, nvcc -rdc) holds the
 * device-linked program in its fatbin: a cubin for the device there is
 * used; otherwise (PTX would need the objects JIT-linked again)
 * CUDA_ERROR_NOT_SUPPORTED.
 * The result is a fresh fatbin in out->owned, or the caller's own bytes;
 * when entries were dropped, out->whole is the caller's whole container,
 * for a retry when the host's driver finds nothing it runs in the cut
 * (its choice is the authority; the cut only saves bytes).
 */
#ifndef VGPU_GUEST_CUDA_LIB_FATBIN_H
#define VGPU_GUEST_CUDA_LIB_FATBIN_H

#include <cuda.h>
#include <stddef.h>
#include <stdint.h>

#define VGPU_WRAPPER_MAGIC 0x466243B1u
#define VGPU_FATBIN_MAGIC 0xBA55ED50u

struct vgpu_image {
	const uint8_t *data; /* what to ship */
	size_t len;
	uint8_t *owned;      /* data, when it was built here (free it) */
	unsigned kept, dropped; /* fatbin entries */
	const uint8_t *whole;   /* the uncut container (when dropped > 0) */
	size_t whole_len;
};

CUresult vgpu_image_prepare(const void *image, int sm, struct vgpu_image *out);
void vgpu_image_release(struct vgpu_image *im);

#endif
