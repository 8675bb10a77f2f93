/* guest/cuda/lib_library.c - libraries (CUlibrary) and kernels (CUkernel).
 *
 * Contract: the worker holds one context, so a library is exactly one
 * module there: cuLibraryLoadData loads the image through the module path
 * (module.c: only the device's entries are shipped) and the CUlibrary is a
 * guest record holding that module's id. A CUkernel is a guest record that
 * starts with the struct vgpu_fn of its function, so cuLaunchKernel takes
 * a CUkernel where a CUfunction is expected, as the real driver does (and
 * cudart relies on: it launches the kernels cuLibraryGetKernel returned),
 * and cuKernelGetFunction returns the same record. Looking a kernel up
 * twice returns the same handle. Attributes not cached at lookup, kernel
 * counts and names are asked of the worker (daemon/worker_lib.c).
 * Libraries are loaded eagerly (cuModuleGetLoadingMode says so). The
 * file forms, cuLibraryLoadFromFile and cuModuleLoad, read the file here.
 *
 * Records of unloaded libraries are kept, marked dead, never freed: a
 * stale handle must read as stale (CUDA_ERROR_INVALID_HANDLE), not as
 * freed memory. A handle from another connection (a parent's, inherited
 * through fork) is invalid too.
 */
#include "lib.h"
#include "unimpl.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIB_MAGIC 0x7667707562696c72ull    /* "vgpulibr" */
#define KERNEL_MAGIC 0x7667706b65726e6cull /* "vgpkernl" */

struct vgpu_kernel;

struct vgpu_lib {
	uint64_t magic;
	uint64_t conn;
	uint64_t module;  /* the worker's module id */
	bool dead;        /* unloaded */
	struct vgpu_kernel *kernels; /* looked up so far */
	struct vgpu_lib *next;
};

struct vgpu_kernel {
	struct vgpu_fn fn; /* first: a CUkernel is a CUfunction too */
	uint64_t magic;
	struct vgpu_lib *lib;
	struct vgpu_kernel *next;
	char name[];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct vgpu_lib *libs; /* every library ever loaded */

/* A child forked while another thread held mu must not inherit it held:
 * the records stay (the connection check makes them stale there). */
static void child_after_fork(void)
{
	pthread_mutex_init(&mu, NULL);
}

__attribute__((constructor)) static void register_fork_handler(void)
{
	pthread_atfork(NULL, NULL, child_after_fork);
}

/* A live library of this connection, or NULL. Under mu. */
static struct vgpu_lib *lib_of(CUlibrary h)
{
	for (struct vgpu_lib *l = libs; l; l = l->next)
		if ((CUlibrary)l == h)
			return l->magic == LIB_MAGIC && !l->dead &&
				       l->conn == vgpu_cu_conn_id()
				       ? l
				       : NULL;
	return NULL;
}

/* A kernel of a live library of this connection, or NULL. Under mu. */
static struct vgpu_kernel *kernel_of(CUkernel h)
{
	for (struct vgpu_lib *l = libs; l; l = l->next)
		for (struct vgpu_kernel *k = l->kernels; k; k = k->next)
			if ((CUkernel)k == h)
				return lib_of((CUlibrary)l) ? k : NULL;
	return NULL;
}

/* The kernel h names, copied out so no lock is held over a call. */
static CUresult kernel_get(CUkernel h, struct vgpu_kernel **out)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	pthread_mutex_lock(&mu);
	*out = kernel_of(h);
	pthread_mutex_unlock(&mu);
	return *out ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

static CUresult check_options(CUlibraryOption *opts, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		/* both only tell the driver how the program keeps the
		 * image; the worker has its own copy */
		if (!opts || (opts[i] != CU_LIBRARY_HOST_UNIVERSAL_FUNCTION_AND_DATA_TABLE &&
			      opts[i] != CU_LIBRARY_BINARY_IS_PRESERVED))
			return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuLibraryLoadData(CUlibrary *library, const void *code,
				       CUjit_option *jitOptions,
				       void **jitOptionsValues,
				       unsigned int numJitOptions,
				       CUlibraryOption *libraryOptions,
				       void **libraryOptionValues,
				       unsigned int numLibraryOptions)
{
	/* JIT options tune the host's compiler, as in cuModuleLoadDataEx */
	(void)jitOptions, (void)jitOptionsValues, (void)numJitOptions;
	(void)libraryOptionValues;
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!library || !code)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = check_options(libraryOptions, numLibraryOptions)))
		return r;
	struct vgpu_lib *l = calloc(1, sizeof(*l));
	if (!l)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if ((r = vgpu_module_load(code, &l->module))) {
		free(l);
		return r;
	}
	l->magic = LIB_MAGIC;
	l->conn = vgpu_cu_conn_id();
	pthread_mutex_lock(&mu);
	l->next = libs;
	libs = l;
	pthread_mutex_unlock(&mu);
	*library = (CUlibrary)l;
	return CUDA_SUCCESS;
}

/* The whole file, NUL-terminated (a PTX file is text). */
static CUresult read_file(const char *path, uint8_t **out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return CUDA_ERROR_FILE_NOT_FOUND;
	uint8_t *buf = NULL;
	long n = -1;
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 &&
	    !fseek(f, 0, SEEK_SET) && (buf = malloc((size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = 0;
		fclose(f);
		*out = buf;
		return CUDA_SUCCESS;
	}
	free(buf);
	fclose(f);
	return n < 0 ? CUDA_ERROR_FILE_NOT_FOUND : CUDA_ERROR_OUT_OF_MEMORY;
}

VGPU_EXPORT CUresult cuLibraryLoadFromFile(CUlibrary *library,
					   const char *fileName,
					   CUjit_option *jitOptions,
					   void **jitOptionsValues,
					   unsigned int numJitOptions,
					   CUlibraryOption *libraryOptions,
					   void **libraryOptionValues,
					   unsigned int numLibraryOptions)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!library || !fileName)
		return CUDA_ERROR_INVALID_VALUE;
	uint8_t *img;
	if ((r = read_file(fileName, &img)))
		return r;
	r = cuLibraryLoadData(library, img, jitOptions, jitOptionsValues,
			      numJitOptions, libraryOptions,
			      libraryOptionValues, numLibraryOptions);
	free(img);
	return r;
}

VGPU_EXPORT CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!module || !fname)
		return CUDA_ERROR_INVALID_VALUE;
	uint8_t *img;
	if ((r = read_file(fname, &img)))
		return r;
	r = cuModuleLoadData(module, img);
	free(img);
	return r;
}

VGPU_EXPORT CUresult cuLibraryUnload(CUlibrary library)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	pthread_mutex_lock(&mu);
	struct vgpu_lib *l = lib_of(library);
	if (l)
		l->dead = true; /* no second unload, no new kernels */
	pthread_mutex_unlock(&mu);
	if (!l)
		return CUDA_ERROR_INVALID_HANDLE;
	return cuModuleUnload((CUmodule)(uintptr_t)l->module);
}

/* Names that fit struct vgpu_cu_getfn go in one message (op); longer
 * ones (C++ templates and namespaces) are streamed first, as an image is,
 * and looked up by the lib area's op for the same thing. */
CUresult vgpu_name_lookup(uint16_t op, uint64_t module, const char *name,
			  void *out, uint32_t cap, const char *call)
{
	size_t len = strlen(name);
	if (len < VGPU_CU_NAME_MAX) {
		struct vgpu_cu_getfn g = {.module = module};
		memcpy(g.name, name, len + 1);
		return vgpu_cu_call(op, &g, sizeof(g), out, cap, true, call);
	}
	uint16_t staged = op == VGPU_CU_MODULE_GET_FUNCTION
				  ? VGPU_CU_LIB_GET_FUNCTION
				  : VGPU_CU_LIB_GET_GLOBAL;
	struct vgpu_cu_xfer x = {0, VGPU_CU_NO_STREAM};
	struct vgpu_cu_args a = {{module}};
	CUresult r = vgpu_cu_stream_out(VGPU_CU_MODULE_LOAD, &x, name, len);
	return r ? r : vgpu_cu_call(staged, &a, sizeof(a), out, cap, true, call);
}

/* The kernel of that name, looked up once. */
static CUresult get_kernel(struct vgpu_lib *l, const char *name,
			   struct vgpu_kernel **out)
{
	pthread_mutex_lock(&mu);
	for (*out = l->kernels; *out && strcmp((*out)->name, name);)
		*out = (*out)->next;
	pthread_mutex_unlock(&mu);
	if (*out)
		return CUDA_SUCCESS;
	size_t len = strlen(name);
	struct vgpu_kernel *k = calloc(1, sizeof(*k) + len + 1);
	if (!k)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult r = vgpu_name_lookup(VGPU_CU_MODULE_GET_FUNCTION, l->module,
				      name, &k->fn.info, sizeof(k->fn.info),
				      "cuLibraryGetKernel");
	if (r) {
		free(k);
		return r;
	}
	k->fn.magic = VGPU_FN_MAGIC;
	k->fn.conn = l->conn;
	k->magic = KERNEL_MAGIC;
	k->lib = l;
	memcpy(k->name, name, len + 1);
	pthread_mutex_lock(&mu);
	struct vgpu_kernel *old = l->kernels; /* a racing lookup won? */
	while (old && strcmp(old->name, name))
		old = old->next;
	if (!old) {
		k->next = l->kernels;
		l->kernels = k;
	}
	pthread_mutex_unlock(&mu);
	if (old)
		free(k); /* its function id stays the worker's, unused */
	*out = old ? old : k;
	return CUDA_SUCCESS;
}

static CUresult lib_get(CUlibrary h, struct vgpu_lib **out)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	pthread_mutex_lock(&mu);
	*out = lib_of(h);
	pthread_mutex_unlock(&mu);
	return *out ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

VGPU_EXPORT CUresult cuLibraryGetKernel(CUkernel *pKernel, CUlibrary library,
					const char *name)
{
	struct vgpu_lib *l;
	struct vgpu_kernel *k;
	CUresult r = lib_get(library, &l);
	if (!r && (!pKernel || !name))
		r = CUDA_ERROR_INVALID_VALUE;
	if (!r)
		r = get_kernel(l, name, &k);
	if (!r)
		*pKernel = (CUkernel)k;
	return r;
}

static CUresult kernel_count(struct vgpu_lib *l, unsigned *n)
{
	struct vgpu_cu_args a = {{l->module}};
	CUresult r = vgpu_cu_rpc(VGPU_CU_LIB_FUNC_COUNT, &a, true,
				 "cuLibraryGetKernelCount");
	if (!r)
		*n = (unsigned)a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuLibraryGetKernelCount(unsigned int *count,
					     CUlibrary lib)
{
	struct vgpu_lib *l;
	CUresult r = lib_get(lib, &l);
	if (!r && !count)
		r = CUDA_ERROR_INVALID_VALUE;
	return r ? r : kernel_count(l, count);
}

VGPU_EXPORT CUresult cuLibraryEnumerateKernels(CUkernel *kernels,
					       unsigned int numKernels,
					       CUlibrary lib)
{
	struct vgpu_lib *l;
	unsigned n = 0;
	CUresult r = lib_get(lib, &l);
	if (!r && (!kernels || !numKernels))
		r = CUDA_ERROR_INVALID_VALUE;
	if (!r)
		r = kernel_count(l, &n);
	for (unsigned i = 0; !r && i < n && i < numKernels; i++) {
		struct vgpu_cu_args a = {{l->module, i}};
		char name[VGPU_CU_NAME_MAX];
		struct vgpu_kernel *k;
		r = vgpu_cu_call(VGPU_CU_LIB_FUNC_NAME, &a, sizeof(a), name,
				 sizeof(name), true, "cuLibraryEnumerateKernels");
		name[sizeof(name) - 1] = 0;
		if (!r)
			r = get_kernel(l, name, &k);
		if (!r)
			kernels[i] = (CUkernel)k;
	}
	return r;
}

VGPU_EXPORT CUresult cuLibraryGetModule(CUmodule *pMod, CUlibrary library)
{
	struct vgpu_lib *l;
	CUresult r = lib_get(library, &l);
	if (!r && !pMod)
		r = CUDA_ERROR_INVALID_VALUE;
	if (!r)
		*pMod = (CUmodule)(uintptr_t)l->module;
	return r;
}

VGPU_EXPORT CUresult cuLibraryGetGlobal(CUdeviceptr *dptr, size_t *bytes,
					CUlibrary library, const char *name)
{
	struct vgpu_lib *l;
	CUresult r = lib_get(library, &l);
	return r ? r : cuModuleGetGlobal_v2(dptr, bytes,
					    (CUmodule)(uintptr_t)l->module,
					    name);
}

/* Managed memory is not offered (the device reports none), so there are
 * no managed variables to hand out. */
VGPU_EXPORT CUresult cuLibraryGetManaged(CUdeviceptr *dptr, size_t *bytes,
					 CUlibrary library, const char *name)
{
	(void)dptr, (void)bytes, (void)library, (void)name;
	return (CUresult)vgpu_unimplemented("cuLibraryGetManaged");
}

VGPU_EXPORT CUresult cuKernelGetFunction(CUfunction *pFunc, CUkernel kernel)
{
	struct vgpu_kernel *k;
	CUresult r = kernel_get(kernel, &k);
	if (!r && !pFunc)
		r = CUDA_ERROR_INVALID_VALUE;
	if (!r)
		*pFunc = (CUfunction)&k->fn;
	return r;
}

VGPU_EXPORT CUresult cuKernelGetLibrary(CUlibrary *pLib, CUkernel kernel)
{
	struct vgpu_kernel *k;
	CUresult r = kernel_get(kernel, &k);
	if (!r && !pLib)
		r = CUDA_ERROR_INVALID_VALUE;
	if (!r)
		*pLib = (CUlibrary)k->lib;
	return r;
}

VGPU_EXPORT CUresult cuKernelGetName(const char **name, CUkernel hfunc)
{
	struct vgpu_kernel *k;
	CUresult r = kernel_get(hfunc, &k);
	if (!r && !name)
		r = CUDA_ERROR_INVALID_VALUE;
	if (!r)
		*name = k->name;
	return r;
}

VGPU_EXPORT CUresult cuKernelGetParamInfo(CUkernel kernel, size_t paramIndex,
					  size_t *paramOffset,
					  size_t *paramSize)
{
	struct vgpu_kernel *k;
	CUresult r = kernel_get(kernel, &k);
	return r ? r : cuFuncGetParamInfo((CUfunction)&k->fn, paramIndex,
					  paramOffset, paramSize);
}

CUresult vgpu_fn_attr(const struct vgpu_fn *f, CUfunction_attribute a, int *v)
{
	struct vgpu_cu_args args = {{f->info.function, (uint64_t)a}};
	CUresult r = vgpu_cu_rpc(VGPU_CU_LIB_FUNC_ATTR, &args, true,
				 "cuFuncGetAttribute");
	if (!r)
		*v = (int)(int64_t)args.a[0];
	return r;
}

/* One device, ordinal 0: any other is CUDA_ERROR_INVALID_DEVICE. The two
 * attributes a launch checks are cached; the rest come from the worker. */
VGPU_EXPORT CUresult cuKernelGetAttribute(int *pi, CUfunction_attribute attrib,
					  CUkernel kernel, CUdevice dev)
{
	struct vgpu_kernel *k;
	CUresult r = kernel_get(kernel, &k);
	if (!r && dev != 0)
		r = CUDA_ERROR_INVALID_DEVICE;
	if (!r && !pi)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r)
		return r;
	switch (attrib) {
	case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
		*pi = k->fn.info.max_threads_per_block;
		return CUDA_SUCCESS;
	case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES:
		*pi = k->fn.info.shared_size_bytes;
		return CUDA_SUCCESS;
	default:
		return vgpu_fn_attr(&k->fn, attrib, pi);
	}
}

/* A kernel's attribute is its function's: set through cuFuncSetAttribute,
 * so whatever the guest caches for launches follows. */
VGPU_EXPORT CUresult cuKernelSetAttribute(CUfunction_attribute attrib, int val,
					  CUkernel kernel, CUdevice dev)
{
	struct vgpu_kernel *k;
	CUresult r = kernel_get(kernel, &k);
	if (!r && dev != 0)
		r = CUDA_ERROR_INVALID_DEVICE;
	return r ? r : cuFuncSetAttribute((CUfunction)&k->fn, attrib, val);
}

/* The kernel's function's preference, where the function settings live
 * (cuFuncSetCacheConfig: the stream area's). */
VGPU_EXPORT CUresult cuKernelSetCacheConfig(CUkernel kernel, CUfunc_cache config,
					    CUdevice dev)
{
	struct vgpu_kernel *k;
	CUresult r = kernel_get(kernel, &k);
	if (!r && dev != 0)
		r = CUDA_ERROR_INVALID_DEVICE;
	return r ? r : cuFuncSetCacheConfig((CUfunction)&k->fn, config);
}

/* Weak: the stream area's definition (guest/cuda/func.c on its branch),
 * which also updates the launch checks' cached limits, replaces this one
 * when both are linked. */
VGPU_EXPORT __attribute__((weak)) CUresult
cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	const struct vgpu_fn *f = vgpu_fn_of(hfunc);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	struct vgpu_cu_args a = {{f->info.function, (uint64_t)attrib,
				  (uint64_t)(int64_t)value}};
	return vgpu_cu_rpc(VGPU_CU_LIB_FUNC_SET_ATTR, &a, true,
			   "cuFuncSetAttribute");
}

VGPU_EXPORT CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode *mode)
{
	if (!mode)
		return CUDA_ERROR_INVALID_VALUE;
	*mode = CU_MODULE_EAGER_LOADING; /* every load is complete at once */
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuModuleLoadFatBinary(CUmodule *module,
					   const void *fatCubin)
{
	return cuModuleLoadData(module, fatCubin);
}

/* ---- a module's functions, and their loading state ---------------------- */

static CUresult module_count(uint64_t module, unsigned *n, const char *call)
{
	struct vgpu_cu_args a = {{module}};
	CUresult r = vgpu_cu_rpc(VGPU_CU_LIB_FUNC_COUNT, &a, true, call);
	if (!r)
		*n = (unsigned)a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuModuleGetFunctionCount(unsigned int *count,
					      CUmodule mod)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	return module_count((uint64_t)(uintptr_t)mod, count,
			    "cuModuleGetFunctionCount");
}

/* Each function by name, as cuModuleGetFunction would hand it out. */
VGPU_EXPORT CUresult cuModuleEnumerateFunctions(CUfunction *functions,
						unsigned int numFunctions,
						CUmodule mod)
{
	uint64_t id = (uint64_t)(uintptr_t)mod;
	unsigned n = 0;
	CUresult r = vgpu_cu_ready();
	if (!r && (!functions || !numFunctions))
		r = CUDA_ERROR_INVALID_VALUE;
	if (!r)
		r = module_count(id, &n, "cuModuleEnumerateFunctions");
	for (unsigned i = 0; !r && i < n && i < numFunctions; i++) {
		struct vgpu_cu_args a = {{id, i}};
		char name[VGPU_CU_NAME_MAX];
		r = vgpu_cu_call(VGPU_CU_LIB_FUNC_NAME, &a, sizeof(a), name,
				 sizeof(name), true, "cuModuleEnumerateFunctions");
		name[sizeof(name) - 1] = 0;
		if (!r)
			r = cuModuleGetFunction(&functions[i], mod, name);
	}
	return r;
}

/* Modules load eagerly: every function is loaded from the start. */
VGPU_EXPORT CUresult cuFuncIsLoaded(CUfunctionLoadingState *state,
				    CUfunction function)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!state)
		return CUDA_ERROR_INVALID_VALUE;
	if (!vgpu_fn_of(function))
		return CUDA_ERROR_INVALID_HANDLE;
	*state = CU_FUNCTION_LOADING_STATE_LOADED;
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuFuncLoad(CUfunction function)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	return vgpu_fn_of(function) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
