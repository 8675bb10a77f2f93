/* tests/gpu/cudnn.c - NVIDIA's cuDNN 9, unmodified, over the libcuda.so.1
 * in the loader path: convolutions as a framework runs them. Each case
 * prints "ok NAME" and a digest line of its result's bytes;
 * tests/gpu/run.sh runs the program natively and through vgpu and the
 * digests must be bit-identical.
 *  conv_fwd         fp32 NCHW 2x8x16x16 by 16x8x3x3, pad 1, implicit GEMM
 *  conv_bwd_data    the gradient of the input (algorithm 1, deterministic)
 *  conv_bwd_filter  the gradient of the filter (algorithm 1, deterministic)
 *  conv_fwd_tc      fp16 NHWC 2x64x16x16 by 64x64x3x3 with tensor-core
 *                   math, the algorithm cuDNN's heuristics rank first for
 *                   the device (cudnnGetConvolutionForwardAlgorithm_v7)
 * Inputs are small integers, so the fp32 sums are exact and the fp16
 * ones (at most 576 in magnitude) too: each result is one rounding of the
 * exact value whatever kernel runs. GPU only (the sim has no cuDNN
 * kernels); cuDNN's fused attention is not covered here (PyTorch's SDPA
 * is tests/gpu/torch's).
 */
#define DIGEST_START FNV_START_SHORT /* digest.h */
#include "digest.h"
#include <cuda_runtime.h>
#include <cudnn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failed;

/* n elements of esz bytes: vals[(i * mul) % 11 % nv] (encodings). */
static void *upload(size_t n, size_t esz, const void *vals, int nv, int mul)
{
	uint8_t *h = malloc(n * esz);
	void *d = NULL;
	for (size_t i = 0; h && i < n; i++)
		memcpy(h + i * esz,
		       (const uint8_t *)vals + (i * mul % 11 % nv) * esz, esz);
	if (!h || cudaMalloc(&d, n * esz) ||
	    cudaMemcpy(d, h, n * esz, cudaMemcpyHostToDevice)) {
		cudaFree(d);
		d = NULL;
	}
	free(h);
	return d;
}

static void finish(const char *name, int status, void *d, size_t n)
{
	void *h = malloc(n);
	if (status || !d || !h || cudaDeviceSynchronize() ||
	    cudaMemcpy(h, d, n, cudaMemcpyDeviceToHost)) {
		printf("FAIL %s = %d\n", name, status);
		failed++;
	} else {
		printf("ok %s\ndigest %s %016llx\n", name, name,
		       (unsigned long long)fnv(h, n));
	}
	free(h);
}

static const float F32[5] = {-2, -1, 0, 1, 2};
static const uint16_t F16[3] = {0xbc00, 0, 0x3c00}; /* -1, 0, 1 */

/* One problem's descriptors: x (n,c,h,w), w (k,c,r,s), y (n,k,h,w). */
struct conv {
	cudnnTensorDescriptor_t x, y;
	cudnnFilterDescriptor_t w;
	cudnnConvolutionDescriptor_t cv;
	size_t nx, nw, ny, esz;
};

static int conv_make(struct conv *c, cudnnDataType_t t, cudnnTensorFormat_t f,
		     int n, int ch, int hw, int k)
{
	int s;
	c->esz = t == CUDNN_DATA_HALF ? 2 : 4;
	c->nx = (size_t)n * ch * hw * hw;
	c->nw = (size_t)k * ch * 9;
	c->ny = (size_t)n * k * hw * hw;
	if ((s = cudnnCreateTensorDescriptor(&c->x)) ||
	    (s = cudnnCreateTensorDescriptor(&c->y)) ||
	    (s = cudnnCreateFilterDescriptor(&c->w)) ||
	    (s = cudnnCreateConvolutionDescriptor(&c->cv)) ||
	    (s = cudnnSetTensor4dDescriptor(c->x, f, t, n, ch, hw, hw)) ||
	    (s = cudnnSetTensor4dDescriptor(c->y, f, t, n, k, hw, hw)) ||
	    (s = cudnnSetFilter4dDescriptor(c->w, t, f, k, ch, 3, 3)) ||
	    (s = cudnnSetConvolution2dDescriptor(
		     c->cv, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
		     t == CUDNN_DATA_HALF ? CUDNN_DATA_FLOAT : t)))
		return s;
	if (t == CUDNN_DATA_HALF)
		s = cudnnSetConvolutionMathType(c->cv, CUDNN_TENSOR_OP_MATH);
	return s;
}

static void conv_free(struct conv *c)
{
	cudnnDestroyTensorDescriptor(c->x);
	cudnnDestroyTensorDescriptor(c->y);
	cudnnDestroyFilterDescriptor(c->w);
	cudnnDestroyConvolutionDescriptor(c->cv);
}

/* Workspace of n bytes (NULL for none). */
static void *space(size_t n)
{
	void *p = NULL;
	return n && cudaMalloc(&p, n) ? NULL : p;
}

static void fp32_cases(cudnnHandle_t h)
{
	struct conv c;
	float one = 1.0f, zero = 0.0f;
	int s = conv_make(&c, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 2, 8, 16, 16);
	void *x = upload(c.nx, 4, F32, 5, 1), *w = upload(c.nw, 4, F32, 5, 3);
	void *y = upload(c.ny, 4, F32, 1, 1), *dy = upload(c.ny, 4, F32, 5, 7);
	void *dx = upload(c.nx, 4, F32, 1, 1), *dw = upload(c.nw, 4, F32, 1, 1);
	size_t n = 0;
	void *ws = NULL;
	if (!s && !(s = cudnnGetConvolutionForwardWorkspaceSize(
			    h, c.x, c.w, c.cv, c.y,
			    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, &n)))
		s = cudnnConvolutionForward(
			h, &one, c.x, x, c.w, w, c.cv,
			CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
			ws = space(n), n, &zero, c.y, y);
	finish("conv_fwd", s, y, c.ny * 4);
	cudaFree(ws), ws = NULL, n = 0;
	if (!(s = cudnnGetConvolutionBackwardDataWorkspaceSize(
		      h, c.w, c.y, c.cv, c.x,
		      CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, &n)))
		s = cudnnConvolutionBackwardData(
			h, &one, c.w, w, c.y, dy, c.cv,
			CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, ws = space(n), n,
			&zero, c.x, dx);
	finish("conv_bwd_data", s, dx, c.nx * 4);
	cudaFree(ws), ws = NULL, n = 0;
	if (!(s = cudnnGetConvolutionBackwardFilterWorkspaceSize(
		      h, c.x, c.y, c.cv, c.w,
		      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, &n)))
		s = cudnnConvolutionBackwardFilter(
			h, &one, c.x, x, c.y, dy, c.cv,
			CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, ws = space(n), n,
			&zero, c.w, dw);
	finish("conv_bwd_filter", s, dw, c.nw * 4);
	cudaFree(ws);
	cudaFree(x), cudaFree(w), cudaFree(y), cudaFree(dy), cudaFree(dx),
		cudaFree(dw);
	conv_free(&c);
}

static void fp16_tc_case(cudnnHandle_t h)
{
	struct conv c;
	float one = 1.0f, zero = 0.0f;
	cudnnConvolutionFwdAlgoPerf_t perf[8];
	int got = 0, s = conv_make(&c, CUDNN_DATA_HALF, CUDNN_TENSOR_NHWC, 2,
				   64, 16, 64);
	void *x = upload(c.nx, 2, F16, 3, 1), *w = upload(c.nw, 2, F16, 3, 5);
	void *y = upload(c.ny, 2, F16, 1, 1), *ws = NULL;
	if (!s)
		s = cudnnGetConvolutionForwardAlgorithm_v7(h, c.x, c.w, c.cv,
							   c.y, 8, &got, perf);
	int i = 0;
	while (!s && i < got && perf[i].status)
		i++;
	if (!s && i == got)
		s = -2;
	if (!s) {
		printf("info conv_fwd_tc algorithm %d\n", (int)perf[i].algo);
		s = cudnnConvolutionForward(h, &one, c.x, x, c.w, w, c.cv,
					    perf[i].algo,
					    ws = space(perf[i].memory),
					    perf[i].memory, &zero, c.y, y);
	}
	finish("conv_fwd_tc", s, y, c.ny * 2);
	cudaFree(ws), cudaFree(x), cudaFree(w), cudaFree(y);
	conv_free(&c);
}

int main(void)
{
	cudnnHandle_t h;
	int s;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((s = cudnnCreate(&h))) {
		printf("FAIL cudnnCreate = %d (%s)\n", s,
		       cudnnGetErrorString((cudnnStatus_t)s));
		return 1;
	}
	printf("info cudnn version %zu\n", cudnnGetVersion());
	fp32_cases(h);
	fp16_tc_case(h);
	cudnnDestroy(h);
	printf("cudnn: %s\n", failed ? "FAIL" : "all passed");
	return failed ? 1 : 0;
}
