/* daemon/backend_cuda.c - the real driver, loaded by path with dlopen. */
#define _GNU_SOURCE
#include "backend.h"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int vgpu_backend_cuda_open(struct vgpu_driver *d, const char *path, char *err,
			   size_t errlen)
{
	memset(d, 0, sizeof(*d));
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, errlen,
			 "cannot load the NVIDIA driver '%s': %s (set 'driver' in "
			 "vgpud.conf to the host's libcuda.so.1)", path, dlerror());
		return -1;
	}
	/* vgpud on top of vgpu's own guest library would talk to itself */
	if (dlsym(h, "vgpu_guest_library_marker")) {
		snprintf(err, errlen,
			 "'%s' is vgpu's guest library, not NVIDIA's driver: point "
			 "'driver' in vgpud.conf at the real libcuda.so.1", path);
		dlclose(h);
		return -1;
	}
#define X(name, params)                                                       \
	if (!(d->name = (CUresult(*) params)dlsym(h, #name))) {               \
		snprintf(err, errlen, "'%s' has no %s: driver too old for "   \
			 "vgpu (CUDA 12.4 or newer needed)", path, #name);    \
		dlclose(h);                                                   \
		return -1;                                                    \
	}
#include "driver.def"
#undef X
	d->backend = "cuda";
	d->dl = h;
	return 0;
}

void vgpu_backend_close(struct vgpu_driver *d)
{
	if (d->dl)
		dlclose(d->dl);
	memset(d, 0, sizeof(*d));
}
