/* daemon/sim/sim_cublas.c - the sim's cuGetExportTable: table 1734dc26
 * only, the one the worker asks its driver for (daemon/worker_cublas.c).
 *
 * Like the real driver's it has 17 slots, slot 0 the table's size (0x88).
 * Entry 4 (void **begin, void **end) needs a current context (sim_enter's
 * codes, CUDA_ERROR_INVALID_CONTEXT with none, outputs untouched) and
 * hands out a malloc'd array of 0x50 bytes, as long as the H100's; the
 * sim has no SM layout, so the bytes are its own deterministic pattern
 * (i % 8, the H100's range of values). Entry 13 (begin, end) frees it.
 * Every other entry is CUDA_ERROR_NOT_SUPPORTED; any other GUID is
 * CUDA_ERROR_INVALID_VALUE with a NULL table, as the real driver refuses
 * an unknown one.
 */
#include "sim.h"
#include <stdlib.h>
#include <string.h>

enum { SLOTS = 17, LAYOUT_BYTES = 0x50 };

static const uint8_t layout_guid[16] = {
	0x17, 0x34, 0xdc, 0x26, 0x80, 0x0d, 0x47, 0x45,
	0x87, 0x26, 0xc0, 0xf1, 0xe7, 0xdd, 0x8b, 0xca};

static CUresult layout_get(void **begin, void **end)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!begin || !end)
		return CUDA_ERROR_INVALID_VALUE;
	uint8_t *a = malloc(LAYOUT_BYTES);
	if (!a)
		return CUDA_ERROR_OUT_OF_MEMORY;
	for (int i = 0; i < LAYOUT_BYTES; i++)
		a[i] = (uint8_t)(i % 8);
	*begin = a;
	*end = a + LAYOUT_BYTES;
	return CUDA_SUCCESS;
}

static CUresult layout_put(void *begin, void *end)
{
	(void)end;
	free(begin);
	return CUDA_SUCCESS;
}

static CUresult not_supported(void)
{
	return CUDA_ERROR_NOT_SUPPORTED;
}

static const void *table[SLOTS];

static void fill(void)
{
	table[0] = (const void *)(uintptr_t)(SLOTS * sizeof(void *));
	for (int i = 1; i < SLOTS; i++)
		table[i] = (const void *)(uintptr_t)not_supported;
	table[4] = (const void *)(uintptr_t)layout_get;
	table[13] = (const void *)(uintptr_t)layout_put;
}

CUresult sim_cuGetExportTable(const void **out, const CUuuid *id)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	if (!out || !id)
		return CUDA_ERROR_INVALID_VALUE;
	if (memcmp(id->bytes, layout_guid, 16)) {
		*out = NULL;
		return CUDA_ERROR_INVALID_VALUE;
	}
	pthread_once(&once, fill);
	*out = table;
	return CUDA_SUCCESS;
}
