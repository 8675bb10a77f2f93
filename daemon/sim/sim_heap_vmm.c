/* daemon/sim/sim_heap_vmm.c - the device heap's VMM reservations and
 * mappings (for sim_vmm.c) and its files for IPC (for sim_ipc.c).
 *
 * Contract: see sim_heap.c's header: reservations come from the top
 * SIM_VMM_WINDOW bytes of the device range, each with a host shadow into
 * which mappings map their physical allocation's memfd; an exported
 * allocation moves into a memfd another process maps. All under the
 * heap's write lock, which every user of host addresses excludes.
 */
#define _GNU_SOURCE
#include "sim_heap_impl.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- VMM: charges, reservations and mappings (for sim_vmm.c) ---------- */

CUresult sim_heap_charge(size_t n)
{
	pthread_rwlock_wrlock(&H.lock);
	/* VMM physical memory: device 0's (the sim's VMM serves device 0) */
	bool ok = H.total - H.used >= n && sim_cfg.total_mem - H.dev_used[0] >= n;
	if (ok)
		H.used += n, H.dev_used[0] += n;
	pthread_rwlock_unlock(&H.lock);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

void sim_heap_uncharge(size_t n)
{
	pthread_rwlock_wrlock(&H.lock);
	H.used -= n;
	H.dev_used[0] -= n;
	pthread_rwlock_unlock(&H.lock);
}

/* First reservation whose base is >= x. */
static size_t rlower(uint64_t x)
{
	size_t a = 0, b = H.nr;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (H.r[m].base < x)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/* Whether [at, at+size) is free in the window: its index if so. */
static bool rfree(uint64_t at, uint64_t size, size_t *idx)
{
	if (at < H.hi || at > H.vhi || size > H.vhi - at)
		return false;
	size_t i = rlower(at);
	if (i > 0 && H.r[i - 1].base + H.r[i - 1].size > at)
		return false;
	if (i < H.nr && H.r[i].base - at < size)
		return false;
	*idx = i;
	return true;
}

/* First fit: the window is large and reservations are few. */
static bool rplace(uint64_t size, uint64_t align, uint64_t hint,
		   uint64_t *at, size_t *idx)
{
	if (hint && hint % align == 0 && rfree(hint, size, idx)) {
		*at = hint;
		return true;
	}
	uint64_t a = H.hi;
	for (size_t i = 0;; i++) {
		a = (a + align - 1) & ~(align - 1);
		if (rfree(a, size, idx)) {
			*at = a;
			return true;
		}
		if (i >= H.nr)
			return false;
		a = H.r[i].base + H.r[i].size;
	}
}

CUresult sim_heap_va_reserve(size_t size, size_t align, CUdeviceptr hint,
			     CUdeviceptr *out)
{
	uint8_t *sh = mmap(NULL, size, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sh == MAP_FAILED)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult rc = CUDA_ERROR_OUT_OF_MEMORY;
	pthread_rwlock_wrlock(&H.lock);
	uint64_t at;
	size_t i;
	if (H.nr == H.rcap) {
		size_t cap = H.rcap ? H.rcap * 2 : 16;
		struct resv *r = realloc(H.r, cap * sizeof(*r));
		if (!r)
			goto out;
		H.r = r;
		H.rcap = cap;
	}
	if (!rplace(size, align, hint, &at, &i))
		goto out;
	memmove(&H.r[i + 1], &H.r[i], (H.nr - i) * sizeof(*H.r));
	H.r[i] = (struct resv){at, size, sh};
	H.nr++;
	*out = at;
	rc = CUDA_SUCCESS;
out:
	pthread_rwlock_unlock(&H.lock);
	if (rc)
		munmap(sh, size);
	return rc;
}

/* Any mapping inside [p, p+n)? Under the lock. */
static bool mapped_in(uint64_t p, uint64_t n)
{
	size_t i = sim_heap_lower(p);
	if (i > 0 && H.v[i - 1].mapped &&
	    H.v[i - 1].base + H.v[i - 1].size > p)
		return true;
	return i < H.n && H.v[i].base - p < n;
}

CUresult sim_heap_va_free(CUdeviceptr p, size_t size)
{
	pthread_rwlock_wrlock(&H.lock);
	size_t i = rlower(p);
	bool ok = i < H.nr && H.r[i].base == p && H.r[i].size == size &&
		  !mapped_in(p, size);
	struct resv r = ok ? H.r[i] : (struct resv){0};
	if (ok) {
		memmove(&H.r[i], &H.r[i + 1], (H.nr - i - 1) * sizeof(*H.r));
		H.nr--;
	}
	pthread_rwlock_unlock(&H.lock);
	if (ok)
		munmap(r.shadow, r.size);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* The reservation holding [p, p+n), under the lock. */
static struct resv *resv_of(uint64_t p, uint64_t n)
{
	size_t i = rlower(p + 1);
	if (i == 0)
		return NULL;
	struct resv *r = &H.r[i - 1];
	uint64_t off = p - r->base;
	return off < r->size && n <= r->size - off ? r : NULL;
}

CUresult sim_heap_vmap(CUdeviceptr va, size_t size, int fd, uint64_t off,
		       const void *owner)
{
	CUresult rc = CUDA_ERROR_INVALID_VALUE;
	pthread_rwlock_wrlock(&H.lock);
	struct resv *r = resv_of(va, size);
	if (!r || mapped_in(va, size))
		goto out;
	uint8_t *host = r->shadow + (va - r->base);
	/* no access until cuMemSetAccess: a stray use faults the caller's
	 * context (sim_heap_find says no), never this process */
	if (mmap(host, size, PROT_NONE, MAP_SHARED | MAP_FIXED, fd,
		 (off_t)off) == MAP_FAILED) {
		rc = CUDA_ERROR_OUT_OF_MEMORY;
		goto out;
	}
	struct alloc a = {.base = va, .size = size, .host = host,
			  .owner = owner, .mapped = true};
	if (sim_heap_insert(sim_heap_lower(va), &a)) {
		mmap(host, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		     MAP_FIXED | MAP_NORESERVE, -1, 0);
		rc = CUDA_ERROR_OUT_OF_MEMORY;
		goto out;
	}
	rc = CUDA_SUCCESS;
out:
	pthread_rwlock_unlock(&H.lock);
	return rc;
}

/* The mappings [p, p+n) consists of, whole and without holes: their
 * table indices [*first, *end). */
static bool tiles(uint64_t p, uint64_t n, size_t *first, size_t *end)
{
	size_t i = sim_heap_lower(p), j = i;
	uint64_t at = p;
	if (n == 0 || p + n < p)
		return false;
	while (j < H.n && H.v[j].mapped && H.v[j].base == at &&
	       H.v[j].size <= p + n - at) {
		at += H.v[j].size;
		j++;
	}
	*first = i;
	*end = j;
	return at == p + n;
}

CUresult sim_heap_vunmap(CUdeviceptr va, size_t size, const void ***owners,
			 size_t *n)
{
	pthread_rwlock_wrlock(&H.lock);
	size_t i, j;
	const void **o = NULL;
	bool ok = tiles(va, size, &i, &j);
	if (ok && !(o = malloc((j - i) * sizeof(*o)))) {
		pthread_rwlock_unlock(&H.lock);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	for (size_t k = i; ok && k < j; k++) {
		/* back to a hole in the shadow: the file's pages go */
		mmap(H.v[k].host, H.v[k].size, PROT_NONE, MAP_PRIVATE |
		     MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		o[k - i] = H.v[k].owner;
	}
	if (ok) {
		memmove(&H.v[i], &H.v[j], (H.n - j) * sizeof(*H.v));
		H.n -= j - i;
		*owners = o;
		*n = j - i;
	}
	pthread_rwlock_unlock(&H.lock);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult sim_heap_vaccess(CUdeviceptr va, size_t size, bool rw)
{
	pthread_rwlock_wrlock(&H.lock);
	size_t i, j;
	bool ok = tiles(va, size, &i, &j);
	for (size_t k = i; ok && k < j; k++) {
		ok = mprotect(H.v[k].host, H.v[k].size,
			      rw ? PROT_READ | PROT_WRITE : PROT_NONE) == 0;
		H.v[k].access = ok && rw;
	}
	pthread_rwlock_unlock(&H.lock);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult sim_heap_vquery(CUdeviceptr va, const void **owner, bool *rw)
{
	pthread_rwlock_rdlock(&H.lock);
	size_t i = sim_heap_lower(va + 1);
	const struct alloc *a = i ? &H.v[i - 1] : NULL;
	bool ok = a && a->mapped && va - a->base < a->size;
	if (ok) {
		*owner = a->owner;
		*rw = a->access;
	}
	pthread_rwlock_unlock(&H.lock);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* ---- IPC: allocations in files (for sim_ipc.c) -------------------------- */

/* Move the allocation at base p into a memfd (once): its bytes are copied
 * and its host address changes under the write lock, which every user of
 * host addresses excludes. Another process maps the file to import it. */
CUresult sim_heap_export(CUdeviceptr p, int *fd, size_t *size)
{
	CUresult rc = CUDA_ERROR_INVALID_VALUE;
	pthread_rwlock_wrlock(&H.lock);
	size_t i = sim_heap_lower(p);
	struct alloc *a = i < H.n && H.v[i].base == p ? &H.v[i] : NULL;
	if (!a || a->mapped || a->owner)
		goto out; /* not a cuMemAlloc allocation's base */
	if (!a->fd1) {
		int f = memfd_create("vgpu-sim-ipc", MFD_CLOEXEC);
		uint8_t *h = MAP_FAILED;
		if (f >= 0 && ftruncate(f, (off_t)a->size) == 0)
			h = mmap(NULL, a->size, PROT_READ | PROT_WRITE,
				 MAP_SHARED, f, 0);
		if (h == MAP_FAILED) {
			if (f >= 0)
				close(f);
			rc = CUDA_ERROR_OUT_OF_MEMORY;
			goto out;
		}
		memcpy(h, a->host, a->size);
		sim_heap_host_free(a->host, a->size);
		a->host = h;
		a->fd1 = f + 1;
	}
	*fd = a->fd1 - 1;
	*size = a->size;
	rc = CUDA_SUCCESS;
out:
	pthread_rwlock_unlock(&H.lock);
	return rc;
}

/* A new allocation of owner backed by file fd (taken: closed with it),
 * charging nothing: the exporter's device memory. */
CUresult sim_heap_import(int fd, size_t size, const void *owner,
			 CUdeviceptr *out)
{
	uint8_t *h = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		return CUDA_ERROR_MAP_FAILED;
	struct alloc a = {.size = size, .charged = sim_heap_align(size), .host = h,
			  .owner = owner, .fd1 = fd + 1, .foreign = true};
	pthread_rwlock_wrlock(&H.lock);
	uint64_t at;
	size_t i;
	CUresult rc = CUDA_ERROR_OUT_OF_MEMORY;
	if ((sim_heap_gap(H.cursor, a.charged, &at, &i) ||
	     sim_heap_gap(H.lo, a.charged, &at, &i))) {
		a.base = at;
		if (!sim_heap_insert(i, &a)) {
			H.cursor = at + a.charged;
			rc = CUDA_SUCCESS;
		}
	}
	pthread_rwlock_unlock(&H.lock);
	if (rc)
		munmap(h, size);
	else
		*out = a.base;
	return rc;
}
