/* daemon/worker_tables.c - the worker's handles and allocations: every id
 * and device pointer in a request is checked here before the driver sees
 * it. Callers hold no lock; each function takes W->mu. */
#include "worker.h"
#include <stdlib.h>
#include <string.h>

#define ID_MASK ((1ull << VGPU_CU_HKIND_SHIFT) - 1)

static int kind_of(uint64_t id)
{
	return (int)(id >> VGPU_CU_HKIND_SHIFT);
}

/* Ids are (kind << 56) | index+1: O(1) lookup, and an id of one kind can
 * never pass as another. */
static struct vw_handle *find(struct vworker *W, int kind, uint64_t id)
{
	uint64_t idx = (id & ID_MASK) - 1;
	if (kind_of(id) != kind || idx >= W->nhandles)
		return NULL;
	struct vw_handle *h = &W->handles[idx];
	return h->id == id ? h : NULL;
}

struct vw_handle *vw_handle_entry(struct vworker *W, int kind, uint64_t id)
{
	pthread_mutex_lock(&W->mu);
	struct vw_handle *h = find(W, kind, id);
	pthread_mutex_unlock(&W->mu);
	return h;
}

CUresult vw_handle_get(struct vworker *W, int kind, uint64_t id, void **real)
{
	pthread_mutex_lock(&W->mu);
	struct vw_handle *h = find(W, kind, id);
	if (h)
		*real = h->real;
	pthread_mutex_unlock(&W->mu);
	return h ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

uint64_t vw_handle_new(struct vworker *W, int kind, void *real)
{
	uint64_t id = 0;
	pthread_mutex_lock(&W->mu);
	uint32_t i = 0;
	while (i < W->nhandles && W->handles[i].id)
		i++;
	if (i == W->nhandles && W->nhandles == W->hcap) {
		uint32_t cap = W->hcap ? W->hcap * 2 : 64;
		struct vw_handle *n = realloc(W->handles, cap * sizeof(*n));
		if (!n)
			goto out;
		W->handles = n;
		W->hcap = cap;
	}
	if (i == W->nhandles)
		W->nhandles++;
	id = ((uint64_t)kind << VGPU_CU_HKIND_SHIFT) | (i + 1);
	W->handles[i] = (struct vw_handle){.id = id, .real = real};
out:
	pthread_mutex_unlock(&W->mu);
	return id;
}

void vw_handle_del(struct vworker *W, int kind, uint64_t id)
{
	pthread_mutex_lock(&W->mu);
	struct vw_handle *h = find(W, kind, id);
	if (h) {
		free(h->fn);
		memset(h, 0, sizeof(*h));
	}
	pthread_mutex_unlock(&W->mu);
}

CUresult vw_stream(struct vworker *W, uint64_t id, CUstream *s)
{
	/* the legacy and per-thread default streams are values, not handles */
	if (id == 0 || id == (uint64_t)(uintptr_t)CU_STREAM_LEGACY ||
	    id == (uint64_t)(uintptr_t)CU_STREAM_PER_THREAD) {
		*s = (CUstream)(uintptr_t)id;
		return CUDA_SUCCESS;
	}
	return vw_handle_get(W, VGPU_HK_STREAM, id, (void **)s);
}

/* Allocations are few; a linear scan keeps this obviously right. */
static struct vw_alloc *containing(struct vworker *W, CUdeviceptr p,
				   uint64_t len)
{
	for (uint32_t i = 0; i < W->nallocs; i++) {
		struct vw_alloc *a = &W->allocs[i];
		if (p >= a->base && p - a->base <= a->len &&
		    len <= a->len - (p - a->base))
			return a;
	}
	return NULL;
}

CUresult vw_range(struct vworker *W, CUdeviceptr p, uint64_t len)
{
	pthread_mutex_lock(&W->mu);
	struct vw_alloc *a = containing(W, p, len);
	pthread_mutex_unlock(&W->mu);
	return a ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

static CUresult add(struct vworker *W, CUdeviceptr p, uint64_t len,
		    bool global)
{
	CUresult r = CUDA_SUCCESS;
	pthread_mutex_lock(&W->mu);
	if (W->nallocs == W->acap) {
		uint32_t cap = W->acap ? W->acap * 2 : 64;
		struct vw_alloc *n = realloc(W->allocs, cap * sizeof(*n));
		if (!n) {
			r = CUDA_ERROR_OUT_OF_MEMORY;
			goto out;
		}
		W->allocs = n;
		W->acap = cap;
	}
	W->allocs[W->nallocs++] = (struct vw_alloc){p, len, global};
	if (!global)
		W->mem_in_use += len;
	if (W->ledger)
		atomic_store(&W->ledger[W->chan].mem_in_use, W->mem_in_use);
out:
	pthread_mutex_unlock(&W->mu);
	return r;
}

CUresult vw_alloc_add(struct vworker *W, CUdeviceptr p, uint64_t len)
{
	return add(W, p, len, false);
}

CUresult vw_alloc_global(struct vworker *W, CUdeviceptr p, uint64_t len)
{
	return add(W, p, len, true);
}

static struct vw_alloc *exact(struct vworker *W, CUdeviceptr p)
{
	for (uint32_t i = 0; i < W->nallocs; i++)
		if (W->allocs[i].base == p && !W->allocs[i].global)
			return &W->allocs[i];
	return NULL;
}

CUresult vw_alloc_check(struct vworker *W, CUdeviceptr p)
{
	pthread_mutex_lock(&W->mu);
	struct vw_alloc *a = exact(W, p);
	pthread_mutex_unlock(&W->mu);
	return a ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

void vw_alloc_del(struct vworker *W, CUdeviceptr p)
{
	pthread_mutex_lock(&W->mu);
	struct vw_alloc *a = exact(W, p);
	if (a) {
		W->mem_in_use -= a->len;
		*a = W->allocs[--W->nallocs];
		if (W->ledger)
			atomic_store(&W->ledger[W->chan].mem_in_use,
				     W->mem_in_use);
	}
	pthread_mutex_unlock(&W->mu);
}
