/* guest/cuda/export_nvrtc_cache.c - table da9151d3, NVRTC's compute cache.
 *
 * Contract: NVRTC 13 (docs/torch.md, measured with
 * tools/nvrtc_cache_probe) makes a key per compile stage with slot 1,
 * looks it up with slot 3, stores a result with slot 4 after a miss,
 * frees a hit's data with slot 6 (slot 0 > 0x30 tells it slot 6 is
 * there) and drops the key with slot 2. Any failure only costs NVRTC its
 * cache (it compiles in full; measured for each slot). The key is every
 * byte slot 1 is given (stage, input, the three strings, both ints), so
 * a hit is only ever the result of the very same compile, and the data
 * lives in this VM's own disk (guest/cuda/nvrtc_cache_store.h), never on
 * the host where other VMs could write it. Slots 5, 7 and 8 are stubs.
 */
#include "export_table.h"
#include "nvrtc_cache_store.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAGIC 0x79656b6372766e67ull /* "gnvrckey" */
#define STR_MAX 65536u                  /* each string argument */

struct nc_key {
	uint64_t magic;
	size_t n;
	uint8_t b[];
};

static void append(uint8_t **w, const void *p, size_t n)
{
	memcpy(*w, p, n);
	*w += n;
}

static int make_key(void **key, int kind, const void *in, uint32_t len,
		    const char *opts, const char *host, const char *date,
		    int sm, int flag)
{
	if (!key || (len && !in) || !opts || !host || !date ||
	    len > VGPU_NC_KEY_MAX / 2)
		return CUDA_ERROR_INVALID_VALUE;
	size_t lo = strnlen(opts, STR_MAX), lh = strnlen(host, STR_MAX),
	       ld = strnlen(date, STR_MAX);
	if (lo == STR_MAX || lh == STR_MAX || ld == STR_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	int32_t ints[4] = {kind, (int32_t)len, sm, flag};
	size_t n = sizeof(ints) + len + lo + 1 + lh + 1 + ld + 1;
	struct nc_key *k = malloc(sizeof(*k) + n);
	if (!k)
		return CUDA_ERROR_OUT_OF_MEMORY;
	uint8_t *w = k->b;
	append(&w, ints, sizeof(ints));
	append(&w, in, len);
	append(&w, opts, lo + 1);
	append(&w, host, lh + 1);
	append(&w, date, ld + 1);
	k->magic = KEY_MAGIC;
	k->n = n;
	*key = k;
	return CUDA_SUCCESS;
}

static const struct nc_key *valid(const void *key)
{
	const struct nc_key *k = key;
	return k && k->magic == KEY_MAGIC ? k : NULL;
}

static int drop_key(void *key)
{
	struct nc_key *k = key;
	if (!valid(k))
		return CUDA_ERROR_INVALID_VALUE;
	k->magic = 0;
	free(k);
	return CUDA_SUCCESS;
}

static int lookup(void *key, int zero, void **data, uint32_t *size)
{
	const struct nc_key *k = valid(key);
	char dir[PATH_MAX];
	(void)zero;
	if (!k || !data || !size)
		return CUDA_ERROR_INVALID_VALUE;
	const char *d = vgpu_nc_dir(dir, sizeof(dir));
	if (!d || vgpu_nc_get(d, k->b, k->n, data, size))
		return CUDA_ERROR_NOT_FOUND;
	return CUDA_SUCCESS;
}

static int store(void *key, int zero, const void *data, uint32_t size)
{
	const struct nc_key *k = valid(key);
	char dir[PATH_MAX];
	(void)zero;
	if (!k || (size && !data))
		return CUDA_ERROR_INVALID_VALUE;
	const char *d = vgpu_nc_dir(dir, sizeof(dir));
	if (!d || vgpu_nc_put(d, k->b, k->n, data, size, vgpu_nc_max_total()))
		return CUDA_ERROR_NOT_SUPPORTED;
	return CUDA_SUCCESS;
}

static int free_data(void *data)
{
	free(data);
	return CUDA_SUCCESS;
}

#define NAME "nvrtc_cache"
VGPU_EXPORT_STUB(nc, NAME, 5)
VGPU_EXPORT_STUB(nc, NAME, 7)
VGPU_EXPORT_STUB(nc, NAME, 8)

static const vgpu_slot slots[] = {
	VGPU_SLOT_SIZE(9),   VGPU_SLOT(make_key), VGPU_SLOT(drop_key),
	VGPU_SLOT(lookup),   VGPU_SLOT(store),    VGPU_SLOT(nc_stub_5),
	VGPU_SLOT(free_data), VGPU_SLOT(nc_stub_7), VGPU_SLOT(nc_stub_8),
};

const struct vgpu_export_table vgpu_export_nvrtc_cache = {
	.name = NAME,
	.guid = {0xda, 0x91, 0x51, 0xd3, 0x3a, 0xe6, 0xcc, 0x41, 0xa5, 0xc0,
		 0x4f, 0x26, 0xd5, 0x33, 0xe3, 0x28},
	.slots = slots,
	.nslots = sizeof(slots) / sizeof(slots[0]),
};
