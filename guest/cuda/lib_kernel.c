/* guest/cuda/lib_kernel.c - what a CUkernel answers: its function, name,
 * library, parameter layout and attributes.
 *
 * Contract: a CUkernel is a record of lib_library.c's registry (checked
 * there: live library, this connection); it begins with its function's
 * launch record, which is what cuKernelGetFunction returns. Attributes
 * and settings are the function's: they go through cuFuncGetAttribute,
 * cuFuncSetAttribute and cuFuncSetCacheConfig (guest/cuda/func.c, the one
 * way to reach the worker's VGPU_CU_FUNC_CTL), so whatever the guest
 * caches for launches follows. The calls that name a device run under that device's context (its
 * primary one, pushed, unless the current context is already on it), so
 * the worker answers for that GPU's copy of the library
 * (daemon/worker_multigpu_lib.c); an ordinal that is not one of the
 * process's devices is CUDA_ERROR_INVALID_DEVICE.
 */
#include "lib.h"

/* Enter device dev for a kernel call; leave with vgpu_lib_ctx_leave. */
static CUresult dev_enter(CUdevice dev, bool *pushed)
{
	CUdevice cur;
	CUcontext c;
	*pushed = false;
	if (!vgpu_cu_dev(dev))
		return CUDA_ERROR_INVALID_DEVICE;
	if (cuCtxGetDevice(&cur) == CUDA_SUCCESS && cur == dev)
		return CUDA_SUCCESS;
	CUresult r = vgpu_cu_primary_ctx_of(dev, &c);
	if (!r)
		r = cuCtxPushCurrent(c);
	*pushed = r == CUDA_SUCCESS;
	return r;
}

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

/* A kernel's attributes are its function's, answered as cuFuncGetAttribute
 * answers them (cached or from the worker), under the library context. */
VGPU_EXPORT CUresult cuKernelGetAttribute(int *pi, CUfunction_attribute attrib,
					  CUkernel kernel, CUdevice dev)
{
	struct vgpu_kernel *k;
	bool pushed = false;
	CUresult r = vgpu_kernel_get(kernel, &k);
	if (!r && !pi)
		r = CUDA_ERROR_INVALID_VALUE;
	if (!r)
		r = dev_enter(dev, &pushed);
	if (r)
		return r;
	r = cuFuncGetAttribute(pi, attrib, (CUfunction)&k->fn);
	vgpu_lib_ctx_leave(pushed);
	return r;
}

/* A kernel's attribute is its function's: set through cuFuncSetAttribute,
 * so whatever the guest caches for launches follows. */
VGPU_EXPORT CUresult cuKernelSetAttribute(CUfunction_attribute attrib, int val,
					  CUkernel kernel, CUdevice dev)
{
	struct vgpu_kernel *k;
	bool pushed = false;
	CUresult r = vgpu_kernel_get(kernel, &k);
	if (!r)
		r = dev_enter(dev, &pushed);
	if (r)
		return r;
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
	bool pushed = false;
	CUresult r = vgpu_kernel_get(kernel, &k);
	if (!r)
		r = dev_enter(dev, &pushed);
	if (r)
		return r;
	r = cuFuncSetCacheConfig((CUfunction)&k->fn, config);
	vgpu_lib_ctx_leave(pushed);
	return r;
}
