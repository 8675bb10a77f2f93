/* guest/cuda/mem_copy.c - the copy entry points beyond plain HtoD/DtoH:
 * per-thread-default-stream variants (_ptds synchronous, _ptsz async, where
 * stream 0 means the calling thread's default stream), device-to-device
 * copies, unified cuMemcpy/cuMemcpyAsync and the peer copies of the one
 * device.
 *
 * Unified copies take their direction from the address-space table
 * (mem_space.h): an address inside a device allocation is device memory,
 * the device alias of a pinned host block is that block, anything else is
 * host memory. Host-to-host copies run here, after the stream's earlier
 * work when they are stream-ordered.
 */
#include "mem_space.h"
#include "rpc.h"
#include <string.h>

#define PER_THREAD ((uint64_t)(uintptr_t)CU_STREAM_PER_THREAD)

/* A device-to-device copy the caller waits for (the sync forms: their
 * range errors come back at once). */
static CUresult dtod_sync(CUdeviceptr dst, CUdeviceptr src, size_t n,
			  uint64_t stream)
{
	if (!n)
		return vgpu_cu_ready();
	struct vgpu_cu_rect x = {.dst = dst, .src = src, .width = n,
				 .height = 1, .depth = 1, .stream = stream};
	return vgpu_cu_call(VGPU_CU_RECT_DTOD, &x, sizeof(x), NULL, 0, true,
			    "cuMemcpyDtoD");
}

VGPU_EXPORT CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dst, const void *src,
					  size_t n)
{
	return vgpu_mem_htod(dst, src, n, PER_THREAD, false);
}

VGPU_EXPORT CUresult cuMemcpyDtoH_v2_ptds(void *dst, CUdeviceptr src,
					  size_t n)
{
	return vgpu_mem_dtoh(dst, src, n, PER_THREAD, false);
}

VGPU_EXPORT CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dst, CUdeviceptr src,
					  size_t n)
{
	return dtod_sync(dst, src, n, PER_THREAD);
}

VGPU_EXPORT CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dst,
					       const void *src, size_t n,
					       CUstream s)
{
	return cuMemcpyHtoDAsync_v2(dst, src, n, vgpu_ptsz(s));
}

VGPU_EXPORT CUresult cuMemcpyDtoHAsync_v2_ptsz(void *dst, CUdeviceptr src,
					       size_t n, CUstream s)
{
	return cuMemcpyDtoHAsync_v2(dst, src, n, vgpu_ptsz(s));
}

VGPU_EXPORT CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dst,
					       CUdeviceptr src, size_t n,
					       CUstream s)
{
	return cuMemcpyDtoDAsync_v2(dst, src, n, vgpu_ptsz(s));
}

/* ---- unified addressing ---------------------------------------------- */

struct side {
	bool dev, bad;
	uint64_t addr; /* device address, or the guest host address */
};

/* By the first byte: a range that starts in device memory is a device
 * range, and the worker refuses it if it runs past the allocation (a host
 * memmove there would fault on the guest's reservation). */
static struct side classify(uint64_t p, size_t n)
{
	struct vgpu_space e;
	void *h;
	if (vgpu_space_find(p, 1, &e) && e.kind == VGPU_SPACE_DEVICE)
		return (struct side){true, false, p};
	if (vgpu_space_find_dev(p, &e)) /* pinned, by its device alias */
		return vgpu_pool_alias(p, n, &h)
			       ? (struct side){false, false, (uintptr_t)h}
			       : (struct side){false, true, p};
	return (struct side){false, false, p};
}

static CUresult unified(CUdeviceptr dst, CUdeviceptr src, size_t n,
			uint64_t stream, bool async)
{
	CUresult r = vgpu_cu_ready();
	if (r || !n)
		return r;
	if (!dst || !src)
		return CUDA_ERROR_INVALID_VALUE;
	struct side d = classify(dst, n), s = classify(src, n);
	if (d.bad || s.bad)
		return CUDA_ERROR_INVALID_VALUE;
	void *hd = (void *)(uintptr_t)d.addr;
	const void *hs = (const void *)(uintptr_t)s.addr;
	if (d.dev && s.dev)
		return async ? cuMemcpyDtoDAsync_v2(d.addr, s.addr, n,
						    (CUstream)(uintptr_t)stream)
			     : dtod_sync(d.addr, s.addr, n,
					 stream == VGPU_CU_NO_STREAM ? 0 : stream);
	if (d.dev)
		return vgpu_mem_htod(d.addr, hs, n, stream, async);
	if (s.dev)
		return vgpu_mem_dtoh(hd, s.addr, n, stream, async);
	/* host to host: ordered after the stream's earlier work */
	if (stream != VGPU_CU_NO_STREAM &&
	    (r = cuStreamSynchronize((CUstream)(uintptr_t)stream)))
		return r;
	memmove(hd, hs, n);
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
	return unified(dst, src, n, VGPU_CU_NO_STREAM, false);
}

VGPU_EXPORT CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src,
				   size_t n)
{
	return unified(dst, src, n, PER_THREAD, false);
}

static bool wire_sentinel(CUstream s)
{
	return (uint64_t)(uintptr_t)s == VGPU_CU_NO_STREAM;
}

VGPU_EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src,
				   size_t n, CUstream s)
{
	if (wire_sentinel(s))
		return CUDA_ERROR_INVALID_HANDLE;
	return unified(dst, src, n, (uint64_t)(uintptr_t)s, true);
}

VGPU_EXPORT CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src,
					size_t n, CUstream s)
{
	return cuMemcpyAsync(dst, src, n, vgpu_ptsz(s));
}

/* ---- peers: the one device, its one context ------------------------- */

static CUresult own_ctx(CUcontext c)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!vgpu_cu_ctx_known(c))
		return CUDA_ERROR_INVALID_CONTEXT;
	return CUDA_SUCCESS;
}

static CUresult peer(CUdeviceptr dst, CUcontext dc, CUdeviceptr src,
		     CUcontext sc, size_t n, uint64_t stream, bool async)
{
	CUresult r = own_ctx(dc);
	if (!r)
		r = own_ctx(sc);
	if (r)
		return r;
	if (async)
		return cuMemcpyDtoDAsync_v2(dst, src, n,
					    (CUstream)(uintptr_t)stream);
	return dtod_sync(dst, src, n, stream);
}

VGPU_EXPORT CUresult cuMemcpyPeer(CUdeviceptr dst, CUcontext dc,
				  CUdeviceptr src, CUcontext sc, size_t n)
{
	return peer(dst, dc, src, sc, n, 0, false);
}

VGPU_EXPORT CUresult cuMemcpyPeer_ptds(CUdeviceptr dst, CUcontext dc,
				       CUdeviceptr src, CUcontext sc,
				       size_t n)
{
	return peer(dst, dc, src, sc, n, PER_THREAD, false);
}

VGPU_EXPORT CUresult cuMemcpyPeerAsync(CUdeviceptr dst, CUcontext dc,
				       CUdeviceptr src, CUcontext sc,
				       size_t n, CUstream s)
{
	if (wire_sentinel(s))
		return CUDA_ERROR_INVALID_HANDLE;
	return peer(dst, dc, src, sc, n, (uint64_t)(uintptr_t)s, true);
}

VGPU_EXPORT CUresult cuMemcpyPeerAsync_ptsz(CUdeviceptr dst, CUcontext dc,
					    CUdeviceptr src, CUcontext sc,
					    size_t n, CUstream s)
{
	return cuMemcpyPeerAsync(dst, dc, src, sc, n, vgpu_ptsz(s));
}
