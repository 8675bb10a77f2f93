/* guest/cuda/lib_module.c - module calls that go with libraries: loading
 * from a file and from a fat binary, the loading mode, lookups by names of
 * any length, and a module's functions.
 *
 * Contract: the worker loads every image whole, so every function is
 * loaded and cuFuncLoad has nothing to do. cuModuleGetLoadingMode still
 * answers what the real driver answers: CU_MODULE_EAGER_LOADING only when
 * CUDA_MODULE_LOADING=EAGER, else CU_MODULE_LAZY_LOADING (the default
 * since CUDA 12.2). The runtime acts on the answer: told EAGER, it loads
 * every fatbin it registered when it creates its context and fails on the
 * first with no code for the device (cuBLASLt 13 registers sm_100-only
 * ones: cublasLtCreate failed with cudaErrorNoKernelImageForDevice on an
 * H100; natively EAGER passes, docs/lib.md); told LAZY, it loads a fatbin
 * when one of its kernels is first used. vgpu_name_lookup() sends a function or global lookup in one
 * message when the name fits struct vgpu_cu_getfn, else streams the
 * name first (LIB_GET_FUNCTION / LIB_GET_GLOBAL). cuModuleEnumerateFunctions
 * hands out the functions cuModuleGetFunction would, by the names the
 * worker lists (LIB_FUNC_NAME).
 */
#include "lib.h"
#include <stdlib.h>
#include <string.h>

VGPU_EXPORT CUresult cuModuleLoad(CUmodule *module, const char *fname)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!module || !fname)
		return CUDA_ERROR_INVALID_VALUE;
	uint8_t *img;
	if ((r = vgpu_read_file(fname, &img)))
		return r;
	r = cuModuleLoadData(module, img);
	free(img);
	return r;
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

VGPU_EXPORT CUresult cuModuleGetLoadingMode(CUmoduleLoadingMode *mode)
{
	if (!mode)
		return CUDA_ERROR_INVALID_VALUE;
	/* the driver's switch, read here as the driver reads it at cuInit */
	const char *env = getenv("CUDA_MODULE_LOADING");
	*mode = env && !strcmp(env, "EAGER") ? CU_MODULE_EAGER_LOADING
					     : CU_MODULE_LAZY_LOADING;
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
