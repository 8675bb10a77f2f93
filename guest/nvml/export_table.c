/* guest/nvml/export_table.c - nvmlInternalGetExportTable.
 *
 * nvidia-smi asks NVML for a private table of entry points by GUID
 * (c4 fe 3e 6c c9 8f 6c 4e a3 27 ee 69 6e 12 f7 c4, bytes in memory order)
 * before it prints anything. vgpu implements none of those private calls,
 * so for that GUID it hands out an empty table: 512 slots of zeros, whose
 * first slot (a table's size, by the convention of NVIDIA's export tables)
 * says it holds nothing, the answer another remoting NVML (Lupine) gives
 * and nvidia-smi accepts. No slot points at a function that would claim
 * success for work it did not do. Any other GUID is INVALID_ARGUMENT, as
 * the driver's cuGetExportTable answers unknown tables. Whether every
 * nvidia-smi view works this way is checked on the GPU host
 * (tests/gpu/run.sh runs the real nvidia-smi through vgpu). */
#include "internal.h"
#include <string.h>

static const unsigned char smi_table_id[16] = {
	0xc4, 0xfe, 0x3e, 0x6c, 0xc9, 0x8f, 0x6c, 0x4e,
	0xa3, 0x27, 0xee, 0x69, 0x6e, 0x12, 0xf7, 0xc4};

static const void *const empty_table[512];

VGPU_EXPORT nvmlReturn_t nvmlInternalGetExportTable(const void **table,
						     const void *id)
{
	if (!table || !id)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (memcmp(id, smi_table_id, sizeof(smi_table_id))) {
		*table = NULL;
		return NVML_ERROR_INVALID_ARGUMENT;
	}
	*table = empty_table;
	return NVML_SUCCESS;
}
