/* guest/cuda/export_cudart.c - CUDART_INTERFACE, the runtime's entry to
 * module loading and the primary context.
 *
 * GUID 6bd5fb6c-5bf4-e74a-8987-d93912fd9df9, 13 slots (0x68 bytes in slot
 * 0, as driver 580 gives CUDA 13 runtimes). Public notes (ZLUDA dark_api,
 * reference/dark-api-and-discovery.md) give:
 *  1  (CUmodule *out, fatbin wrapper *)            load a module
 *  2  (CUcontext *out, CUdevice)                   the device's primary
 *                                                  context, not retained
 *  6  (CUmodule *out, wrapper *, p3, p4, u32 p5)   load, extended
 *  7  (size_t) -> void                             no effect
 *  8  (fatbin header *, CUmodule *out, p3, p4, u32) load a bare fatbin
 * 12  () -> CUresult                               load the JIT compilers
 * The meaning of p3..p5 is not public; every call seen passes 0 for them,
 * and other values are refused (CUDA_ERROR_NOT_SUPPORTED, logged) rather
 * than ignored. Modules load through the module path (lib_fatbin.h:
 * wrappers of version 1 and 2).
 */
#include "export_table.h"
#include "lib.h"
#include "rpc.h"

#define NAME "CUDART_INTERFACE"

/* The runtime may load before it makes the primary context current:
 * loaded there (guest/cuda/lib.h), as the driver does. */
static CUresult load_module(CUmodule *out, const void *image)
{
	if (!out || !image)
		return CUDA_ERROR_INVALID_VALUE;
	bool pushed = vgpu_lib_ctx_enter();
	CUresult r = cuModuleLoadData(out, image);
	vgpu_lib_ctx_leave(pushed);
	return r;
}

static CUresult get_module_from_cubin(CUmodule *out, const void *wrapper)
{
	return load_module(out, wrapper);
}

static CUresult primary_context(CUcontext *pctx, CUdevice dev)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	return vgpu_cu_primary_ctx_of(dev, pctx);
}

static CUresult get_module_from_cubin_ext1(CUmodule *out, const void *wrapper,
					   void *p3, void *p4, unsigned p5)
{
	if (p3 || p4 || p5)
		return (CUresult)vgpu_export_unknown(NAME, 6);
	return load_module(out, wrapper);
}

static void no_effect(size_t arg)
{
	(void)arg;
}

static CUresult get_module_from_cubin_ext2(const void *fatbin, CUmodule *out,
					   void *p3, void *p4, unsigned p5)
{
	if (p3 || p4 || p5)
		return (CUresult)vgpu_export_unknown(NAME, 8);
	return load_module(out, fatbin);
}

/* The host's driver loads its compilers itself when it needs them. */
static CUresult load_compilers(void)
{
	return CUDA_SUCCESS;
}

VGPU_EXPORT_STUB(cudart, NAME, 3)
VGPU_EXPORT_STUB(cudart, NAME, 4)
VGPU_EXPORT_STUB(cudart, NAME, 5)
VGPU_EXPORT_STUB(cudart, NAME, 9)
VGPU_EXPORT_STUB(cudart, NAME, 10)
VGPU_EXPORT_STUB(cudart, NAME, 11)

static const vgpu_slot slots[13] = {
	VGPU_SLOT_SIZE(13),
	VGPU_SLOT(get_module_from_cubin),
	VGPU_SLOT(primary_context),
	VGPU_SLOT(cudart_stub_3),
	VGPU_SLOT(cudart_stub_4),
	VGPU_SLOT(cudart_stub_5),
	VGPU_SLOT(get_module_from_cubin_ext1),
	VGPU_SLOT(no_effect),
	VGPU_SLOT(get_module_from_cubin_ext2),
	VGPU_SLOT(cudart_stub_9),
	VGPU_SLOT(cudart_stub_10),
	VGPU_SLOT(cudart_stub_11),
	VGPU_SLOT(load_compilers),
};

const struct vgpu_export_table vgpu_export_cudart = {
	NAME,
	{0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39,
	 0x12, 0xfd, 0x9d, 0xf9},
	slots, 13,
};
