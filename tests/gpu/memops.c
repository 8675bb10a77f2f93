/* tests/gpu/memops.c - the memory surface, checked byte for byte.
 *
 * Usage: memops [--big]   (or MEMOPS_BIG=1: sizes up to 1 GiB)
 *
 * Linked with -lcuda, it runs natively and as a vgpu guest. Round trips in
 * every direction (HtoD, DtoD, DtoH, unified cuMemcpy, peer), sync and
 * async, pageable and pinned host memory, sizes 1 B .. 64 MiB (1 GiB with
 * --big) at odd sizes and unaligned offsets; memsets of 8/16/32-bit values
 * in 1D and 2D; 2D and 3D copies with pitches; async ordering across
 * streams with events; pointer attributes; pinned-pool exhaustion; range
 * errors. Each check prints "ok NAME" or "FAIL NAME: why"; data that must
 * match a native run bit for bit is printed as "digest NAME HEX". The last
 * line is "memops: N passed, N failed".
 */
#define _GNU_SOURCE
#include "digest.h"
#include "check.h"
#include <dlfcn.h>
#include <cuda.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MiB (1ull << 20)

static CUcontext ctx;
static CUstream s1, s2;

/* A deterministic pattern: splitmix64 of (seed, index). */
static void pattern(void *p, size_t n, uint64_t seed)
{
	uint8_t *b = p;
	uint64_t z = seed * 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0) {
			z += 0x9e3779b97f4a7c15ull;
			uint64_t x = z;
			x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
			x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
			z ^= x >> 31;
		}
		b[i] = (uint8_t)(z >> (8 * (i % 8)));
	}
}

static int same(struct check *c, const char *what, const void *a,
		const void *b, size_t n)
{
	if (!memcmp(a, b, n))
		return 1;
	const uint8_t *x = a, *y = b;
	size_t i = 0;
	while (x[i] == y[i])
		i++;
	check_fail(c, "%s: %zu bytes, first difference at %zu", what, n, i);
	return 0;
}

/* One attribute, compared with want. */
#define ATTR(c, want, type, a, p)                                             \
	do {                                                                  \
		type v_;                                                      \
		memset(&v_, 0x5c, sizeof(v_));                                \
		if (EXPECT_OK(c, cuPointerGetAttribute(&v_, a, p)) &&         \
		    v_ != (want))                                             \
			check_fail(c, "line %d: %s = %llx, want %llx",        \
				   __LINE__, #a, (unsigned long long)v_,      \
				   (unsigned long long)(want));               \
	} while (0)

/* ---- 1D round trips --------------------------------------------------- */

/* One size: host -> device (offset) -> device (other offset) -> host, by
 * the plain, async, unified and peer calls in turn; every leg checked. */
static void roundtrip(size_t n, uint8_t *src, uint8_t *dst, bool pinned)
{
	char name[64];
	snprintf(name, sizeof(name), "roundtrip_%s_%zu",
		 pinned ? "pinned" : "pageable", n);
	struct check c = {name, 0, ""};
	CUdeviceptr a = 0, b = 0;
	const size_t oa = 3, ob = 5, oh = 7; /* odd, unaligned offsets */
	if (!EXPECT_OK(&c, cuMemAlloc(&a, n + oa)) ||
	    !EXPECT_OK(&c, cuMemAlloc(&b, n + ob)))
		goto out;
	pattern(src + oh, n, n);
	/* synchronous */
	memset(dst, 0, n + oh);
	EXPECT_OK(&c, cuMemcpyHtoD(a + oa, src + oh, n));
	EXPECT_OK(&c, cuMemcpyDtoD(b + ob, a + oa, n));
	EXPECT_OK(&c, cuMemcpyDtoH(dst + oh, b + ob, n));
	same(&c, "sync", src + oh, dst + oh, n);
	/* asynchronous on two streams, ordered by an event */
	CUevent ev;
	memset(dst, 0, n + oh);
	EXPECT_OK(&c, cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING));
	EXPECT_OK(&c, cuMemsetD8Async(b + ob, 0, n, s2));
	EXPECT_OK(&c, cuMemcpyHtoDAsync(a + oa, src + oh, n, s1));
	EXPECT_OK(&c, cuEventRecord(ev, s1));
	EXPECT_OK(&c, cuStreamWaitEvent(s2, ev, 0));
	EXPECT_OK(&c, cuMemcpyDtoDAsync(b + ob, a + oa, n, s2));
	EXPECT_OK(&c, cuMemcpyDtoHAsync(dst + oh, b + ob, n, s2));
	EXPECT_OK(&c, cuStreamSynchronize(s2));
	EXPECT_OK(&c, cuEventDestroy(ev));
	same(&c, "async", src + oh, dst + oh, n);
	/* unified: direction from the addresses. A synchronous copy from
	 * pageable memory may return before its DMA lands: s2 (blocking)
	 * waits for the legacy stream, s1 (non-blocking) would not. */
	memset(dst, 0, n + oh);
	EXPECT_OK(&c, cuMemsetD8(a, 0, n + oa));
	EXPECT_OK(&c, cuMemcpy(a + oa, (CUdeviceptr)(src + oh), n));
	EXPECT_OK(&c, cuMemcpyAsync(b + ob, a + oa, n, s2));
	EXPECT_OK(&c, cuMemcpyAsync((CUdeviceptr)(dst + oh), b + ob, n, s2));
	EXPECT_OK(&c, cuStreamSynchronize(s2));
	same(&c, "unified", src + oh, dst + oh, n);
	memset(dst, 0, n + oh);
	EXPECT_OK(&c, cuMemcpy((CUdeviceptr)(dst + oh), (CUdeviceptr)(src + oh),
			       n));
	same(&c, "unified_htoh", src + oh, dst + oh, n);
	/* peer, within the one device */
	memset(dst, 0, n + oh);
	EXPECT_OK(&c, cuMemsetD8(b, 0, n + ob));
	EXPECT_OK(&c, cuMemcpyPeer(b + ob, ctx, a + oa, ctx, n));
	EXPECT_OK(&c, cuMemcpyPeerAsync(a + oa, ctx, b + ob, ctx, n, s2));
	EXPECT_OK(&c, cuMemcpyDtoHAsync(dst + oh, a + oa, n, s2));
	EXPECT_OK(&c, cuStreamSynchronize(s2));
	same(&c, "peer", src + oh, dst + oh, n);
	if (!c.bad && n <= 64 * MiB)
		digest(name, dst + oh, n);
out:
	if (a)
		cuMemFree(a);
	if (b)
		cuMemFree(b);
	check_end(&c);
}

static void roundtrips(size_t max, bool pinned)
{
	static const size_t sizes[] = {
		1, 2, 3, 7, 64, 255, 1000, 4096, 4097, 65535, 65536 + 1,
		(1 << 20) + 13, 3 * MiB - 1, 16 * MiB + 5, 64 * MiB, 1ull << 30};
	uint8_t *src = NULL, *dst = NULL;
	size_t cap = max + 64;
	if (pinned) {
		struct check c = {"pinned_buffers", 0, ""};
		if (!EXPECT_OK(&c, cuMemAllocHost((void **)&src, cap)) ||
		    !EXPECT_OK(&c, cuMemAllocHost((void **)&dst, cap))) {
			check_end(&c);
			goto out;
		}
	} else {
		src = malloc(cap);
		dst = malloc(cap);
		if (!src || !dst) {
			printf("FAIL roundtrip: no memory for %zu bytes\n", cap);
			goto out;
		}
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++)
		if (sizes[i] <= max)
			roundtrip(sizes[i], src, dst, pinned);
out:
	if (pinned) {
		if (src)
			cuMemFreeHost(src);
		if (dst)
			cuMemFreeHost(dst);
	} else {
		free(src);
		free(dst);
	}
}

/* ---- pinned memory ---------------------------------------------------- */

static bool under_vgpu(void)
{
	return dlsym(RTLD_DEFAULT, "vgpu_guest_library_marker") != NULL;
}

static void check_pinned(void)
{
	struct check c = {"pinned", 0, ""};
	enum { N = 100000 };
	uint8_t *a = NULL, *b = NULL, *r = NULL;
	CUdeviceptr d = 0, da = 0;
	unsigned fl = 0;
	if (!EXPECT_OK(&c, cuMemHostAlloc((void **)&a, N,
					  CU_MEMHOSTALLOC_PORTABLE)) ||
	    !EXPECT_OK(&c, cuMemAllocHost((void **)&b, N)) ||
	    !EXPECT_OK(&c, cuMemAlloc(&d, N)))
		goto out;
	/* async copies from and to pinned memory, ordered by the stream */
	pattern(a, N, 9);
	memset(b, 0, N);
	EXPECT_OK(&c, cuMemcpyHtoDAsync(d, a, N, s1));
	EXPECT_OK(&c, cuMemsetD8Async(d + 10, 0xee, 5, s1));
	EXPECT_OK(&c, cuMemcpyDtoHAsync(b, d, N, s1));
	EXPECT_OK(&c, cuStreamSynchronize(s1));
	memset(a + 10, 0xee, 5);
	same(&c, "async", a, b, N);
	digest("pinned_async", b, N);
	/* unified copies see pinned memory as host memory */
	memset(b, 0, N);
	EXPECT_OK(&c, cuMemcpy((CUdeviceptr)b, d, N));
	same(&c, "unified", a, b, N);
	/* device pointers, flags, attributes */
	EXPECT_OK(&c, cuMemHostGetDevicePointer(&da, a + 100, 0));
	EXPECT_OK(&c, cuMemHostGetFlags(&fl, a));
	if (!(fl & CU_MEMHOSTALLOC_PORTABLE))
		check_fail(&c, "flags %#x lack PORTABLE", fl);
	ATTR(&c, CU_MEMORYTYPE_HOST, unsigned,
	     CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(a + 5));
	ATTR(&c, (uintptr_t)(a + 5), uintptr_t,
	     CU_POINTER_ATTRIBUTE_HOST_POINTER, (CUdeviceptr)(a + 5));
	ATTR(&c, da - 95, CUdeviceptr, CU_POINTER_ATTRIBUTE_DEVICE_POINTER,
	     (CUdeviceptr)(a + 5));
	ATTR(&c, 0, unsigned, CU_POINTER_ATTRIBUTE_IS_MANAGED,
	     (CUdeviceptr)a);
	/* the device alias of pinned memory names the host block: unified
	 * copies find it (and vgpu's DtoH accepts it as the driver does for
	 * mapped memory) */
	if ((r = aligned_alloc(4096, 100 * 1024))) {
		memset(r, 0, N);
		EXPECT_OK(&c, cuMemcpy((CUdeviceptr)r, da - 100, N));
		same(&c, "alias", a, r, N);
		if (under_vgpu()) {
			memset(r, 0, N);
			EXPECT_OK(&c, cuMemcpyDtoH(r, da - 100, N));
			same(&c, "alias_dtoh", a, r, N);
		}
	}
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuMemHostGetDevicePointer(&da, a, 1));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemFreeHost(a + 4096));
	/* registered (staged) memory: recorded, copies still correct */
	if (r) {
		EXPECT_OK(&c, cuMemHostRegister(r, N, 0));
		EXPECT(&c, CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED,
		       cuMemHostRegister(r + 8, 16, 0));
		memset(r, 0, N);
		EXPECT_OK(&c, cuMemcpyDtoHAsync(r, d, N, s2));
		EXPECT_OK(&c, cuStreamSynchronize(s2));
		same(&c, "registered", a, r, N);
		ATTR(&c, CU_MEMORYTYPE_HOST, unsigned,
		     CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)r);
		EXPECT_OK(&c, cuMemHostUnregister(r));
		EXPECT(&c, CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED,
		       cuMemHostUnregister(r));
	}
out:
	free(r);
	if (a)
		EXPECT_OK(&c, cuMemFreeHost(a));
	if (b)
		EXPECT_OK(&c, cuMemFreeHost(b));
	if (d)
		EXPECT_OK(&c, cuMemFree(d));
	check_end(&c);
}

/* The pool is finite: exhausting it is CUDA_ERROR_OUT_OF_MEMORY, and
 * freeing gives the memory back. Natively pinned memory is the host's
 * RAM: there the check is skipped. */
static void check_pool_exhaustion(void)
{
	struct check c = {"pinned_pool_exhaustion", 0, ""};
	enum { MAXB = 65536, B = 256 << 10 };
	static void *blk[MAXB];
	int n = 0;
	CUresult r = CUDA_SUCCESS;
	if (!under_vgpu()) {
		check_end(&c);
		return;
	}
	while (n < MAXB && !(r = cuMemAllocHost(&blk[n], B))) {
		memset(blk[n], n & 0xff, B); /* every block is usable memory */
		n++;
	}
	EXPECT(&c, CUDA_ERROR_OUT_OF_MEMORY, r);
	if (n == 0)
		check_fail(&c, "no pinned block at all");
	while (n > 1)
		EXPECT_OK(&c, cuMemFreeHost(blk[--n]));
	void *again;
	EXPECT_OK(&c, cuMemAllocHost(&again, B));
	EXPECT_OK(&c, cuMemFreeHost(again));
	if (n)
		EXPECT_OK(&c, cuMemFreeHost(blk[0]));
	check_end(&c);
}

/* ---- memsets ---------------------------------------------------------- */

static void check_memsets(void)
{
	struct check c = {"memset", 0, ""};
	enum { N = 4099, W = 37, H = 19 }; /* W, H in elements, rows */
	CUdeviceptr d, p;
	size_t pitch;
	static uint8_t got[N * 4], want[N * 4];
	if (!EXPECT_OK(&c, cuMemAlloc(&d, N * 4)))
		goto out;
	EXPECT_OK(&c, cuMemsetD8(d, 0x11, N * 4));
	EXPECT_OK(&c, cuMemsetD16(d + 2, 0xa1b2, N - 3));
	/* synchronous memsets of device memory may return early, and s1 does
	 * not wait for the legacy stream */
	EXPECT_OK(&c, cuCtxSynchronize());
	EXPECT_OK(&c, cuMemsetD32Async(d + 8, 0xc3d4e5f6u, N / 2, s1));
	EXPECT_OK(&c, cuMemsetD16Async(d + 4 * N - 64, 0x0708, 8, s1));
	EXPECT_OK(&c, cuMemsetD8Async(d + 1, 0x99, 3, s1));
	EXPECT_OK(&c, cuStreamSynchronize(s1));
	EXPECT_OK(&c, cuMemcpyDtoH(got, d, N * 4));
	memset(want, 0x11, N * 4);
	for (size_t i = 0; i < N - 3; i++)
		memcpy(want + 2 + 2 * i, &(uint16_t){0xa1b2}, 2);
	for (size_t i = 0; i < N / 2; i++)
		memcpy(want + 8 + 4 * i, &(uint32_t){0xc3d4e5f6u}, 4);
	for (size_t i = 0; i < 8; i++)
		memcpy(want + 4 * N - 64 + 2 * i, &(uint16_t){0x0708}, 2);
	memset(want + 1, 0x99, 3);
	same(&c, "1d", want, got, N * 4);
	digest("memset_1d", got, N * 4);
	EXPECT_OK(&c, cuMemFree(d));

	/* 2D: 8, 16 and 32-bit rows into a pitched allocation */
	if (!EXPECT_OK(&c, cuMemAllocPitch(&p, &pitch, W * 4, H, 4)))
		goto out;
	if (pitch < W * 4) {
		check_fail(&c, "pitch %zu below the width %d", pitch, W * 4);
		goto out;
	}
	uint8_t *g2 = calloc(pitch, H), *w2 = calloc(pitch, H);
	if (!g2 || !w2)
		goto free2;
	EXPECT_OK(&c, cuMemsetD8(p, 0x5a, pitch * H));
	EXPECT_OK(&c, cuMemsetD2D32(p, pitch, 0x01020304u, W, H));
	EXPECT_OK(&c, cuMemsetD2D16(p + 4, pitch, 0xbeef, 5, H - 2));
	EXPECT_OK(&c, cuCtxSynchronize());
	EXPECT_OK(&c, cuMemsetD2D8Async(p + pitch + 1, pitch, 0x77, 9, 3, s1));
	EXPECT_OK(&c, cuMemsetD2D16Async(p + 40, pitch, 0x1234, 3, 4, s1));
	EXPECT_OK(&c, cuMemsetD2D32Async(p + 64, pitch, 0xdeadbeefu, 2, 2, s1));
	EXPECT_OK(&c, cuStreamSynchronize(s1));
	EXPECT_OK(&c, cuMemcpyDtoH(g2, p, pitch * H));
	memset(w2, 0x5a, pitch * H);
	for (size_t y = 0; y < H; y++)
		for (size_t x = 0; x < W; x++)
			memcpy(w2 + y * pitch + 4 * x, &(uint32_t){0x01020304u}, 4);
	for (size_t y = 0; y < H - 2; y++)
		for (size_t x = 0; x < 5; x++)
			memcpy(w2 + 4 + y * pitch + 2 * x, &(uint16_t){0xbeef}, 2);
	for (size_t y = 0; y < 3; y++)
		memset(w2 + pitch + 1 + y * pitch, 0x77, 9);
	for (size_t y = 0; y < 4; y++)
		for (size_t x = 0; x < 3; x++)
			memcpy(w2 + 40 + y * pitch + 2 * x, &(uint16_t){0x1234}, 2);
	for (size_t y = 0; y < 2; y++)
		for (size_t x = 0; x < 2; x++)
			memcpy(w2 + 64 + y * pitch + 4 * x,
			       &(uint32_t){0xdeadbeefu}, 4);
	same(&c, "2d", w2, g2, pitch * H);
	/* the rows only: the pitch is the driver's choice */
	for (size_t y = 0; y < H; y++)
		memmove(g2 + y * W * 4, g2 + y * pitch, W * 4);
	digest("memset_2d", g2, (size_t)W * 4 * H);
	/* ranges past the allocation are refused (vgpu checks every row;
	 * the driver's own 2D checks are not documented) */
	if (under_vgpu())
		EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
		       cuMemsetD2D8(p, pitch, 0, W * 4, H + 1));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuMemsetD16(p + pitch * H - 2, 0, 2));
free2:
	free(g2);
	free(w2);
	EXPECT_OK(&c, cuMemFree(p));
out:
	check_end(&c);
}

/* ---- 2D and 3D copies ------------------------------------------------- */

/* Expected result of a 3D copy of w x h x dep from (src, sp, sr) to
 * (dst, dp, dr), on the CPU. */
static void ref3d(uint8_t *dst, size_t dp, size_t dr, const uint8_t *src,
		  size_t sp, size_t sr, size_t w, size_t h, size_t dep)
{
	for (size_t z = 0; z < dep; z++)
		for (size_t y = 0; y < h; y++)
			memcpy(dst + (z * dr + y) * dp, src + (z * sr + y) * sp, w);
}

static void check_2d(void)
{
	struct check c = {"copy_2d", 0, ""};
	enum { W = 301, H = 67, HP = 333 }; /* host pitch HP > W */
	CUdeviceptr p, q;
	size_t pitch, qpitch;
	uint8_t *hs = malloc(HP * H), *hd = calloc(HP, H), *want = calloc(HP, H);
	if (!hs || !hd || !want)
		goto out;
	pattern(hs, HP * H, 2);
	if (!EXPECT_OK(&c, cuMemAllocPitch(&p, &pitch, W + 16, H, 4)) ||
	    !EXPECT_OK(&c, cuMemAllocPitch(&q, &qpitch, W + 16, H + 2, 8)))
		goto out;
	EXPECT_OK(&c, cuMemsetD8(p, 0, pitch * H));
	EXPECT_OK(&c, cuMemsetD8(q, 0, qpitch * (H + 2)));
	/* host (pitch HP, from x 3) -> device (x 5) */
	CUDA_MEMCPY2D m = {.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = hs,
			   .srcXInBytes = 3, .srcPitch = HP,
			   .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = p,
			   .dstXInBytes = 5, .dstPitch = pitch,
			   .WidthInBytes = W - 8, .Height = H};
	EXPECT_OK(&c, cuMemcpy2D(&m));
	/* device -> device, rows 1.. to rows 2.., async */
	CUDA_MEMCPY2D d2 = {.srcMemoryType = CU_MEMORYTYPE_DEVICE,
			    .srcDevice = p, .srcXInBytes = 5, .srcY = 1,
			    .srcPitch = pitch,
			    .dstMemoryType = CU_MEMORYTYPE_UNIFIED,
			    .dstDevice = q, .dstXInBytes = 1, .dstY = 2,
			    .dstPitch = qpitch, .WidthInBytes = W - 8,
			    .Height = H - 1};
	/* s2 is blocking: it follows the legacy stream's copies */
	EXPECT_OK(&c, cuMemcpy2DAsync(&d2, s2));
	/* device -> host (pitch HP), async on the same stream */
	CUDA_MEMCPY2D b = {.srcMemoryType = CU_MEMORYTYPE_DEVICE,
			   .srcDevice = q, .srcXInBytes = 1, .srcY = 2,
			   .srcPitch = qpitch,
			   .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = hd,
			   .dstPitch = HP, .WidthInBytes = W - 8,
			   .Height = H - 1};
	EXPECT_OK(&c, cuMemcpy2DAsync(&b, s2));
	EXPECT_OK(&c, cuStreamSynchronize(s2));
	ref3d(want, HP, 0, hs + 3 + HP, HP, 0, W - 8, H - 1, 1);
	same(&c, "2d", want, hd, HP * H);
	digest("copy_2d", hd, HP * (H - 1));
	/* unaligned form, host to host through unified addressing */
	memset(hd, 0, HP * H);
	CUDA_MEMCPY2D hh = {.srcMemoryType = CU_MEMORYTYPE_UNIFIED,
			    .srcDevice = (CUdeviceptr)hs, .srcPitch = HP,
			    .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = hd,
			    .dstPitch = HP, .WidthInBytes = W, .Height = H};
	EXPECT_OK(&c, cuMemcpy2DUnaligned(&hh));
	ref3d(want, HP, 0, hs, HP, 0, W, H, 1);
	same(&c, "2d_htoh", want, hd, HP * H);
	/* a pitch below the width, a rectangle past the allocation */
	m.srcPitch = W - 9;
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpy2D(&m));
	m.srcPitch = HP;
	m.dstY = 1; /* the last row past the allocation */
	if (under_vgpu())
		EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpy2D(&m));
	EXPECT_OK(&c, cuMemFree(p));
	EXPECT_OK(&c, cuMemFree(q));
out:
	free(hs);
	free(hd);
	free(want);
	check_end(&c);
}

static void check_3d(void)
{
	struct check c = {"copy_3d", 0, ""};
	enum { W = 45, H = 13, D = 7, SP = 64, SR = 17, DP = 128, DR = 15 };
	CUdeviceptr v, u;
	size_t hsz = (size_t)SP * SR * D, dsz = (size_t)DP * DR * D;
	uint8_t *hs = malloc(hsz), *hd = calloc(1, hsz), *want = calloc(1, hsz);
	if (!hs || !hd || !want)
		goto out;
	pattern(hs, hsz, 3);
	if (!EXPECT_OK(&c, cuMemAlloc(&v, dsz)) ||
	    !EXPECT_OK(&c, cuMemAlloc(&u, dsz)))
		goto out;
	EXPECT_OK(&c, cuMemsetD8(v, 0, dsz));
	EXPECT_OK(&c, cuMemsetD8(u, 0, dsz));
	CUDA_MEMCPY3D m = {.srcMemoryType = CU_MEMORYTYPE_HOST, .srcHost = hs,
			   .srcXInBytes = 2, .srcY = 1, .srcZ = 0,
			   .srcPitch = SP, .srcHeight = SR,
			   .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = v,
			   .dstXInBytes = 9, .dstY = 2, .dstZ = 0,
			   .dstPitch = DP, .dstHeight = DR,
			   .WidthInBytes = W, .Height = H, .Depth = D};
	EXPECT_OK(&c, cuMemcpy3D(&m));
	CUDA_MEMCPY3D dd = {.srcMemoryType = CU_MEMORYTYPE_DEVICE,
			    .srcDevice = v, .srcXInBytes = 9, .srcY = 2,
			    .srcPitch = DP, .srcHeight = DR,
			    .dstMemoryType = CU_MEMORYTYPE_DEVICE, .dstDevice = u,
			    .dstPitch = DP, .dstHeight = DR,
			    .WidthInBytes = W, .Height = H, .Depth = D};
	EXPECT_OK(&c, cuMemcpy3DAsync(&dd, s2));
	CUDA_MEMCPY3D b = {.srcMemoryType = CU_MEMORYTYPE_DEVICE,
			   .srcDevice = u, .srcPitch = DP, .srcHeight = DR,
			   .dstMemoryType = CU_MEMORYTYPE_HOST, .dstHost = hd,
			   .dstXInBytes = 1, .dstPitch = SP, .dstHeight = SR,
			   .WidthInBytes = W, .Height = H, .Depth = D};
	EXPECT_OK(&c, cuMemcpy3DAsync(&b, s2));
	EXPECT_OK(&c, cuStreamSynchronize(s2));
	ref3d(want + 1, SP, SR, hs + 2 + SP, SP, SR, W, H, D);
	same(&c, "3d", want, hd, hsz);
	digest("copy_3d", hd, hsz);
	/* the peer form, within the one device and context */
	memset(hd, 0, hsz);
	CUDA_MEMCPY3D_PEER pp = {.srcMemoryType = CU_MEMORYTYPE_DEVICE,
				 .srcDevice = u, .srcContext = ctx,
				 .srcPitch = DP, .srcHeight = DR,
				 .dstMemoryType = CU_MEMORYTYPE_HOST,
				 .dstHost = hd, .dstContext = ctx,
				 .dstXInBytes = 1, .dstPitch = SP,
				 .dstHeight = SR, .WidthInBytes = W, .Height = H,
				 .Depth = D};
	EXPECT_OK(&c, cuMemcpy3DPeerAsync(&pp, s1));
	EXPECT_OK(&c, cuStreamSynchronize(s1));
	same(&c, "3d_peer", want, hd, hsz);
	m.dstZ = 1; /* the last slice past the device allocation */
	if (under_vgpu())
		EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpy3D(&m));
	EXPECT_OK(&c, cuMemFree(v));
	EXPECT_OK(&c, cuMemFree(u));
out:
	free(hs);
	free(hd);
	free(want);
	check_end(&c);
}

/* ---- unified addressing ----------------------------------------------- */

static void check_pointer_attributes(void)
{
	struct check c = {"pointer_attributes", 0, ""};
	CUdeviceptr d, e, base = 0;
	size_t size = 0;
	unsigned long long id1 = 0, id2 = 0;
	char *host = malloc(4096);
	if (!host || !EXPECT_OK(&c, cuMemAlloc(&d, MiB)) ||
	    !EXPECT_OK(&c, cuMemAlloc(&e, MiB)))
		goto out;
	ATTR(&c, CU_MEMORYTYPE_DEVICE, unsigned, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
	     d + 10);
	ATTR(&c, d + 10, CUdeviceptr, CU_POINTER_ATTRIBUTE_DEVICE_POINTER,
	     d + 10);
	ATTR(&c, ctx, CUcontext, CU_POINTER_ATTRIBUTE_CONTEXT, d);
	ATTR(&c, d, CUdeviceptr, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR,
	     d + MiB - 1);
	ATTR(&c, MiB, size_t, CU_POINTER_ATTRIBUTE_RANGE_SIZE, d + 7);
	ATTR(&c, 0, unsigned, CU_POINTER_ATTRIBUTE_IS_MANAGED, d);
	ATTR(&c, 0, int, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, d);
	ATTR(&c, 1, unsigned, CU_POINTER_ATTRIBUTE_MAPPED, d);
	EXPECT_OK(&c, cuPointerGetAttribute(&id1, CU_POINTER_ATTRIBUTE_BUFFER_ID,
					    d));
	EXPECT_OK(&c, cuPointerGetAttribute(&id2, CU_POINTER_ATTRIBUTE_BUFFER_ID,
					    e + 5));
	if (!id1 || id1 == id2)
		check_fail(&c, "buffer ids %llx and %llx", id1, id2);
	void *hp;
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuPointerGetAttribute(&hp, CU_POINTER_ATTRIBUTE_HOST_POINTER, d));
	EXPECT_OK(&c, cuMemGetAddressRange(&base, &size, e + 4097));
	if (base != e || size != MiB)
		check_fail(&c, "address range %llx+%zu, want %llx+%llu",
			   (unsigned long long)base, size,
			   (unsigned long long)e, MiB);
	/* a unified copy running past a device allocation is refused */
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuMemcpy(e + MiB - 4, (CUdeviceptr)host, 8));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuMemcpy((CUdeviceptr)host, e + MiB - 4, 8));
	/* plain host memory is nobody's: an error alone, NULL values in bulk */
	unsigned t = 77;
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuPointerGetAttribute(&t, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
				     (CUdeviceptr)host));
	CUpointer_attribute as[] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
				    CU_POINTER_ATTRIBUTE_IS_MANAGED};
	unsigned mt = 77, man = 77;
	void *vals[] = {&mt, &man};
	EXPECT_OK(&c, cuPointerGetAttributes(2, as, vals, (CUdeviceptr)host));
	if (mt != 0 || man != 0)
		check_fail(&c, "host memory: type %u managed %u", mt, man);
	mt = 0;
	EXPECT_OK(&c, cuPointerGetAttributes(2, as, vals, d));
	if (mt != CU_MEMORYTYPE_DEVICE || man != 0)
		check_fail(&c, "device memory: type %u managed %u", mt, man);
	/* device addresses are reserved in this process: no host mapping can
	 * be placed there, so no host pointer can ever equal one */
	void *m = mmap((void *)(uintptr_t)(e & ~4095ull), 4096, PROT_READ,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (m != MAP_FAILED) {
		check_fail(&c, "a host mapping was placed at device address %llx",
			   (unsigned long long)e);
		munmap(m, 4096);
	}
	EXPECT_OK(&c, cuMemFree(d));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuPointerGetAttribute(&t, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d));
	EXPECT_OK(&c, cuMemFree(e));
	/* vgpu keeps freed device ranges reserved, as the driver keeps its
	 * virtual range: a stale device pointer never names host memory */
	m = mmap((void *)(uintptr_t)(e & ~4095ull), 4096, PROT_READ,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (under_vgpu() && m != MAP_FAILED)
		check_fail(&c, "a host mapping was placed at freed device "
			   "address %llx", (unsigned long long)e);
	if (m != MAP_FAILED)
		munmap(m, 4096);
out:
	free(host);
	check_end(&c);
}

/* ---- stream-ordered allocation ----------------------------------------- */

static void check_alloc_async(void)
{
	struct check c = {"alloc_async", 0, ""};
	enum { N = 300007 };
	uint8_t *src = malloc(N), *dst = calloc(1, N);
	CUdeviceptr p = 0, q = 0;
	CUevent ev;
	if (!src || !dst || !EXPECT_OK(&c, cuEventCreate(&ev, 0)))
		goto out;
	pattern(src, N, 11);
	/* allocated on s1, used on s1 and (after an event) on s2, freed on s2 */
	EXPECT_OK(&c, cuMemAllocAsync(&p, N, s1));
	EXPECT_OK(&c, cuMemAllocAsync(&q, N, s1));
	ATTR(&c, CU_MEMORYTYPE_DEVICE, unsigned,
	     CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p + 1);
	EXPECT_OK(&c, cuMemcpyHtoDAsync(p, src, N, s1));
	EXPECT_OK(&c, cuMemcpyDtoDAsync(q, p, N, s1));
	EXPECT_OK(&c, cuMemFreeAsync(p, s1));
	EXPECT_OK(&c, cuEventRecord(ev, s1));
	EXPECT_OK(&c, cuStreamWaitEvent(s2, ev, 0));
	EXPECT_OK(&c, cuMemcpyDtoHAsync(dst, q, N, s2));
	EXPECT_OK(&c, cuMemFreeAsync(q, s2));
	EXPECT_OK(&c, cuStreamSynchronize(s2));
	same(&c, "stream-ordered", src, dst, N);
	digest("alloc_async", dst, N);
	EXPECT_OK(&c, cuEventDestroy(ev));
out:
	free(src);
	free(dst);
	check_end(&c);
}

/* ---- main ------------------------------------------------------------- */

static bool want_big(int argc, char **argv)
{
	const char *e = getenv("MEMOPS_BIG");
	if (e && *e && strcmp(e, "0"))
		return true;
	return argc > 1 && !strcmp(argv[1], "--big");
}

int main(int argc, char **argv)
{
	CUdevice dev;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (cuInit(0) || cuDeviceGet(&dev, 0) ||
	    cuDevicePrimaryCtxRetain(&ctx, dev) || cuCtxSetCurrent(ctx) ||
	    cuStreamCreate(&s1, CU_STREAM_NON_BLOCKING) ||
	    cuStreamCreate(&s2, 0)) {
		printf("FAIL init\nmemops: 0 passed, 1 failed\n");
		return 1;
	}
	bool big = want_big(argc, argv);
	roundtrips(big ? 1ull << 30 : 64 * MiB, false);
	/* pinned memory is the VM's pool: tests/gpu/run.sh gives each
	 * process 64 MiB of it, the integration suite 4 MiB */
	roundtrips(big ? 16 * MiB + 64 : MiB + 64, true);
	check_pinned();
	check_memsets();
	check_2d();
	check_3d();
	check_pointer_attributes();
	check_pool_exhaustion();
	check_alloc_async();
	return check_summary("memops");
}
