/* guest/cuda/mem_space.c - the guest's address-space table and the
 * reservations that keep device ranges out of its host allocations
 * (contract in mem_space.h), and the allocation calls that feed it:
 * cuMemAlloc, cuMemFree, cuMemAllocPitch, cuMemGetAddressRange.
 *
 * Reservations are by 2 MiB granule (the driver packs small allocations
 * into shared 2 MiB chunks, so two allocations may share one) and outlive
 * the allocations, as the driver's own virtual range does.
 */
#define _GNU_SOURCE
#include "mem_space.h"
#include "lib_va.h"
#include "rpc.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define GRANULE (2ull << 20)
/* Allocations kept aside while looking for a range the guest has free.
 * The guest's own large mappings (its view of the region, many GiB, a
 * multi-GiB malloc or file mapping) may cover where the worker's driver
 * places its next allocations, so a few retries were not enough (issue 7:
 * a 256 MiB cuMemAlloc after 4 GiB copies failed with 8); the driver's own
 * CUDA_ERROR_OUT_OF_MEMORY ends the search earlier when memory runs out. */
#define RETRIES 64

static struct {
	pthread_mutex_t mu;
	uint64_t conn;          /* the connection the entries belong to */
	struct vgpu_space *v;   /* sorted by base */
	size_t n, cap;
	uint64_t *g;            /* reserved granules, sorted */
	size_t ng, gcap;
	uint64_t next_id;
} T = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void child_after_fork(void)
{
	pthread_mutex_init(&T.mu, NULL);
}

/* Under T.mu: forget another connection's entries (a forked child that
 * connected afresh) and drop the reservations it inherited with them: its
 * own worker may hand out the very addresses its parent's had. */
static void own(void)
{
	static bool atfork;
	if (!atfork && !pthread_atfork(NULL, NULL, child_after_fork))
		atfork = true;
	uint64_t c = vgpu_cu_conn_id();
	if (T.conn == c)
		return;
	for (size_t i = 0; i < T.ng; i++)
		munmap((void *)(uintptr_t)T.g[i], GRANULE);
	free(T.v);
	free(T.g);
	T.v = NULL;
	T.g = NULL;
	T.n = T.cap = T.ng = T.gcap = 0;
	T.conn = c;
}

static size_t glower(uint64_t a)
{
	size_t lo = 0, hi = T.ng;
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (T.g[m] < a)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 64;
	void *p = realloc(*v, c * sz);
	if (!p)
		return -1;
	*v = p;
	*cap = c;
	return 0;
}

/* Granules stay reserved once taken, as the driver keeps its virtual
 * range: a freed device address never becomes a host mapping of ours, so
 * a stale device pointer still faults on the host, and a later allocation
 * at the same address finds its granules ready. */
static int granule_take(uint64_t a)
{
	size_t i = glower(a);
	if ((i < T.ng && T.g[i] == a) || vgpu_va_reserved(a, GRANULE))
		return 0;
	if (grow((void **)&T.g, &T.gcap, T.ng, sizeof(*T.g)))
		return -ENOMEM;
	void *p = mmap((void *)(uintptr_t)a, GRANULE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			       MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	if ((uint64_t)(uintptr_t)p != a) { /* a kernel that ignores the flag */
		munmap(p, GRANULE);
		return -EEXIST;
	}
	memmove(&T.g[i + 1], &T.g[i], (T.ng - i) * sizeof(*T.g));
	T.g[i] = a;
	T.ng++;
	return 0;
}

/* Device addresses live below 2^47 like every user address on x86_64;
 * anything else cannot be reserved and is refused. */
static CUresult reserve(uint64_t base, uint64_t size)
{
	uint64_t end;
	if (!size || __builtin_add_overflow(base, size, &end) ||
	    end > (1ull << 47))
		return CUDA_ERROR_INVALID_VALUE;
	for (uint64_t a = base & ~(GRANULE - 1); a < end; a += GRANULE) {
		int rc = granule_take(a);
		if (rc)
			return rc == -ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY
					     : CUDA_ERROR_ALREADY_MAPPED;
	}
	return CUDA_SUCCESS;
}

/* First index whose base is > p. */
static size_t upper(uint64_t p)
{
	size_t lo = 0, hi = T.n;
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (T.v[m].base <= p)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

static void remove_at(size_t i)
{
	memmove(&T.v[i], &T.v[i + 1], (T.n - i - 1) * sizeof(*T.v));
	T.n--;
}

/* Globals of unloaded modules linger (unloading does not say which went):
 * a new range overlapping one means its module is gone. */
static void drop_stale_globals(uint64_t base, uint64_t size)
{
	for (size_t i = 0; i < T.n;) {
		const struct vgpu_space *g = &T.v[i];
		if (g->global && g->base < base + size && base < g->base + g->size)
			remove_at(i);
		else
			i++;
	}
}

static CUresult add_locked(struct vgpu_space *e, bool must_reserve)
{
	CUresult r;
	own();
	if (grow((void **)&T.v, &T.cap, T.n, sizeof(*T.v)))
		return CUDA_ERROR_OUT_OF_MEMORY;
	e->reserved = false;
	if (e->kind == VGPU_SPACE_DEVICE) {
		drop_stale_globals(e->base, e->size);
		r = reserve(e->base, e->size);
		if (r && must_reserve)
			return r;
		e->reserved = !r;
	}
	e->id = ++T.next_id;
	size_t i = upper(e->base);
	memmove(&T.v[i + 1], &T.v[i], (T.n - i) * sizeof(*T.v));
	T.v[i] = *e;
	T.n++;
	return CUDA_SUCCESS;
}

CUresult vgpu_space_add(struct vgpu_space *e)
{
	pthread_mutex_lock(&T.mu);
	CUresult r = add_locked(e, true);
	pthread_mutex_unlock(&T.mu);
	return r;
}

void vgpu_space_note_global(uint64_t base, uint64_t size)
{
	struct vgpu_space e = {.base = base, .size = size ? size : 1,
			       .dev = base, .kind = VGPU_SPACE_DEVICE,
			       .global = true};
	pthread_mutex_lock(&T.mu);
	own();
	size_t i = upper(base);
	if (!(i > 0 && T.v[i - 1].base == base && T.v[i - 1].global))
		add_locked(&e, false);
	pthread_mutex_unlock(&T.mu);
}

bool vgpu_space_find(uint64_t p, uint64_t n, struct vgpu_space *out)
{
	bool hit = false;
	if (!n)
		n = 1;
	pthread_mutex_lock(&T.mu);
	own();
	size_t i = upper(p);
	if (i > 0) {
		const struct vgpu_space *e = &T.v[i - 1];
		uint64_t off = p - e->base;
		hit = off < e->size && n <= e->size - off;
		if (hit)
			*out = *e;
	}
	pthread_mutex_unlock(&T.mu);
	return hit;
}

bool vgpu_space_overlap(uint64_t p, uint64_t n, struct vgpu_space *out)
{
	bool hit = false;
	pthread_mutex_lock(&T.mu);
	own();
	/* entries do not overlap each other: only the last one starting
	 * before the end can reach into the range */
	size_t i = upper(p + n - 1);
	if (n && i > 0 && T.v[i - 1].base + T.v[i - 1].size > p) {
		*out = T.v[i - 1];
		hit = true;
	}
	pthread_mutex_unlock(&T.mu);
	return hit;
}

bool vgpu_space_find_dev(uint64_t p, struct vgpu_space *out)
{
	bool hit = false;
	pthread_mutex_lock(&T.mu);
	own();
	for (size_t i = 0; i < T.n && !hit; i++) {
		const struct vgpu_space *e = &T.v[i];
		if (e->kind != VGPU_SPACE_DEVICE && e->dev && p >= e->dev &&
		    p - e->dev < e->size) {
			*out = *e;
			hit = true;
		}
	}
	pthread_mutex_unlock(&T.mu);
	return hit;
}

bool vgpu_space_take(uint64_t base, uint8_t kind, struct vgpu_space *out)
{
	bool hit = false;
	pthread_mutex_lock(&T.mu);
	own();
	size_t i = upper(base);
	if (i > 0 && T.v[i - 1].base == base && T.v[i - 1].kind == kind &&
	    !T.v[i - 1].global) {
		*out = T.v[i - 1];
		remove_at(i - 1);
		hit = true;
	}
	pthread_mutex_unlock(&T.mu);
	return hit;
}

/* ---- allocation calls ------------------------------------------------ */

/* Record a fresh allocation; one whose range a guest mapping overlaps is
 * set aside and the worker asked again, so no host pointer of this
 * process ever falls inside a device allocation it was given. */
/* Say once which guest mapping kept an allocation from being handed out:
 * the only visible trace of an out-of-memory that the GPU did not cause. */
static void collision_note(uint64_t p, uint64_t size)
{
	static _Atomic int said;
	if (atomic_exchange(&said, 1))
		return;
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long lo, hi;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo < p + size &&
		    p < hi) {
			fprintf(stderr, "vgpu: cuMemAlloc: device range "
				"0x%lx+0x%lx is taken in this process by %s",
				(unsigned long)p, (unsigned long)size, line);
			break;
		}
	if (f)
		fclose(f);
}

typedef CUresult (*alloc_fn)(CUdeviceptr *p, uint64_t *size, void *ctx);

static CUresult alloc_recorded(alloc_fn fn, void *ctx, bool async,
			       CUdeviceptr *out)
{
	CUdeviceptr aside[RETRIES];
	int naside = 0;
	CUresult r;
	vgpu_va_setup(); /* once: the worker's windows, reserved here */
	for (;;) {
		CUdeviceptr p;
		uint64_t size;
		if ((r = fn(&p, &size, ctx)))
			break;
		struct vgpu_space e = {.base = p, .size = size, .dev = p,
				       .kind = VGPU_SPACE_DEVICE,
				       .async = async};
		r = vgpu_space_add(&e);
		if (!r) {
			*out = p;
			break;
		}
		if (r != CUDA_ERROR_ALREADY_MAPPED || naside == RETRIES) {
			if (r == CUDA_ERROR_ALREADY_MAPPED)
				collision_note(p, size);
			vgpu_gen_cuMemFree_v2(p);
			r = CUDA_ERROR_OUT_OF_MEMORY;
			break;
		}
		aside[naside++] = p;
	}
	while (naside)
		vgpu_gen_cuMemFree_v2(aside[--naside]);
	return r;
}

static CUresult plain(CUdeviceptr *p, uint64_t *size, void *ctx)
{
	*size = *(size_t *)ctx;
	return vgpu_gen_cuMemAlloc_v2(p, *(size_t *)ctx);
}

CUresult vgpu_mem_alloc(CUdeviceptr *p, size_t n)
{
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	return alloc_recorded(plain, &n, false, p);
}

VGPU_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	return vgpu_mem_alloc(dptr, bytesize);
}

VGPU_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr)
{
	struct vgpu_space e;
	/* cudaFree(NULL), the runtime's "initialise now" idiom, passes 0 to
	 * the driver, which answers success (free(NULL) semantics, measured
	 * natively; the runtime returns the driver's answer) */
	if (!dptr)
		return vgpu_cu_ready();
	CUresult r = vgpu_gen_cuMemFree_v2(dptr);
	/* the worker forgets an allocation it knew whatever the driver says;
	 * INVALID_VALUE is its "not an allocation of yours" */
	if (r != CUDA_ERROR_INVALID_VALUE && r != CUDA_ERROR_NOT_INITIALIZED &&
	    r != CUDA_ERROR_DEVICE_UNAVAILABLE)
		vgpu_space_take(dptr, VGPU_SPACE_DEVICE, &e);
	return r;
}

/* Stream-ordered allocations: the worker's driver gives the address at
 * once (usable in stream order), so it is recorded like any other. */
struct async_req {
	size_t n;
	CUstream s;
};

static CUresult ordered(CUdeviceptr *p, uint64_t *size, void *ctx)
{
	struct async_req *q = ctx;
	*size = q->n;
	return vgpu_gen_cuMemAllocAsync(p, q->n, q->s);
}

VGPU_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t n, CUstream s)
{
	struct async_req q = {n, s};
	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	return alloc_recorded(ordered, &q, true, dptr);
}

VGPU_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t n,
					  CUstream s)
{
	return cuMemAllocAsync(dptr, n, vgpu_ptsz(s));
}

struct pool_req {
	size_t n;
	CUmemoryPool pool;
	CUstream s;
};

static CUresult from_pool(CUdeviceptr *p, uint64_t *size, void *ctx)
{
	struct pool_req *q = ctx;
	*size = q->n;
	return vgpu_gen_cuMemAllocFromPoolAsync(p, q->n, q->pool, q->s);
}

VGPU_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t n,
					     CUmemoryPool pool, CUstream s)
{
	struct pool_req q = {n, pool, s};
	if (!dptr)
		return CUDA_ERROR_INVALID_VALUE;
	return alloc_recorded(from_pool, &q, true, dptr);
}

VGPU_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr,
						  size_t n, CUmemoryPool pool,
						  CUstream s)
{
	return cuMemAllocFromPoolAsync(dptr, n, pool, vgpu_ptsz(s));
}

VGPU_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream s)
{
	struct vgpu_space e;
	CUresult r = vgpu_gen_cuMemFreeAsync(dptr, s);
	if (r != CUDA_ERROR_INVALID_VALUE && r != CUDA_ERROR_INVALID_HANDLE &&
	    r != CUDA_ERROR_NOT_INITIALIZED && r != CUDA_ERROR_DEVICE_UNAVAILABLE)
		vgpu_space_take(dptr, VGPU_SPACE_DEVICE, &e);
	return r;
}

VGPU_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream s)
{
	return cuMemFreeAsync(dptr, vgpu_ptsz(s));
}

struct pitch_req {
	size_t w, h;
	unsigned elem;
	size_t pitch;
};

static CUresult pitched(CUdeviceptr *p, uint64_t *size, void *ctx)
{
	struct pitch_req *q = ctx;
	struct vgpu_cu_args a = {{q->w, q->h, q->elem}};
	CUresult r = vgpu_cu_rpc(VGPU_CU_MEM_ALLOC_PITCH, &a, true,
				 "cuMemAllocPitch");
	if (!r) {
		*p = a.a[0];
		q->pitch = a.a[1];
		/* the worker refused a size that overflows */
		*size = (uint64_t)q->pitch * q->h;
	}
	return r;
}

VGPU_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch,
					size_t w, size_t h, unsigned elem)
{
	if (!dptr || !pitch)
		return CUDA_ERROR_INVALID_VALUE;
	struct pitch_req q = {w, h, elem, 0};
	CUresult r = alloc_recorded(pitched, &q, false, dptr);
	if (!r)
		*pitch = q.pitch;
	return r;
}

VGPU_EXPORT CUresult cuMemGetAddressRange_v2(CUdeviceptr *base, size_t *size,
					     CUdeviceptr p)
{
	struct vgpu_space e;
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (vgpu_space_find(p, 1, &e) || vgpu_space_find_dev(p, &e)) {
		uint64_t b = e.kind == VGPU_SPACE_DEVICE || p < e.base ||
					     p - e.base >= e.size
				     ? e.dev : e.base;
		if (base)
			*base = b;
		if (size)
			*size = e.size;
		return CUDA_SUCCESS;
	}
	/* not ours to answer: module globals, other areas' memory */
	struct vgpu_cu_args a = {{p}};
	r = vgpu_cu_rpc(VGPU_CU_MEM_RANGE, &a, true, "cuMemGetAddressRange");
	if (r)
		return r;
	if (base)
		*base = a.a[0];
	if (size)
		*size = a.a[1];
	return CUDA_SUCCESS;
}
