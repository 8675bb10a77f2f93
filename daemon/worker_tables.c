/* daemon/worker_tables.c - the worker's handles and allocations: every id
 * and device pointer in a request is checked here before the driver sees
 * it. Callers hold no lock; each function takes W->mu. */
#include "worker.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SALT_SHIFT 32
#define INDEX_MASK ((1ull << SALT_SHIFT) - 1)

static int kind_of(uint64_t id)
{
	return (int)(id >> VGPU_CU_HKIND_SHIFT);
}

/* This worker's pid, to sit between kind and index. Every worker numbered
 * its table alike, so by position alone an id another guest process
 * published, or one its parent held before fork(), named the holder's own
 * object of that kind: destroying "their" stream destroyed ours. Workers
 * alive at once have distinct pids, below 2^22 (PID_MAX_LIMIT), so those
 * ids now fail as INVALID_HANDLE (tests/gpu/hostile.c, forkinit.c). */
static uint64_t salt;
static pthread_once_t salt_once = PTHREAD_ONCE_INIT;

static void salt_init(void)
{
	salt = ((uint64_t)getpid() & 0xffffff) << SALT_SHIFT;
}

static uint64_t id_salt(void)
{
	pthread_once(&salt_once, salt_init);
	return salt;
}

/* Ids are (kind << 56) | (salt << 32) | index+1: O(1) lookup, and an id of
 * one kind can never pass as another. */
static struct vw_handle *find(struct vworker *W, int kind, uint64_t id)
{
	uint64_t idx = (id & INDEX_MASK) - 1; /* the full id is compared below */
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
	id = ((uint64_t)kind << VGPU_CU_HKIND_SHIFT) | id_salt() | (i + 1);
	W->handles[i] = (struct vw_handle){.id = id, .real = real,
					   .ctx = vw_ctx_tagged()};
out:
	pthread_mutex_unlock(&W->mu);
	return id;
}

static void forget_handle(struct vw_handle *h)
{
	free(h->fn);
	memset(h, 0, sizeof(*h));
}

/* An unloaded module's functions and globals are gone in the driver: kept,
 * their ids would hand it dangling CUfunctions and their ranges would
 * pass copies into freed device memory (fuzz_worker finding 2). */
static void forget_module(struct vworker *W, uint64_t module)
{
	/* owned handles may own others (a capture's graph, its nodes) */
	for (uint32_t i = 0; i < W->nhandles; i++)
		if (W->handles[i].id && W->handles[i].module == module) {
			uint64_t id = W->handles[i].id;
			forget_handle(&W->handles[i]);
			forget_module(W, id);
		}
	for (uint32_t i = 0; i < W->nallocs;)
		if (W->allocs[i].global && W->allocs[i].module == module)
			W->allocs[i] = W->allocs[--W->nallocs];
		else
			i++;
}

void vw_handle_del(struct vworker *W, int kind, uint64_t id)
{
	pthread_mutex_lock(&W->mu);
	struct vw_handle *h = find(W, kind, id);
	bool exec = h && kind == VGPU_HK_GRAPH_EXEC;
	if (h) {
		forget_handle(h);
		/* what a module, graph or stream owns goes with it: functions
		 * and globals, nodes, a graph under capture */
		if (kind == VGPU_HK_MODULE || kind == VGPU_HK_GRAPH ||
		    kind == VGPU_HK_STREAM)
			forget_module(W, id);
	}
	pthread_mutex_unlock(&W->mu);
	if (exec) /* the host ranges it read (worker_graph_host.c) */
		vw_graph_host_exec_gone(W, id);
	if (h && kind == VGPU_HK_MODULE) /* a library's other GPUs' copies */
		vw_mlib_forget(W, id);
}

/* Objects the driver names again (graph nodes, a capture's graph): the
 * id already issued for real, so a program sees one handle per object;
 * else a new one owned by owner (0: none; a handle: it must still be
 * ours, or a destroy racing from another executor would leave this one
 * behind; no kind: a tag the caller sweeps itself). */
uint64_t vw_handle_intern(struct vworker *W, int kind, void *real,
			  uint64_t owner)
{
	uint64_t id = vw_handle_id_of(W, kind, real);
	if (id)
		return id;
	id = vw_handle_new(W, kind, real);
	pthread_mutex_lock(&W->mu);
	struct vw_handle *h = find(W, kind, id);
	if (h && (!kind_of(owner) || find(W, kind_of(owner), owner))) {
		h->module = owner;
	} else {
		if (h)
			memset(h, 0, sizeof(*h));
		id = 0;
	}
	pthread_mutex_unlock(&W->mu);
	return id;
}

uint64_t vw_handle_id_of(struct vworker *W, int kind, const void *real)
{
	uint64_t id = 0;
	pthread_mutex_lock(&W->mu);
	for (uint32_t i = 0; i < W->nhandles && !id; i++)
		if (W->handles[i].id && kind_of(W->handles[i].id) == kind &&
		    W->handles[i].real == real)
			id = W->handles[i].id;
	pthread_mutex_unlock(&W->mu);
	return id;
}

CUresult vw_handle_ctx(struct vworker *W, int kind, uint64_t id,
		       uint64_t *ctx)
{
	pthread_mutex_lock(&W->mu);
	struct vw_handle *h = find(W, kind, id);
	if (h)
		*ctx = h->ctx;
	pthread_mutex_unlock(&W->mu);
	return h ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

uint64_t vw_handle_owner(struct vworker *W, int kind, uint64_t id)
{
	pthread_mutex_lock(&W->mu);
	struct vw_handle *h = find(W, kind, id);
	uint64_t owner = h ? h->module : 0;
	pthread_mutex_unlock(&W->mu);
	return owner;
}

void vw_handle_set_owner(struct vworker *W, int kind, uint64_t id,
			 uint64_t owner)
{
	pthread_mutex_lock(&W->mu);
	struct vw_handle *h = find(W, kind, id);
	if (h)
		h->module = owner;
	pthread_mutex_unlock(&W->mu);
}

void vw_handle_forget_owned(struct vworker *W, uint64_t owner)
{
	pthread_mutex_lock(&W->mu);
	forget_module(W, owner);
	pthread_mutex_unlock(&W->mu);
}

/* The layout and module are set under the lock, and only while the
 * module is still ours: an unload racing from another executor either
 * sweeps the new function or has made this fail. */
uint64_t vw_function_new(struct vworker *W, CUfunction f,
			 struct vgpu_cu_fninfo *fi, uint64_t module)
{
	uint64_t id = vw_handle_new(W, VGPU_HK_FUNCTION, f);
	pthread_mutex_lock(&W->mu);
	struct vw_handle *h = find(W, VGPU_HK_FUNCTION, id);
	if (h && find(W, VGPU_HK_MODULE, module)) {
		h->fn = fi;
		h->module = module;
	} else {
		if (h)
			memset(h, 0, sizeof(*h));
		id = 0;
	}
	pthread_mutex_unlock(&W->mu);
	return id;
}

/* Copies, under the lock: once it is released, another executor may grow
 * the table (moving the entry) or unload the module (freeing the layout). */
CUresult vw_function(struct vworker *W, uint64_t id, CUfunction *f,
		     struct vgpu_cu_fninfo *fi)
{
	uint64_t module = 0;
	pthread_mutex_lock(&W->mu);
	struct vw_handle *h = find(W, VGPU_HK_FUNCTION, id);
	bool ok = h && h->fn;
	if (ok) {
		*f = h->real;
		*fi = *h->fn;
		module = h->module;
	}
	pthread_mutex_unlock(&W->mu);
	/* a library's kernel on another GPU: that GPU's function */
	return ok ? vw_mlib_function(W, id, module, f)
		  : CUDA_ERROR_INVALID_HANDLE;
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

/* A range over adjacent VMM mappings: ggml maps a reservation chunk by
 * chunk and places tensors across the seams. */
static bool mapped_run(struct vworker *W, CUdeviceptr p, uint64_t len)
{
	for (;;) {
		struct vw_alloc *a = NULL;
		for (uint32_t i = 0; i < W->nallocs && !a; i++)
			if (W->allocs[i].mapped && p >= W->allocs[i].base &&
			    p - W->allocs[i].base < W->allocs[i].len)
				a = &W->allocs[i];
		if (!a)
			return false;
		uint64_t avail = a->len - (p - a->base);
		if (len <= avail)
			return true;
		len -= avail;
		p += avail;
	}
}

CUresult vw_range(struct vworker *W, CUdeviceptr p, uint64_t len)
{
	pthread_mutex_lock(&W->mu);
	bool ok = containing(W, p, len) || mapped_run(W, p, len);
	pthread_mutex_unlock(&W->mu);
	return ok ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

static CUresult add(struct vworker *W, CUdeviceptr p, uint64_t len,
		    bool global, uint64_t module, bool mapped)
{
	CUresult r = CUDA_SUCCESS;
	uint32_t dev = vw_cur_dev(W); /* the GPU it was charged to */
	pthread_mutex_lock(&W->mu);
	/* a global of a module unloaded meanwhile would never be swept */
	if (global && !find(W, VGPU_HK_MODULE, module)) {
		r = CUDA_ERROR_INVALID_HANDLE;
		goto out;
	}
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
	W->allocs[W->nallocs++] = (struct vw_alloc){p, len, global, module,
						    mapped, vw_ctx_tagged(), dev};
out:
	pthread_mutex_unlock(&W->mu);
	return r;
}

CUresult vw_alloc_add(struct vworker *W, CUdeviceptr p, uint64_t len)
{
	return add(W, p, len, false, 0, false);
}

CUresult vw_alloc_mapped(struct vworker *W, CUdeviceptr p, uint64_t len)
{
	return add(W, p, len, false, 0, true);
}

void vw_alloc_unmapped(struct vworker *W, CUdeviceptr p)
{
	pthread_mutex_lock(&W->mu);
	for (uint32_t i = 0; i < W->nallocs; i++)
		if (W->allocs[i].mapped && W->allocs[i].base == p) {
			W->allocs[i] = W->allocs[--W->nallocs];
			break;
		}
	pthread_mutex_unlock(&W->mu);
}

CUresult vw_alloc_global(struct vworker *W, CUdeviceptr p, uint64_t len,
			 uint64_t module)
{
	return add(W, p, len, true, module, false);
}

static struct vw_alloc *exact(struct vworker *W, CUdeviceptr p)
{
	for (uint32_t i = 0; i < W->nallocs; i++)
		if (W->allocs[i].base == p && !W->allocs[i].global &&
		    !W->allocs[i].mapped)
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

/* The quota is given back once the range is forgotten: charged memory
 * (vw_mem_charge) is never reused before the table lets go of it. */
void vw_alloc_del(struct vworker *W, CUdeviceptr p)
{
	uint64_t len = 0;
	uint32_t dev = 0;
	pthread_mutex_lock(&W->mu);
	struct vw_alloc *a = exact(W, p);
	if (a) {
		len = a->len;
		dev = a->dev;
		*a = W->allocs[--W->nallocs];
	}
	pthread_mutex_unlock(&W->mu);
	if (len)
		vw_mem_uncharge_dev(W, dev, len);
}

/* A destroyed context's objects are gone in the driver: kept, their ids
 * would hand it stale pointers. Graph executables also drop the host
 * ranges they read. */
void vw_ctx_sweep(struct vworker *W, uint64_t ctx)
{
	uint64_t per_dev[VGPU_CU_MAX_DEVS] = {0}, n = 0, *execs = NULL;
	pthread_mutex_lock(&W->mu);
	for (uint32_t i = 0; i < W->nhandles; i++)
		if (W->handles[i].id && W->handles[i].ctx == ctx &&
		    kind_of(W->handles[i].id) == VGPU_HK_GRAPH_EXEC)
			n++;
	execs = n ? calloc(n, sizeof(*execs)) : NULL;
	n = 0;
	for (uint32_t i = 0; i < W->nhandles; i++) {
		struct vw_handle *h = &W->handles[i];
		if (!h->id || h->ctx != ctx)
			continue;
		uint64_t id = h->id;
		if (execs && kind_of(id) == VGPU_HK_GRAPH_EXEC)
			execs[n++] = id;
		forget_handle(h);
		forget_module(W, id);
	}
	for (uint32_t i = 0; i < W->nallocs;) {
		struct vw_alloc *a = &W->allocs[i];
		/* VMM mappings belong to the device, not a context */
		if (a->ctx != ctx || a->mapped) {
			i++;
			continue;
		}
		if (!a->global)
			per_dev[a->dev % VGPU_CU_MAX_DEVS] += a->len;
		*a = W->allocs[--W->nallocs];
	}
	pthread_mutex_unlock(&W->mu);
	for (uint64_t i = 0; i < n; i++)
		vw_graph_host_exec_gone(W, execs[i]);
	free(execs);
	for (uint32_t d = 0; d < VGPU_CU_MAX_DEVS; d++)
		if (per_dev[d])
			vw_mem_uncharge_dev(W, d, per_dev[d]);
}
