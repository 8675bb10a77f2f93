/* The worker's stream-area handlers (daemon/worker_stream*.c and the
 * stream calls generated from ring/cuda.api) over the sim, message by
 * message: foreign and malformed handles, addresses and values get the
 * native errors; host callbacks are handed out in order, hold their stream
 * until the guest says done, and never hold it once the worker closes;
 * memory operations reach memory.
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

#define SLOT_SIZE VWF_SLOT_SIZE

/* A NOREPLY request takes the asynchronous error under the worker's lock:
 * other threads of a test run requests too. Down releases any host
 * function still waiting. */
static void up(void)
{
	vwf_opts = (struct vwf_opts){.cb_close = true,
				     .async = VWF_ASYNC_LOCKED};
	vwf_up();
}

TestSuite(stream_worker, .init = up, .fini = vwf_down);

static int32_t args_op(uint16_t op, struct vgpu_cu_args *a)
{
	return request(op, 0, a, sizeof(*a), a, sizeof(*a));
}

static uint64_t new_stream(unsigned flags)
{
	struct vgpu_cu_args a = {{flags}};
	cr_assert_eq(call("cuStreamCreate", &a), CUDA_SUCCESS);
	return a.a[0];
}

static uint64_t new_alloc(uint64_t n)
{
	struct vgpu_cu_args a = {{n}};
	cr_assert_eq(call("cuMemAlloc_v2", &a), CUDA_SUCCESS);
	return a.a[0];
}

static int32_t sync_stream(uint64_t s)
{
	struct vgpu_cu_args a = {{s}};
	return call("cuStreamSynchronize", &a);
}

/* ---- streams and the context ------------------------------------------- */

Test(stream_worker, priorities_are_clamped_and_handles_checked)
{
	struct vgpu_cu_args a = {{0, (uint64_t)(int64_t)-100}};
	cr_assert_eq(call("cuStreamCreateWithPriority", &a), CUDA_SUCCESS);
	uint64_t s = a.a[0];
	a = (struct vgpu_cu_args){{s}};
	cr_assert_eq(call("cuStreamGetPriority", &a), CUDA_SUCCESS);
	cr_expect_eq((int)a.a[0], -5, "clamped to the greatest priority");
	a = (struct vgpu_cu_args){{VGPU_SCTL_PRIORITY_RANGE}};
	cr_assert_eq(args_op(VGPU_CU_STREAM_CTL, &a), CUDA_SUCCESS);
	cr_expect_eq((int64_t)a.a[0], 0);
	cr_expect_eq((int64_t)a.a[1], -5);
	/* a bogus stream, an event passed as a stream, a foreign salt */
	struct vgpu_cu_args e = {{0}};
	cr_assert_eq(call("cuEventCreate", &e), CUDA_SUCCESS);
	uint64_t bad[] = {12345, e.a[0], s ^ (1ull << 40)};
	for (unsigned i = 0; i < 3; i++) {
		a = (struct vgpu_cu_args){{bad[i]}};
		cr_expect_eq(call("cuStreamGetFlags", &a),
			     CUDA_ERROR_INVALID_HANDLE, "id %u", i);
		a = (struct vgpu_cu_args){{VGPU_SCTL_STREAM_ID, bad[i]}};
		cr_expect_eq(args_op(VGPU_CU_STREAM_CTL, &a),
			     CUDA_ERROR_INVALID_HANDLE, "id %u", i);
	}
	a = (struct vgpu_cu_args){{VGPU_SCTL_STREAM_ID, s}};
	cr_assert_eq(args_op(VGPU_CU_STREAM_CTL, &a), CUDA_SUCCESS);
	cr_expect_neq(a.a[0], 0u);
}

Test(stream_worker, context_settings_give_native_errors)
{
	struct vgpu_cu_args a = {{VGPU_SCTL_GET_LIMIT, 99}};
	cr_expect_eq(args_op(VGPU_CU_STREAM_CTL, &a),
		     CUDA_ERROR_UNSUPPORTED_LIMIT);
	a = (struct vgpu_cu_args){{VGPU_SCTL_GET_LIMIT, 1ull << 33}};
	cr_expect_eq(args_op(VGPU_CU_STREAM_CTL, &a),
		     CUDA_ERROR_UNSUPPORTED_LIMIT);
	a = (struct vgpu_cu_args){{VGPU_SCTL_SET_LIMIT, CU_LIMIT_STACK_SIZE,
				   8192}};
	cr_expect_eq(args_op(VGPU_CU_STREAM_CTL, &a), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{VGPU_SCTL_GET_LIMIT, CU_LIMIT_STACK_SIZE}};
	cr_expect_eq(args_op(VGPU_CU_STREAM_CTL, &a), CUDA_SUCCESS);
	cr_expect_eq(a.a[0], 8192u);
	a = (struct vgpu_cu_args){{VGPU_SCTL_SET_LIMIT, CU_LIMIT_SHMEM_SIZE, 1}};
	cr_expect_eq(args_op(VGPU_CU_STREAM_CTL, &a),
		     CUDA_ERROR_UNSUPPORTED_LIMIT, "query-only limit");
	a = (struct vgpu_cu_args){{VGPU_SCTL_SET_CACHE_CONFIG, 77}};
	cr_expect_eq(args_op(VGPU_CU_STREAM_CTL, &a), CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{VGPU_SCTL_API_VERSION, 0xC1000000deadull}};
	cr_expect_eq(args_op(VGPU_CU_STREAM_CTL, &a),
		     CUDA_ERROR_INVALID_CONTEXT);
	a = (struct vgpu_cu_args){{VGPU_SCTL_API_VERSION, W.ctx_id}};
	cr_expect_eq(args_op(VGPU_CU_STREAM_CTL, &a), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{999}};
	cr_expect_eq(args_op(VGPU_CU_STREAM_CTL, &a), CUDA_ERROR_INVALID_VALUE);
	uint8_t shorter[8] = {1};
	cr_expect_eq(request(VGPU_CU_STREAM_CTL, 0, shorter, sizeof(shorter),
			     NULL, 0), CUDA_ERROR_INVALID_VALUE);
}

/* ---- stream memory operations ------------------------------------------ */

static int32_t memops(uint64_t stream, const struct vgpu_cu_memop *ops,
		      uint32_t n, uint32_t count, uint32_t len_cut)
{
	uint8_t buf[SLOT_SIZE];
	struct vgpu_cu_memops h = {.stream = stream, .count = count};
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), ops, n * sizeof(*ops));
	return request(VGPU_CU_BATCH_MEMOP, 0, buf,
		       (uint32_t)(sizeof(h) + n * sizeof(*ops)) - len_cut, NULL,
		       0);
}

Test(stream_worker, memops_write_memory_and_refuse_foreign_addresses)
{
	uint64_t s = new_stream(CU_STREAM_NON_BLOCKING);
	uint64_t d = new_alloc(64);
	struct vgpu_cu_memop ops[3] = {
		{CU_STREAM_MEM_OP_WRITE_VALUE_32, 0, d, 0xa1b2c3d4u},
		{CU_STREAM_MEM_OP_WAIT_VALUE_32, CU_STREAM_WAIT_VALUE_EQ, d,
		 0xa1b2c3d4u},
		{CU_STREAM_MEM_OP_WRITE_VALUE_64, 0, d + 8, 0x1122334455667788ull},
	};
	cr_assert_eq(memops(s, ops, 3, 3, 0), CUDA_SUCCESS);
	cr_assert_eq(sync_stream(s), CUDA_SUCCESS);
	uint64_t got[2] = {0};
	uint64_t x[3] = {d, s, sizeof(got)};
	cr_assert_eq(request(VGPU_CU_MEMCPY_DTOH_INLINE, 0, x, sizeof(x), got,
			     sizeof(got)), CUDA_SUCCESS);
	cr_expect_eq(got[0], 0xa1b2c3d4u);
	cr_expect_eq(got[1], 0x1122334455667788ull);

	struct vgpu_cu_memop bad = ops[0];
	bad.addr = d + 64; /* just past the allocation */
	cr_expect_eq(memops(s, &bad, 1, 1, 0), CUDA_ERROR_INVALID_VALUE);
	bad = ops[2];
	bad.addr = d + 60; /* 8 bytes from here cross the end */
	cr_expect_eq(memops(s, &bad, 1, 1, 0), CUDA_ERROR_INVALID_VALUE);
	bad.op = 77;
	bad.addr = d;
	cr_expect_eq(memops(s, &bad, 1, 1, 0), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(memops(s, ops, 1, 0, 0), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(memops(s, ops, 3, 3, 1), CUDA_ERROR_INVALID_VALUE,
		     "a message shorter than its count says");
	cr_expect_eq(memops(s, ops, 1, 1u << 31, 0), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(memops(12345, ops, 1, 1, 0), CUDA_ERROR_INVALID_HANDLE);

	/* the generated single operations: checked, errors asynchronous */
	struct vgpu_cu_args a = {{s, d + 64, 1, 0}};
	cr_expect_eq(call("cuStreamWriteValue32_v2", &a),
		     CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{s, d + 2, 1, 0}}; /* misaligned */
	cr_expect_eq(call("cuStreamWaitValue32_v2", &a),
		     CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{s, d + 16, 9, 0}};
	cr_expect_eq(call("cuStreamWriteValue64_v2", &a), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{s, d + 16, 8, CU_STREAM_WAIT_VALUE_GEQ}};
	cr_expect_eq(call("cuStreamWaitValue64_v2", &a), CUDA_SUCCESS);
	cr_expect_eq(sync_stream(s), CUDA_SUCCESS);
}

/* A wait another executor satisfies: the waiting stream's synchronise
 * returns once the value is written from elsewhere. */
struct waiter {
	uint64_t s;
	int32_t r;
};

static void *sync_thread(void *p)
{
	struct waiter *w = p;
	w->r = sync_stream(w->s);
	return NULL;
}

Test(stream_worker, a_wait_is_released_by_a_write_from_another_stream)
{
	uint64_t s1 = new_stream(CU_STREAM_NON_BLOCKING);
	uint64_t s2 = new_stream(CU_STREAM_NON_BLOCKING);
	uint64_t d = new_alloc(8);
	struct vgpu_cu_args a = {{s1, d, 1, CU_STREAM_WAIT_VALUE_GEQ}};
	cr_assert_eq(call("cuStreamWaitValue32_v2", &a), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{s1}};
	cr_expect_eq(call("cuStreamQuery", &a), CUDA_ERROR_NOT_READY);
	struct waiter w = {s1, -1};
	pthread_t t;
	pthread_create(&t, NULL, sync_thread, &w);
	a = (struct vgpu_cu_args){{s2, d, 1, 0}};
	cr_assert_eq(call("cuStreamWriteValue32_v2", &a), CUDA_SUCCESS);
	pthread_join(t, NULL);
	cr_expect_eq(w.r, CUDA_SUCCESS);
}

/* ---- host callbacks ------------------------------------------------------ */

static int32_t host_func(uint64_t s, uint64_t token, uint64_t kind,
			 uint64_t flags)
{
	struct vgpu_cu_args a = {{s, token, kind, flags}};
	return args_op(VGPU_CU_HOST_FUNC, &a);
}

struct poll {
	uint64_t done;
	int32_t r;
	struct vgpu_cu_args out;
};

static void *poll_thread(void *p)
{
	struct poll *q = p;
	q->out = (struct vgpu_cu_args){{q->done}};
	q->r = args_op(VGPU_CU_CB_POLL, &q->out);
	return NULL;
}

Test(stream_worker, host_calls_are_refused_on_bad_arguments)
{
	uint64_t s = new_stream(0);
	cr_expect_eq(host_func(12345, 1, VGPU_HOSTFN_LAUNCH, 0),
		     CUDA_ERROR_INVALID_HANDLE);
	cr_expect_eq(host_func(s, 0, VGPU_HOSTFN_LAUNCH, 0),
		     CUDA_ERROR_INVALID_VALUE, "token 0 is no token");
	cr_expect_eq(host_func(s, 1, 7, 0), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(host_func(s, 1, VGPU_HOSTFN_CALLBACK, 1),
		     CUDA_ERROR_INVALID_VALUE, "callback flags must be 0");
	cr_expect_eq(host_func(s, 1, VGPU_HOSTFN_CALLBACK, 1ull << 32),
		     CUDA_ERROR_INVALID_VALUE);
	uint8_t shorter[8] = {0};
	cr_expect_eq(request(VGPU_CU_CB_POLL, 0, shorter, sizeof(shorter),
			     NULL, 0), CUDA_ERROR_INVALID_VALUE);
}

Test(stream_worker, host_calls_are_handed_out_in_order_and_hold_the_stream)
{
	uint64_t s = new_stream(CU_STREAM_NON_BLOCKING);
	cr_assert_eq(host_func(s, 11, VGPU_HOSTFN_LAUNCH, 0), CUDA_SUCCESS);
	cr_assert_eq(host_func(s, 12, VGPU_HOSTFN_CALLBACK, 0), CUDA_SUCCESS);
	struct poll q = {.done = 0};
	poll_thread(&q);
	cr_assert_eq(q.r, CUDA_SUCCESS);
	cr_expect_eq(q.out.a[0], 11u);
	struct vgpu_cu_args a = {{s}};
	cr_expect_eq(call("cuStreamQuery", &a), CUDA_ERROR_NOT_READY,
		     "the stream waits for the guest");
	q.done = 11;
	poll_thread(&q);
	cr_assert_eq(q.r, CUDA_SUCCESS);
	cr_expect_eq(q.out.a[0], 12u);
	cr_expect_eq(q.out.a[1], CUDA_SUCCESS, "the callback's status");
	/* the last one: released by a poll that then waits for more */
	pthread_t t;
	q.done = 12;
	pthread_create(&t, NULL, poll_thread, &q);
	cr_expect_eq(sync_stream(s), CUDA_SUCCESS);
	vw_cb_close(&W);
	pthread_join(t, NULL);
	cr_expect_eq(q.r, CUDA_ERROR_DEINITIALIZED, "closing ends the poll");
}

Test(stream_worker, a_guest_that_never_polls_does_not_hold_the_worker)
{
	uint64_t s = new_stream(CU_STREAM_NON_BLOCKING);
	cr_assert_eq(host_func(s, 5, VGPU_HOSTFN_LAUNCH, 0), CUDA_SUCCESS);
	struct poll q = {.done = 999}; /* an unknown token releases nothing */
	poll_thread(&q);
	cr_assert_eq(q.r, CUDA_SUCCESS);
	cr_expect_eq(q.out.a[0], 5u);
	struct vgpu_cu_args a = {{s}};
	cr_expect_eq(call("cuStreamQuery", &a), CUDA_ERROR_NOT_READY,
		     "5 was handed out, never done");
	struct waiter w = {s, -1};
	pthread_t t;
	pthread_create(&t, NULL, sync_thread, &w);
	vw_cb_close(&W); /* the guest is gone: the worker shuts down */
	pthread_join(t, NULL);
	cr_expect_eq(w.r, CUDA_SUCCESS);
	/* and nothing waits after closing */
	cr_assert_eq(host_func(s, 6, VGPU_HOSTFN_LAUNCH, 0), CUDA_SUCCESS);
	cr_expect_eq(sync_stream(s), CUDA_SUCCESS);
	q.done = 5;
	poll_thread(&q);
	cr_expect_eq(q.r, CUDA_ERROR_DEINITIALIZED);
}

/* ---- launches with attributes, streamed launches ------------------------- */

static const char PTX[] =
	".version 9.0\n.target sm_90\n.address_size 64\n"
	".visible .entry vgpu_fill_u32(.param .u64 p, .param .u32 v, "
	".param .u64 n) { ret; }\n";

static uint64_t fill_function(void)
{
	uint32_t at = vwf_pos();
	struct vgpu_msg m = {.pos = at, .op = VGPU_CU_MODULE_LOAD,
			     .flags = VGPU_MSG_ARENA, .reply = at % 16,
			     .epoch = W.srv.ch[0].epoch,
			     .arena_len = sizeof(PTX) - 1,
			     .total = sizeof(PTX) - 1};
	uint8_t none = 0;
	m.data = &none;
	memcpy(vgpu_arena(&W.r, 0), PTX, sizeof(PTX) - 1);
	vw_execute(&W, X, &m);
	cr_assert_eq(vgpu_reply_at(&W.r, 0, m.reply)->result, CUDA_SUCCESS);
	struct vgpu_cu_args a = {{0}};
	cr_assert_eq(request(VGPU_CU_MODULE_COMMIT, 0, NULL, 0, &a, sizeof(a)),
		     CUDA_SUCCESS);
	struct vgpu_cu_getfn g = {.module = a.a[0]};
	snprintf(g.name, sizeof(g.name), "vgpu_fill_u32");
	struct vgpu_cu_fninfo fi;
	cr_assert_eq(request(VGPU_CU_MODULE_GET_FUNCTION, 0, &g, sizeof(g), &fi,
			     sizeof(fi)), CUDA_SUCCESS);
	return fi.function;
}

struct fill_msg {
	struct vgpu_cu_launch_ex h;
	struct vgpu_cu_lattr at[2];
	uint64_t p;
	uint32_t v, pad;
	uint64_t n;
};

static struct fill_msg fill_msg(uint64_t fn, uint64_t p, unsigned grid,
				uint32_t nattrs)
{
	struct fill_msg f;
	memset(&f, 0, sizeof(f));
	f.h.l = (struct vgpu_cu_launch){.function = fn, .grid = {grid, 1, 1},
					.block = {128, 1, 1}, .param_bytes = 24};
	f.h.nattrs = nattrs;
	f.p = p;
	f.v = 9;
	f.n = 16;
	return f;
}

/* The message as sent: header, nattrs attributes, then the parameters. */
static int32_t launch_ex(struct fill_msg *f, uint32_t cut)
{
	uint8_t buf[sizeof(*f)];
	uint32_t n = f->h.nattrs < 2 ? f->h.nattrs : 2; /* a lie may be larger */
	size_t at = sizeof(f->h) + n * sizeof(f->at[0]);
	memcpy(buf, &f->h, sizeof(f->h));
	memcpy(buf + sizeof(f->h), f->at, n * sizeof(f->at[0]));
	memcpy(buf + at, &f->p, 24);
	int32_t r = request(VGPU_CU_LAUNCH_EX, VGPU_MSG_NOREPLY, buf,
			    (uint32_t)(at + 24 - cut), NULL, 0);
	return r;
}

Test(stream_worker, launch_ex_checks_everything_before_the_driver)
{
	uint64_t fn = fill_function();
	uint64_t d = new_alloc(64);
	struct fill_msg f = fill_msg(fn, d, 1, 0);
	cr_expect_eq(launch_ex(&f, 0), CUDA_SUCCESS);
	cr_expect_eq(sync_stream(0), CUDA_SUCCESS);
	uint32_t got[16] = {0};
	uint64_t x[3] = {d, UINT64_MAX, sizeof(got)};
	cr_assert_eq(request(VGPU_CU_MEMCPY_DTOH_INLINE, 0, x, sizeof(x), got,
			     sizeof(got)), CUDA_SUCCESS);
	cr_expect_eq(got[15], 9u);

	cr_expect_eq(launch_ex(&f, 1), CUDA_ERROR_INVALID_VALUE, "truncated");
	f.h.l.function = fn ^ (1ull << 40);
	cr_expect_eq(launch_ex(&f, 0), CUDA_ERROR_INVALID_HANDLE);
	f = fill_msg(fn, d, 1, 0);
	f.h.l.stream = 12345;
	cr_expect_eq(launch_ex(&f, 0), CUDA_ERROR_INVALID_HANDLE);
	f = fill_msg(fn, d, 1, 1);
	f.at[0].id = CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW;
	cr_expect_eq(launch_ex(&f, 0), CUDA_ERROR_NOT_SUPPORTED);
	f.at[0].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT;
	cr_expect_eq(launch_ex(&f, 0), CUDA_ERROR_NOT_SUPPORTED);
	f.at[0].id = 99;
	cr_expect_eq(launch_ex(&f, 0), CUDA_ERROR_INVALID_VALUE);
	f.h.nattrs = 1000;
	cr_expect_eq(launch_ex(&f, 0), CUDA_ERROR_INVALID_VALUE);
	/* cooperative: a grid larger than the device holds at once */
	f = fill_msg(fn, d, 1000000, 1);
	f.at[0].id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
	f.at[0].value[0] = 1;
	cr_expect_eq(launch_ex(&f, 0), CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
	f = fill_msg(fn, d, 15, 1);
	f.at[0].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
	uint32_t dims[3] = {2, 1, 1};
	memcpy(f.at[0].value, dims, sizeof(dims));
	cr_expect_eq(launch_ex(&f, 0), CUDA_ERROR_INVALID_CLUSTER_SIZE);
	f.h.l.grid[0] = 16;
	cr_expect_eq(launch_ex(&f, 0), CUDA_SUCCESS);
	cr_expect_eq(sync_stream(0), CUDA_SUCCESS);
}

/* One chunk of a streamed launch, as the arena path delivers it. */
static int32_t big_chunk(const uint8_t *p, uint64_t tag, uint64_t len,
			 uint64_t total)
{
	uint32_t at = vwf_pos();
	uint64_t x[2] = {0, UINT64_MAX};
	struct vgpu_msg m = {.pos = at, .op = VGPU_CU_LAUNCH_BIG,
			     .flags = VGPU_MSG_ARENA, .reply = at % 16,
			     .epoch = W.srv.ch[0].epoch, .len = sizeof(x),
			     .data = (uint8_t *)x, .tag = tag,
			     .arena_len = len, .total = total};
	memcpy(vgpu_arena(&W.r, 0), p + tag, len);
	vw_execute(&W, X, &m);
	return vgpu_reply_at(&W.r, 0, m.reply)->result;
}

Test(stream_worker, streamed_launches_assemble_in_order_and_are_bounded)
{
	uint64_t fn = fill_function();
	uint64_t d = new_alloc(64);
	struct fill_msg f = fill_msg(fn, d, 1, 0);
	uint8_t buf[sizeof(f.h) + 24];
	memcpy(buf, &f.h, sizeof(f.h));
	memcpy(buf + sizeof(f.h), &f.p, 24);
	uint64_t n = sizeof(buf);
	cr_expect_eq(big_chunk(buf, 0, 16, n), CUDA_SUCCESS);
	cr_expect_eq(big_chunk(buf, 16, n - 16, n), CUDA_SUCCESS,
		     "the last chunk launches");
	cr_expect_eq(big_chunk(buf, 0, 16, n), CUDA_SUCCESS);
	cr_expect_eq(big_chunk(buf, 24, n - 24, n), CUDA_ERROR_INVALID_VALUE,
		     "a gap");
	cr_expect_eq(big_chunk(buf, 0, 16, 1ull << 40), CUDA_ERROR_INVALID_VALUE,
		     "larger than any launch");
	f.h.l.function = 77;
	memcpy(buf, &f.h, sizeof(f.h));
	cr_expect_eq(big_chunk(buf, 0, n, n), CUDA_ERROR_INVALID_HANDLE);
	cr_expect_eq(sync_stream(0), CUDA_SUCCESS);
}

/* ---- function controls and occupancy ------------------------------------ */

Test(stream_worker, function_controls_check_ids_and_value_ranges)
{
	uint64_t fn = fill_function();
	struct vgpu_cu_args a = {{VGPU_FCTL_SET_ATTRIBUTE, fn ^ (1ull << 40),
				  CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
				  1024}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_HANDLE);
	a = (struct vgpu_cu_args){{VGPU_FCTL_SET_ATTRIBUTE, fn, 1ull << 35, 1}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{VGPU_FCTL_SET_ATTRIBUTE, fn,
				   CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
				   1ull << 40}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_VALUE,
		     "a value beyond int is refused, not truncated");
	a = (struct vgpu_cu_args){{VGPU_FCTL_SET_ATTRIBUTE, fn,
				   CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
				   (uint64_t)-1}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_VALUE,
		     "negative");
	a = (struct vgpu_cu_args){{VGPU_FCTL_SET_ATTRIBUTE, fn,
				   CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
				   232449}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_VALUE,
		     "past the device's opt-in limit");
	a = (struct vgpu_cu_args){{VGPU_FCTL_SET_ATTRIBUTE, fn,
				   CU_FUNC_ATTRIBUTE_NUM_REGS, 8}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_VALUE,
		     "read-only");
	a = (struct vgpu_cu_args){{VGPU_FCTL_GET_ATTRIBUTE, fn,
				   CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_SUCCESS);
	cr_expect_eq(a.a[0], 49152, "the default: 48 KiB less static shared");
	a = (struct vgpu_cu_args){{VGPU_FCTL_SET_ATTRIBUTE, fn,
				   CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
				   100 << 10}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{VGPU_FCTL_GET_ATTRIBUTE, fn,
				   CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_SUCCESS);
	cr_expect_eq(a.a[0], 100u << 10);
	a = (struct vgpu_cu_args){{VGPU_FCTL_GET_ATTRIBUTE, fn, 1ull << 40}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_VALUE,
		     "an attribute beyond int");
	a = (struct vgpu_cu_args){{VGPU_FCTL_GET_ATTRIBUTE, fn, 9999}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_VALUE,
		     "not an attribute");
	a = (struct vgpu_cu_args){{VGPU_FCTL_SET_CACHE_CONFIG, fn, 9}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{99, fn}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_VALUE);
	uint8_t longer[sizeof(a) + 8] = {0};
	memcpy(longer, &a, sizeof(a));
	cr_expect_eq(request(VGPU_CU_FUNC_CTL, 0, longer, 8, NULL, 0),
		     CUDA_ERROR_INVALID_VALUE, "shorter than its arguments");
	cr_expect_eq(request(VGPU_CU_FUNC_CTL, 0, longer, sizeof(longer), NULL,
			     0), CUDA_ERROR_INVALID_VALUE, "longer");
	char name[VGPU_CU_NAME_MAX] = "";
	a = (struct vgpu_cu_args){{VGPU_FCTL_GET_NAME, fn}};
	cr_expect_eq(request(VGPU_CU_FUNC_CTL, 0, &a, sizeof(a), name,
			     sizeof(name) - 1), CUDA_SUCCESS);
	cr_expect_str_eq(name, "vgpu_fill_u32");
	a = (struct vgpu_cu_args){{VGPU_FCTL_GET_NAME, 12345}};
	cr_expect_eq(request(VGPU_CU_FUNC_CTL, 0, &a, sizeof(a), NULL, 0),
		     CUDA_ERROR_INVALID_HANDLE);
}

Test(stream_worker, occupancy_answers_follow_the_model)
{
	uint64_t fn = fill_function();
	struct vgpu_cu_args a = {{VGPU_FCTL_OCC_BLOCKS, fn, 128, 0, 0}};
	cr_assert_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_SUCCESS);
	cr_expect_eq(a.a[0], 16u, "2048 threads / 128");
	a = (struct vgpu_cu_args){{VGPU_FCTL_OCC_BLOCKS, fn, 128, 40 << 10, 0}};
	cr_assert_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_SUCCESS);
	cr_expect_eq(a.a[0], 5u, "228 KiB / (40 + 1) KiB");
	a = (struct vgpu_cu_args){{VGPU_FCTL_OCC_BLOCKS, fn, 128, 0, 7}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_VALUE,
		     "unknown flags");
	a = (struct vgpu_cu_args){{VGPU_FCTL_OCC_BLOCKS, fn, 1ull << 33, 0, 0}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{VGPU_FCTL_OCC_DYN_SMEM, fn, 2, 128}};
	cr_assert_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_SUCCESS);
	cr_expect_eq(a.a[0], 48u << 10, "capped at the default maximum");
	a = (struct vgpu_cu_args){{VGPU_FCTL_OCC_CLUSTERS, fn, 128, 1, 1, 0,
				   2 | 1ull << 32, 1}};
	cr_assert_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_SUCCESS);
	cr_expect_eq(a.a[0], 8u * 16 * 16 / 2);
	a = (struct vgpu_cu_args){{VGPU_FCTL_OCC_CLUSTERS, fn, 128, 1, 1, 0,
				   16 | 1ull << 32, 1}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a),
		     CUDA_ERROR_INVALID_CLUSTER_SIZE, "16 is not portable");
	a = (struct vgpu_cu_args){{VGPU_FCTL_OCC_CLUSTERS, fn, 1ull << 32, 1, 1,
				   0, 2, 1}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_VALUE);
}

/* The executor takes the guest thread's current context. */
Test(stream_worker, the_guest_threads_context_is_made_current)
{
	struct vgpu_cu_args a = {{0xC1000000beefull}};
	cr_expect_eq(request(VGPU_CU_CTX_CURRENT, VGPU_MSG_NOREPLY, &a,
			     sizeof(a), NULL, 0), CUDA_ERROR_INVALID_CONTEXT);
	a = (struct vgpu_cu_args){{0}};
	cr_expect_eq(request(VGPU_CU_CTX_CURRENT, VGPU_MSG_NOREPLY, &a,
			     sizeof(a), NULL, 0), CUDA_SUCCESS);
	struct vgpu_cu_args s = {{0}};
	cr_expect_eq(call("cuStreamCreate", &s), CUDA_ERROR_INVALID_CONTEXT,
		     "no current context");
	a = (struct vgpu_cu_args){{W.ctx_id}};
	cr_expect_eq(request(VGPU_CU_CTX_CURRENT, VGPU_MSG_NOREPLY, &a,
			     sizeof(a), NULL, 0), CUDA_SUCCESS);
	s = (struct vgpu_cu_args){{0}};
	cr_expect_eq(call("cuStreamCreate", &s), CUDA_SUCCESS);
}

/* A wait nothing will satisfy does not hold the context's teardown. */
Test(stream_worker, a_context_reset_ends_unsatisfied_waits)
{
	uint64_t s = new_stream(CU_STREAM_NON_BLOCKING);
	uint64_t d = new_alloc(8);
	struct vgpu_cu_args a = {{s, d, 7, CU_STREAM_WAIT_VALUE_EQ}};
	cr_assert_eq(call("cuStreamWaitValue32_v2", &a), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{s}};
	cr_expect_eq(call("cuStreamQuery", &a), CUDA_ERROR_NOT_READY);
	cr_expect_eq(W.drv.cuDevicePrimaryCtxRelease_v2(0), CUDA_SUCCESS,
		     "the reset drains every stream, the waiting one too");
}

/* One part of a launch message, as VGPU_CU_LAUNCH_PART carries it. */
static int32_t part(const uint8_t *msg, uint32_t total, uint32_t off,
		    uint32_t n)
{
	uint8_t buf[SLOT_SIZE];
	struct vgpu_cu_part h = {total, off};
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), msg + off, n);
	return request(VGPU_CU_LAUNCH_PART, VGPU_MSG_NOREPLY, buf,
		       (uint32_t)sizeof(h) + n, NULL, 0);
}

Test(stream_worker, launches_in_parts_need_no_reply_and_stay_in_order)
{
	uint64_t fn = fill_function();
	uint64_t d = new_alloc(64);
	struct fill_msg f = fill_msg(fn, d, 1, 0);
	f.v = 0x55;
	uint8_t msg[sizeof(f.h) + 24];
	memcpy(msg, &f.h, sizeof(f.h));
	memcpy(msg + sizeof(f.h), &f.p, 24);
	uint32_t n = sizeof(msg);
	cr_expect_eq(part(msg, n, 0, 30), CUDA_SUCCESS);
	cr_expect_eq(part(msg, n, 30, n - 30), CUDA_SUCCESS, "launched");
	cr_expect_eq(sync_stream(0), CUDA_SUCCESS);
	uint32_t got[16] = {0};
	uint64_t x[3] = {d, UINT64_MAX, sizeof(got)};
	cr_assert_eq(request(VGPU_CU_MEMCPY_DTOH_INLINE, 0, x, sizeof(x), got,
			     sizeof(got)), CUDA_SUCCESS);
	cr_expect_eq(got[0], 0x55u);
	cr_expect_eq(part(msg, n, 0, 30), CUDA_SUCCESS);
	cr_expect_eq(part(msg, n, 31, n - 31), CUDA_ERROR_INVALID_VALUE,
		     "a gap drops the message");
	cr_expect_eq(part(msg, n, 30, n - 30), CUDA_ERROR_INVALID_VALUE,
		     "and its later parts");
	cr_expect_eq(part(msg, 1u << 30, 0, 30), CUDA_ERROR_INVALID_VALUE,
		     "larger than any launch");
	cr_expect_eq(part(msg, 10, 0, 30), CUDA_ERROR_INVALID_VALUE,
		     "a part beyond the total");
	uint8_t tiny[4] = {0};
	cr_expect_eq(request(VGPU_CU_LAUNCH_PART, VGPU_MSG_NOREPLY, tiny,
			     sizeof(tiny), NULL, 0), CUDA_ERROR_INVALID_VALUE);
}

/* ---- stream attributes --------------------------------------------------- */

static int32_t sattr(uint64_t s, uint32_t op, uint32_t id, uint64_t src,
		     CUstreamAttrValue *v)
{
	struct vgpu_cu_sattr a = {.stream = s, .src = src, .op = op, .id = id};
	memcpy(a.value, v, sizeof(a.value));
	return request(VGPU_CU_STREAM_ATTR, 0, &a, sizeof(a), v, sizeof(*v));
}

Test(stream_worker, stream_attributes_check_streams_and_windows)
{
	uint64_t s = new_stream(CU_STREAM_NON_BLOCKING);
	uint64_t t = new_stream(CU_STREAM_NON_BLOCKING);
	uint64_t d = new_alloc(4096);
	CUstreamAttrValue v;
	memset(&v, 0, sizeof(v));
	v.syncPolicy = CU_SYNC_POLICY_YIELD;
	cr_expect_eq(sattr(s, VGPU_SATTR_SET,
			   CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY, 0, &v),
		     CUDA_SUCCESS);
	cr_expect_eq(sattr(t, VGPU_SATTR_COPY, 0, s, &v), CUDA_SUCCESS);
	memset(&v, 0, sizeof(v));
	cr_expect_eq(sattr(t, VGPU_SATTR_GET,
			   CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY, 0, &v),
		     CUDA_SUCCESS);
	cr_expect_eq(v.syncPolicy, CU_SYNC_POLICY_YIELD, "copied");
	/* a window must lie inside the caller's memory */
	memset(&v, 0, sizeof(v));
	v.accessPolicyWindow.base_ptr = (void *)(uintptr_t)d;
	v.accessPolicyWindow.num_bytes = 4096;
	v.accessPolicyWindow.hitRatio = 0.5f;
	cr_expect_eq(sattr(s, VGPU_SATTR_SET,
			   CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, 0, &v),
		     CUDA_SUCCESS);
	v.accessPolicyWindow.num_bytes = 4097;
	cr_expect_eq(sattr(s, VGPU_SATTR_SET,
			   CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, 0, &v),
		     CUDA_ERROR_INVALID_VALUE);
	v.accessPolicyWindow.base_ptr = (void *)(uintptr_t)0x1000;
	v.accessPolicyWindow.num_bytes = 16;
	cr_expect_eq(sattr(s, VGPU_SATTR_SET,
			   CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW, 0, &v),
		     CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(sattr(12345, VGPU_SATTR_GET,
			   CU_STREAM_ATTRIBUTE_PRIORITY, 0, &v),
		     CUDA_ERROR_INVALID_HANDLE);
	cr_expect_eq(sattr(t, VGPU_SATTR_COPY, 0, 12345, &v),
		     CUDA_ERROR_INVALID_HANDLE);
	cr_expect_eq(sattr(s, 9, 0, 0, &v), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(sattr(s, VGPU_SATTR_GET, CU_LAUNCH_ATTRIBUTE_COOPERATIVE, 0,
			   &v), CUDA_ERROR_INVALID_VALUE, "not a stream's");
	uint8_t shorter[8] = {0};
	cr_expect_eq(request(VGPU_CU_STREAM_ATTR, 0, shorter, sizeof(shorter),
			     NULL, 0), CUDA_ERROR_INVALID_VALUE);
}

Test(stream_worker, context_ids_loading_and_cluster_sizes)
{
	struct vgpu_cu_args a = {{VGPU_SCTL_CTX_ID, W.ctx_id}};
	cr_expect_eq(args_op(VGPU_CU_STREAM_CTL, &a), CUDA_SUCCESS);
	cr_expect_eq(a.a[0], 1u);
	a = (struct vgpu_cu_args){{VGPU_SCTL_CTX_ID, W.ctx_id ^ (1ull << 40)}};
	cr_expect_eq(args_op(VGPU_CU_STREAM_CTL, &a), CUDA_ERROR_INVALID_CONTEXT);
	a = (struct vgpu_cu_args){{0}};
	cr_expect_eq(call("cuCtxResetPersistingL2Cache", &a), CUDA_SUCCESS);
	uint64_t fn = fill_function();
	a = (struct vgpu_cu_args){{VGPU_FCTL_LOAD, fn}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{VGPU_FCTL_IS_LOADED, fn}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_SUCCESS);
	cr_expect_eq(a.a[0], CU_FUNCTION_LOADING_STATE_LOADED);
	a = (struct vgpu_cu_args){{VGPU_FCTL_IS_LOADED, 77}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_HANDLE);
	a = (struct vgpu_cu_args){{VGPU_FCTL_OCC_CLUSTER_SIZE, fn, 128, 1, 1, 0}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_SUCCESS);
	cr_expect_eq(a.a[0], 8u, "portable maximum");
	a = (struct vgpu_cu_args){{VGPU_FCTL_OCC_CLUSTER_SIZE, fn, 1ull << 32, 1,
				   1, 0}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{VGPU_FCTL_OCC_CLUSTER_SIZE, fn, 2048, 1, 1, 0}};
	cr_expect_eq(args_op(VGPU_CU_FUNC_CTL, &a), CUDA_ERROR_INVALID_VALUE,
		     "more threads than a block may have");
}
