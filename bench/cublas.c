/* bench/cublas.c - NVIDIA's cuBLASLt over whichever libcuda.so.1 the
 * loader finds: the time of a 4096^3 GEMM, bf16 in and out with fp32
 * compute (PyTorch's bf16 matmul), and the same in fp32, through
 * cublasLtMatmul with a 32 MiB workspace as PyTorch gives it, and the
 * bf16 one through cublasGemmEx too. Each: 5 warm-up products, then the
 * mean of 50 timed by CUDA events. One JSON line per case:
 *   {"bench":"cublas","mode":M,"metric":"lt_bf16_4096","ms":..,"tflops":..}
 * Usage: cublas native|vgpu (the label only; LD_LIBRARY_PATH picks the
 * driver). Data: a fixed pseudo-random pattern (timings of zeros flatter).
 */
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 4096, WARM = 5, RUNS = 50 };
#define WORKSPACE (32u << 20)

static const char *mode;

#define TRY(call)                                                             \
	do {                                                                  \
		int r_ = (int)(call);                                         \
		if (r_) {                                                     \
			fprintf(stderr, "cublas bench: %s = %d\n", #call, r_); \
			exit(1);                                              \
		}                                                             \
	} while (0)

static void report(const char *metric, float ms_total)
{
	double ms = ms_total / RUNS;
	double tflops = 2.0 * N * N * (double)N / (ms * 1e-3) / 1e12;
	printf("{\"bench\":\"cublas\",\"mode\":\"%s\",\"metric\":\"%s\","
	       "\"ms\":%.4f,\"tflops\":%.1f}\n", mode, metric, ms, tflops);
	fflush(stdout);
}

/* Fill n elements of size esz with a fixed pattern of small values. */
static void *pattern(size_t n, size_t esz, int bf16)
{
	uint8_t *h = malloc(n * esz);
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		float f = (float)((x >> 16) % 17) / 8.0f - 1.0f;
		uint32_t u;
		memcpy(&u, &f, 4);
		if (bf16) {
			uint16_t b = (uint16_t)(u >> 16);
			memcpy(h + 2 * i, &b, 2);
		} else {
			memcpy(h + 4 * i, &u, 4);
		}
	}
	void *d;
	TRY(cudaMalloc(&d, n * esz));
	TRY(cudaMemcpy(d, h, n * esz, cudaMemcpyHostToDevice));
	free(h);
	return d;
}

static void lt_case(cublasLtHandle_t lt, cudaDataType_t t, const char *metric)
{
	size_t esz = t == CUDA_R_16BF ? 2 : 4;
	void *a = pattern((size_t)N * N, esz, t == CUDA_R_16BF);
	void *b = pattern((size_t)N * N, esz, t == CUDA_R_16BF);
	void *c, *ws;
	TRY(cudaMalloc(&c, (size_t)N * N * esz));
	TRY(cudaMalloc(&ws, WORKSPACE));
	cublasLtMatmulDesc_t op;
	cublasLtMatrixLayout_t la, lb, lc;
	cublasLtMatmulPreference_t pref;
	cublasLtMatmulHeuristicResult_t heur;
	int found = 0;
	size_t wsz = WORKSPACE;
	float one = 1.0f, zero = 0.0f;
	TRY(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
	TRY(cublasLtMatrixLayoutCreate(&la, t, N, N, N));
	TRY(cublasLtMatrixLayoutCreate(&lb, t, N, N, N));
	TRY(cublasLtMatrixLayoutCreate(&lc, t, N, N, N));
	TRY(cublasLtMatmulPreferenceCreate(&pref));
	TRY(cublasLtMatmulPreferenceSetAttribute(
		pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsz,
		sizeof(wsz)));
	TRY(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, lc, lc, pref, 1,
					   &heur, &found));
	if (!found) {
		fprintf(stderr, "cublas bench: no algorithm for %s\n", metric);
		exit(1);
	}
	cudaEvent_t e0, e1;
	float ms = 0;
	TRY(cudaEventCreate(&e0));
	TRY(cudaEventCreate(&e1));
	for (int i = 0; i < WARM + RUNS; i++) {
		if (i == WARM)
			TRY(cudaEventRecord(e0, 0));
		TRY(cublasLtMatmul(lt, op, &one, a, la, b, lb, &zero, c, lc, c,
				   lc, &heur.algo, ws, WORKSPACE, 0));
	}
	TRY(cudaEventRecord(e1, 0));
	TRY(cudaEventSynchronize(e1));
	TRY(cudaEventElapsedTime(&ms, e0, e1));
	report(metric, ms);
	cublasLtMatmulPreferenceDestroy(pref);
	cublasLtMatrixLayoutDestroy(la);
	cublasLtMatrixLayoutDestroy(lb);
	cublasLtMatrixLayoutDestroy(lc);
	cublasLtMatmulDescDestroy(op);
	cudaFree(a);
	cudaFree(b);
	cudaFree(c);
	cudaFree(ws);
}

static void gemmex_bf16(cublasHandle_t h)
{
	void *a = pattern((size_t)N * N, 2, 1), *b = pattern((size_t)N * N, 2, 1);
	void *c;
	float one = 1.0f, zero = 0.0f, ms = 0;
	cudaEvent_t e0, e1;
	TRY(cudaMalloc(&c, (size_t)N * N * 2));
	TRY(cudaEventCreate(&e0));
	TRY(cudaEventCreate(&e1));
	for (int i = 0; i < WARM + RUNS; i++) {
		if (i == WARM)
			TRY(cudaEventRecord(e0, 0));
		TRY(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, N, N, N, &one, a,
				 CUDA_R_16BF, N, b, CUDA_R_16BF, N, &zero, c,
				 CUDA_R_16BF, N, CUBLAS_COMPUTE_32F,
				 CUBLAS_GEMM_DEFAULT_TENSOR_OP));
	}
	TRY(cudaEventRecord(e1, 0));
	TRY(cudaEventSynchronize(e1));
	TRY(cudaEventElapsedTime(&ms, e0, e1));
	report("gemmex_bf16_4096", ms);
	cudaFree(a);
	cudaFree(b);
	cudaFree(c);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: cublas native|vgpu\n");
		return 2;
	}
	mode = argv[1];
	cublasLtHandle_t lt;
	cublasHandle_t h;
	TRY(cublasLtCreate(&lt));
	TRY(cublasCreate(&h));
	lt_case(lt, CUDA_R_16BF, "lt_bf16_4096");
	lt_case(lt, CUDA_R_32F, "lt_fp32_4096");
	gemmex_bf16(h);
	cublasDestroy(h);
	cublasLtDestroy(lt);
	return 0;
}
