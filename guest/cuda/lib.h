/* guest/cuda/lib.h - what the library and kernel code (lib_*.c) offers the
 * rest of the guest driver, and uses of it.
 *
 * Contract: vgpu_module_load() loads a kernel image as a module of this
 * process's context, shipping only what the device runs (lib_fatbin.h),
 * and returns the worker's module id; vgpu_fn_lookup() looks a function of
 * a module up by name, of any length, into the launch record's layout;
 * vgpu_fn_attr() asks the worker for a function attribute the guest did
 * not cache.
 */
#ifndef VGPU_GUEST_CUDA_LIB_H
#define VGPU_GUEST_CUDA_LIB_H

#include "function.h"

CUresult vgpu_module_load(const void *image, uint64_t *id);
CUresult vgpu_fn_lookup(uint64_t module, const char *name,
			struct vgpu_cu_fninfo *fi, const char *call);
CUresult vgpu_fn_attr(const struct vgpu_fn *f, CUfunction_attribute a,
		      int *v);

#endif
