/* tests/unit/test_cublas.c - what the guest library answers NVIDIA's
 * runtime inside cuBLAS/cuBLASLt before any kernel runs, dlopen'ed as the
 * runtime does (no daemon needed).
 *
 * cuModuleGetLoadingMode must answer as the real driver does: LAZY unless
 * CUDA_MODULE_LOADING=EAGER. Told EAGER, cuBLASLt 13.1's static runtime
 * loads every fatbin it registered at cublasLtCreate and failed on the
 * first holding only sm_100 code (cudaErrorNoKernelImageForDevice on the
 * H100/H200); the real driver says LAZY there and it loads on first use.
 *
 * TOOLS_TLS entry 2 (CUcontext *out), which cuBLASLt calls before each
 * heuristics candidate (refused or answered with anything but the current
 * context, cublasSgemm failed NOT_SUPPORTED), is cuCtxGetCurrent.
 */
#include <criterion/criterion.h>
#include <cuda.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

#define LIB VGPU_BUILD_DIR "/guest/libvgpu-cuda.so"

typedef CUresult (*mode_fn)(CUmoduleLoadingMode *);

static void *sym(const char *name)
{
	setenv("VGPU_LOG", "quiet", 1);
	void *h = dlopen(LIB, RTLD_NOW | RTLD_LOCAL);
	cr_assert_not_null(h, "dlopen %s: %s", LIB, dlerror());
	void *f = dlsym(h, name);
	cr_assert_not_null(f, "%s", name);
	return f;
}

static mode_fn loading_mode(void)
{
	return (mode_fn)sym("cuModuleGetLoadingMode");
}

Test(cublas, loading_mode_is_lazy_by_default)
{
	mode_fn f = loading_mode();
	CUmoduleLoadingMode m = 0;
	unsetenv("CUDA_MODULE_LOADING");
	cr_assert_eq(f(&m), CUDA_SUCCESS);
	cr_assert_eq(m, CU_MODULE_LAZY_LOADING);
	setenv("CUDA_MODULE_LOADING", "LAZY", 1);
	m = 0;
	cr_assert_eq(f(&m), CUDA_SUCCESS);
	cr_assert_eq(m, CU_MODULE_LAZY_LOADING);
}

Test(cublas, loading_mode_eager_when_asked)
{
	mode_fn f = loading_mode();
	CUmoduleLoadingMode m = 0;
	setenv("CUDA_MODULE_LOADING", "EAGER", 1);
	cr_assert_eq(f(&m), CUDA_SUCCESS);
	cr_assert_eq(m, CU_MODULE_EAGER_LOADING);
}

Test(cublas, loading_mode_null)
{
	cr_assert_eq(loading_mode()(NULL), CUDA_ERROR_INVALID_VALUE);
}

typedef CUresult (*tls_fn)(CUcontext *);

static tls_fn tools_tls_current(void)
{
	typedef CUresult (*table_fn)(const void **, const CUuuid *);
	table_fn get_table = (table_fn)sym("cuGetExportTable");
	CUuuid id = {{0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47, 0x82, 0x98,
		      0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc}};
	const void *t = NULL;
	cr_assert_eq(get_table(&t, &id), CUDA_SUCCESS);
	cr_assert_eq(((const uintptr_t *)t)[0], 0x18);
	return (tls_fn)((const uintptr_t *)t)[2];
}

/* Entry 2 answers as cuCtxGetCurrent (with a daemon: tests/gpu/tools_tls.c
 * in the integration suite); before cuInit that is NOT_INITIALIZED. */
Test(cublas, tools_tls_entry2_is_current_context)
{
	tls_fn f = tools_tls_current();
	CUresult (*get_current)(CUcontext *) =
		(CUresult(*)(CUcontext *))sym("cuCtxGetCurrent");
	CUcontext a = (CUcontext)(uintptr_t)1, b = (CUcontext)(uintptr_t)1;
	cr_assert_eq(f(NULL), CUDA_ERROR_INVALID_VALUE);
	CUresult want = get_current(&b);
	cr_assert_eq(want, CUDA_ERROR_NOT_INITIALIZED);
	cr_assert_eq(f(&a), want);
	cr_assert_eq(a, b);
}

/* Table 1734dc26: cuBLASLt 13.1 calls entry 4 through the pointer it was
 * given without checking it (refused, the bf16 GEMM path dereferenced
 * NULL). Entry 4 asks the worker for the driver's SM layout
 * (tests/unit/test_cublas_worker.c, tests/gpu/cublas_layout.c); here,
 * without cuInit, it fails as every context call does
 * (CUDA_ERROR_NOT_INITIALIZED) and leaves the out-parameters as they were
 * (cuBLASLt reads them only after a success). Entry 13 frees only what
 * entry 4 handed out: anything else is CUDA_ERROR_INVALID_VALUE. */
Test(cublas, cublaslt_table_exists_and_entry4_fails_cleanly)
{
	typedef CUresult (*table_fn)(const void **, const CUuuid *);
	table_fn get_table = (table_fn)sym("cuGetExportTable");
	CUuuid id = {{0x17, 0x34, 0xdc, 0x26, 0x80, 0x0d, 0x47, 0x45, 0x87, 0x26,
		      0xc0, 0xf1, 0xe7, 0xdd, 0x8b, 0xca}};
	const uintptr_t *t = NULL;
	cr_assert_eq(get_table((const void **)&t, &id), CUDA_SUCCESS);
	cr_assert_not_null(t);
	cr_assert_eq(t[0], 0x88);
	typedef CUresult (*get_fn)(void **, void **);
	void *b = NULL, *e = NULL;
	cr_assert_eq(((get_fn)t[4])(&b, &e), CUDA_ERROR_NOT_INITIALIZED);
	cr_assert_null(b);
	cr_assert_null(e);
	typedef CUresult (*put_fn)(void *, void *);
	static char not_ours[16];
	cr_assert_eq(((put_fn)t[13])(NULL, NULL), CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(((put_fn)t[13])(not_ours, not_ours + 16),
		     CUDA_ERROR_INVALID_VALUE);
}

/* Table 21318c60 entries 51 (a stream's object) and 39 (its id), what
 * cuBLAS calls for a handle with no workspace: the refusals the driver
 * gives before any stream is looked at (measured on driver 580), and
 * objects this library did not hand out. The answers themselves are
 * tests/gpu/lib_export's export_cublas_stream (sim and GPU). */
typedef CUresult (*sobj_fn)(CUcontext, CUstream, void **, int);
typedef CUresult (*sid_fn)(CUcontext, const void *, unsigned long long *);

static const uintptr_t *cublas_table(void)
{
	typedef CUresult (*table_fn)(const void **, const CUuuid *);
	table_fn get_table = (table_fn)sym("cuGetExportTable");
	CUuuid id = {{0x21, 0x31, 0x8c, 0x60, 0x97, 0x14, 0x32, 0x48, 0x8c, 0xa6,
		      0x41, 0xff, 0x73, 0x24, 0xc8, 0xf2}};
	const void *t = NULL;
	cr_assert_eq(get_table(&t, &id), CUDA_SUCCESS);
	cr_assert_eq(((const uintptr_t *)t)[0], 0x2e8);
	return t;
}

Test(cublas, stream_object_refusals)
{
	sobj_fn e51 = (sobj_fn)cublas_table()[51];
	void *o = (void *)0x1234;
	int fake = 0;
	cr_assert_eq(e51((CUcontext)&fake, NULL, NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(e51(NULL, NULL, &o, 0), CUDA_ERROR_INVALID_HANDLE);
	cr_assert_eq(e51(NULL, CU_STREAM_PER_THREAD, &o, 1),
		     CUDA_ERROR_INVALID_HANDLE);
	cr_assert_eq(e51((CUcontext)&fake, (CUstream)(intptr_t)-1, &o, 0),
		     CUDA_ERROR_INVALID_HANDLE);
	/* a stream before cuInit: the driver's own answer, nothing written */
	cr_assert_eq(e51(NULL, (CUstream)&fake, &o, 0),
		     CUDA_ERROR_NOT_INITIALIZED);
	cr_assert_eq(o, (void *)0x1234);
}

Test(cublas, stream_id_of_foreign_objects)
{
	sid_fn e39 = (sid_fn)cublas_table()[39];
	unsigned long long id = 99;
	uint64_t lookalike[2] = {0x6d61657274736776ull, 5};
	cr_assert_eq(e39(NULL, NULL, &id), CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(e39(NULL, lookalike, NULL), CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(e39(NULL, lookalike, &id), CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(id, 99);
}
