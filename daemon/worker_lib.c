/* daemon/worker_lib.c - the worker's part of libraries and kernels.
 *
 * Contract: vw_lib_execute() runs the hand-written requests of this area
 * (0x60-0x6F in ring/cuda_proto.h) and replies; any other opcode returns
 * false untouched. A guest CUlibrary is a module loaded through the module
 * path (one context per worker, so a library has exactly one module) and a
 * CUkernel is a function of it; what the guest cannot answer from what it
 * cached at lookup comes here: the module's kernel count and names
 * (cuLibraryGetKernelCount / EnumerateKernels) and function attributes
 * (cuKernelGetAttribute / SetAttribute). Every module and function id is
 * checked to be the caller's; names longer than VGPU_CU_NAME_MAX - 1 bytes
 * are refused with CUDA_ERROR_NOT_SUPPORTED rather than truncated.
 */
#include "worker.h"
#include <stdlib.h>
#include <string.h>

static bool read_args(const struct vgpu_msg *m, struct vgpu_cu_args *a)
{
	if (m->len != sizeof(*a))
		return false;
	memcpy(a, m->data, sizeof(*a));
	return true;
}

static CUresult func_count(struct vworker *W, const struct vgpu_cu_args *a,
			   struct vgpu_cu_args *out)
{
	CUmodule mod;
	unsigned n = 0;
	CUresult r = vw_handle_get(W, VGPU_HK_MODULE, a->a[0], (void **)&mod);
	if (!r)
		r = W->drv.cuModuleGetFunctionCount(&n, mod);
	out->a[0] = n;
	return r;
}

/* The name of the module's function number index. */
static CUresult func_name(struct vworker *W, const struct vgpu_cu_args *a,
			  char *name)
{
	CUmodule mod;
	unsigned n = 0;
	CUresult r = vw_handle_get(W, VGPU_HK_MODULE, a->a[0], (void **)&mod);
	if (!r)
		r = W->drv.cuModuleGetFunctionCount(&n, mod);
	if (!r && a->a[1] >= n)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r)
		return r;
	CUfunction *fs = calloc(n, sizeof(*fs));
	const char *s = NULL;
	if (!fs)
		return CUDA_ERROR_OUT_OF_MEMORY;
	r = W->drv.cuModuleEnumerateFunctions(fs, n, mod);
	if (!r)
		r = W->drv.cuFuncGetName(&s, fs[a->a[1]]);
	free(fs);
	if (!r && (!s || strlen(s) >= VGPU_CU_NAME_MAX))
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (!r)
		strcpy(name, s);
	return r;
}

static CUresult func_attr(struct vworker *W, const struct vgpu_cu_args *a,
			  struct vgpu_cu_args *out)
{
	CUfunction f;
	struct vgpu_cu_fninfo fi;
	int v = 0;
	CUresult r = vw_function(W, a->a[0], &f, &fi);
	if (!r && a->a[1] > INT32_MAX)
		r = CUDA_ERROR_INVALID_VALUE;
	if (!r)
		r = W->drv.cuFuncGetAttribute(&v, (CUfunction_attribute)a->a[1],
					      f);
	out->a[0] = (uint64_t)(int64_t)v;
	return r;
}

static CUresult func_set_attr(struct vworker *W, const struct vgpu_cu_args *a)
{
	CUfunction f;
	struct vgpu_cu_fninfo fi;
	CUresult r = vw_function(W, a->a[0], &f, &fi);
	if (!r && a->a[1] > INT32_MAX)
		r = CUDA_ERROR_INVALID_VALUE;
	if (!r)
		r = W->drv.cuFuncSetAttribute(f, (CUfunction_attribute)a->a[1],
					      (int)(int64_t)a->a[2]);
	return r;
}

bool vw_lib_execute(struct vworker *W, struct vw_exec *x,
		    const struct vgpu_msg *m)
{
	(void)x;
	struct vgpu_cu_args a, out = {{0}};
	char name[VGPU_CU_NAME_MAX];
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	switch (m->op) {
	case VGPU_CU_LIB_FUNC_COUNT:
		if (read_args(m, &a))
			r = func_count(W, &a, &out);
		vw_reply(W, m, r, &out, sizeof(out), 0);
		return true;
	case VGPU_CU_LIB_FUNC_NAME:
		if (read_args(m, &a))
			r = func_name(W, &a, name);
		vw_reply(W, m, r, name, r ? 0 : (uint32_t)strlen(name) + 1, 0);
		return true;
	case VGPU_CU_LIB_FUNC_ATTR:
		if (read_args(m, &a))
			r = func_attr(W, &a, &out);
		vw_reply(W, m, r, &out, sizeof(out), 0);
		return true;
	case VGPU_CU_LIB_FUNC_SET_ATTR:
		if (read_args(m, &a))
			r = func_set_attr(W, &a);
		vw_reply(W, m, r, NULL, 0, 0);
		return true;
	default:
		return false;
	}
}
