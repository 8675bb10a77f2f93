/* daemon/sim/sim_heap.c - device memory: synthetic addresses, host backing,
 * the allocation table.
 *
 * Contract: device pointers are addresses in a range reserved at open with
 * an inaccessible mapping (PROT_NONE, no memory committed), so no host
 * allocation of this process can ever have the same address and a device
 * pointer dereferenced on the host faults at once. They are below 2^47 like
 * real ones. Each allocation is backed by its own host memory (calloc, or
 * for 64 KiB and more an anonymous mapping, so memory is committed only
 * when touched) and recorded in a table sorted by address; every range the
 * API or a kernel uses is checked against it: it must lie inside one
 * allocation's requested size. Addresses are handed out next-fit (a freed
 * range is reused only after the rest of the range has been), so a use
 * after free is seen as an unknown pointer for as long as possible.
 * Accounting charges the size rounded up to 256 bytes, the alignment.
 * The table's rwlock is held for reading by every user of host addresses
 * (copies, kernels), so memory is never released under them.
 *
 * Virtual memory management (sim_vmm.c) gets the top SIM_VMM_WINDOW bytes
 * of the reserved range for cuMemAddressReserve. Each reservation has a
 * host "shadow" range of its size (PROT_NONE); mapping a physical
 * allocation (a memfd) maps that file into the shadow at the same offset,
 * and records the mapping in the table (mapped, usable once access is set).
 * So adjacent mappings of one reservation are adjacent in host memory too,
 * and a copy or kernel spanning them sees one span, as on the GPU; two
 * mappings of one allocation share its bytes.
 */
#define _GNU_SOURCE
#include "sim.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Inside the application range of every sanitizer we build with:
 * ThreadSanitizer's x86_64 layout allows 0x7e8000000000 and up (its
 * interceptor kills the process on an mmap at 0x7e0000000000). */
#define VA_BASE 0x7e8000000000ull
#define MMAP_MIN (64u << 10)

struct alloc {
	CUdeviceptr base;
	size_t size, charged;
	uint8_t *host;
	const void *owner;
	bool mapped;  /* a VMM mapping: host is in its reservation's shadow */
	bool access;  /* mapped: read-write access set */
	int fd1;      /* memfd + 1 when host maps a file (IPC), else 0 */
	bool foreign; /* imported: another process's memory, not charged */
};

struct resv {
	CUdeviceptr base;
	size_t size;
	uint8_t *shadow;
};

static struct {
	pthread_rwlock_t lock;
	struct alloc *v;
	size_t n, cap;
	uint64_t lo, hi, cursor;
	uint64_t total, used;
	struct resv *r;     /* reservations, sorted by base, in [hi, vhi) */
	size_t nr, rcap;
	uint64_t vhi;
} H = {.lock = PTHREAD_RWLOCK_INITIALIZER};

static uint64_t align_up(uint64_t x)
{
	return (x + SIM_ALIGN - 1) & ~(uint64_t)(SIM_ALIGN - 1);
}

int sim_heap_start(uint64_t total, char *err, size_t errlen)
{
	uint64_t heap = (2 * total + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);
	uint64_t span = heap + SIM_VMM_WINDOW;
	int fl = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	void *p = mmap((void *)VA_BASE, span, PROT_NONE,
		       fl | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED) /* taken: anywhere the kernel likes will do */
		p = mmap((void *)VA_BASE, span, PROT_NONE, fl, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "cannot reserve %llu bytes of address "
			 "space for device pointers", (unsigned long long)span);
		return -1;
	}
	H.lo = H.cursor = (uint64_t)(uintptr_t)p;
	H.hi = H.lo + heap;
	H.vhi = H.lo + span;
	H.total = total;
	return 0;
}

/* First index whose base is >= x. */
static size_t lower(uint64_t x)
{
	size_t a = 0, b = H.n;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (H.v[m].base < x)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/* A free aligned range of len bytes at or after from: its address and the
 * table index it goes to. */
static bool gap_from(uint64_t from, uint64_t len, uint64_t *at, size_t *idx)
{
	size_t i = lower(from);
	uint64_t a = from;
	if (i > 0 && H.v[i - 1].base + H.v[i - 1].charged > a)
		a = H.v[i - 1].base + H.v[i - 1].charged;
	for (;; i++) {
		a = align_up(a);
		/* VMM mappings lie above hi: never a gap for cuMemAlloc */
		bool last = i == H.n || H.v[i].base >= H.hi;
		uint64_t next = last ? H.hi : H.v[i].base;
		if (a <= next && next - a >= len) {
			*at = a;
			*idx = i;
			return true;
		}
		if (last)
			return false;
		a = H.v[i].base + H.v[i].charged;
	}
}

static int insert(size_t i, const struct alloc *a)
{
	if (H.n == H.cap) {
		size_t ncap = H.cap ? H.cap * 2 : 64;
		struct alloc *v = realloc(H.v, ncap * sizeof(*v));
		if (!v)
			return -1;
		H.v = v;
		H.cap = ncap;
	}
	memmove(&H.v[i + 1], &H.v[i], (H.n - i) * sizeof(*H.v));
	H.v[i] = *a;
	H.n++;
	return 0;
}

static uint8_t *host_alloc(size_t size)
{
	if (size < MMAP_MIN)
		return calloc(1, size);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void host_free(uint8_t *p, size_t size)
{
	if (size < MMAP_MIN)
		free(p);
	else if (p)
		munmap(p, size);
}

/* An allocation's host memory: its own, or a file mapping (IPC). */
static void release(const struct alloc *a)
{
	if (a->fd1) {
		munmap(a->host, a->size);
		close(a->fd1 - 1);
	} else {
		host_free(a->host, a->size);
	}
}

/* Under the write lock: place a and account for it. */
static CUresult place(struct alloc *a)
{
	uint64_t at;
	size_t i;
	if (H.total - H.used < a->charged)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (!gap_from(H.cursor, a->charged, &at, &i) &&
	    !gap_from(H.lo, a->charged, &at, &i))
		return CUDA_ERROR_OUT_OF_MEMORY; /* address range fragmented */
	a->base = at;
	if (insert(i, a))
		return CUDA_ERROR_OUT_OF_MEMORY;
	H.used += a->charged;
	H.cursor = at + a->charged;
	return CUDA_SUCCESS;
}

CUresult sim_heap_alloc(size_t size, const void *owner, CUdeviceptr *out)
{
	if (size == 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (size > H.total)
		return CUDA_ERROR_OUT_OF_MEMORY;
	struct alloc a = {.size = size, .charged = align_up(size),
			  .owner = owner};
	a.host = host_alloc(size);
	if (!a.host)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_rwlock_wrlock(&H.lock);
	CUresult rc = place(&a);
	pthread_rwlock_unlock(&H.lock);
	if (rc)
		host_free(a.host, size);
	else
		*out = a.base;
	return rc;
}

CUresult sim_heap_free(CUdeviceptr p, const void *owner)
{
	pthread_rwlock_wrlock(&H.lock);
	size_t i = lower(p);
	if (i == H.n || H.v[i].base != p || H.v[i].owner != owner) {
		pthread_rwlock_unlock(&H.lock);
		return CUDA_ERROR_INVALID_VALUE;
	}
	struct alloc a = H.v[i];
	memmove(&H.v[i], &H.v[i + 1], (H.n - i - 1) * sizeof(*H.v));
	H.n--;
	if (!a.foreign)
		H.used -= a.charged;
	pthread_rwlock_unlock(&H.lock);
	release(&a);
	return CUDA_SUCCESS;
}

/* The context's reset: every allocation, mapping and reservation goes
 * (sim_vmm_reset drops the physical allocations behind the mappings). */
void sim_heap_free_all(void)
{
	pthread_rwlock_wrlock(&H.lock);
	struct alloc *v = H.v;
	struct resv *r = H.r;
	size_t n = H.n, nr = H.nr;
	H.v = NULL;
	H.n = H.cap = 0;
	H.r = NULL;
	H.nr = H.rcap = 0;
	H.used = 0;
	pthread_rwlock_unlock(&H.lock);
	for (size_t i = 0; i < n; i++)
		if (!v[i].mapped) /* a mapping's pages go with its shadow */
			release(&v[i]);
	for (size_t i = 0; i < nr; i++)
		munmap(r[i].shadow, r[i].size);
	free(v);
	free(r);
}

void sim_heap_info(size_t *free_bytes, size_t *total)
{
	pthread_rwlock_rdlock(&H.lock);
	*free_bytes = H.total - H.used;
	*total = H.total;
	pthread_rwlock_unlock(&H.lock);
}

void sim_heap_rdlock(void)
{
	pthread_rwlock_rdlock(&H.lock);
}

void sim_heap_unlock(void)
{
	pthread_rwlock_unlock(&H.lock);
}

static bool usable(const struct alloc *a)
{
	return !a->mapped || a->access;
}

/* Whether b continues a in device and host memory: adjacent mappings of
 * one reservation (the shadow makes their host bytes adjacent too). */
static bool joins(const struct alloc *a, const struct alloc *b)
{
	return a->mapped && b->mapped && a->access && b->access &&
	       a->base + a->size == b->base && a->host + a->size == b->host;
}

bool sim_heap_find(CUdeviceptr p, size_t n, struct sim_span *out)
{
	size_t i = lower(p + 1); /* first base > p */
	if (i == 0)
		return false;
	size_t first = i - 1, last = i - 1;
	const struct alloc *a = &H.v[first];
	uint64_t off = p - a->base;
	if (off >= a->size || !usable(a))
		return false;
	while (first > 0 && joins(&H.v[first - 1], &H.v[first]))
		first--;
	while (last + 1 < H.n && joins(&H.v[last], &H.v[last + 1]))
		last++;
	a = &H.v[first];
	uint64_t size = H.v[last].base + H.v[last].size - a->base;
	off = p - a->base;
	if (n > size - off)
		return false;
	out->base = a->base;
	out->size = size;
	out->host = a->host;
	return true;
}

void *sim_heap_map(CUdeviceptr p, size_t n)
{
	struct sim_span s;
	if (!sim_heap_find(p, n ? n : 1, &s))
		return NULL;
	return s.host + (p - s.base);
}

bool sim_heap_is_device_range(const void *h, size_t n)
{
	uint64_t a = (uint64_t)(uintptr_t)h;
	return a < H.vhi && (a >= H.lo || n > H.lo - a);
}

CUresult sim_heap_check(CUdeviceptr p, size_t n)
{
	if (n == 0)
		return CUDA_SUCCESS;
	pthread_rwlock_rdlock(&H.lock);
	bool ok = sim_heap_map(p, n) != NULL;
	pthread_rwlock_unlock(&H.lock);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* ---- VMM: charges, reservations and mappings (for sim_vmm.c) ---------- */

CUresult sim_heap_charge(size_t n)
{
	pthread_rwlock_wrlock(&H.lock);
	bool ok = H.total - H.used >= n;
	if (ok)
		H.used += n;
	pthread_rwlock_unlock(&H.lock);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

void sim_heap_uncharge(size_t n)
{
	pthread_rwlock_wrlock(&H.lock);
	H.used -= n;
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
	size_t i = lower(p);
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
	if (insert(lower(va), &a)) {
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
	size_t i = lower(p), j = i;
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
	size_t i = lower(va + 1);
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
	size_t i = lower(p);
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
		host_free(a->host, a->size);
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
	struct alloc a = {.size = size, .charged = align_up(size), .host = h,
			  .owner = owner, .fd1 = fd + 1, .foreign = true};
	pthread_rwlock_wrlock(&H.lock);
	uint64_t at;
	size_t i;
	CUresult rc = CUDA_ERROR_OUT_OF_MEMORY;
	if ((gap_from(H.cursor, a.charged, &at, &i) ||
	     gap_from(H.lo, a.charged, &at, &i))) {
		a.base = at;
		if (!insert(i, &a)) {
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
