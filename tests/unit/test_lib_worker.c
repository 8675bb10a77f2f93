/* The worker's library and kernel opcodes (daemon/worker_lib.c, 0x60-0x6F)
 * run in-process over the sim, as tests/unit/test_worker.c drives the
 * others: real answers for the caller's own module and functions, and the
 * exact error for hostile requests (foreign or stale ids, bad lengths,
 * indexes past the end). A kernel's attributes are its function's
 * (VGPU_CU_FUNC_CTL, whose value ranges test_stream_worker.c checks); here
 * only that a library's ids reach it checked. The harness is
 * tests/support/worker_fixture.c.
 */
#define _GNU_SOURCE
#include "../../daemon/devinfo.h"
#include "../../daemon/worker.h"
#include "../../ring/cuda_proto_stream.h"
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

TestSuite(lib_worker, .init = vwf_up, .fini = vwf_down);

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

static int32_t args(uint16_t op, uint64_t a0, uint64_t a1, uint64_t a2,
		    void *out, uint32_t outlen)
{
	struct vgpu_cu_args a = {{a0, a1, a2}};
	return request(op, 0, &a, sizeof(a), out, outlen);
}

Test(lib_worker, count_and_names_of_a_module)
{
	uint64_t mod = load_ptx();
	struct vgpu_cu_args o = {{0}};
	char name[VGPU_CU_NAME_MAX] = "";
	cr_assert_eq(args(VGPU_CU_LIB_FUNC_COUNT, mod, 0, 0, &o, sizeof(o)),
		     CUDA_SUCCESS);
	cr_assert_eq(o.a[0], 2);
	cr_assert_eq(args(VGPU_CU_LIB_FUNC_NAME, mod, 0, 0, name, sizeof(name)),
		     CUDA_SUCCESS);
	cr_assert_str_eq(name, "vgpu_fault");
	cr_assert_eq(args(VGPU_CU_LIB_FUNC_NAME, mod, 1, 0, name, sizeof(name)),
		     CUDA_SUCCESS);
	cr_assert_str_eq(name, "vgpu_inc_counter");
	cr_assert_eq(args(VGPU_CU_LIB_FUNC_NAME, mod, 2, 0, name, sizeof(name)),
		     CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(args(VGPU_CU_LIB_FUNC_NAME, mod, UINT64_MAX, 0, name,
			  sizeof(name)), CUDA_ERROR_INVALID_VALUE);
}

Test(lib_worker, foreign_stale_and_wrong_kind_ids_refused)
{
	uint64_t mod = load_ptx();
	struct vgpu_cu_fninfo fi;
	struct vgpu_cu_args o;
	cr_assert_eq(lookup(VGPU_CU_MODULE_GET_FUNCTION, mod, "vgpu_fault", &fi,
			    sizeof(fi)), CUDA_SUCCESS);
	/* a function id where a module is expected, and the reverse */
	cr_assert_eq(args(VGPU_CU_LIB_FUNC_COUNT, fi.function, 0, 0, &o,
			  sizeof(o)), CUDA_ERROR_INVALID_HANDLE);
	cr_assert_eq(args(VGPU_CU_FUNC_CTL, VGPU_FCTL_GET_ATTRIBUTE, mod, 0, &o,
			  sizeof(o)), CUDA_ERROR_INVALID_HANDLE);
	/* another process's numbering: same index, other salt */
	cr_assert_eq(args(VGPU_CU_LIB_FUNC_COUNT, mod ^ (1ull << 40), 0, 0, &o,
			  sizeof(o)), CUDA_ERROR_INVALID_HANDLE);
	struct vgpu_cu_args u = {{mod}};
	cr_assert_eq(call("cuModuleUnload", &u), CUDA_SUCCESS);
	cr_assert_eq(args(VGPU_CU_LIB_FUNC_COUNT, mod, 0, 0, &o, sizeof(o)),
		     CUDA_ERROR_INVALID_HANDLE);
	/* a kernel's function after its library is gone (value 0) */
	cr_assert_eq(args(VGPU_CU_FUNC_CTL, VGPU_FCTL_SET_ATTRIBUTE, fi.function,
			  CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
			  NULL, 0), CUDA_ERROR_INVALID_HANDLE);
}

Test(lib_worker, short_and_long_messages_refused)
{
	uint64_t mod = load_ptx();
	uint8_t buf[sizeof(struct vgpu_cu_args) + 8] = {0};
	memcpy(buf, &mod, 8);
	static const uint16_t ops[] = {VGPU_CU_LIB_FUNC_COUNT,
				       VGPU_CU_LIB_FUNC_NAME,
				       VGPU_CU_LIB_GET_FUNCTION,
				       VGPU_CU_LIB_GET_GLOBAL};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		uint16_t op = ops[i];
		cr_assert_eq(request(op, 0, buf, 8, NULL, 0),
			     CUDA_ERROR_INVALID_VALUE, "op 0x%x", op);
		cr_assert_eq(request(op, 0, buf, sizeof(buf), NULL, 0),
			     CUDA_ERROR_INVALID_VALUE, "op 0x%x", op);
	}
	cr_assert_eq(request(0x6F, 0, buf, 8, NULL, 0), CUDA_ERROR_NOT_SUPPORTED);
}

/* Stage bytes as MODULE_LOAD does for an image (one chunk). */
static void stage(const void *p, uint32_t n)
{
	uint32_t at = vwf_pos();
	struct vgpu_msg m = {.pos = at, .op = VGPU_CU_MODULE_LOAD,
			     .flags = VGPU_MSG_ARENA, .reply = at % 16,
			     .epoch = W.srv.ch[0].epoch, .arena_len = n,
			     .total = n};
	uint8_t none = 0;
	m.data = &none;
	memcpy(vgpu_arena(&W.r, 0), p, n);
	vw_execute(&W, X, &m);
	cr_assert_eq(vgpu_reply_at(&W.r, 0, m.reply)->result, CUDA_SUCCESS);
}

static const char LONG_PTX_HEAD[] =
	".version 9.0\n.target sm_90\n.address_size 64\n.visible .entry ";

Test(lib_worker, long_names_are_looked_up_from_staged_bytes)
{
	static char name[401], ptx[600];
	memset(name, 'k', 400);
	snprintf(ptx, sizeof(ptx), "%s%s() { ret; }\n", LONG_PTX_HEAD, name);
	stage(ptx, (uint32_t)strlen(ptx));
	struct vgpu_cu_args c = {{0}};
	cr_assert_eq(request(VGPU_CU_MODULE_COMMIT, 0, NULL, 0, &c, sizeof(c)),
		     CUDA_SUCCESS);
	uint64_t mod = c.a[0];
	struct vgpu_cu_fninfo fi = {0};
	stage(name, 400);
	cr_assert_eq(args(VGPU_CU_LIB_GET_FUNCTION, mod, 0, 0, &fi, sizeof(fi)),
		     CUDA_SUCCESS);
	cr_assert_neq(fi.function, 0);
	cr_assert_eq(fi.nparams, 0);
	/* the staged bytes were used up: a second lookup has no name */
	cr_assert_eq(args(VGPU_CU_LIB_GET_FUNCTION, mod, 0, 0, &fi, sizeof(fi)),
		     CUDA_ERROR_INVALID_VALUE);
	name[10] = 0; /* a NUL inside the staged bytes */
	stage(name, 400);
	cr_assert_eq(args(VGPU_CU_LIB_GET_FUNCTION, mod, 0, 0, &fi, sizeof(fi)),
		     CUDA_ERROR_INVALID_VALUE);
	name[10] = 'k';
	name[399] = 'x';
	stage(name, 400);
	cr_assert_eq(args(VGPU_CU_LIB_GET_FUNCTION, mod, 0, 0, &fi, sizeof(fi)),
		     CUDA_ERROR_NOT_FOUND);
	stage(name, 400);
	cr_assert_eq(args(VGPU_CU_LIB_GET_FUNCTION, mod ^ (1ull << 40), 0, 0,
			  &fi, sizeof(fi)), CUDA_ERROR_INVALID_HANDLE);
}

static int32_t htod_inline(uint64_t dev, const void *p, uint32_t n)
{
	uint8_t buf[16 + 64];
	uint64_t x[2] = {dev, UINT64_MAX /* no stream */};
	memcpy(buf, x, sizeof(x));
	memcpy(buf + sizeof(x), p, n);
	return request(VGPU_CU_MEMCPY_HTOD_INLINE, 0, buf, 16 + n, NULL, 0);
}

Test(lib_worker, long_global_names_are_looked_up_from_staged_bytes)
{
	static char name[301], ptx[600];
	memset(name, 'g', 300);
	snprintf(ptx, sizeof(ptx), ".version 9.0\n.target sm_90\n"
		 ".address_size 64\n.visible .global .align 8 .u64 %s;\n", name);
	stage(ptx, (uint32_t)strlen(ptx));
	struct vgpu_cu_args c = {{0}}, o = {{0}};
	cr_assert_eq(request(VGPU_CU_MODULE_COMMIT, 0, NULL, 0, &c, sizeof(c)),
		     CUDA_SUCCESS);
	stage(name, 300);
	cr_assert_eq(args(VGPU_CU_LIB_GET_GLOBAL, c.a[0], 0, 0, &o, sizeof(o)),
		     CUDA_SUCCESS);
	cr_assert_eq(o.a[1], 8);
	/* the global is the caller's to copy to now */
	uint64_t v = 42;
	cr_assert_eq(htod_inline(o.a[0], &v, 8), CUDA_SUCCESS);
	cr_assert_eq(args(VGPU_CU_LIB_GET_GLOBAL, c.a[0], 0, 0, &o, sizeof(o)),
		     CUDA_ERROR_INVALID_VALUE); /* nothing staged */
	name[0] = 'h';
	stage(name, 300);
	cr_assert_eq(args(VGPU_CU_LIB_GET_GLOBAL, c.a[0], 0, 0, &o, sizeof(o)),
		     CUDA_ERROR_NOT_FOUND);
}
