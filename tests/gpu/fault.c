/* tests/gpu/fault.c - a guest process whose kernel faults.
 *
 * Usage: fault KERNELS.cubin
 * Launches vgpu_fault on an address no allocation covers; the context is
 * then lost, as natively: exit 0 if the next synchronising call reports
 * CUDA_ERROR_ILLEGAL_ADDRESS. Run beside another guest process to show
 * the fault stays in this process's context. */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fault KERNELS.cubin\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	static char img[1 << 22];
	size_t n = f ? fread(img, 1, sizeof(img) - 1, f) : 0;
	if (f)
		fclose(f);
	CUdevice dev;
	CUcontext ctx;
	CUmodule mod;
	CUfunction fn;
	if (!n || cuInit(0) || cuDeviceGet(&dev, 0) ||
	    cuDevicePrimaryCtxRetain(&ctx, dev) || cuCtxSetCurrent(ctx) ||
	    cuModuleLoadData(&mod, img) ||
	    cuModuleGetFunction(&fn, mod, "vgpu_fault")) {
		printf("fault: setup failed\n");
		return 1;
	}
	int *bad = (int *)(uintptr_t)0x10;
	void *args[] = {&bad};
	CUresult r = cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL);
	if (r == CUDA_SUCCESS)
		r = cuCtxSynchronize();
	printf("fault: cuCtxSynchronize after a bad write = %d\n", (int)r);
	return r == CUDA_ERROR_ILLEGAL_ADDRESS ? 0 : 1;
}
