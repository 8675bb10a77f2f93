/* daemon/sim/sim_mem2d.c - the sim's pitched memory: 2D copies, memsets
 * of 8/16/32-bit values in one or two dimensions, device-to-device async
 * copies, cuMemAllocPitch, cuMemGetAddressRange, cuMemAllocAsync and
 * cuMemFreeAsync.
 *
 * Contract: a rectangle is height rows of width bytes, row r of a side at
 * start + r * pitch. Its device sides are checked at the call (the whole
 * extent, (height - 1) * pitch + width bytes computed without overflow,
 * inside one live allocation) and again row by row when it runs (freed
 * meanwhile: a sticky illegal address). Host sides must not overlap the
 * device address range. Pitches below the width (more than one row),
 * misaligned memset rows and arrays are refused as the driver refuses them
 * (arrays: NOT_SUPPORTED, the sim has none). Pitched allocations round
 * each row up to SIM_PITCH bytes.
 */
#include "sim.h"
#include <string.h>

#define SIM_PITCH 512

static void *side(CUdeviceptr d, void *h, size_t pitch, size_t r, size_t n)
{
	if (!d)
		return (uint8_t *)h + r * pitch;
	return sim_heap_map(d + r * pitch, n);
}

static void fill(uint8_t *d, const struct sim_rect *x)
{
	if (x->elem == 1) {
		memset(d, (int)x->val, x->width);
		return;
	}
	for (size_t i = 0; i + x->elem <= x->width; i += x->elem)
		memcpy(d + i, &x->val, x->elem);
}

void sim_rect_exec(struct sim_op *op)
{
	const struct sim_rect *x = &op->u.rect;
	sim_heap_rdlock();
	for (size_t r = 0; r < x->height; r++) {
		uint8_t *d = side(x->dst, x->hdst, x->dpitch, r, x->width);
		const uint8_t *s = x->hsrc || x->src ?
			side(x->src, (void *)x->hsrc, x->spitch, r, x->width) : d;
		if (!d || !s) {
			sim_fault(CUDA_ERROR_ILLEGAL_ADDRESS);
			break;
		}
		if (x->hsrc || x->src)
			memmove(d, s, x->width);
		else
			fill(d, x);
	}
	sim_heap_unlock();
}

/* Bytes a rectangle spans, or false if that overflows. */
static bool extent(size_t pitch, size_t width, size_t height, size_t *out)
{
	size_t rows;
	if (height > 1 && pitch < width)
		return false;
	if (__builtin_mul_overflow(height - 1, pitch, &rows))
		return false;
	return !__builtin_add_overflow(rows, width, out);
}

static CUresult submit(struct sim_op *op, CUstream hs, bool wait)
{
	struct sim_stream *s;
	uint64_t seq;
	CUresult rc = sim_stream_resolve(hs, &s);
	if (rc) {
		sim_op_free(op);
		return rc;
	}
	rc = sim_submit(s, op, &seq);
	if (!rc && wait)
		sim_stream_wait(s, seq);
	sim_stream_put(s);
	return rc ? rc : sim_sticky();
}

static CUresult check_dev(CUdeviceptr p, size_t pitch, size_t w, size_t h)
{
	size_t n;
	if (!extent(pitch, w, h, &n))
		return CUDA_ERROR_INVALID_VALUE;
	return sim_heap_check(p, n);
}

static CUresult check_host(const void *p, size_t pitch, size_t w, size_t h)
{
	size_t n;
	if (!p || !extent(pitch, w, h, &n) || sim_heap_is_device_range(p, n))
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

static CUresult set2d(CUdeviceptr dst, size_t pitch, uint32_t val,
		      unsigned elem, size_t w, size_t h, CUstream hs)
{
	CUresult rc = sim_enter();
	if (rc || w == 0 || h == 0)
		return rc;
	size_t wb;
	if (__builtin_mul_overflow(w, (size_t)elem, &wb) || dst % elem ||
	    (h > 1 && pitch % elem))
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = check_dev(dst, pitch, wb, h)))
		return rc;
	struct sim_op *op = sim_op_new(SIM_OP_RECT);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	op->u.rect = (struct sim_rect){.dst = dst, .dpitch = pitch,
				       .width = wb, .height = h, .val = val,
				       .elem = elem};
	return submit(op, hs, false);
}

CUresult sim_cuMemsetD16Async(CUdeviceptr dst, unsigned short us, size_t n,
			      CUstream s)
{
	return set2d(dst, 0, us, 2, n, 1, s);
}

CUresult sim_cuMemsetD32Async(CUdeviceptr dst, unsigned int ui, size_t n,
			      CUstream s)
{
	return set2d(dst, 0, ui, 4, n, 1, s);
}

CUresult sim_cuMemsetD2D8Async(CUdeviceptr dst, size_t pitch,
			       unsigned char uc, size_t w, size_t h, CUstream s)
{
	return set2d(dst, pitch, uc, 1, w, h, s);
}

CUresult sim_cuMemsetD2D16Async(CUdeviceptr dst, size_t pitch,
				unsigned short us, size_t w, size_t h,
				CUstream s)
{
	return set2d(dst, pitch, us, 2, w, h, s);
}

CUresult sim_cuMemsetD2D32Async(CUdeviceptr dst, size_t pitch,
				unsigned int ui, size_t w, size_t h, CUstream s)
{
	return set2d(dst, pitch, ui, 4, w, h, s);
}

/* One side of a CUDA_MEMCPY2D resolved: device address or host pointer
 * of its first byte. */
static CUresult resolve(CUmemorytype t, CUdeviceptr dev, const void *host,
			size_t x, size_t y, size_t pitch, CUdeviceptr *d,
			const uint8_t **h)
{
	size_t off;
	if (t == CU_MEMORYTYPE_UNIFIED)
		t = sim_heap_is_device_range((const void *)(uintptr_t)dev, 1) ?
			    CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
	if (t == CU_MEMORYTYPE_ARRAY)
		return CUDA_ERROR_NOT_SUPPORTED;
	if ((t != CU_MEMORYTYPE_DEVICE && t != CU_MEMORYTYPE_HOST) ||
	    __builtin_mul_overflow(y, pitch, &off) ||
	    __builtin_add_overflow(off, x, &off))
		return CUDA_ERROR_INVALID_VALUE;
	*d = 0;
	*h = NULL;
	if (t == CU_MEMORYTYPE_DEVICE)
		*d = dev + off;
	else if (host)
		*h = (const uint8_t *)host + off;
	else
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

CUresult sim_cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *p, CUstream hs)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_rect x = {.dpitch = p->dstPitch, .spitch = p->srcPitch,
			     .width = p->WidthInBytes, .height = p->Height};
	const uint8_t *hd, *hs_;
	if ((rc = resolve(p->srcMemoryType, p->srcDevice, p->srcHost,
			  p->srcXInBytes, p->srcY, p->srcPitch, &x.src, &hs_)) ||
	    (rc = resolve(p->dstMemoryType, p->dstDevice, p->dstHost,
			  p->dstXInBytes, p->dstY, p->dstPitch, &x.dst, &hd)))
		return rc;
	x.hsrc = hs_;
	x.hdst = (void *)hd;
	if (x.width == 0 || x.height == 0)
		return CUDA_SUCCESS;
	if ((rc = x.src ? check_dev(x.src, x.spitch, x.width, x.height)
			: check_host(x.hsrc, x.spitch, x.width, x.height)) ||
	    (rc = x.dst ? check_dev(x.dst, x.dpitch, x.width, x.height)
			: check_host(x.hdst, x.dpitch, x.width, x.height)))
		return rc;
	struct sim_op *op = sim_op_new(SIM_OP_RECT);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	op->u.rect = x;
	return submit(op, hs, false);
}

CUresult sim_cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n,
				  CUstream s)
{
	CUDA_MEMCPY2D p = {.srcMemoryType = CU_MEMORYTYPE_DEVICE,
			   .srcDevice = src, .dstMemoryType = CU_MEMORYTYPE_DEVICE,
			   .dstDevice = dst, .WidthInBytes = n, .Height = 1};
	return sim_cuMemcpy2DAsync_v2(&p, s);
}

CUresult sim_cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t w,
				size_t h, unsigned int elem)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	size_t p, n;
	if (!dptr || !pitch || !w || !h ||
	    (elem != 4 && elem != 8 && elem != 16) ||
	    __builtin_add_overflow(w, (size_t)SIM_PITCH - 1, &p))
		return CUDA_ERROR_INVALID_VALUE;
	p &= ~(size_t)(SIM_PITCH - 1);
	if (__builtin_mul_overflow(p, h, &n))
		return CUDA_ERROR_OUT_OF_MEMORY;
	rc = sim_heap_alloc(n, NULL, dptr);
	if (!rc)
		*pitch = p;
	return rc;
}

CUresult sim_cuMemGetAddressRange_v2(CUdeviceptr *base, size_t *size,
				     CUdeviceptr p)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	struct sim_span s;
	sim_heap_rdlock();
	bool found = sim_heap_find(p, 1, &s);
	sim_heap_unlock();
	if (!found)
		return CUDA_ERROR_NOT_FOUND;
	if (base)
		*base = s.base;
	if (size)
		*size = s.size;
	return CUDA_SUCCESS;
}
