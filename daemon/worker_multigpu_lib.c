/* daemon/worker_multigpu_lib.c - a library's kernels and globals on every
 * GPU of the VM.
 *
 * Contract: natively a CUlibrary is context-independent: the driver loads
 * it into a context the first time one of its kernels is used there. The
 * guest's library is one module of this worker (guest/cuda/lib_library.c),
 * loaded in the context current at cuLibraryLoadData (its "home" device),
 * and its kernels are that module's function ids. When the worker serves
 * several GPUs, MODULE_COMMIT with VGPU_CU_COMMIT_LIBRARY hands the image
 * here (vw_mlib_keep); then, whenever a function or global of that module
 * is used while the current context is another VM device's primary
 * context, the image is loaded once more in that context and the
 * function's (or global's) counterpart of the same name there is used:
 * vw_function and the global lookups go through vw_mlib_function and
 * vw_mlib_module. Ids stay the home module's: every check of ownership
 * (vw_handle_get, vw_function) has already passed on them; only the real
 * objects differ by device. A context that is not a primary one (from
 * cuCtxCreate) gets the home objects, as before. vw_mlib_forget unloads
 * the per-device copies with the module. One mutex orders it all: loads
 * are rare (once per library and device) and lookups short.
 */
#include "worker.h"
#include <stdlib.h>
#include <string.h>

struct mlib_fn {
	uint64_t id;                     /* the function id (home) */
	CUfunction f[VGPU_CU_MAX_DEVS];  /* by VM device; NULL: not yet */
};

struct mlib {
	uint64_t module; /* the module's id */
	uint8_t *image;  /* NUL-terminated (PTX is text) */
	uint32_t home;   /* the VM device whose primary context it was
			  * loaded in (UINT32_MAX: a created context) */
	CUmodule mod[VGPU_CU_MAX_DEVS]; /* other devices' copies */
	struct mlib_fn *fns;
	uint32_t nfns, cap;
	struct mlib *next;
};

struct vw_mlib {
	pthread_mutex_t mu;
	struct mlib *libs;
};

static pthread_mutex_t make_mu = PTHREAD_MUTEX_INITIALIZER;

static struct vw_mlib *tables(struct vworker *W)
{
	return __atomic_load_n(&W->mlib, __ATOMIC_ACQUIRE);
}

static int primary_dev(struct vworker *W);

void vw_mlib_keep(struct vworker *W, uint64_t module, uint8_t *image)
{
	int home = primary_dev(W);
	struct mlib *l = calloc(1, sizeof(*l));
	pthread_mutex_lock(&make_mu);
	struct vw_mlib *t = tables(W);
	if (!t && (t = calloc(1, sizeof(*t)))) {
		pthread_mutex_init(&t->mu, NULL);
		__atomic_store_n(&W->mlib, t, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&make_mu);
	if (!l || !t) { /* the home module still works */
		free(l);
		free(image);
		return;
	}
	/* loaded in a created context: every primary context needs a copy */
	*l = (struct mlib){.module = module, .image = image,
			   .home = home < 0 ? UINT32_MAX : (uint32_t)home};
	pthread_mutex_lock(&t->mu);
	l->next = t->libs;
	t->libs = l;
	pthread_mutex_unlock(&t->mu);
}

static struct mlib *lib_of(struct vw_mlib *t, uint64_t module)
{
	struct mlib *l = t->libs;
	while (l && l->module != module)
		l = l->next;
	return l;
}

/* The VM device whose primary context is current on this executor, or
 * -1 (a context cuCtxCreate made). The executor's tag says which context
 * that is (worker_ctx.c); 0: the one it started with, W->ctx. */
static int primary_dev(struct vworker *W)
{
	uint64_t tag = vw_ctx_tagged();
	for (uint32_t v = 0; v < W->ndev; v++)
		if (tag ? tag == __atomic_load_n(&W->pctx_id[v], __ATOMIC_ACQUIRE)
			: __atomic_load_n(&W->pctx[v], __ATOMIC_ACQUIRE) == W->ctx)
			return (int)v;
	return -1;
}

/* l's module on device v (current), loaded on first use. Under t->mu. */
static CUresult module_on(struct vworker *W, struct mlib *l, uint32_t v,
			  CUmodule *mod)
{
	CUresult r = CUDA_SUCCESS;
	if (!l->mod[v])
		r = W->drv.cuModuleLoadData(&l->mod[v], l->image);
	*mod = l->mod[v];
	return r;
}

CUresult vw_mlib_module(struct vworker *W, uint64_t module, CUmodule *mod)
{
	struct vw_mlib *t = tables(W);
	int v = t ? primary_dev(W) : -1;
	if (v < 0)
		return CUDA_SUCCESS;
	pthread_mutex_lock(&t->mu);
	struct mlib *l = lib_of(t, module);
	CUresult r = l && (uint32_t)v != l->home
			     ? module_on(W, l, (uint32_t)v, mod)
			     : CUDA_SUCCESS;
	pthread_mutex_unlock(&t->mu);
	return r;
}

static struct mlib_fn *fn_entry(struct mlib *l, uint64_t id)
{
	for (uint32_t i = 0; i < l->nfns; i++)
		if (l->fns[i].id == id)
			return &l->fns[i];
	if (l->nfns == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 16;
		struct mlib_fn *n = realloc(l->fns, cap * sizeof(*n));
		if (!n)
			return NULL;
		l->fns = n;
		l->cap = cap;
	}
	l->fns[l->nfns] = (struct mlib_fn){.id = id};
	return &l->fns[l->nfns++];
}

/* f (home) -> its namesake in l's module on device v. Under t->mu. */
static CUresult function_on(struct vworker *W, struct mlib *l, uint32_t v,
			    uint64_t id, CUfunction *f)
{
	struct mlib_fn *e = fn_entry(l, id);
	const char *name = NULL;
	CUmodule mod;
	CUresult r = e ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
	if (!r && !e->f[v] && !(r = module_on(W, l, v, &mod)) &&
	    !(r = W->drv.cuFuncGetName(&name, *f)))
		r = W->drv.cuModuleGetFunction(&e->f[v], mod, name);
	if (!r)
		*f = e->f[v];
	return r;
}

CUresult vw_mlib_function(struct vworker *W, uint64_t id, uint64_t module,
			  CUfunction *f)
{
	struct vw_mlib *t = tables(W);
	int v = t ? primary_dev(W) : -1;
	if (v < 0)
		return CUDA_SUCCESS;
	pthread_mutex_lock(&t->mu);
	struct mlib *l = lib_of(t, module);
	CUresult r = l && (uint32_t)v != l->home
			     ? function_on(W, l, (uint32_t)v, id, f)
			     : CUDA_SUCCESS;
	pthread_mutex_unlock(&t->mu);
	return r;
}

uint64_t vw_mlib_fn_id(struct vworker *W, CUfunction f)
{
	struct vw_mlib *t = tables(W);
	uint64_t id = 0;
	if (!t || !f)
		return 0;
	pthread_mutex_lock(&t->mu);
	for (struct mlib *l = t->libs; l && !id; l = l->next)
		for (uint32_t i = 0; i < l->nfns && !id; i++)
			for (uint32_t v = 0; v < VGPU_CU_MAX_DEVS; v++)
				if (l->fns[i].f[v] == f)
					id = l->fns[i].id;
	pthread_mutex_unlock(&t->mu);
	return id;
}

void vw_mlib_forget(struct vworker *W, uint64_t module)
{
	struct vw_mlib *t = tables(W);
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	struct mlib **p = &t->libs;
	while (*p && (*p)->module != module)
		p = &(*p)->next;
	struct mlib *l = *p;
	if (l)
		*p = l->next;
	pthread_mutex_unlock(&t->mu);
	if (!l)
		return;
	for (uint32_t v = 0; v < VGPU_CU_MAX_DEVS; v++)
		if (l->mod[v]) /* the driver unloads in the module's context */
			W->drv.cuModuleUnload(l->mod[v]);
	free(l->fns);
	free(l->image);
	free(l);
}

uint32_t vw_mlib_count(struct vworker *W, uint64_t module)
{
	struct vw_mlib *t = tables(W);
	uint32_t n = 0;
	if (!t)
		return 0;
	pthread_mutex_lock(&t->mu);
	struct mlib *l = lib_of(t, module);
	for (uint32_t v = 0; l && v < VGPU_CU_MAX_DEVS; v++)
		n += l->mod[v] != NULL;
	pthread_mutex_unlock(&t->mu);
	return n;
}
