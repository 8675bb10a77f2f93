/* daemon/backend.h - the driver vgpud executes calls on.
 *
 * Contract: a backend fills a struct vgpu_driver (one function pointer per
 * entry of daemon/driver.def, same names and ABI as the real driver) and a
 * description of itself. `cuda` resolves the real driver with dlopen/dlsym;
 * `sim` is a CPU test double (daemon/sim/): device memory in host RAM, each
 * stream executed asynchronously on its own thread with small random delays,
 * real nvcc cubins/fatbins parsed for kernel names and parameter layouts,
 * and a handful of named test kernels implemented in C. The rest of the
 * daemon never knows which one it talks to.
 */
#ifndef VGPU_DAEMON_BACKEND_H
#define VGPU_DAEMON_BACKEND_H

#include <cuda.h>
#include <stddef.h>

struct vgpu_driver {
#define X(name, params) CUresult (*name) params;
#include "driver.def"
#undef X
	const char *backend;  /* "cuda" or "sim" */
	void *dl;             /* dlopen handle (cuda) */
};

/* Load the real driver at path. Refuses vgpu's own guest library (it
 * exports vgpu_guest_library_marker) with a message saying so. 0 or -1. */
int vgpu_backend_cuda_open(struct vgpu_driver *d, const char *path,
			   char *err, size_t errlen);
/* The CPU test double. 0 or -1. */
int vgpu_backend_sim_open(struct vgpu_driver *d, char *err, size_t errlen);
void vgpu_backend_close(struct vgpu_driver *d);

#endif
