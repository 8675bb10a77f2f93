/* guest/nvml/marker.c - marks this library as vgpu's guest NVML.
 *
 * Contract: like the guest libcuda (guest/cuda/marker.c), the library
 * exports vgpu_guest_library_marker; vgpud refuses to sample a host
 * libnvidia-ml.so.1 that has it (a library path pointing at our own). */
#include "../cuda/export.h"

VGPU_EXPORT const char vgpu_guest_library_marker[] = "vgpu guest libnvidia-ml";
