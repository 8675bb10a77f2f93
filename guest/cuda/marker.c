/* guest/cuda/marker.c - marks this library as vgpu's guest libcuda.
 *
 * Contract: the library exports vgpu_guest_library_marker. vgpud checks
 * for it in the driver it is about to load and refuses such a library:
 * loading our own stand-in on the host (a misconfigured library path)
 * would make the daemon remote calls to itself instead of to the GPU.
 */
#include "export.h"

VGPU_EXPORT const char vgpu_guest_library_marker[] = "vgpu guest libcuda";
