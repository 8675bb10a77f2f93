/* tests/unit/test_lib_export.c - cuGetExportTable of the guest library,
 * dlopen'ed as the CUDA runtime does, before any cuInit: every table the
 * runtime and cuBLAS require exists with the real driver's layout (slot 0
 * sizes measured on driver 580.159.04: 0x68, 0x38, 0x18, 0x78, 0x18,
 * 0x2e8, 0x88; context-local storage has functions in slots 0-2 and NULL in 3);
 * refusable GUIDs are refused with CUDA_ERROR_INVALID_VALUE; entries that
 * need no device behave as specified; unknown entries are logged stubs
 * answering CUDA_ERROR_NOT_SUPPORTED; entries that need the driver answer
 * CUDA_ERROR_NOT_INITIALIZED before cuInit. (With a daemon they run in
 * tests/gpu/lib_export.c and under cudart in the integration suite.) */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <cuda.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIB VGPU_BUILD_DIR "/guest/libvgpu-cuda.so"

typedef CUresult (*get_fn)(const void **, const CUuuid *);

static void *h;
static get_fn get_table;

static void up(void)
{
	setenv("VGPU_LOG", "quiet", 1);
	h = dlopen(LIB, RTLD_NOW | RTLD_LOCAL);
	cr_assert_not_null(h, "dlopen %s: %s", LIB, dlerror());
	get_table = (get_fn)dlsym(h, "cuGetExportTable");
	cr_assert_not_null(get_table);
}

TestSuite(lib_export, .init = up);

static const uintptr_t *table(const char *hex)
{
	CUuuid id;
	for (int i = 0; i < 16; i++) {
		unsigned b;
		cr_assert_eq(sscanf(hex + 2 * i, "%2x", &b), 1);
		id.bytes[i] = (char)b;
	}
	const void *t = (const void *)1;
	CUresult r = get_table(&t, &id);
	if (r) {
		cr_assert_eq(r, CUDA_ERROR_INVALID_VALUE);
		cr_assert_null(t, "a refused table must be NULL");
		return NULL;
	}
	cr_assert_not_null(t);
	return t;
}

#define CUDART "6bd5fb6c5bf4e74a8987d93912fd9df9"
#define HOOKS "a094798c2e742e7493f20800200c0a66"
#define TLS "42d85a8123f6cb478298f6e78a3aecdc"
#define CLS "c693336e1121df11a8c368f355d89593"
#define CHECKS "263e88607cd2614392f6bbd5006dfa7e"
#define INTEGRITY "d4082055bde6704b8d34ba123c66e1f2"
#define CUBLAS "21318c60971432488ca641ff7324c8f2"
#define CUBLASLT "1734dc26800d47458726c0f1e7dd8bca"

/* Every slot after the size is a function in the library. */
static void all_functions(const uintptr_t *t, size_t from, size_t n)
{
	for (size_t i = from; i < n; i++) {
		Dl_info di;
		cr_assert(t[i] && dladdr((void *)t[i], &di) && di.dli_fbase &&
			  strstr(di.dli_fname, "libvgpu-cuda.so"),
			  "slot %zu is not a function of the library", i);
	}
}

Test(lib_export, sized_tables_have_the_real_layout)
{
	struct { const char *g; uintptr_t size; } want[] = {
		{CUDART, 0x68}, {HOOKS, 0x38}, {TLS, 0x18},
		{CHECKS, 0x78}, {INTEGRITY, 0x18}, {CUBLAS, 0x2e8},
		{CUBLASLT, 0x88},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const uintptr_t *t = table(want[i].g);
		cr_assert_not_null(t, "%s refused", want[i].g);
		cr_assert_eq(t[0], want[i].size, "%s: size %#lx", want[i].g,
			     (unsigned long)t[0]);
		all_functions(t, 1, want[i].size / 8);
	}
}

Test(lib_export, context_local_storage_has_no_size_slot)
{
	const uintptr_t *t = table(CLS);
	cr_assert_not_null(t);
	all_functions(t, 0, 3);
	cr_assert_eq(t[3], 0);
}

Test(lib_export, refusable_and_unknown_guids_refused)
{
	cr_assert_null(table("f8cff95121468b4eb9e2fb469e7c0dd9"));
	cr_assert_null(table("69a28e9f24498b47b030c5da330ea4e9"));
	cr_assert_null(table("0ca50b8c1004929a89a7d0df10e77286")); /* CTX_CREATE_BYPASS */
	cr_assert_null(table("00000000000000000000000000000000"));
	CUuuid id = {{0}};
	const void *t;
	cr_assert_eq(get_table(NULL, &id), CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(get_table(&t, NULL), CUDA_ERROR_INVALID_VALUE);
}

Test(lib_export, same_table_every_time)
{
	cr_assert_eq(table(CUDART), table(CUDART));
	cr_assert_eq(table(INTEGRITY), table(INTEGRITY));
}

Test(lib_export, tools_hooks_hand_out_zeroed_buffers)
{
	const uintptr_t *t = table(HOOKS);
	typedef void (*buf_fn)(void **, size_t *);
	void *b1 = NULL, *b2 = NULL;
	size_t n1 = 0, n2 = 0;
	((buf_fn)t[2])(&b1, &n1);
	((buf_fn)t[6])(&b2, &n2);
	cr_assert_eq(n1, 1024);
	cr_assert_eq(n2, 14);
	cr_assert(b1 && b2 && b1 != b2);
	for (size_t i = 0; i < n1; i++)
		cr_assert_eq(((uint32_t *)b1)[i], 0);
	for (size_t i = 0; i < n2; i++)
		cr_assert_eq(((uint32_t *)b2)[i], 0);
}

Test(lib_export, context_checks)
{
	const uintptr_t *t = table(CHECKS);
	uint32_t flags = 0xdead;
	void *out = NULL;
	cr_assert_eq(((CUresult(*)(CUcontext, uint32_t *, void **))t[2])(
			     NULL, &flags, &out), CUDA_SUCCESS);
	cr_assert_eq(flags, 0);
	cr_assert_eq(((uint32_t(*)(void))t[3])(), 0);
}

Test(lib_export, unknown_entries_answer_not_supported)
{
	const uintptr_t *cublas = table(CUBLAS), *cudart = table(CUDART);
	typedef int (*any_fn)(void);
	cr_assert_eq(((any_fn)cublas[5])(), CUDA_ERROR_NOT_SUPPORTED);
	cr_assert_eq(((any_fn)cublas[92])(), CUDA_ERROR_NOT_SUPPORTED);
	cr_assert_eq(((any_fn)cudart[3])(), CUDA_ERROR_NOT_SUPPORTED);
	cr_assert_eq(((any_fn)table(TLS)[1])(), CUDA_ERROR_NOT_SUPPORTED);
}

/* An unknown entry says which one, once, unless VGPU_LOG=quiet. */
Test(lib_export, unknown_entry_logged_once)
{
	const uintptr_t *t = table(CUBLAS);
	char path[] = "/tmp/vgpu-lib-export-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	cr_assert(fd >= 0 && saved >= 0);
	unsetenv("VGPU_LOG");
	dup2(fd, 2);
	((int (*)(void))t[57])();
	((int (*)(void))t[57])();
	dup2(saved, 2);
	setenv("VGPU_LOG", "quiet", 1);
	char buf[512] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	cr_assert(n > 0);
	cr_assert_str_eq(buf, "vgpu: export table CUBLAS_21318c60 entry 57 is "
			      "not implemented (CUDA_ERROR_NOT_SUPPORTED)\n");
}

/* cuBLAS's entry 4: (ctx, &id), the context's id; for NULL, 0 and success
 * (measured on driver 580: tests/gpu/lib_export); a real context needs the
 * driver; no output pointer is INVALID_VALUE. */
Test(lib_export, cublas_context_id)
{
	typedef CUresult (*id_fn)(CUcontext, unsigned long long *);
	id_fn e4 = (id_fn)table(CUBLAS)[4];
	unsigned long long id = 7;
	cr_assert_eq(e4(NULL, &id), CUDA_SUCCESS);
	cr_assert_eq(id, 0);
	cr_assert_eq(e4(NULL, NULL), CUDA_ERROR_INVALID_VALUE);
	id = 7;
	cr_assert_eq(e4((CUcontext)(uintptr_t)0xC100000000000001ull, &id),
		     CUDA_ERROR_NOT_INITIALIZED);
	cr_assert_eq(id, 7);
}

Test(lib_export, integrity_fixed_versions_need_no_device)
{
	const uintptr_t *t = table(INTEGRITY);
	typedef CUresult (*ic_fn)(uint32_t, uint64_t, uint64_t *);
	uint64_t out[2] = {0, 0};
	cr_assert_eq(((ic_fn)t[1])(13000, 1764000000, out), CUDA_SUCCESS);
	cr_assert_eq(out[0], 0x3341181C03CB675Cull);
	cr_assert_eq(out[1], 0x8ED383AA1F4CD1E8ull);
	cr_assert_eq(((ic_fn)t[1])(12091, 1764000000, out), CUDA_SUCCESS);
	cr_assert_eq(out[0], 0x1841181C03CB675Cull);
	cr_assert_eq(out[1], 0x8ED383AA1F4CD1E8ull);
	cr_assert_eq(((ic_fn)t[1])(13002, 1764000000, NULL),
		     CUDA_ERROR_INVALID_VALUE);
}

Test(lib_export, entries_needing_the_driver_wait_for_cuInit)
{
	typedef CUresult (*ic_fn)(uint32_t, uint64_t, uint64_t *);
	typedef CUresult (*ctx_fn)(CUcontext *, CUdevice);
	typedef CUresult (*put_fn)(CUcontext, void *, void *, void *);
	typedef CUresult (*getv_fn)(void **, CUcontext, void *);
	uint64_t out[2];
	CUcontext c;
	void *v;
	int key;
	cr_assert_eq(((ic_fn)table(INTEGRITY)[1])(13002, 1, out),
		     CUDA_ERROR_NOT_INITIALIZED);
	cr_assert_eq(((ctx_fn)table(CUDART)[2])(&c, 0),
		     CUDA_ERROR_NOT_INITIALIZED);
	cr_assert_eq(((put_fn)table(CLS)[0])(NULL, &key, &key, NULL),
		     CUDA_ERROR_NOT_INITIALIZED);
	cr_assert_eq(((getv_fn)table(CLS)[2])(&v, NULL, &key),
		     CUDA_ERROR_NOT_INITIALIZED);
}
