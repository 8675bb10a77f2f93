/* guest/cuda/export_tools_tls.c - TOOLS_TLS.
 *
 * GUID 42d85a81-23f6-cb47-8298-f6e78a3aecdc, 3 slots (0x18). Entry 2 is
 * (CUcontext *out) -> CUresult: the calling thread's current context, read
 * from thread-local state as cuCtxGetCurrent reads it (NULL when none is
 * current). cuBLASLt 13.1 calls it before each heuristics candidate and
 * passes the context to entry 4 of cuBLAS's table (its id,
 * export_cublas.c); with anything but the current context the ids differ
 * and cublasLtMatmulAlgoGetHeuristic fails ("Failed to query heuristics",
 * cublasSgemm: CUBLAS_STATUS_NOT_SUPPORTED). Measured on driver 580
 * (tests/gpu/tools_tls.c): success and NULL after cuInit with no context
 * current; under cuBLAS a context-sized heap object that entry 4 maps to
 * id 1. Entry 1 is not known to be called: a logged stub.
 */
#include "export_table.h"

#define TLS "TOOLS_TLS"

static CUresult tls_current_ctx(CUcontext *out)
{
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	return cuCtxGetCurrent(out);
}

VGPU_EXPORT_STUB(tls, TLS, 1)

static const vgpu_slot tls_slots[3] = {
	VGPU_SLOT_SIZE(3),
	VGPU_SLOT(tls_stub_1),
	VGPU_SLOT(tls_current_ctx),
};

const struct vgpu_export_table vgpu_export_tools_tls = {
	TLS,
	{0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47, 0x82, 0x98, 0xf6, 0xe7,
	 0x8a, 0x3a, 0xec, 0xdc},
	tls_slots, 3,
};
