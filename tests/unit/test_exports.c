/* The guest libcuda's symbol surface: every name the real driver exports
 * resolves and nothing else is exported; unimplemented calls answer
 * CUDA_ERROR_NOT_SUPPORTED and say so once; cuGetProcAddress serves every
 * request cudart 13 makes with the symbol of the right ABI; error names
 * match cuda.h. The library is dlopen'ed as an application would. */
#define _GNU_SOURCE
#include "../../guest/cuda/version.h"
#include <criterion/criterion.h>
#include <cudaTypedefs.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIB VGPU_BUILD_DIR "/guest/libvgpu-cuda.so"
#define EXPORTS VGPU_SRC_DIR "/guest/cuda/exports.txt"
#define REQUESTS VGPU_SRC_DIR "/tests/data/cuda13-getprocaddress-requests.txt"
#define MARKER "vgpu_guest_library_marker"
/* the benchmarks' count of blocking round trips (guest/cuda/marker.c) */
#define ROUND_TRIPS "vgpu_guest_round_trips"

/* A function no VM will ever implement (VDPAU interop), so its stub is
 * what these tests call whatever else gets implemented. */
#define STUB "cuGraphicsVDPAURegisterVideoSurface"
#define STUB2 "cuVDPAUGetDevice"

static void *open_lib(void)
{
	void *h = dlopen(LIB, RTLD_NOW | RTLD_LOCAL);
	cr_assert_not_null(h, "dlopen %s: %s", LIB, dlerror());
	return h;
}

/* The lines of a text file (free_lines() releases them). */
struct lines {
	char **v;
	size_t n;
};

static struct lines read_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	struct lines l = {NULL, 0};
	size_t cap = 0;
	char buf[512];
	while (fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\r\n")] = 0;
		if (!buf[0])
			continue;
		if (l.n == cap) {
			cap = cap ? 2 * cap : 256;
			l.v = realloc(l.v, cap * sizeof(*l.v));
			cr_assert_not_null(l.v);
		}
		l.v[l.n++] = strdup(buf);
	}
	fclose(f);
	return l;
}

static void free_lines(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int in_lines(const struct lines *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

Test(exports, every_driver_export_resolves)
{
	void *h = open_lib();
	struct lines ex = read_lines(EXPORTS);
	cr_assert_eq(ex.n, 707, "exports.txt has %zu names", ex.n);
	size_t missing = 0;
	for (size_t i = 0; i < ex.n; i++) {
		if (!dlsym(h, ex.v[i])) {
			cr_log_info("not exported: %s", ex.v[i]);
			missing++;
		}
	}
	cr_expect_eq(missing, 0, "%zu of %zu exports missing", missing, ex.n);
	cr_expect_not_null(dlsym(h, MARKER));
	free_lines(&ex);
}

/* `nm -D --defined-only` of the library: "ADDR TYPE NAME" per symbol. */
struct dynsym {
	char name[128];
	char type;
};

/* Symbols a sanitizer build adds (ASan's ODR indicators for exported
 * globals: __odr_asan.cudbgIpcFlag); the shipped build has none. */
static int from_sanitizer(const char *name)
{
	static const char *const prefix[] = {"__odr_asan", "__asan", "__tsan",
					     "__ubsan", "__sanitizer"};
	for (size_t i = 0; i < sizeof(prefix) / sizeof(*prefix); i++)
		if (strncmp(name, prefix[i], strlen(prefix[i])) == 0)
			return 1;
	return 0;
}

static size_t read_dynsyms(struct dynsym *out, size_t max)
{
	FILE *p = popen("nm -D --defined-only " LIB, "r");
	cr_assert_not_null(p);
	size_t n = 0;
	char line[256], type;
	char name[128];
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, "%*s %c %127s", &type, name) == 2 &&
		    !from_sanitizer(name) && n < max) {
			out[n].type = type;
			strcpy(out[n].name, name);
			n++;
		}
	cr_assert_eq(pclose(p), 0, "nm failed");
	return n;
}

Test(exports, nothing_beyond_the_driver_list_and_vgpus_two)
{
	static struct dynsym syms[2048];
	size_t n = read_dynsyms(syms, 2048);
	struct lines ex = read_lines(EXPORTS);
	size_t extra = 0;
	int marker = 0, trips = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(syms[i].name, MARKER) == 0) {
			marker = 1;
			continue;
		}
		if (strcmp(syms[i].name, ROUND_TRIPS) == 0) {
			trips = 1;
			continue;
		}
		if (!in_lines(&ex, syms[i].name)) {
			cr_log_info("exported but not a driver name: %s",
				    syms[i].name);
			extra++;
		}
	}
	cr_expect_eq(extra, 0, "%zu extra exports", extra);
	cr_expect(marker, "the marker is not exported");
	cr_expect(trips, ROUND_TRIPS " is not exported");
	cr_expect_eq(n, ex.n + 2, "%zu exports, want %zu", n, ex.n + 2);
	free_lines(&ex);
}

/* The debugger interface's variables must be data, not function stubs. */
Test(exports, debugger_variables_are_data)
{
	static const char *const functions[] = {
		"cudbgApiAttach", "cudbgApiDetach", "cudbgApiInit",
		"cudbgGetAPI", "cudbgGetAPIVersion", "cudbgMain",
		"cudbgReportDriverApiError", "cudbgReportDriverInternalError",
	};
#define NFUNCTIONS (sizeof(functions) / sizeof(*functions))
	static struct dynsym syms[2048];
	size_t n = read_dynsyms(syms, 2048), seen = 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(syms[i].name, "cudbg", 5) != 0)
			continue;
		seen++;
		int fn = 0;
		for (size_t k = 0; k < NFUNCTIONS; k++)
			fn |= strcmp(syms[i].name, functions[k]) == 0;
		if (fn)
			cr_expect_eq(syms[i].type, 'T', "%s is a function",
				     syms[i].name);
		else
			cr_expect(syms[i].type == 'B' || syms[i].type == 'D',
				  "%s is data, nm type %c", syms[i].name,
				  syms[i].type);
	}
	cr_expect_eq(seen, 33, "%zu cudbg symbols", seen);
}

Test(exports, soname_is_libcuda_so_1)
{
	FILE *p = popen("objdump -p " LIB, "r");
	cr_assert_not_null(p);
	char line[256];
	int found = 0;
	while (fgets(line, sizeof(line), p))
		found |= strstr(line, "SONAME") && strstr(line, "libcuda.so.1");
	pclose(p);
	cr_expect(found);
}

/* Runs `body` in a child whose stderr is a pipe; returns what it wrote and
 * the child's exit status (body's return value). */
static int in_child(int (*body)(void *h), char *out, size_t outlen)
{
	int fd[2];
	cr_assert_eq(pipe(fd), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], STDERR_FILENO);
		close(fd[1]);
		void *h = dlopen(LIB, RTLD_NOW | RTLD_LOCAL);
		_exit(h ? body(h) : 99);
	}
	close(fd[1]);
	size_t len = 0;
	ssize_t r;
	while ((r = read(fd[0], out + len, outlen - 1 - len)) > 0)
		len += (size_t)r;
	out[len] = 0;
	close(fd[0]);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "child died: status %d", st);
	return WEXITSTATUS(st);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

typedef int (*stub_fn)(void);

/* Exit status: 0 if both calls answered CUDA_ERROR_NOT_SUPPORTED. */
static int call_stubs_twice(void *h)
{
	stub_fn a = (stub_fn)dlsym(h, STUB), b = (stub_fn)dlsym(h, STUB2);
	if (!a || !b)
		return 98;
	int bad = 0;
	for (int i = 0; i < 2; i++)
		bad |= a() != CUDA_ERROR_NOT_SUPPORTED ||
		       b() != CUDA_ERROR_NOT_SUPPORTED;
	return bad;
}

Test(exports, unimplemented_call_returns_801_and_logs_once)
{
	char out[4096];
	unsetenv("VGPU_LOG");
	cr_assert_eq(in_child(call_stubs_twice, out, sizeof(out)), 0,
		     "stub results wrong; stderr: %s", out);
	cr_expect_eq(CUDA_ERROR_NOT_SUPPORTED, 801);
	cr_expect_eq(count(out, "vgpu: " STUB " is not implemented "
				"(CUDA_ERROR_NOT_SUPPORTED)\n"), 1,
		     "stderr: %s", out);
	cr_expect_eq(count(out, "vgpu: " STUB2 " is not implemented "
				"(CUDA_ERROR_NOT_SUPPORTED)\n"), 1,
		     "stderr: %s", out);
	cr_expect_eq(count(out, "\n"), 2, "stderr: %s", out);
}

Test(exports, vgpu_log_quiet_silences_the_report)
{
	char out[4096];
	setenv("VGPU_LOG", "quiet", 1);
	cr_assert_eq(in_child(call_stubs_twice, out, sizeof(out)), 0);
	cr_expect_str_eq(out, "");
}

static void *hammer(void *fn)
{
	for (int i = 0; i < 1000; i++)
		((stub_fn)fn)();
	return NULL;
}

static int call_from_threads(void *h)
{
	void *fn = dlsym(h, STUB);
	pthread_t t[8];
	for (int i = 0; i < 8; i++)
		if (pthread_create(&t[i], NULL, hammer, fn))
			return 97;
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	return 0;
}

Test(exports, concurrent_first_calls_log_once)
{
	char out[4096];
	unsetenv("VGPU_LOG");
	cr_assert_eq(in_child(call_from_threads, out, sizeof(out)), 0);
	cr_expect_eq(count(out, STUB " is not implemented"), 1, "stderr: %s",
		     out);
}

/* ---- cuGetProcAddress ---- */

static PFN_cuGetProcAddress_v12000 gpa2;
static PFN_cuGetProcAddress_v11030 gpa1;
static void *lib;

static void open_gpa(void)
{
	lib = open_lib();
	gpa2 = (PFN_cuGetProcAddress_v12000)dlsym(lib, "cuGetProcAddress_v2");
	gpa1 = (PFN_cuGetProcAddress_v11030)dlsym(lib, "cuGetProcAddress");
	cr_assert(gpa1 && gpa2);
}
TestSuite(procaddr, .init = open_gpa);

/* What cuGetProcAddress_v2 returns for name@version/flags. */
static void *resolve(const char *name, int version, cuuint64_t flags,
		     CUresult *rc, CUdriverProcAddressQueryResult *st)
{
	void *pfn = (void *)1; /* must be overwritten */
	*st = (CUdriverProcAddressQueryResult)77;
	*rc = gpa2(name, &pfn, version, flags, st);
	return pfn;
}

/* name@version/flags must give exactly the exported symbol `want`. */
static void expect_abi(const char *name, int version, cuuint64_t flags,
		       const char *want)
{
	CUresult rc;
	CUdriverProcAddressQueryResult st;
	void *got = resolve(name, version, flags, &rc, &st);
	void *sym = dlsym(lib, want);
	cr_assert_not_null(sym, "%s is not exported", want);
	cr_expect_eq(rc, CUDA_SUCCESS, "%s@%d/%d: rc %d", name, version,
		     (int)flags, rc);
	cr_expect_eq(st, CU_GET_PROC_ADDRESS_SUCCESS, "%s@%d: status %d",
		     name, version, st);
	cr_expect_eq(got, sym, "%s@%d/%d is not %s", name, version,
		     (int)flags, want);
	void *got1 = NULL;
	cr_expect_eq(gpa1(name, &got1, version, flags), CUDA_SUCCESS);
	cr_expect_eq(got1, sym, "v1: %s@%d/%d is not %s", name, version,
		     (int)flags, want);
}

Test(procaddr, every_cudart13_request_resolves_to_an_export)
{
	struct lines req = read_lines(REQUESTS);
	struct lines ex = read_lines(EXPORTS);
	cr_assert_eq(req.n, 453);
	void **addr = calloc(ex.n, sizeof(*addr));
	cr_assert_not_null(addr);
	for (size_t i = 0; i < ex.n; i++)
		addr[i] = dlsym(lib, ex.v[i]);
	size_t bad = 0;
	for (size_t i = 0; i < req.n; i++) {
		char name[128];
		int version;
		unsigned flags;
		cr_assert_eq(sscanf(req.v[i], "%127[^@]@%d/%u", name, &version,
				    &flags), 3, "bad line %s", req.v[i]);
		CUresult rc;
		CUdriverProcAddressQueryResult st;
		void *fn = resolve(name, version, flags, &rc, &st);
		int known = 0;
		for (size_t k = 0; fn && k < ex.n && !known; k++)
			known = addr[k] == fn;
		if (rc != CUDA_SUCCESS || st != CU_GET_PROC_ADDRESS_SUCCESS ||
		    !known) {
			cr_log_info("%s: rc %d status %d pfn %p", req.v[i], rc,
				    st, fn);
			bad++;
		}
		void *fn1 = NULL;
		if (gpa1(name, &fn1, version, flags) != CUDA_SUCCESS ||
		    fn1 != fn)
			bad++;
	}
	cr_expect_eq(bad, 0, "%zu of %zu requests failed", bad, req.n);
	free(addr);
	free_lines(&req);
	free_lines(&ex);
}

Test(procaddr, abi_follows_the_requested_version)
{
	expect_abi("cuMemAlloc", 2000, 0, "cuMemAlloc");
	expect_abi("cuMemAlloc", 3010, 0, "cuMemAlloc");
	expect_abi("cuMemAlloc", 3020, 0, "cuMemAlloc_v2");
	expect_abi("cuMemAlloc", 13000, 0, "cuMemAlloc_v2");
	expect_abi("cuCtxCreate", 11040, 0, "cuCtxCreate_v3");
	expect_abi("cuCtxCreate", 12050, 0, "cuCtxCreate_v4");
	expect_abi("cuCtxGetDevice", 12090, 0, "cuCtxGetDevice");
	expect_abi("cuCtxGetDevice", 13000, 0, "cuCtxGetDevice_v2");
	expect_abi("cuStreamGetCaptureInfo", 10010, 0,
		   "cuStreamGetCaptureInfo");
	expect_abi("cuStreamGetCaptureInfo", 11030, 0,
		   "cuStreamGetCaptureInfo_v2");
	expect_abi("cuStreamGetCaptureInfo", 12030, 0,
		   "cuStreamGetCaptureInfo_v3");
	/* cuda.h renames cuGraphInstantiate to cuGraphInstantiateWithFlags
	 * for source; by name the driver still serves its own _v2 ABI. */
	expect_abi("cuGraphInstantiate", 12000, 0, "cuGraphInstantiate_v2");
	expect_abi("cuGetProcAddress", 11030, 0, "cuGetProcAddress");
	expect_abi("cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2");
	expect_abi("cuGetErrorString", 6000, 0, "cuGetErrorString");
}

Test(procaddr, per_thread_flag_picks_ptds_and_ptsz_variants)
{
	const cuuint64_t PT = CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
	const cuuint64_t LEGACY = CU_GET_PROC_ADDRESS_LEGACY_STREAM;
	expect_abi("cuMemcpyHtoD", 7000, PT, "cuMemcpyHtoD_v2_ptds");
	expect_abi("cuMemcpyHtoD", 13000, PT, "cuMemcpyHtoD_v2_ptds");
	expect_abi("cuMemcpyHtoD", 7000, 0, "cuMemcpyHtoD_v2");
	expect_abi("cuMemcpyHtoD", 7000, LEGACY, "cuMemcpyHtoD_v2");
	expect_abi("cuMemcpyHtoD", 7000, LEGACY | PT, "cuMemcpyHtoD_v2");
	expect_abi("cuMemsetD8", 7000, PT, "cuMemsetD8_v2_ptds");
	expect_abi("cuLaunchKernel", 7000, PT, "cuLaunchKernel_ptsz");
	expect_abi("cuLaunchKernel", 13000, 0, "cuLaunchKernel");
	expect_abi("cuStreamGetCaptureInfo", 12030, PT,
		   "cuStreamGetCaptureInfo_v3_ptsz");
	/* no per-thread variant: the legacy one, whatever the flags */
	expect_abi("cuInit", 2000, PT, "cuInit");
	expect_abi("cuMemAlloc", 3020, PT, "cuMemAlloc_v2");
}

Test(procaddr, per_thread_variant_older_than_its_introduction)
{
	/* The _ptds ABI exists from CUDA 7.0 (PFN_cuMemcpyHtoD_v7000_ptds);
	 * the real driver answers 3020/per-thread with no pointer. */
	CUresult rc;
	CUdriverProcAddressQueryResult st;
	void *fn = resolve("cuMemcpyHtoD", 3020,
			   CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &rc,
			   &st);
	cr_expect_eq(rc, CUDA_SUCCESS);
	cr_expect_null(fn);
	cr_expect_eq(st, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
}

Test(procaddr, version_older_than_the_symbol)
{
	CUresult rc;
	CUdriverProcAddressQueryResult st;
	void *fn = resolve("cuLaunchKernelEx", 11050, 0, &rc, &st);
	cr_expect_eq(rc, CUDA_SUCCESS);
	cr_expect_null(fn);
	cr_expect_eq(st, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
	fn = resolve("cuGetProcAddress", 11020, 0, &rc, &st);
	cr_expect_null(fn);
	cr_expect_eq(st, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
}

Test(procaddr, unknown_symbol_is_not_found)
{
	CUresult rc;
	CUdriverProcAddressQueryResult st;
	void *fn = resolve("cuNoSuchFunction", 13000, 0, &rc, &st);
	cr_expect_eq(rc, CUDA_ERROR_NOT_FOUND);
	cr_expect_null(fn);
	cr_expect_eq(st, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
	void *fn1 = (void *)1;
	cr_expect_eq(gpa1("cuNoSuchFunction", &fn1, 13000, 0),
		     CUDA_ERROR_NOT_FOUND);
	cr_expect_null(fn1);
	fn1 = (void *)1;
	cr_expect_eq(gpa1("", &fn1, 13000, 0), CUDA_ERROR_NOT_FOUND);
	cr_expect_null(fn1);
}

Test(procaddr, bad_arguments)
{
	CUresult rc;
	CUdriverProcAddressQueryResult st;
	void *fn = resolve("cuInit", VGPU_CUDA_DRIVER_VERSION + 10, 0, &rc,
			   &st);
	cr_expect_eq(rc, CUDA_ERROR_INVALID_VALUE,
		     "a version newer than the driver");
	cr_expect_null(fn);
	fn = resolve("cuInit", VGPU_CUDA_DRIVER_VERSION, 0, &rc, &st);
	cr_expect_eq(rc, CUDA_SUCCESS);
	cr_expect_eq(gpa2(NULL, &fn, 13000, 0, &st), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(gpa2("cuInit", NULL, 13000, 0, &st),
		     CUDA_ERROR_INVALID_VALUE);
	/* symbolStatus is optional */
	fn = NULL;
	cr_expect_eq(gpa2("cuInit", &fn, 13000, 0, NULL), CUDA_SUCCESS);
	cr_expect_eq(fn, dlsym(lib, "cuInit"));
}

/* ---- cuGetErrorName / cuGetErrorString ---- */

static PFN_cuGetErrorName_v6000 err_name;
static PFN_cuGetErrorString_v6000 err_string;

static void open_err(void)
{
	void *h = open_lib();
	err_name = (PFN_cuGetErrorName_v6000)dlsym(h, "cuGetErrorName");
	err_string = (PFN_cuGetErrorString_v6000)dlsym(h, "cuGetErrorString");
	cr_assert(err_name && err_string);
}
TestSuite(errors, .init = open_err);

static void expect_name(CUresult e, const char *want)
{
	const char *s = NULL;
	cr_expect_eq(err_name(e, &s), CUDA_SUCCESS, "%s", want);
	cr_expect(s && strcmp(s, want) == 0, "%d: '%s', want '%s'", e,
		  s ? s : "(null)", want);
	s = NULL;
	cr_expect_eq(err_string(e, &s), CUDA_SUCCESS, "%s", want);
	cr_expect(s && strlen(s) > 10, "%s: string '%s'", want,
		  s ? s : "(null)");
}
#define EXPECT_NAME(e) expect_name(e, #e)

Test(errors, names_match_cuda_h)
{
	EXPECT_NAME(CUDA_SUCCESS);
	EXPECT_NAME(CUDA_ERROR_INVALID_VALUE);
	EXPECT_NAME(CUDA_ERROR_OUT_OF_MEMORY);
	EXPECT_NAME(CUDA_ERROR_STUB_LIBRARY);
	EXPECT_NAME(CUDA_ERROR_NO_DEVICE);
	EXPECT_NAME(CUDA_ERROR_INVALID_CONTEXT);
	EXPECT_NAME(CUDA_ERROR_NOT_FOUND);
	EXPECT_NAME(CUDA_ERROR_ILLEGAL_ADDRESS);
	EXPECT_NAME(CUDA_ERROR_NOT_SUPPORTED);
	EXPECT_NAME(CUDA_ERROR_UNKNOWN);
}

Test(errors, unknown_code_is_invalid_value)
{
	const char *s = "x";
	cr_expect_eq(err_name((CUresult)12345, &s), CUDA_ERROR_INVALID_VALUE);
	cr_expect_null(s);
	s = "x";
	cr_expect_eq(err_string((CUresult)12345, &s), CUDA_ERROR_INVALID_VALUE);
	cr_expect_null(s);
	cr_expect_eq(err_name(CUDA_SUCCESS, NULL), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(err_string(CUDA_SUCCESS, NULL), CUDA_ERROR_INVALID_VALUE);
}
