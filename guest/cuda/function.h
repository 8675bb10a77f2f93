/* guest/cuda/function.h - what the guest keeps about a kernel: the
 * daemon's id, its parameter layout and its launch limits. A CUfunction
 * the program holds points at one of these. */
#ifndef VGPU_GUEST_CUDA_FUNCTION_H
#define VGPU_GUEST_CUDA_FUNCTION_H

#include "rpc.h"

#define VGPU_FN_MAGIC 0x7667707566756e63ull /* "vgpufunc" */

struct vgpu_fn {
	uint64_t magic;
	uint64_t conn; /* vgpu_cu_conn_id() of the connection that made it */
	const void *kernel; /* the CUkernel this is the function of, or NULL */
	struct vgpu_cu_fninfo info;
};

/* A record from another connection (the parent's, copied by fork()) is
 * refused here: its id means nothing to this process's worker, and its
 * cached layout would be trusted for a kernel this process never looked
 * up. */
static inline const struct vgpu_fn *vgpu_fn_of(CUfunction f)
{
	const struct vgpu_fn *p = (const struct vgpu_fn *)f;
	return p && p->magic == VGPU_FN_MAGIC && p->conn == vgpu_cu_conn_id()
		       ? p
		       : NULL;
}

/* Load a kernel image as a module of this process's context: the
 * worker's module id (guest/cuda/module.c). */
CUresult vgpu_module_load(const void *image, uint64_t *id);

/* Look a function of a module up by name, any length (lib_library.c). */
CUresult vgpu_fn_lookup(uint64_t module, const char *name,
			struct vgpu_cu_fninfo *fi, const char *call);

/* A function attribute the guest did not cache: asked of the worker
 * (guest/cuda/lib_library.c). */
CUresult vgpu_fn_attr(const struct vgpu_fn *f, CUfunction_attribute a,
		      int *v);

/* Log once that attribute a of call is not answered, and say so. */
CUresult vgpu_unsupported_attr(const char *call, int a);

#endif
