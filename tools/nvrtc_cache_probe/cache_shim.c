/* tools/nvrtc_cache_probe/cache_shim.c - a stand-in libcuda.so.1 for
 * NVRTC alone, to see how it uses the driver's compute-cache table
 * da9151d3-3ae6-cc41-a5c0-4f26d533e328 (docs/torch.md, decode_dynamic).
 *
 * Contract: exports cuInit and cuGetExportTable only (all NVRTC 13.0
 * calls). NVRTC_PROBE_MODE selects what table da9151d3 is:
 *   off    refused (what the vgpu guest does today),
 *   cache  a test double: an honest in-memory cache keyed by every byte
 *          slot 1 is given (kind, input, the three strings, both ints),
 *   real   the real driver's table (NVRTC_PROBE_REAL = path of the real
 *          libcuda.so.1), each used slot wrapped to log its arguments and
 *          what the driver answers (needs a GPU machine).
 * NVRTC_PROBE_FAIL=<slot> makes that slot answer 801 (NOT_SUPPORTED)
 * without running it, to see what NVRTC does when the guest refuses it.
 * Every call is logged on stderr. Slot 1 takes nine arguments, two on
 * the stack: a wrapper must pass all nine (a six-argument one, like the
 * call counter's PROBE_TRACE, hands the driver stack garbage).
 */
#include <ctype.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*key_fn)(void **key, int kind, const void *in, uint32_t len,
		      const char *opts, const char *host, const char *date,
		      int sm, int flag);
typedef int (*drop_fn)(void *key);
typedef int (*get_fn)(void *key, int zero, void **data, uint32_t *size);
typedef int (*put_fn)(void *key, int zero, const void *data, uint32_t size);
typedef int (*free_fn)(void *data);

enum { SLOTS = 9, S_KEY = 1, S_DROP = 2, S_GET = 3, S_PUT = 4, S_FREE = 6 };

static const unsigned char guid[16] = {0xda, 0x91, 0x51, 0xd3, 0x3a, 0xe6,
				       0xcc, 0x41, 0xa5, 0xc0, 0x4f, 0x26,
				       0xd5, 0x33, 0xe3, 0x28};
static const void *const *real_tab; /* mode real */
static const void *table[SLOTS];
static void *real_lib;

static const char *mode(void)
{
	const char *m = getenv("NVRTC_PROBE_MODE");
	return m ? m : "off";
}

static void hexdump(const char *what, const void *p, size_t n)
{
	const unsigned char *b = p;
	fprintf(stderr, "  %s[%zu]:", what, n);
	for (size_t i = 0; p && i < n && i < 16; i++)
		fprintf(stderr, " %02x", b[i]);
	fputc('\n', stderr);
}

/* -- the test double: a list of (key bytes, data) -- */
struct blob {
	unsigned char *b;
	size_t n;
};
struct entry {
	struct blob key, data;
	struct entry *next;
};
static struct entry *cache;

static int append(struct blob *k, const void *p, size_t n)
{
	unsigned char *b = realloc(k->b, k->n + n);
	if (!b)
		return -1;
	memcpy(b + k->n, p, n);
	k->b = b;
	k->n += n;
	return 0;
}

static int double_key(void **key, int kind, const void *in, uint32_t len,
		      const char *opts, const char *host, const char *date,
		      int sm, int flag)
{
	struct blob *k = calloc(1, sizeof(*k));
	if (!key || !k || (len && !in) || !opts || !host || !date)
		return free(k), 1;
	int ints[4] = {kind, (int)len, sm, flag};
	if (append(k, ints, sizeof(ints)) || append(k, in, len) ||
	    append(k, opts, strlen(opts) + 1) ||
	    append(k, host, strlen(host) + 1) ||
	    append(k, date, strlen(date) + 1))
		return free(k->b), free(k), 2;
	*key = k;
	return 0;
}

static int double_drop(void *key)
{
	struct blob *k = key;
	if (!k)
		return 1;
	free(k->b);
	free(k);
	return 0;
}

static struct entry *find(const struct blob *k)
{
	for (struct entry *e = cache; e; e = e->next)
		if (e->key.n == k->n && !memcmp(e->key.b, k->b, k->n))
			return e;
	return NULL;
}

static int double_get(void *key, int zero, void **data, uint32_t *size)
{
	struct entry *e = key ? find(key) : NULL;
	(void)zero;
	if (!e || !data || !size)
		return 1; /* a miss */
	if (!(*data = malloc(e->data.n)))
		return 2;
	memcpy(*data, e->data.b, e->data.n);
	*size = (uint32_t)e->data.n;
	return 0;
}

static int double_put(void *key, int zero, const void *data, uint32_t size)
{
	const struct blob *k = key;
	struct entry *e = calloc(1, sizeof(*e));
	(void)zero;
	if (!k || !e || find(k) || append(&e->key, k->b, k->n) ||
	    append(&e->data, data, size))
		return free(e), 1;
	e->next = cache;
	cache = e;
	return 0;
}

static int double_free(void *data)
{
	free(data);
	return 0;
}

/* -- logging wrappers, over the double or the real driver -- */
static int failing(int slot)
{
	const char *f = getenv("NVRTC_PROBE_FAIL");
	return f && atoi(f) == slot ? 801 : 0;
}

static const void *impl(int slot)
{
	static const void *dbl[SLOTS] = {
		[S_KEY] = (void *)(uintptr_t)double_key,
		[S_DROP] = (void *)(uintptr_t)double_drop,
		[S_GET] = (void *)(uintptr_t)double_get,
		[S_PUT] = (void *)(uintptr_t)double_put,
		[S_FREE] = (void *)(uintptr_t)double_free};
	return real_tab ? real_tab[slot] : dbl[slot];
}

static int w_key(void **key, int kind, const void *in, uint32_t len,
		 const char *opts, const char *host, const char *date, int sm,
		 int flag)
{
	int r = failing(S_KEY);
	if (!r)
		r = ((key_fn)(uintptr_t)impl(S_KEY))(key, kind, in, len, opts,
						  host, date, sm, flag);
	fprintf(stderr,
		"slot1 key(kind %d, len %u, opts \"%s\", \"%s\", \"%s\", sm %d, "
		"flag %d) -> %d key %p\n",
		kind, len, opts ? opts : "", host ? host : "",
		date ? date : "", sm, flag, r, key ? *key : NULL);
	hexdump("input", in, len);
	return r;
}

static int w_drop(void *key)
{
	int r = failing(S_DROP);
	if (!r)
		r = ((drop_fn)(uintptr_t)impl(S_DROP))(key);
	fprintf(stderr, "slot2 drop(%p) -> %d\n", key, r);
	return r;
}

static int w_get(void *key, int zero, void **data, uint32_t *size)
{
	void *d = NULL;
	uint32_t n = 0;
	int r = failing(S_GET);
	if (!r)
		r = ((get_fn)(uintptr_t)impl(S_GET))(key, zero, &d, &n);
	fprintf(stderr, "slot3 get(%p, %d) -> %d data %p size %u\n", key, zero,
		r, d, n);
	if (!r)
		hexdump("data", d, n);
	*data = d;
	*size = n;
	return r;
}

static int w_put(void *key, int zero, const void *data, uint32_t size)
{
	int r = failing(S_PUT);
	if (!r)
		r = ((put_fn)(uintptr_t)impl(S_PUT))(key, zero, data, size);
	fprintf(stderr, "slot4 put(%p, %d, size %u) -> %d\n", key, zero, size,
		r);
	hexdump("data", data, size);
	return r;
}

static int w_free(void *data)
{
	int r = failing(S_FREE);
	if (!r)
		r = ((free_fn)(uintptr_t)impl(S_FREE))(data);
	fprintf(stderr, "slot6 free(%p) -> %d\n", data, r);
	return r;
}

static int other_slot(void)
{
	fprintf(stderr, "an unexpected slot was called\n");
	return 801; /* CUDA_ERROR_NOT_SUPPORTED */
}

static void *real_sym(const char *name)
{
	const char *path = getenv("NVRTC_PROBE_REAL");
	if (!real_lib && path)
		real_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	return real_lib ? dlsym(real_lib, name) : NULL;
}

int cuInit(unsigned flags)
{
	int r = 0;
	if (!strcmp(mode(), "real")) {
		int (*f)(unsigned) = (int (*)(unsigned))(uintptr_t)real_sym("cuInit");
		r = f ? f(flags) : 3; /* CUDA_ERROR_NOT_INITIALIZED */
	}
	fprintf(stderr, "cuInit(%u) -> %d\n", flags, r);
	return r;
}

static int fill(void)
{
	uintptr_t size = SLOTS * sizeof(void *);
	if (!strcmp(mode(), "real")) {
		int (*f)(const void **, const void *) =
			(int (*)(const void **, const void *))(uintptr_t)real_sym(
				"cuGetExportTable");
		const void *t = NULL;
		int r = f ? f(&t, guid) : 3;
		if (r || !t)
			return r ? r : 1;
		real_tab = t;
		size = (uintptr_t)real_tab[0];
		fprintf(stderr, "real table %p, slot 0 = %#lx\n", t,
			(unsigned long)size);
		if (size < 7 * sizeof(void *))
			return 801;
	}
	table[0] = (const void *)size;
	for (int i = 1; i < SLOTS; i++)
		table[i] = (const void *)(uintptr_t)other_slot;
	table[S_KEY] = (const void *)(uintptr_t)w_key;
	table[S_DROP] = (const void *)(uintptr_t)w_drop;
	table[S_GET] = (const void *)(uintptr_t)w_get;
	table[S_PUT] = (const void *)(uintptr_t)w_put;
	table[S_FREE] = (const void *)(uintptr_t)w_free;
	return 0;
}

int cuGetExportTable(const void **out, const unsigned char *id)
{
	int r = 500; /* CUDA_ERROR_NOT_FOUND */
	if (!memcmp(id, guid, 16) && strcmp(mode(), "off"))
		r = table[0] ? 0 : fill();
	*out = r ? NULL : table;
	fprintf(stderr, "cuGetExportTable(");
	for (int i = 0; i < 16; i++)
		fprintf(stderr, "%02x", id[i]);
	fprintf(stderr, ") -> %d\n", r);
	return r;
}
