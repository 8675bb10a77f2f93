/* daemon/sim/sim_cublas.c - the sim's cuGetExportTable: table 1734dc26
 * only, the one the worker asks its driver for (daemon/worker_cublas.c).
 *
 * Like the real driver's it has 17 slots, slot 0 the table's size (0x88).
 * Entry 4 (uint8_t **a, uint8_t **b) needs a current context (sim_enter's
 * codes, CUDA_ERROR_INVALID_CONTEXT with none, outputs untouched) and
 * hands out two malloc'd arrays of one byte per TPC (66: the sim has 132
 * SMs), as the H100's driver does: a TPC's GPC (round-robin over 8) and
 * its index in that GPC, the shape the H100's arrays have (the real one
 * skips GPCs whose TPCs ran out). Entry 13 (a, b) frees both.
 * Every other entry is CUDA_ERROR_NOT_SUPPORTED; any other GUID is
 * CUDA_ERROR_INVALID_VALUE with a NULL table, as the real driver refuses
 * an unknown one.
 */
#include "sim.h"
#include <stdlib.h>
#include <string.h>

enum { SLOTS = 17, TPCS = 66, GPCS = 8 };

static const uint8_t layout_guid[16] = {
	0x17, 0x34, 0xdc, 0x26, 0x80, 0x0d, 0x47, 0x45,
	0x87, 0x26, 0xc0, 0xf1, 0xe7, 0xdd, 0x8b, 0xca};

static CUresult layout_get(void **pa, void **pb)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!pa || !pb)
		return CUDA_ERROR_INVALID_VALUE;
	uint8_t *a = malloc(TPCS), *b = malloc(TPCS);
	if (!a || !b) {
		free(a);
		free(b);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	for (int i = 0; i < TPCS; i++) {
		a[i] = (uint8_t)(i % GPCS);
		b[i] = (uint8_t)(i / GPCS);
	}
	*pa = a;
	*pb = b;
	return CUDA_SUCCESS;
}

static CUresult layout_put(void *a, void *b)
{
	free(a);
	free(b);
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
