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
 * CUDA_ERROR_OUT_OF_MEMORY, as natively when pinned memory runs out. A
 * block's device pointer is the worker's address for it (what the driver
 * gives for registered memory); the guest reserves that alias range too,
 * where its own mappings allow.
 *
 * cuMemHostRegister of other guest memory records the range only (the
 * worker cannot map arbitrary guest pages): copies from and to it take the
 * pageable path through the arena, and it has no device pointer
 * (cuMemHostGetDevicePointer: CUDA_ERROR_NOT_SUPPORTED).
 */
#define _GNU_SOURCE
#include "mem_space.h"
#include "rpc.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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
	uint8_t *base;       /* this process's slice, as mapped here */
	uint64_t size, dev;  /* its size and device address */
	struct block *v;     /* sorted by off */
	size_t n, cap;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void child_after_fork(void)
{
	pthread_mutex_init(&P.mu, NULL);
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
	struct vgpu_cu_args a = {{0}};
	CUresult r = vgpu_cu_rpc(VGPU_CU_POOL_OPEN, &a, true, "cuMemHostAlloc");
	if (r)
		return r;
	const struct vgpu_region *reg = &vgpu_cu.conn.t.r;
	if (a.a[1] != reg->g.pool_per_chan || !a.a[1])
		return CUDA_ERROR_OUT_OF_MEMORY;
	P.base = vgpu_pool(reg, vgpu_cu.conn.ch.idx);
	P.size = a.a[1];
	P.dev = a.a[0];
	/* keep the device alias out of our own allocations, where it is
	 * free (best effort: the guest's table decides either way) */
	if (P.dev != (uint64_t)(uintptr_t)P.base)
		mmap((void *)(uintptr_t)P.dev, P.size, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			     MAP_FIXED_NOREPLACE, -1, 0);
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

bool vgpu_pool_range(const void *p, size_t n, uint64_t *off)
{
	uint64_t a = (uint64_t)(uintptr_t)p, b;
	pthread_mutex_lock(&P.mu);
	b = (uint64_t)(uintptr_t)P.base;
	bool in = P.base && P.conn == vgpu_cu_conn_id() && a >= b &&
		  a - b < P.size && n <= P.size - (a - b);
	if (in)
		*off = a - b;
	pthread_mutex_unlock(&P.mu);
	return in;
}

bool vgpu_pool_alias(uint64_t dev, size_t n, void **host)
{
	pthread_mutex_lock(&P.mu);
	bool in = P.base && P.conn == vgpu_cu_conn_id() && dev >= P.dev &&
		  dev - P.dev < P.size && n <= P.size - (dev - P.dev);
	if (in)
		*host = P.base + (dev - P.dev);
	pthread_mutex_unlock(&P.mu);
	return in;
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
