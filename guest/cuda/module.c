/* guest/cuda/module.c - modules, functions and globals.
 *
 * An image (cubin, fatbin, fatbin wrapper or PTX text) is cut down to
 * what the device runs (lib_fatbin.h) and streamed to the worker, which
 * loads it with the real driver. A CUfunction handed to the
 * program points at a guest-side record holding the daemon's id and the
 * kernel's parameter layout and limits, so cuLaunchKernel marshals and
 * checks a launch without asking the daemon anything. */
#include "function.h"
#include "mem_space.h"
#include "lib.h"
#include "lib_fatbin.h"
#include <stdlib.h>
#include <string.h>

/* The device's compute capability, as fatbins encode it (90 for 9.0). */
static int device_sm(void)
{
	const int32_t *at = vgpu_cu.info.attrs;
	return at[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR] * 10 +
	       at[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR];
}

/* Ship the part of image this device runs (lib_fatbin.h); load it. */
/* Stream an image to the worker and load it there: its module id. */
static CUresult ship(const uint8_t *data, size_t len, uint64_t flags,
		     uint64_t *id)
{
	struct vgpu_cu_xfer x = {0, VGPU_CU_NO_STREAM};
	struct vgpu_cu_args a = {{flags}};
	CUresult r = vgpu_cu_stream_out(VGPU_CU_MODULE_LOAD, &x, data, len);
	if (!r)
		r = vgpu_cu_rpc(VGPU_CU_MODULE_COMMIT, &a, true,
				"cuModuleLoadData");
	if (!r)
		*id = a.a[0];
	return r;
}

CUresult vgpu_module_load(const void *image, uint64_t *id)
{
	return vgpu_module_load_as(image, 0, id);
}

CUresult vgpu_module_load_as(const void *image, uint64_t flags, uint64_t *id)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	struct vgpu_image im;
	if ((r = vgpu_image_prepare(image, device_sm(), &im)))
		return r;
	r = ship(im.data, im.len, flags, id);
	/* the host's driver chooses among entries by rules of its own (arch
	 * variants, entry flags): if it finds nothing to run in the cut, it
	 * gets the whole container, as a native load would */
	if ((r == CUDA_ERROR_NO_BINARY_FOR_GPU || r == CUDA_ERROR_INVALID_IMAGE ||
	     r == CUDA_ERROR_NOT_SUPPORTED) && im.whole)
		r = ship(im.whole, im.whole_len, flags, id);
	vgpu_image_release(&im);
	return r;
}

VGPU_EXPORT CUresult cuModuleLoadData(CUmodule *mod, const void *image)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!mod || !image)
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t id;
	if (!(r = vgpu_module_load(image, &id)))
		*mod = (CUmodule)(uintptr_t)id;
	return r;
}

VGPU_EXPORT CUresult cuModuleLoadDataEx(CUmodule *mod, const void *image,
					unsigned int n, CUjit_option *opts,
					void **vals)
{
	/* JIT options tune the host's compiler; results are the same */
	(void)n, (void)opts, (void)vals;
	return cuModuleLoadData(mod, image);
}

static CUresult lookup(uint16_t op, CUmodule mod, const char *name,
		       void *out, uint32_t cap, const char *call)
{
	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	return vgpu_name_lookup(op, (uint64_t)(uintptr_t)mod, name, out, cap,
				call); /* any length (lib_library.c) */
}

VGPU_EXPORT CUresult cuModuleGetFunction(CUfunction *fn, CUmodule mod,
					 const char *name)
{
	if (!fn)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_fn *f = calloc(1, sizeof(*f));
	if (!f)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult r = lookup(VGPU_CU_MODULE_GET_FUNCTION, mod, name, &f->info,
			    sizeof(f->info), "cuModuleGetFunction");
	if (r) {
		free(f);
		return r;
	}
	f->magic = VGPU_FN_MAGIC;
	f->conn = vgpu_cu_conn_id();
	vgpu_fn_register(f); /* graph kernel nodes name it again */
	*fn = (CUfunction)f;
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuModuleGetGlobal_v2(CUdeviceptr *dptr, size_t *bytes,
					  CUmodule mod, const char *name)
{
	struct vgpu_cu_args a = {{0}};
	CUresult r = lookup(VGPU_CU_MODULE_GET_GLOBAL, mod, name, &a, sizeof(a),
			    "cuModuleGetGlobal");
	if (r)
		return r;
	vgpu_space_note_global(a.a[0], a.a[1]); /* unified addressing */
	if (dptr)
		*dptr = a.a[0];
	if (bytes)
		*bytes = a.a[1];
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuFuncGetParamInfo(CUfunction fn, size_t index,
					size_t *offset, size_t *size)
{
	CUresult r = vgpu_cu_ready(); /* answered locally, but not before cuInit */
	if (r)
		return r;
	const struct vgpu_fn *f = vgpu_fn_of(fn);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (index >= f->info.nparams)
		return CUDA_ERROR_INVALID_VALUE;
	if (offset)
		*offset = f->info.offset[index];
	if (size)
		*size = f->info.size[index];
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute a,
					CUfunction fn)
{
	CUresult r = vgpu_cu_ready(); /* answered locally, but not before cuInit */
	if (r)
		return r;
	const struct vgpu_fn *f = vgpu_fn_of(fn);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!pi)
		return CUDA_ERROR_INVALID_VALUE;
	switch (a) {
	case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
		*pi = f->info.max_threads_per_block;
		return CUDA_SUCCESS;
	case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES:
		*pi = f->info.shared_size_bytes;
		return CUDA_SUCCESS;
	default: /* the rest from the worker (guest/cuda/func.c) */
		return vgpu_func_attr_remote(pi, a, f);
	}
}
