/* tests/gpu/cublas.c - NVIDIA's cuBLAS and cuBLASLt, unmodified, over the
 * libcuda.so.1 in the loader path: create both handles (cuBLASLt loads its
 * own modules, whose fatbins hold compressed, arch-variant entries) and run
 * an SGEMM whose result is printed as a digest, so the GPU run compares it
 * with the same program run natively. Then a bf16 GEMM (cublasGemmEx,
 * CUDA_R_16BF in and out, fp32 compute, PyTorch's shapes for its bf16
 * matmul check): on that path cuBLASLt calls entry 4 of export table
 * 1734dc26 through the pointer it was given, unchecked (refusing the table
 * made it SIGSEGV through vgpu). GPU only: the sim has no LZ4/ZSTD
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

/* PyTorch's bf16 check: 256x384 by 384x512. Entries in {-1, 0, 1}: every
 * fp32 sum is exact, so the bf16 result is one rounding of it whatever
 * kernel cuBLASLt picks. */
enum { BM = 256, BN = 512, BK = 384 };

static int bf16_gemm(cublasHandle_t h)
{
	static uint16_t a[BM * BK], b[BK * BN], c[BM * BN]; /* bf16 bits */
	static const uint16_t val[3] = {0xbf80, 0, 0x3f80}; /* -1, 0, 1 */
	uint16_t *da, *db, *dc;
	float one = 1.0f, zero = 0.0f;
	int s;
	for (int i = 0; i < BM * BK; i++)
		a[i] = val[i % 3];
	for (int i = 0; i < BK * BN; i++)
		b[i] = val[i % 5 % 3];
	if (cudaMalloc((void **)&da, sizeof(a)) || cudaMalloc((void **)&db, sizeof(b)) ||
	    cudaMalloc((void **)&dc, sizeof(c)) ||
	    cudaMemcpy(da, a, sizeof(a), cudaMemcpyHostToDevice) ||
	    cudaMemcpy(db, b, sizeof(b), cudaMemcpyHostToDevice)) {
		printf("FAIL bf16 setup\n");
		return 1;
	}
	if ((s = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, BM, BN, BK, &one, da,
			      CUDA_R_16BF, BM, db, CUDA_R_16BF, BK, &zero, dc,
			      CUDA_R_16BF, BM, CUBLAS_COMPUTE_32F,
			      CUBLAS_GEMM_DEFAULT_TENSOR_OP))) {
		printf("FAIL cublasGemmEx bf16 = %d\n", s);
		return 1;
	}
	if (cudaMemcpy(c, dc, sizeof(c), cudaMemcpyDeviceToHost)) {
		printf("FAIL bf16 copy back\n");
		return 1;
	}
	printf("ok cublas_gemm_bf16\ndigest gemm_bf16 %016llx\n",
	       (unsigned long long)fnv(c, sizeof(c)));
	cudaFree(da);
	cudaFree(db);
	cudaFree(dc);
	return 0;
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
	if (bf16_gemm(h))
		return 1;
	cublasDestroy(h);
	cublasLtDestroy(lt);
	return 0;
}
