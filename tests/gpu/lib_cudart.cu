/* tests/gpu/lib_cudart.cu - an ordinary CUDA runtime program: the
 * milestone of running NVIDIA's cudart, unmodified, over vgpu's libcuda.
 *
 * Built by nvcc twice, with static cudart (the default) and with
 * `-cudart shared`. It includes the test kernels (kernels.cu), which the
 * sim implements in C by name, and checks what a runtime program does
 * first: device count and properties, cudaMalloc, cudaMemcpy both ways,
 * kernel launches with <<<>>> (pointer, float, int and by-value struct
 * arguments), cudaGetLastError, cudaDeviceSynchronize, symbols (copies to
 * and from a __device__ variable), memset, a stream and events, function
 * attributes read and set (the opt-in to 64 KiB of dynamic shared memory
 * read back; launches past the 48 KiB default are the stream area's
 * tests/gpu/streams.c), and, given KERNELS.fatbin as argument, the
 * runtime's own library API (cudaLibraryLoadData, cudaLibraryGetKernel,
 * cudaLaunchKernel of the cudaKernel_t). Every
 * result is checked element by element on the host and printed as a
 * digest line, so the same binary run natively and through vgpu on a GPU
 * must print identical digests (tests/gpu/run.sh). Last line:
 * "cudart: N passed, N failed"; the exit status says the same.
 */
#define DIGEST_START FNV_START_SHORT /* digest.h */
#include "digest.h"
#include "kernels.cu"
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

static int passed, failed;

static void report(const char *name, bool ok, const char *why)
{
	if (ok)
		passed++;
	else
		failed++;
	printf(ok ? "ok %s\n" : "FAIL %s: %s\n", name, why);
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

static void device(void)
{
	char why[256] = "";
	int n = -1, drv = 0, rt = 0;
	cudaDeviceProp p;
	bool ok = false;
	CK(cudaGetDeviceCount(&n));
	CK(cudaGetDeviceProperties(&p, 0));
	CK(cudaDriverGetVersion(&drv));
	CK(cudaRuntimeGetVersion(&rt));
	ok = n == 1 && p.major == 9 && p.minor == 0 && drv >= rt &&
	     p.totalGlobalMem > 0 && p.warpSize == 32;
	snprintf(why, sizeof(why), "%d devices, cc %d.%d, driver %d runtime %d",
		 n, p.major, p.minor, drv, rt);
out:
	report("cudart_device", ok, why);
}

enum { N = 10007 };

static void vector(void)
{
	char why[256] = "";
	static float a[N], b[N], c[N], y[N];
	float *da = 0, *db = 0, *dc = 0;
	bool ok = false;
	for (int i = 0; i < N; i++) {
		a[i] = (float)i * 0.25f - 7.0f;
		b[i] = 1.0f / (float)(i + 1);
	}
	CK(cudaMalloc(&da, sizeof(a)));
	CK(cudaMalloc(&db, sizeof(b)));
	CK(cudaMalloc(&dc, sizeof(c)));
	CK(cudaMemcpy(da, a, sizeof(a), cudaMemcpyHostToDevice));
	CK(cudaMemcpy(db, b, sizeof(b), cudaMemcpyHostToDevice));
	vgpu_add_f32<<<(N + 127) / 128, 128>>>(da, db, dc, N);
	CK(cudaGetLastError());
	CK(cudaDeviceSynchronize());
	CK(cudaMemcpy(c, dc, sizeof(c), cudaMemcpyDeviceToHost));
	/* y = 3 * a + b, in place on db: one fused multiply-add per element */
	vgpu_saxpy<<<(N + 255) / 256, 256>>>(3.0f, da, db, N);
	CK(cudaGetLastError());
	CK(cudaMemcpy(y, db, sizeof(y), cudaMemcpyDeviceToHost));
	ok = true;
	for (int i = 0; i < N && ok; i++) {
		ok = c[i] == a[i] + b[i] && y[i] == fmaf(3.0f, a[i], b[i]);
		if (!ok)
			snprintf(why, sizeof(why), "element %d: %a %a", i,
				 c[i], y[i]);
	}
	digest("add_f32", c, sizeof(c));
	digest("saxpy", y, sizeof(y));
out:
	cudaFree(da);
	cudaFree(db);
	cudaFree(dc);
	report("cudart_vector", ok, why);
}

static void by_value(void)
{
	char why[256] = "";
	static float y[1000];
	float *dy = 0;
	bool ok = false;
	struct vgpu_args args = {0.5, 1000, 'x'};
	CK(cudaMalloc(&dy, sizeof(y)));
	CK(cudaMemset(dy, 0xff, sizeof(y)));
	vgpu_struct_arg<<<8, 128>>>(args, dy);
	CK(cudaGetLastError());
	CK(cudaMemcpy(y, dy, sizeof(y), cudaMemcpyDeviceToHost));
	ok = true;
	for (int i = 0; i < 1000 && ok; i++) {
		ok = y[i] == (float)(0.5 * i + 'x');
		if (!ok)
			snprintf(why, sizeof(why), "y[%d] = %g", i, y[i]);
	}
	digest("struct_arg", y, sizeof(y));
out:
	cudaFree(dy);
	report("cudart_struct_arg", ok, why);
}

static void symbols(void)
{
	char why[256] = "";
	unsigned long long start = 1000, count = 0;
	unsigned words[4] = {0};
	bool ok = false;
	CK(cudaMemcpyToSymbol(vgpu_counter, &start, sizeof(start)));
	for (int i = 0; i < 5; i++)
		vgpu_inc_counter<<<3, 64>>>();
	CK(cudaGetLastError());
	CK(cudaMemcpyFromSymbol(&count, vgpu_counter, sizeof(count)));
	CK(cudaMemcpyFromSymbol(words, vgpu_words, sizeof(words)));
	ok = count == 1000 + 5 * 3 * 64 && words[0] == 0x11 && words[3] == 0x44;
	snprintf(why, sizeof(why), "counter %llu, words %x..%x", count,
		 words[0], words[3]);
out:
	report("cudart_symbols", ok, why);
}

static void stream_events(void)
{
	char why[256] = "";
	static unsigned h[4096];
	unsigned *d = 0;
	cudaStream_t s = 0;
	cudaEvent_t e0 = 0, e1 = 0;
	bool ok = false;
	CK(cudaStreamCreate(&s));
	CK(cudaEventCreate(&e0));
	CK(cudaEventCreate(&e1));
	CK(cudaMalloc(&d, sizeof(h)));
	CK(cudaEventRecord(e0, s));
	vgpu_fill_u32<<<4, 256, 0, s>>>(d, 0xC0FFEEu, 4096ull);
	CK(cudaGetLastError());
	CK(cudaEventRecord(e1, s));
	CK(cudaEventSynchronize(e1));
	CK(cudaStreamSynchronize(s));
	CK(cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
	ok = true;
	for (int i = 0; i < 4096 && ok; i++)
		ok = h[i] == 0xC0FFEEu;
	if (!ok)
		snprintf(why, sizeof(why), "fill wrong");
out:
	cudaFree(d);
	if (e0)
		cudaEventDestroy(e0);
	if (e1)
		cudaEventDestroy(e1);
	if (s)
		cudaStreamDestroy(s);
	report("cudart_stream_events", ok, why);
}

static void func_attributes(void)
{
	char why[256] = "";
	cudaFuncAttributes a;
	static unsigned h[1024];
	unsigned *d = 0;
	bool ok = false;
	CK(cudaFuncGetAttributes(&a, vgpu_fill_u32));
	ok = a.numRegs > 0 && a.maxThreadsPerBlock >= 256 &&
	     a.binaryVersion == 90 && a.maxDynamicSharedSizeBytes > 0;
	snprintf(why, sizeof(why), "regs %d, threads %d, binary %d, dyn %d",
		 a.numRegs, a.maxThreadsPerBlock, a.binaryVersion,
		 a.maxDynamicSharedSizeBytes);
	if (!ok)
		goto out;
	ok = false;
	CK(cudaFuncSetAttribute(vgpu_fill_u32,
				cudaFuncAttributeMaxDynamicSharedMemorySize,
				65536));
	CK(cudaFuncGetAttributes(&a, vgpu_fill_u32));
	CK(cudaMalloc(&d, sizeof(h)));
	vgpu_fill_u32<<<2, 128, 32768>>>(d, 7u, 1024ull);
	CK(cudaGetLastError());
	CK(cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
	ok = a.maxDynamicSharedSizeBytes == 65536;
	for (int i = 0; i < 1024 && ok; i++)
		ok = h[i] == 7u;
	snprintf(why, sizeof(why), "dynamic shared %d after setting 65536, "
		 "fill %s", a.maxDynamicSharedSizeBytes, ok ? "ok" : "wrong");
out:
	cudaFree(d);
	report("cudart_func_attributes", ok, why);
}

static void library(const char *path)
{
	char why[256] = "";
	std::vector<char> img;
	cudaLibrary_t lib = 0;
	cudaKernel_t k;
	unsigned count = 0, v = 0x5eed, *d = 0;
	static unsigned h[2048];
	unsigned long long n = 2048;
	bool ok = false;
	FILE *f = fopen(path, "rb");
	if (f) {
		fseek(f, 0, SEEK_END);
		img.resize((size_t)ftell(f) + 1);
		fseek(f, 0, SEEK_SET);
		ok = fread(img.data(), 1, img.size() - 1, f) == img.size() - 1;
		fclose(f);
	}
	if (!ok) {
		snprintf(why, sizeof(why), "cannot read %s", path);
		goto out;
	}
	ok = false;
	CK(cudaLibraryLoadData(&lib, img.data(), 0, 0, 0, 0, 0, 0));
	CK(cudaLibraryGetKernelCount(&count, lib));
	CK(cudaLibraryGetKernel(&k, lib, "vgpu_fill_u32"));
	CK(cudaMalloc(&d, sizeof(h)));
	{
		void *args[] = {&d, &v, &n};
		CK(cudaLaunchKernel((const void *)k, dim3(4), dim3(256), args,
				    0, 0));
	}
	CK(cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
	ok = count >= 8;
	for (int i = 0; i < 2048 && ok; i++)
		ok = h[i] == v;
	snprintf(why, sizeof(why), "%u kernels, fill %s", count,
		 ok ? "ok" : "wrong");
out:
	cudaFree(d);
	if (lib)
		cudaLibraryUnload(lib);
	report("cudart_library", ok, why);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	device();
	vector();
	by_value();
	symbols();
	stream_events();
	func_attributes();
	if (argc > 1)
		library(argv[1]);
	printf("cudart: %d passed, %d failed\n", passed, failed);
	return failed || !passed;
}
