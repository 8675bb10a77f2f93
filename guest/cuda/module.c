/* guest/cuda/module.c - modules, functions and globals.
 *
 * An image (cubin, fatbin, fatbin wrapper or PTX text) is streamed to the
 * worker, which loads it with the real driver. A CUfunction handed to the
 * program points at a guest-side record holding the daemon's id and the
 * kernel's parameter layout and limits, so cuLaunchKernel marshals and
 * checks a launch without asking the daemon anything. */
#include "function.h"
#include "mem_space.h"
#include <stdlib.h>
#include <string.h>

#define FATBIN_MAGIC 0xBA55ED50u
#define WRAPPER_MAGIC 0x466243B1u

/* Bytes an image occupies, from its own headers (the API passes none). */
static size_t image_size(const uint8_t *p)
{
	uint32_t magic;
	memcpy(&magic, p, 4);
	if (!memcmp(p, "\177ELF", 4)) {
		uint64_t shoff, phoff;
		uint16_t shentsize, shnum, phentsize, phnum;
		memcpy(&phoff, p + 32, 8);
		memcpy(&shoff, p + 40, 8);
		memcpy(&phentsize, p + 54, 2);
		memcpy(&phnum, p + 56, 2);
		memcpy(&shentsize, p + 58, 2);
		memcpy(&shnum, p + 60, 2);
		uint64_t sh = shoff + (uint64_t)shentsize * shnum;
		uint64_t ph = phoff + (uint64_t)phentsize * phnum;
		return sh > ph ? sh : ph; /* section headers come last */
	}
	if (magic == FATBIN_MAGIC) {
		uint16_t hdr;
		uint64_t files;
		memcpy(&hdr, p + 6, 2);
		memcpy(&files, p + 8, 8);
		return hdr + files;
	}
	return strlen((const char *)p) + 1; /* PTX */
}

static const uint8_t *unwrap(const uint8_t *p)
{
	uint32_t magic;
	memcpy(&magic, p, 4);
	if (magic != WRAPPER_MAGIC)
		return p;
	const uint8_t *data;
	memcpy(&data, p + 8, sizeof(data)); /* { magic, version, data, ... } */
	return data;
}

VGPU_EXPORT CUresult cuModuleLoadData(CUmodule *mod, const void *image)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!mod || !image)
		return CUDA_ERROR_INVALID_VALUE;
	const uint8_t *img = unwrap(image);
	struct vgpu_cu_xfer x = {0, VGPU_CU_NO_STREAM};
	r = vgpu_cu_stream_out(VGPU_CU_MODULE_LOAD, &x, img, image_size(img));
	struct vgpu_cu_args a = {{0}};
	if (!r)
		r = vgpu_cu_rpc(VGPU_CU_MODULE_COMMIT, &a, true,
				"cuModuleLoadData");
	if (!r)
		*mod = (CUmodule)(uintptr_t)a.a[0];
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
	struct vgpu_cu_getfn g = {.module = (uint64_t)(uintptr_t)mod};
	if (!name || strlen(name) >= sizeof(g.name))
		return CUDA_ERROR_INVALID_VALUE;
	strcpy(g.name, name);
	return vgpu_cu_call(op, &g, sizeof(g), out, cap, true, call);
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
	default:
		return vgpu_unsupported_attr("cuFuncGetAttribute", (int)a);
	}
}
