/* guest/cuda/marker.c - marks this library as vgpu's guest libcuda.
 *
 * Contract: the library exports vgpu_guest_library_marker. vgpud checks
 * for it in the driver it is about to load and refuses such a library:
 * loading our own stand-in on the host (a misconfigured library path)
 * would make the daemon remote calls to itself instead of to the GPU.
 * It also exports vgpu_guest_round_trips(): how many calls of this
 * process waited for vgpud's answer (synchronous requests and bulk
 * streams), so bench/cuda_calls can count the blocking round trips a
 * steady-state launch costs (dlsym: absent from the real driver).
 */
#include "export.h"
#include "rpc.h"

VGPU_EXPORT const char vgpu_guest_library_marker[] = "vgpu guest libcuda";

VGPU_EXPORT uint64_t vgpu_guest_round_trips(void)
{
	return atomic_load(&vgpu_cu_round_trips);
}
