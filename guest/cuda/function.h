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
	/* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES + 1 once the
	 * program set it (guest/cuda/func.c); 0 = the default */
	_Atomic int32_t max_dyn_shared_set;
	_Atomic(char *) name; /* cuFuncGetName's answer, once asked */
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

/* The record of daemon function id: one cuModuleGetFunction made
 * (registered then), else a new one with the layout asked of the daemon
 * (guest/cuda/graph_func.c). NULL if the id is not this process's. */
void vgpu_fn_register(struct vgpu_fn *f);
const struct vgpu_fn *vgpu_fn_by_id(uint64_t id);
/* Launch checks and variants (guest/cuda/launch_ex.c). The configuration
 * errors the driver returns at once, from the device's limits and the
 * function's cached ones. */
CUresult vgpu_launch_check(const struct vgpu_fn *f, const unsigned g[3],
			   const unsigned b[3], unsigned shared);
/* The parameters per the layout (kernelParams) or the packed buffer
 * (extra) into p, at most cap bytes; *len: the buffer's size
 * (guest/cuda/launch.c; graph kernel nodes use it too). */
CUresult vgpu_launch_pack(const struct vgpu_fn *f, void **params,
			  void **extra, uint8_t *p, uint32_t cap,
			  uint32_t *len);
/* A launch with launch attributes (CUlaunchAttribute, n of them) or with
 * parameters too large for one message: checked, marshalled, sent. */
CUresult vgpu_launch_ex_send(const struct vgpu_fn *f,
			     const struct vgpu_cu_launch *L, const void *attrs,
			     unsigned n, void **params, void **extra);

/* A function attribute the guest does not cache, from the worker
 * (guest/cuda/func.c). */
CUresult vgpu_func_attr_remote(int *pi, CUfunction_attribute a,
			       const struct vgpu_fn *f);

/* Log once that attribute a of call is not answered, and say so. */
CUresult vgpu_unsupported_attr(const char *call, int a);

#endif
