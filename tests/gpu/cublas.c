/* tests/gpu/cublas.c - NVIDIA's cuBLAS and cuBLASLt, unmodified, over the
 * libcuda.so.1 in the loader path: create both handles (cuBLASLt loads its
 * own modules, whose fatbins hold compressed, arch-variant entries) and run
 * an SGEMM whose result is printed as a digest, so the GPU run compares it
 * with the same program run natively. GPU only: the sim has no LZ4/ZSTD
 * decoder for cuBLAS's compressed kernels (tests/gpu/run.sh runs it).
 */
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>

#define N 64

static uint64_t fnv(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ull;
	while (n--)
		h = (h ^ *b++) * 1099511628211ull;
	return h;
}

int main(void)
{
	static float a[N * N], b[N * N], c[N * N];
	float *da, *db, *dc, one = 1.0f, zero = 0.0f;
	cublasLtHandle_t lt;
	cublasHandle_t h;
	int s;
	for (int i = 0; i < N * N; i++) {
		a[i] = (float)(i % 7) - 3.0f; /* small integers: exact sums */
		b[i] = (float)(i % 5) - 2.0f;
	}
	if ((s = cublasLtCreate(&lt))) {
		printf("FAIL cublasLtCreate = %d\n", s);
		return 1;
	}
	if ((s = cublasCreate(&h))) {
		printf("FAIL cublasCreate = %d\n", s);
		return 1;
	}
	if (cudaMalloc((void **)&da, sizeof(a)) || cudaMalloc((void **)&db, sizeof(b)) ||
	    cudaMalloc((void **)&dc, sizeof(c)) ||
	    cudaMemcpy(da, a, sizeof(a), cudaMemcpyHostToDevice) ||
	    cudaMemcpy(db, b, sizeof(b), cudaMemcpyHostToDevice)) {
		printf("FAIL cuda runtime setup\n");
		return 1;
	}
	if ((s = cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, N, N, N, &one, da, N,
			     db, N, &zero, dc, N))) {
		printf("FAIL cublasSgemm = %d\n", s);
		return 1;
	}
	if (cudaMemcpy(c, dc, sizeof(c), cudaMemcpyDeviceToHost)) {
		printf("FAIL copy back\n");
		return 1;
	}
	printf("ok cublas_sgemm\ndigest sgemm %016llx\n",
	       (unsigned long long)fnv(c, sizeof(c)));
	cublasDestroy(h);
	cublasLtDestroy(lt);
	return 0;
}
