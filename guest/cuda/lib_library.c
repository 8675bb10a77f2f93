/* guest/cuda/lib_library.c - libraries (CUlibrary) and their kernels.
 *
 * Contract: a library is one module of the worker: cuLibraryLoadData
 * loads the image through the module path (module.c: only the device's
 * entries are shipped), flagged as a library's, and the CUlibrary is a
 * guest record holding that module's id. A worker serving several GPUs
 * loads it again in another device's primary context the first time one
 * of its kernels or globals is used there, and maps the same ids to that
 * copy (daemon/worker_multigpu_lib.c), so kernels and globals are
 * context-independent as natively (the CUDA runtime on cudaSetDevice(1)). A CUkernel is a guest record that
 * starts with the struct vgpu_fn of its function, so cuLaunchKernel takes
 * a CUkernel where a CUfunction is expected, as the real driver does (and
 * cudart relies on: it launches the kernels cuLibraryGetKernel returned),
 * and cuKernelGetFunction returns the same record. Looking a kernel up
 * twice returns the same handle. Kernel counts and names are asked of the
 * worker (daemon/worker_lib.c); the cuKernel* calls are lib_kernel.c's.
 * Libraries load whole at once, whatever loading mode cuModuleGetLoadingMode
 * reports (lib_module.c).
 * cuLibraryLoadFromFile reads the file here.
 *
 * Records of unloaded libraries are kept, marked dead, never freed: a
 * stale handle must read as stale (CUDA_ERROR_INVALID_HANDLE), not as
 * freed memory. A handle from another connection (a parent's, inherited
 * through fork) is invalid too.
 */
#include "export_table.h" /* vgpu_cu_primary_ctx */
#include "lib.h"
#include "unimpl.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
			return l->magic == VGPU_LIB_MAGIC && !l->dead &&
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
CUresult vgpu_kernel_get(CUkernel h, struct vgpu_kernel **out)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	pthread_mutex_lock(&mu);
	*out = kernel_of(h);
	pthread_mutex_unlock(&mu);
	return *out ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

bool vgpu_lib_ctx_enter(void)
{
	CUcontext cur = NULL, primary;
	if (cuCtxGetCurrent(&cur) || cur || vgpu_cu_primary_ctx(&primary))
		return false;
	return cuCtxPushCurrent(primary) == CUDA_SUCCESS;
}

void vgpu_lib_ctx_leave(bool pushed)
{
	CUcontext popped;
	if (pushed)
		cuCtxPopCurrent(&popped);
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
	bool pushed = vgpu_lib_ctx_enter();
	r = vgpu_module_load_as(code, VGPU_CU_COMMIT_LIBRARY, &l->module);
	vgpu_lib_ctx_leave(pushed);
	if (r) {
		free(l);
		return r;
	}
	l->magic = VGPU_LIB_MAGIC;
	l->conn = vgpu_cu_conn_id();
	pthread_mutex_lock(&mu);
	l->next = libs;
	libs = l;
	pthread_mutex_unlock(&mu);
	*library = (CUlibrary)l;
	return CUDA_SUCCESS;
}

/* The whole file, NUL-terminated (a PTX file is text). */
CUresult vgpu_read_file(const char *path, uint8_t **out)
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
	if ((r = vgpu_read_file(fileName, &img)))
		return r;
	r = cuLibraryLoadData(library, img, jitOptions, jitOptionsValues,
			      numJitOptions, libraryOptions,
			      libraryOptionValues, numLibraryOptions);
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
	bool pushed = vgpu_lib_ctx_enter();
	r = cuModuleUnload((CUmodule)(uintptr_t)l->module);
	vgpu_lib_ctx_leave(pushed);
	return r;
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
	bool pushed = vgpu_lib_ctx_enter();
	CUresult r = vgpu_name_lookup(VGPU_CU_MODULE_GET_FUNCTION, l->module,
				      name, &k->fn.info, sizeof(k->fn.info),
				      "cuLibraryGetKernel");
	vgpu_lib_ctx_leave(pushed);
	if (r) {
		free(k);
		return r;
	}
	k->fn.magic = VGPU_FN_MAGIC;
	k->fn.conn = l->conn;
	k->magic = VGPU_KERNEL_MAGIC;
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
	bool pushed = vgpu_lib_ctx_enter();
	CUresult r = vgpu_cu_rpc(VGPU_CU_LIB_FUNC_COUNT, &a, true,
				 "cuLibraryGetKernelCount");
	vgpu_lib_ctx_leave(pushed);
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
		bool pushed = vgpu_lib_ctx_enter();
		r = vgpu_cu_call(VGPU_CU_LIB_FUNC_NAME, &a, sizeof(a), name,
				 sizeof(name), true, "cuLibraryEnumerateKernels");
		vgpu_lib_ctx_leave(pushed);
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
	if (r)
		return r;
	bool pushed = vgpu_lib_ctx_enter();
	r = cuModuleGetGlobal_v2(dptr, bytes, (CUmodule)(uintptr_t)l->module,
				 name);
	vgpu_lib_ctx_leave(pushed);
	return r;
}

/* Managed memory is not offered (the device reports none), so there are
 * no managed variables to hand out. */
VGPU_EXPORT CUresult cuLibraryGetManaged(CUdeviceptr *dptr, size_t *bytes,
					 CUlibrary library, const char *name)
{
	(void)dptr, (void)bytes, (void)library, (void)name;
	return (CUresult)vgpu_unimplemented("cuLibraryGetManaged");
}
