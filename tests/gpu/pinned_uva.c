/* tests/gpu/pinned_uva.c - pinned host memory under unified addressing:
 * its host pointer is its device pointer, natively and through vgpu.
 *
 *  uva_pinned_pointers  cuMemHostAlloc(DEVICEMAP) and cuMemAllocHost
 *                       blocks: cuMemHostGetDevicePointer and
 *                       cuPointerGetAttribute(DEVICE_POINTER, HOST_POINTER)
 *                       all give the host pointer back, at interior bytes
 *                       too; MEMORY_TYPE is HOST
 *  uva_pinned_kernel    vgpu_host_mix launched on the two blocks by their
 *                       HOST pointers reads and writes them in place (what
 *                       NCCL's kernels do with cudaHostAlloc'd memory);
 *                       every word checked against the CPU's answer
 *  uva_pinned_copies    the copy paths still take the new addresses:
 *                       sync, async and unified copies between pinned and
 *                       device memory and pinned to pinned (also with a
 *                       block named as the device side of HtoD/DtoH), then
 *                       a kernel mixing device memory and a pinned block
 *  uva_pinned_free      freed and allocated again: the new block is its
 *                       own device pointer too
 * Each check prints a digest line; natively and through vgpu they must
 * be bit-identical (tests/gpu/run.sh).
 *
 * Usage: pinned_uva KERNELS.cubin
 */
#include "check.h"
#include "file.h"
#include <stdint.h>
#include <stdlib.h>

#define N 100000ull
#define BYTES (N * 4)

static CUfunction mix;
static unsigned *a, *b; /* cuMemHostAlloc(DEVICEMAP), cuMemAllocHost */

static uint32_t fnv(const unsigned *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* dst[i] = dst[i] * 3 + (src[i] ^ i), by the kernel on their pointers. */
static int launch_mix(struct check *c, const void *src, void *dst,
		      CUstream s)
{
	unsigned long long n = N;
	void *args[] = {&src, &dst, &n};
	return EXPECT_OK(c, cuLaunchKernel(mix, 64, 1, 1, 256, 1, 1, 0, s,
					   args, NULL));
}

static void cpu_mix(const unsigned *src, unsigned *dst)
{
	for (uint64_t i = 0; i < N; i++)
		dst[i] = dst[i] * 3u + (src[i] ^ (unsigned)i);
}

static void fill(unsigned *p, unsigned seed)
{
	for (uint64_t i = 0; i < N; i++)
		p[i] = (unsigned)i * 2654435761u + seed;
}

static void same(struct check *c, const char *what, const unsigned *got,
		 const unsigned *want)
{
	for (uint64_t i = 0; i < N; i++)
		if (got[i] != want[i]) {
			check_fail(c, "%s: word %llu is %#x, want %#x", what,
				   (unsigned long long)i, got[i], want[i]);
			return;
		}
}

/* Every way of asking for p's device pointer answers p. */
static void is_own_device_pointer(struct check *c, const char *what,
				  const void *p)
{
	CUdeviceptr d = 0, dp = 0;
	uintptr_t hp = 0;
	unsigned t = 0;
	CUdeviceptr want = (CUdeviceptr)(uintptr_t)p;
	if (EXPECT_OK(c, cuMemHostGetDevicePointer(&d, (void *)p, 0)) &&
	    d != want)
		check_fail(c, "%s: cuMemHostGetDevicePointer %#llx, host %p",
			   what, (unsigned long long)d, p);
	if (EXPECT_OK(c, cuPointerGetAttribute(
				 &dp, CU_POINTER_ATTRIBUTE_DEVICE_POINTER,
				 want)) && dp != want)
		check_fail(c, "%s: DEVICE_POINTER %#llx, host %p", what,
			   (unsigned long long)dp, p);
	if (EXPECT_OK(c, cuPointerGetAttribute(
				 &hp, CU_POINTER_ATTRIBUTE_HOST_POINTER,
				 want)) && hp != (uintptr_t)p)
		check_fail(c, "%s: HOST_POINTER %#llx, host %p", what,
			   (unsigned long long)hp, p);
	if (EXPECT_OK(c, cuPointerGetAttribute(
				 &t, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, want)) &&
	    t != CU_MEMORYTYPE_HOST)
		check_fail(c, "%s: MEMORY_TYPE %u", what, t);
}

static void check_pointers(void)
{
	struct check c = {.name = "uva_pinned_pointers"};
	unsigned fl = 0;
	is_own_device_pointer(&c, "hostalloc", a);
	is_own_device_pointer(&c, "hostalloc+4092", (uint8_t *)a + 4092);
	is_own_device_pointer(&c, "allochost", b);
	is_own_device_pointer(&c, "allochost+last", b + N - 1);
	if (EXPECT_OK(&c, cuMemHostGetFlags(&fl, a)) &&
	    !(fl & CU_MEMHOSTALLOC_DEVICEMAP))
		check_fail(&c, "flags %#x lack DEVICEMAP", fl);
	printf("digest uva_pinned_pointers all_own_device_pointer=%d\n",
	       !c.bad);
	check_end(&c);
}

static void check_kernel(void)
{
	struct check c = {.name = "uva_pinned_kernel"};
	unsigned *wa = malloc(BYTES), *wb = malloc(BYTES);
	if (!wa || !wb) {
		check_fail(&c, "malloc");
		goto out;
	}
	fill(a, 7);
	fill(b, 0x5555);
	memcpy(wa, a, BYTES);
	memcpy(wb, b, BYTES);
	/* b from a, then a from b: each block read and written in place */
	if (launch_mix(&c, a, b, NULL) && EXPECT_OK(&c, cuCtxSynchronize()))
		cpu_mix(wa, wb);
	same(&c, "b after mix(a, b)", b, wb);
	if (launch_mix(&c, b, a, NULL) && EXPECT_OK(&c, cuCtxSynchronize()))
		cpu_mix(wb, wa);
	same(&c, "a after mix(b, a)", a, wa);
	printf("digest uva_pinned_kernel a=%08x b=%08x\n", fnv(a, N),
	       fnv(b, N));
out:
	free(wa);
	free(wb);
	check_end(&c);
}

static void check_copies(void)
{
	struct check c = {.name = "uva_pinned_copies"};
	CUdeviceptr d = 0;
	CUstream s = NULL;
	unsigned *want = malloc(BYTES);
	if (!want || !EXPECT_OK(&c, cuMemAlloc(&d, BYTES)) ||
	    !EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING)))
		goto out;
	fill(b, 99);
	memcpy(want, b, BYTES);
	/* sync: pinned -> device -> pinned */
	memset(a, 0, BYTES);
	EXPECT_OK(&c, cuMemcpyHtoD(d, b, BYTES));
	EXPECT_OK(&c, cuMemcpyDtoH(a, d, BYTES));
	same(&c, "sync", a, want);
	/* async on a stream */
	memset(a, 0, BYTES);
	EXPECT_OK(&c, cuMemsetD32Async(d, 0, N, s));
	EXPECT_OK(&c, cuMemcpyHtoDAsync(d, b, BYTES, s));
	EXPECT_OK(&c, cuMemcpyDtoHAsync(a, d, BYTES, s));
	EXPECT_OK(&c, cuStreamSynchronize(s));
	same(&c, "async", a, want);
	/* unified: pinned to pinned, and device to pinned */
	memset(a, 0, BYTES);
	EXPECT_OK(&c, cuMemcpy((CUdeviceptr)(uintptr_t)a,
			       (CUdeviceptr)(uintptr_t)b, BYTES));
	same(&c, "unified pinned to pinned", a, want);
	memset(a, 0, BYTES);
	EXPECT_OK(&c, cuMemcpy((CUdeviceptr)(uintptr_t)a, d, BYTES));
	same(&c, "unified device to pinned", a, want);
	/* a pinned block named as the device side of HtoD and DtoH */
	memset(a, 0, BYTES);
	EXPECT_OK(&c, cuMemcpyHtoD((CUdeviceptr)(uintptr_t)a, b, BYTES));
	same(&c, "HtoD into pinned", a, want);
	memset(a, 0, BYTES);
	EXPECT_OK(&c, cuMemcpyDtoH(a, (CUdeviceptr)(uintptr_t)b, BYTES));
	same(&c, "DtoH from pinned", a, want);
	/* a kernel reading device memory and writing a pinned block */
	fill(a, 3);
	memcpy(want, a, BYTES);
	unsigned *src = malloc(BYTES);
	if (src) {
		memcpy(src, b, BYTES);
		if (launch_mix(&c, (const void *)(uintptr_t)d, a, s) &&
		    EXPECT_OK(&c, cuStreamSynchronize(s)))
			cpu_mix(src, want);
		same(&c, "mix(device, pinned)", a, want);
		free(src);
	}
	printf("digest uva_pinned_copies a=%08x\n", fnv(a, N));
out:
	if (s)
		EXPECT_OK(&c, cuStreamDestroy(s));
	if (d)
		EXPECT_OK(&c, cuMemFree(d));
	free(want);
	check_end(&c);
}

static void check_free(void)
{
	struct check c = {.name = "uva_pinned_free"};
	EXPECT_OK(&c, cuMemFreeHost(a));
	EXPECT_OK(&c, cuMemFreeHost(b));
	a = b = NULL;
	if (EXPECT_OK(&c, cuMemHostAlloc((void **)&a, 4096,
					 CU_MEMHOSTALLOC_DEVICEMAP |
						 CU_MEMHOSTALLOC_PORTABLE))) {
		is_own_device_pointer(&c, "again", a);
		EXPECT_OK(&c, cuMemFreeHost(a));
	}
	printf("digest uva_pinned_free ok=%d\n", !c.bad);
	check_end(&c);
}

int main(int argc, char **argv)
{
	CUdevice dev;
	CUcontext ctx;
	CUmodule mod;
	void *image = argc == 2 ? read_file(argv[1]) : NULL;
	check_share();
	if (!image || cuInit(0) || cuDeviceGet(&dev, 0) ||
	    cuDevicePrimaryCtxRetain(&ctx, dev) || cuCtxSetCurrent(ctx) ||
	    cuModuleLoadData(&mod, image) ||
	    cuModuleGetFunction(&mix, mod, "vgpu_host_mix") ||
	    cuMemHostAlloc((void **)&a, BYTES, CU_MEMHOSTALLOC_DEVICEMAP) ||
	    cuMemAllocHost((void **)&b, BYTES)) {
		printf("FAIL setup (usage: pinned_uva KERNELS.cubin)\n"
		       "pinned_uva: 0 passed, 1 failed\n");
		return 1;
	}
	check_pointers();
	check_kernel();
	check_copies();
	check_free();
	return check_summary("pinned_uva");
}
