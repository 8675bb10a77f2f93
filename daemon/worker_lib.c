/* daemon/worker_lib.c - the worker's part of libraries and kernels.
 *
 * Contract: vw_lib_execute() runs the hand-written requests of this area
 * (0x60-0x6F in ring/cuda_proto.h) and replies; any other opcode returns
 * false untouched. A guest CUlibrary is a module loaded through the module
 * path (one context per worker, so a library has exactly one module) and a
 * CUkernel is a function of it (its attributes and settings are a
 * function's: VGPU_CU_FUNC_CTL, daemon/worker_stream_func.c). What the
 * guest cannot answer from what it cached at lookup comes here: the
 * module's kernel count and names (cuLibraryGetKernelCount /
 * EnumerateKernels), and the lookup of a function or global whose name
 * does not fit struct vgpu_cu_getfn (C++ templates and namespaces make
 * mangled names of several hundred bytes): the guest
 * streams the name as MODULE_LOAD does an image, then LIB_GET_FUNCTION or
 * LIB_GET_GLOBAL looks it up, using the staged bytes once. Every
 * module and function id is checked to be the caller's; a name listed by
 * LIB_FUNC_NAME that does not fit a reply is refused with
 * CUDA_ERROR_NOT_SUPPORTED rather than truncated.
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

/* The staged bytes as a name: all of them arrived, none is NUL. */
static const char *staged_name(struct vw_exec_state *st)
{
	if (!st->image || !st->image_len || st->image_got != st->image_len ||
	    memchr(st->image, 0, st->image_len))
		return NULL;
	st->image[st->image_len] = 0; /* module_chunk allocated one more */
	return (const char *)st->image;
}

static void drop_staged(struct vw_exec_state *st)
{
	free(st->image);
	st->image = NULL;
	st->image_len = st->image_got = 0;
}

static void get_function(struct vworker *W, struct vw_exec *x,
			 const struct vgpu_msg *m)
{
	struct vw_exec_state *st = vw_exec_state(x);
	struct vgpu_cu_fninfo *fi = calloc(1, sizeof(*fi)), reply = {0};
	struct vgpu_cu_args a;
	const char *name = staged_name(st);
	CUmodule mod;
	CUfunction f;
	CUresult r = fi && name && read_args(m, &a) ? CUDA_SUCCESS
						    : CUDA_ERROR_INVALID_VALUE;
	if (!r)
		r = vw_handle_get(W, VGPU_HK_MODULE, a.a[0], (void **)&mod);
	if (!r)
		r = W->drv.cuModuleGetFunction(&f, mod, name);
	if (!r)
		r = vw_fn_layout(W, f, fi);
	if (!r) { /* from here the handle owns fi: answer from a copy */
		reply = *fi;
		reply.function = vw_function_new(W, f, fi, a.a[0]);
		if (!reply.function)
			r = CUDA_ERROR_OUT_OF_MEMORY;
	}
	drop_staged(st);
	vw_reply(W, m, r, &reply, r ? 0 : sizeof(reply), 0);
	if (r)
		free(fi);
}

/* As worker_calls.c's get_global: a global the caller may copy to. */
static void get_global(struct vworker *W, struct vw_exec *x,
		       const struct vgpu_msg *m)
{
	struct vw_exec_state *st = vw_exec_state(x);
	struct vgpu_cu_args a, out = {{0}};
	const char *name = staged_name(st);
	CUmodule mod;
	CUdeviceptr p = 0;
	size_t n = 0;
	CUresult r = name && read_args(m, &a) ? CUDA_SUCCESS
					      : CUDA_ERROR_INVALID_VALUE;
	if (!r)
		r = vw_handle_get(W, VGPU_HK_MODULE, a.a[0], (void **)&mod);
	if (!r) /* a library's: this GPU's copy (worker_multigpu_lib.c) */
		r = vw_mlib_module(W, a.a[0], &mod);
	if (!r)
		r = W->drv.cuModuleGetGlobal_v2(&p, &n, mod, name);
	if (!r && vw_range(W, p, n) != CUDA_SUCCESS)
		r = vw_alloc_global(W, p, n, a.a[0]);
	drop_staged(st);
	out.a[0] = p;
	out.a[1] = n;
	vw_reply(W, m, r, &out, sizeof(out), 0);
}

bool vw_lib_execute(struct vworker *W, struct vw_exec *x,
		    const struct vgpu_msg *m)
{
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
	case VGPU_CU_LIB_GET_FUNCTION:
		get_function(W, x, m);
		return true;
	case VGPU_CU_LIB_GET_GLOBAL:
		get_global(W, x, m);
		return true;
	default:
		return vw_va_execute(W, x, m);
	}
}
