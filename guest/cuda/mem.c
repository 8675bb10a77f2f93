/* guest/cuda/mem.c - copies between guest memory and the device.
 *
 * Data travels through this process's arena lanes, in chunks the worker
 * copies with the driver while the guest fills the next one. Host memory
 * here is the guest's (pageable from the host's point of view), so the
 * copies complete before returning, the async forms too: they are ordered
 * after earlier work on their stream and done when they return, which
 * native pageable copies also guarantee for the host buffer. */
#include "rpc.h"

static CUresult htod(CUdeviceptr dst, const void *src, size_t n,
		     uint64_t stream)
{
	if (!src && n)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_xfer x = {dst, stream};
	return vgpu_cu_stream_out(VGPU_CU_MEMCPY_HTOD, &x, src, n);
}

static CUresult dtoh(void *dst, CUdeviceptr src, size_t n, uint64_t stream)
{
	if (!dst && n)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_xfer x = {src, stream};
	return vgpu_cu_stream_in(VGPU_CU_MEMCPY_DTOH, &x, dst, n);
}

VGPU_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src,
				     size_t n)
{
	return htod(dst, src, n, VGPU_CU_NO_STREAM);
}

VGPU_EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n)
{
	return dtoh(dst, src, n, VGPU_CU_NO_STREAM);
}

VGPU_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src,
					  size_t n, CUstream s)
{
	return htod(dst, src, n, (uint64_t)(uintptr_t)s);
}

VGPU_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src,
					  size_t n, CUstream s)
{
	return dtoh(dst, src, n, (uint64_t)(uintptr_t)s);
}
