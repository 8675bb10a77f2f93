/* guest/cuda/export_cublas_stream.c - table 21318c60's entries 51 and 39
 * (contract in export_cublas_stream.h). */
#include "export_cublas_stream.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define MAGIC 0x6d61657274736776ull /* "vgstream" */

struct stream_obj {
	uint64_t magic;
	unsigned long long id;
};

static struct {
	pthread_mutex_t mu;
	struct stream_obj **v; /* sorted by id */
	size_t n, cap;
} R = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* First index whose id is >= id. */
static size_t lower(unsigned long long id)
{
	size_t lo = 0, hi = R.n;
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (R.v[m]->id < id)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

/* The record of stream id, made on first use. */
static struct stream_obj *record(unsigned long long id)
{
	struct stream_obj *o = NULL;
	pthread_mutex_lock(&R.mu);
	size_t i = lower(id);
	if (i < R.n && R.v[i]->id == id) {
		o = R.v[i];
		goto out;
	}
	if (R.n == R.cap) {
		size_t c = R.cap ? R.cap * 2 : 16;
		struct stream_obj **v = realloc(R.v, c * sizeof(*v));
		if (!v)
			goto out;
		R.v = v;
		R.cap = c;
	}
	if (!(o = malloc(sizeof(*o))))
		goto out;
	o->magic = MAGIC;
	o->id = id;
	for (size_t j = R.n; j > i; j--)
		R.v[j] = R.v[j - 1];
	R.v[i] = o;
	R.n++;
out:
	pthread_mutex_unlock(&R.mu);
	return o;
}

static bool handed_out(const void *obj)
{
	bool yes = false;
	pthread_mutex_lock(&R.mu);
	for (size_t i = 0; i < R.n && !yes; i++)
		yes = R.v[i] == obj;
	pthread_mutex_unlock(&R.mu);
	return yes;
}

/* The id of default stream s (0, 1, 2) of context ctx. */
static CUresult default_id(CUcontext ctx, CUstream s, int ptds,
			   unsigned long long *id)
{
	CUstream which = s == CU_STREAM_PER_THREAD || (!s && ptds)
				 ? CU_STREAM_PER_THREAD : CU_STREAM_LEGACY;
	CUcontext cur = NULL, popped;
	CUresult r = cuCtxGetCurrent(&cur);
	if (r)
		return r;
	if (cur == ctx)
		return cuStreamGetId(which, id);
	if ((r = cuCtxPushCurrent(ctx)))
		return r;
	r = cuStreamGetId(which, id);
	cuCtxPopCurrent(&popped);
	return r;
}

CUresult vgpu_cublas_stream_object(CUcontext ctx, CUstream s, void **out,
				   int ptds)
{
	unsigned long long id;
	CUresult r;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	if (s == (CUstream)(intptr_t)-1)
		return CUDA_ERROR_INVALID_HANDLE;
	if ((uintptr_t)s < 3) {
		if (!ctx)
			return CUDA_ERROR_INVALID_HANDLE;
		r = default_id(ctx, s, ptds, &id);
	} else {
		r = cuStreamGetId(s, &id);
	}
	if (r)
		return r;
	struct stream_obj *o = record(id);
	if (!o)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*out = o;
	return CUDA_SUCCESS;
}

CUresult vgpu_cublas_stream_id(CUcontext ctx, const void *obj,
			       unsigned long long *id)
{
	(void)ctx;
	if (!obj || !id || !handed_out(obj))
		return CUDA_ERROR_INVALID_VALUE;
	*id = ((const struct stream_obj *)obj)->id;
	return CUDA_SUCCESS;
}
