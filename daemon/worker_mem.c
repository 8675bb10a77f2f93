/* daemon/worker_mem.c - the worker's copies in every direction, 2D/3D, memset, host memory, pointer attributes.
 *
 * Contract: vw_mem_execute() runs the hand-written requests of this area
 * (its opcode range in ring/cuda_proto.h) and replies; any other opcode
 * returns false untouched. Every device extent a request names is computed
 * without overflow ((depth-1)*rows*pitch + (height-1)*pitch + width) and
 * must lie inside one of the caller's allocations before the driver sees
 * it; a malformed request is answered CUDA_ERROR_INVALID_VALUE. A request
 * sent with a reply is synchronous: copies through the arena always are
 * (the arena half is reused once we answer), device-to-device ones are
 * waited for, memsets only enqueued, as natively.
 */
#include "worker.h"
#include "worker_alias.h"
#include "worker_mem.h"
#include "worker_bulk.h"
#include "worker_sched.h"
#include <string.h>

#define VGPU_CU_NO_STREAM_WIRE UINT64_MAX /* guest/cuda/rpc.h's NO_STREAM */

static CUresult stream_of(struct vworker *W, uint64_t id, CUstream *s)
{
	return vw_stream(W, id, s);
}

bool vw_mem_extent(uint64_t pitch, uint64_t rows, uint64_t width,
		   uint64_t height, uint64_t depth, uint64_t *out)
{
	uint64_t a, b;
	if (!width || !height || !depth) {
		*out = 0;
		return true;
	}
	if ((height > 1 && pitch < width) || (depth > 1 && rows < height))
		return false;
	if (__builtin_mul_overflow(depth - 1, rows, &a) ||
	    __builtin_mul_overflow(a, pitch, &a) ||
	    __builtin_mul_overflow(height - 1, pitch, &b) ||
	    __builtin_add_overflow(a, b, &a) ||
	    __builtin_add_overflow(a, width, out))
		return false;
	return true;
}

static CUresult range3(struct vworker *W, uint64_t p, uint64_t pitch,
		       uint64_t rows, const struct vgpu_cu_rect *x)
{
	uint64_t n;
	if (!vw_mem_extent(pitch, rows, x->width, x->height, x->depth, &n))
		return CUDA_ERROR_INVALID_VALUE;
	return n ? vw_range(W, p, n) : CUDA_SUCCESS;
}

static CUresult memset_2d(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_memset q;
	uint64_t wb, n;
	CUstream s;
	if (m->len != sizeof(q))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&q, m->data, sizeof(q));
	if ((q.elem != 1 && q.elem != 2 && q.elem != 4) ||
	    __builtin_mul_overflow(q.width, (uint64_t)q.elem, &wb) ||
	    !vw_mem_extent(q.pitch, 0, wb, q.height, 1, &n))
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = n ? vw_range(W, q.dst, n) : CUDA_SUCCESS;
	if (!r)
		r = stream_of(W, q.stream, &s);
	if (r)
		return r;
	if (q.height == 1 && q.elem == 1)
		return W->drv.cuMemsetD8Async(q.dst, (uint8_t)q.value, q.width, s);
	if (q.height == 1 && q.elem == 2)
		return W->drv.cuMemsetD16Async(q.dst, (uint16_t)q.value,
					       q.width, s);
	if (q.height == 1)
		return W->drv.cuMemsetD32Async(q.dst, q.value, q.width, s);
	if (q.elem == 1)
		return W->drv.cuMemsetD2D8Async(q.dst, q.pitch, (uint8_t)q.value,
						q.width, q.height, s);
	if (q.elem == 2)
		return W->drv.cuMemsetD2D16Async(q.dst, q.pitch,
						 (uint16_t)q.value, q.width,
						 q.height, s);
	return W->drv.cuMemsetD2D32Async(q.dst, q.pitch, q.value, q.width,
					 q.height, s);
}

static CUresult copy2d(struct vworker *W, CUstream s, CUdeviceptr dst,
		       void *hdst, uint64_t dpitch, CUdeviceptr src,
		       const void *hsrc, uint64_t spitch, uint64_t width,
		       uint64_t height)
{
	if (height == 1) /* one row: its pitch is unused, and the driver
			  * may refuse one below the width */
		dpitch = spitch = width;
	CUDA_MEMCPY2D p = {
		.srcMemoryType = hsrc ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE,
		.srcHost = hsrc, .srcDevice = src, .srcPitch = spitch,
		.dstMemoryType = hdst ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE,
		.dstHost = hdst, .dstDevice = dst, .dstPitch = dpitch,
		.WidthInBytes = width, .Height = height};
	return W->drv.cuMemcpy2DAsync_v2(&p, s);
}

static CUresult rect_dtod(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_rect x;
	CUstream s;
	if (m->len != sizeof(x))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&x, m->data, sizeof(x));
	CUresult r = range3(W, x.dst, x.dpitch, x.drows, &x);
	if (!r)
		r = range3(W, x.src, x.spitch, x.srows, &x);
	if (!r)
		r = stream_of(W, x.stream, &s);
	if (r || !x.width || !x.height || !x.depth)
		return r;
	/* the extents were checked, so these products cannot overflow */
	for (uint64_t z = 0; z < x.depth && !r; z++)
		r = copy2d(W, s, x.dst + z * x.drows * x.dpitch, NULL, x.dpitch,
			   x.src + z * x.srows * x.spitch, NULL, x.spitch,
			   x.width, x.height);
	if (!r && !(m->flags & VGPU_MSG_NOREPLY))
		r = W->drv.cuStreamSynchronize(s);
	return r;
}

/* The device side of a packed host rectangle, one arena chunk of it:
 * bytes [tag, tag + arena_len) of the rows laid end to end. Whole rows
 * go as one 2D copy per slice, a partial row as a one-row copy. */
static CUresult rect_chunk(struct vworker *W, const struct vgpu_msg *m,
			   bool htod)
{
	struct vgpu_cu_rect x;
	uint64_t total;
	CUstream s;
	if (m->len != sizeof(x) || !(m->flags & VGPU_MSG_ARENA))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&x, m->data, sizeof(x));
	uint64_t dev = htod ? x.dst : x.src;
	uint64_t pitch = htod ? x.dpitch : x.spitch;
	uint64_t rows = htod ? x.drows : x.srows;
	if (!x.width || !x.height || !x.depth ||
	    __builtin_mul_overflow(x.width, x.height, &total) ||
	    __builtin_mul_overflow(total, x.depth, &total) ||
	    m->total != total || m->tag > total ||
	    m->arena_len > total - m->tag)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = range3(W, dev, pitch, rows, &x);
	if (!r)
		r = stream_of(W, x.stream, &s);
	uint8_t *h = vgpu_arena(&W->r, W->chan) + m->arena_off;
	uint64_t o = m->tag, n = m->arena_len;
	while (!r && n) {
		uint64_t row = o / x.width, col = o % x.width;
		uint64_t z = row / x.height, y = row % x.height, k = 1, len;
		CUdeviceptr d = dev + z * rows * pitch + y * pitch + col;
		if (col || n < x.width) {
			len = x.width - col < n ? x.width - col : n;
		} else {
			k = n / x.width < x.height - y ? n / x.width
						       : x.height - y;
			len = k * x.width;
		}
		r = htod ? copy2d(W, s, d, NULL, pitch, 0, h, x.width,
				  k == 1 ? len : x.width, k)
			 : copy2d(W, s, 0, h, x.width, d, NULL, pitch,
				  k == 1 ? len : x.width, k);
		h += len;
		o += len;
		n -= len;
	}
	if (!r)
		r = W->drv.cuStreamSynchronize(s);
	return r;
}

static void alloc_pitch(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args in, out = {{0}};
	CUdeviceptr p = 0;
	size_t pitch = 0;
	uint64_t n;
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (m->len == sizeof(in)) {
		memcpy(&in, m->data, sizeof(in));
		r = in.a[2] > UINT32_MAX ? CUDA_ERROR_INVALID_VALUE
		    : W->drv.cuMemAllocPitch_v2(&p, &pitch, in.a[0], in.a[1],
						(unsigned)in.a[2]);
	}
	if (!r && __builtin_mul_overflow((uint64_t)pitch, in.a[1], &n))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	/* the pitch is the driver's choice, so the quota is charged after
	 * the fact: over the limit, the memory goes straight back */
	if (!r && (r = vw_mem_charge(W, n)))
		W->drv.cuMemFree_v2(p);
	else if (!r && (r = vw_alloc_add(W, p, n))) { /* untracked: unusable */
		W->drv.cuMemFree_v2(p);
		vw_mem_uncharge(W, n);
	}
	out.a[0] = p;
	out.a[1] = pitch;
	vw_reply(W, m, vw_take_async_err(W, r), &out, sizeof(out), 0);
}

/* Only ranges of the caller's are asked about: the driver would answer
 * for any address of the context. */
static void mem_range(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args in, out = {{0}};
	CUdeviceptr base = 0;
	size_t size = 0;
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (m->len == sizeof(in)) {
		memcpy(&in, m->data, sizeof(in));
		r = vw_range(W, in.a[0], 1) ? CUDA_ERROR_NOT_FOUND
			: W->drv.cuMemGetAddressRange_v2(&base, &size, in.a[0]);
	}
	out.a[0] = base;
	out.a[1] = size;
	vw_reply(W, m, r, &out, sizeof(out), 0);
}

/* The guest's pinned memory is its channel's slice of the region's pool:
 * registered with the driver at worker start-up (worker_bulk.h; here on
 * first use if that failed), so the GPU DMAs straight from and to guest
 * memory, and zeroed at first use, so a guest process never sees
 * what the channel's previous owner left there. Where the guest offers
 * addresses it keeps free (worker_alias.h), the slice is mapped a second
 * time at the first one free here too and that mapping is registered and
 * used for every copy: its address is then the device pointer and the
 * guest's host pointer both. */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;

/* The slice's device address: from the start-up registration, else by
 * registering the slice now. */
static CUresult pool_register(struct vworker *W, uint8_t *p, uint64_t n,
			      CUdeviceptr *d)
{
	if (vw_bulk_pool_dev(W, p, d))
		return CUDA_SUCCESS;
	CUresult r = W->drv.cuMemHostRegister_v2(p, n,
						 CU_MEMHOSTREGISTER_PORTABLE |
							 CU_MEMHOSTREGISTER_DEVICEMAP);
	if (!r && (r = W->drv.cuMemHostGetDevicePointer_v2(d, p, 0)))
		W->drv.cuMemHostUnregister(p);
	return r;
}

/* The slice at one of the guest's candidates, registered: its device
 * address is the candidate itself (unified addressing), or none. */
static bool pool_alias(struct vworker *W, const uint64_t *cand, unsigned nc,
		       uint64_t n, CUdeviceptr *d)
{
	uint8_t *a = vw_alias_map(W->region_path,
				  (uint64_t)(vgpu_pool(&W->r, W->chan) -
					     W->r.base),
				  n, cand, nc);
	if (!a)
		return false;
	CUresult r = W->drv.cuMemHostRegister_v2(a, n,
						 CU_MEMHOSTREGISTER_PORTABLE |
							 CU_MEMHOSTREGISTER_DEVICEMAP);
	if (!r && (r = W->drv.cuMemHostGetDevicePointer_v2(d, a, 0)))
		W->drv.cuMemHostUnregister(a);
	if (!r && *d != (CUdeviceptr)(uintptr_t)a) { /* not one address */
		W->drv.cuMemHostUnregister(a);
		r = CUDA_ERROR_NOT_SUPPORTED;
	}
	if (r) {
		vw_alias_unmap(a, n);
		return false;
	}
	W->pool_alias = W->pool_host = a;
	return true;
}

/* The request's candidates: none for an empty one or an older guest's
 * zeroed arguments; false for a malformed list. */
static bool pool_cands(const struct vgpu_msg *m, uint64_t n, uint64_t *cand,
		       unsigned *nc)
{
	struct vgpu_cu_args in;
	*nc = 0;
	if (!m->len)
		return true;
	if (m->len != sizeof(in))
		return false;
	memcpy(&in, m->data, sizeof(in));
	if (!vw_alias_valid(&in.a[1], in.a[0], n))
		return false;
	*nc = (unsigned)in.a[0];
	memcpy(cand, &in.a[1], *nc * sizeof(*cand));
	return true;
}

static void pool_open(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args out = {{0}};
	uint64_t n = W->r.g.pool_per_chan, cand[VW_ALIAS_MAX];
	unsigned nc;
	CUresult r = n ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY; /* no pool */
	if (!r && !pool_cands(m, n, cand, &nc))
		r = CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&pool_mu);
	if (!r && !W->pool_dev) {
		uint8_t *p = vgpu_pool(&W->r, W->chan);
		CUdeviceptr d;
		memset(p, 0, n);
		if (nc && pool_alias(W, cand, nc, n, &d)) {
			W->pool_dev = d;
		} else if (!(r = pool_register(W, p, n, &d))) {
			W->pool_dev = d;
			W->pool_host = p;
		}
	}
	out.a[0] = r ? 0 : W->pool_dev;
	out.a[1] = r ? 0 : n;
	pthread_mutex_unlock(&pool_mu);
	vw_reply(W, m, vw_take_async_err(W, r), &out, sizeof(out), 0);
}

void vw_mem_pool_close(struct vworker *W)
{
	pthread_mutex_lock(&pool_mu);
	if (W->pool_alias) {
		W->drv.cuMemHostUnregister(W->pool_alias);
		vw_alias_unmap(W->pool_alias, W->r.g.pool_per_chan);
		W->pool_alias = W->pool_host = NULL;
		W->pool_dev = 0;
	}
	pthread_mutex_unlock(&pool_mu);
}

static CUresult pool_copy(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_poolcopy q;
	CUstream s;
	if (m->len != sizeof(q))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&q, m->data, sizeof(q));
	pthread_mutex_lock(&pool_mu);
	uint8_t *base = W->pool_dev ? W->pool_host : NULL;
	pthread_mutex_unlock(&pool_mu);
	uint64_t n = W->r.g.pool_per_chan;
	if (!base || q.off > n || q.len > n - q.off || q.htod > 1)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = vw_range(W, q.dev, q.len);
	if (r || !q.len)
		return r;
	uint8_t *h = base + q.off;
	if (q.stream == VGPU_CU_NO_STREAM_WIRE) {
		r = q.htod ? W->drv.cuMemcpyHtoD_v2(q.dev, h, q.len)
			   : W->drv.cuMemcpyDtoH_v2(h, q.dev, q.len);
		if (!r)
			vw_copied(W, q.len);
		return r;
	}
	if ((r = stream_of(W, q.stream, &s)))
		return r;
	r = q.htod ? W->drv.cuMemcpyHtoDAsync_v2(q.dev, h, q.len, s)
		   : W->drv.cuMemcpyDtoHAsync_v2(h, q.dev, q.len, s);
	if (!r)
		vw_copied(W, q.len);
	/* a synchronous per-thread-stream copy (_ptds) waits; async ones
	 * are truly asynchronous: the memory is the guest's own */
	if (!r && !(m->flags & VGPU_MSG_NOREPLY))
		r = W->drv.cuStreamSynchronize(s);
	return r;
}

/* The serving thread may run this request itself (worker_exec.c says
 * when): a copy between the pinned pool or the message and device memory,
 * short enough not to hold the other guest threads' requests for long, on
 * no stream bound to the calling thread (the per-thread default stream is
 * the executor's own). */
#define INLINE_MAX (4ull << 20) /* ~80 us of DMA on a PCIe 5 GPU */

bool vw_mem_inline_ok(const struct vgpu_msg *m)
{
	const uint64_t per_thread = (uint64_t)(uintptr_t)CU_STREAM_PER_THREAD;
	struct vgpu_cu_poolcopy q;
	uint64_t x[2]; /* dev, stream: guest/cuda/rpc.h's vgpu_cu_xfer */
	switch (m->op) {
	case VGPU_CU_POOL_COPY:
		if (m->len != sizeof(q))
			return false;
		memcpy(&q, m->data, sizeof(q));
		return q.len <= INLINE_MAX && q.stream != per_thread;
	case VGPU_CU_MEMCPY_HTOD_INLINE:
	case VGPU_CU_MEMCPY_DTOH_INLINE: /* at most vgpu_inline_max bytes */
		if (m->len < sizeof(x))
			return false;
		memcpy(x, m->data, sizeof(x));
		return x[1] != per_thread;
	}
	return false;
}

static void answer(struct vworker *W, const struct vgpu_msg *m, CUresult r,
		   uint64_t arena_len)
{
	if (!(m->flags & VGPU_MSG_NOREPLY))
		r = vw_take_async_err(W, r);
	vw_reply(W, m, r, NULL, 0, r ? 0 : arena_len);
}

bool vw_mem_execute(struct vworker *W, struct vw_exec *x,
		    const struct vgpu_msg *m)
{
	(void)x;
	switch (m->op) {
	case VGPU_CU_MEMSET_2D: answer(W, m, memset_2d(W, m), 0); return true;
	case VGPU_CU_RECT_DTOD: answer(W, m, rect_dtod(W, m), 0); return true;
	case VGPU_CU_RECT_HTOD:
	case VGPU_CU_RECT_DTOH: {
		bool htod = m->op == VGPU_CU_RECT_HTOD;
		CUresult r = rect_chunk(W, m, htod);
		if (!r)
			vw_copied(W, m->arena_len);
		answer(W, m, r, htod ? 0 : m->arena_len);
		return true;
	}
	case VGPU_CU_MEM_ALLOC_PITCH: alloc_pitch(W, m); return true;
	case VGPU_CU_MEM_RANGE: mem_range(W, m); return true;
	case VGPU_CU_POOL_OPEN: pool_open(W, m); return true;
	case VGPU_CU_POOL_COPY: answer(W, m, pool_copy(W, m), 0); return true;
	case VGPU_CU_BULK_FENCE: /* executors run a thread's requests in order */
		vw_reply(W, m, CUDA_SUCCESS, NULL, 0, 0);
		return true;
	}
	return false;
}
