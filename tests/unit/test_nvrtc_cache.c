/* tests/unit/test_nvrtc_cache.c - table da9151d3 (NVRTC's compute cache,
 * guest/cuda/export_nvrtc_cache.c) and its on-disk store: hits only for
 * the very same key, damaged or hostile files read as misses, refusals. */
#include "../../guest/cuda/export_nvrtc_cache.c" /* the guest's code */
#include "../../guest/cuda/nvrtc_cache_store.c"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

int vgpu_export_unknown(const char *name, int slot)
{
	(void)name;
	(void)slot;
	return CUDA_ERROR_NOT_SUPPORTED;
}

typedef int (*key_fn)(void **, int, const void *, uint32_t, const char *,
		      const char *, const char *, int, int);
typedef int (*drop_fn)(void *);
typedef int (*get_fn)(void *, int, void **, uint32_t *);
typedef int (*put_fn)(void *, int, const void *, uint32_t);
typedef int (*free_fn)(void *);

#define SLOT(t, i) ((t)(uintptr_t)vgpu_export_nvrtc_cache.slots[i])

static char dir[256];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vgpu-nc-test-%d", (int)getpid());
	cr_assert_eq(mkdir(dir, 0700), 0);
	setenv("CUDA_CACHE_PATH", dir, 1);
	unsetenv("CUDA_CACHE_DISABLE");
	unsetenv("CUDA_CACHE_MAXSIZE");
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static const uint8_t input[] = {0x42, 0x43, 0xc0, 0xde, 1, 2, 3, 4, 5};

static void *key(int kind, const char *opts, int sm)
{
	void *k = NULL;
	cr_assert_eq(SLOT(key_fn, 1)(&k, kind, input, sizeof(input), opts,
				     "HOST64", "Aug 20 202514:13:52", sm, 1),
		     CUDA_SUCCESS);
	cr_assert_not_null(k);
	return k;
}

static int get(void *k, void **d, uint32_t *n)
{
	return SLOT(get_fn, 3)(k, 0, d, n);
}

TestSuite(nvrtc_cache, .init = setup, .fini = teardown);

Test(nvrtc_cache, slot0_is_nine_slots_so_slot6_frees)
{
	cr_assert_eq((uintptr_t)vgpu_export_nvrtc_cache.slots[0], 0x48);
	cr_assert_eq(vgpu_export_nvrtc_cache.nslots, 9);
	cr_assert_eq(vgpu_export_nvrtc_cache.guid[0], 0xda);
}

Test(nvrtc_cache, store_then_hit_byte_exact_and_other_keys_miss)
{
	const char data[] = "the cubin";
	void *k = key(1, " -arch=sm_90a", 90), *d = NULL;
	uint32_t n = 0;
	cr_assert_eq(get(k, &d, &n), CUDA_ERROR_NOT_FOUND);
	cr_assert_eq(SLOT(put_fn, 4)(k, 0, data, sizeof(data)), CUDA_SUCCESS);
	cr_assert_eq(get(k, &d, &n), CUDA_SUCCESS);
	cr_assert_eq(n, sizeof(data));
	cr_assert_arr_eq(d, data, sizeof(data));
	cr_assert_eq(SLOT(free_fn, 6)(d), CUDA_SUCCESS);
	cr_assert_eq(SLOT(drop_fn, 2)(k), CUDA_SUCCESS);
	/* another target, another stage, another sm: each a miss */
	void *o[3] = {key(1, " -arch=sm_80", 90), key(2, " -arch=sm_90a", 90),
		      key(1, " -arch=sm_90a", 80)};
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(get(o[i], &d, &n), CUDA_ERROR_NOT_FOUND);
		SLOT(drop_fn, 2)(o[i]);
	}
}

Test(nvrtc_cache, key_refusals)
{
	void *k = NULL;
	key_fn f = SLOT(key_fn, 1);
	cr_assert_eq(f(NULL, 1, input, 9, "", "H", "D", 90, 1),
		     CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(f(&k, 1, NULL, 9, "", "H", "D", 90, 1),
		     CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(f(&k, 1, input, 9, NULL, "H", "D", 90, 1),
		     CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(f(&k, 1, input, UINT32_MAX, "", "H", "D", 90, 1),
		     CUDA_ERROR_INVALID_VALUE);
	char *longstr = malloc(STR_MAX + 1);
	memset(longstr, 'x', STR_MAX);
	longstr[STR_MAX] = 0;
	cr_assert_eq(f(&k, 1, input, 9, longstr, "H", "D", 90, 1),
		     CUDA_ERROR_INVALID_VALUE);
	free(longstr);
	cr_assert_null(k);
	/* not a key this table made */
	uint64_t *junk = calloc(4, sizeof(uint64_t));
	junk[0] = 1;
	void *d;
	uint32_t n;
	cr_assert_eq(get(junk, &d, &n), CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(SLOT(put_fn, 4)(junk, 0, "x", 1),
		     CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(SLOT(drop_fn, 2)(junk), CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(SLOT(drop_fn, 2)(NULL), CUDA_ERROR_INVALID_VALUE);
	free(junk);
}

/* The one entry file in the store (there must be exactly one). */
static void entry_file(char *path, size_t cap)
{
	char sub[300];
	snprintf(sub, sizeof(sub), "%s/vgpu-nvrtc", dir);
	DIR *dd = opendir(sub);
	struct dirent *e;
	int found = 0;
	cr_assert_not_null(dd);
	while ((e = readdir(dd)))
		if (e->d_name[0] != '.') {
			snprintf(path, cap, "%s/%s", sub, e->d_name);
			found++;
		}
	closedir(dd);
	cr_assert_eq(found, 1);
}

static void stored(void **k)
{
	*k = key(1, " -arch=sm_90a", 90);
	cr_assert_eq(SLOT(put_fn, 4)(*k, 0, "0123456789", 10), CUDA_SUCCESS);
}

Test(nvrtc_cache, truncated_or_grown_file_misses)
{
	void *k, *d;
	uint32_t n;
	char path[600];
	stored(&k);
	entry_file(path, sizeof(path));
	cr_assert_eq(truncate(path, 30), 0);
	cr_assert_eq(get(k, &d, &n), CUDA_ERROR_NOT_FOUND);
	cr_assert_eq(truncate(path, 1 << 20), 0);
	cr_assert_eq(get(k, &d, &n), CUDA_ERROR_NOT_FOUND);
	SLOT(drop_fn, 2)(k);
}

/* rewrite bytes at off of the entry file */
static void poke(const char *path, long off, const void *b, size_t n)
{
	FILE *f = fopen(path, "r+b");
	cr_assert_not_null(f);
	cr_assert_eq(fseek(f, off, SEEK_SET), 0);
	cr_assert_eq(fwrite(b, 1, n, f), n);
	fclose(f);
}

Test(nvrtc_cache, hostile_header_and_other_key_in_the_file_miss)
{
	void *k, *d;
	uint32_t n;
	char path[600];
	stored(&k);
	entry_file(path, sizeof(path));
	uint64_t huge = UINT64_MAX - 3;
	poke(path, 16, &huge, 8); /* data_len */
	cr_assert_eq(get(k, &d, &n), CUDA_ERROR_NOT_FOUND);
	SLOT(drop_fn, 2)(k);
	/* same name, same sizes, one key byte different: a collision */
	stored(&k);
	uint8_t x = 0x7f;
	poke(path, 24 + 20, &x, 1);
	cr_assert_eq(get(k, &d, &n), CUDA_ERROR_NOT_FOUND);
	/* a store over it replaces it with the right entry */
	cr_assert_eq(SLOT(put_fn, 4)(k, 0, "abc", 3), CUDA_SUCCESS);
	cr_assert_eq(get(k, &d, &n), CUDA_SUCCESS);
	cr_assert_eq(n, 3);
	cr_assert_arr_eq(d, "abc", 3);
	free(d);
	uint64_t bad = 0;
	poke(path, 0, &bad, 8); /* magic */
	cr_assert_eq(get(k, &d, &n), CUDA_ERROR_NOT_FOUND);
	SLOT(drop_fn, 2)(k);
}

Test(nvrtc_cache, disabled_and_full_refuse_stores)
{
	void *k = key(1, " -arch=sm_90a", 90), *d;
	uint32_t n;
	setenv("CUDA_CACHE_DISABLE", "1", 1);
	cr_assert_eq(SLOT(put_fn, 4)(k, 0, "abc", 3), CUDA_ERROR_NOT_SUPPORTED);
	cr_assert_eq(get(k, &d, &n), CUDA_ERROR_NOT_FOUND);
	unsetenv("CUDA_CACHE_DISABLE");
	setenv("CUDA_CACHE_MAXSIZE", "64", 1); /* less than one entry */
	cr_assert_eq(SLOT(put_fn, 4)(k, 0, "abc", 3), CUDA_ERROR_NOT_SUPPORTED);
	cr_assert_eq(get(k, &d, &n), CUDA_ERROR_NOT_FOUND);
	unsetenv("CUDA_CACHE_MAXSIZE");
	cr_assert_eq(SLOT(put_fn, 4)(k, 0, "abc", 3), CUDA_SUCCESS);
	SLOT(drop_fn, 2)(k);
}

Test(nvrtc_cache, store_limits)
{
	cr_assert_eq(vgpu_nc_put(NULL, "k", 1, "d", 1, 1 << 20), -1);
	cr_assert_eq(vgpu_nc_put("/nonexistent-dir", "k", 1, "d", 1, 1 << 20),
		     -1);
	cr_assert_eq(vgpu_nc_put("/tmp", "k", VGPU_NC_KEY_MAX + 1ull, "d", 1,
				 UINT64_MAX),
		     -1);
	cr_assert_eq(vgpu_nc_put("/tmp", "k", 1, NULL, 5, UINT64_MAX), -1);
	cr_assert_eq(vgpu_nc_max_total(), VGPU_NC_TOTAL_DEFAULT);
	setenv("CUDA_CACHE_MAXSIZE", "12x", 1);
	cr_assert_eq(vgpu_nc_max_total(), VGPU_NC_TOTAL_DEFAULT);
	setenv("CUDA_CACHE_MAXSIZE", "4096", 1);
	cr_assert_eq(vgpu_nc_max_total(), 4096);
}
