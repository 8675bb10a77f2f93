/* guest/cuda/export_cublas.c - the table cuBLAS requires, 21318c60.
 *
 * GUID 21318c60-9714-3248-8ca6-41ff7324c8f2, 93 slots (0x2e8), a context
 * interface of the driver's tools layer. Measured on driver 580
 * (reference/cuda13-driver-surface.md, docs/lib.md): the CUDA runtime does
 * without it, but cuBLAS refuses to run a GEMM (CUBLAS_STATUS_NOT_SUPPORTED)
 * when it is refused. cuBLAS calls entry 4, (CUcontext ctx,
 * unsigned long long *out): the context's unique id, as cuCtxGetId gives it,
 * and for a NULL context 0 with CUDA_SUCCESS (measured on driver 580 by
 * tests/gpu/lib_export: entry4(primary) = cuCtxGetId(primary) = 1,
 * entry4(NULL) = 0, rc 0; the current context is not consulted). A handle
 * with no workspace set also calls entries 51 (a stream's object) and 39
 * (that object's stream id): export_cublas_stream.c. Every other entry is
 * a logged stub returning CUDA_ERROR_NOT_SUPPORTED.
 */
#include "export_cublas_stream.h"
#include "export_table.h"

static CUresult context_id(CUcontext ctx, unsigned long long *out)
{
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	if (!ctx) {
		*out = 0;
		return CUDA_SUCCESS;
	}
	return cuCtxGetId(ctx, out);
}

#define NAME "CUBLAS_21318c60"

VGPU_EXPORT_STUB(cublas, NAME, 1)
VGPU_EXPORT_STUB(cublas, NAME, 2)
VGPU_EXPORT_STUB(cublas, NAME, 3)
VGPU_EXPORT_STUB(cublas, NAME, 5)
VGPU_EXPORT_STUB(cublas, NAME, 6)
VGPU_EXPORT_STUB(cublas, NAME, 7)
VGPU_EXPORT_STUB(cublas, NAME, 8)
VGPU_EXPORT_STUB(cublas, NAME, 9)
VGPU_EXPORT_STUB(cublas, NAME, 10)
VGPU_EXPORT_STUB(cublas, NAME, 11)
VGPU_EXPORT_STUB(cublas, NAME, 12)
VGPU_EXPORT_STUB(cublas, NAME, 13)
VGPU_EXPORT_STUB(cublas, NAME, 14)
VGPU_EXPORT_STUB(cublas, NAME, 15)
VGPU_EXPORT_STUB(cublas, NAME, 16)
VGPU_EXPORT_STUB(cublas, NAME, 17)
VGPU_EXPORT_STUB(cublas, NAME, 18)
VGPU_EXPORT_STUB(cublas, NAME, 19)
VGPU_EXPORT_STUB(cublas, NAME, 20)
VGPU_EXPORT_STUB(cublas, NAME, 21)
VGPU_EXPORT_STUB(cublas, NAME, 22)
VGPU_EXPORT_STUB(cublas, NAME, 23)
VGPU_EXPORT_STUB(cublas, NAME, 24)
VGPU_EXPORT_STUB(cublas, NAME, 25)
VGPU_EXPORT_STUB(cublas, NAME, 26)
VGPU_EXPORT_STUB(cublas, NAME, 27)
VGPU_EXPORT_STUB(cublas, NAME, 28)
VGPU_EXPORT_STUB(cublas, NAME, 29)
VGPU_EXPORT_STUB(cublas, NAME, 30)
VGPU_EXPORT_STUB(cublas, NAME, 31)
VGPU_EXPORT_STUB(cublas, NAME, 32)
VGPU_EXPORT_STUB(cublas, NAME, 33)
VGPU_EXPORT_STUB(cublas, NAME, 34)
VGPU_EXPORT_STUB(cublas, NAME, 35)
VGPU_EXPORT_STUB(cublas, NAME, 36)
VGPU_EXPORT_STUB(cublas, NAME, 37)
VGPU_EXPORT_STUB(cublas, NAME, 38)
VGPU_EXPORT_STUB(cublas, NAME, 40)
VGPU_EXPORT_STUB(cublas, NAME, 41)
VGPU_EXPORT_STUB(cublas, NAME, 42)
VGPU_EXPORT_STUB(cublas, NAME, 43)
VGPU_EXPORT_STUB(cublas, NAME, 44)
VGPU_EXPORT_STUB(cublas, NAME, 45)
VGPU_EXPORT_STUB(cublas, NAME, 46)
VGPU_EXPORT_STUB(cublas, NAME, 47)
VGPU_EXPORT_STUB(cublas, NAME, 48)
VGPU_EXPORT_STUB(cublas, NAME, 49)
VGPU_EXPORT_STUB(cublas, NAME, 50)
VGPU_EXPORT_STUB(cublas, NAME, 52)
VGPU_EXPORT_STUB(cublas, NAME, 53)
VGPU_EXPORT_STUB(cublas, NAME, 54)
VGPU_EXPORT_STUB(cublas, NAME, 55)
VGPU_EXPORT_STUB(cublas, NAME, 56)
VGPU_EXPORT_STUB(cublas, NAME, 57)
VGPU_EXPORT_STUB(cublas, NAME, 58)
VGPU_EXPORT_STUB(cublas, NAME, 59)
VGPU_EXPORT_STUB(cublas, NAME, 60)
VGPU_EXPORT_STUB(cublas, NAME, 61)
VGPU_EXPORT_STUB(cublas, NAME, 62)
VGPU_EXPORT_STUB(cublas, NAME, 63)
VGPU_EXPORT_STUB(cublas, NAME, 64)
VGPU_EXPORT_STUB(cublas, NAME, 65)
VGPU_EXPORT_STUB(cublas, NAME, 66)
VGPU_EXPORT_STUB(cublas, NAME, 67)
VGPU_EXPORT_STUB(cublas, NAME, 68)
VGPU_EXPORT_STUB(cublas, NAME, 69)
VGPU_EXPORT_STUB(cublas, NAME, 70)
VGPU_EXPORT_STUB(cublas, NAME, 71)
VGPU_EXPORT_STUB(cublas, NAME, 72)
VGPU_EXPORT_STUB(cublas, NAME, 73)
VGPU_EXPORT_STUB(cublas, NAME, 74)
VGPU_EXPORT_STUB(cublas, NAME, 75)
VGPU_EXPORT_STUB(cublas, NAME, 76)
VGPU_EXPORT_STUB(cublas, NAME, 77)
VGPU_EXPORT_STUB(cublas, NAME, 78)
VGPU_EXPORT_STUB(cublas, NAME, 79)
VGPU_EXPORT_STUB(cublas, NAME, 80)
VGPU_EXPORT_STUB(cublas, NAME, 81)
VGPU_EXPORT_STUB(cublas, NAME, 82)
VGPU_EXPORT_STUB(cublas, NAME, 83)
VGPU_EXPORT_STUB(cublas, NAME, 84)
VGPU_EXPORT_STUB(cublas, NAME, 85)
VGPU_EXPORT_STUB(cublas, NAME, 86)
VGPU_EXPORT_STUB(cublas, NAME, 87)
VGPU_EXPORT_STUB(cublas, NAME, 88)
VGPU_EXPORT_STUB(cublas, NAME, 89)
VGPU_EXPORT_STUB(cublas, NAME, 90)
VGPU_EXPORT_STUB(cublas, NAME, 91)
VGPU_EXPORT_STUB(cublas, NAME, 92)

static const vgpu_slot slots[93] = {
	VGPU_SLOT_SIZE(93),
	VGPU_SLOT(cublas_stub_1),
	VGPU_SLOT(cublas_stub_2),
	VGPU_SLOT(cublas_stub_3),
	VGPU_SLOT(context_id),
	VGPU_SLOT(cublas_stub_5),
	VGPU_SLOT(cublas_stub_6),
	VGPU_SLOT(cublas_stub_7),
	VGPU_SLOT(cublas_stub_8),
	VGPU_SLOT(cublas_stub_9),
	VGPU_SLOT(cublas_stub_10),
	VGPU_SLOT(cublas_stub_11),
	VGPU_SLOT(cublas_stub_12),
	VGPU_SLOT(cublas_stub_13),
	VGPU_SLOT(cublas_stub_14),
	VGPU_SLOT(cublas_stub_15),
	VGPU_SLOT(cublas_stub_16),
	VGPU_SLOT(cublas_stub_17),
	VGPU_SLOT(cublas_stub_18),
	VGPU_SLOT(cublas_stub_19),
	VGPU_SLOT(cublas_stub_20),
	VGPU_SLOT(cublas_stub_21),
	VGPU_SLOT(cublas_stub_22),
	VGPU_SLOT(cublas_stub_23),
	VGPU_SLOT(cublas_stub_24),
	VGPU_SLOT(cublas_stub_25),
	VGPU_SLOT(cublas_stub_26),
	VGPU_SLOT(cublas_stub_27),
	VGPU_SLOT(cublas_stub_28),
	VGPU_SLOT(cublas_stub_29),
	VGPU_SLOT(cublas_stub_30),
	VGPU_SLOT(cublas_stub_31),
	VGPU_SLOT(cublas_stub_32),
	VGPU_SLOT(cublas_stub_33),
	VGPU_SLOT(cublas_stub_34),
	VGPU_SLOT(cublas_stub_35),
	VGPU_SLOT(cublas_stub_36),
	VGPU_SLOT(cublas_stub_37),
	VGPU_SLOT(cublas_stub_38),
	VGPU_SLOT(vgpu_cublas_stream_id),
	VGPU_SLOT(cublas_stub_40),
	VGPU_SLOT(cublas_stub_41),
	VGPU_SLOT(cublas_stub_42),
	VGPU_SLOT(cublas_stub_43),
	VGPU_SLOT(cublas_stub_44),
	VGPU_SLOT(cublas_stub_45),
	VGPU_SLOT(cublas_stub_46),
	VGPU_SLOT(cublas_stub_47),
	VGPU_SLOT(cublas_stub_48),
	VGPU_SLOT(cublas_stub_49),
	VGPU_SLOT(cublas_stub_50),
	VGPU_SLOT(vgpu_cublas_stream_object),
	VGPU_SLOT(cublas_stub_52),
	VGPU_SLOT(cublas_stub_53),
	VGPU_SLOT(cublas_stub_54),
	VGPU_SLOT(cublas_stub_55),
	VGPU_SLOT(cublas_stub_56),
	VGPU_SLOT(cublas_stub_57),
	VGPU_SLOT(cublas_stub_58),
	VGPU_SLOT(cublas_stub_59),
	VGPU_SLOT(cublas_stub_60),
	VGPU_SLOT(cublas_stub_61),
	VGPU_SLOT(cublas_stub_62),
	VGPU_SLOT(cublas_stub_63),
	VGPU_SLOT(cublas_stub_64),
	VGPU_SLOT(cublas_stub_65),
	VGPU_SLOT(cublas_stub_66),
	VGPU_SLOT(cublas_stub_67),
	VGPU_SLOT(cublas_stub_68),
	VGPU_SLOT(cublas_stub_69),
	VGPU_SLOT(cublas_stub_70),
	VGPU_SLOT(cublas_stub_71),
	VGPU_SLOT(cublas_stub_72),
	VGPU_SLOT(cublas_stub_73),
	VGPU_SLOT(cublas_stub_74),
	VGPU_SLOT(cublas_stub_75),
	VGPU_SLOT(cublas_stub_76),
	VGPU_SLOT(cublas_stub_77),
	VGPU_SLOT(cublas_stub_78),
	VGPU_SLOT(cublas_stub_79),
	VGPU_SLOT(cublas_stub_80),
	VGPU_SLOT(cublas_stub_81),
	VGPU_SLOT(cublas_stub_82),
	VGPU_SLOT(cublas_stub_83),
	VGPU_SLOT(cublas_stub_84),
	VGPU_SLOT(cublas_stub_85),
	VGPU_SLOT(cublas_stub_86),
	VGPU_SLOT(cublas_stub_87),
	VGPU_SLOT(cublas_stub_88),
	VGPU_SLOT(cublas_stub_89),
	VGPU_SLOT(cublas_stub_90),
	VGPU_SLOT(cublas_stub_91),
	VGPU_SLOT(cublas_stub_92),
};

const struct vgpu_export_table vgpu_export_cublas = {
	NAME,
	{0x21, 0x31, 0x8c, 0x60, 0x97, 0x14, 0x32, 0x48, 0x8c, 0xa6, 0x41, 0xff,
	 0x73, 0x24, 0xc8, 0xf2},
	slots, 93,
};
