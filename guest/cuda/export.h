/* guest/cuda/export.h - which of libvgpu-cuda.so's symbols other programs see.
 *
 * Contract: the library is compiled with -fvisibility=hidden, so a function
 * or object is visible to dlsym() and the dynamic linker only if its
 * definition carries VGPU_EXPORT. Only names in guest/cuda/exports.txt (the
 * real driver's export list) and vgpu_guest_library_marker may carry it;
 * tests/unit/test_exports.c fails on anything else the library exports.
 */
#ifndef VGPU_GUEST_CUDA_EXPORT_H
#define VGPU_GUEST_CUDA_EXPORT_H

#define VGPU_EXPORT __attribute__((visibility("default")))

#endif
