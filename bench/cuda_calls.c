/* bench/cuda_calls.c - driver-call costs, one JSON line per figure.
 *
 * Usage: cuda_calls KERNELS.cubin MODE
 *
 * Linked with -lcuda like any CUDA program: run it natively and with vgpu's
 * libcuda.so.1 first in the loader path, in the same session on the same
 * card, and compare the lines (MODE is only echoed: "native" or "vgpu").
 * It measures what issue 3 asks for: a null call's round trip
 * (cuStreamQuery on an idle stream), cuLaunchKernel's cost, 10,000
 * back-to-back ~5 us kernels, 4-byte copies each way, pinned copies of
 * 4 and 64 KiB each way (issue 7), cuMemAlloc+cuMemFree of 1 MiB.
 * A benchmark, not a test: it fails only if a call fails.
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "../tests/gpu/file.h"
#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *mode;

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

#define CK(call)                                                              \
	do {                                                                  \
		CUresult r_ = (call);                                         \
		if (r_) {                                                     \
			fprintf(stderr, "cuda_calls: %s = %d\n", #call, r_);  \
			exit(1);                                              \
		}                                                             \
	} while (0)

static void emit(const char *metric, double us, int n)
{
	printf("{\"bench\":\"cuda_calls\",\"mode\":\"%s\",\"metric\":\"%s\","
	       "\"us_per_call\":%.3f,\"calls\":%d}\n", mode, metric, us / n, n);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: cuda_calls KERNELS.cubin native|vgpu\n");
		return 2;
	}
	mode = argv[2];
	void *img = read_file(argv[1]);
	CUdevice dev;
	CUcontext ctx;
	CUmodule mod;
	CUfunction sleep_fn, fill_fn;
	CUstream s;
	CUdeviceptr d;
	double t;
	uint32_t word = 0;
	double t0 = now_us();
	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuModuleLoadData(&mod, img));
	CK(cuModuleGetFunction(&sleep_fn, mod, "vgpu_sleep_ns"));
	CK(cuModuleGetFunction(&fill_fn, mod, "vgpu_fill_u32"));
	emit("start_to_module_loaded", now_us() - t0, 1);
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuMemAlloc(&d, 1 << 20));

	enum { N = 20000 };
	t = now_us();
	for (int i = 0; i < N; i++)
		CK(cuStreamQuery(s));
	emit("null_call_stream_query", now_us() - t, N);

	unsigned long long zero = 0, five_us = 5000, n1 = 1;
	unsigned v = 7;
	void *fa[] = {&d, &v, &n1};
	/* through vgpu the guest library counts the calls that waited for
	 * vgpud; natively there is no such counter (and no round trip) */
	uint64_t (*trips)(void) =
		(uint64_t (*)(void))dlsym(RTLD_DEFAULT, "vgpu_guest_round_trips");
	uint64_t trips0 = trips ? trips() : 0;
	t = now_us();
	for (int i = 0; i < N; i++)
		CK(cuLaunchKernel(fill_fn, 1, 1, 1, 1, 1, 1, 0, s, fa, NULL));
	emit("launch_api_time", now_us() - t, N);
	printf("{\"bench\":\"cuda_calls\",\"mode\":\"%s\",\"metric\":"
	       "\"blocking_round_trips_per_launch\",\"value\":%.4f,"
	       "\"calls\":%d}\n", mode,
	       trips ? (double)(trips() - trips0) / N : 0.0, N);
	CK(cuStreamSynchronize(s));

	void *sa[] = {&five_us};
	enum { K = 10000 };
	t = now_us();
	for (int i = 0; i < K; i++)
		CK(cuLaunchKernel(sleep_fn, 1, 1, 1, 1, 1, 1, 0, s, sa, NULL));
	CK(cuStreamSynchronize(s));
	emit("kernels_5us_back_to_back", now_us() - t, K);
	(void)zero;

	t = now_us();
	for (int i = 0; i < N / 4; i++)
		CK(cuMemcpyHtoD(d, &word, 4));
	emit("memcpy_4B_htod", now_us() - t, N / 4);
	t = now_us();
	for (int i = 0; i < N / 4; i++)
		CK(cuMemcpyDtoH(&word, d, 4));
	emit("memcpy_4B_dtoh", now_us() - t, N / 4);

	/* pinned copies (issue 7): the per-call cost beyond the DMA is the
	 * request's round trip, what a small pinned copy mostly is */
	void *pin;
	CK(cuMemHostAlloc(&pin, 64 << 10, 0));
	for (int kib = 4; kib <= 64; kib *= 16) {
		char name[40];
		for (int h2d = 1; h2d >= 0; h2d--) {
			size_t n = (size_t)kib << 10;
			t = now_us();
			for (int i = 0; i < N / 4; i++)
				CK(h2d ? cuMemcpyHtoD(d, pin, n)
				       : cuMemcpyDtoH(pin, d, n));
			snprintf(name, sizeof(name), "memcpy_pinned_%dKiB_%s",
				 kib, h2d ? "htod" : "dtoh");
			emit(name, now_us() - t, N / 4);
		}
	}
	CK(cuMemFreeHost(pin));

	enum { A = 500 };
	t = now_us();
	for (int i = 0; i < A; i++) {
		CUdeviceptr p;
		CK(cuMemAlloc(&p, 1 << 20));
		CK(cuMemFree(p));
	}
	emit("memalloc_free_1MiB", now_us() - t, A);
	CK(cuMemFree(d));
	return 0;
}
