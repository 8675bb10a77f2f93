/* guest/cuda/export_cublas_stream.h - entries 51 and 39 of table
 * 21318c60: a stream handle's driver object, and that object's stream id.
 *
 * Contract (measured on driver 580.159.04, H100, 2026-11-26; docs/lib.md):
 *  entry 51 (CUcontext ctx, CUstream s, void **out, int ptds): the object
 *   of stream s, the same pointer for the same stream every time. s 0 is
 *   the context's legacy stream, or with ptds set its per-thread stream; 1
 *   (CU_STREAM_LEGACY) and 2 (CU_STREAM_PER_THREAD) are those streams
 *   whatever ptds says; for these three ctx names the context and NULL is
 *   CUDA_ERROR_INVALID_HANDLE; any other s is a stream and ctx is not
 *   looked at. out NULL is CUDA_ERROR_INVALID_VALUE, s (CUstream)-1
 *   CUDA_ERROR_INVALID_HANDLE.
 *  entry 39 (CUcontext ctx, void *obj, unsigned long long *id): the
 *   stream id of an object entry 51 gave (cuStreamGetId's); ctx is not
 *   looked at. obj or id NULL is CUDA_ERROR_INVALID_VALUE, and so (here,
 *   the driver reads whatever obj points at) is an object not handed out.
 * cuBLAS calls them for a handle with no workspace set: it keeps its own
 * workspace per stream, keyed by the stream's id.
 * Objects are the guest's: one small record per stream id, kept for the
 * process's life (ids are never reused, a record is 16 bytes).
 */
#ifndef VGPU_GUEST_CUDA_EXPORT_CUBLAS_STREAM_H
#define VGPU_GUEST_CUDA_EXPORT_CUBLAS_STREAM_H

#include <cuda.h>

CUresult vgpu_cublas_stream_object(CUcontext ctx, CUstream s, void **out,
				   int ptds);
CUresult vgpu_cublas_stream_id(CUcontext ctx, const void *obj,
			       unsigned long long *id);

#endif
