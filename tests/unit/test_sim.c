/* The sim backend (daemon/sim/): a CPU test double of the CUDA driver that
 * must be honest enough to catch the daemon's and the guest's bugs.
 *
 * Images: build/tests/gpu/kernels.{cubin,fatbin,ptx}, made by nvcc 13 from
 * tests/gpu/kernels.cu (the Makefile; VGPU_BUILD_DIR says where). Every
 * test runs in its own process, so each starts with a fresh device.
 */
#define _GNU_SOURCE
#include "../../daemon/backend.h"
#include "../../daemon/sim/sim.h"
#include <criterion/criterion.h>
#include <elf.h>
#include <stddef.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef VGPU_BUILD_DIR
#define VGPU_BUILD_DIR "build"
#endif

static struct vgpu_driver D;
static CUcontext ctx;

static void ok_(CUresult rc, const char *what, int line)
{
	cr_assert_eq(rc, CUDA_SUCCESS, "line %d: %s = %d (%s)", line, what,
		     (int)rc, vgpu_sim_last_error_detail());
}
#define OK(x) ok_((x), #x, __LINE__)

static void err_(CUresult rc, CUresult want, const char *what, int line)
{
	cr_assert_eq(rc, want, "line %d: %s = %d, want %d", line, what,
		     (int)rc, (int)want);
}
#define ERR(x, want) err_((x), (want), #x, __LINE__)

static void open_sim(void)
{
	char err[256] = "";
	cr_assert_eq(vgpu_backend_sim_open(&D, err, sizeof(err)), 0, "%s", err);
}

static void up(void)
{
	open_sim();
	OK(D.cuInit(0));
	OK(D.cuDevicePrimaryCtxRetain(&ctx, 0));
	OK(D.cuCtxSetCurrent(ctx));
}

TestSuite(sim, .init = up);
TestSuite(sim_bare);

/* ---- helpers ------------------------------------------------------------ */

/* A kernel image from the build directory, NUL-terminated (for PTX). */
static void *image(const char *ext, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/tests/gpu/kernels.%s", VGPU_BUILD_DIR,
		 ext);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "missing %s (make builds it with nvcc)", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = calloc(1, (size_t)n + 1);
	cr_assert_not_null(p);
	cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (len)
		*len = (size_t)n;
	return p;
}

static const char *const images[] = {"cubin", "fatbin", "ptx"};

static CUmodule load(const char *ext)
{
	CUmodule m;
	void *p = image(ext, NULL);
	OK(D.cuModuleLoadData(&m, p));
	free(p); /* the driver copied what it needs */
	return m;
}

static CUfunction fn(CUmodule m, const char *name)
{
	CUfunction f;
	OK(D.cuModuleGetFunction(&f, m, name));
	return f;
}

static void launch(CUfunction f, unsigned grid, unsigned block, CUstream s,
		   void **args)
{
	OK(D.cuLaunchKernel(f, grid, 1, 1, block, 1, 1, 0, s, args, NULL));
}

static CUdeviceptr alloc(size_t n)
{
	CUdeviceptr p;
	OK(D.cuMemAlloc_v2(&p, n));
	return p;
}

static uint64_t checksum(const uint8_t *p, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += (uint64_t)p[i] * (i + 1);
	return s;
}

/* The checksum of n u32 words, all v. */
static uint64_t checksum_fill(uint32_t v, size_t n)
{
	uint32_t *h = malloc(n * 4);
	for (size_t i = 0; i < n; i++)
		h[i] = v;
	uint64_t s = checksum((uint8_t *)h, n * 4);
	free(h);
	return s;
}

static void sleep_on(CUmodule m, CUstream s, unsigned long long ns)
{
	void *a[] = {&ns};
	launch(fn(m, "vgpu_sleep_ns"), 1, 1, s, a);
}

static void fill_on(CUmodule m, CUstream s, CUdeviceptr p, unsigned v,
		    unsigned long long n)
{
	void *a[] = {&p, &v, &n};
	launch(fn(m, "vgpu_fill_u32"), 4, 128, s, a);
}

static void checksum_on(CUmodule m, CUstream s, CUdeviceptr p,
			unsigned long long n, CUdeviceptr out)
{
	void *a[] = {&p, &n, &out};
	launch(fn(m, "vgpu_checksum"), 3, 64, s, a);
}

/* ---- initialisation, device, attributes, errors ------------------------- */

Test(sim_bare, nothing_works_before_cuInit)
{
	int v, n;
	CUdeviceptr p;
	open_sim();
	OK(D.cuDriverGetVersion(&v));
	cr_expect_eq(v, 13000);
	ERR(D.cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
	ERR(D.cuMemAlloc_v2(&p, 16), CUDA_ERROR_NOT_INITIALIZED);
	ERR(D.cuInit(1), CUDA_ERROR_INVALID_VALUE);
	OK(D.cuInit(0));
	OK(D.cuDeviceGetCount(&n));
	cr_expect_eq(n, 1);
	/* initialised, but no current context */
	ERR(D.cuMemAlloc_v2(&p, 16), CUDA_ERROR_INVALID_CONTEXT);
	ERR(D.cuCtxSynchronize(), CUDA_ERROR_INVALID_CONTEXT);
	ERR(D.cuCtxSetCurrent((CUcontext)&n), CUDA_ERROR_INVALID_CONTEXT);
	cr_expect_str_eq(D.backend, "sim");
}

Test(sim, identity)
{
	CUdevice dev;
	char name[64], bus[32], shortname[5];
	CUuuid u;
	size_t total;
	OK(D.cuDeviceGet(&dev, 0));
	cr_expect_eq(dev, 0);
	ERR(D.cuDeviceGet(&dev, 1), CUDA_ERROR_INVALID_DEVICE);
	OK(D.cuDeviceGetName(name, sizeof(name), 0));
	cr_expect_str_eq(name, "vgpu sim (CPU test double)");
	OK(D.cuDeviceGetName(shortname, sizeof(shortname), 0));
	cr_expect_str_eq(shortname, "vgpu");
	ERR(D.cuDeviceGetName(name, sizeof(name), 1), CUDA_ERROR_INVALID_DEVICE);
	OK(D.cuDeviceGetUuid_v2(&u, 0));
	cr_expect(!memcmp(u.bytes, "vgpu sim device0", 16));
	OK(D.cuDeviceTotalMem_v2(&total, 0));
	cr_expect_eq(total, 16ull << 30);
	OK(D.cuDeviceGetPCIBusId(bus, sizeof(bus), 0));
	cr_expect_str_eq(bus, "0000:00:00.0");
	int dom, b, d;
	OK(D.cuDeviceGetAttribute(&dom, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, 0));
	OK(D.cuDeviceGetAttribute(&b, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, 0));
	OK(D.cuDeviceGetAttribute(&d, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, 0));
	char want[32];
	snprintf(want, sizeof(want), "%04x:%02x:%02x.0", dom, b, d);
	cr_expect_str_eq(bus, want);
}

Test(sim, attributes)
{
	static const struct { CUdevice_attribute a; int v; } want[] = {
		{CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 9},
		{CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0},
		{CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 132},
		{CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 1024},
		{CU_DEVICE_ATTRIBUTE_WARP_SIZE, 32},
		{CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, 2147483647},
		{CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, 64},
		{CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, 49152},
		{CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, 1},
		{CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, 0},
		{CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, 0},
		{CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS, 0},
		{CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, 1}, /* sim_vmm.c */
		{CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED, 0},
		{CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, 1}, /* sim_pool.c */
		{CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES, 0},
		{CU_DEVICE_ATTRIBUTE_INTEGRATED, 0},
	};
	int v;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		OK(D.cuDeviceGetAttribute(&v, want[i].a, 0));
		cr_expect_eq(v, want[i].v, "attribute %d: %d", want[i].a, v);
	}
	/* every attribute cuda.h defines has a value, nothing else does */
	for (int a = 1; a < CU_DEVICE_ATTRIBUTE_MAX; a++)
		OK(D.cuDeviceGetAttribute(&v, (CUdevice_attribute)a, 0));
	ERR(D.cuDeviceGetAttribute(&v, (CUdevice_attribute)0, 0),
	    CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX, 0),
	    CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuDeviceGetAttribute(&v, (CUdevice_attribute)100000, 0),
	    CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 1),
	    CUDA_ERROR_INVALID_DEVICE);
}

Test(sim, error_names)
{
	const char *s;
	OK(D.cuGetErrorName(CUDA_ERROR_ILLEGAL_ADDRESS, &s));
	cr_expect_str_eq(s, "CUDA_ERROR_ILLEGAL_ADDRESS");
	OK(D.cuGetErrorString(CUDA_ERROR_ILLEGAL_ADDRESS, &s));
	cr_expect(strlen(s) > 5);
	OK(D.cuGetErrorName(CUDA_SUCCESS, &s));
	cr_expect_str_eq(s, "CUDA_SUCCESS");
	ERR(D.cuGetErrorName((CUresult)12345, &s), CUDA_ERROR_INVALID_VALUE);
	cr_expect_null(s);
}

Test(sim_bare, memory_size_from_environment)
{
	size_t total, free_b;
	CUcontext c;
	setenv("VGPU_SIM_MEMORY", "64M", 1);
	open_sim();
	OK(D.cuInit(0));
	OK(D.cuDeviceTotalMem_v2(&total, 0));
	cr_expect_eq(total, 64u << 20);
	OK(D.cuDevicePrimaryCtxRetain(&c, 0));
	OK(D.cuCtxSetCurrent(c));
	CUdeviceptr p;
	ERR(D.cuMemAlloc_v2(&p, 65u << 20), CUDA_ERROR_OUT_OF_MEMORY);
	p = alloc(60u << 20);
	ERR(D.cuMemAlloc_v2(&p, 8u << 20), CUDA_ERROR_OUT_OF_MEMORY);
	OK(D.cuMemGetInfo_v2(&free_b, &total));
	cr_expect_eq(free_b, 4u << 20);
}

Test(sim_bare, bad_environment_is_an_open_error)
{
	char err[256] = "";
	setenv("VGPU_SIM_MEMORY", "lots", 1);
	cr_expect_eq(vgpu_backend_sim_open(&D, err, sizeof(err)), -1);
	cr_expect(strstr(err, "VGPU_SIM_MEMORY") != NULL, "%s", err);
}

/* ---- contexts ----------------------------------------------------------- */

Test(sim, primary_context_is_refcounted_and_resets)
{
	CUcontext c2;
	CUstream s;
	size_t free0, free1, total;
	OK(D.cuDevicePrimaryCtxRetain(&c2, 0));
	cr_expect_eq(c2, ctx);
	OK(D.cuMemGetInfo_v2(&free0, &total));
	CUdeviceptr p = alloc(1 << 20);
	OK(D.cuStreamCreate(&s, 0));
	OK(D.cuDevicePrimaryCtxRelease_v2(0)); /* 2 -> 1: nothing happens */
	OK(D.cuMemcpyHtoD_v2(p, &total, sizeof(total)));
	OK(D.cuDevicePrimaryCtxRelease_v2(0)); /* 1 -> 0: reset */
	ERR(D.cuMemGetInfo_v2(&free1, &total), CUDA_ERROR_CONTEXT_IS_DESTROYED);
	ERR(D.cuDevicePrimaryCtxRelease_v2(0), CUDA_ERROR_INVALID_CONTEXT);
	OK(D.cuDevicePrimaryCtxRetain(&c2, 0));
	OK(D.cuMemGetInfo_v2(&free1, &total));
	cr_expect_eq(free1, free0, "the reset freed everything");
	ERR(D.cuMemFree_v2(p), CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuStreamSynchronize(s), CUDA_ERROR_INVALID_HANDLE);
}

/* The handle registry is sized by the live handles: it doubled each time
 * destroyed handles' tombstones filled it, so a loop creating and
 * destroying events grew it (and every context reset's scan of it) without
 * bound. */
Test(sim, handle_registry_does_not_grow_with_destroyed_handles)
{
	CUevent e;
	for (int i = 0; i < 20000; i++) {
		OK(D.cuEventCreate(&e, 0));
		OK(D.cuEventDestroy_v2(e));
	}
	cr_expect_leq(sim_obj_slots(), 256, "%zu slots, no handle live",
		      sim_obj_slots());
}

/* ---- memory ------------------------------------------------------------- */

/* A device pointer is inside an inaccessible reservation of this process,
 * so no host allocation can ever have its address. */
Test(sim, device_pointers_are_reserved_inaccessible_addresses)
{
	CUdeviceptr p = alloc(100), q = alloc(1);
	cr_expect_eq(p % 256, 0);
	cr_expect_eq(q % 256, 0);
	cr_expect(p < (1ull << 47) && p > (1ull << 32));
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool found = false;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		char perms[8];
		if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) == 3 &&
		    p >= lo && p < hi) {
			found = true;
			cr_expect_str_eq(perms, "---p", "%s", line);
		}
	}
	fclose(f);
	cr_expect(found, "no mapping reserves %llx", (unsigned long long)p);
}

Test(sim, copies_every_direction_byte_exact)
{
	static const size_t sizes[] = {1, 3, 255, 256, 257, 4097, (1 << 20) + 3};
	CUstream s;
	OK(D.cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k], off = n > 7 ? 5 : 0, len = n - off;
		uint8_t *a = malloc(n), *b = calloc(1, n), *c = calloc(1, n);
		for (size_t i = 0; i < n; i++)
			a[i] = (uint8_t)(i * 131 + k);
		CUdeviceptr d1 = alloc(n), d2 = alloc(n + 1);
		OK(D.cuMemcpyHtoD_v2(d1, a, n));
		OK(D.cuMemcpyDtoD_v2(d2 + 1, d1 + off, len));
		OK(D.cuMemcpyDtoH_v2(b, d2 + 1, len));
		cr_assert(!memcmp(b, a + off, len), "size %zu", n);
		OK(D.cuMemcpyHtoDAsync_v2(d1, b, len, s));
		OK(D.cuMemcpyDtoHAsync_v2(c, d1, len, s));
		OK(D.cuStreamSynchronize(s));
		cr_assert(!memcmp(c, a + off, len), "async, size %zu", n);
		OK(D.cuMemFree_v2(d1));
		OK(D.cuMemFree_v2(d2));
		free(a);
		free(b);
		free(c);
	}
	OK(D.cuStreamDestroy_v2(s));
}

Test(sim, out_of_bounds_and_foreign_pointers_are_refused)
{
	uint8_t h[64] = {0};
	CUdeviceptr p = alloc(32), q = alloc(32);
	ERR(D.cuMemcpyHtoD_v2(p, h, 33), CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuMemcpyHtoD_v2(p + 31, h, 2), CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuMemcpyDtoH_v2(h, p - 1, 1), CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuMemcpyDtoD_v2(q, p + 16, 17), CUDA_ERROR_INVALID_VALUE);
	/* a host pointer used as a device pointer, and the reverse */
	ERR(D.cuMemcpyHtoD_v2((CUdeviceptr)(uintptr_t)h, h, 1),
	    CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuMemcpyHtoD_v2(p, (void *)(uintptr_t)q, 8),
	    CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuMemcpyDtoH_v2((void *)(uintptr_t)q, p, 8),
	    CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuMemcpyHtoD_v2(p, NULL, 8), CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuMemsetD8_v2(p + 30, 0, 3), CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuMemsetD32_v2(p + 1, 0, 1), CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuMemsetD32_v2(p, 0, 9), CUDA_ERROR_INVALID_VALUE);
	/* exactly the allocation is fine */
	OK(D.cuMemcpyHtoD_v2(p, h, 32));
	OK(D.cuMemcpyHtoD_v2(p + 31, h, 1));
	/* frees: unknown, interior, twice; then use after free */
	ERR(D.cuMemFree_v2(p + 8), CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuMemFree_v2((CUdeviceptr)(uintptr_t)h), CUDA_ERROR_INVALID_VALUE);
	OK(D.cuMemFree_v2(0)); /* free(NULL) semantics, as the driver */
	OK(D.cuMemFree_v2(p));
	ERR(D.cuMemFree_v2(p), CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuMemcpyHtoD_v2(p, h, 1), CUDA_ERROR_INVALID_VALUE);
	CUdeviceptr r = alloc(32);
	cr_expect_neq(r, p, "a freed address is not handed out again at once");
	ERR(D.cuMemAlloc_v2(&r, 0), CUDA_ERROR_INVALID_VALUE);
}

Test(sim, memsets)
{
	uint8_t h[1027];
	CUstream s;
	CUdeviceptr p = alloc(sizeof(h));
	OK(D.cuStreamCreate(&s, 0));
	OK(D.cuMemsetD8_v2(p, 0xab, sizeof(h)));
	OK(D.cuMemsetD32_v2(p + 4, 0x01020304u, 10));
	OK(D.cuMemsetD8Async(p + 100, 0x11, 7, s));
	OK(D.cuStreamSynchronize(s));
	OK(D.cuMemcpyDtoH_v2(h, p, sizeof(h)));
	for (size_t i = 0; i < sizeof(h); i++) {
		uint8_t want = 0xab;
		if (i >= 4 && i < 44)
			want = (uint8_t)(4 - (i - 4) % 4); /* little-endian */
		if (i >= 100 && i < 107)
			want = 0x11;
		cr_assert_eq(h[i], want, "byte %zu: %#x", i, h[i]);
	}
}

Test(sim, mem_get_info_accounts_allocations)
{
	size_t f0, f1, f2, total;
	OK(D.cuMemGetInfo_v2(&f0, &total));
	cr_expect_eq(f0, total);
	CUdeviceptr a = alloc(1000), b = alloc(1 << 20);
	OK(D.cuMemGetInfo_v2(&f1, &total));
	cr_expect_eq(f0 - f1, 1024 + (1 << 20), "charged in 256-byte units");
	OK(D.cuMemFree_v2(a));
	OK(D.cuMemGetInfo_v2(&f2, &total));
	cr_expect_eq(f2 - f1, 1024);
	OK(D.cuMemFree_v2(b));
	CUmodule m = load("cubin");
	OK(D.cuMemGetInfo_v2(&f2, &total));
	cr_expect_lt(f2, f0, "a module's globals live in device memory");
	OK(D.cuModuleUnload(m));
	OK(D.cuMemGetInfo_v2(&f2, &total));
	cr_expect_eq(f2, f0);
	ERR(D.cuMemAlloc_v2(&a, total + 1), CUDA_ERROR_OUT_OF_MEMORY);
}

/* ---- modules ------------------------------------------------------------ */

static const char *const kernel_names[] = {
	"vgpu_fill_u32", "vgpu_add_f32", "vgpu_saxpy", "vgpu_struct_arg",
	"vgpu_checksum", "vgpu_sleep_ns", "vgpu_fault", "vgpu_inc_counter"};

static void check_module(CUmodule m)
{
	CUfunction f;
	CUdeviceptr g;
	size_t size;
	uint32_t words[4];
	float scale;
	unsigned long long counter = 1;
	for (size_t i = 0; i < 8; i++)
		OK(D.cuModuleGetFunction(&f, m, kernel_names[i]));
	ERR(D.cuModuleGetFunction(&f, m, "vgpu_nope"), CUDA_ERROR_NOT_FOUND);
	OK(D.cuModuleGetGlobal_v2(&g, &size, m, "vgpu_counter"));
	cr_expect_eq(size, 8);
	OK(D.cuMemcpyDtoH_v2(&counter, g, 8));
	cr_expect_eq(counter, 0);
	OK(D.cuModuleGetGlobal_v2(&g, &size, m, "vgpu_words"));
	cr_expect_eq(size, 16);
	OK(D.cuMemcpyDtoH_v2(words, g, 16));
	cr_expect(words[0] == 0x11 && words[1] == 0x22 && words[2] == 0x33 &&
		  words[3] == 0x44);
	OK(D.cuModuleGetGlobal_v2(&g, NULL, m, "vgpu_scale"));
	OK(D.cuMemcpyDtoH_v2(&scale, g, 4));
	cr_expect_eq(scale, 1.5f);
	ERR(D.cuModuleGetGlobal_v2(&g, &size, m, "nope"), CUDA_ERROR_NOT_FOUND);
}

Test(sim, modules_from_cubin_fatbin_and_ptx)
{
	for (size_t i = 0; i < 3; i++) {
		CUmodule m = load(images[i]);
		check_module(m);
		OK(D.cuModuleUnload(m));
		ERR(D.cuModuleUnload(m), CUDA_ERROR_INVALID_HANDLE);
	}
}

/* The wrapper cudart registers: {magic, version, fatbin, NULL}. */
struct wrapper {
	uint32_t magic, version;
	const void *data, *extra;
};

Test(sim, fatbin_wrapper_versions_1_and_2)
{
	void *fb = image("fatbin", NULL);
	const void *list[] = {fb, NULL};
	for (uint32_t v = 1; v <= 2; v++) {
		struct wrapper w = {0x466243b1, v, fb, v == 2 ? list : NULL};
		CUmodule m;
		OK(D.cuModuleLoadData(&m, &w));
		check_module(m);
	}
	struct wrapper bad = {0x466243b1, 3, fb, NULL};
	CUmodule m;
	ERR(D.cuModuleLoadData(&m, &bad), CUDA_ERROR_INVALID_IMAGE);
	free(fb);
}

/* Walk a fatbin's entries: the layout of dark-api-and-discovery.md §3. */
static void patch_entries(uint8_t *fb, uint16_t kind, size_t field,
			  uint64_t value, size_t width)
{
	uint64_t size, off = 16;
	memcpy(&size, fb + 8, 8);
	while (off < 16 + size) {
		uint16_t k;
		uint32_t hs, ps;
		memcpy(&k, fb + off, 2);
		memcpy(&hs, fb + off + 4, 4);
		memcpy(&ps, fb + off + 8, 4);
		if (k == kind)
			memcpy(fb + off + field, &value, width);
		off += hs + ps;
	}
}

Test(sim, fatbin_entry_selection_and_refusals)
{
	size_t n;
	uint8_t *fb = image("fatbin", &n), *copy = malloc(n);
	CUmodule m;
	/* compressed cubin: refused, with the reason */
	memcpy(copy, fb, n);
	patch_entries(copy, 2, 40, 0x8011, 8);
	ERR(D.cuModuleLoadData(&m, copy), CUDA_ERROR_NOT_SUPPORTED);
	cr_expect(strstr(vgpu_sim_last_error_detail(), "ZSTD") != NULL);
	/* no sm_90 cubin: the PTX is used */
	memcpy(copy, fb, n);
	patch_entries(copy, 2, 28, 100, 4);
	OK(D.cuModuleLoadData(&m, copy));
	check_module(m);
	int v;
	OK(D.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS,
				fn(m, "vgpu_fill_u32")));
	cr_expect_eq(v, 32, "PTX kernels have the default register count");
	/* ... unless it is LZ4-compressed */
	patch_entries(copy, 1, 40, 0x2011, 8);
	ERR(D.cuModuleLoadData(&m, copy), CUDA_ERROR_NOT_SUPPORTED);
	cr_expect(strstr(vgpu_sim_last_error_detail(), "LZ4") != NULL);
	/* nothing for this device */
	memcpy(copy, fb, n);
	patch_entries(copy, 2, 28, 100, 4);
	patch_entries(copy, 1, 28, 100, 4);
	ERR(D.cuModuleLoadData(&m, copy), CUDA_ERROR_NO_BINARY_FOR_GPU);
	free(copy);
	free(fb);
}

Test(sim, bad_images_are_refused)
{
	CUmodule m;
	static const char *const ptx_bad[] = {
		"hello world",
		".version 9.0\n.target sm_100\n.address_size 64\n",
		".version 9.9\n.target sm_90\n",
		".version 9.0\n.target sm_90\n.entry k(.param .u64 a, { }",
	};
	static const CUresult want[] = {
		CUDA_ERROR_INVALID_IMAGE, CUDA_ERROR_INVALID_PTX,
		CUDA_ERROR_UNSUPPORTED_PTX_VERSION, CUDA_ERROR_INVALID_PTX};
	for (size_t i = 0; i < 4; i++)
		ERR(D.cuModuleLoadData(&m, ptx_bad[i]), want[i]);
	size_t n;
	uint8_t *cubin = image("cubin", &n);
	cubin[18] = 62; /* e_machine: x86-64 */
	ERR(D.cuModuleLoadData(&m, cubin), CUDA_ERROR_INVALID_IMAGE);
	cubin[18] = 190;
	memset(cubin + 0x28, 0xff, 8); /* e_shoff far away */
	ERR(D.cuModuleLoadData(&m, cubin), CUDA_ERROR_INVALID_IMAGE);
	free(cubin);
	ERR(D.cuModuleLoadData(&m, NULL), CUDA_ERROR_INVALID_VALUE);
}

/* The header of the section of that name in a cubin (bounds trusted:
 * nvcc's own output). */
static Elf64_Shdr *section(uint8_t *elf, const char *name)
{
	Elf64_Ehdr h;
	memcpy(&h, elf, sizeof(h));
	Elf64_Shdr *sh = (Elf64_Shdr *)(elf + h.e_shoff);
	const char *names = (const char *)elf + sh[h.e_shstrndx].sh_offset;
	for (size_t i = 0; i < h.e_shnum; i++)
		if (!strcmp(names + sh[i].sh_name, name))
			return &sh[i];
	return NULL;
}

/* A NOBITS section has no bytes in the file, so nothing checks its offset
 * and size against the image: .nv.info.<kernel> made NOBITS at the image's
 * last 4 bytes had its attribute's payload read past the image (found
 * with tests/fuzz/fuzz_worker.c). Here the image ends at a guard page. */
Test(sim, nobits_attribute_section_is_not_read_past_the_image)
{
	size_t n;
	CUmodule m;
	uint8_t *cubin = image("cubin", &n);
	Elf64_Shdr *s = section(cubin, ".nv.info.vgpu_inc_counter");
	cr_assert_not_null(s);
	s->sh_type = SHT_NOBITS;
	s->sh_offset = n - 4;
	s->sh_size = 0x1000;
	memcpy(cubin + n - 4, "\x04\x17\xf0\x00", 4); /* KPARAM_INFO, 240 B */
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), span = (n + pg - 1) / pg * pg;
	uint8_t *map = mmap(NULL, span + pg, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(mprotect(map + span, pg, PROT_NONE), 0);
	memcpy(map + span - n, cubin, n);
	ERR(D.cuModuleLoadData(&m, map + span - n), CUDA_ERROR_INVALID_IMAGE);
	munmap(map, span + pg);
	free(cubin);
}

/* ".align 4294967296" was truncated to 0 in 32 bits: the parameter went
 * to offset 0, under the earlier ones, and the launch buffer (sized by the
 * last one's end) came out shorter than the layout; a launch wrote past it
 * (found with tests/fuzz/fuzz_worker.c). */
Test(sim, ptx_parameter_alignment_does_not_wrap)
{
	CUmodule m;
	size_t off, size;
	ERR(D.cuModuleLoadData(&m, ".version 9.0\n.target sm_90\n"
			       ".visible .entry vgpu_add_f32(.param .u64 a,"
			       " .param .u64 b, .param .u64 c,"
			       " .param .align 4294967296 .u32 n) { ret; }\n"),
	    CUDA_ERROR_INVALID_PTX);
	/* the first parameter is at 0 whatever its alignment */
	OK(D.cuModuleLoadData(&m, ".version 9.0\n.target sm_90\n"
			      ".visible .entry k(.param .align 4294967296"
			      " .u64 a) { ret; }\n"));
	OK(D.cuFuncGetParamInfo(fn(m, "k"), 0, &off, &size));
	cr_expect_eq(off, 0);
	cr_expect_eq(size, 8);
}

/* An initialised ".v8 .b128" global: each element is 128 bytes, and the
 * parser's first buffer (64 bytes) took half of one (found with
 * tests/fuzz/fuzz_worker.c). */
Test(sim, ptx_wide_vector_initialiser)
{
	CUmodule m;
	CUdeviceptr g;
	size_t size;
	uint8_t h[256];
	OK(D.cuModuleLoadData(&m, ".version 9.0\n.target sm_90\n"
			      ".global .v8 .b128 g[2] = {7, 9};\n"));
	OK(D.cuModuleGetGlobal_v2(&g, &size, m, "g"));
	cr_assert_eq(size, 256);
	OK(D.cuMemcpyDtoH_v2(h, g, size));
	cr_expect_eq(h[0], 7);
	cr_expect_eq(h[128], 9);
	cr_expect_eq(h[1] | h[127] | h[255], 0);
}

/* Parameter layouts, each checked against nvcc 13.0's own output for
 * tests/gpu/kernels.cu. In the cubin (readelf -x .nv.info.<kernel>),
 * EIATTR_KPARAM_INFO records 04 17 0c00 {u32 0, u16 ordinal, u16 offset,
 * u32 flags, size = flags >> 18}, e.g. for vgpu_saxpy:
 *   04170c00 00000000 03001800 00f01100  ordinal 3 (n) @0x18, 0x0011f000>>18 = 4
 *   04170c00 00000000 02001000 00f02100  ordinal 2 (y) @0x10, 8
 *   04170c00 00000000 01000800 00f02100  ordinal 1 (x) @0x08, 8
 *   04170c00 00000000 00000000 00f01100  ordinal 0 (a) @0x00, 4
 *   040a0800 1f000000 10021c00           PARAM_CBANK: 0x1c = 28 bytes
 * and for vgpu_struct_arg ordinal 0 is 0x0041f000>>18 = 16 bytes @0,
 * ordinal 1 8 bytes @0x10 (CBANK 0x18). The PTX says the same:
 *   .param .f32 vgpu_saxpy_param_0, .param .u64 ..._1, .param .u64 ..._2,
 *   .param .u32 ..._3;  .param .align 8 .b8 vgpu_struct_arg_param_0[16].
 * vgpu_inc_counter has no KPARAM_INFO at all. */
static const struct layout {
	const char *name;
	unsigned n;
	size_t off[4], size[4];
} layouts[] = {
	{"vgpu_fill_u32", 3, {0, 8, 16}, {8, 4, 8}},
	{"vgpu_add_f32", 4, {0, 8, 16, 24}, {8, 8, 8, 4}},
	{"vgpu_saxpy", 4, {0, 8, 16, 24}, {4, 8, 8, 4}},
	{"vgpu_struct_arg", 2, {0, 16}, {16, 8}},
	{"vgpu_checksum", 3, {0, 8, 16}, {8, 8, 8}},
	{"vgpu_sleep_ns", 1, {0}, {8}},
	{"vgpu_fault", 1, {0}, {8}},
	{"vgpu_inc_counter", 0, {0}, {0}},
};

Test(sim, param_layouts_match_nvcc)
{
	for (size_t i = 0; i < 3; i++) {
		CUmodule m = load(images[i]);
		for (size_t k = 0; k < sizeof(layouts) / sizeof(layouts[0]); k++) {
			const struct layout *l = &layouts[k];
			CUfunction f = fn(m, l->name);
			size_t off, size;
			for (unsigned p = 0; p < l->n; p++) {
				OK(D.cuFuncGetParamInfo(f, p, &off, &size));
				cr_expect(off == l->off[p] && size == l->size[p],
					  "%s %s param %u: @%zu %zu bytes",
					  images[i], l->name, p, off, size);
			}
			ERR(D.cuFuncGetParamInfo(f, l->n, &off, &size),
			    CUDA_ERROR_INVALID_VALUE);
		}
		OK(D.cuModuleUnload(m));
	}
}

Test(sim, function_attributes)
{
	CUmodule m = load("cubin");
	CUfunction f = fn(m, "vgpu_checksum");
	int v;
	OK(D.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f));
	cr_expect_eq(v, 1024);
	OK(D.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, f));
	cr_expect(v > 0 && v <= 255, "registers from the cubin: %d", v);
	OK(D.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_BINARY_VERSION, f));
	cr_expect_eq(v, 90);
	OK(D.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f));
	cr_expect_eq(v, 0);
	ERR(D.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX, f),
	    CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS,
				 (CUfunction)&v), CUDA_ERROR_INVALID_HANDLE);
}

/* ---- launches ----------------------------------------------------------- */

enum { N = 3000 }; /* not a multiple of any block size used */

static void run_all_kernels(CUmodule m, bool extra_form)
{
	static float a[N], b[N], c[N];
	CUdeviceptr da = alloc(sizeof(a)), db = alloc(sizeof(b)),
		    dc = alloc(sizeof(c)), dsum = alloc(8);
	int n = N;
	for (int i = 0; i < N; i++) {
		a[i] = (float)i * 0.37f - 11.0f;
		b[i] = 1.0f / (float)(i + 3);
	}
	OK(D.cuMemcpyHtoD_v2(da, a, sizeof(a)));
	OK(D.cuMemcpyHtoD_v2(db, b, sizeof(b)));

	/* add: the kernelParams form, or one packed buffer through extra */
	if (!extra_form) {
		void *args[] = {&da, &db, &dc, &n};
		launch(fn(m, "vgpu_add_f32"), (N + 255) / 256, 256, 0, args);
	} else {
		struct { CUdeviceptr a, b, c; int n; } pk = {da, db, dc, N};
		size_t size = sizeof(pk); /* 32: more than the 28 used is fine */
		void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &pk,
				 CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
				 CU_LAUNCH_PARAM_END};
		OK(D.cuLaunchKernel(fn(m, "vgpu_add_f32"), (N + 255) / 256, 1, 1,
				    256, 1, 1, 0, 0, NULL, extra));
	}
	OK(D.cuMemcpyDtoH_v2(c, dc, sizeof(c)));
	for (int i = 0; i < N; i++)
		cr_assert_eq(c[i], a[i] + b[i], "add %d", i);

	/* saxpy, in place on c: exactly fmaf, as nvcc contracts it */
	float s = 2.5f;
	void *sx[] = {&s, &da, &dc, &n};
	launch(fn(m, "vgpu_saxpy"), (N + 127) / 128, 128, 0, sx);
	float want[N];
	for (int i = 0; i < N; i++)
		want[i] = fmaf(s, a[i], a[i] + b[i]);
	OK(D.cuMemcpyDtoH_v2(c, dc, sizeof(c)));
	cr_assert(!memcmp(c, want, sizeof(c)), "saxpy differs");

	/* fill, grid-stride: 4 x 128 threads cover N words */
	fill_on(m, 0, dc, 0xdeadbeefu, N);
	OK(D.cuMemcpyDtoH_v2(c, dc, sizeof(c)));
	for (int i = 0; i < N; i++)
		cr_assert_eq(((uint32_t *)c)[i], 0xdeadbeefu);

	/* checksum of a's bytes, summed by atomics across 192 threads */
	uint64_t sum;
	OK(D.cuMemsetD8_v2(dsum, 0, 8));
	checksum_on(m, 0, da, sizeof(a), dsum);
	OK(D.cuMemcpyDtoH_v2(&sum, dsum, 8));
	cr_assert_eq(sum, checksum((uint8_t *)a, sizeof(a)));

	/* the counter global, 320 atomic increments */
	CUdeviceptr g;
	unsigned long long counter;
	OK(D.cuModuleGetGlobal_v2(&g, NULL, m, "vgpu_counter"));
	OK(D.cuMemsetD8_v2(g, 0, 8));
	OK(D.cuLaunchKernel(fn(m, "vgpu_inc_counter"), 10, 1, 1, 32, 1, 1, 0, 0,
			    NULL, NULL));
	OK(D.cuMemcpyDtoH_v2(&counter, g, 8));
	cr_assert_eq(counter, 320);

	/* fault with a good pointer just writes */
	int32_t w;
	void *fa[] = {&dsum};
	launch(fn(m, "vgpu_fault"), 1, 1, 0, fa);
	OK(D.cuMemcpyDtoH_v2(&w, dsum, 4));
	cr_assert_eq(w, 0x5a5a5a5a);
	OK(D.cuCtxSynchronize());
}

Test(sim, every_kernel_from_every_image_both_argument_forms)
{
	for (size_t i = 0; i < 3; i++) {
		CUmodule m = load(images[i]);
		run_all_kernels(m, false);
		run_all_kernels(m, true);
		OK(D.cuModuleUnload(m));
	}
}

/* struct vgpu_args { double scale; int n; char tag; }: 16 bytes, by value */
Test(sim, struct_by_value)
{
	struct vgpu_args { double scale; int n; char tag; } sa = {0.1, 1000, -7};
	static float y[1024];
	CUmodule m = load("fatbin");
	CUdeviceptr dy = alloc(sizeof(y));
	OK(D.cuMemsetD32_v2(dy, 0x7fc00000u, 1024)); /* NaN: untouched stays NaN */
	void *args[] = {&sa, &dy};
	launch(fn(m, "vgpu_struct_arg"), 4, 256, 0, args);
	sa.scale = 99; /* arguments are copied at the launch */
	OK(D.cuMemcpyDtoH_v2(y, dy, sizeof(y)));
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(y[i], (float)fma(0.1, (double)i, -7.0), "y[%d]", i);
	cr_assert(isnan(y[1000]) && isnan(y[1023]), "i >= n left alone");
}

Test(sim, launch_configuration_is_checked)
{
	CUmodule m = load("cubin");
	CUfunction f = fn(m, "vgpu_fill_u32");
	CUdeviceptr p = alloc(64);
	unsigned v = 1;
	unsigned long long n = 16;
	void *a[] = {&p, &v, &n};
	ERR(D.cuLaunchKernel(f, 1, 1, 1, 2048, 1, 1, 0, 0, a, NULL),
	    CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuLaunchKernel(f, 0, 1, 1, 32, 1, 1, 0, 0, a, NULL),
	    CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuLaunchKernel(f, 1, 1, 1, 1, 1, 65, 0, 0, a, NULL),
	    CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuLaunchKernel(f, 1, 65536, 1, 1, 1, 1, 0, 0, a, NULL),
	    CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 49153, 0, a, NULL),
	    CUDA_ERROR_INVALID_VALUE);
	OK(D.cuLaunchKernel(f, 1, 1, 1, 32, 32, 1, 49152, 0, a, NULL));
	/* arguments: both forms, neither, no END, NULL entry */
	struct { CUdeviceptr p; unsigned v; unsigned long long n; } pk =
		{p, 9, 16};
	size_t full = sizeof(pk);
	void *ex[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &pk,
		      CU_LAUNCH_PARAM_BUFFER_SIZE, &full, CU_LAUNCH_PARAM_END};
	ERR(D.cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, 0, a, ex),
	    CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, 0, NULL, NULL),
	    CUDA_ERROR_INVALID_VALUE);
	/* a short buffer is taken, as the driver takes it (NCCL relies on
	 * it): the missing n reads as 0, so nothing is filled */
	unsigned got[16];
	OK(D.cuMemsetD32_v2(p, 5, 16));
	size_t part = offsetof(__typeof__(pk), n);
	ex[3] = &part;
	OK(D.cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, 0, NULL, ex));
	OK(D.cuCtxSynchronize());
	OK(D.cuMemcpyDtoH_v2(got, p, sizeof(got)));
	cr_assert_eq(got[0], 5u, "short buffer: n zero-filled, nothing written");
	ex[3] = &full;
	OK(D.cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, 0, NULL, ex));
	OK(D.cuCtxSynchronize());
	OK(D.cuMemcpyDtoH_v2(got, p, sizeof(got)));
	cr_assert_eq(got[15], 9u, "full buffer: all 16 filled");
	void *bad_key[] = {(void *)7, NULL, CU_LAUNCH_PARAM_END};
	ERR(D.cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, 0, NULL, bad_key),
	    CUDA_ERROR_INVALID_VALUE);
	void *holes[] = {&p, NULL, &n};
	ERR(D.cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, 0, holes, NULL),
	    CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuLaunchKernel((CUfunction)&v, 1, 1, 1, 1, 1, 1, 0, 0, a, NULL),
	    CUDA_ERROR_INVALID_HANDLE);
	ERR(D.cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, (CUstream)&v, a, NULL),
	    CUDA_ERROR_INVALID_HANDLE);
	OK(D.cuCtxSynchronize());
	/* a function of an unloaded module is gone */
	OK(D.cuModuleUnload(m));
	ERR(D.cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, 0, a, NULL),
	    CUDA_ERROR_INVALID_HANDLE);
}

/* The sim is honest: it runs only kernels it has a C twin for. */
Test(sim, kernels_without_a_c_implementation_are_not_supported)
{
	static const char ptx[] =
		"//\n.version 8.0\n.target sm_80\n.address_size 64\n"
		".visible .entry other_kernel(\n\t.param .u64 p,\n"
		"\t.param .align 4 .b8 s[12]\n)\n{\n\tret;\n}\n"
		/* same name as a C kernel, different parameters */
		".visible .entry vgpu_fault(.param .u32 p)\n{\n\tret;\n}\n";
	CUmodule m;
	OK(D.cuModuleLoadData(&m, ptx));
	CUfunction f = fn(m, "other_kernel");
	size_t off, size;
	OK(D.cuFuncGetParamInfo(f, 1, &off, &size));
	cr_expect(off == 8 && size == 12);
	CUdeviceptr p = alloc(16);
	char s[12] = {0};
	void *a[] = {&p, s};
	ERR(D.cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, 0, a, NULL),
	    CUDA_ERROR_NOT_SUPPORTED);
	cr_expect_str_eq(vgpu_sim_last_error_detail(),
			 "sim has no C implementation of kernel other_kernel");
	int32_t v = 0;
	void *b[] = {&v};
	ERR(D.cuLaunchKernel(fn(m, "vgpu_fault"), 1, 1, 1, 1, 1, 1, 0, 0, b,
			     NULL), CUDA_ERROR_NOT_SUPPORTED);
}

/* ---- faults ------------------------------------------------------------- */

Test(sim, illegal_address_is_sticky)
{
	CUmodule m = load("cubin");
	CUstream s;
	CUevent e;
	OK(D.cuStreamCreate(&s, 0));
	OK(D.cuEventCreate(&e, 0));
	int32_t host = 0;
	CUdeviceptr freed = alloc(64), bad = (CUdeviceptr)(uintptr_t)&host;
	OK(D.cuMemFree_v2(freed));
	void *a[] = {&bad};
	CUfunction fault = fn(m, "vgpu_fault");
	launch(fault, 2, 32, s, a); /* a host address */
	OK(D.cuEventRecord(e, s));
	ERR(D.cuStreamSynchronize(s), CUDA_ERROR_ILLEGAL_ADDRESS);
	cr_expect_eq(host, 0, "the host variable was not written");
	/* from now on, everything that uses the context says so */
	CUdeviceptr p;
	ERR(D.cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
	ERR(D.cuEventSynchronize(e), CUDA_ERROR_ILLEGAL_ADDRESS);
	ERR(D.cuEventQuery(e), CUDA_ERROR_ILLEGAL_ADDRESS);
	ERR(D.cuStreamQuery(s), CUDA_ERROR_ILLEGAL_ADDRESS);
	ERR(D.cuMemAlloc_v2(&p, 16), CUDA_ERROR_ILLEGAL_ADDRESS);
	ERR(D.cuMemcpyHtoD_v2(freed, &host, 4), CUDA_ERROR_ILLEGAL_ADDRESS);
	ERR(D.cuLaunchKernel(fault, 1, 1, 1, 1, 1, 1, 0, s, a, NULL),
	    CUDA_ERROR_ILLEGAL_ADDRESS);
	CUfunction f;
	ERR(D.cuModuleGetFunction(&f, m, "vgpu_fault"),
	    CUDA_ERROR_ILLEGAL_ADDRESS);
	/* device queries need no context and still work */
	int v;
	OK(D.cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0));
	/* the only way out, as natively: reset the primary context */
	OK(D.cuDevicePrimaryCtxRelease_v2(0));
	OK(D.cuDevicePrimaryCtxRetain(&ctx, 0));
	OK(D.cuMemAlloc_v2(&p, 16));
	OK(D.cuCtxSynchronize());
}

Test(sim, kernel_overrun_and_misalignment_fault)
{
	CUmodule m = load("ptx");
	CUdeviceptr p = alloc(400);
	fill_on(m, 0, p, 7, 101); /* one word past the end */
	ERR(D.cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
	OK(D.cuDevicePrimaryCtxRelease_v2(0));
	OK(D.cuDevicePrimaryCtxRetain(&ctx, 0));
	m = load("ptx");
	p = alloc(400) + 2;
	void *a[] = {&p};
	launch(fn(m, "vgpu_fault"), 1, 1, 0, a);
	ERR(D.cuCtxSynchronize(), CUDA_ERROR_MISALIGNED_ADDRESS);
}

/* ---- streams and events ------------------------------------------------- */

/* 64 rounds over 4 streams (two non-blocking), each round ordered after
 * the previous one only by an event: fill the buffer with r+1, then sum
 * it into sums[r]. With random delays on every operation, any missing or
 * broken dependency shows up as a wrong sum. */
Test(sim, stream_order_follows_events_under_random_delays)
{
	enum { W = 2048, R = 64, S = 4 };
	CUmodule m = load("cubin");
	CUstream st[S];
	CUevent ev[R];
	CUdeviceptr buf = alloc(W * 4), sums = alloc(R * 8);
	uint64_t got[R];
	for (int i = 0; i < S; i++)
		OK(D.cuStreamCreate(&st[i], i % 2 ? CU_STREAM_NON_BLOCKING : 0));
	OK(D.cuMemsetD8_v2(sums, 0, R * 8));
	OK(D.cuCtxSynchronize());
	for (int r = 0; r < R; r++) {
		CUstream s = st[(r * 3) % S];
		OK(D.cuEventCreate(&ev[r], CU_EVENT_DISABLE_TIMING));
		if (r)
			OK(D.cuStreamWaitEvent(s, ev[r - 1], 0));
		fill_on(m, s, buf, (unsigned)r + 1, W);
		checksum_on(m, s, buf, W * 4, sums + 8 * (CUdeviceptr)r);
		OK(D.cuEventRecord(ev[r], s));
	}
	OK(D.cuEventSynchronize(ev[R - 1]));
	OK(D.cuMemcpyDtoHAsync_v2(got, sums, sizeof(got), st[1]));
	OK(D.cuStreamWaitEvent(st[1], ev[R - 1], 0));
	OK(D.cuStreamSynchronize(st[1]));
	for (int r = 0; r < R; r++)
		cr_assert_eq(got[r], checksum_fill((uint32_t)r + 1, W),
			     "round %d", r);
	for (int i = 0; i < S; i++)
		OK(D.cuStreamDestroy_v2(st[i]));
}

Test(sim, legacy_stream_waits_for_blocking_streams)
{
	CUmodule m = load("cubin");
	CUstream s;
	CUdeviceptr p = alloc(1024 * 4);
	uint32_t h[1024];
	OK(D.cuStreamCreate(&s, 0));
	sleep_on(m, s, 200000000);
	fill_on(m, s, p, 1, 1024);
	ERR(D.cuStreamQuery(s), CUDA_ERROR_NOT_READY);
	fill_on(m, 0, p, 2, 1024); /* must run after s's fill */
	OK(D.cuMemcpyDtoH_v2(h, p, sizeof(h)));
	for (int i = 0; i < 1024; i++)
		cr_assert_eq(h[i], 2);
	OK(D.cuStreamQuery(s));
}

Test(sim, blocking_streams_wait_for_the_legacy_stream)
{
	CUmodule m = load("cubin");
	CUstream s;
	CUdeviceptr p = alloc(1024 * 4), sum = alloc(8);
	uint64_t got;
	OK(D.cuStreamCreate(&s, 0));
	OK(D.cuMemsetD8_v2(sum, 0, 8));
	sleep_on(m, 0, 30000000);
	fill_on(m, 0, p, 3, 1024);
	checksum_on(m, s, p, 1024 * 4, sum); /* must see the 3s */
	OK(D.cuStreamSynchronize(s));
	OK(D.cuMemcpyDtoHAsync_v2(&got, sum, 8, s));
	OK(D.cuStreamSynchronize(s));
	cr_assert_eq(got, checksum_fill(3, 1024));
	/* the per-thread default stream is blocking too */
	OK(D.cuMemsetD8_v2(sum, 0, 8));
	sleep_on(m, 0, 30000000);
	fill_on(m, 0, p, 5, 1024);
	checksum_on(m, CU_STREAM_PER_THREAD, p, 1024 * 4, sum);
	OK(D.cuStreamSynchronize(CU_STREAM_PER_THREAD));
	OK(D.cuMemcpyDtoHAsync_v2(&got, sum, 8, CU_STREAM_PER_THREAD));
	OK(D.cuStreamSynchronize(CU_STREAM_PER_THREAD));
	cr_assert_eq(got, checksum_fill(5, 1024));
}

Test(sim, non_blocking_streams_do_not_sync_with_legacy)
{
	CUmodule m = load("cubin");
	CUstream nb;
	CUdeviceptr p = alloc(64);
	OK(D.cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));
	sleep_on(m, CU_STREAM_LEGACY, 300000000);
	fill_on(m, nb, p, 9, 16);
	OK(D.cuStreamSynchronize(nb)); /* does not wait 300 ms */
	ERR(D.cuStreamQuery(CU_STREAM_LEGACY), CUDA_ERROR_NOT_READY);
	ERR(D.cuStreamQuery(0), CUDA_ERROR_NOT_READY);
	OK(D.cuStreamSynchronize(0));
	/* and the legacy stream does not wait for them */
	sleep_on(m, nb, 300000000);
	fill_on(m, 0, p, 10, 16);
	OK(D.cuStreamSynchronize(0));
	ERR(D.cuStreamQuery(nb), CUDA_ERROR_NOT_READY);
	OK(D.cuCtxSynchronize());
	OK(D.cuStreamQuery(nb));
}

Test(sim, event_timing)
{
	CUmodule m = load("cubin");
	CUstream s, s2;
	CUevent e0, e1, e2, untimed, never;
	float ms;
	OK(D.cuStreamCreate(&s, 0));
	OK(D.cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
	OK(D.cuEventCreate(&e0, 0));
	OK(D.cuEventCreate(&e1, CU_EVENT_BLOCKING_SYNC));
	OK(D.cuEventCreate(&e2, 0));
	OK(D.cuEventCreate(&untimed, CU_EVENT_DISABLE_TIMING));
	OK(D.cuEventCreate(&never, 0));
	OK(D.cuEventQuery(never)); /* never recorded: complete */
	OK(D.cuEventRecord(e0, s));
	sleep_on(m, s, 100000000); /* long enough to query it while it runs */
	OK(D.cuEventRecord(e1, s));
	OK(D.cuEventRecord(untimed, s));
	ERR(D.cuEventQuery(e1), CUDA_ERROR_NOT_READY);
	ERR(D.cuEventElapsedTime_v2(&ms, e0, e1), CUDA_ERROR_NOT_READY);
	OK(D.cuStreamWaitEvent(s2, e1, 0));
	OK(D.cuEventRecord(e2, s2));
	OK(D.cuEventSynchronize(e2));
	OK(D.cuEventQuery(e1)); /* s2 waited for it */
	OK(D.cuEventElapsedTime_v2(&ms, e0, e1));
	cr_expect(ms >= 100.0f && ms < 5000.0f, "slept 100 ms, timed %f", ms);
	OK(D.cuEventElapsedTime_v2(&ms, e1, e2));
	cr_expect(ms >= 0.0f, "monotonic: %f", ms);
	ERR(D.cuEventElapsedTime_v2(&ms, e0, untimed),
	    CUDA_ERROR_INVALID_HANDLE);
	ERR(D.cuEventElapsedTime_v2(&ms, e0, never), CUDA_ERROR_INVALID_HANDLE);
	ERR(D.cuEventCreate(&e2, 0x40), CUDA_ERROR_INVALID_VALUE);
	ERR(D.cuStreamWaitEvent(s2, e1, 1), CUDA_ERROR_INVALID_VALUE);
	/* destroy is immediate for the handle, even with work pending */
	sleep_on(m, s, 20000000);
	OK(D.cuEventRecord(e0, s));
	OK(D.cuEventDestroy_v2(e0));
	ERR(D.cuEventQuery(e0), CUDA_ERROR_INVALID_HANDLE);
	ERR(D.cuEventDestroy_v2(e0), CUDA_ERROR_INVALID_HANDLE);
	OK(D.cuCtxSynchronize());
}

Test(sim, stream_destroy_lets_queued_work_finish)
{
	CUmodule m = load("cubin");
	CUstream s;
	uint32_t h = 0;
	CUdeviceptr p = alloc(4);
	OK(D.cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	sleep_on(m, s, 200000000);
	fill_on(m, s, p, 77, 1);
	OK(D.cuMemcpyDtoHAsync_v2(&h, p, 4, s));
	OK(D.cuStreamDestroy_v2(s)); /* returns at once */
	cr_expect_eq(__atomic_load_n(&h, __ATOMIC_RELAXED), 0);
	ERR(D.cuStreamQuery(s), CUDA_ERROR_INVALID_HANDLE);
	ERR(D.cuStreamDestroy_v2(s), CUDA_ERROR_INVALID_HANDLE);
	ERR(D.cuStreamDestroy_v2(0), CUDA_ERROR_INVALID_HANDLE);
	ERR(D.cuStreamCreate(&s, 4), CUDA_ERROR_INVALID_VALUE);
	OK(D.cuCtxSynchronize());
	cr_expect_eq(h, 77);
}

/* ---- threads ------------------------------------------------------------ */

struct worker_arg {
	CUmodule m;
	int id, failures;
};

static int one_round(struct worker_arg *w, int round)
{
	enum { K = 777 };
	float a[K], b[K], c[K];
	CUstream s;
	CUdeviceptr da, db, dc;
	int n = K, bad = 0;
	CUstream which = round % 3 == 0 ? CU_STREAM_PER_THREAD : NULL;
	for (int i = 0; i < K; i++) {
		a[i] = (float)(w->id * 1000 + round + i);
		b[i] = (float)i * 0.5f;
	}
	if (D.cuStreamCreate(&s, round % 2 ? CU_STREAM_NON_BLOCKING : 0) ||
	    D.cuMemAlloc_v2(&da, sizeof(a)) || D.cuMemAlloc_v2(&db, sizeof(b)) ||
	    D.cuMemAlloc_v2(&dc, sizeof(c)))
		return 1;
	if (!which)
		which = s;
	void *args[] = {&da, &db, &dc, &n};
	bad |= D.cuMemcpyHtoDAsync_v2(da, a, sizeof(a), which);
	bad |= D.cuMemcpyHtoDAsync_v2(db, b, sizeof(b), which);
	CUfunction f;
	bad |= D.cuModuleGetFunction(&f, w->m, "vgpu_add_f32");
	bad |= D.cuLaunchKernel(f, 4, 1, 1, 256, 1, 1, 0, which, args, NULL);
	bad |= D.cuMemcpyDtoHAsync_v2(c, dc, sizeof(c), which);
	bad |= D.cuStreamSynchronize(which);
	for (int i = 0; i < K && !bad; i++)
		bad = c[i] != a[i] + b[i];
	bad |= D.cuMemFree_v2(da) | D.cuMemFree_v2(db) | D.cuMemFree_v2(dc);
	bad |= D.cuStreamDestroy_v2(s);
	return bad != 0;
}

static void *worker(void *p)
{
	struct worker_arg *w = p;
	if (D.cuCtxSetCurrent(ctx)) {
		w->failures++;
		return NULL;
	}
	for (int r = 0; r < 40; r++)
		w->failures += one_round(w, r);
	return NULL;
}

Test(sim, four_threads_at_once)
{
	pthread_t t[4];
	struct worker_arg w[4];
	CUmodule m = load("cubin");
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker_arg){m, i, 0};
		cr_assert_eq(pthread_create(&t[i], NULL, worker, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_expect_eq(w[i].failures, 0, "thread %d", i);
	}
	size_t f, total;
	OK(D.cuCtxSynchronize());
	OK(D.cuMemGetInfo_v2(&f, &total));
	OK(D.cuModuleUnload(m));
	OK(D.cuMemGetInfo_v2(&f, &total));
	cr_expect_eq(f, total, "every allocation was freed");
}
