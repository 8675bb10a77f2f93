/* The worker's non-primary contexts (daemon/worker_ctx.c) over the sim:
 * a destroyed context's streams, events and memory are refused and
 * uncharged (modules and functions: tests/gpu/contexts.c), the primary context's are untouched; only
 * this worker's created contexts can be destroyed or made current.
 */
#define _GNU_SOURCE
#include "../../daemon/devinfo.h"
#include "../../daemon/worker.h"
#include "../../ring/cuda_proto_stream.h"
#include "../../ring/host.h"
#include "../support/worker_fixture.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A NOREPLY request returns the asynchronous error, taken; down releases
 * any host function still waiting. */
static void up(void)
{
	vwf_opts = (struct vwf_opts){.cb_close = true, .async = VWF_ASYNC_TAKE};
	vwf_up();
}

TestSuite(ctx_worker, .init = up, .fini = vwf_down);

static int32_t args_op(uint16_t op, struct vgpu_cu_args *a)
{
	return request(op, 0, a, sizeof(*a), a, sizeof(*a));
}

static void make_current(uint64_t ctx)
{
	struct vgpu_cu_args a = {{ctx}};
	cr_assert_eq(request(VGPU_CU_CTX_CURRENT, VGPU_MSG_NOREPLY, &a,
			     sizeof(a), NULL, 0), CUDA_SUCCESS);
}

static int32_t destroy(uint64_t ctx)
{
	struct vgpu_cu_args a = {{ctx}};
	return args_op(VGPU_CU_CTX_DESTROY, &a);
}

static uint64_t create(void)
{
	struct vgpu_cu_args a = {{0}};
	cr_assert_eq(args_op(VGPU_CU_CTX_CREATE, &a), CUDA_SUCCESS);
	cr_assert_eq(a.a[0] >> VGPU_CU_HKIND_SHIFT, VGPU_HK_CONTEXT);
	return a.a[0];
}

static uint64_t made(const char *call_name, uint64_t arg)
{
	struct vgpu_cu_args a = {{arg}};
	cr_assert_eq(call(call_name, &a), CUDA_SUCCESS, "%s", call_name);
	return a.a[0];
}

static int32_t on(const char *call_name, uint64_t id)
{
	struct vgpu_cu_args a = {{id}};
	return call(call_name, &a);
}

Test(ctx_worker, a_destroyed_contexts_handles_are_refused_and_uncharged)
{
	make_current(W.ctx_id);
	uint64_t ps = made("cuStreamCreate", 0), pp = made("cuMemAlloc_v2", 4096);
	uint64_t before = W.mem_in_use;
	uint64_t c = create();
	make_current(c);
	uint64_t s = made("cuStreamCreate", 0), e = made("cuEventCreate", 0);
	uint64_t p = made("cuMemAlloc_v2", 1 << 20);
	struct vgpu_cu_args q = {{s}};
	cr_expect_eq(args_op(VGPU_CU_CTX_OF_STREAM, &q), CUDA_SUCCESS);
	cr_expect_eq(q.a[0], c, "a stream's context");
	q = (struct vgpu_cu_args){{ps}};
	cr_expect_eq(args_op(VGPU_CU_CTX_OF_STREAM, &q), CUDA_SUCCESS);
	cr_expect_eq(q.a[0], W.ctx_id);
	cr_assert_eq(W.mem_in_use, before + (1 << 20));
	cr_expect_eq(on("cuStreamSynchronize", s), CUDA_SUCCESS);
	make_current(W.ctx_id);
	cr_expect_eq(destroy(c), CUDA_SUCCESS);
	cr_expect_eq(W.mem_in_use, before, "the context's memory uncharged");
	cr_expect_eq(on("cuStreamSynchronize", s), CUDA_ERROR_INVALID_HANDLE);
	cr_expect_eq(on("cuEventQuery", e), CUDA_ERROR_INVALID_HANDLE);
	cr_expect_eq(on("cuMemFree_v2", p), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(vw_range(&W, p, 1), CUDA_ERROR_INVALID_VALUE);
	/* the primary context's objects live on */
	cr_expect_eq(on("cuStreamSynchronize", ps), CUDA_SUCCESS);
	cr_expect_eq(on("cuMemFree_v2", pp), CUDA_SUCCESS);
	cr_expect_eq(destroy(c), CUDA_ERROR_INVALID_CONTEXT, "twice");
	q = (struct vgpu_cu_args){{s}};
	cr_expect_eq(args_op(VGPU_CU_CTX_OF_STREAM, &q),
		     CUDA_ERROR_INVALID_HANDLE);
	struct vgpu_cu_args a = {{c}};
	cr_expect_eq(request(VGPU_CU_CTX_CURRENT, VGPU_MSG_NOREPLY, &a,
			     sizeof(a), NULL, 0), CUDA_ERROR_INVALID_CONTEXT);
}

Test(ctx_worker, destroying_the_current_context_leaves_none)
{
	uint64_t c = create();
	make_current(c);
	uint64_t s = made("cuStreamCreate", 0);
	cr_expect_eq(destroy(c), CUDA_SUCCESS);
	cr_expect_eq(on("cuStreamSynchronize", s), CUDA_ERROR_INVALID_HANDLE);
	struct vgpu_cu_args a = {{0}};
	cr_expect_eq(call("cuStreamCreate", &a), CUDA_ERROR_INVALID_CONTEXT);
	make_current(W.ctx_id);
	cr_expect_eq(call("cuStreamCreate", &a), CUDA_SUCCESS);
}

Test(ctx_worker, only_this_workers_created_contexts_are_accepted)
{
	uint64_t c = create(), s;
	make_current(W.ctx_id);
	s = made("cuStreamCreate", 0);
	cr_expect_eq(destroy(W.ctx_id), CUDA_ERROR_INVALID_CONTEXT, "primary");
	cr_expect_eq(destroy(0), CUDA_ERROR_INVALID_CONTEXT);
	cr_expect_eq(destroy(s), CUDA_ERROR_INVALID_CONTEXT, "a stream id");
	cr_expect_eq(destroy(c ^ (1ull << 40)), CUDA_ERROR_INVALID_CONTEXT,
		     "another worker's salt");
	cr_expect_eq(destroy(c + 1), CUDA_ERROR_INVALID_CONTEXT);
	struct vgpu_cu_args a = {{1ull << 32}};
	cr_expect_eq(args_op(VGPU_CU_CTX_CREATE, &a), CUDA_ERROR_INVALID_VALUE,
		     "flags wider than 32 bits");
	a = (struct vgpu_cu_args){{0x100}};
	cr_expect_eq(args_op(VGPU_CU_CTX_CREATE, &a), CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{CU_CTX_SCHED_SPIN | CU_CTX_SCHED_YIELD}};
	cr_expect_eq(args_op(VGPU_CU_CTX_CREATE, &a), CUDA_ERROR_INVALID_VALUE);
	uint8_t shortmsg[8] = {0};
	cr_expect_eq(request(VGPU_CU_CTX_DESTROY, 0, shortmsg, sizeof(shortmsg),
			     NULL, 0), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(destroy(c), CUDA_SUCCESS);
	cr_expect_eq(on("cuStreamSynchronize", s), CUDA_SUCCESS);
}
