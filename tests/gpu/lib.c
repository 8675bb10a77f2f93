/* tests/gpu/lib.c - libraries and kernels (cuLibrary*, cuKernel*).
 *
 * Usage: lib KERNELS.fatbin
 *
 * A plain driver-API program (runs natively and through vgpu); the image
 * is the test kernels (tests/gpu/kernels.cu), best a fatbin with several
 * architectures and compressed entries (kernels_multi.fatbin). Checks:
 *  lib_load        from memory, from a version 2 fatbin wrapper (what nvcc
 *                  emits), from a file; bad arguments
 *  lib_kernels     count and enumeration list each kernel once, the 8
 *                  of kernels.cu among them, with the handles lookup
 *                  gives; a second lookup returns the same handle;
 *                  unknown names
 *  lib_kernel_info name, parameter layout, library, attributes (one set
 *                  and read back), a wrong device
 *  lib_launch      vgpu_add_f32 launched through the CUkernel itself and
 *                  through cuKernelGetFunction; every element checked
 *  lib_module      the library's module: its functions counted and
 *                  enumerated, loaded; its globals' initial data
 *  lib_unload      unloading; through vgpu, a library's handles are
 *                  invalid afterwards and forged ones are refused (the
 *                  real driver checks neither)
 *  lib_modes       cuModuleGetLoadingMode, cuModuleLoadFatBinary,
 *                  cuModuleLoad
 *  lib_long_names  a kernel whose name is 600 bytes and a global of 500
 *                  (C++ templates and namespaces make such names), found
 *                  by the library and module calls, the kernel named back
 *                  in full, the global's initial value read
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "check.h"
#include "file.h"
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* A driver that crashes on an argument names the line that passed it. */
static volatile sig_atomic_t at_line;
#undef EXPECT
#define EXPECT(c, want, call)                                                 \
	(at_line = __LINE__, expect_((c), (call), (want), #call, __LINE__))

static void crashed(int sig)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "FAIL crashed (signal %d) at line %d\n",
			 sig, (int)at_line);
	ssize_t w = write(1, msg, (size_t)n);
	(void)w;
	_exit(128 + sig);
}

static const char *names[] = {
	"vgpu_fill_u32", "vgpu_add_f32", "vgpu_saxpy", "vgpu_struct_arg",
	"vgpu_checksum", "vgpu_sleep_ns", "vgpu_fault", "vgpu_inc_counter",
};
#define NKERNELS 8

static const void *image;
static const char *path;

struct wrapper { /* nvcc's fatbin wrapper, version 2 */
	uint32_t magic, version;
	const void *data;
	const void *const *prelinked;
};

static void load(void)
{
	struct check c = {.name = "lib_load"};
	CUlibrary l1, l2, l3, bad;
	static const void *const none[1] = {NULL};
	struct wrapper w = {0x466243B1u, 2, image, none};
	EXPECT_OK(&c, cuLibraryLoadData(&l1, image, NULL, NULL, 0, NULL, NULL, 0));
	/* (HOST_UNIVERSAL_FUNCTION_AND_DATA_TABLE takes a table of cudart's
	 * whose layout is not public: not passed here) */
	CUlibraryOption o[1] = {CU_LIBRARY_BINARY_IS_PRESERVED};
	void *v[1] = {(void *)(uintptr_t)1};
	EXPECT_OK(&c, cuLibraryLoadData(&l2, &w, NULL, NULL, 0, o, v, 1));
	EXPECT_OK(&c, cuLibraryLoadFromFile(&l3, path, NULL, NULL, 0, NULL, NULL, 0));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuLibraryLoadData(NULL, image, NULL, NULL, 0, NULL, NULL, 0));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuLibraryLoadData(&bad, NULL, NULL, NULL, 0, NULL, NULL, 0));
	EXPECT(&c, CUDA_ERROR_FILE_NOT_FOUND,
	       cuLibraryLoadFromFile(&bad, "/nonexistent/k.fatbin", NULL, NULL,
				     0, NULL, NULL, 0));
	EXPECT_OK(&c, cuLibraryUnload(l1));
	EXPECT_OK(&c, cuLibraryUnload(l2));
	EXPECT_OK(&c, cuLibraryUnload(l3));
	check_end(&c);
}

static int name_index(const char *n)
{
	for (int i = 0; i < NKERNELS; i++)
		if (!strcmp(names[i], n))
			return i;
	return -1;
}

/* Enumeration lists every kernel once, the 8 of kernels.cu among them
 * (other areas append kernels), and hands out the handles lookup does. */
static void kernels(CUlibrary lib)
{
	struct check c = {.name = "lib_kernels"};
	unsigned n = 0;
	CUkernel ks[64], k1, k2;
	EXPECT_OK(&c, cuLibraryGetKernelCount(&n, lib));
	if (n < NKERNELS || n > 64)
		check_fail(&c, "%u kernels, want %d to 64", n, NKERNELS);
	if (n > 64)
		n = 64;
	EXPECT_OK(&c, cuLibraryEnumerateKernels(ks, n, lib));
	int seen = 0;
	for (unsigned i = 0; i < n && !c.bad; i++) {
		const char *nm = NULL;
		CUkernel again = NULL;
		EXPECT_OK(&c, cuKernelGetName(&nm, ks[i]));
		EXPECT_OK(&c, cuLibraryGetKernel(&again, lib, nm ? nm : ""));
		if (again != ks[i])
			check_fail(&c, "'%s': lookup and enumeration differ", nm);
		for (unsigned j = 0; j < i; j++)
			if (ks[j] == ks[i])
				check_fail(&c, "kernel %u listed twice", i);
		int at = nm ? name_index(nm) : -1;
		if (at >= 0)
			seen |= 1 << at;
	}
	if (seen != (1 << NKERNELS) - 1)
		check_fail(&c, "kernels.cu's kernels not all listed (%#x)", seen);
	EXPECT_OK(&c, cuLibraryGetKernel(&k1, lib, "vgpu_saxpy"));
	EXPECT_OK(&c, cuLibraryGetKernel(&k2, lib, "vgpu_saxpy"));
	if (k1 != k2)
		check_fail(&c, "two lookups, two handles");
	EXPECT(&c, CUDA_ERROR_NOT_FOUND,
	       cuLibraryGetKernel(&k1, lib, "no_such_kernel"));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuLibraryGetKernel(&k1, lib, NULL));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuLibraryGetKernelCount(NULL, lib));
	check_end(&c);
}

static void kernel_info(CUlibrary lib)
{
	struct check c = {.name = "lib_kernel_info"};
	CUkernel k;
	CUlibrary owner = NULL;
	const char *nm = NULL;
	size_t off[4], size[4];
	int v = 0;
	EXPECT_OK(&c, cuLibraryGetKernel(&k, lib, "vgpu_add_f32"));
	EXPECT_OK(&c, cuKernelGetName(&nm, k));
	if (!nm || strcmp(nm, "vgpu_add_f32"))
		check_fail(&c, "name '%s'", nm ? nm : "(null)");
	EXPECT_OK(&c, cuKernelGetLibrary(&owner, k));
	if (owner != lib)
		check_fail(&c, "cuKernelGetLibrary gave another library");
	for (int i = 0; i < 4; i++)
		EXPECT_OK(&c, cuKernelGetParamInfo(k, i, &off[i], &size[i]));
	/* (const float *a, const float *b, float *c, int n) */
	if (off[0] != 0 || off[1] != 8 || off[2] != 16 || off[3] != 24 ||
	    size[0] != 8 || size[1] != 8 || size[2] != 8 || size[3] != 4)
		check_fail(&c, "parameter layout %zu/%zu %zu/%zu %zu/%zu %zu/%zu",
			   off[0], size[0], off[1], size[1], off[2], size[2],
			   off[3], size[3]);
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuKernelGetParamInfo(k, 4, off, size));
	EXPECT_OK(&c, cuKernelGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, k, 0));
	if (v < 32 || v > 1024)
		check_fail(&c, "max threads per block %d", v);
	EXPECT_OK(&c, cuKernelGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, k, 0));
	if (v <= 0 || v > 255)
		check_fail(&c, "registers %d", v);
	EXPECT_OK(&c, cuKernelGetAttribute(&v, CU_FUNC_ATTRIBUTE_BINARY_VERSION, k, 0));
	if (v != 90)
		check_fail(&c, "binary version %d, want 90 (the sm_90 cubin)", v);
	EXPECT_OK(&c, cuKernelSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
					   65536, k, 0));
	EXPECT_OK(&c, cuKernelGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, k, 0));
	if (v != 65536)
		check_fail(&c, "dynamic shared memory %d after setting 65536", v);
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuKernelSetAttribute(CU_FUNC_ATTRIBUTE_NUM_REGS, 8, k, 0));
	EXPECT(&c, CUDA_ERROR_INVALID_DEVICE,
	       cuKernelGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, k, 1));
	check_end(&c);
}

enum { N = 5000 };

/* c = a + b with f; every element checked. */
static void add(struct check *c, CUfunction f, float bias)
{
	static float a[N], b[N], r[N];
	CUdeviceptr da, db, dc;
	int n = N;
	for (int i = 0; i < N; i++) {
		a[i] = (float)i * 0.5f + bias;
		b[i] = (float)(N - i);
	}
	EXPECT_OK(c, cuMemAlloc(&da, sizeof(a)));
	EXPECT_OK(c, cuMemAlloc(&db, sizeof(b)));
	EXPECT_OK(c, cuMemAlloc(&dc, sizeof(r)));
	EXPECT_OK(c, cuMemcpyHtoD(da, a, sizeof(a)));
	EXPECT_OK(c, cuMemcpyHtoD(db, b, sizeof(b)));
	void *args[] = {&da, &db, &dc, &n};
	EXPECT_OK(c, cuLaunchKernel(f, (N + 255) / 256, 1, 1, 256, 1, 1, 0,
				    NULL, args, NULL));
	EXPECT_OK(c, cuCtxSynchronize());
	EXPECT_OK(c, cuMemcpyDtoH(r, dc, sizeof(r)));
	for (int i = 0; i < N && !c->bad; i++)
		if (r[i] != a[i] + b[i])
			check_fail(c, "c[%d] = %g, want %g", i, r[i], a[i] + b[i]);
	cuMemFree(da);
	cuMemFree(db);
	cuMemFree(dc);
}

static void launch(CUlibrary lib)
{
	struct check c = {.name = "lib_launch"};
	CUkernel k;
	CUfunction f = NULL;
	EXPECT_OK(&c, cuLibraryGetKernel(&k, lib, "vgpu_add_f32"));
	add(&c, (CUfunction)k, 1.0f); /* a CUkernel launches as it is */
	EXPECT_OK(&c, cuKernelGetFunction(&f, k));
	if (f)
		add(&c, f, 7.0f);
	check_end(&c);
}

static int param_count(CUfunction f)
{
	size_t off, size;
	int n = 0;
	while (cuFuncGetParamInfo(f, (size_t)n, &off, &size) == CUDA_SUCCESS)
		n++;
	return n;
}

static int kernel_param_count(CUkernel k)
{
	size_t off, size;
	int n = 0;
	while (cuKernelGetParamInfo(k, (size_t)n, &off, &size) == CUDA_SUCCESS)
		n++;
	return n;
}

static void module(CUlibrary lib)
{
	struct check c = {.name = "lib_module"};
	CUmodule m = NULL;
	CUfunction f;
	CUdeviceptr p = 0, q = 0;
	size_t n = 0, nq = 0;
	uint32_t words[4] = {0};
	unsigned nf = 0;
	CUfunction fs[64];
	CUfunctionLoadingState st = CU_FUNCTION_LOADING_STATE_MAX;
	EXPECT_OK(&c, cuLibraryGetModule(&m, lib));
	EXPECT_OK(&c, cuModuleGetFunction(&f, m, "vgpu_checksum"));
	EXPECT_OK(&c, cuModuleGetFunctionCount(&nf, m));
	if (nf < NKERNELS || nf > 64)
		check_fail(&c, "module: %u functions", nf);
	else if (EXPECT_OK(&c, cuModuleEnumerateFunctions(fs, nf, m))) {
		/* the same functions as the library's kernels: compared by
		 * their parameter counts (names are cuFuncGetName's area) */
		CUkernel ks[64];
		int hist[32] = {0};
		EXPECT_OK(&c, cuLibraryEnumerateKernels(ks, nf, lib));
		for (unsigned i = 0; i < nf; i++) {
			hist[param_count(fs[i]) & 31]++;
			hist[kernel_param_count(ks[i]) & 31]--;
		}
		for (int i = 0; i < 32; i++)
			if (hist[i])
				check_fail(&c, "enumerated functions differ from "
					   "the kernels (%d parameters)", i);
	}
	EXPECT_OK(&c, cuFuncLoad(f));
	EXPECT_OK(&c, cuFuncIsLoaded(&st, f));
	if (st != CU_FUNCTION_LOADING_STATE_LOADED)
		check_fail(&c, "vgpu_checksum loading state %d", (int)st);
	EXPECT_OK(&c, cuLibraryGetGlobal(&p, &n, lib, "vgpu_words"));
	EXPECT_OK(&c, cuModuleGetGlobal(&q, &nq, m, "vgpu_words"));
	if (n != sizeof(words) || p != q || nq != n)
		check_fail(&c, "vgpu_words: %zu bytes at %llx (module: %zu at %llx)",
			   n, (unsigned long long)p, nq, (unsigned long long)q);
	EXPECT_OK(&c, cuMemcpyDtoH(words, p, sizeof(words)));
	if (words[0] != 0x11 || words[1] != 0x22 || words[2] != 0x33 ||
	    words[3] != 0x44)
		check_fail(&c, "vgpu_words = %x %x %x %x", words[0], words[1],
			   words[2], words[3]);
	EXPECT(&c, CUDA_ERROR_NOT_FOUND, cuLibraryGetGlobal(&p, &n, lib, "nope"));
	check_end(&c);
}

static void unload(void)
{
	struct check c = {.name = "lib_unload"};
	CUlibrary lib;
	CUkernel k;
	CUfunction f;
	const char *nm;
	unsigned n;
	static uint64_t forged[64] = {0x7667707562696c72ull}; /* "vgpulibr" */
	EXPECT_OK(&c, cuLibraryLoadData(&lib, image, NULL, NULL, 0, NULL, NULL, 0));
	EXPECT_OK(&c, cuLibraryGetKernel(&k, lib, "vgpu_fill_u32"));
	EXPECT_OK(&c, cuLibraryUnload(lib));
	/* NVIDIA's driver does not check a stale library handle (driver 580
	 * crashes on it, seen on the H100), so this is vgpu's promise only */
	if (dlsym(RTLD_DEFAULT, "vgpu_guest_library_marker")) {
		EXPECT(&c, CUDA_ERROR_INVALID_HANDLE,
		       cuLibraryGetKernelCount(&n, lib));
		EXPECT(&c, CUDA_ERROR_INVALID_HANDLE,
		       cuLibraryGetKernel(&k, lib, "vgpu_fill_u32"));
		EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, cuKernelGetName(&nm, k));
		/* forged handles: never dereferenced */
		EXPECT(&c, CUDA_ERROR_INVALID_HANDLE,
		       cuLibraryGetKernelCount(&n, (CUlibrary)&forged));
		EXPECT(&c, CUDA_ERROR_INVALID_HANDLE,
		       cuKernelGetName(&nm, (CUkernel)&forged));
		EXPECT(&c, CUDA_ERROR_INVALID_HANDLE,
		       cuKernelGetFunction(&f, (CUkernel)&forged));
	}
	check_end(&c);
}

static void modes(void)
{
	struct check c = {.name = "lib_modes"};
	CUmoduleLoadingMode mode = 0;
	CUmodule m;
	CUfunction f;
	EXPECT_OK(&c, cuModuleGetLoadingMode(&mode));
	if (mode != CU_MODULE_EAGER_LOADING && mode != CU_MODULE_LAZY_LOADING)
		check_fail(&c, "loading mode %d", (int)mode);
	EXPECT_OK(&c, cuModuleLoadFatBinary(&m, image));
	EXPECT_OK(&c, cuModuleGetFunction(&f, m, "vgpu_saxpy"));
	EXPECT_OK(&c, cuModuleUnload(m));
	EXPECT_OK(&c, cuModuleLoad(&m, path));
	EXPECT_OK(&c, cuModuleGetFunction(&f, m, "vgpu_checksum"));
	EXPECT_OK(&c, cuModuleUnload(m));
	EXPECT(&c, CUDA_ERROR_FILE_NOT_FOUND,
	       cuModuleLoad(&m, "/nonexistent/k.fatbin"));
	check_end(&c);
}

static void long_names(void)
{
	struct check c = {.name = "lib_long_names"};
	static char name[601], gname[501], ptx[2048];
	for (int i = 0; i < 600; i++)
		name[i] = "vgpu_long_kernel_"[i % 17];
	for (int i = 0; i < 500; i++)
		gname[i] = "vgpu_long_global_"[i % 17];
	snprintf(ptx, sizeof(ptx), ".version 9.0\n.target sm_90\n"
		 ".address_size 64\n.visible .global .align 4 .u32 %s = 4660;\n"
		 ".visible .entry %s()\n{\n\tret;\n}\n", gname, name);
	CUdeviceptr g = 0, g2 = 0;
	size_t gsize = 0, gsize2 = 0;
	uint32_t gval = 0;
	CUlibrary lib;
	CUkernel k;
	CUmodule m;
	CUfunction f;
	const char *back = NULL;
	if (EXPECT_OK(&c, cuLibraryLoadData(&lib, ptx, NULL, NULL, 0, NULL, NULL, 0))) {
		EXPECT_OK(&c, cuLibraryGetKernel(&k, lib, name));
		EXPECT_OK(&c, cuKernelGetName(&back, k));
		if (!back || strcmp(back, name))
			check_fail(&c, "the name came back as '%.40s...'",
				   back ? back : "(null)");
		EXPECT_OK(&c, cuLibraryGetGlobal(&g, &gsize, lib, gname));
		EXPECT_OK(&c, cuMemcpyDtoH(&gval, g, sizeof(gval)));
		if (gsize != 4 || gval != 4660)
			check_fail(&c, "long-named global: %zu bytes, value %u",
				   gsize, gval);
		EXPECT_OK(&c, cuLibraryUnload(lib));
	}
	if (EXPECT_OK(&c, cuModuleLoadData(&m, ptx))) {
		EXPECT_OK(&c, cuModuleGetGlobal(&g2, &gsize2, m, gname));
		if (gsize2 != 4 || !g2)
			check_fail(&c, "cuModuleGetGlobal: %zu bytes", gsize2);
		EXPECT_OK(&c, cuModuleGetFunction(&f, m, name));
		name[599] = 'x'; /* one byte off: not found */
		EXPECT(&c, CUDA_ERROR_NOT_FOUND, cuModuleGetFunction(&f, m, name));
		EXPECT_OK(&c, cuModuleUnload(m));
	}
	check_end(&c);
}

int main(int argc, char **argv)
{
	CUdevice dev;
	CUcontext ctx;
	CUlibrary lib;
	if (argc != 2 || !(image = read_file(argv[1]))) {
		fprintf(stderr, "usage: lib KERNELS.fatbin\n");
		return 2;
	}
	path = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGSEGV, crashed);
	signal(SIGBUS, crashed);
	if (cuInit(0) || cuDeviceGet(&dev, 0) ||
	    cuDevicePrimaryCtxRetain(&ctx, dev) || cuCtxSetCurrent(ctx) ||
	    cuLibraryLoadData(&lib, image, NULL, NULL, 0, NULL, NULL, 0)) {
		printf("FAIL lib_setup\n");
		return 1;
	}
	load();
	kernels(lib);
	kernel_info(lib);
	launch(lib);
	module(lib);
	unload();
	modes();
	long_names();
	cuLibraryUnload(lib);
	return check_summary("lib");
}
