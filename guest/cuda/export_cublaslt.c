/* guest/cuda/export_cublaslt.c - table 1734dc26, asked for by cuBLASLt.
 *
 * GUID 1734dc26-800d-4745-8726-c0f1e7dd8bca, 17 slots (0x88, measured on
 * driver 580, reference/cuda13-driver-surface.md). Refusing it is not
 * safe: cuBLASLt 13.1 keeps the pointer cuGetExportTable gives (NULL when
 * refused) and on its bf16 GEMM path calls entry 4 through it unchecked
 * (SIGSEGV in PyTorch's bf16 matmul through vgpu). Entry 4 is
 * (void **begin, void **end): on the H100 (driver 580, 132 SMs) it hands
 * out a driver-allocated byte array of 0x50 bytes describing the GPU's
 * SM layout (small indices 0-7), CUDA_ERROR_INVALID_CONTEXT with no
 * current context, out-parameters untouched; entry 13 (begin, end) gives
 * it back. When entry 4 fails cuBLASLt takes its own fallback (no layout)
 * and never calls 13. The array's encoding is not public, so every entry,
 * 4 and 13 included, is a logged stub answering CUDA_ERROR_NOT_SUPPORTED
 * and writing nothing: cuBLASLt then runs its fallback, as measured
 * (bf16 GEMM digests equal the native run's).
 */
#include "export_table.h"

#define NAME "CUBLASLT_1734dc26"

VGPU_EXPORT_STUB(cublaslt, NAME, 1)
VGPU_EXPORT_STUB(cublaslt, NAME, 2)
VGPU_EXPORT_STUB(cublaslt, NAME, 3)
VGPU_EXPORT_STUB(cublaslt, NAME, 4)
VGPU_EXPORT_STUB(cublaslt, NAME, 5)
VGPU_EXPORT_STUB(cublaslt, NAME, 6)
VGPU_EXPORT_STUB(cublaslt, NAME, 7)
VGPU_EXPORT_STUB(cublaslt, NAME, 8)
VGPU_EXPORT_STUB(cublaslt, NAME, 9)
VGPU_EXPORT_STUB(cublaslt, NAME, 10)
VGPU_EXPORT_STUB(cublaslt, NAME, 11)
VGPU_EXPORT_STUB(cublaslt, NAME, 12)
VGPU_EXPORT_STUB(cublaslt, NAME, 13)
VGPU_EXPORT_STUB(cublaslt, NAME, 14)
VGPU_EXPORT_STUB(cublaslt, NAME, 15)
VGPU_EXPORT_STUB(cublaslt, NAME, 16)

static const vgpu_slot slots[17] = {
	VGPU_SLOT_SIZE(17),
	VGPU_SLOT(cublaslt_stub_1),
	VGPU_SLOT(cublaslt_stub_2),
	VGPU_SLOT(cublaslt_stub_3),
	VGPU_SLOT(cublaslt_stub_4),
	VGPU_SLOT(cublaslt_stub_5),
	VGPU_SLOT(cublaslt_stub_6),
	VGPU_SLOT(cublaslt_stub_7),
	VGPU_SLOT(cublaslt_stub_8),
	VGPU_SLOT(cublaslt_stub_9),
	VGPU_SLOT(cublaslt_stub_10),
	VGPU_SLOT(cublaslt_stub_11),
	VGPU_SLOT(cublaslt_stub_12),
	VGPU_SLOT(cublaslt_stub_13),
	VGPU_SLOT(cublaslt_stub_14),
	VGPU_SLOT(cublaslt_stub_15),
	VGPU_SLOT(cublaslt_stub_16),
};

const struct vgpu_export_table vgpu_export_cublaslt = {
	NAME,
	{0x17, 0x34, 0xdc, 0x26, 0x80, 0x0d, 0x47, 0x45, 0x87, 0x26, 0xc0, 0xf1,
	 0xe7, 0xdd, 0x8b, 0xca},
	slots, 17,
};
