/* daemon/sim/sim_module.c - the module and function API.
 *
 * Contract: cuModuleLoadData parses the image (sim_image.c), allocates each
 * global in device memory (counted by cuMemGetInfo), copies in its data
 * (zero otherwise), and creates one function handle per kernel, bound to
 * the C implementation of the same name and parameter sizes if there is
 * one (sim_kernels.c). A kernel without one loads and answers param-info
 * and attribute queries; only launching it fails. cuModuleUnload makes the
 * module's and its functions' handles invalid at once; launches still
 * queued keep the module (and its globals) alive until they have run.
 * cuFuncGetAttribute answers what an H100 would for such a kernel:
 * registers from the cubin (32 for PTX, which the sim does not compile),
 * static shared memory from the cubin, no local or constant memory.
 */
#include "sim.h"
#include <stdlib.h>
#include <string.h>

struct sim_global {
	char *name;
	CUdeviceptr p;
	uint64_t size;
};

struct sim_module {
	struct sim_obj obj;
	struct sim_func **f;
	size_t nf;
	struct sim_global *g;
	size_t ng;
	int dev; /* the device of the context it was loaded in */
};

int sim_module_dev(const struct sim_module *m)
{
	return m->dev;
}

/* Globals are freed by owner, so after a context reset (which freed all
 * device memory) a reused address is not freed twice. */
static void module_destroy(struct sim_obj *o)
{
	struct sim_module *m = (struct sim_module *)o;
	for (size_t i = 0; i < m->ng; i++) {
		sim_heap_free(m->g[i].p, m);
		free(m->g[i].name);
	}
	free(m->g);
	free(m->f);
	free(m);
}

static void func_destroy(struct sim_obj *o)
{
	struct sim_func *f = (struct sim_func *)o;
	sim_obj_put(&f->mod->obj);
	free(f->d.name);
	free(f->d.params);
	free(f);
}

CUdeviceptr sim_module_global(struct sim_module *m, const char *name,
			      uint64_t size)
{
	for (size_t i = 0; i < m->ng; i++)
		if (!strcmp(m->g[i].name, name) && m->g[i].size == size)
			return m->g[i].p;
	return 0;
}

static CUresult add_global(struct sim_module *m, struct sim_gdesc *d)
{
	struct sim_global *g = &m->g[m->ng];
	CUresult rc = sim_heap_alloc(d->size, m, &g->p);
	if (rc)
		return rc;
	if (d->init) {
		sim_heap_rdlock();
		uint8_t *h = sim_heap_map(g->p, d->size);
		if (h)
			memcpy(h, d->init, d->init_len);
		sim_heap_unlock();
	}
	g->size = d->size;
	g->name = d->name;
	d->name = NULL;
	m->ng++;
	return CUDA_SUCCESS;
}

/* A function for kernel d (taken over from the image). */
static CUresult add_func(struct sim_module *m, struct sim_kdesc *d, int binver,
			 int ptxver)
{
	struct sim_func *f = calloc(1, sizeof(*f));
	if (!f)
		return CUDA_ERROR_OUT_OF_MEMORY;
	sim_obj_init(&f->obj, SIM_FUNC, func_destroy);
	sim_obj_ref(&m->obj);
	f->mod = m;
	f->d = *d;
	memset(d, 0, sizeof(*d));
	f->binary_version = binver;
	f->ptx_version = ptxver;
	m->f[m->nf++] = f;
	return CUDA_SUCCESS;
}

/* Bind C kernels once the globals they use exist. */
static void bind(struct sim_module *m)
{
	for (size_t i = 0; i < m->nf; i++) {
		const struct sim_kimpl *k = sim_kernel_find(&m->f[i]->d);
		if (k && k->global && !sim_module_global(m, k->global, k->global_size))
			k = NULL;
		m->f[i]->impl = k;
	}
}

static CUresult build(struct sim_module *m, struct sim_image *im)
{
	m->g = calloc(im->ng + 1, sizeof(*m->g));
	m->f = calloc(im->nk + 1, sizeof(*m->f));
	if (!m->g || !m->f)
		return CUDA_ERROR_OUT_OF_MEMORY;
	for (size_t i = 0; i < im->ng; i++) {
		CUresult rc = add_global(m, &im->g[i]);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < im->nk; i++) {
		CUresult rc = add_func(m, &im->k[i], im->binary_version,
				       im->ptx_version);
		if (rc)
			return rc;
	}
	bind(m);
	return CUDA_SUCCESS;
}

static void discard(struct sim_module *m)
{
	for (size_t i = 0; i < m->nf; i++)
		sim_obj_put(&m->f[i]->obj);
	sim_obj_put(&m->obj);
}

/* A module with everything of im, or NULL with *rc set. */
static struct sim_module *create(struct sim_image *im, CUresult *rc)
{
	struct sim_module *m = calloc(1, sizeof(*m));
	if (!m) {
		*rc = CUDA_ERROR_OUT_OF_MEMORY;
		return NULL;
	}
	sim_obj_init(&m->obj, SIM_MODULE, module_destroy);
	m->dev = sim_cur_dev();
	if ((*rc = build(m, im))) {
		discard(m);
		return NULL;
	}
	return m;
}

/* Register the module and its functions: all of them, or none (then
 * everything is released). The registry takes over the references. */
static CUresult publish(struct sim_module *m)
{
	size_t i = 0;
	bool mod = !sim_obj_register(&m->obj);
	while (mod && i < m->nf && !sim_obj_register(&m->f[i]->obj))
		i++;
	if (mod && i == m->nf)
		return CUDA_SUCCESS;
	for (size_t j = 0; j < m->nf; j++)
		if (j < i)
			sim_obj_unregister(&m->f[j]->obj);
		else
			sim_obj_put(&m->f[j]->obj);
	if (mod)
		sim_obj_unregister(&m->obj);
	else
		sim_obj_put(&m->obj);
	return CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult sim_cuModuleLoadData(CUmodule *module, const void *image)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!module || !image)
		return CUDA_ERROR_INVALID_VALUE;
	sim_detail("%s", "");
	struct sim_image im;
	struct sim_module *m = NULL;
	rc = sim_image_parse(image, &im);
	if (!rc)
		m = create(&im, &rc);
	sim_image_free(&im);
	if (!rc)
		rc = publish(m);
	if (!rc)
		*module = (CUmodule)m;
	return rc;
}

/* Goes ahead even with a sticky error (then returns it). */
CUresult sim_cuModuleUnload(CUmodule h)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	struct sim_module *m = (struct sim_module *)sim_obj_get(h, SIM_MODULE);
	if (!m)
		return CUDA_ERROR_INVALID_HANDLE;
	if (sim_obj_unregister(&m->obj))
		for (size_t i = 0; i < m->nf; i++)
			sim_obj_unregister(&m->f[i]->obj);
	else
		rc = CUDA_ERROR_INVALID_HANDLE;
	sim_obj_put(&m->obj);
	return rc ? rc : sim_sticky();
}

CUresult sim_cuModuleGetFunction(CUfunction *hfunc, CUmodule h,
				 const char *name)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!hfunc || !name)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_module *m = (struct sim_module *)sim_obj_get(h, SIM_MODULE);
	if (!m)
		return CUDA_ERROR_INVALID_HANDLE;
	rc = CUDA_ERROR_NOT_FOUND;
	for (size_t i = 0; i < m->nf && rc; i++)
		if (!strcmp(m->f[i]->d.name, name)) {
			*hfunc = (CUfunction)m->f[i];
			rc = CUDA_SUCCESS;
		}
	sim_obj_put(&m->obj);
	return rc;
}

CUresult sim_cuModuleGetGlobal_v2(CUdeviceptr *dptr, size_t *bytes,
				  CUmodule h, const char *name)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_module *m = (struct sim_module *)sim_obj_get(h, SIM_MODULE);
	if (!m)
		return CUDA_ERROR_INVALID_HANDLE;
	rc = CUDA_ERROR_NOT_FOUND;
	for (size_t i = 0; i < m->ng && rc; i++)
		if (!strcmp(m->g[i].name, name)) {
			if (dptr)
				*dptr = m->g[i].p;
			if (bytes)
				*bytes = m->g[i].size;
			rc = CUDA_SUCCESS;
		}
	sim_obj_put(&m->obj);
	return rc;
}

static struct sim_func *get_func(CUfunction h, CUresult *rc)
{
	if ((*rc = sim_enter_handle()))
		return NULL;
	struct sim_func *f = (struct sim_func *)sim_obj_get(h, SIM_FUNC);
	if (!f)
		*rc = CUDA_ERROR_INVALID_HANDLE;
	return f;
}

CUresult sim_cuFuncGetParamInfo(CUfunction h, size_t paramIndex,
				size_t *paramOffset, size_t *paramSize)
{
	CUresult rc;
	struct sim_func *f = get_func(h, &rc);
	if (!f)
		return rc;
	if (!paramOffset || paramIndex >= f->d.nparams) {
		rc = CUDA_ERROR_INVALID_VALUE;
	} else {
		*paramOffset = f->d.params[paramIndex].offset;
		if (paramSize)
			*paramSize = f->d.params[paramIndex].size;
	}
	sim_obj_put(&f->obj);
	return rc;
}

size_t sim_module_funcs(struct sim_module *m, struct sim_func *const **f)
{
	*f = m->f;
	return m->nf;
}

static int attribute(const struct sim_func *f, CUfunction_attribute a)
{
	switch (a) {
	case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
		return SIM_MAX_THREADS;
	case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES:
		return (int)f->d.shared;
	case CU_FUNC_ATTRIBUTE_NUM_REGS:
		return f->d.nregs ? f->d.nregs : 32;
	case CU_FUNC_ATTRIBUTE_PTX_VERSION:
		return f->ptx_version;
	case CU_FUNC_ATTRIBUTE_BINARY_VERSION:
		return f->binary_version;
	case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
		return sim_func_max_dyn_shared(f);
	case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
		/* -1: no preference, unless cuFuncSetAttribute gave one */
		return f->is_set[a] ? f->set[a] : -1;
	default: /* const, local, cache mode; cluster attributes as set */
		return f->is_set[a] ? f->set[a] : 0;
	}
}

CUresult sim_cuFuncGetAttribute(int *pi, CUfunction_attribute attrib,
				CUfunction h)
{
	CUresult rc;
	struct sim_func *f = get_func(h, &rc);
	if (!f)
		return rc;
	if (!pi || (int)attrib < 0 || attrib >= CU_FUNC_ATTRIBUTE_MAX)
		rc = CUDA_ERROR_INVALID_VALUE;
	else
		*pi = attribute(f, attrib);
	sim_obj_put(&f->obj);
	return rc;
}
