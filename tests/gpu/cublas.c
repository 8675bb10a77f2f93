/* tests/gpu/cublas.c - NVIDIA's cuBLAS and cuBLASLt, unmodified, over the
 * libcuda.so.1 in the loader path. Each case prints "ok NAME" and a
 * digest line of its result's bytes; tests/gpu/run.sh runs the program
 * natively and through vgpu and the digests must be bit-identical (same
 * card, same libraries: cuBLASLt's heuristics must see the same device,
 * so pick the same kernels).
 *  sgemm         cublasSgemm 64^3 (cuBLASLt loads its own modules, whose
 *                fatbins hold compressed, arch-variant entries)
 *  gemm_bf16     cublasGemmEx bf16 in and out, fp32 compute, PyTorch's
 *                shapes; on this path cuBLASLt calls export table
 *                1734dc26 entry 4 (the SM layout) unchecked
 *  gemm_fp16     the same in fp16
 *  gemm_bf16_4096_nows  cublasGemmEx bf16 4096^3 on the handle, which has
 *                no workspace set: cuBLAS then keeps a workspace of its
 *                own per stream, keyed by the ids export table 21318c60
 *                entries 51 and 39 give (CUBLAS_STATUS_INTERNAL_ERROR
 *                while the guest refused them)
 *  gemm_batched  cublasGemmStridedBatchedEx, fp16, 8 products of 64^3
 *  lt_fp8        cublasLtMatmul with fp8 E4M3 inputs (Hopper; A
 *                transposed as fp8 requires), bf16 out
 *  lt_bias, lt_relu_bias, lt_gelu  cublasLtMatmul bf16 with the bias,
 *                ReLU+bias and GELU epilogues (PyTorch's addmm and fused
 *                linear layers)
 * Inputs are small integers, so every fp32 sum is exact and a result is
 * one rounding of it whatever kernel runs (GELU's digest assumes the same
 * kernel on both sides). GPU only: the sim has no LZ4/ZSTD decoder for
 * cuBLAS's compressed kernels and no C version of them.
 */
#define DIGEST_START FNV_START_SHORT /* digest.h */
#include "digest.h"
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKSPACE (4u << 20)

static int failed;

/* A device copy of n elements of esz bytes: the pattern vals[i*7 % nv
 * ... ] of the element encodings in vals (each esz bytes). */
static void *upload(size_t n, size_t esz, const void *vals, int nv, int mul)
{
	uint8_t *h = malloc(n * esz);
	void *d = NULL;
	for (size_t i = 0; i < n; i++)
		memcpy(h + i * esz, (const uint8_t *)vals + (i * mul % 11 % nv) * esz,
		       esz);
	if (cudaMalloc(&d, n * esz) ||
	    cudaMemcpy(d, h, n * esz, cudaMemcpyHostToDevice)) {
		cudaFree(d);
		d = NULL;
	}
	free(h);
	return d;
}

/* Copy back n bytes of d, print the verdict and digest, free d. */
static void finish(const char *name, int status, void *d, size_t n)
{
	void *h = malloc(n);
	if (status || !h || cudaMemcpy(h, d, n, cudaMemcpyDeviceToHost)) {
		printf("FAIL %s = %d\n", name, status);
		failed++;
	} else {
		printf("ok %s\ndigest %s %016llx\n", name, name,
		       (unsigned long long)fnv(h, n));
	}
	free(h);
}

/* Element encodings of -1, 0, 1 and of -2..2 (bias). */
static const uint16_t BF16[3] = {0xbf80, 0, 0x3f80};
static const uint16_t BF16_BIAS[5] = {0xc000, 0xbf80, 0, 0x3f80, 0x4000};
static const uint16_t FP16[3] = {0xbc00, 0, 0x3c00};
static const uint8_t E4M3[3] = {0xb8, 0, 0x38};
static const float F32[7] = {-3, -2, -1, 0, 1, 2, 3};

static void sgemm(cublasHandle_t h)
{
	enum { N = 64 };
	float one = 1.0f, zero = 0.0f;
	float *a = upload(N * N, 4, F32, 7, 1), *b = upload(N * N, 4, F32, 5, 3);
	float *c = upload(N * N, 4, F32, 1, 1);
	int s = !a || !b || !c ? -1 : (int)
		  cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, N, N, N, &one, a, N,
			      b, N, &zero, c, N);
	finish("sgemm", s, c, N * N * 4);
	cudaFree(a), cudaFree(b), cudaFree(c);
}

/* cublasGemmEx, type t (2-byte elements), m x k by k x n. */
static void gemm_ex(cublasHandle_t h, const char *name, cudaDataType_t t,
		    const uint16_t *vals, int m, int n, int k)
{
	float one = 1.0f, zero = 0.0f;
	void *a = upload((size_t)m * k, 2, vals, 3, 1);
	void *b = upload((size_t)k * n, 2, vals, 3, 5);
	void *c = upload((size_t)m * n, 2, vals, 1, 1);
	int s = !a || !b || !c ? -1 : (int)
		  cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, a, t,
			       m, b, t, k, &zero, c, t, m, CUBLAS_COMPUTE_32F,
			       CUBLAS_GEMM_DEFAULT_TENSOR_OP);
	finish(name, s, c, (size_t)m * n * 2);
	cudaFree(a), cudaFree(b), cudaFree(c);
}

static void gemm_batched(cublasHandle_t h)
{
	enum { N = 64, BATCH = 8 };
	const long long st = N * N;
	float one = 1.0f, zero = 0.0f;
	void *a = upload(st * BATCH, 2, FP16, 3, 1);
	void *b = upload(st * BATCH, 2, FP16, 3, 7);
	void *c = upload(st * BATCH, 2, FP16, 1, 1);
	int s = !a || !b || !c ? -1 : (int)
		  cublasGemmStridedBatchedEx(
			  h, CUBLAS_OP_N, CUBLAS_OP_T, N, N, N, &one, a,
			  CUDA_R_16F, N, st, b, CUDA_R_16F, N, st, &zero, c,
			  CUDA_R_16F, N, st, BATCH, CUBLAS_COMPUTE_32F,
			  CUBLAS_GEMM_DEFAULT_TENSOR_OP);
	finish("gemm_batched", s, c, st * BATCH * 2);
	cudaFree(a), cudaFree(b), cudaFree(c);
}

/* One cublasLtMatmul: D (m x n, dt) = op(A) B with A and B of type it
 * (A stored k x m when transa), fp32 compute, the given epilogue and bias
 * (m elements of dt, or NULL). */
struct lt_case {
	const char *name;
	cudaDataType_t it, dt;
	const void *vals;
	int esz, transa, m, n, k;
	cublasLtEpilogue_t epi;
};

static int lt_run(cublasLtHandle_t lt, const struct lt_case *q, void *a,
		  void *b, void *d, void *bias, void *ws)
{
	cublasLtMatmulDesc_t op = NULL;
	cublasLtMatrixLayout_t la = NULL, lb = NULL, ld = NULL;
	cublasLtMatmulPreference_t pref = NULL;
	cublasLtMatmulHeuristicResult_t heur;
	cublasOperation_t ta = q->transa ? CUBLAS_OP_T : CUBLAS_OP_N;
	size_t wsz = WORKSPACE;
	float one = 1.0f, zero = 0.0f;
	int found = 0, s;
	if ((s = cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F)) ||
	    (s = cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA,
						&ta, sizeof(ta))) ||
	    (s = cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE,
						&q->epi, sizeof(q->epi))) ||
	    (bias && (s = cublasLtMatmulDescSetAttribute(
			      op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
			      sizeof(bias)))) ||
	    (s = cublasLtMatrixLayoutCreate(&la, q->it, q->transa ? q->k : q->m,
					    q->transa ? q->m : q->k,
					    q->transa ? q->k : q->m)) ||
	    (s = cublasLtMatrixLayoutCreate(&lb, q->it, q->k, q->n, q->k)) ||
	    (s = cublasLtMatrixLayoutCreate(&ld, q->dt, q->m, q->n, q->m)) ||
	    (s = cublasLtMatmulPreferenceCreate(&pref)) ||
	    (s = cublasLtMatmulPreferenceSetAttribute(
		     pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsz,
		     sizeof(wsz))) ||
	    (s = cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, ld, ld, pref, 1,
						&heur, &found)))
		goto out;
	if (!found) {
		s = -2;
		goto out;
	}
	s = cublasLtMatmul(lt, op, &one, a, la, b, lb, &zero, d, ld, d, ld,
			   &heur.algo, ws, WORKSPACE, 0);
	if (!s)
		s = cudaDeviceSynchronize();
out:
	cublasLtMatmulPreferenceDestroy(pref);
	cublasLtMatrixLayoutDestroy(la);
	cublasLtMatrixLayoutDestroy(lb);
	cublasLtMatrixLayoutDestroy(ld);
	cublasLtMatmulDescDestroy(op);
	return s;
}

static void lt_matmul(cublasLtHandle_t lt, const struct lt_case *q, void *ws)
{
	size_t dsz = q->dt == CUDA_R_32F ? 4 : 2;
	void *a = upload((size_t)q->m * q->k, q->esz, q->vals, 3, 1);
	void *b = upload((size_t)q->k * q->n, q->esz, q->vals, 3, 5);
	void *d = upload((size_t)q->m * q->n, dsz, BF16, 1, 1);
	void *bias = q->epi & CUBLASLT_EPILOGUE_BIAS
			     ? upload(q->m, 2, BF16_BIAS, 5, 3) : NULL;
	int s = !a || !b || !d || (q->epi & CUBLASLT_EPILOGUE_BIAS && !bias)
			? -1 : lt_run(lt, q, a, b, d, bias, ws);
	finish(q->name, s, d, (size_t)q->m * q->n * dsz);
	cudaFree(a), cudaFree(b), cudaFree(d), cudaFree(bias);
}

int main(void)
{
	cublasLtHandle_t lt;
	cublasHandle_t h;
	void *ws = NULL;
	int s;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((s = cublasLtCreate(&lt))) {
		printf("FAIL cublasLtCreate = %d\n", s);
		return 1;
	}
	if ((s = cublasCreate(&h))) {
		printf("FAIL cublasCreate = %d\n", s);
		return 1;
	}
	if (cudaMalloc(&ws, WORKSPACE)) {
		printf("FAIL workspace\n");
		return 1;
	}
	sgemm(h);
	/* PyTorch's bf16 check: 256x384 by 384x512 */
	gemm_ex(h, "gemm_bf16", CUDA_R_16BF, BF16, 256, 512, 384);
	gemm_ex(h, "gemm_fp16", CUDA_R_16F, FP16, 256, 512, 384);
	/* h has no workspace set (cublasSetWorkspace): cuBLAS's own */
	gemm_ex(h, "gemm_bf16_4096_nows", CUDA_R_16BF, BF16, 4096, 4096, 4096);
	gemm_batched(h);
	const struct lt_case lts[] = {
		{"lt_fp8", CUDA_R_8F_E4M3, CUDA_R_16BF, E4M3, 1, 1, 256, 128, 512,
		 CUBLASLT_EPILOGUE_DEFAULT},
		{"lt_bias", CUDA_R_16BF, CUDA_R_16BF, BF16, 2, 0, 256, 128, 384,
		 CUBLASLT_EPILOGUE_BIAS},
		{"lt_relu_bias", CUDA_R_16BF, CUDA_R_16BF, BF16, 2, 0, 256, 128,
		 384, CUBLASLT_EPILOGUE_RELU_BIAS},
		{"lt_gelu", CUDA_R_16BF, CUDA_R_16BF, BF16, 2, 0, 256, 128, 384,
		 CUBLASLT_EPILOGUE_GELU},
	};
	for (size_t i = 0; i < sizeof(lts) / sizeof(lts[0]); i++)
		lt_matmul(lt, &lts[i], ws);
	cudaFree(ws);
	cublasDestroy(h);
	cublasLtDestroy(lt);
	printf("cublas: %s\n", failed ? "FAIL" : "all passed");
	return failed ? 1 : 0;
}
