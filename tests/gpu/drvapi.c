/* tests/gpu/drvapi.c - a CUDA driver API program that checks itself.
 *
 * Usage: drvapi KERNELS.cubin|.fatbin|.ptx
 *
 * Built against the real cuda.h and linked with -lcuda, it runs unchanged
 * natively and in a vgpu guest (our libcuda.so.1 first in the loader
 * path), on the real GPU or vgpud's sim. Each check prints "ok NAME" or
 * "FAIL NAME: why"; results that must be bit-identical between a native
 * and a remoted run are printed as "digest NAME HEX" so the two outputs
 * can be compared line by line. The last line is "drvapi: N passed, N
 * failed"; the exit status is 0 only if nothing failed.
 */
#include "digest.h"
#include "file.h"
#include <cuda.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

static void result(const char *name, int ok, const char *why)
{
	if (ok) {
		passed++;
		printf("ok %s\n", name);
	} else {
		failed++;
		printf("FAIL %s: %s\n", name, why);
	}
}

#define CHECK_CU(name, call)                                                  \
	do {                                                                  \
		CUresult r_ = (call);                                         \
		if (r_ != CUDA_SUCCESS) {                                     \
			const char *s_ = NULL;                                \
			char b_[160];                                         \
			cuGetErrorName(r_, &s_);                              \
			snprintf(b_, sizeof(b_), "%s = %d (%s)", #call,       \
				 (int)r_, s_ ? s_ : "?");                     \
			result(name, 0, b_);                                  \
			return;                                               \
		}                                                             \
	} while (0)

static CUmodule mod;
static CUdevice dev;

static void check_device(void)
{
	int v = 0, n = 0, major = 0;
	char name[256], bus[32];
	size_t total = 0;
	CUuuid u;
	CHECK_CU("device", cuDriverGetVersion(&v));
	CHECK_CU("device", cuDeviceGetCount(&n));
	CHECK_CU("device", cuDeviceGet(&dev, 0));
	CHECK_CU("device", cuDeviceGetName(name, sizeof(name), dev));
	CHECK_CU("device", cuDeviceTotalMem(&total, dev));
	CHECK_CU("device", cuDeviceGetUuid(&u, dev));
	CHECK_CU("device", cuDeviceGetPCIBusId(bus, sizeof(bus), dev));
	CHECK_CU("device", cuDeviceGetAttribute(
			      &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
			      dev));
	printf("device: %s, cc %d, %zu MiB, driver %d, bus %s\n", name, major,
	       total >> 20, v, bus);
	result("device", v >= 12000 && n >= 1 && name[0] && total > 0 &&
				 major >= 7 && strlen(bus) >= 12,
	       "implausible device description");
	int bad;
	result("device_bad_attribute",
	       cuDeviceGetAttribute(&bad, (CUdevice_attribute)100000, dev) ==
		       CUDA_ERROR_INVALID_VALUE,
	       "an unknown attribute was answered");
}

static void check_context(void)
{
	CUcontext ctx, cur;
	CUdevice d;
	CHECK_CU("context", cuDevicePrimaryCtxRetain(&ctx, dev));
	CHECK_CU("context", cuCtxSetCurrent(ctx));
	CHECK_CU("context", cuCtxGetCurrent(&cur));
	CHECK_CU("context", cuCtxGetDevice(&d));
	result("context", cur == ctx && d == dev, "current context mismatch");
}

/* Round trips of odd sizes at odd offsets, every direction. */
static void check_copies(void)
{
	static const size_t sizes[] = {1, 3, 4095, 4096, 65537, 1 << 20,
				       (7 << 20) + 13, (64 << 20) + 5};
	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k], off = 1 + k * 7;
		uint8_t *a = malloc(n), *b = malloc(n);
		CUdeviceptr d, d2;
		for (size_t i = 0; i < n; i++)
			a[i] = (uint8_t)(i * 2654435761u >> 13);
		CHECK_CU("copies", cuMemAlloc(&d, n + 64));
		CHECK_CU("copies", cuMemAlloc(&d2, n + 64));
		CHECK_CU("copies", cuMemcpyHtoD(d + off, a, n));
		CHECK_CU("copies", cuMemcpyDtoD(d2 + 3, d + off, n));
		memset(b, 0, n);
		CHECK_CU("copies", cuMemcpyDtoH(b, d2 + 3, n));
		if (memcmp(a, b, n)) {
			char why[64];
			snprintf(why, sizeof(why), "%zu bytes differ", n);
			result("copies", 0, why);
			return;
		}
		CHECK_CU("copies", cuMemFree(d));
		CHECK_CU("copies", cuMemFree(d2));
		free(a);
		free(b);
	}
	result("copies", 1, "");
}

static void check_memset_async(void)
{
	enum { N = 1 << 20 };
	CUdeviceptr d;
	CUstream s;
	static uint32_t h[N];
	CHECK_CU("memset", cuMemAlloc(&d, N * 4));
	CHECK_CU("memset", cuMemsetD32(d, 0xdeadbeef, N));
	CHECK_CU("memset", cuMemsetD8(d + 5, 0x11, 3));
	/* a blocking stream: it waits for the memsets on the legacy stream */
	CHECK_CU("memset", cuStreamCreate(&s, 0));
	CHECK_CU("memset", cuMemsetD8Async(d + 4 * (N - 1), 0x22, 4, s));
	CHECK_CU("memset", cuStreamSynchronize(s));
	CHECK_CU("memset", cuMemcpyDtoHAsync(h, d, N * 4, s));
	CHECK_CU("memset", cuStreamSynchronize(s));
	int ok = h[0] == 0xdeadbeef && h[1] == 0x111111ef &&
		 h[2] == 0xdeadbeef && h[N - 1] == 0x22222222;
	result("memset_async", ok, "wrong bytes after memsets");
	digest("memset", h, sizeof(h));
	CHECK_CU("memset", cuStreamDestroy(s));
	CHECK_CU("memset", cuMemFree(d));
}

static CUfunction fn(const char *name)
{
	CUfunction f = NULL;
	if (cuModuleGetFunction(&f, mod, name) != CUDA_SUCCESS)
		printf("FAIL getfunction: %s\n", name);
	return f;
}

static void check_kernels(void)
{
	enum { N = 1 << 16 };
	static float a[N], b[N], c[N], want[N];
	CUdeviceptr da, db, dc;
	int n = N;
	for (int i = 0; i < N; i++) {
		a[i] = (float)i * 0.5f;
		b[i] = 1.0f / (float)(i + 1);
		want[i] = a[i] + b[i];
	}
	CHECK_CU("kernels", cuMemAlloc(&da, sizeof(a)));
	CHECK_CU("kernels", cuMemAlloc(&db, sizeof(b)));
	CHECK_CU("kernels", cuMemAlloc(&dc, sizeof(c)));
	CHECK_CU("kernels", cuMemcpyHtoD(da, a, sizeof(a)));
	CHECK_CU("kernels", cuMemcpyHtoD(db, b, sizeof(b)));
	void *args[] = {&da, &db, &dc, &n};
	CHECK_CU("kernels", cuLaunchKernel(fn("vgpu_add_f32"), N / 256, 1, 1,
					   256, 1, 1, 0, 0, args, NULL));
	CHECK_CU("kernels", cuMemcpyDtoH(c, dc, sizeof(c)));
	result("kernel_add", !memcmp(c, want, sizeof(c)), "wrong sums");
	digest("add", c, sizeof(c));

	float s = 3.0f;
	void *sx[] = {&s, &da, &dc, &n};
	CHECK_CU("kernels", cuLaunchKernel(fn("vgpu_saxpy"), N / 128, 1, 1, 128,
					   1, 1, 0, 0, sx, NULL));
	CHECK_CU("kernels", cuMemcpyDtoH(c, dc, sizeof(c)));
	int ok = 1;
	for (int i = 0; i < N && ok; i++)
		ok = fabsf(c[i] - (s * a[i] + want[i])) <=
		     1e-6f * fabsf(c[i]) + 1e-6f;
	result("kernel_saxpy", ok, "wrong saxpy");
	digest("saxpy", c, sizeof(c));

	struct { double scale; int n; char tag; } sa = {0.25, N, 7};
	void *st[] = {&sa, &dc};
	CHECK_CU("kernels", cuLaunchKernel(fn("vgpu_struct_arg"), N / 256, 1, 1,
					   256, 1, 1, 0, 0, st, NULL));
	CHECK_CU("kernels", cuMemcpyDtoH(c, dc, sizeof(c)));
	ok = 1;
	for (int i = 0; i < N && ok; i++)
		ok = c[i] == (float)(0.25 * i + 7);
	result("kernel_struct_arg", ok, "by-value struct arrived wrong");

	/* the `extra` form: one packed buffer */
	struct { CUdeviceptr p; unsigned v; unsigned pad; unsigned long long n; }
		pk = {dc, 0x3f800000u, 0, N};
	size_t pks = sizeof(pk);
	void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &pk,
			 CU_LAUNCH_PARAM_BUFFER_SIZE, &pks, CU_LAUNCH_PARAM_END};
	CHECK_CU("kernels", cuLaunchKernel(fn("vgpu_fill_u32"), 64, 1, 1, 256,
					   1, 1, 0, 0, NULL, extra));
	CHECK_CU("kernels", cuMemcpyDtoH(c, dc, sizeof(c)));
	ok = 1;
	for (int i = 0; i < N && ok; i++)
		ok = c[i] == 1.0f;
	result("kernel_extra_form", ok, "fill through `extra` failed");

	unsigned long long sum = 0, want_sum = 0;
	CUdeviceptr dsum;
	unsigned long long nb = sizeof(a);
	for (size_t i = 0; i < sizeof(a); i++)
		want_sum += (unsigned long long)((uint8_t *)a)[i] * (i + 1);
	CHECK_CU("kernels", cuMemAlloc(&dsum, 8));
	CHECK_CU("kernels", cuMemsetD8(dsum, 0, 8));
	void *cs[] = {&da, &nb, &dsum};
	CHECK_CU("kernels", cuLaunchKernel(fn("vgpu_checksum"), 32, 1, 1, 256,
					   1, 1, 0, 0, cs, NULL));
	CHECK_CU("kernels", cuMemcpyDtoH(&sum, dsum, 8));
	result("kernel_checksum", sum == want_sum, "checksum differs");

	int too_big = 1 << 16;
	void *fa[] = {&dc, &too_big, &nb};
	result("launch_config_error",
	       cuLaunchKernel(fn("vgpu_fill_u32"), 1, 1, 1, 2048, 1, 1, 0, 0,
			      fa, NULL) == CUDA_ERROR_INVALID_VALUE,
	       "2048 threads per block accepted");
	cuMemFree(da);
	cuMemFree(db);
	cuMemFree(dc);
	cuMemFree(dsum);
}

static void check_events_globals(void)
{
	CUevent e0, e1;
	CUstream s;
	float ms = 0;
	unsigned long long ns = 2000000, counter = 0;
	CUdeviceptr g;
	size_t gsize;
	CHECK_CU("events", cuStreamCreate(&s, 0));
	CHECK_CU("events", cuEventCreate(&e0, 0));
	CHECK_CU("events", cuEventCreate(&e1, 0));
	CHECK_CU("events", cuEventRecord(e0, s));
	void *sl[] = {&ns};
	CHECK_CU("events", cuLaunchKernel(fn("vgpu_sleep_ns"), 1, 1, 1, 1, 1, 1,
					  0, s, sl, NULL));
	CHECK_CU("events", cuEventRecord(e1, s));
	CHECK_CU("events", cuEventSynchronize(e1));
	CHECK_CU("events", cuEventElapsedTime(&ms, e0, e1));
	result("event_timing", ms >= 1.9f && ms < 1000.0f, "implausible time");

	CHECK_CU("globals", cuModuleGetGlobal(&g, &gsize, mod, "vgpu_counter"));
	CHECK_CU("globals", cuMemsetD8(g, 0, gsize));
	CHECK_CU("globals", cuLaunchKernel(fn("vgpu_inc_counter"), 10, 1, 1, 32,
					   1, 1, 0, s, NULL, NULL));
	CHECK_CU("globals", cuStreamSynchronize(s));
	CHECK_CU("globals", cuMemcpyDtoH(&counter, g, 8));
	result("globals", gsize == 8 && counter == 320, "counter wrong");
	cuEventDestroy(e0);
	cuEventDestroy(e1);
	cuStreamDestroy(s);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: drvapi KERNELS.cubin|.fatbin|.ptx\n");
		return 2;
	}
	void *image = read_file(argv[1]);
	CUresult r = cuInit(0);
	if (r != CUDA_SUCCESS || !image) {
		printf("FAIL init: cuInit = %d, image %s\n", (int)r,
		       image ? "read" : "unreadable");
		printf("drvapi: 0 passed, 1 failed\n");
		return 1;
	}
	check_device();
	check_context();
	if (cuModuleLoadData(&mod, image) != CUDA_SUCCESS) {
		result("module", 0, "cuModuleLoadData failed");
	} else {
		result("module", 1, "");
		check_copies();
		check_memset_async();
		check_kernels();
		check_events_globals();
	}
	printf("drvapi: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
