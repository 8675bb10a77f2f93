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

/* Log once that attribute a of call is not answered, and say so. */
CUresult vgpu_unsupported_attr(const char *call, int a);

#endif
