/* tests/gpu/bulk.c - the bulk data path, byte for byte: copies from 1 B up
 * to --max bytes (default 64 MiB; 4 GiB with --max 4096M) at unaligned
 * host and device offsets, host to device, device to device, device to
 * host, from pageable, pinned (cuMemHostAlloc) and registered
 * (cuMemHostRegister) memory, synchronous and async; async ordering
 * across streams with events; synchronous pinned copies after queued
 * memsets; two threads copying large buffers at once;
 * and, through vgpu only (VGPU_REGION set), the pinned pool exhausted:
 * CUDA_ERROR_OUT_OF_MEMORY, pageable copies still work, a freed block is
 * handed out again.
 *
 * Data is a fixed pseudo-random stream, so "digest NAME HEX" lines match
 * a native run bit for bit (tests/gpu/run.sh compares them).
 * usage: bulk [--max BYTES[M]]
 */
#define DIGEST_START FNV_START_SHORT /* digest.h */
#include "digest.h"
#include "check.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define MIB (1ull << 20)

/* A fixed pseudo-random stream, produced in pieces: x is the generator's
 * state, n a multiple of 8 except in the last piece. */
static void gen(uint64_t *x, uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
		memcpy(p + i, x, 8);
	}
	for (; i < n; i++)
		p[i] = (uint8_t)(*x >> (8 * (i & 7)));
}

static uint64_t seed_state(uint64_t seed)
{
	return seed * 0x9E3779B97F4A7C15ull + 1;
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed_state(seed);
	gen(&x, p, n);
}

/* Whether p holds fill(seed)'s n bytes: regenerated piece by piece, so a
 * 4 GiB copy is checked without a second 4 GiB buffer. */
static bool is_fill(const uint8_t *p, size_t n, uint64_t seed)
{
	static uint8_t piece[1 << 16];
	uint64_t x = seed_state(seed);
	for (size_t o = 0; o < n; o += sizeof(piece)) {
		size_t k = n - o < sizeof(piece) ? n - o : sizeof(piece);
		gen(&x, piece, k);
		if (memcmp(p + o, piece, k))
			return false;
	}
	return true;
}

/* host -> device -> device -> host at odd offsets; exact and digested.
 * One host buffer: the source, overwritten once the host-to-device copy
 * has returned (pageable memory may be reused then, async or not), then
 * the destination, checked against the pattern regenerated. Peak memory:
 * n on the host, 2n on the device. */
static void round_trip(struct check *c, size_t n, size_t ho, size_t dof,
		       int async, CUstream s)
{
	uint8_t *buf = malloc(n + 8192);
	CUdeviceptr d1 = 0, d2 = 0;
	if (!buf) {
		check_fail(c, "malloc %zu", n);
		goto out;
	}
	fill(buf + ho, n, n);
	if (!EXPECT_OK(c, cuMemAlloc(&d1, n + 64)) ||
	    !EXPECT_OK(c, cuMemAlloc(&d2, n + 64)))
		goto out;
	if (async) {
		EXPECT_OK(c, cuMemcpyHtoDAsync(d1 + dof, buf + ho, n, s));
		memset(buf, 0xEE, n + 8192);
		EXPECT_OK(c, cuMemcpyDtoDAsync(d2 + 7, d1 + dof, n, s));
		EXPECT_OK(c, cuMemcpyDtoHAsync(buf + 3, d2 + 7, n, s));
		EXPECT_OK(c, cuStreamSynchronize(s));
	} else {
		EXPECT_OK(c, cuMemcpyHtoD(d1 + dof, buf + ho, n));
		memset(buf, 0xEE, n + 8192);
		EXPECT_OK(c, cuMemcpyDtoD(d2 + 7, d1 + dof, n));
		EXPECT_OK(c, cuMemcpyDtoH(buf + 3, d2 + 7, n));
	}
	if (!is_fill(buf + 3, n, n) || buf[2] != 0xEE || buf[3 + n] != 0xEE)
		check_fail(c, "%zu bytes (host +%zu, device +%zu, %s) differ",
			   n, ho, dof, async ? "async" : "sync");
	char name[64];
	snprintf(name, sizeof(name), "%s_%zu_%zu", async ? "async" : "sync", n,
		 ho);
	printf("digest %s %016llx\n", name,
	       (unsigned long long)fnv(buf + 3, n));
out:
	if (d1)
		cuMemFree(d1);
	if (d2)
		cuMemFree(d2);
	free(buf);
}

static void sizes(size_t max, CUstream s)
{
	static const size_t n[] = {1, 3, 63, 4095, 4096, 4097, 65535,
				   (1 << 20) + 7, 8 << 20, (8 << 20) + 4097,
				   (33 << 20) + 5, 64 << 20};
	struct check c = {.name = "pageable_sizes_offsets"};
	for (size_t i = 0; i < sizeof(n) / sizeof(*n) && n[i] <= max; i++)
		for (size_t ho = 0; ho < 3; ho++)
			round_trip(&c, n[i], ho * 2049, ho * 5, (int)(ho & 1), s);
	if (max > (64u << 20))
		round_trip(&c, max, 1, 3, 0, s);
	check_end(&c);
}

static void pinned(CUstream s)
{
	struct check c = {.name = "pinned_and_registered"};
	size_t n = MIB + 123;
	uint8_t *a = NULL, *b = NULL, *reg = NULL;
	CUdeviceptr d = 0;
	if (!EXPECT_OK(&c, cuMemHostAlloc((void **)&a, n + 8, 0)) ||
	    !EXPECT_OK(&c, cuMemHostAlloc((void **)&b, n + 8, 0)) ||
	    !EXPECT_OK(&c, cuMemAlloc(&d, n + 8)))
		goto out;
	fill(a + 1, n, 77);
	EXPECT_OK(&c, cuMemcpyHtoDAsync(d + 5, a + 1, n, s));
	EXPECT_OK(&c, cuMemcpyDtoHAsync(b + 2, d + 5, n, s));
	EXPECT_OK(&c, cuStreamSynchronize(s));
	if (memcmp(a + 1, b + 2, n))
		check_fail(&c, "pinned async round trip differs");
	digest("pinned", b + 2, n);
	/* registered guest memory: staged, byte-exact both ways */
	size_t rn = 3 * MIB;
	if (posix_memalign((void **)&reg, 4096, rn)) {
		check_fail(&c, "posix_memalign");
		goto out;
	}
	fill(reg, rn, 99);
	if (EXPECT_OK(&c, cuMemHostRegister(reg, rn, 0))) {
		CUdeviceptr d2;
		if (EXPECT_OK(&c, cuMemAlloc(&d2, rn))) {
			EXPECT_OK(&c, cuMemcpyHtoDAsync(d2, reg, rn, s));
			EXPECT_OK(&c, cuStreamSynchronize(s));
			memset(reg, 0, rn);
			EXPECT_OK(&c, cuMemcpyDtoHAsync(reg + 1, d2, rn - 1, s));
			EXPECT_OK(&c, cuStreamSynchronize(s));
			uint8_t *want = malloc(rn);
			fill(want, rn, 99);
			if (!want || memcmp(reg + 1, want, rn - 1) || reg[0])
				check_fail(&c, "registered round trip differs");
			free(want);
			cuMemFree(d2);
		}
		EXPECT_OK(&c, cuMemHostUnregister(reg));
	}
out:
	if (a)
		cuMemFreeHost(a);
	if (b)
		cuMemFreeHost(b);
	if (d)
		cuMemFree(d);
	free(reg);
	check_end(&c);
}

/* Stream order: a memset queued before a pageable copy never lands after
 * it; a copy on a second stream waits for an event of the first. */
static void ordering(void)
{
	struct check c = {.name = "async_order_events"};
	size_t n = 12 * MIB + 11;
	uint8_t *src = malloc(n), *dst = malloc(n);
	CUstream s1 = NULL, s2 = NULL;
	CUevent e = NULL;
	CUdeviceptr d = 0;
	if (!src || !dst || !EXPECT_OK(&c, cuStreamCreate(&s1, CU_STREAM_NON_BLOCKING)) ||
	    !EXPECT_OK(&c, cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING)) ||
	    !EXPECT_OK(&c, cuEventCreate(&e, CU_EVENT_DISABLE_TIMING)) ||
	    !EXPECT_OK(&c, cuMemAlloc(&d, n)))
		goto out;
	fill(src, n, 5);
	for (int round = 0; round < 3; round++) {
		memset(dst, 0, n);
		EXPECT_OK(&c, cuMemsetD8Async(d, 0x11, n, s1));
		EXPECT_OK(&c, cuMemcpyHtoDAsync(d, src, n, s1));
		EXPECT_OK(&c, cuEventRecord(e, s1));
		EXPECT_OK(&c, cuStreamWaitEvent(s2, e, 0));
		EXPECT_OK(&c, cuMemcpyDtoHAsync(dst, d, n, s2));
		EXPECT_OK(&c, cuStreamSynchronize(s2));
		if (memcmp(dst, src, n))
			check_fail(&c, "round %d: the copy overtook its stream",
				   round);
		/* pageable D2H after a memset on the same stream */
		EXPECT_OK(&c, cuMemsetD8Async(d, 0x22, n, s1));
		EXPECT_OK(&c, cuMemcpyDtoHAsync(dst, d, n, s1));
		EXPECT_OK(&c, cuStreamSynchronize(s1));
		for (size_t i = 0; i < n; i += 4093)
			if (dst[i] != 0x22) {
				check_fail(&c, "D2H before its memset at %zu", i);
				break;
			}
	}
out:
	if (d)
		cuMemFree(d);
	if (e)
		cuEventDestroy(e);
	if (s1)
		cuStreamDestroy(s1);
	if (s2)
		cuStreamDestroy(s2);
	free(src);
	free(dst);
	check_end(&c);
}

/* A synchronous pinned copy comes after the work its thread queued
 * before it: on the legacy stream, and on a blocking stream (which the
 * legacy stream waits for). vgpu may run such a copy on its serving
 * thread, but only once the thread's earlier requests have run. */
static void pinned_after_async(void)
{
	struct check c = {.name = "pinned_sync_after_async"};
	size_t n = 64 << 10;
	uint8_t *h = NULL;
	CUstream bs = NULL;
	CUdeviceptr d = 0;
	uint64_t sum = 0;
	if (!EXPECT_OK(&c, cuMemHostAlloc((void **)&h, n, 0)) ||
	    !EXPECT_OK(&c, cuStreamCreate(&bs, CU_STREAM_DEFAULT)) ||
	    !EXPECT_OK(&c, cuMemAlloc(&d, n)))
		goto out;
	for (int k = 1; k < 100; k++) {
		uint8_t v = (uint8_t)(k * 7);
		EXPECT_OK(&c, cuMemsetD8Async(d, v, n, k & 1 ? NULL : bs));
		EXPECT_OK(&c, cuMemcpyDtoH(h, d, n));
		if (h[0] != v || h[n - 1] != v || h[n / 2 + k] != v) {
			check_fail(&c, "round %d: the copy overtook a memset", k);
			break;
		}
		/* and back: a host-to-device copy, then a memset after it */
		memset(h, v ^ 0x5a, n);
		EXPECT_OK(&c, cuMemcpyHtoD(d, h, n));
		EXPECT_OK(&c, cuMemsetD8Async(d + (uint64_t)k, v, 1, bs));
		EXPECT_OK(&c, cuMemcpyDtoH(h, d, n));
		if (h[k] != v || h[k + 1] != (v ^ 0x5a)) {
			check_fail(&c, "round %d: copies out of order", k);
			break;
		}
		sum = sum * 31 + fnv(h, n);
	}
	printf("digest pinned_after_async %016llx\n", (unsigned long long)sum);
out:
	if (h)
		cuMemFreeHost(h);
	if (bs)
		cuStreamDestroy(bs);
	if (d)
		cuMemFree(d);
	check_end(&c);
}

struct tjob {
	CUcontext ctx;
	size_t n;
	int seed, bad;
};

static void *copier(void *p)
{
	struct tjob *j = p;
	uint8_t *a = malloc(j->n), *b = malloc(j->n);
	CUdeviceptr d;
	cuCtxSetCurrent(j->ctx);
	if (!a || !b || cuMemAlloc(&d, j->n)) {
		j->bad = 1;
		return NULL;
	}
	fill(a, j->n, (uint64_t)j->seed);
	for (int k = 0; k < 3; k++)
		if (cuMemcpyHtoD(d, a, j->n) || cuMemcpyDtoH(b, d, j->n) ||
		    memcmp(a, b, j->n))
			j->bad = 1;
	cuMemFree(d);
	free(a);
	free(b);
	return NULL;
}

static void threads(CUcontext ctx)
{
	struct check c = {.name = "two_threads_large_copies"};
	pthread_t t[2];
	struct tjob j[2] = {{ctx, 20 * MIB + 3, 1, 0}, {ctx, 17 * MIB, 2, 0}};
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, copier, &j[i]);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		if (j[i].bad)
			check_fail(&c, "thread %d's copies differ", i);
	}
	check_end(&c);
}

/* vgpu only: the region's pool is finite, natively pinned memory is not. */
static void exhaustion(void)
{
	struct check c = {.name = "pinned_pool_exhausted"};
	void *p[4096];
	int n = 0;
	CUresult r = CUDA_SUCCESS;
	while (n < 4096 && (r = cuMemHostAlloc(&p[n], MIB, 0)) == CUDA_SUCCESS)
		n++;
	EXPECT(&c, CUDA_ERROR_OUT_OF_MEMORY, r);
	if (n == 0 || n == 4096)
		check_fail(&c, "%d blocks before the pool ran out", n);
	/* pageable copies do not need the pool */
	size_t len = 2 * MIB + 1;
	uint8_t *a = malloc(len), *b = malloc(len);
	CUdeviceptr d;
	if (a && b && EXPECT_OK(&c, cuMemAlloc(&d, len))) {
		fill(a, len, 3);
		EXPECT_OK(&c, cuMemcpyHtoD(d, a, len));
		EXPECT_OK(&c, cuMemcpyDtoH(b, d, len));
		if (memcmp(a, b, len))
			check_fail(&c, "pageable copy with the pool full");
		cuMemFree(d);
	}
	free(a);
	free(b);
	if (n) {
		EXPECT_OK(&c, cuMemFreeHost(p[--n]));
		EXPECT_OK(&c, cuMemHostAlloc(&p[n++], MIB, 0));
	}
	while (n)
		EXPECT_OK(&c, cuMemFreeHost(p[--n]));
	check_end(&c);
}

int main(int argc, char **argv)
{
	size_t max = 64 * MIB;
	CUcontext ctx;
	CUdevice dev;
	CUstream s;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "--max")) {
		char *end;
		max = strtoull(argv[2], &end, 0);
		if (*end == 'M')
			max <<= 20;
	}
	if (cuInit(0) || cuDeviceGet(&dev, 0) ||
	    cuDevicePrimaryCtxRetain(&ctx, dev) || cuCtxSetCurrent(ctx) ||
	    cuStreamCreate(&s, CU_STREAM_NON_BLOCKING)) {
		printf("bulk: no device\n");
		return 1;
	}
	sizes(max, s);
	pinned(s);
	ordering();
	pinned_after_async();
	threads(ctx);
	if (getenv("VGPU_REGION"))
		exhaustion();
	cuStreamDestroy(s);
	return check_summary("bulk");
}
