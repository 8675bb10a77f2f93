/* guest/cuda/export_table.c - cuGetExportTable: find a table by GUID.
 *
 * Contract: see export_table.h. Answered without cuInit (cudart asks
 * before it initialises the driver). A GUID we do not provide gets
 * CUDA_ERROR_INVALID_VALUE and a NULL table; with VGPU_LOG=debug each
 * refusal is logged once per GUID. Calls to unimplemented entries are
 * logged once per entry whatever the log level, but VGPU_LOG=quiet: they
 * mean a runtime needs something we lack.
 */
#include "export.h"
#include "export_table.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct vgpu_export_table *const tables[] = {
	&vgpu_export_cudart,     &vgpu_export_tools_hooks,
	&vgpu_export_tools_tls,  &vgpu_export_cls,
	&vgpu_export_ctx_checks, &vgpu_export_integrity,
	&vgpu_export_cublas,     &vgpu_export_cublaslt,
	&vgpu_export_nvrtc_cache,
};

const struct vgpu_export_table *vgpu_export_find(const uint8_t guid[16])
{
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (!memcmp(tables[i]->guid, guid, 16))
			return tables[i];
	return NULL;
}

static bool log_is(const char *level)
{
	const char *v = getenv("VGPU_LOG");
	return v && !strcmp(v, level);
}

/* One write(2) per line, errno kept: called from the runtime's threads. */
static void say(const char *line)
{
	int saved = errno;
	ssize_t w = write(STDERR_FILENO, line, strlen(line));
	(void)w;
	errno = saved;
}

/* GUIDs refused so far (a handful: the callers ask a few times each). */
#define SEEN 64
static uint8_t seen[SEEN][16];
static int nseen;
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;

static void log_refusal(const uint8_t g[16])
{
	if (!log_is("debug"))
		return;
	pthread_mutex_lock(&seen_mu);
	bool fresh = true;
	for (int i = 0; i < nseen && fresh; i++)
		fresh = memcmp(seen[i], g, 16) != 0;
	if (fresh && nseen < SEEN)
		memcpy(seen[nseen++], g, 16);
	pthread_mutex_unlock(&seen_mu);
	if (!fresh)
		return;
	char line[128], hex[33];
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", g[i]);
	snprintf(line, sizeof(line), "vgpu: cuGetExportTable %s refused "
		 "(CUDA_ERROR_INVALID_VALUE)\n", hex);
	say(line);
}

/* (table, slot) pairs already reported: a bitmap per table position. */
static _Atomic uint64_t told[16][2];

int vgpu_export_unknown(const char *name, int slot)
{
	size_t t = 0;
	while (t < 16 && t < sizeof(tables) / sizeof(tables[0]) &&
	       strcmp(tables[t]->name, name))
		t++;
	uint64_t bit = 1ull << (slot & 63);
	bool first = t >= 16 || slot < 0 || slot >= 128 ||
		     !(atomic_fetch_or(&told[t][slot >> 6], bit) & bit);
	if (first && !log_is("quiet")) {
		char line[160];
		snprintf(line, sizeof(line), "vgpu: export table %s entry %d is "
			 "not implemented (CUDA_ERROR_NOT_SUPPORTED)\n", name,
			 slot);
		say(line);
	}
	return CUDA_ERROR_NOT_SUPPORTED;
}

VGPU_EXPORT CUresult cuGetExportTable(const void **ppExportTable,
				      const CUuuid *pExportTableId)
{
	if (!ppExportTable || !pExportTableId)
		return CUDA_ERROR_INVALID_VALUE;
	const struct vgpu_export_table *t =
		vgpu_export_find((const uint8_t *)pExportTableId->bytes);
	if (!t) {
		*ppExportTable = NULL;
		log_refusal((const uint8_t *)pExportTableId->bytes);
		return CUDA_ERROR_INVALID_VALUE;
	}
	*ppExportTable = (const void *)t->slots;
	return CUDA_SUCCESS;
}
