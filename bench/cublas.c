/* bench/cublas.c - NVIDIA's cuBLAS/cuBLASLt over whichever libcuda.so.1
 * the loader finds: the time of a 4096^3 GEMM, bf16 in and out with fp32
 * compute (PyTorch's bf16 matmul), and the same in fp32:
 *   lt_bf16_4096       cublasLtMatmul, 32 MiB workspace, one heuristics
 *                      query up front
 *   lt_bf16_4096_heur  the same with a heuristics query before every
 *                      product, as PyTorch's cuBLASLt path does
 *   lt_fp32_4096       cublasLtMatmul fp32
 *   gemmex_bf16_4096   cublasGemmEx with a 32 MiB workspace set
 *                      (cublasSetWorkspace, as PyTorch does)
 * Each: 5 warm-up products, then the mean of 50 timed by CUDA events
 * (host-side gaps between products count). One JSON line per case:
 *   {"bench":"cublas","mode":M,"metric":..,"ms":..,"tflops":..,
 *    "round_trips_per_call":..}  (the last only through vgpu: blocking
 * calls to vgpud per product, from the guest library's counter), or
 * {...,"error":"..."} for a case that failed.
 * Usage: cublas native|vgpu (the label only; LD_LIBRARY_PATH picks the
 * driver). Data: a fixed pseudo-random pattern (timings of zeros flatter).
 */
#define _GNU_SOURCE
#include <cublasLt.h>
#include <dlfcn.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 4096, WARM = 5, RUNS = 50 };
#define WORKSPACE (32u << 20)

static const char *mode;
static uint64_t (*round_trips)(void); /* the guest library's, or NULL */
static uint64_t trips0;

/* Setup failures end the program; a case's failure ends the case. */
#define TRY(call)                                                             \
	do {                                                                  \
		int r_ = (int)(call);                                         \
		if (r_) {                                                     \
			fprintf(stderr, "cublas bench: %s = %d\n", #call, r_); \
			exit(1);                                              \
		}                                                             \
	} while (0)
#define CASE_TRY(metric, call)                                                \
	do {                                                                  \
		int r_ = (int)(call);                                         \
		if (r_) {                                                     \
			failed(metric, #call, r_);                            \
			return;                                               \
		}                                                             \
	} while (0)

static void failed(const char *metric, const char *call, int r)
{
	printf("{\"bench\":\"cublas\",\"mode\":\"%s\",\"metric\":\"%s\","
	       "\"error\":\"%.40s... = %d\"}\n", mode, metric, call, r);
	fflush(stdout);
}

static void trips_start(void)
{
	trips0 = round_trips ? round_trips() : 0;
}

static void report(const char *metric, float ms_total)
{
	double ms = ms_total / RUNS;
	double tflops = 2.0 * N * N * (double)N / (ms * 1e-3) / 1e12;
	printf("{\"bench\":\"cublas\",\"mode\":\"%s\",\"metric\":\"%s\","
	       "\"ms\":%.4f,\"tflops\":%.1f", mode, metric, ms, tflops);
	if (round_trips)
		printf(",\"round_trips_per_call\":%.2f",
		       (double)(round_trips() - trips0) / RUNS);
	printf("}\n");
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

static void lt_case(cublasLtHandle_t lt, cudaDataType_t t, const char *metric,
		    int heur_each)
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
	CASE_TRY(metric, cublasLtMatmulAlgoGetHeuristic(
				 lt, op, la, lb, lc, lc, pref, 1, &heur, &found));
	if (!found) {
		failed(metric, "no algorithm", 0);
		return;
	}
	cudaEvent_t e0, e1;
	float ms = 0;
	TRY(cudaEventCreate(&e0));
	TRY(cudaEventCreate(&e1));
	for (int i = 0; i < WARM + RUNS; i++) {
		if (i == WARM) {
			TRY(cudaEventRecord(e0, 0));
			trips_start();
		}
		if (heur_each)
			CASE_TRY(metric, cublasLtMatmulAlgoGetHeuristic(
						 lt, op, la, lb, lc, lc, pref, 1,
						 &heur, &found));
		CASE_TRY(metric, cublasLtMatmul(lt, op, &one, a, la, b, lb,
						&zero, c, lc, c, lc,
						&heur.algo, ws, WORKSPACE, 0));
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
	void *c, *ws;
	float one = 1.0f, zero = 0.0f, ms = 0;
	cudaEvent_t e0, e1;
	TRY(cudaMalloc(&c, (size_t)N * N * 2));
	TRY(cudaMalloc(&ws, WORKSPACE));
	TRY(cublasSetWorkspace(h, ws, WORKSPACE));
	TRY(cudaEventCreate(&e0));
	TRY(cudaEventCreate(&e1));
	for (int i = 0; i < WARM + RUNS; i++) {
		if (i == WARM) {
			TRY(cudaEventRecord(e0, 0));
			trips_start();
		}
		CASE_TRY("gemmex_bf16_4096",
			 cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, N, N, N, &one,
				      a, CUDA_R_16BF, N, b, CUDA_R_16BF, N,
				      &zero, c, CUDA_R_16BF, N,
				      CUBLAS_COMPUTE_32F,
				      CUBLAS_GEMM_DEFAULT_TENSOR_OP));
	}
	TRY(cudaEventRecord(e1, 0));
	TRY(cudaEventSynchronize(e1));
	TRY(cudaEventElapsedTime(&ms, e0, e1));
	report("gemmex_bf16_4096", ms);
	cudaFree(a);
	cudaFree(b);
	cudaFree(c);
	cudaFree(ws);
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
	/* the runtime loaded libcuda.so.1 privately: find it by name */
	void *drv = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
	if (drv)
		round_trips = (uint64_t(*)(void))dlsym(drv,
						       "vgpu_guest_round_trips");
	lt_case(lt, CUDA_R_16BF, "lt_bf16_4096", 0);
	lt_case(lt, CUDA_R_16BF, "lt_bf16_4096_heur", 1);
	lt_case(lt, CUDA_R_32F, "lt_fp32_4096", 0);
	gemmex_bf16(h);
	cublasDestroy(h);
	cublasLtDestroy(lt);
	return 0;
}
