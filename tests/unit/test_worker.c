/* The worker's request handlers (daemon/worker_calls.c and the generated
 * ones) run in-process over the sim, message by message, as
 * tests/fuzz/fuzz_worker.c drives them: regression tests of what that
 * fuzzer found in the worker's handle and allocation tables.
 */
#define _GNU_SOURCE
#include "../../daemon/devinfo.h"
#include "../../daemon/worker.h"
#include "../../ring/host.h"
#include "../support/worker_fixture.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A PTX module of kernels the sim implements in C, and a global. */
static const char PTX[] =
	".version 9.0\n.target sm_90\n.address_size 64\n"
	".global .align 8 .u64 vgpu_counter;\n"
	".visible .entry vgpu_fault(.param .u64 p) { ret; }\n"
	".visible .entry vgpu_inc_counter() { ret; }\n";

TestSuite(worker, .init = vwf_up, .fini = vwf_down);

/* ---- sending requests ---------------------------------------------------- */

static uint64_t load_ptx(void)
{
	return vwf_load_module(PTX, sizeof(PTX) - 1);
}

static int32_t lookup(uint16_t op, uint64_t module, const char *name,
		      void *out, uint32_t outlen)
{
	struct vgpu_cu_getfn g = {.module = module};
	snprintf(g.name, sizeof(g.name), "%s", name);
	return request(op, 0, &g, sizeof(g), out, outlen);
}

static int32_t launch(uint64_t fn, const void *params, uint32_t n)
{
	uint8_t buf[sizeof(struct vgpu_cu_launch) + 64];
	struct vgpu_cu_launch L = {.function = fn,
				   .stream = (uint64_t)(uintptr_t)CU_STREAM_LEGACY,
				   .grid = {1, 1, 1}, .block = {1, 1, 1},
				   .param_bytes = n};
	memcpy(buf, &L, sizeof(L));
	if (n)
		memcpy(buf + sizeof(L), params, n);
	return request(VGPU_CU_LAUNCH, 0, buf, sizeof(L) + n, NULL, 0);
}

static int32_t htod_inline(uint64_t dev, const void *p, uint32_t n)
{
	uint8_t buf[16 + 64];
	uint64_t x[2] = {dev, UINT64_MAX /* no stream */};
	memcpy(buf, x, sizeof(x));
	memcpy(buf + sizeof(x), p, n);
	return request(VGPU_CU_MEMCPY_HTOD_INLINE, 0, buf, 16 + n, NULL, 0);
}

/* ---- the tables ---------------------------------------------------------- */

/* fuzz_worker finding 2: cuModuleUnload released only the module's own
 * id; its functions' ids still named the unloaded CUfunctions and its
 * globals' ranges still passed copies into freed device memory. */
Test(worker, unloading_a_module_forgets_its_functions_and_globals)
{
	uint64_t mod = load_ptx();
	struct vgpu_cu_fninfo fi;
	struct vgpu_cu_args g = {{0}};
	cr_assert_eq(lookup(VGPU_CU_MODULE_GET_FUNCTION, mod, "vgpu_inc_counter",
			    &fi, sizeof(fi)), CUDA_SUCCESS);
	cr_assert_eq(lookup(VGPU_CU_MODULE_GET_GLOBAL, mod, "vgpu_counter", &g,
			    sizeof(g)), CUDA_SUCCESS);
	uint64_t one = 1;
	cr_expect_eq(launch(fi.function, NULL, 0), CUDA_SUCCESS);
	cr_expect_eq(htod_inline(g.a[0], &one, 8), CUDA_SUCCESS);
	cr_expect_eq(W.nallocs, 1u, "the global is tracked");

	struct vgpu_cu_args a = {{mod}};
	cr_assert_eq(call("cuModuleUnload", &a), CUDA_SUCCESS);
	cr_expect_eq(launch(fi.function, NULL, 0), CUDA_ERROR_INVALID_HANDLE);
	cr_expect_eq(htod_inline(g.a[0], &one, 8), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(W.nallocs, 0u, "the global is forgotten");
	cr_expect_null(vw_handle_entry(&W, VGPU_HK_FUNCTION, fi.function));
	cr_expect_eq(W.mem_in_use, 0u);
}

/* fuzz_worker finding 1: after a kernel fault, cuMemFree and the destroy
 * calls release the object and return the context's sticky error; the
 * worker kept the allocation (mem_in_use and the ledger too) and the ids,
 * so later calls handed the driver freed memory and dangling handles. */
Test(worker, free_and_destroy_forget_even_when_the_context_has_faulted)
{
	uint64_t mod = load_ptx();
	struct vgpu_cu_fninfo fi;
	struct vgpu_cu_args a = {{256}};
	cr_assert_eq(lookup(VGPU_CU_MODULE_GET_FUNCTION, mod, "vgpu_fault", &fi,
			    sizeof(fi)), CUDA_SUCCESS);
	cr_assert_eq(call("cuMemAlloc_v2", &a), CUDA_SUCCESS);
	uint64_t dev = a.a[0];
	a = (struct vgpu_cu_args){{0}};
	cr_assert_eq(call("cuStreamCreate", &a), CUDA_SUCCESS);
	uint64_t stream = a.a[0];
	a = (struct vgpu_cu_args){{0}};
	cr_assert_eq(call("cuEventCreate", &a), CUDA_SUCCESS);
	uint64_t event = a.a[0];

	uint64_t bad = dev + 4096; /* outside the allocation */
	cr_assert_eq(launch(fi.function, &bad, 8), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{0}};
	cr_assert_eq(call("cuCtxSynchronize", &a), CUDA_ERROR_ILLEGAL_ADDRESS);

	a = (struct vgpu_cu_args){{dev}};
	cr_expect_eq(call("cuMemFree_v2", &a), CUDA_ERROR_ILLEGAL_ADDRESS);
	cr_expect_eq(W.nallocs, 0u);
	cr_expect_eq(W.mem_in_use, 0u);
	cr_expect_eq(vw_range(&W, dev, 1), CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{stream}};
	cr_expect_eq(call("cuStreamDestroy_v2", &a), CUDA_ERROR_ILLEGAL_ADDRESS);
	cr_expect_null(vw_handle_entry(&W, VGPU_HK_STREAM, stream));
	a = (struct vgpu_cu_args){{event}};
	cr_expect_eq(call("cuEventDestroy_v2", &a), CUDA_ERROR_ILLEGAL_ADDRESS);
	cr_expect_null(vw_handle_entry(&W, VGPU_HK_EVENT, event));
	a = (struct vgpu_cu_args){{mod}};
	cr_expect_eq(call("cuModuleUnload", &a), CUDA_ERROR_ILLEGAL_ADDRESS);
	cr_expect_null(vw_handle_entry(&W, VGPU_HK_MODULE, mod));
	cr_expect_null(vw_handle_entry(&W, VGPU_HK_FUNCTION, fi.function));
}

/* A function's layout is the handle's; the reply and each launch read
 * copies, so the layout may go with its module at any time. */
Test(worker, function_info_is_answered_and_launched_from_copies)
{
	uint64_t mod = load_ptx();
	struct vgpu_cu_fninfo fi;
	cr_assert_eq(lookup(VGPU_CU_MODULE_GET_FUNCTION, mod, "vgpu_fault", &fi,
			    sizeof(fi)), CUDA_SUCCESS);
	cr_expect_eq(fi.nparams, 1u);
	cr_expect_eq(fi.size[0], 8u);
	cr_expect_eq(fi.param_bytes, 8u);
	struct vgpu_cu_fninfo copy;
	CUfunction f;
	cr_assert_eq(vw_function(&W, fi.function, &f, &copy), CUDA_SUCCESS);
	cr_expect_eq(copy.nparams, fi.nparams);
	uint64_t short_param = 0;
	cr_expect_eq(launch(fi.function, &short_param, 4),
		     CUDA_ERROR_INVALID_VALUE, "param_bytes below the layout's");
	/* a lookup on a module that is gone makes no function */
	struct vgpu_cu_args a = {{mod}};
	cr_assert_eq(call("cuModuleUnload", &a), CUDA_SUCCESS);
	cr_expect_eq(vw_function_new(&W, f, NULL, mod), 0u);
	cr_expect_eq(vw_alloc_global(&W, 0x1000, 8, mod),
		     CUDA_ERROR_INVALID_HANDLE);
}
