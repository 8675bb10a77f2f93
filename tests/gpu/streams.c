/* tests/gpu/streams.c - streams, events, host callbacks, stream memory
 * operations, launch variants and occupancy, natively or through vgpu.
 *
 * Usage: streams KERNELS.cubin|.fatbin|.ptx [--hang|--vgpu-hostile]
 *
 * A plain driver-API program (linked with -lcuda). Each check prints
 * "ok NAME" or "FAIL NAME: why"; results that must be bit-identical
 * between a native and a remoted run print "digest NAME HEX". Nothing here
 * depends on timing to pass: where a check could only fail by a race
 * (a callback not blocking its stream), a slow callback makes the race
 * likely, never needed.
 *  stream_props     priorities (range, clamping), flags, context, device,
 *                   distinct ids, the per-thread default stream's.
 *  stream_attrs     synchronisation policy and priority set, read, copied.
 *  ctx_settings     limits, cache configuration, flags, API version.
 *  ctx_stack        a thread's context stack: push, pop, set; calls on
 *                   a thread without a current context refuse.
 *  event_flags      record with flags, DISABLE_TIMING, BLOCKING_SYNC.
 *  ordering         a chain of kernels over 4 streams joined by events:
 *                   each link's checksum must see exactly its own fill.
 *  per_thread       two threads on CU_STREAM_PER_THREAD and the _ptsz
 *                   entry points from cuGetProcAddress.
 *  callbacks_order  200 host calls (cuLaunchHostFunc and
 *                   cuStreamAddCallback) between kernels on 3 streams run
 *                   in each stream's order, with status CUDA_SUCCESS.
 *  callbacks_block  work after a slow host call waits for its return.
 *  callback_calls_driver  a callback calling the driver returns.
 *  callbacks_fork   (--vgpu-hostile only: natively the child's exit
 *                   crashes in the driver) fork() with the completion
 *                   thread running: the child exits cleanly, the
 *                   parent's host calls still run.
 *  memops           WriteValue/WaitValue 32/64, BatchMemOp, EQ/AND/NOR.
 *  waitvalue_two_threads  a cuStreamSynchronize on a stream waiting for a
 *                   value that another thread writes later returns.
 *  launch_variants  cuLaunchKernelEx with priority, cluster, cooperative
 *                   attributes; cuLaunchCooperativeKernel; the errors
 *                   returned at once (bad dimensions, shared memory,
 *                   cluster not tiling the grid, grid too large to be
 *                   cooperative, unknown attribute).
 *  big_params       a 32000-byte parameter in both forms.
 *  functions        name, cache preference, attributes, the dynamic shared
 *                   memory opt-in honoured by launches.
 *  occupancy        blocks per SM, potential block size (with a guest
 *                   callback for shared memory), available shared memory,
 *                   clusters: each answer consistent with the limits and
 *                   with the others.
 * The last line is "streams: N passed, N failed". Probes that pass NULL
 * for an answer the real driver writes without checking live in
 * --vgpu-hostile (vgpu only: natively they crash).
 */
#include "digest.h"
#include "check.h"
#include "file.h"
#include <cudaTypedefs.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static CUmodule mod;
static CUcontext ctx;
static CUfunction f_fill, f_sum;

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* vgpu_fill_u32(p, v, n) on s. */
static CUresult fill(CUstream s, CUdeviceptr p, unsigned v,
		     unsigned long long n)
{
	void *a[] = {&p, &v, &n};
	return cuLaunchKernel(f_fill, 16, 1, 1, 128, 1, 1, 0, s, a, NULL);
}

/* *out += checksum of n bytes at p, on s (caller zeroes *out). */
static CUresult sum(CUstream s, CUdeviceptr p, unsigned long long n,
		    CUdeviceptr out)
{
	void *a[] = {&p, &n, &out};
	return cuLaunchKernel(f_sum, 8, 1, 1, 128, 1, 1, 0, s, a, NULL);
}

/* The checksum vgpu_checksum gives for n bytes of words all equal to v. */
static unsigned long long want_sum(unsigned v, unsigned long long n)
{
	unsigned long long s = 0;
	for (unsigned long long i = 0; i < n; i++)
		s += (unsigned long long)((v >> (8 * (i % 4))) & 0xff) * (i + 1);
	return s;
}

/* ---- stream and context properties ---------------------------------- */

static void check_stream_props(void)
{
	struct check c = {.name = "stream_props"};
	int least = 1, greatest = 1, p = 99;
	unsigned flags = 99;
	unsigned long long id1 = 0, id2 = 0, id0 = 0;
	CUstream hi, lo, nb;
	CUcontext sc = NULL;
	CUdevice d = -1;
	EXPECT_OK(&c, cuCtxGetStreamPriorityRange(&least, &greatest));
	EXPECT_OK(&c, cuCtxGetStreamPriorityRange(NULL, &greatest));
	if (greatest > least)
		check_fail(&c, "priority range %d..%d", least, greatest);
	EXPECT_OK(&c, cuStreamCreateWithPriority(&hi, 0, greatest - 10));
	EXPECT_OK(&c, cuStreamCreateWithPriority(&lo, CU_STREAM_NON_BLOCKING,
						 least + 10));
	EXPECT_OK(&c, cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));
	if (EXPECT_OK(&c, cuStreamGetPriority(hi, &p)) && p != greatest)
		check_fail(&c, "clamped high priority %d, want %d", p, greatest);
	if (EXPECT_OK(&c, cuStreamGetPriority(lo, &p)) && p != least)
		check_fail(&c, "clamped low priority %d, want %d", p, least);
	if (EXPECT_OK(&c, cuStreamGetFlags(lo, &flags)) &&
	    flags != CU_STREAM_NON_BLOCKING)
		check_fail(&c, "flags %u, want NON_BLOCKING", flags);
	if (EXPECT_OK(&c, cuStreamGetFlags(hi, &flags)) && flags != 0)
		check_fail(&c, "flags %u, want 0", flags);
	if (EXPECT_OK(&c, cuStreamGetCtx(nb, &sc)) && sc != ctx)
		check_fail(&c, "stream's context is not the current one");
	if (EXPECT_OK(&c, cuStreamGetDevice(nb, &d)) && d != 0)
		check_fail(&c, "stream's device %d", d);
	EXPECT_OK(&c, cuStreamGetId(hi, &id1));
	EXPECT_OK(&c, cuStreamGetId(lo, &id2));
	EXPECT_OK(&c, cuStreamGetId(CU_STREAM_PER_THREAD, &id0));
	if (id1 == id2 || id1 == id0)
		check_fail(&c, "stream ids not distinct: %llu %llu %llu", id1,
			   id2, id0);
	EXPECT_OK(&c, cuStreamGetPriority(CU_STREAM_LEGACY, &p));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuStreamGetPriority(hi, NULL));
	EXPECT_OK(&c, cuStreamDestroy(hi));
	EXPECT_OK(&c, cuStreamDestroy(lo));
	EXPECT_OK(&c, cuStreamDestroy(nb));
	check_end(&c);
	printf("digest priority_range %d %d\n", least, greatest);
}

static void check_stream_attrs(void)
{
	struct check c = {.name = "stream_attrs"};
	CUstream a, b;
	CUstreamAttrValue v;
	int least = 0, greatest = 0, p = 99;
	EXPECT_OK(&c, cuCtxGetStreamPriorityRange(&least, &greatest));
	EXPECT_OK(&c, cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
	EXPECT_OK(&c, cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
	memset(&v, 0, sizeof(v));
	v.syncPolicy = CU_SYNC_POLICY_SPIN;
	EXPECT_OK(&c, cuStreamSetAttribute(
			      a, CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY, &v));
	memset(&v, 0, sizeof(v));
	v.priority = greatest;
	EXPECT_OK(&c, cuStreamSetAttribute(a, CU_STREAM_ATTRIBUTE_PRIORITY, &v));
	memset(&v, 0, sizeof(v));
	if (EXPECT_OK(&c, cuStreamGetAttribute(
				  a, CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY,
				  &v)) && v.syncPolicy != CU_SYNC_POLICY_SPIN)
		check_fail(&c, "sync policy %d after SPIN", v.syncPolicy);
	EXPECT_OK(&c, cuStreamCopyAttributes(b, a));
	memset(&v, 0, sizeof(v));
	if (EXPECT_OK(&c, cuStreamGetAttribute(
				  b, CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY,
				  &v)) && v.syncPolicy != CU_SYNC_POLICY_SPIN)
		check_fail(&c, "copied sync policy %d", v.syncPolicy);
	if (EXPECT_OK(&c, cuStreamGetPriority(a, &p)) && p != greatest)
		check_fail(&c, "priority %d after setting %d", p, greatest);
	EXPECT_OK(&c, cuStreamDestroy(a));
	EXPECT_OK(&c, cuStreamDestroy(b));
	check_end(&c);
}

static void check_ctx_settings(void)
{
	struct check c = {.name = "ctx_settings"};
	size_t v = 0, old = 0;
	CUfunc_cache cc = CU_FUNC_CACHE_PREFER_EQUAL;
	unsigned f = 0, ver = 0;
	EXPECT_OK(&c, cuCtxGetLimit(&old, CU_LIMIT_STACK_SIZE));
	EXPECT_OK(&c, cuCtxSetLimit(CU_LIMIT_STACK_SIZE, 4096));
	if (EXPECT_OK(&c, cuCtxGetLimit(&v, CU_LIMIT_STACK_SIZE)) && v < 4096)
		check_fail(&c, "stack size %zu after setting 4096", v);
	EXPECT_OK(&c, cuCtxSetLimit(CU_LIMIT_STACK_SIZE, old));
	EXPECT_OK(&c, cuCtxGetLimit(&v, CU_LIMIT_MALLOC_HEAP_SIZE));
	EXPECT_OK(&c, cuCtxSetCacheConfig(CU_FUNC_CACHE_PREFER_SHARED));
	if (EXPECT_OK(&c, cuCtxGetCacheConfig(&cc)) &&
	    cc != CU_FUNC_CACHE_PREFER_SHARED)
		check_fail(&c, "cache config %d after PREFER_SHARED", cc);
	EXPECT_OK(&c, cuCtxSetCacheConfig(CU_FUNC_CACHE_PREFER_NONE));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuCtxSetCacheConfig((CUfunc_cache)77));
	EXPECT_OK(&c, cuCtxGetFlags(&f));
	if (EXPECT_OK(&c, cuCtxGetApiVersion(NULL, &ver)) && ver < 3020)
		check_fail(&c, "API version %u", ver);
	EXPECT_OK(&c, cuCtxGetApiVersion(ctx, &ver));
	CUdevice d = -1;
	unsigned long long id = 0, id2 = 0;
	if (EXPECT_OK(&c, cuCtxGetDevice_v2(&d, NULL)) && d != 0)
		check_fail(&c, "cuCtxGetDevice_v2: device %d", d);
	EXPECT_OK(&c, cuCtxGetDevice_v2(&d, ctx));
	EXPECT_OK(&c, cuCtxGetId(NULL, &id));
	EXPECT_OK(&c, cuCtxGetId(ctx, &id2));
	if (!id || id != id2)
		check_fail(&c, "context ids %llu %llu", id, id2);
	EXPECT_OK(&c, cuCtxSynchronize_v2(ctx));
	EXPECT_OK(&c, cuCtxResetPersistingL2Cache());
	/* the v1 ABI of cuStreamDestroy, as a CUDA 3.2 caller gets it */
	CUresult (*destroy_v1)(CUstream) = NULL;
	CUstream s1;
	EXPECT_OK(&c, cuGetProcAddress("cuStreamDestroy", (void **)&destroy_v1,
				       3020, 0, NULL));
	EXPECT_OK(&c, cuStreamCreate(&s1, 0));
	if (destroy_v1)
		EXPECT_OK(&c, destroy_v1(s1));
	else
		check_fail(&c, "no cuStreamDestroy for CUDA 3.2");
	check_end(&c);
	printf("digest ctx_settings %u %zu\n", ver, old);
}

/* A fresh thread's context stack: push, pop, set (replaces the top;
 * NULL pops), as natively. */
static void *ctx_stack_thread(void *p)
{
	struct check *c = p;
	CUcontext cur = (CUcontext)1, popped = NULL;
	EXPECT_OK(c, cuCtxGetCurrent(&cur));
	if (cur)
		check_fail(c, "a new thread has a current context");
	EXPECT(c, CUDA_ERROR_INVALID_CONTEXT, cuCtxPopCurrent(&popped));
	EXPECT_OK(c, cuCtxPushCurrent(ctx));
	EXPECT_OK(c, cuCtxPushCurrent(ctx));
	EXPECT_OK(c, cuCtxPopCurrent(&popped));
	EXPECT_OK(c, cuCtxGetCurrent(&cur));
	if (popped != ctx || cur != ctx)
		check_fail(c, "after push, push, pop: current %p", (void *)cur);
	EXPECT_OK(c, cuCtxPopCurrent(NULL));
	EXPECT_OK(c, cuCtxGetCurrent(&cur));
	if (cur)
		check_fail(c, "after popping everything: current %p", (void *)cur);
	EXPECT_OK(c, cuCtxSetCurrent(ctx));
	EXPECT_OK(c, cuCtxGetCurrent(&cur));
	if (cur != ctx)
		check_fail(c, "set on an empty stack did not make it current");
	EXPECT_OK(c, cuCtxSetCurrent(NULL));
	EXPECT_OK(c, cuCtxGetCurrent(&cur));
	if (cur)
		check_fail(c, "set NULL did not pop");
	EXPECT(c, CUDA_ERROR_INVALID_CONTEXT, cuCtxPopCurrent(&popped));
	EXPECT_OK(c, cuCtxSetCurrent(NULL)); /* a no-op on an empty stack */
	int least = 0, greatest = 0;
	CUdeviceptr d;
	EXPECT(c, CUDA_ERROR_INVALID_CONTEXT,
	       cuCtxGetStreamPriorityRange(&least, &greatest));
	/* no current context: the default stream and allocations refuse */
	EXPECT(c, CUDA_ERROR_INVALID_CONTEXT,
	       cuStreamSynchronize(CU_STREAM_LEGACY));
	EXPECT(c, CUDA_ERROR_INVALID_CONTEXT, cuMemAlloc(&d, 64));
	EXPECT_OK(c, cuCtxPushCurrent(ctx));
	EXPECT_OK(c, cuStreamSynchronize(CU_STREAM_LEGACY));
	if (EXPECT_OK(c, cuMemAlloc(&d, 64)))
		EXPECT_OK(c, cuMemFree(d));
	EXPECT_OK(c, cuCtxPopCurrent(NULL));
	EXPECT(c, CUDA_ERROR_INVALID_CONTEXT,
	       cuStreamSynchronize(CU_STREAM_PER_THREAD));
	/* a context named explicitly needs none current */
	CUdevice dv;
	EXPECT_OK(c, cuCtxSynchronize_v2(ctx));
	EXPECT_OK(c, cuCtxGetDevice_v2(&dv, ctx));
	EXPECT(c, CUDA_ERROR_INVALID_CONTEXT, cuCtxGetDevice_v2(&dv, NULL));
	EXPECT_OK(c, cuCtxGetCurrent(&cur));
	if (cur)
		check_fail(c, "cuCtxSynchronize_v2 left a context current");
	return NULL;
}

static void check_ctx_stack(void)
{
	struct check c = {.name = "ctx_stack"};
	pthread_t t;
	pthread_create(&t, NULL, ctx_stack_thread, &c);
	pthread_join(t, NULL);
	check_end(&c);
}

static void check_event_flags(void)
{
	struct check c = {.name = "event_flags"};
	CUevent nt, bs, t0;
	CUstream s;
	float ms = -1;
	EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	EXPECT_OK(&c, cuEventCreate(&nt, CU_EVENT_DISABLE_TIMING));
	EXPECT_OK(&c, cuEventCreate(&bs, CU_EVENT_BLOCKING_SYNC));
	EXPECT_OK(&c, cuEventCreate(&t0, CU_EVENT_DEFAULT));
	EXPECT_OK(&c, cuEventRecordWithFlags(t0, s, CU_EVENT_RECORD_DEFAULT));
	EXPECT_OK(&c, cuEventRecordWithFlags(nt, s, 0));
	EXPECT_OK(&c, cuEventRecord(bs, s));
	EXPECT_OK(&c, cuEventSynchronize(bs));
	EXPECT_OK(&c, cuEventQuery(nt));
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, cuEventElapsedTime(&ms, t0, nt));
	if (EXPECT_OK(&c, cuEventElapsedTime(&ms, t0, bs)) && ms < 0)
		check_fail(&c, "negative elapsed time %f", (double)ms);
	EXPECT_OK(&c, cuEventDestroy(nt));
	EXPECT_OK(&c, cuEventDestroy(bs));
	EXPECT_OK(&c, cuEventDestroy(t0));
	EXPECT_OK(&c, cuStreamDestroy(s));
	check_end(&c);
}

/* ---- ordering under the sim's random delays ---------------------------- */

enum { LINKS = 48, NWORDS = 4096 };

static void check_ordering(void)
{
	struct check c = {.name = "ordering"};
	CUstream s[4];
	CUevent e[LINKS];
	CUdeviceptr buf, sums;
	unsigned long long got[LINKS];
	for (int i = 0; i < 4; i++)
		EXPECT_OK(&c, cuStreamCreate(&s[i], CU_STREAM_NON_BLOCKING));
	EXPECT_OK(&c, cuMemAlloc(&buf, NWORDS * 4));
	EXPECT_OK(&c, cuMemAlloc(&sums, sizeof(got)));
	EXPECT_OK(&c, cuMemsetD8(sums, 0, sizeof(got)));
	/* cuMemsetD8 may return before it ran; non-blocking streams
	 * do not wait for the legacy stream */
	EXPECT_OK(&c, cuCtxSynchronize());
	for (int i = 0; i < LINKS && !c.bad; i++) {
		CUstream x = s[i % 4];
		EXPECT_OK(&c, cuEventCreate(&e[i], CU_EVENT_DISABLE_TIMING));
		if (i)
			EXPECT_OK(&c, cuStreamWaitEvent(x, e[i - 1], 0));
		EXPECT_OK(&c, fill(x, buf, 0x01010101u * (unsigned)(i + 1),
				   NWORDS));
		EXPECT_OK(&c, sum(x, buf, NWORDS * 4, sums + 8 * i));
		EXPECT_OK(&c, cuEventRecord(e[i], x));
	}
	EXPECT_OK(&c, cuEventSynchronize(e[LINKS - 1]));
	EXPECT_OK(&c, cuMemcpyDtoH(got, sums, sizeof(got)));
	for (int i = 0; i < LINKS && !c.bad; i++)
		if (got[i] != want_sum(0x01010101u * (unsigned)(i + 1),
				       NWORDS * 4))
			check_fail(&c, "link %d saw another link's fill", i);
	for (int i = 0; i < LINKS; i++)
		cuEventDestroy(e[i]);
	for (int i = 0; i < 4; i++)
		EXPECT_OK(&c, cuStreamDestroy(s[i]));
	cuMemFree(buf);
	cuMemFree(sums);
	check_end(&c);
	digest("ordering", got, sizeof(got));
}

/* ---- the per-thread default stream ------------------------------------ */

struct pt_arg {
	unsigned v;
	CUdeviceptr buf;
	unsigned got[NWORDS];
	struct check c;
};

static void *pt_thread(void *p)
{
	struct pt_arg *a = p;
	EXPECT_OK(&a->c, cuCtxSetCurrent(ctx));
	for (int i = 1; i <= 8; i++)
		EXPECT_OK(&a->c, fill(CU_STREAM_PER_THREAD, a->buf, a->v * i,
				      NWORDS));
	EXPECT_OK(&a->c, cuMemcpyDtoHAsync(a->got, a->buf, sizeof(a->got),
					   CU_STREAM_PER_THREAD));
	EXPECT_OK(&a->c, cuStreamSynchronize(CU_STREAM_PER_THREAD));
	for (int i = 0; i < NWORDS && !a->c.bad; i++)
		if (a->got[i] != a->v * 8)
			check_fail(&a->c, "word %d = %u, want %u", i,
				   a->got[i], a->v * 8);
	return NULL;
}

static void check_per_thread(void)
{
	struct check c = {.name = "per_thread"};
	static struct pt_arg a[2];
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		a[i] = (struct pt_arg){.v = 3u + (unsigned)i,
				       .c = {.name = "per_thread"}};
		EXPECT_OK(&c, cuMemAlloc(&a[i].buf, NWORDS * 4));
		pthread_create(&t[i], NULL, pt_thread, &a[i]);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		if (a[i].c.bad)
			check_fail(&c, "thread %d: %s", i, a[i].c.why);
	}
	/* the _ptsz entry points: stream 0 is this thread's stream */
	PFN_cuLaunchKernel_v7000_ptsz launch = NULL;
	PFN_cuStreamSynchronize_v7000_ptsz sync = NULL;
	CUdriverProcAddressQueryResult q;
	unsigned got[4] = {0};
	EXPECT_OK(&c, cuGetProcAddress("cuLaunchKernel", (void **)&launch,
				       13000,
				       CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
				       &q));
	EXPECT_OK(&c, cuGetProcAddress("cuStreamSynchronize", (void **)&sync,
				       13000,
				       CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
				       &q));
	if (launch && sync) {
		CUdeviceptr p = a[0].buf;
		unsigned v = 0xabcdef01u;
		unsigned long long n = 4;
		void *args[] = {&p, &v, &n};
		EXPECT_OK(&c, launch(f_fill, 1, 1, 1, 32, 1, 1, 0, NULL, args,
				     NULL));
		EXPECT_OK(&c, sync(NULL));
		EXPECT_OK(&c, cuMemcpyDtoH(got, p, sizeof(got)));
		if (got[3] != v)
			check_fail(&c, "_ptsz launch wrote %x", got[3]);
	} else {
		check_fail(&c, "no _ptsz entry points");
	}
	for (int i = 0; i < 2; i++)
		cuMemFree(a[i].buf);
	check_end(&c);
}

/* ---- host callbacks ----------------------------------------------------- */

enum { NCALLS = 200, NCB_STREAMS = 3 };

struct cb_log {
	pthread_mutex_t mu;
	int order[NCB_STREAMS][NCALLS];
	int n[NCB_STREAMS];
	int bad_status;
};
static struct cb_log cbl = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct cb_tag {
	int stream, seq;
};
static struct cb_tag tags[NCB_STREAMS][NCALLS];

static void log_call(struct cb_tag *t)
{
	pthread_mutex_lock(&cbl.mu);
	cbl.order[t->stream][cbl.n[t->stream]++] = t->seq;
	pthread_mutex_unlock(&cbl.mu);
}

static void host_fn(void *p)
{
	log_call(p);
}

static void CUDA_CB stream_cb(CUstream s, CUresult status, void *p)
{
	(void)s;
	if (status != CUDA_SUCCESS)
		cbl.bad_status++;
	log_call(p);
}

static void check_callbacks_order(void)
{
	struct check c = {.name = "callbacks_order"};
	CUstream s[NCB_STREAMS];
	CUdeviceptr buf;
	EXPECT_OK(&c, cuMemAlloc(&buf, NWORDS * 4 * NCB_STREAMS));
	for (int k = 0; k < NCB_STREAMS; k++)
		EXPECT_OK(&c, cuStreamCreate(&s[k], CU_STREAM_NON_BLOCKING));
	for (int i = 0; i < NCALLS && !c.bad; i++)
		for (int k = 0; k < NCB_STREAMS; k++) {
			tags[k][i] = (struct cb_tag){k, i};
			if (i % 7 == 0)
				EXPECT_OK(&c, fill(s[k], buf + NWORDS * 4 * k,
						   (unsigned)i, NWORDS));
			if (i % 2)
				EXPECT_OK(&c, cuLaunchHostFunc(s[k], host_fn,
							       &tags[k][i]));
			else
				EXPECT_OK(&c, cuStreamAddCallback(
						      s[k], stream_cb,
						      &tags[k][i], 0));
		}
	for (int k = 0; k < NCB_STREAMS; k++)
		EXPECT_OK(&c, cuStreamSynchronize(s[k]));
	for (int k = 0; k < NCB_STREAMS && !c.bad; k++) {
		if (cbl.n[k] != NCALLS)
			check_fail(&c, "stream %d ran %d of %d calls", k,
				   cbl.n[k], NCALLS);
		for (int i = 0; i < cbl.n[k] && !c.bad; i++)
			if (cbl.order[k][i] != i)
				check_fail(&c, "stream %d: call %d ran at %d",
					   k, cbl.order[k][i], i);
	}
	if (cbl.bad_status)
		check_fail(&c, "%d callbacks told an error", cbl.bad_status);
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuStreamAddCallback(s[0], stream_cb, &tags[0][0], 1));
	for (int k = 0; k < NCB_STREAMS; k++)
		EXPECT_OK(&c, cuStreamDestroy(s[k]));
	cuMemFree(buf);
	check_end(&c);
	digest("callbacks_order", cbl.order, sizeof(cbl.order));
}

static _Atomic int slow_done;

static void slow_fn(void *p)
{
	(void)p;
	sleep_ms(100);
	atomic_store(&slow_done, 1);
}

static void check_callbacks_block(void)
{
	struct check c = {.name = "callbacks_block"};
	CUstream s;
	CUevent e;
	CUdeviceptr buf;
	EXPECT_OK(&c, cuMemAlloc(&buf, NWORDS * 4));
	EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	EXPECT_OK(&c, cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
	EXPECT_OK(&c, cuLaunchHostFunc(s, slow_fn, NULL));
	EXPECT_OK(&c, fill(s, buf, 5, NWORDS));
	EXPECT_OK(&c, cuEventRecord(e, s));
	EXPECT_OK(&c, cuEventSynchronize(e));
	if (!atomic_load(&slow_done))
		check_fail(&c, "work after the host call ran before it returned");
	EXPECT_OK(&c, cuStreamDestroy(s));
	EXPECT_OK(&c, cuEventDestroy(e));
	cuMemFree(buf);
	check_end(&c);
}

static _Atomic int inner_called;

static void calls_driver(void *p)
{
	CUdeviceptr d;
	CUresult r = cuMemAlloc(&d, 64);
	if (r == CUDA_SUCCESS)
		cuMemFree(d);
	(void)cuStreamQuery((CUstream)p); /* its own stream: must return */
	atomic_store(&inner_called, 1);
}

static void check_callback_calls_driver(void)
{
	struct check c = {.name = "callback_calls_driver"};
	CUstream s;
	EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	EXPECT_OK(&c, cuLaunchHostFunc(s, calls_driver, s));
	EXPECT_OK(&c, cuStreamSynchronize(s));
	if (!atomic_load(&inner_called))
		check_fail(&c, "the callback did not run");
	EXPECT_OK(&c, cuStreamDestroy(s));
	check_end(&c);
}

/* fork() while the completion thread exists: the child (which has no
 * such thread) exits cleanly, and the parent's host calls still run. */
static void check_callbacks_fork(void)
{
	struct check c = {.name = "callbacks_fork"};
	CUstream s;
	int st = -1;
	atomic_store(&inner_called, 0);
	EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		exit(0); /* atexit handlers run; nothing may hang or crash */
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st))
		check_fail(&c, "the child did not exit cleanly (status %d)", st);
	EXPECT_OK(&c, cuLaunchHostFunc(s, calls_driver, s));
	EXPECT_OK(&c, cuStreamSynchronize(s));
	if (!atomic_load(&inner_called))
		check_fail(&c, "no host call ran after fork()");
	EXPECT_OK(&c, cuStreamDestroy(s));
	check_end(&c);
}

/* ---- stream memory operations ------------------------------------------ */

static void check_memops(void)
{
	struct check c = {.name = "memops"};
	int can64 = 0;
	CUstream s;
	CUdeviceptr d;
	uint64_t h[4] = {0};
	cuDeviceGetAttribute(&can64,
			     CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS,
			     0);
	EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	EXPECT_OK(&c, cuMemAlloc(&d, sizeof(h)));
	EXPECT_OK(&c, cuMemsetD8(d, 0, sizeof(h)));
	/* cuMemsetD8 may return before it ran; non-blocking streams
	 * do not wait for the legacy stream */
	EXPECT_OK(&c, cuCtxSynchronize());
	EXPECT_OK(&c, cuStreamWriteValue32(s, d, 0x11223344u, 0));
	EXPECT_OK(&c, cuStreamWaitValue32(s, d, 0x11223344u,
					  CU_STREAM_WAIT_VALUE_EQ));
	EXPECT_OK(&c, cuStreamWriteValue32(s, d + 4, 5, 0));
	EXPECT_OK(&c, cuStreamWaitValue32(s, d + 4, 3,
					  CU_STREAM_WAIT_VALUE_GEQ));
	EXPECT_OK(&c, cuStreamWaitValue32(s, d + 4, 4,
					  CU_STREAM_WAIT_VALUE_AND));
	EXPECT_OK(&c, cuStreamWaitValue32(s, d + 4, 0xfffffff0u,
					  CU_STREAM_WAIT_VALUE_NOR));
	if (can64) {
		CUstreamBatchMemOpParams ops[3];
		memset(ops, 0, sizeof(ops));
		ops[0].operation = CU_STREAM_MEM_OP_WRITE_VALUE_64;
		ops[0].writeValue.address = d + 8;
		ops[0].writeValue.value64 = 0x0102030405060708ull;
		ops[1].operation = CU_STREAM_MEM_OP_WAIT_VALUE_64;
		ops[1].waitValue.address = d + 8;
		ops[1].waitValue.value64 = 0x0102030405060708ull;
		ops[1].waitValue.flags = CU_STREAM_WAIT_VALUE_EQ;
		ops[2].operation = CU_STREAM_MEM_OP_WRITE_VALUE_64;
		ops[2].writeValue.address = d + 16;
		ops[2].writeValue.value64 = ~0ull;
		EXPECT_OK(&c, cuStreamBatchMemOp(s, 3, ops, 0));
		EXPECT_OK(&c, cuStreamWriteValue64(s, d + 24, 42, 0));
		EXPECT_OK(&c, cuStreamWaitValue64(s, d + 24, 40,
						  CU_STREAM_WAIT_VALUE_GEQ));
	}
	EXPECT_OK(&c, cuStreamSynchronize(s));
	EXPECT_OK(&c, cuMemcpyDtoH(h, d, sizeof(h)));
	uint64_t want[4] = {0x0000000511223344ull, 0x0102030405060708ull, ~0ull,
			    42};
	if (!can64)
		want[1] = want[2] = want[3] = 0;
	if (memcmp(h, want, sizeof(h)))
		check_fail(&c, "memory %llx %llx %llx %llx",
			   (unsigned long long)h[0], (unsigned long long)h[1],
			   (unsigned long long)h[2], (unsigned long long)h[3]);
	EXPECT_OK(&c, cuStreamDestroy(s));
	cuMemFree(d);
	check_end(&c);
	digest("memops", h, sizeof(h));
}

/* Thread A queues a wait for *flag >= 1, then a fill, and synchronises;
 * thread B writes the flag only once A's wait is queued (and seen to be
 * not ready). A's synchronise must return: a remoting layer that ran the
 * process's calls one at a time would never run B's write. */
struct wv {
	CUstream sa, sb;
	CUdeviceptr flag, buf;
	pthread_barrier_t queued;
	struct check ca, cb;
};

static void *waiter(void *p)
{
	struct wv *w = p;
	EXPECT_OK(&w->ca, cuCtxSetCurrent(ctx));
	EXPECT_OK(&w->ca, cuStreamWaitValue32(w->sa, w->flag, 1,
					      CU_STREAM_WAIT_VALUE_GEQ));
	EXPECT_OK(&w->ca, fill(w->sa, w->buf, 0x77, NWORDS));
	EXPECT(&w->ca, CUDA_ERROR_NOT_READY, cuStreamQuery(w->sa));
	pthread_barrier_wait(&w->queued);
	EXPECT_OK(&w->ca, cuStreamSynchronize(w->sa));
	return NULL;
}

static void *writer(void *p)
{
	struct wv *w = p;
	EXPECT_OK(&w->cb, cuCtxSetCurrent(ctx));
	pthread_barrier_wait(&w->queued);
	sleep_ms(20); /* A is (most likely) in its synchronise now */
	EXPECT_OK(&w->cb, cuStreamWriteValue32(w->sb, w->flag, 1, 0));
	EXPECT_OK(&w->cb, cuStreamSynchronize(w->sb));
	return NULL;
}

static void check_waitvalue_two_threads(void)
{
	struct check c = {.name = "waitvalue_two_threads"};
	static struct wv w;
	static unsigned got[NWORDS];
	pthread_t a, b;
	w = (struct wv){.ca = {.name = "A"}, .cb = {.name = "B"}};
	pthread_barrier_init(&w.queued, NULL, 2);
	EXPECT_OK(&c, cuStreamCreate(&w.sa, CU_STREAM_NON_BLOCKING));
	EXPECT_OK(&c, cuStreamCreate(&w.sb, CU_STREAM_NON_BLOCKING));
	EXPECT_OK(&c, cuMemAlloc(&w.flag, 4));
	EXPECT_OK(&c, cuMemAlloc(&w.buf, sizeof(got)));
	EXPECT_OK(&c, cuMemsetD8(w.flag, 0, 4));
	/* cuMemsetD8 may return before it ran; non-blocking streams
	 * do not wait for the legacy stream */
	EXPECT_OK(&c, cuCtxSynchronize());
	pthread_create(&a, NULL, waiter, &w);
	pthread_create(&b, NULL, writer, &w);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	if (w.ca.bad)
		check_fail(&c, "waiter: %s", w.ca.why);
	if (w.cb.bad)
		check_fail(&c, "writer: %s", w.cb.why);
	EXPECT_OK(&c, cuMemcpyDtoH(got, w.buf, sizeof(got)));
	for (int i = 0; i < NWORDS && !c.bad; i++)
		if (got[i] != 0x77)
			check_fail(&c, "word %d = %x after the wait", i, got[i]);
	EXPECT_OK(&c, cuStreamDestroy(w.sa));
	EXPECT_OK(&c, cuStreamDestroy(w.sb));
	cuMemFree(w.flag);
	cuMemFree(w.buf);
	pthread_barrier_destroy(&w.queued);
	check_end(&c);
}

/* ---- launch variants -------------------------------------------------- */

static CUfunction f_big;

static CUresult launch_ex(CUstream s, unsigned grid, CUlaunchAttribute *at,
			  unsigned n, CUdeviceptr p, unsigned v)
{
	unsigned long long words = NWORDS;
	void *a[] = {&p, &v, &words};
	CUlaunchConfig c = {.gridDimX = grid, .gridDimY = 1, .gridDimZ = 1,
			    .blockDimX = 128, .blockDimY = 1, .blockDimZ = 1,
			    .hStream = s, .attrs = at, .numAttrs = n};
	return cuLaunchKernelEx(&c, f_fill, a, NULL);
}

static int all_words(CUdeviceptr p, unsigned v)
{
	static unsigned h[NWORDS];
	if (cuMemcpyDtoH(h, p, sizeof(h)))
		return 0;
	for (int i = 0; i < NWORDS; i++)
		if (h[i] != v)
			return 0;
	return 1;
}

static void check_launch_variants(void)
{
	struct check c = {.name = "launch_variants"};
	CUstream s;
	CUdeviceptr p;
	CUlaunchAttribute at[3];
	memset(at, 0, sizeof(at));
	EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	EXPECT_OK(&c, cuMemAlloc(&p, NWORDS * 4));
	EXPECT_OK(&c, launch_ex(s, 16, NULL, 0, p, 1));
	EXPECT_OK(&c, cuStreamSynchronize(s));
	if (!all_words(p, 1))
		check_fail(&c, "cuLaunchKernelEx without attributes");
	at[0].id = CU_LAUNCH_ATTRIBUTE_PRIORITY;
	at[0].value.priority = -1;
	at[1].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
	at[1].value.clusterDim.x = 2;
	at[1].value.clusterDim.y = 1;
	at[1].value.clusterDim.z = 1;
	at[2].id = CU_LAUNCH_ATTRIBUTE_IGNORE;
	EXPECT_OK(&c, launch_ex(s, 16, at, 3, p, 2));
	EXPECT_OK(&c, cuStreamSynchronize(s));
	if (!all_words(p, 2))
		check_fail(&c, "cuLaunchKernelEx with priority and cluster");
	EXPECT(&c, CUDA_ERROR_INVALID_CLUSTER_SIZE,
	       launch_ex(s, 15, &at[1], 1, p, 3));
	at[2].id = (CUlaunchAttributeID)99;
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, launch_ex(s, 16, &at[2], 1, p, 3));
	at[0].id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
	at[0].value.cooperative = 1;
	EXPECT_OK(&c, launch_ex(s, 8, at, 1, p, 4));
	EXPECT(&c, CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE,
	       launch_ex(s, 1000000, at, 1, p, 5));
	EXPECT_OK(&c, cuStreamSynchronize(s));
	if (!all_words(p, 4))
		check_fail(&c, "cooperative cuLaunchKernelEx");
	unsigned v = 6;
	unsigned long long words = NWORDS;
	void *a[] = {&p, &v, &words};
	EXPECT_OK(&c, cuLaunchCooperativeKernel(f_fill, 4, 1, 1, 128, 1, 1, 0,
						s, a));
	EXPECT_OK(&c, cuStreamSynchronize(s));
	if (!all_words(p, 6))
		check_fail(&c, "cuLaunchCooperativeKernel");
	/* configuration errors, at once */
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuLaunchKernel(f_fill, 1, 1, 1, 1025, 1, 1, 0, s, a, NULL));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuLaunchKernel(f_fill, 1, 1, 1, 1, 1, 65, 0, s, a, NULL));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuLaunchKernel(f_fill, 1, 70000, 1, 32, 1, 1, 0, s, a, NULL));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuLaunchKernel(f_fill, 1, 1, 1, 32, 1, 1, 64 << 10, s, a, NULL));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuLaunchKernel(f_fill, 0, 1, 1, 32, 1, 1, 0, s, a, NULL));
	EXPECT_OK(&c, cuStreamDestroy(s));
	cuMemFree(p);
	check_end(&c);
}

/* A 32000-byte parameter: both forms, cuLaunchKernel and Ex. */
static void check_big_params(void)
{
	struct check c = {.name = "big_params"};
	enum { W = 8000 };
	static unsigned in[W], out[W];
	CUdeviceptr p;
	for (int i = 0; i < W; i++)
		in[i] = (unsigned)i * 2654435761u;
	EXPECT_OK(&c, cuMemAlloc(&p, sizeof(out)));
	EXPECT_OK(&c, cuMemsetD8(p, 0, sizeof(out)));
	void *a[] = {in, &p};
	EXPECT_OK(&c, cuLaunchKernel(f_big, 8, 1, 1, 128, 1, 1, 0, 0, a, NULL));
	EXPECT_OK(&c, cuMemcpyDtoH(out, p, sizeof(out)));
	if (memcmp(in, out, sizeof(in)))
		check_fail(&c, "kernelParams form: the parameter arrived wrong");
	digest("big_params", out, sizeof(out));
	static struct {
		unsigned w[W];
		CUdeviceptr p;
	} packed;
	for (int i = 0; i < W; i++)
		packed.w[i] = (unsigned)i ^ 0x5a5a5a5au;
	packed.p = p;
	size_t size = sizeof(packed);
	void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &packed,
			 CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
	CUlaunchConfig cfg = {.gridDimX = 4, .gridDimY = 1, .gridDimZ = 1,
			      .blockDimX = 256, .blockDimY = 1, .blockDimZ = 1};
	EXPECT_OK(&c, cuLaunchKernelEx(&cfg, f_big, NULL, extra));
	EXPECT_OK(&c, cuMemcpyDtoH(out, p, sizeof(out)));
	if (memcmp(packed.w, out, sizeof(out)))
		check_fail(&c, "extra form: the parameter arrived wrong");
	cuMemFree(p);
	check_end(&c);
}

/* ---- functions and occupancy ------------------------------------------- */

static _Atomic int b2d_calls;

static size_t CUDA_CB smem_of(int block)
{
	atomic_fetch_add(&b2d_calls, 1);
	return (size_t)block * 48;
}

static int dattr(CUdevice_attribute a)
{
	int v = 0;
	cuDeviceGetAttribute(&v, a, 0);
	return v;
}

static void check_functions(void)
{
	struct check c = {.name = "functions"};
	const char *name = NULL;
	int v = 0;
	CUdeviceptr p;
	CUstream s;
	EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	EXPECT_OK(&c, cuMemAlloc(&p, NWORDS * 4));
	CUfunctionLoadingState ls = CU_FUNCTION_LOADING_STATE_UNLOADED;
	EXPECT_OK(&c, cuFuncLoad(f_fill));
	if (EXPECT_OK(&c, cuFuncIsLoaded(&ls, f_fill)) &&
	    ls != CU_FUNCTION_LOADING_STATE_LOADED)
		check_fail(&c, "not loaded after cuFuncLoad (%d)", ls);
	if (EXPECT_OK(&c, cuFuncGetName(&name, f_fill)) &&
	    strcmp(name, "vgpu_fill_u32"))
		check_fail(&c, "name %s", name);
	EXPECT_OK(&c, cuFuncSetCacheConfig(f_fill, CU_FUNC_CACHE_PREFER_L1));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuFuncSetAttribute(f_fill, CU_FUNC_ATTRIBUTE_NUM_REGS, 8));
	if (EXPECT_OK(&c, cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS,
					     f_fill)) && v <= 0)
		check_fail(&c, "%d registers", v);
	/* opt in to 100 KiB of dynamic shared memory, then launch with it */
	unsigned val = 11;
	unsigned long long words = NWORDS;
	void *a[] = {&p, &val, &words};
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuLaunchKernel(f_fill, 4, 1, 1, 128, 1, 1, 100 << 10, s, a, NULL));
	EXPECT_OK(&c, cuFuncSetAttribute(
			      f_fill, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
			      100 << 10));
	if (EXPECT_OK(&c, cuFuncGetAttribute(
				  &v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
				  f_fill)) && v != 100 << 10)
		check_fail(&c, "max dynamic shared %d after setting 100 KiB", v);
	EXPECT_OK(&c, cuLaunchKernel(f_fill, 4, 1, 1, 128, 1, 1, 100 << 10, s,
				     a, NULL));
	EXPECT_OK(&c, cuStreamSynchronize(s));
	if (!all_words(p, 11))
		check_fail(&c, "launch with 100 KiB of dynamic shared memory");
	EXPECT_OK(&c, cuFuncSetAttribute(
			      f_fill, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
			      0));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuLaunchKernel(f_fill, 4, 1, 1, 128, 1, 1, 16, s, a, NULL));
	/* back to the default (48 KiB; the kernel has no static shared) */
	EXPECT_OK(&c, cuFuncSetAttribute(
			      f_fill, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
			      48 << 10));
	EXPECT_OK(&c, cuStreamDestroy(s));
	cuMemFree(p);
	check_end(&c);
}

static void check_occupancy(void)
{
	struct check c = {.name = "occupancy"};
	int sms = dattr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
	int sm_threads = dattr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR);
	int sm_blocks = dattr(CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR);
	int sm_smem = dattr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR);
	int n = -1, n2 = -1, grid = -1, bs = -1, grid2 = -1, bs2 = -1, cl = -1;
	size_t dyn = 0;
	EXPECT_OK(&c, cuOccupancyMaxActiveBlocksPerMultiprocessor(&n, f_fill,
								  128, 0));
	if (n <= 0 || n > sm_blocks || n * 128 > sm_threads)
		check_fail(&c, "%d blocks of 128 threads per SM", n);
	EXPECT_OK(&c, cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
			      &n2, f_fill, 128, 40 << 10,
			      CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE));
	if (n2 < 0 || n2 > n || (size_t)n2 * (40 << 10) > (size_t)sm_smem)
		check_fail(&c, "%d blocks with 40 KiB each", n2);
	EXPECT_OK(&c, cuOccupancyMaxPotentialBlockSize(&grid, &bs, f_fill, NULL,
						       0, 0));
	int at_bs = -1;
	EXPECT_OK(&c, cuOccupancyMaxActiveBlocksPerMultiprocessor(&at_bs, f_fill,
								  bs, 0));
	if (bs <= 0 || bs > 1024 || bs % 32 || grid != at_bs * sms)
		check_fail(&c, "potential block %d, grid %d (%d per SM)", bs,
			   grid, at_bs);
	EXPECT_OK(&c, cuOccupancyMaxPotentialBlockSize(&grid2, &bs2, f_fill,
						       smem_of, 0, 200));
	EXPECT_OK(&c, cuOccupancyMaxActiveBlocksPerMultiprocessor(
			      &at_bs, f_fill, bs2, smem_of(bs2)));
	if (!atomic_load(&b2d_calls) || bs2 <= 0 || bs2 > 200 ||
	    grid2 != at_bs * sms)
		check_fail(&c, "with a callback: block %d, grid %d", bs2, grid2);
	EXPECT_OK(&c, cuOccupancyAvailableDynamicSMemPerBlock(&dyn, f_fill, 2,
							      128));
	/* The real driver's answer is the SM's shared memory (in the carveout
	 * the function's cache preference picks: PREFER_L1 from "functions"
	 * gives 8 KiB on an H200, and the answer 4096) divided among the
	 * blocks, without the per-block reservation that
	 * cuOccupancyMaxActiveBlocks counts: so two blocks fit once that
	 * reservation is taken off. The answer may also exceed what the
	 * function may use without opting in; within that, two must fit. */
	int fmax = 0;
	int reserved = dattr(CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK);
	EXPECT_OK(&c, cuFuncGetAttribute(
			      &fmax, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
			      f_fill));
	size_t usable = dyn > (size_t)reserved ? dyn - (size_t)reserved : 0;
	EXPECT_OK(&c, cuOccupancyMaxActiveBlocksPerMultiprocessor(
			      &at_bs, f_fill, 128,
			      usable < (size_t)fmax ? usable : (size_t)fmax));
	if (!dyn || 2 * dyn > (size_t)sm_smem || at_bs < 2)
		check_fail(&c, "%zu bytes for 2 blocks, %d fit", dyn, at_bs);
	CUlaunchAttribute at;
	memset(&at, 0, sizeof(at));
	at.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
	at.value.clusterDim.x = 2;
	at.value.clusterDim.y = 1;
	at.value.clusterDim.z = 1;
	CUlaunchConfig cfg = {.gridDimX = 2, .gridDimY = 1, .gridDimZ = 1,
			      .blockDimX = 128, .blockDimY = 1, .blockDimZ = 1,
			      .attrs = &at, .numAttrs = 1};
	EXPECT_OK(&c, cuOccupancyMaxActiveClusters(&cl, f_fill, &cfg));
	if (cl <= 0 || cl * 2 > n * sms)
		check_fail(&c, "%d clusters of 2", cl);
	int csize = -1;
	cfg.attrs = NULL;
	cfg.numAttrs = 0;
	EXPECT_OK(&c, cuOccupancyMaxPotentialClusterSize(&csize, f_fill, &cfg));
	if (csize < 1 || csize > 16)
		check_fail(&c, "potential cluster size %d", csize);
	check_end(&c);
	printf("digest occupancy %d %d %d %d %d %d %d %zu %d %d\n", n, n2,
	       grid, bs, grid2, bs2, at_bs, dyn, cl, csize);
}

/* --vgpu-hostile: NULL where the driver writes its answer. The real driver
 * does not check these (cuStreamGetAttribute(.., NULL) crashes natively),
 * so they cannot be compared with a native run; through vgpu the guest
 * library must refuse them, not crash. */
static int hostile(void)
{
	struct check c = {.name = "vgpu_hostile_null"};
	CUstream s;
	EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuStreamGetAttribute(s, CU_STREAM_ATTRIBUTE_PRIORITY, NULL));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuCtxGetLimit(NULL, CU_LIMIT_STACK_SIZE));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuLaunchHostFunc(s, NULL, NULL));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuFuncGetName(NULL, f_fill));
	EXPECT_OK(&c, cuStreamDestroy(s));
	check_end(&c);
	/* natively a forked child's exit crashes inside the driver (SIGSEGV,
	 * measured on an H100, driver 580): ours must exit cleanly */
	check_callbacks_fork();
	return check_summary("streams --vgpu-hostile");
}

/* --hang: a stream waits for a value nothing will write, and this thread
 * synchronises on it for ever (tests/integration/run.sh kills the process
 * and checks that its worker still goes). */
static int hang(void)
{
	CUdeviceptr flag;
	CUstream s;
	if (cuMemAlloc(&flag, 4) || cuMemsetD8(flag, 0, 4) ||
	    cuCtxSynchronize() || cuStreamCreate(&s, CU_STREAM_NON_BLOCKING) ||
	    cuStreamWaitValue32(s, flag, 1, CU_STREAM_WAIT_VALUE_GEQ))
		return 1;
	printf("waiting\n");
	return cuStreamSynchronize(s) == CUDA_SUCCESS ? 3 : 1;
}

int main(int argc, char **argv)
{
	if (argc != 2 && !(argc == 3 && (!strcmp(argv[2], "--hang") ||
					  !strcmp(argv[2], "--vgpu-hostile")))) {
		fprintf(stderr, "usage: streams KERNELS.cubin|.fatbin|.ptx "
			"[--hang|--vgpu-hostile]\n");
		return 2;
	}
	void *image = read_file(argv[1]);
	CUdevice dev;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!image || cuInit(0) || cuDeviceGet(&dev, 0) ||
	    cuDevicePrimaryCtxRetain(&ctx, dev) || cuCtxSetCurrent(ctx) ||
	    cuModuleLoadData(&mod, image) ||
	    cuModuleGetFunction(&f_fill, mod, "vgpu_fill_u32") ||
	    cuModuleGetFunction(&f_sum, mod, "vgpu_checksum") ||
	    cuModuleGetFunction(&f_big, mod, "vgpu_big_param")) {
		printf("FAIL setup\n");
		return 1;
	}
	if (argc == 3)
		return argv[2][2] == 'h' ? hang() : hostile();
	check_stream_props();
	check_stream_attrs();
	check_ctx_settings();
	check_ctx_stack();
	check_event_flags();
	check_ordering();
	check_per_thread();
	check_callbacks_order();
	check_callbacks_block();
	check_callback_calls_driver();
	check_memops();
	check_waitvalue_two_threads();
	check_launch_variants();
	check_big_params();
	check_functions();
	check_occupancy();
	return check_summary("streams");
}
