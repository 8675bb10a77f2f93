/* daemon/sim/sim_pool.c - the stream-ordered allocator: memory pools,
 * cuMemAllocAsync, cuMemFreeAsync.
 *
 * Contract: the device has a default pool (current until cuDeviceSetMemPool)
 * and cuMemPoolCreate makes more; pool handles are slot and generation
 * numbers, never pointers, so a stale or forged one fails. An allocation
 * is made when the call is made (already valid when the stream reaches
 * it, as stream order requires) from the heap, and freed when its
 * stream reaches the cuMemFreeAsync (a SIM_OP_FREE), so work queued
 * before the free still sees it. The sim caches nothing: reserved memory
 * equals used memory, and cuMemPoolTrimTo has nothing to release. The
 * pool's own device always has read-write access. Pools are not
 * exportable (no handle types), as the device attributes say.
 */
#include "sim.h"
#include <stdlib.h>
#include <string.h>

#define NPOOLS 64
#define NO_POOL UINT32_MAX /* an allocation whose pool was destroyed */

struct pool {
	bool live;
	uint32_t gen;
	int reuse[3];          /* the three REUSE_* attributes */
	uint64_t threshold;
	uint64_t used, used_high, reserved_high;
};

struct palloc {
	CUdeviceptr p;
	size_t size;
	uint32_t pool;
	bool freeing;          /* a cuMemFreeAsync is queued */
};

static struct {
	pthread_mutex_t mu;
	struct pool v[NPOOLS]; /* slot 0: the default pool */
	uint32_t current;
	struct palloc *a;
	size_t n, cap;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER};

static CUmemoryPool handle_of(uint32_t i)
{
	return (CUmemoryPool)(uintptr_t)((uint64_t)S.v[i].gen << 8 | (i + 1));
}

static void init_default(void)
{
	if (!S.v[0].live)
		S.v[0] = (struct pool){.live = true, .gen = 1,
				       .reuse = {1, 1, 1}};
}

/* The live pool h names, under S.mu. */
static struct pool *lookup(CUmemoryPool h, uint32_t *idx)
{
	init_default();
	uint64_t x = (uint64_t)(uintptr_t)h;
	uint64_t i = (x & 0xff) - 1;
	if (i >= NPOOLS || !S.v[i].live || S.v[i].gen != x >> 8)
		return NULL;
	if (idx)
		*idx = (uint32_t)i;
	return &S.v[i];
}

static CUresult check_dev(CUdevice dev)
{
	CUresult rc = sim_check_init();
	return rc ? rc : dev != 0 ? CUDA_ERROR_INVALID_DEVICE : CUDA_SUCCESS;
}

CUresult sim_cuDeviceGetDefaultMemPool(CUmemoryPool *pool, CUdevice dev)
{
	CUresult rc = check_dev(dev);
	if (rc || !pool)
		return rc ? rc : CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&S.mu);
	init_default();
	*pool = handle_of(0);
	pthread_mutex_unlock(&S.mu);
	return CUDA_SUCCESS;
}

CUresult sim_cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev)
{
	CUresult rc = check_dev(dev);
	if (rc || !pool)
		return rc ? rc : CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&S.mu);
	init_default();
	*pool = handle_of(S.current);
	pthread_mutex_unlock(&S.mu);
	return CUDA_SUCCESS;
}

CUresult sim_cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool)
{
	CUresult rc = check_dev(dev);
	if (rc)
		return rc;
	pthread_mutex_lock(&S.mu);
	uint32_t i;
	if (lookup(pool, &i))
		S.current = i;
	else
		rc = CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_unlock(&S.mu);
	return rc;
}

static bool zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

CUresult sim_cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *props)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (!pool || !props || props->allocType != CU_MEM_ALLOCATION_TYPE_PINNED ||
	    props->win32SecurityAttributes ||
	    !zero(props->reserved, sizeof(props->reserved)))
		return CUDA_ERROR_INVALID_VALUE;
	if (props->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return props->location.type == CU_MEM_LOCATION_TYPE_INVALID
			       ? CUDA_ERROR_INVALID_VALUE
			       : CUDA_ERROR_NOT_SUPPORTED;
	if (props->location.id != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	if (props->handleTypes != CU_MEM_HANDLE_TYPE_NONE)
		return CUDA_ERROR_NOT_SUPPORTED;
	rc = CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&S.mu);
	init_default();
	for (uint32_t i = 1; i < NPOOLS; i++)
		if (!S.v[i].live) {
			uint32_t gen = (S.v[i].gen + 1) & 0xffffff;
			S.v[i] = (struct pool){.live = true, .gen = gen ? gen : 1,
					       .reuse = {1, 1, 1}};
			*pool = handle_of(i);
			rc = CUDA_SUCCESS;
			break;
		}
	pthread_mutex_unlock(&S.mu);
	return rc;
}

/* Outstanding allocations stay valid: they hold no reference to the pool
 * slot's life, only to its accounting (which goes with the slot). */
CUresult sim_cuMemPoolDestroy(CUmemoryPool pool)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	pthread_mutex_lock(&S.mu);
	uint32_t i;
	if (!lookup(pool, &i) || i == 0) {
		rc = CUDA_ERROR_INVALID_VALUE;
	} else {
		S.v[i].live = false;
		if (S.current == i)
			S.current = 0;
		for (size_t k = 0; k < S.n; k++)
			if (S.a[k].pool == i)
				S.a[k].pool = NO_POOL; /* the slot's next pool */
	}
	pthread_mutex_unlock(&S.mu);
	return rc;
}

CUresult sim_cuMemPoolTrimTo(CUmemoryPool pool, size_t keep)
{
	(void)keep; /* nothing cached beyond use: nothing to trim */
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	pthread_mutex_lock(&S.mu);
	bool ok = lookup(pool, NULL);
	pthread_mutex_unlock(&S.mu);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

static CUresult attr(CUmemoryPool pool, CUmemPool_attribute a, void *value,
		     bool set)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&S.mu);
	struct pool *p = lookup(pool, NULL);
	uint64_t u = 0;
	int iv = 0;
	if (set && a <= CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES)
		memcpy(&iv, value, sizeof(iv)); /* int-valued */
	else if (set && a <= CU_MEMPOOL_ATTR_USED_MEM_HIGH)
		memcpy(&u, value, sizeof(u));   /* cuuint64_t-valued */
	rc = p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
	switch (p ? (int)a : -1) {
	case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
	case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
	case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
		if (set)
			p->reuse[a - 1] = iv != 0;
		else
			memcpy(value, &p->reuse[a - 1], sizeof(int));
		break;
	case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
		if (set)
			p->threshold = u;
		else
			memcpy(value, &p->threshold, 8);
		break;
	case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
	case CU_MEMPOOL_ATTR_USED_MEM_CURRENT:
		if (set)
			rc = CUDA_ERROR_INVALID_VALUE; /* read-only */
		else
			memcpy(value, &p->used, 8);
		break;
	case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
	case CU_MEMPOOL_ATTR_USED_MEM_HIGH: {
		uint64_t *hw = a == CU_MEMPOOL_ATTR_USED_MEM_HIGH
				       ? &p->used_high : &p->reserved_high;
		if (set && u != 0)
			rc = CUDA_ERROR_INVALID_VALUE; /* may only be reset */
		else if (set)
			*hw = p->used;
		else
			memcpy(value, hw, 8);
		break;
	}
	case -1:
		break;
	default:
		rc = CUDA_ERROR_INVALID_VALUE;
	}
	pthread_mutex_unlock(&S.mu);
	return rc;
}

CUresult sim_cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute a,
				   void *value)
{
	return attr(pool, a, value, true);
}

CUresult sim_cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute a,
				   void *value)
{
	return attr(pool, a, value, false);
}

CUresult sim_cuMemPoolSetAccess(CUmemoryPool pool, const CUmemAccessDesc *map,
				size_t count)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (!map && count)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < count; i++) {
		if (map[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE ||
		    map[i].location.id != 0)
			return CUDA_ERROR_INVALID_DEVICE;
		/* its own device's access cannot be taken away */
		if (map[i].flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
			return CUDA_ERROR_INVALID_VALUE;
	}
	pthread_mutex_lock(&S.mu);
	bool ok = lookup(pool, NULL);
	pthread_mutex_unlock(&S.mu);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult sim_cuMemPoolGetAccess(CUmemAccess_flags *flags, CUmemoryPool pool,
				CUmemLocation *location)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (!flags || !location)
		return CUDA_ERROR_INVALID_VALUE;
	if (location->type != CU_MEM_LOCATION_TYPE_DEVICE || location->id != 0)
		return CUDA_ERROR_INVALID_DEVICE;
	pthread_mutex_lock(&S.mu);
	bool ok = lookup(pool, NULL);
	pthread_mutex_unlock(&S.mu);
	if (ok)
		*flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

static void untrack(size_t k)
{
	if (S.a[k].pool != NO_POOL)
		S.v[S.a[k].pool].used -= S.a[k].size;
	S.a[k] = S.a[--S.n];
}

/* Under S.mu: remember an allocation of pool i. An entry at the same
 * address is one cuMemFree (not FreeAsync) released: forget it. */
static int track(CUdeviceptr p, size_t size, uint32_t i)
{
	for (size_t k = 0; k < S.n; k++)
		if (S.a[k].p == p) {
			untrack(k);
			break;
		}
	if (S.n == S.cap) {
		size_t cap = S.cap ? S.cap * 2 : 64;
		struct palloc *a = realloc(S.a, cap * sizeof(*a));
		if (!a)
			return -1;
		S.a = a;
		S.cap = cap;
	}
	S.a[S.n++] = (struct palloc){p, size, i, false};
	struct pool *pl = &S.v[i];
	pl->used += size;
	if (pl->used > pl->used_high)
		pl->used_high = pl->used;
	if (pl->used > pl->reserved_high)
		pl->reserved_high = pl->used;
	return 0;
}

static CUresult alloc_from(CUdeviceptr *dptr, size_t size, CUmemoryPool pool,
			   bool current, CUstream hs)
{
	struct sim_stream *s;
	CUresult rc = sim_stream_resolve(hs, &s); /* also: initialised, ctx */
	if (rc)
		return rc;
	sim_stream_put(s);
	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&S.mu);
	uint32_t i = 0;
	if (current) {
		init_default();
		i = S.current;
	} else if (!lookup(pool, &i)) {
		rc = CUDA_ERROR_INVALID_VALUE;
	}
	CUdeviceptr p = 0;
	if (!rc)
		rc = sim_heap_alloc(size, NULL, &p);
	if (!rc && track(p, size, i)) {
		sim_heap_free(p, NULL);
		rc = CUDA_ERROR_OUT_OF_MEMORY;
	}
	pthread_mutex_unlock(&S.mu);
	if (!rc)
		*dptr = p;
	return rc;
}

CUresult sim_cuMemAllocAsync(CUdeviceptr *dptr, size_t size, CUstream s)
{
	return alloc_from(dptr, size, NULL, true, s);
}

CUresult sim_cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t size,
				     CUmemoryPool pool, CUstream s)
{
	return alloc_from(dptr, size, pool, false, s);
}

CUresult sim_cuMemFreeAsync(CUdeviceptr dptr, CUstream hs)
{
	struct sim_stream *s;
	CUresult rc = sim_stream_resolve(hs, &s);
	if (rc)
		return rc;
	pthread_mutex_lock(&S.mu);
	struct palloc *a = NULL;
	for (size_t i = 0; i < S.n && !a; i++)
		if (S.a[i].p == dptr && !S.a[i].freeing)
			a = &S.a[i];
	if (a)
		a->freeing = true;
	pthread_mutex_unlock(&S.mu);
	struct sim_op *op = a ? sim_op_new(SIM_OP_FREE) : NULL;
	if (!op) {
		sim_stream_put(s);
		return a ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_VALUE;
	}
	op->u.copy.dst = dptr;
	rc = sim_submit(s, op, NULL);
	sim_stream_put(s);
	if (rc) { /* not queued: it may be freed again */
		pthread_mutex_lock(&S.mu);
		for (size_t i = 0; i < S.n; i++)
			if (S.a[i].p == dptr)
				S.a[i].freeing = false;
		pthread_mutex_unlock(&S.mu);
	}
	return rc;
}

void sim_pool_exec_free(struct sim_op *op)
{
	pthread_mutex_lock(&S.mu);
	for (size_t i = 0; i < S.n; i++)
		if (S.a[i].p == op->u.copy.dst && S.a[i].freeing) {
			untrack(i);
			break;
		}
	pthread_mutex_unlock(&S.mu);
	sim_heap_free(op->u.copy.dst, NULL);
}

void sim_pool_reset(void)
{
	pthread_mutex_lock(&S.mu);
	for (uint32_t i = 0; i < NPOOLS; i++)
		S.v[i].live = false; /* generations stay: old handles fail */
	S.current = 0;
	S.n = 0; /* the heap frees the allocations */
	pthread_mutex_unlock(&S.mu);
}

bool sim_pool_live(CUmemoryPool pool)
{
	pthread_mutex_lock(&S.mu);
	bool ok = lookup(pool, NULL) != NULL;
	pthread_mutex_unlock(&S.mu);
	return ok;
}
