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
 * mappings of one allocation share its bytes. That part, and the files
 * IPC shares allocations through, is sim_heap_vmm.c.
 */
#define _GNU_SOURCE
#include "sim_heap_impl.h"
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

struct sim_heap sim_heap = {.lock = PTHREAD_RWLOCK_INITIALIZER};

uint64_t sim_heap_align(uint64_t x)
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
size_t sim_heap_lower(uint64_t x)
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
bool sim_heap_gap(uint64_t from, uint64_t len, uint64_t *at, size_t *idx)
{
	size_t i = sim_heap_lower(from);
	uint64_t a = from;
	if (i > 0 && H.v[i - 1].base + H.v[i - 1].charged > a)
		a = H.v[i - 1].base + H.v[i - 1].charged;
	for (;; i++) {
		a = sim_heap_align(a);
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

int sim_heap_insert(size_t i, const struct alloc *a)
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

void sim_heap_host_free(uint8_t *p, size_t size)
{
	if (size < MMAP_MIN)
		free(p);
	else if (p)
		munmap(p, size);
}

/* An allocation's host memory: its own, or a file mapping (IPC). */
void sim_heap_release(const struct alloc *a)
{
	if (a->fd1) {
		munmap(a->host, a->size);
		close(a->fd1 - 1);
	} else {
		sim_heap_host_free(a->host, a->size);
	}
}

/* Under the write lock: place a and account for it. */
static CUresult place(struct alloc *a)
{
	uint64_t at;
	size_t i;
	if (H.total - H.used < a->charged ||
	    sim_cfg.total_mem - H.dev_used[a->dev] < a->charged)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (!sim_heap_gap(H.cursor, a->charged, &at, &i) &&
	    !sim_heap_gap(H.lo, a->charged, &at, &i))
		return CUDA_ERROR_OUT_OF_MEMORY; /* address range fragmented */
	a->base = at;
	if (sim_heap_insert(i, a))
		return CUDA_ERROR_OUT_OF_MEMORY;
	H.used += a->charged;
	H.dev_used[a->dev] += a->charged;
	H.cursor = at + a->charged;
	return CUDA_SUCCESS;
}

CUresult sim_heap_alloc(size_t size, const void *owner, CUdeviceptr *out)
{
	if (size == 0)
		return CUDA_ERROR_INVALID_VALUE;
	if (size > sim_cfg.total_mem)
		return CUDA_ERROR_OUT_OF_MEMORY;
	struct alloc a = {.size = size, .charged = sim_heap_align(size),
			  .owner = owner, .ctx = sim_ctx_tag(),
			  .dev = sim_cur_dev()};
	a.host = host_alloc(size);
	if (!a.host)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_rwlock_wrlock(&H.lock);
	CUresult rc = place(&a);
	pthread_rwlock_unlock(&H.lock);
	if (rc)
		sim_heap_host_free(a.host, size);
	else
		*out = a.base;
	return rc;
}

CUresult sim_heap_free(CUdeviceptr p, const void *owner)
{
	pthread_rwlock_wrlock(&H.lock);
	size_t i = sim_heap_lower(p);
	if (i == H.n || H.v[i].base != p || H.v[i].owner != owner) {
		pthread_rwlock_unlock(&H.lock);
		return CUDA_ERROR_INVALID_VALUE;
	}
	struct alloc a = H.v[i];
	memmove(&H.v[i], &H.v[i + 1], (H.n - i - 1) * sizeof(*H.v));
	H.n--;
	if (!a.foreign) {
		H.used -= a.charged;
		H.dev_used[a.dev] -= a.charged;
	}
	pthread_rwlock_unlock(&H.lock);
	sim_heap_release(&a);
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
	memset(H.dev_used, 0, sizeof(H.dev_used));
	pthread_rwlock_unlock(&H.lock);
	for (size_t i = 0; i < n; i++)
		if (!v[i].mapped) /* a mapping's pages go with its shadow */
			sim_heap_release(&v[i]);
	for (size_t i = 0; i < nr; i++)
		munmap(r[i].shadow, r[i].size);
	free(v);
	free(r);
}

/* A destroyed context's allocations (not VMM mappings: the device's). */
void sim_heap_free_ctx(const void *ctx)
{
	for (;;) {
		struct alloc a = {0};
		pthread_rwlock_wrlock(&H.lock);
		for (size_t i = 0; i < H.n; i++)
			if (H.v[i].ctx == ctx && !H.v[i].mapped &&
			    !H.v[i].foreign) {
				a = H.v[i];
				memmove(&H.v[i], &H.v[i + 1],
					(H.n - i - 1) * sizeof(*H.v));
				H.n--;
				H.used -= a.charged;
				H.dev_used[a.dev] -= a.charged;
				break;
			}
		pthread_rwlock_unlock(&H.lock);
		if (!a.host)
			return;
		sim_heap_release(&a);
	}
}

void sim_heap_info(size_t *free_bytes, size_t *total)
{
	pthread_rwlock_rdlock(&H.lock);
	/* the current device's: each has its own memory */
	int d = sim_cur_dev();
	*free_bytes = sim_cfg.total_mem - H.dev_used[d];
	*total = sim_cfg.total_mem;
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
	size_t i = sim_heap_lower(p + 1); /* first base > p */
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

int sim_heap_dev_of(CUdeviceptr p)
{
	pthread_rwlock_rdlock(&H.lock);
	size_t i = sim_heap_lower(p + 1);
	int d = i && p - H.v[i - 1].base < H.v[i - 1].size ? H.v[i - 1].dev
							    : -1;
	pthread_rwlock_unlock(&H.lock);
	return d;
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

