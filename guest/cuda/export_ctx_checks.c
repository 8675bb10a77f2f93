/* guest/cuda/export_ctx_checks.c - CONTEXT_CHECKS.
 *
 * GUID 263e8860-7cd2-6143-92f6-bbd5006dfa7e, 15 slots (0x78). Public notes
 * (ZLUDA dark_api) and calls seen on driver 580 give:
 *  2 (CUcontext ctx, uint32_t *flags, void **out) -> CUDA_SUCCESS with
 *    *flags = 0: the bits it reports were never seen set
 *  3 (...) -> 0
 * The runtime and cuBLAS call both; the rest are logged stubs.
 */
#include "export_table.h"
#include "rpc.h"

#define NAME "CONTEXT_CHECKS"

static CUresult context_check(CUcontext ctx, uint32_t *flags, void **out)
{
	(void)ctx, (void)out;
	if (flags)
		*flags = 0;
	return CUDA_SUCCESS;
}

static uint32_t check_3(void)
{
	return 0;
}

VGPU_EXPORT_STUB(ctxchk, NAME, 1)
VGPU_EXPORT_STUB(ctxchk, NAME, 4)
VGPU_EXPORT_STUB(ctxchk, NAME, 5)
VGPU_EXPORT_STUB(ctxchk, NAME, 6)
VGPU_EXPORT_STUB(ctxchk, NAME, 7)
VGPU_EXPORT_STUB(ctxchk, NAME, 8)
VGPU_EXPORT_STUB(ctxchk, NAME, 9)
VGPU_EXPORT_STUB(ctxchk, NAME, 10)
VGPU_EXPORT_STUB(ctxchk, NAME, 11)
VGPU_EXPORT_STUB(ctxchk, NAME, 12)
VGPU_EXPORT_STUB(ctxchk, NAME, 13)
VGPU_EXPORT_STUB(ctxchk, NAME, 14)

static const vgpu_slot slots[15] = {
	VGPU_SLOT_SIZE(15),
	VGPU_SLOT(ctxchk_stub_1),
	VGPU_SLOT(context_check),
	VGPU_SLOT(check_3),
	VGPU_SLOT(ctxchk_stub_4),
	VGPU_SLOT(ctxchk_stub_5),
	VGPU_SLOT(ctxchk_stub_6),
	VGPU_SLOT(ctxchk_stub_7),
	VGPU_SLOT(ctxchk_stub_8),
	VGPU_SLOT(ctxchk_stub_9),
	VGPU_SLOT(ctxchk_stub_10),
	VGPU_SLOT(ctxchk_stub_11),
	VGPU_SLOT(ctxchk_stub_12),
	VGPU_SLOT(ctxchk_stub_13),
	VGPU_SLOT(ctxchk_stub_14),
};

const struct vgpu_export_table vgpu_export_ctx_checks = {
	NAME,
	{0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43, 0x92, 0xf6, 0xbb, 0xd5,
	 0x00, 0x6d, 0xfa, 0x7e},
	slots, 15,
};
