/* guest/cuda/launch.c - cuLaunchKernel: checked and marshalled here, sent
 * without a round trip.
 *
 * Launch-configuration errors are returned at once from the cached
 * function limits, as natively; the arguments are copied now (the program
 * may reuse its buffers as soon as the call returns); errors that only
 * the GPU can see surface at the next synchronising call. */
#include "function.h"
#include <stdio.h>
#include <string.h>

CUresult vgpu_unsupported_attr(const char *call, int a)
{
	static _Atomic int told;
	if (!atomic_exchange(&told, 1))
		fprintf(stderr, "vgpu: %s: attribute %d not answered yet "
			"(CUDA_ERROR_NOT_SUPPORTED)\n", call, a);
	return CUDA_ERROR_NOT_SUPPORTED;
}

/* Copy the arguments into p per the layout (kernelParams form) or from
 * the packed buffer (extra form). */
CUresult vgpu_launch_pack(const struct vgpu_fn *f, void **params,
			  void **extra, uint8_t *p, uint32_t cap,
			  uint32_t *len)
{
	const struct vgpu_cu_fninfo *fi = &f->info;
	if (fi->param_bytes > cap)
		return CUDA_ERROR_NOT_SUPPORTED;
	*len = fi->param_bytes;
	if (params) {
		for (uint32_t i = 0; i < fi->nparams; i++) {
			if (!params[i]) /* as the driver checks */
				return CUDA_ERROR_INVALID_VALUE;
			memcpy(p + fi->offset[i], params[i], fi->size[i]);
		}
		return CUDA_SUCCESS;
	}
	void *buf = NULL;
	size_t size = 0;
	for (; extra && extra[0] != CU_LAUNCH_PARAM_END; extra += 2) {
		if (extra[0] == CU_LAUNCH_PARAM_BUFFER_POINTER)
			buf = extra[1];
		else if (extra[0] == CU_LAUNCH_PARAM_BUFFER_SIZE && extra[1])
			size = *(size_t *)extra[1];
		else
			return CUDA_ERROR_INVALID_VALUE;
	}
	if (fi->param_bytes && (!buf || !size))
		return CUDA_ERROR_INVALID_VALUE;
	/* A buffer shorter than the parameters is taken, as the driver
	 * takes it: only its bytes are meaningful (NCCL declares a 4 KiB
	 * argument struct and passes the bytes it filled in); the rest is
	 * sent as zeros. A kernel without parameters launched with neither
	 * form: buf is NULL, and memcpy from NULL is undefined even for 0
	 * bytes (UBSan). */
	if (fi->param_bytes) {
		size_t n = size < fi->param_bytes ? size : fi->param_bytes;
		memcpy(p, buf, n);
		memset(p + n, 0, fi->param_bytes - n);
	}
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuLaunchKernel(CUfunction fn, unsigned gx, unsigned gy,
				    unsigned gz, unsigned bx, unsigned by,
				    unsigned bz, unsigned shared, CUstream s,
				    void **params, void **extra)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	const struct vgpu_fn *f = vgpu_fn_of(fn);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (params && extra)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_launch L = {.function = f->info.function,
				   .stream = (uint64_t)(uintptr_t)s,
				   .grid = {gx, gy, gz}, .block = {bx, by, bz},
				   .shared_bytes = shared};
	if ((r = vgpu_launch_check(f, L.grid, L.block, shared)))
		return r;
	uint8_t msg[VGPU_MAX_SLOT_SIZE];
	uint32_t cap = vgpu_inline_max(&vgpu_cu.conn.t.r) - (uint32_t)sizeof(L);
	if (f->info.param_bytes > cap) /* up to the driver's 32 KiB */
		return vgpu_launch_ex_send(f, &L, NULL, 0, params, extra);
	if ((r = vgpu_launch_pack(f, params, extra, msg + sizeof(L), cap,
				  &L.param_bytes)))
		return r;
	memcpy(msg, &L, sizeof(L));
	return vgpu_cu_call(VGPU_CU_LAUNCH, msg,
			    (uint32_t)sizeof(L) + L.param_bytes, NULL, 0, false,
			    "cuLaunchKernel");
}
