/* guest/cuda/mem_rect.c - cuMemcpy2D, 2DUnaligned, 2DAsync, 3D, 3DAsync
 * (and their per-thread-stream forms) for host and device memory.
 *
 * cuMemcpy3DPeer[Async] are the same copies within the one device: a
 * context they name must be this process's (CUDA_ERROR_INVALID_CONTEXT).
 *
 * A copy is normalised to a rectangle of depth slices of height rows of
 * width bytes, each side a start address, a pitch and (3D) rows per slice.
 * Device-to-device goes as one message; a host side travels packed (rows
 * end to end) through an arena lane, the worker scattering or gathering
 * rows on the device; host-to-host is done here. Arrays are not supported
 * (CUDA_ERROR_NOT_SUPPORTED): vgpu has no CUarray yet. Every host extent
 * is checked for overflow here, every device extent by the worker.
 */
#include "mem_space.h"
#include "rpc.h"
#include "torch_order.h"
#include "../../ring/stream.h"
#include <string.h>

#define PER_THREAD ((uint64_t)(uintptr_t)CU_STREAM_PER_THREAD)

struct rside {
	bool dev;
	uint64_t addr;          /* first byte: device address or host pointer */
	uint64_t pitch, rows;
};

struct rcopy {
	struct rside s, d;
	uint64_t width, height, depth;
};

static CUresult side(CUmemorytype t, const void *host, CUdeviceptr dev,
		     size_t x, size_t y, size_t z, size_t pitch, size_t rows,
		     struct rside *o)
{
	uint64_t off, a;
	if (t == CU_MEMORYTYPE_ARRAY)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (t == CU_MEMORYTYPE_UNIFIED) {
		struct vgpu_space e;
		t = vgpu_space_find(dev, 1, &e) && e.kind == VGPU_SPACE_DEVICE
			    ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
		if (t == CU_MEMORYTYPE_HOST && vgpu_space_find_dev(dev, &e))
			dev = e.base + (dev - e.dev);
		host = (const void *)(uintptr_t)dev;
	}
	if (t != CU_MEMORYTYPE_HOST && t != CU_MEMORYTYPE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	o->dev = t == CU_MEMORYTYPE_DEVICE;
	o->pitch = pitch;
	o->rows = rows;
	if (__builtin_mul_overflow((uint64_t)z, (uint64_t)rows, &a) ||
	    __builtin_add_overflow(a, (uint64_t)y, &a) ||
	    __builtin_mul_overflow(a, (uint64_t)pitch, &off) ||
	    __builtin_add_overflow(off, (uint64_t)x, &off))
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t base = o->dev ? dev : (uint64_t)(uintptr_t)host;
	if (!o->dev && !host)
		return CUDA_ERROR_INVALID_VALUE;
	if (__builtin_add_overflow(base, off, &o->addr))
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

/* Bytes a host side spans, which must not wrap the address space. */
static bool host_ok(const struct rside *s, const struct rcopy *c)
{
	uint64_t a, b, n, end;
	if ((c->height > 1 && s->pitch < c->width) ||
	    (c->depth > 1 && s->rows < c->height))
		return false;
	return !__builtin_mul_overflow(c->depth - 1, s->rows, &a) &&
	       !__builtin_mul_overflow(a, s->pitch, &a) &&
	       !__builtin_mul_overflow(c->height - 1, s->pitch, &b) &&
	       !__builtin_add_overflow(a, b, &n) &&
	       !__builtin_add_overflow(n, c->width, &n) &&
	       !__builtin_add_overflow(s->addr, n, &end);
}

static uint8_t *row_at(const struct rside *s, const struct rcopy *c,
		       uint64_t row)
{
	uint64_t z = row / c->height, y = row % c->height;
	return (uint8_t *)(uintptr_t)(s->addr + z * s->rows * s->pitch +
				      y * s->pitch);
}

struct pack {
	const struct rside *s;
	const struct rcopy *c;
};

/* Packed bytes [off, off + n) of the host side, to or from buf. */
static void packed(const struct pack *p, uint8_t *buf, uint64_t off,
		   uint64_t n, bool to_buf)
{
	uint64_t w = p->c->width;
	while (n) {
		uint64_t row = off / w, col = off % w;
		uint64_t len = w - col < n ? w - col : n;
		uint8_t *h = row_at(p->s, p->c, row) + col;
		if (to_buf)
			memcpy(buf, h, len);
		else
			memcpy(h, buf, len);
		buf += len;
		off += len;
		n -= len;
	}
}

static int fill(void *ctx, void *dst, uint64_t off, uint64_t n)
{
	packed(ctx, dst, off, n, true);
	return 0;
}

static int drain(void *ctx, const void *src, uint64_t off, uint64_t n)
{
	packed(ctx, (void *)src, off, n, false);
	return 0;
}

static CUresult through_arena(uint16_t op, const struct vgpu_cu_rect *x,
			      struct pack *p, uint64_t total, bool out)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	struct vgpu_lane ln;
	int32_t res = 0;
	if ((r = vgpu_cu_order_before())) /* guest/cuda/torch_order.c */
		return r;
	vgpu_lane_get(&vgpu_cu.conn.lanes, &ln);
	struct vgpu_stream st = {.c = &vgpu_cu.conn.ch, .lane = &ln, .op = op,
				 .arg = x, .arglen = sizeof(*x), .total = total};
	int rc = out ? vgpu_stream_out(&st, fill, p, &res)
		     : vgpu_stream_in(&st, drain, p, &res);
	vgpu_cu_order_after(false);
	vgpu_lane_put(&vgpu_cu.conn.lanes, &ln);
	if (rc)
		return vgpu_cu_from_ring(rc);
	return res < 0 ? CUDA_ERROR_UNKNOWN : (CUresult)res;
}

static CUresult host_to_host(const struct rcopy *c, uint64_t stream,
			     bool async)
{
	CUresult r;
	if (async && (r = cuStreamSynchronize((CUstream)(uintptr_t)stream)))
		return r;
	for (uint64_t row = 0; row < c->height * c->depth; row++)
		memmove(row_at(&c->d, c, row), row_at(&c->s, c, row),
			c->width);
	return CUDA_SUCCESS;
}

static CUresult run(const struct rcopy *c, uint64_t stream, bool async)
{
	CUresult r = vgpu_cu_ready();
	uint64_t total;
	if (r)
		return r;
	if (!c->width || !c->height || !c->depth)
		return CUDA_SUCCESS;
	if (__builtin_mul_overflow(c->width, c->height, &total) ||
	    __builtin_mul_overflow(total, c->depth, &total) ||
	    (!c->s.dev && !host_ok(&c->s, c)) ||
	    (!c->d.dev && !host_ok(&c->d, c)))
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_rect x = {.dst = c->d.addr, .src = c->s.addr,
				 .dpitch = c->d.pitch, .spitch = c->s.pitch,
				 .drows = c->d.rows, .srows = c->s.rows,
				 .width = c->width, .height = c->height,
				 .depth = c->depth, .stream = stream};
	if (c->s.dev && c->d.dev)
		return vgpu_cu_call(VGPU_CU_RECT_DTOD, &x, sizeof(x), NULL, 0,
				    !async, "cuMemcpy2D/3D");
	if (!c->s.dev && !c->d.dev)
		return host_to_host(c, stream, async);
	/* the packed host side */
	if (c->s.dev) {
		x.dst = 0, x.dpitch = x.width, x.drows = x.height;
		struct pack p = {&c->d, c};
		return through_arena(VGPU_CU_RECT_DTOH, &x, &p, total, false);
	}
	x.src = 0, x.spitch = x.width, x.srows = x.height;
	struct pack p = {&c->s, c};
	return through_arena(VGPU_CU_RECT_HTOD, &x, &p, total, true);
}

static CUresult from2d(const CUDA_MEMCPY2D *p, struct rcopy *c)
{
	CUresult r;
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = side(p->srcMemoryType, p->srcHost, p->srcDevice,
		      p->srcXInBytes, p->srcY, 0, p->srcPitch, p->Height,
		      &c->s)) ||
	    (r = side(p->dstMemoryType, p->dstHost, p->dstDevice,
		      p->dstXInBytes, p->dstY, 0, p->dstPitch, p->Height,
		      &c->d)))
		return r;
	c->width = p->WidthInBytes;
	c->height = p->Height;
	c->depth = 1;
	return CUDA_SUCCESS;
}

static CUresult from3d(const CUDA_MEMCPY3D *p, struct rcopy *c)
{
	CUresult r;
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	if (p->srcLOD || p->dstLOD || p->reserved0 || p->reserved1)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = side(p->srcMemoryType, p->srcHost, p->srcDevice,
		      p->srcXInBytes, p->srcY, p->srcZ, p->srcPitch,
		      p->srcHeight, &c->s)) ||
	    (r = side(p->dstMemoryType, p->dstHost, p->dstDevice,
		      p->dstXInBytes, p->dstY, p->dstZ, p->dstPitch,
		      p->dstHeight, &c->d)))
		return r;
	c->width = p->WidthInBytes;
	c->height = p->Height;
	c->depth = p->Depth;
	return CUDA_SUCCESS;
}

static CUresult copy2d(const CUDA_MEMCPY2D *p, uint64_t stream, bool async)
{
	struct rcopy c;
	CUresult r = from2d(p, &c);
	return r ? r : run(&c, stream, async);
}

static CUresult copy3d(const CUDA_MEMCPY3D *p, uint64_t stream, bool async)
{
	struct rcopy c;
	CUresult r = from3d(p, &c);
	return r ? r : run(&c, stream, async);
}

static uint64_t async_id(CUstream s, CUresult *r)
{
	*r = (uint64_t)(uintptr_t)s == VGPU_CU_NO_STREAM
		     ? CUDA_ERROR_INVALID_HANDLE : CUDA_SUCCESS;
	return (uint64_t)(uintptr_t)s;
}

VGPU_EXPORT CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D *p)
{
	return copy2d(p, 0, false);
}

VGPU_EXPORT CUresult cuMemcpy2D_v2_ptds(const CUDA_MEMCPY2D *p)
{
	return copy2d(p, PER_THREAD, false);
}

VGPU_EXPORT CUresult cuMemcpy2DUnaligned_v2(const CUDA_MEMCPY2D *p)
{
	return copy2d(p, 0, false);
}

VGPU_EXPORT CUresult cuMemcpy2DUnaligned_v2_ptds(const CUDA_MEMCPY2D *p)
{
	return copy2d(p, PER_THREAD, false);
}

VGPU_EXPORT CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *p, CUstream s)
{
	CUresult r;
	uint64_t id = async_id(s, &r);
	return r ? r : copy2d(p, id, true);
}

VGPU_EXPORT CUresult cuMemcpy2DAsync_v2_ptsz(const CUDA_MEMCPY2D *p,
					     CUstream s)
{
	return cuMemcpy2DAsync_v2(p, vgpu_ptsz(s));
}

VGPU_EXPORT CUresult cuMemcpy3D_v2(const CUDA_MEMCPY3D *p)
{
	return copy3d(p, 0, false);
}

VGPU_EXPORT CUresult cuMemcpy3D_v2_ptds(const CUDA_MEMCPY3D *p)
{
	return copy3d(p, PER_THREAD, false);
}

VGPU_EXPORT CUresult cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D *p, CUstream s)
{
	CUresult r;
	uint64_t id = async_id(s, &r);
	return r ? r : copy3d(p, id, true);
}

VGPU_EXPORT CUresult cuMemcpy3DAsync_v2_ptsz(const CUDA_MEMCPY3D *p,
					     CUstream s)
{
	return cuMemcpy3DAsync_v2(p, vgpu_ptsz(s));
}

/* A peer copy's contexts: NULL (the current one) or the one we have. */
static CUresult peer3d(const CUDA_MEMCPY3D_PEER *p, CUDA_MEMCPY3D *m)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	if ((p->srcContext && !vgpu_cu_ctx_known(p->srcContext)) ||
	    (p->dstContext && !vgpu_cu_ctx_known(p->dstContext)))
		return CUDA_ERROR_INVALID_CONTEXT;
	*m = (CUDA_MEMCPY3D){
		.srcXInBytes = p->srcXInBytes, .srcY = p->srcY, .srcZ = p->srcZ,
		.srcLOD = p->srcLOD, .srcMemoryType = p->srcMemoryType,
		.srcHost = p->srcHost, .srcDevice = p->srcDevice,
		.srcArray = p->srcArray, .srcPitch = p->srcPitch,
		.srcHeight = p->srcHeight, .dstXInBytes = p->dstXInBytes,
		.dstY = p->dstY, .dstZ = p->dstZ, .dstLOD = p->dstLOD,
		.dstMemoryType = p->dstMemoryType, .dstHost = p->dstHost,
		.dstDevice = p->dstDevice, .dstArray = p->dstArray,
		.dstPitch = p->dstPitch, .dstHeight = p->dstHeight,
		.WidthInBytes = p->WidthInBytes, .Height = p->Height,
		.Depth = p->Depth};
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuMemcpy3DPeer(const CUDA_MEMCPY3D_PEER *p)
{
	CUDA_MEMCPY3D m;
	CUresult r = peer3d(p, &m);
	return r ? r : copy3d(&m, 0, false);
}

VGPU_EXPORT CUresult cuMemcpy3DPeer_ptds(const CUDA_MEMCPY3D_PEER *p)
{
	CUDA_MEMCPY3D m;
	CUresult r = peer3d(p, &m);
	return r ? r : copy3d(&m, PER_THREAD, false);
}

VGPU_EXPORT CUresult cuMemcpy3DPeerAsync(const CUDA_MEMCPY3D_PEER *p,
					 CUstream s)
{
	CUDA_MEMCPY3D m;
	CUresult r = peer3d(p, &m);
	uint64_t id = r ? 0 : async_id(s, &r);
	return r ? r : copy3d(&m, id, true);
}

VGPU_EXPORT CUresult cuMemcpy3DPeerAsync_ptsz(const CUDA_MEMCPY3D_PEER *p,
					      CUstream s)
{
	return cuMemcpy3DPeerAsync(p, vgpu_ptsz(s));
}
