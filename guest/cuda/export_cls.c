/* guest/cuda/export_cls.c - CONTEXT_LOCAL_STORAGE_INTERFACE_V0301.
 *
 * GUID c693336e-1121-df11-a8c3-68f355d89593, 4 slots and no size slot
 * (slot 0 is a function, slot 3 NULL), as the real driver's. Public notes
 * (ZLUDA dark_api) give:
 *  0 put(CUcontext ctx, void *key, void *value, dtor)  ctx NULL: current
 *  1 delete(CUcontext ctx, void *key)
 *  2 get(void **value, CUcontext ctx, void *key)  absent: INVALID_HANDLE
 * dtor is void (*)(CUcontext, void *key, void *value) and runs when the
 * context goes away: vgpu_cls_destroy(), called at the primary context's
 * last release and at its reset; a put over an existing key replaces the
 * value without running the old destructor, delete drops it silently (the
 * runtime frees its own state before deleting). The runtime keeps its
 * per-context state here, so a context not ours is CUDA_ERROR_INVALID_CONTEXT.
 * Entries are few (one or two per library): a locked array.
 */
#include "export_table.h"
#include "rpc.h"
#include <pthread.h>
#include <stdlib.h>

#define NAME "CONTEXT_LOCAL_STORAGE_INTERFACE_V0301"

typedef void (*cls_dtor)(CUcontext ctx, void *key, void *value);

struct cls_entry {
	CUcontext ctx;
	void *key, *value;
	cls_dtor dtor;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct cls_entry *ents;
static size_t n, cap;

/* A child forked while another thread held mu must not inherit it held;
 * its entries name the parent's context, which the child never has. */
static void child_after_fork(void)
{
	pthread_mutex_init(&mu, NULL);
}

__attribute__((constructor)) static void register_fork_handler(void)
{
	pthread_atfork(NULL, NULL, child_after_fork);
}

/* ctx, or the current context for NULL; it must be one of the process's:
 * any device's primary context (the runtime keeps each device's state
 * under its own, docs/multigpu.md) or one it created. */
static CUresult resolve(CUcontext *ctx)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!*ctx && (r = cuCtxGetCurrent(ctx)))
		return r;
	if (!*ctx)
		return CUDA_ERROR_INVALID_CONTEXT;
	return vgpu_cu_ctx_dev((uint64_t)(uintptr_t)*ctx) >= 0
		       ? CUDA_SUCCESS
		       : CUDA_ERROR_INVALID_CONTEXT;
}

static struct cls_entry *find(CUcontext ctx, void *key)
{
	for (size_t i = 0; i < n; i++)
		if (ents[i].ctx == ctx && ents[i].key == key)
			return &ents[i];
	return NULL;
}

static CUresult cls_put(CUcontext ctx, void *key, void *value, cls_dtor dtor)
{
	CUresult r = resolve(&ctx);
	if (r)
		return r;
	pthread_mutex_lock(&mu);
	struct cls_entry *e = find(ctx, key);
	if (!e && n == cap) {
		size_t c = cap ? cap * 2 : 8;
		struct cls_entry *g = realloc(ents, c * sizeof(*g));
		if (g) {
			ents = g;
			cap = c;
		}
	}
	if (!e && n < cap)
		e = &ents[n++];
	if (e)
		*e = (struct cls_entry){ctx, key, value, dtor};
	pthread_mutex_unlock(&mu);
	return e ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

static CUresult cls_delete(CUcontext ctx, void *key)
{
	CUresult r = resolve(&ctx);
	if (r)
		return r;
	pthread_mutex_lock(&mu);
	struct cls_entry *e = find(ctx, key);
	if (e)
		*e = ents[--n];
	pthread_mutex_unlock(&mu);
	return CUDA_SUCCESS;
}

static CUresult cls_get(void **value, CUcontext ctx, void *key)
{
	CUresult r = resolve(&ctx);
	if (r)
		return r;
	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&mu);
	struct cls_entry *e = find(ctx, key);
	if (e)
		*value = e->value;
	pthread_mutex_unlock(&mu);
	return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* Destructors run without the lock: they may call back into this table. */
void vgpu_cls_destroy(CUcontext ctx)
{
	for (;;) {
		struct cls_entry e = {0};
		pthread_mutex_lock(&mu);
		for (size_t i = 0; i < n; i++)
			if (ents[i].ctx == ctx) {
				e = ents[i];
				ents[i] = ents[--n];
				break;
			}
		pthread_mutex_unlock(&mu);
		if (!e.ctx)
			return;
		if (e.dtor)
			e.dtor(e.ctx, e.key, e.value);
	}
}

static const vgpu_slot slots[4] = {
	VGPU_SLOT(cls_put),
	VGPU_SLOT(cls_delete),
	VGPU_SLOT(cls_get),
	NULL,
};

const struct vgpu_export_table vgpu_export_cls = {
	NAME,
	{0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11, 0xa8, 0xc3, 0x68, 0xf3,
	 0x55, 0xd8, 0x95, 0x93},
	slots, 4,
};
