/* guest/cuda/lib_kernel.c - what a CUkernel answers: its function, name,
 * library, parameter layout and attributes.
 *
 * Contract: a CUkernel is a record of lib_library.c's registry (checked
 * there: live library, this connection); it begins with its function's
 * launch record, which is what cuKernelGetFunction returns. The two
 * attributes a launch checks are cached; the others are asked of the
 * worker (LIB_FUNC_ATTR). Settings go through the function's own calls
 * (cuFuncSetAttribute, cuFuncSetCacheConfig), so whatever the guest caches
 * for launches follows. One device: any other ordinal is
 * CUDA_ERROR_INVALID_DEVICE.
 */
#include "lib.h"

VGPU_EXPORT CUresult cuKernelGetFunction(CUfunction *pFunc, CUkernel kernel)
{
	struct vgpu_kernel *k;
	CUresult r = vgpu_kernel_get(kernel, &k);
	if (!r && !pFunc)
		r = CUDA_ERROR_INVALID_VALUE;
	if (!r)
		*pFunc = (CUfunction)&k->fn;
	return r;
}

VGPU_EXPORT CUresult cuKernelGetLibrary(CUlibrary *pLib, CUkernel kernel)
{
	struct vgpu_kernel *k;
	CUresult r = vgpu_kernel_get(kernel, &k);
	if (!r && !pLib)
		r = CUDA_ERROR_INVALID_VALUE;
	if (!r)
		*pLib = (CUlibrary)k->lib;
	return r;
}

VGPU_EXPORT CUresult cuKernelGetName(const char **name, CUkernel hfunc)
{
	struct vgpu_kernel *k;
	CUresult r = vgpu_kernel_get(hfunc, &k);
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
	CUresult r = vgpu_kernel_get(kernel, &k);
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
	CUresult r = vgpu_kernel_get(kernel, &k);
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
	default: {
		bool pushed = vgpu_lib_ctx_enter();
		r = vgpu_fn_attr(&k->fn, attrib, pi);
		vgpu_lib_ctx_leave(pushed);
		return r;
	}
	}
}

/* A kernel's attribute is its function's: set through cuFuncSetAttribute,
 * so whatever the guest caches for launches follows. */
VGPU_EXPORT CUresult cuKernelSetAttribute(CUfunction_attribute attrib, int val,
					  CUkernel kernel, CUdevice dev)
{
	struct vgpu_kernel *k;
	CUresult r = vgpu_kernel_get(kernel, &k);
	if (!r && dev != 0)
		r = CUDA_ERROR_INVALID_DEVICE;
	if (r)
		return r;
	bool pushed = vgpu_lib_ctx_enter();
	r = cuFuncSetAttribute((CUfunction)&k->fn, attrib, val);
	vgpu_lib_ctx_leave(pushed);
	return r;
}

/* The kernel's function's preference, where the function settings live
 * (cuFuncSetCacheConfig: the stream area's). */
VGPU_EXPORT CUresult cuKernelSetCacheConfig(CUkernel kernel, CUfunc_cache config,
					    CUdevice dev)
{
	struct vgpu_kernel *k;
	CUresult r = vgpu_kernel_get(kernel, &k);
	if (!r && dev != 0)
		r = CUDA_ERROR_INVALID_DEVICE;
	if (r)
		return r;
	bool pushed = vgpu_lib_ctx_enter();
	r = cuFuncSetCacheConfig((CUfunction)&k->fn, config);
	vgpu_lib_ctx_leave(pushed);
	return r;
}
