/* guest/cuda/lib.h - what the library and kernel code (lib_*.c) offers the
 * rest of the guest driver, and uses of it.
 *
 * Contract: vgpu_module_load() loads a kernel image as a module of this
 * process's context, shipping only what the device runs (lib_fatbin.h),
 * and returns the worker's module id; vgpu_name_lookup() sends the
 * MODULE_GET_FUNCTION or MODULE_GET_GLOBAL lookup op for a name of any
 * length (longer ones travel as a stream);
 * vgpu_fn_attr() asks the worker for a function attribute the guest did
 * not cache.
 */
#ifndef VGPU_GUEST_CUDA_LIB_H
#define VGPU_GUEST_CUDA_LIB_H

#include "function.h"

CUresult vgpu_module_load(const void *image, uint64_t *id);
CUresult vgpu_name_lookup(uint16_t op, uint64_t module, const char *name,
			  void *out, uint32_t cap, const char *call);
CUresult vgpu_fn_attr(const struct vgpu_fn *f, CUfunction_attribute a,
		      int *v);

#endif
