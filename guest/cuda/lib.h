/* guest/cuda/lib.h - what the library and kernel code (lib_*.c) offers the
 * rest of the guest driver, and uses of it.
 *
 * Contract: vgpu_module_load() loads a kernel image as a module of this
 * process's context, shipping only what the device runs (lib_fatbin.h),
 * and returns the worker's module id; vgpu_name_lookup() sends the
 * MODULE_GET_FUNCTION or MODULE_GET_GLOBAL lookup op for a name of any
 * length (longer ones travel as a stream). The library and kernel
 * records are shared by lib_library.c (which owns them) and lib_kernel.c.
 */
#ifndef VGPU_GUEST_CUDA_LIB_H
#define VGPU_GUEST_CUDA_LIB_H

#include "function.h"
#include <stdbool.h>

CUresult vgpu_module_load(const void *image, uint64_t *id);
/* The same with MODULE_COMMIT flags (VGPU_CU_COMMIT_LIBRARY: a library,
 * which a worker serving several GPUs loads again on each). */
CUresult vgpu_module_load_as(const void *image, uint64_t flags, uint64_t *id);
CUresult vgpu_name_lookup(uint16_t op, uint64_t module, const char *name,
			  void *out, uint32_t cap, const char *call);

/* Libraries and kernels as the guest keeps them (lib_library.c). */
#define VGPU_LIB_MAGIC 0x7667707562696c72ull    /* "vgpulibr" */
#define VGPU_KERNEL_MAGIC 0x7667706b65726e6cull /* "vgpkernl" */

struct vgpu_kernel;

struct vgpu_lib {
	uint64_t magic;
	uint64_t conn;
	uint64_t module;  /* the worker's module id */
	bool dead;        /* unloaded */
	struct vgpu_kernel *kernels; /* looked up so far */
	struct vgpu_lib *next;
};

struct vgpu_kernel {
	struct vgpu_fn fn; /* first: a CUkernel is a CUfunction too */
	uint64_t magic;
	struct vgpu_lib *lib;
	struct vgpu_kernel *next;
	char name[];
};

/* The live kernel h names (this connection's), or INVALID_HANDLE. */
CUresult vgpu_kernel_get(CUkernel h, struct vgpu_kernel **out);
/* A whole file, NUL-terminated (PTX is text); free() it. */
CUresult vgpu_read_file(const char *path, uint8_t **out);

/* Libraries and kernels are context-independent natively (the runtime
 * loads and queries them before it makes a context current); the worker's
 * module calls run under the calling thread's context. A library call on
 * a thread with none runs under the primary context: enter pushes it (and
 * says so), leave pops what enter pushed. */
bool vgpu_lib_ctx_enter(void);
void vgpu_lib_ctx_leave(bool pushed);

#endif
