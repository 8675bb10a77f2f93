/* guest/cuda/mem_host.c - host memory the driver knows: cuMemHostAlloc,
 * cuMemAllocHost, cuMemFreeHost, cuMemHostGetDevicePointer,
 * cuMemHostGetFlags (pinned memory from the region's pool), and
 * cuMemHostRegister/Unregister of other guest memory (staged).
 *
 * Pinned memory is this process's channel's slice of the region's pool
 * (ring/region.h: vgpu_pool). The worker registers the slice with the
 * driver when the first block is asked for, so the GPU copies from and to
 * it in place and the async copies are truly asynchronous; blocks are
 * handed out first fit, page aligned, and the slice full is
 * CUDA_ERROR_OUT_OF_MEMORY, as natively when pinned memory runs out.
 *
 * Host pointer == device pointer, as natively with unified addressing:
 * the slice's device address is negotiated to be free in both processes.
 * Opening the slice, the guest reserves candidate ranges in its own
 * address space and offers them (VGPU_CU_POOL_OPEN); the worker maps the
 * slice at the first one free in its process, registers it there and
 * answers it (daemon/worker_alias.h); the guest maps the slice over its
 * reservation at that address (mem_host_alias.h), releases the others and
 * hands out blocks there, so a kernel can dereference a cuMemHostAlloc
 * pointer (NCCL does) and cuMemHostGetDevicePointer returns it unchanged.
 * Where the worker maps none (or is older) it answers its own address and
 * the guest maps there if it can; where that range is taken in this
 * process, blocks stay at the region's own address (logged once, unless
 * VGPU_LOG=quiet): copies, flags and attributes still work,
 * cuMemHostGetDevicePointer gives the other address, and only kernels
 * handed the host pointer fault (docs/memory.md). The guest then reserves
 * the alias range where free.
 *
 * cuMemHostRegister of other guest memory records the range only (the
 * worker cannot map arbitrary guest pages): copies from and to it take the
 * pageable path through the arena, and it has no device pointer
 * (cuMemHostGetDevicePointer: CUDA_ERROR_NOT_SUPPORTED).
 */
#define _GNU_SOURCE
#include "mem_host_alias.h"
#include "mem_space.h"
#include "rpc.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096ull
#define HOSTALLOC_FLAGS (CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | \
			 CU_MEMHOSTALLOC_WRITECOMBINED)
#define REGISTER_FLAGS (CU_MEMHOSTREGISTER_PORTABLE |                      \
			CU_MEMHOSTREGISTER_DEVICEMAP |                     \
			CU_MEMHOSTREGISTER_IOMEMORY |                      \
			CU_MEMHOSTREGISTER_READ_ONLY)

struct block {
	uint64_t off, len; /* len: page-rounded */
};

static struct {
	pthread_mutex_t mu;
	uint64_t conn;       /* the connection the slice belongs to */
	uint8_t *base;       /* this process's slice, as blocks are handed
			      * out: at dev when the alias is mapped */
	uint64_t size, dev;  /* its size and device address */
	uint8_t *alias;      /* our mapping at dev, or NULL */
	uint64_t alias_len;
	struct block *v;     /* sorted by off */
	size_t n, cap;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void child_after_fork(void)
{
	pthread_mutex_init(&P.mu, NULL);
	P.alias = NULL; /* MADV_DONTFORK: the child has no such mapping */
}

static bool quiet(void)
{
	const char *v = getenv("VGPU_LOG");
	return v && !strcmp(v, "quiet");
}

/* Hand blocks out at the device address (P.base = P.dev) where this
 * process can map the slice there: over our own reservation where the
 * worker took one of our candidates (an older worker answers its own
 * address); else say why, once. */
static void map_alias(uint8_t *slice, bool ours)
{
	static bool told;
	const struct vgpu_transport *t = &vgpu_cu.conn.t;
	const char *why = "the region is not mapped here";
	uint64_t off = (uint64_t)(slice - (uint8_t *)t->map);
	if (P.dev == (uint64_t)(uintptr_t)slice)
		return;
	if (t->map && (uint8_t *)t->map <= slice && off <= t->maplen &&
	    P.size <= t->maplen - off)
		P.alias = vgpu_pool_alias_map(t->path, off, P.size, P.dev,
					      ours, &why);
	if (P.alias) {
		P.base = P.alias;
		P.alias_len = P.size;
		return;
	}
	if (!told && !quiet()) {
		char line[320];
		int n = snprintf(line, sizeof(line),
				 "vgpu: pinned memory is not at its device "
				 "address %#llx (%s): kernels given a "
				 "cuMemHostAlloc pointer itself will fault "
				 "(docs/memory.md)\n",
				 (unsigned long long)P.dev, why);
		if (n > 0 && write(2, line, (size_t)n) < 0)
			n = 0;
	}
	told = true;
	/* keep the device alias out of our own allocations, where it is
	 * free (best effort: the guest's table decides either way) */
	mmap((void *)(uintptr_t)P.dev, P.size, PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
	     -1, 0);
}

/* Under P.mu: the slice of the current connection, opened once. */
static CUresult open_pool(void)
{
	static bool atfork;
	if (!atfork && !pthread_atfork(NULL, NULL, child_after_fork))
		atfork = true;
	uint64_t c = vgpu_cu_conn_id();
	if (P.conn == c && P.base)
		return CUDA_SUCCESS;
	free(P.v);
	P.v = NULL;
	P.n = P.cap = 0;
	P.base = NULL;
	P.conn = c;
	vgpu_pool_alias_unmap(P.alias, P.alias_len); /* the last connection's */
	P.alias = NULL;
	const struct vgpu_region *reg = &vgpu_cu.conn.t.r;
	struct vgpu_cu_args a = {{0}};
	uint64_t *cand = &a.a[1];
	unsigned nc = vgpu_pool_alias_reserve(reg->g.pool_per_chan, cand,
					      VGPU_ALIAS_CANDS);
	uint64_t sent[VGPU_ALIAS_CANDS];
	memcpy(sent, cand, nc * sizeof(*cand));
	a.a[0] = nc;
	CUresult r = vgpu_cu_rpc(VGPU_CU_POOL_OPEN, &a, true, "cuMemHostAlloc");
	bool ok = !r && a.a[1] && a.a[1] == reg->g.pool_per_chan, ours = false;
	for (unsigned i = 0; ok && i < nc; i++)
		ours |= a.a[0] == sent[i];
	vgpu_pool_alias_release(sent, nc, reg->g.pool_per_chan,
				ours ? a.a[0] : 0);
	if (r)
		return r;
	if (!ok)
		return CUDA_ERROR_OUT_OF_MEMORY;
	P.base = vgpu_pool(reg, vgpu_cu.conn.ch.idx);
	P.size = a.a[1];
	P.dev = a.a[0];
	map_alias(P.base, ours);
	return CUDA_SUCCESS;
}

static bool grow(void)
{
	if (P.n < P.cap)
		return true;
	size_t c = P.cap ? 2 * P.cap : 64;
	struct block *v = realloc(P.v, c * sizeof(*v));
	if (!v)
		return false;
	P.v = v;
	P.cap = c;
	return true;
}

/* First fit; the index a block of len at *off goes to. */
static bool fit(uint64_t len, uint64_t *off, size_t *at)
{
	uint64_t o = 0;
	for (size_t i = 0; i <= P.n; i++) {
		uint64_t end = i < P.n ? P.v[i].off : P.size;
		if (end - o >= len) {
			*off = o;
			*at = i;
			return true;
		}
		if (i < P.n)
			o = P.v[i].off + P.v[i].len;
	}
	return false;
}

static CUresult pool_alloc(void **pp, size_t size, unsigned flags)
{
	uint64_t len, off;
	size_t at;
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!pp || !size || (flags & ~HOSTALLOC_FLAGS))
		return CUDA_ERROR_INVALID_VALUE;
	if (__builtin_add_overflow((uint64_t)size, PAGE - 1, &len))
		return CUDA_ERROR_OUT_OF_MEMORY;
	len &= ~(PAGE - 1);
	pthread_mutex_lock(&P.mu);
	r = open_pool();
	if (!r && (!grow() || !fit(len, &off, &at)))
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (!r) {
		/* unified addressing: the driver maps every pinned block */
		struct vgpu_space e = {.base = (uint64_t)(uintptr_t)(P.base + off),
				       .size = size, .dev = P.dev + off,
				       .pool_off = off, .kind = VGPU_SPACE_PINNED,
				       .flags = flags | CU_MEMHOSTALLOC_DEVICEMAP};
		r = vgpu_space_add(&e);
	}
	if (!r) {
		memmove(&P.v[at + 1], &P.v[at], (P.n - at) * sizeof(*P.v));
		P.v[at] = (struct block){off, len};
		P.n++;
		*pp = P.base + off;
	}
	pthread_mutex_unlock(&P.mu);
	return r;
}

VGPU_EXPORT CUresult cuMemHostAlloc(void **pp, size_t size, unsigned flags)
{
	return pool_alloc(pp, size, flags);
}

VGPU_EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t size)
{
	return pool_alloc(pp, size, 0);
}

VGPU_EXPORT CUresult cuMemFreeHost(void *p)
{
	struct vgpu_space e;
	CUresult r = vgpu_cu_ready();
	if (r || !p) /* free(NULL) semantics, as the driver (measured) */
		return r;
	if (!vgpu_space_find((uint64_t)(uintptr_t)p, 1, &e) ||
	    e.kind != VGPU_SPACE_PINNED || e.base != (uint64_t)(uintptr_t)p)
		return CUDA_ERROR_INVALID_VALUE;
	/* as natively, freeing pinned memory waits for the device: a copy
	 * in flight must not land in a block handed out again */
	r = cuCtxSynchronize();
	pthread_mutex_lock(&P.mu);
	if (vgpu_space_take(e.base, VGPU_SPACE_PINNED, &e))
		for (size_t i = 0; i < P.n; i++)
			if (P.v[i].off == e.pool_off) {
				memmove(&P.v[i], &P.v[i + 1],
					(P.n - i - 1) * sizeof(*P.v));
				P.n--;
				break;
			}
	pthread_mutex_unlock(&P.mu);
	return r;
}

/* Under P.mu: the slice of the current connection, if open. */
static struct vgpu_pool_view view(void)
{
	if (!P.base || P.conn != vgpu_cu_conn_id())
		return (struct vgpu_pool_view){0};
	return (struct vgpu_pool_view){(uint64_t)(uintptr_t)P.base, P.size,
				       P.dev};
}

bool vgpu_pool_range(const void *p, size_t n, uint64_t *off)
{
	pthread_mutex_lock(&P.mu);
	struct vgpu_pool_view v = view();
	pthread_mutex_unlock(&P.mu);
	return vgpu_pool_view_off(&v, (uint64_t)(uintptr_t)p, n, off);
}

bool vgpu_pool_alias(uint64_t dev, size_t n, void **host)
{
	uint64_t h;
	pthread_mutex_lock(&P.mu);
	struct vgpu_pool_view v = view();
	pthread_mutex_unlock(&P.mu);
	if (!vgpu_pool_view_host(&v, dev, n, &h))
		return false;
	*host = (void *)(uintptr_t)h;
	return true;
}

/* A "device" side that is pinned memory named by its device alias: the
 * bytes are ours, copied here once the stream's earlier work is done. */
CUresult vgpu_pool_host_copy(void *dst, const void *src, size_t n,
			     uint64_t stream)
{
	CUstream s = (CUstream)(uintptr_t)(stream == VGPU_CU_NO_STREAM ? 0
								    : stream);
	CUresult r = cuStreamSynchronize(s);
	if (!r)
		memmove(dst, src, n);
	return r;
}

CUresult vgpu_pool_copy(CUdeviceptr dev, uint64_t off, size_t n,
			uint64_t stream, bool htod, bool async)
{
	struct vgpu_cu_poolcopy q = {.dev = dev, .off = off, .len = n,
				     .stream = stream, .htod = htod};
	return vgpu_cu_call(VGPU_CU_POOL_COPY, &q, sizeof(q), NULL, 0, !async,
			    htod ? "cuMemcpyHtoD(pinned)" : "cuMemcpyDtoH(pinned)");
}

VGPU_EXPORT CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *pd, void *p,
						  unsigned flags)
{
	struct vgpu_space e;
	uint64_t a = (uint64_t)(uintptr_t)p;
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!pd || flags || !vgpu_space_find(a, 1, &e) ||
	    e.kind == VGPU_SPACE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	if (e.kind == VGPU_SPACE_REGISTERED)
		return CUDA_ERROR_NOT_SUPPORTED; /* staged: no device mapping */
	*pd = e.dev + (a - e.base);
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuMemHostGetFlags(unsigned *pf, void *p)
{
	struct vgpu_space e;
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!pf || !vgpu_space_find((uint64_t)(uintptr_t)p, 1, &e) ||
	    e.kind == VGPU_SPACE_DEVICE)
		return CUDA_ERROR_INVALID_VALUE;
	*pf = e.flags;
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuMemHostRegister_v2(void *p, size_t n, unsigned flags)
{
	struct vgpu_space e;
	uint64_t a = (uint64_t)(uintptr_t)p, end;
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!p || !n || (flags & ~REGISTER_FLAGS) ||
	    __builtin_add_overflow(a, (uint64_t)n, &end))
		return CUDA_ERROR_INVALID_VALUE;
	/* any overlap with memory the driver already knows */
	if (vgpu_space_overlap(a, n, &e))
		return e.kind == VGPU_SPACE_DEVICE
			       ? CUDA_ERROR_INVALID_VALUE
			       : CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
	e = (struct vgpu_space){.base = a, .size = n,
				.kind = VGPU_SPACE_REGISTERED, .flags = flags};
	return vgpu_space_add(&e);
}

VGPU_EXPORT CUresult cuMemHostUnregister(void *p)
{
	struct vgpu_space e;
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!vgpu_space_take((uint64_t)(uintptr_t)p, VGPU_SPACE_REGISTERED, &e))
		return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
	return CUDA_SUCCESS;
}
