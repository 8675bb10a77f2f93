/* guest/cuda/mem_set.c - cuMemsetD16/D32Async and the 2D memsets
 * (D2D8/16/32), synchronous, asynchronous and per-thread-stream forms.
 * (cuMemsetD8, D32 and D8Async are generated from ring/cuda.api.)
 *
 * One message each (struct vgpu_cu_memset). A synchronous memset waits
 * for the worker's checks and the enqueue, not for the device: natively
 * a memset of device memory is asynchronous with respect to the host too.
 * Asynchronous ones cost no round trip; their errors surface at the next
 * synchronising call.
 */
#include "mem_space.h"
#include "rpc.h"

#define PER_THREAD ((uint64_t)(uintptr_t)CU_STREAM_PER_THREAD)

static CUresult set(CUdeviceptr dst, size_t pitch, uint32_t v, uint32_t elem,
		    size_t w, size_t h, uint64_t stream, bool sync)
{
	if (stream == VGPU_CU_NO_STREAM)
		return CUDA_ERROR_INVALID_HANDLE; /* no stream we issued */
	struct vgpu_cu_memset q = {.dst = dst, .pitch = pitch, .width = w,
				   .height = h, .stream = stream, .value = v,
				   .elem = elem};
	return vgpu_cu_call(VGPU_CU_MEMSET_2D, &q, sizeof(q), NULL, 0, sync,
			    "cuMemset");
}

static uint64_t sid(CUstream s)
{
	return (uint64_t)(uintptr_t)s;
}

/* Each entry point is one line: its name, value type, element size,
 * stream and whether the caller waits. */
#define SET1(name, T, elem, stream, sync)                                     \
	VGPU_EXPORT CUresult name(CUdeviceptr d, T v, size_t n)               \
	{                                                                     \
		return set(d, 0, v, elem, n, 1, stream, sync);                \
	}
#define SET1S(name, T, elem, map)                                             \
	VGPU_EXPORT CUresult name(CUdeviceptr d, T v, size_t n, CUstream s)   \
	{                                                                     \
		return set(d, 0, v, elem, n, 1, sid(map(s)), false);          \
	}
#define SET2(name, T, elem, stream, sync)                                     \
	VGPU_EXPORT CUresult name(CUdeviceptr d, size_t pitch, T v, size_t w, \
				  size_t h)                                   \
	{                                                                     \
		return set(d, pitch, v, elem, w, h, stream, sync);            \
	}
#define SET2S(name, T, elem, map)                                             \
	VGPU_EXPORT CUresult name(CUdeviceptr d, size_t pitch, T v, size_t w, \
				  size_t h, CUstream s)                       \
	{                                                                     \
		return set(d, pitch, v, elem, w, h, sid(map(s)), false);      \
	}

static CUstream as_is(CUstream s)
{
	return s;
}

SET1(cuMemsetD16_v2, unsigned short, 2, 0, true)
SET1(cuMemsetD8_v2_ptds, unsigned char, 1, PER_THREAD, true)
SET1(cuMemsetD16_v2_ptds, unsigned short, 2, PER_THREAD, true)
SET1(cuMemsetD32_v2_ptds, unsigned int, 4, PER_THREAD, true)
SET1S(cuMemsetD16Async, unsigned short, 2, as_is)
SET1S(cuMemsetD32Async, unsigned int, 4, as_is)
SET1S(cuMemsetD8Async_ptsz, unsigned char, 1, vgpu_ptsz)
SET1S(cuMemsetD16Async_ptsz, unsigned short, 2, vgpu_ptsz)
SET1S(cuMemsetD32Async_ptsz, unsigned int, 4, vgpu_ptsz)

SET2(cuMemsetD2D8_v2, unsigned char, 1, 0, true)
SET2(cuMemsetD2D16_v2, unsigned short, 2, 0, true)
SET2(cuMemsetD2D32_v2, unsigned int, 4, 0, true)
SET2(cuMemsetD2D8_v2_ptds, unsigned char, 1, PER_THREAD, true)
SET2(cuMemsetD2D16_v2_ptds, unsigned short, 2, PER_THREAD, true)
SET2(cuMemsetD2D32_v2_ptds, unsigned int, 4, PER_THREAD, true)
SET2S(cuMemsetD2D8Async, unsigned char, 1, as_is)
SET2S(cuMemsetD2D16Async, unsigned short, 2, as_is)
SET2S(cuMemsetD2D32Async, unsigned int, 4, as_is)
SET2S(cuMemsetD2D8Async_ptsz, unsigned char, 1, vgpu_ptsz)
SET2S(cuMemsetD2D16Async_ptsz, unsigned short, 2, vgpu_ptsz)
SET2S(cuMemsetD2D32Async_ptsz, unsigned int, 4, vgpu_ptsz)
