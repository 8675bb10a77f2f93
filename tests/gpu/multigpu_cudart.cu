/* tests/gpu/multigpu_cudart.cu - the CUDA runtime on a VM's second GPU.
 *
 * cudart registers its kernels and __device__ variables as library
 * kernels and globals (cuLibraryLoadData at start-up), which natively are
 * context-independent: the same kernel launches on whichever device is
 * current. Through vgpu the library is one module of the worker loaded on
 * one GPU; the worker loads it again on another GPU on first use there
 * (daemon/worker_multigpu_lib.c). This program, built by nvcc with static
 * and with shared cudart, does on device 1 first, then on device 0, then
 * on device 1 again: cudaSetDevice, cudaMalloc, copies in, kernel launches
 * (vgpu_add_f32, vgpu_saxpy), a copy back; a __device__ counter per
 * device (cudaMemcpyToSymbol, atomic increments, cudaMemcpyFromSymbol:
 * each device's copy counts alone); function attributes read and set on
 * device 1 (cudaFuncGetAttributes, cudaFuncSetAttribute); and a copy of
 * device 1's result to device 0 (cudaMemcpyPeer). Every result is checked
 * element by element and printed as a digest line: natively and through
 * vgpu they must be bit-identical (tests/gpu/multigpu.sh); on the sim it
 * runs in tests/integration/run.sh. Last line: "multigpu_cudart: N
 * passed, N failed"; the exit status says the same.
 */
#define DIGEST_START FNV_START_SHORT /* digest.h */
#include "digest.h"
#include "kernels.cu"
#include <cmath>
#include <cstdint>
#include <cstdio>

static int passed, failed;

static void report(const char *name, int dev, bool ok, const char *why)
{
	if (ok)
		passed++;
	else
		failed++;
	printf(ok ? "ok %s dev%d\n" : "FAIL %s dev%d: %s\n", name, dev, why);
}

#define CK(call)                                                              \
	do {                                                                  \
		cudaError_t e_ = (call);                                      \
		if (e_ != cudaSuccess) {                                      \
			snprintf(why, sizeof(why), "line %d: %s = %s",        \
				 __LINE__, #call, cudaGetErrorName(e_));      \
			goto out;                                             \
		}                                                             \
	} while (0)

enum { N = 10007 };

/* c = a + b and y = 3a + b on device dev; y stays there in *keep */
static void vector(int dev, float **keep)
{
	char why[256] = "";
	static float a[N], b[N], c[N], y[N];
	float *da = 0, *db = 0, *dc = 0;
	int cur = -1;
	bool ok = false;
	for (int i = 0; i < N; i++) {
		a[i] = (float)(i + dev) * 0.25f - 7.0f;
		b[i] = 1.0f / (float)(i + 1 + dev);
	}
	CK(cudaSetDevice(dev));
	CK(cudaGetDevice(&cur));
	CK(cudaMalloc(&da, sizeof(a)));
	CK(cudaMalloc(&db, sizeof(b)));
	CK(cudaMalloc(&dc, sizeof(c)));
	CK(cudaMemcpy(da, a, sizeof(a), cudaMemcpyHostToDevice));
	CK(cudaMemcpy(db, b, sizeof(b), cudaMemcpyHostToDevice));
	vgpu_add_f32<<<(N + 127) / 128, 128>>>(da, db, dc, N);
	CK(cudaGetLastError());
	CK(cudaDeviceSynchronize());
	CK(cudaMemcpy(c, dc, sizeof(c), cudaMemcpyDeviceToHost));
	vgpu_saxpy<<<(N + 255) / 256, 256>>>(3.0f, da, db, N);
	CK(cudaGetLastError());
	CK(cudaMemcpy(y, db, sizeof(y), cudaMemcpyDeviceToHost));
	ok = cur == dev;
	if (!ok)
		snprintf(why, sizeof(why), "cudaGetDevice %d", cur);
	for (int i = 0; i < N && ok; i++) {
		ok = c[i] == a[i] + b[i] && y[i] == fmaf(3.0f, a[i], b[i]);
		if (!ok)
			snprintf(why, sizeof(why), "element %d: %a %a", i,
				 c[i], y[i]);
	}
	printf("digest dev%d add_f32 %016llx\n", dev,
	       (unsigned long long)fnv(c, sizeof(c)));
	printf("digest dev%d saxpy %016llx\n", dev,
	       (unsigned long long)fnv(y, sizeof(y)));
	if (keep && ok) {
		*keep = db;
		db = 0;
	}
out:
	cudaFree(da);
	cudaFree(db);
	cudaFree(dc);
	report("cudart_vector", dev, ok, why);
}

/* each device's vgpu_counter starts where this one sets it */
static void counter(int dev, unsigned long long start)
{
	char why[256] = "";
	unsigned long long count = 0;
	bool ok = false;
	CK(cudaSetDevice(dev));
	CK(cudaMemcpyToSymbol(vgpu_counter, &start, sizeof(start)));
	for (int i = 0; i < 5; i++)
		vgpu_inc_counter<<<3, 64>>>();
	CK(cudaGetLastError());
	CK(cudaMemcpyFromSymbol(&count, vgpu_counter, sizeof(count)));
	ok = count == start + 5 * 3 * 64;
	snprintf(why, sizeof(why), "counter %llu from %llu", count, start);
	printf("counter dev%d %llu\n", dev, count);
out:
	report("cudart_symbols", dev, ok, why);
}

static void attributes(int dev)
{
	char why[256] = "";
	cudaFuncAttributes a0, a1;
	bool ok = false;
	CK(cudaSetDevice(0));
	CK(cudaFuncGetAttributes(&a0, vgpu_fill_u32));
	CK(cudaSetDevice(dev));
	CK(cudaFuncSetAttribute(vgpu_fill_u32,
				cudaFuncAttributeMaxDynamicSharedMemorySize,
				64 << 10));
	CK(cudaFuncGetAttributes(&a1, vgpu_fill_u32));
	ok = a1.maxThreadsPerBlock == a0.maxThreadsPerBlock &&
	     a1.numRegs == a0.numRegs && a1.maxDynamicSharedSizeBytes == 64 << 10;
	snprintf(why, sizeof(why), "threads %d/%d regs %d/%d dyn %d",
		 a0.maxThreadsPerBlock, a1.maxThreadsPerBlock, a0.numRegs,
		 a1.numRegs, a1.maxDynamicSharedSizeBytes);
out:
	report("cudart_attributes", dev, ok, why);
}

/* device 1's y to device 0 and back to the host */
static void peer_copy(float *src)
{
	char why[256] = "";
	static float h0[N], h1[N];
	float *d0 = 0;
	bool ok = false;
	CK(cudaSetDevice(1));
	CK(cudaMemcpy(h1, src, sizeof(h1), cudaMemcpyDeviceToHost));
	CK(cudaSetDevice(0));
	CK(cudaMalloc(&d0, sizeof(h0)));
	CK(cudaMemcpyPeer(d0, 0, src, 1, sizeof(h0)));
	CK(cudaMemcpy(h0, d0, sizeof(h0), cudaMemcpyDeviceToHost));
	ok = fnv(h0, sizeof(h0)) == fnv(h1, sizeof(h1));
	snprintf(why, sizeof(why), "device 0's copy differs");
	digest("peer", h0, sizeof(h0));
out:
	cudaFree(d0);
	report("cudart_peer_copy", 0, ok, why);
}

int main(void)
{
	int n = 0;
	float *y1 = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	printf("devices %d\n", n);
	if (e != cudaSuccess || n < 2) {
		printf("multigpu_cudart: needs two devices (%s)\n",
		       cudaGetErrorName(e));
		return 1;
	}
	vector(1, &y1); /* device 1 first: the library was loaded on 0 */
	vector(0, 0);
	vector(1, 0);
	counter(1, 5000);
	counter(0, 1000);
	counter(1, 7000);
	attributes(1);
	if (y1)
		peer_copy(y1);
	else
		report("cudart_peer_copy", 0, false, "no result on device 1");
	printf("multigpu_cudart: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
