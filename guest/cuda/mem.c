/* guest/cuda/mem.c - copies between guest memory and the device.
 *
 * Data travels through this process's arena lanes, in chunks the worker
 * copies with the driver while the guest fills the next one; large copies
 * on several guest threads at once (mem_bulk.h). Host memory
 * here is the guest's (pageable from the host's point of view), so the
 * copies complete before returning, the async forms too: they are ordered
 * after earlier work on their stream and done when they return, which
 * native pageable copies also guarantee for the host buffer. Pinned
 * memory (the region's pool, mem_host.c) is copied by the GPU in place,
 * the async forms truly asynchronously. */
#include "mem_bulk.h"
#include "mem_space.h"
#include "rpc.h"
#include <string.h>

/* guest/cuda/graph_host.c (graph.h, which this file cannot include
 * beside mem_space.h: both define vgpu_ptsz) */
CUresult vgpu_graph_host_capture(CUdeviceptr dst, const void *src, size_t n,
				 uint64_t stream);

/* Up to a slot's payload, data rides inside the message itself. */
static uint32_t inline_cap(uint32_t hdr)
{
	return vgpu_cu_ready() ? 0
			       : vgpu_inline_max(&vgpu_cu.conn.t.r) - hdr;
}

CUresult vgpu_mem_htod(CUdeviceptr dst, const void *src, size_t n,
		       uint64_t stream, bool async)
{
	uint64_t off;
	if (!src && n)
		return CUDA_ERROR_INVALID_VALUE;
	void *alias;
	/* pinned memory named as the device side first: the source may be
	 * pinned too, and the worker takes no pinned block as a device range */
	if (n && vgpu_pool_alias(dst, n, &alias))
		return vgpu_pool_host_copy(alias, src, n, stream);
	if (n && vgpu_pool_range(src, n, &off)) /* pinned: straight */
		return vgpu_pool_copy(dst, off, n, stream, true, async);
	struct vgpu_cu_xfer x = {dst, stream};
	CUresult r;
	if (n > inline_cap(sizeof(x))) {
		r = vgpu_bulk_copy(VGPU_CU_MEMCPY_HTOD, &x, (void *)src, n,
				   true);
	} else {
		uint8_t msg[VGPU_MAX_SLOT_SIZE];
		memcpy(msg, &x, sizeof(x));
		memcpy(msg + sizeof(x), src, n);
		r = vgpu_cu_call(VGPU_CU_MEMCPY_HTOD_INLINE, msg,
				 (uint32_t)(sizeof(x) + n), NULL, 0, true,
				 "cuMemcpyHtoD");
	}
	/* the stream is capturing: the copy becomes a graph node that
	 * reads src at each launch, as natively (guest/cuda/graph_host.c) */
	if (r == CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED && async && n)
		r = vgpu_graph_host_capture(dst, src, n, stream);
	return r;
}

CUresult vgpu_mem_dtoh(void *dst, CUdeviceptr src, size_t n, uint64_t stream,
		       bool async)
{
	uint64_t off;
	if (!dst && n)
		return CUDA_ERROR_INVALID_VALUE;
	void *alias;
	if (n && vgpu_pool_alias(src, n, &alias)) /* as in vgpu_mem_htod */
		return vgpu_pool_host_copy(dst, alias, n, stream);
	if (n && vgpu_pool_range(dst, n, &off))
		return vgpu_pool_copy(src, off, n, stream, false, async);
	struct vgpu_cu_xfer x = {src, stream};
	if (n > inline_cap(0))
		return vgpu_bulk_copy(VGPU_CU_MEMCPY_DTOH, &x, dst, n, false);
	uint64_t req[3] = {x.dev, x.stream, n};
	return vgpu_cu_call(VGPU_CU_MEMCPY_DTOH_INLINE, req, sizeof(req), dst,
			    (uint32_t)n, true, "cuMemcpyDtoH");
}

VGPU_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src,
				     size_t n)
{
	return vgpu_mem_htod(dst, src, n, VGPU_CU_NO_STREAM, false);
}

VGPU_EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n)
{
	return vgpu_mem_dtoh(dst, src, n, VGPU_CU_NO_STREAM, false);
}

/* The wire's "no stream" (a synchronous copy) is no handle the worker
 * issues: a program passing that value as a stream got a synchronous copy
 * instead of CUDA_ERROR_INVALID_HANDLE (tests/gpu/hostile.c). */
static bool wire_sentinel(CUstream s)
{
	return (uint64_t)(uintptr_t)s == VGPU_CU_NO_STREAM;
}

VGPU_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src,
					  size_t n, CUstream s)
{
	if (wire_sentinel(s))
		return CUDA_ERROR_INVALID_HANDLE;
	return vgpu_mem_htod(dst, src, n, (uint64_t)(uintptr_t)s, true);
}

VGPU_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src,
					  size_t n, CUstream s)
{
	if (wire_sentinel(s))
		return CUDA_ERROR_INVALID_HANDLE;
	return vgpu_mem_dtoh(dst, src, n, (uint64_t)(uintptr_t)s, true);
}
