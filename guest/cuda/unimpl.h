/* guest/cuda/unimpl.h - what a driver entry point we do not implement does.
 *
 * Contract: vgpu_unimplemented(name) writes
 *   "vgpu: NAME is not implemented (CUDA_ERROR_NOT_SUPPORTED)"
 * to stderr the first time it is called with a given name (compared by
 * content), unless the environment has VGPU_LOG=quiet, and returns
 * CUDA_ERROR_NOT_SUPPORTED. It is thread-safe and never allocates. `name`
 * must stay valid for the life of the process (a string literal): it is
 * remembered, not copied.
 *
 * This header includes no CUDA header on purpose: the generated stubs
 * (build/gen/cuda_unimpl.c) define driver names as `int name(void)`, which
 * would clash with cuda.h's prototypes in the same translation unit.
 */
#ifndef VGPU_GUEST_CUDA_UNIMPL_H
#define VGPU_GUEST_CUDA_UNIMPL_H

/* CUDA_ERROR_NOT_SUPPORTED; unimpl.c checks it against cuda.h. */
#define VGPU_CUDA_ERROR_NOT_SUPPORTED 801

int vgpu_unimplemented(const char *name);
/* The same report for another library's entry points (the guest NVML):
 * names code_name in the line and returns code. */
int vgpu_unimplemented_as(const char *name, const char *code_name, int code);

#endif
