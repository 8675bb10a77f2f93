/* guest/cuda/function.h - what the guest keeps about a kernel: the
 * daemon's id, its parameter layout and its launch limits. A CUfunction
 * the program holds points at one of these. */
#ifndef VGPU_GUEST_CUDA_FUNCTION_H
#define VGPU_GUEST_CUDA_FUNCTION_H

#include "rpc.h"

#define VGPU_FN_MAGIC 0x7667707566756e63ull /* "vgpufunc" */

struct vgpu_fn {
	uint64_t magic;
	struct vgpu_cu_fninfo info;
};

static inline const struct vgpu_fn *vgpu_fn_of(CUfunction f)
{
	const struct vgpu_fn *p = (const struct vgpu_fn *)f;
	return p && p->magic == VGPU_FN_MAGIC ? p : NULL;
}

/* Log once that attribute a of call is not answered, and say so. */
CUresult vgpu_unsupported_attr(const char *call, int a);

#endif
