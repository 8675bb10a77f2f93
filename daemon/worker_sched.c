/* daemon/worker_sched.c - admission of launches from the VM's tokens, and
 * what the supervisor's scheduler needs to know: busy/idle, the queue.
 * (Contract: worker_sched.h; design: docs/scheduler.md.) */
#define _GNU_SOURCE
#include "worker_sched.h"
#include "../ring/wait.h"
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define POLL_NS 50000   /* completions are seen this late at most */
#define WAIT_NS 1000000 /* a token wait re-checks this often anyway */
#define LINGER_NS 2000000 /* the poller idles this long before it sleeps */
#define NEST 4096       /* estimates kept (by key hash) */
#define NPOOL 4096      /* finished events kept for reuse: a deep queue
			 * of short kernels must not create and destroy
			 * two events per launch */
#define NBLOCKED 16     /* streams a poll pass remembers as not done */
#define NSCAN 256       /* launches a poll pass looks at, oldest first */
#define NLAST 32        /* streams whose last end event is kept */
#define CHAIN_LOOK 64   /* launches searched for one on the same stream */

struct inflight {
	CUevent ev0, ev; /* before (or NULL) and after the launch */
	CUstream s;      /* its stream: events on one complete in order */
	bool chain;      /* timed from the stream's previous end event */
	uint64_t ctx;    /* their context (vw_ctx_tagged) */
	const void *key;
	uint64_t est, t0;
	uint32_t gpu;    /* the ledger slot it counts in (multigpu) */
};

/* An event belongs to the context it was made in: kept with its tag. */
struct pooled {
	CUevent ev;
	uint64_t ctx;
};

struct vw_sched {
	struct vworker *W;
	/* by ledger slot: the VM's GPU k is slot k (docs/multigpu.md) */
	struct vgpud_sched_vm *S[VGPUD_SCHED_GPUS];
	struct vgpud_sched_chan *C[VGPUD_SCHED_GPUS];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	bool running;
	bool stop; /* closing: admit at once, poll no more */
	struct inflight *q;
	size_t n, cap;
	struct pooled pool[NPOOL]; /* a ring, oldest at head */
	uint32_t pool_head, pool_n;
	uint64_t last_done;
	uint64_t avg; /* EWMA of every launch measured: a new key's estimate */
	struct {      /* each stream's last completed end event, kept as the
		       * start of a chained launch after it */
		CUstream s;
		CUevent ev;
		uint64_t ctx;
	} last[NLAST];
	uint32_t last_next;
	struct {
		const void *key;
		uint64_t est;
	} est[NEST];
	/* VGPU_SCHED_PROF=1 in the worker's environment: where a metered
	 * launch's time goes, printed to stderr each second (the poller) */
	struct {
		uint64_t before_ns, after_ns, wait_ns, launches, solo, waits;
		uint64_t polls, queries, query_ns, created, last_print;
	} prof;
};

static int prof_on = -1; /* -1: not read yet */

/* Profile counters: executors and the poller add to them concurrently. */
#define PADD(q, f, n) __atomic_fetch_add(&(q)->prof.f, (n), __ATOMIC_RELAXED)
#define PGET(q, f) __atomic_load_n(&(q)->prof.f, __ATOMIC_RELAXED)

static bool profiling(void)
{
	if (__atomic_load_n(&prof_on, __ATOMIC_RELAXED) < 0) {
		const char *e = getenv("VGPU_SCHED_PROF");
		__atomic_store_n(&prof_on, e && *e && *e != '0',
				 __ATOMIC_RELAXED);
	}
	return __atomic_load_n(&prof_on, __ATOMIC_RELAXED) > 0;
}

static struct vw_sched *sched_of(struct vworker *W)
{
	/* made once, never freed while the worker runs: no lock per launch */
	struct vw_sched *q = __atomic_load_n(&W->sched, __ATOMIC_ACQUIRE);
	if (q)
		return q;
	pthread_mutex_lock(&W->mu);
	q = W->sched;
	if (!q && (q = calloc(1, sizeof(*q)))) {
		q->W = W;
		q->S[0] = W->schedvm;
		/* a test's worker (ndev 0) has slot 0 alone */
		for (uint32_t g = 0; g < VGPUD_SCHED_GPUS && (!g || g < W->ndev);
		     g++) {
			if (g)
				q->S[g] = vgpud_ledger_sched(
					W->ledger, W->r.g.nchannels, g);
			q->C[g] = vgpud_ledger_sched_chan(
				W->ledger, W->r.g.nchannels, g, W->chan);
		}
		pthread_mutex_init(&q->mu, NULL);
		pthread_cond_init(&q->cv, NULL);
		__atomic_store_n(&W->sched, q, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&W->mu);
	return q;
}

static uint32_t slot(const void *key)
{
	uintptr_t k = (uintptr_t)key;
	/* Fibonacci hashing: handles are heap addresses with long equal
	 * strides, which a shift-and-xor folds onto few slots; a key that
	 * loses its slot is estimated at the average, not the default */
	return (uint32_t)(((uint64_t)k * 0x9E3779B97F4A7C15ull) >> 52) % NEST;
}

static uint64_t estimate(struct vw_sched *q, const void *key)
{
	uint32_t i = slot(key);
	if (q->est[i].key == key && q->est[i].est)
		return q->est[i].est;
	return q->avg ? q->avg : VW_SCHED_DEFAULT_EST_NS;
}

/* An EWMA (1/4 of each new sample): quick to follow a kernel whose size
 * changes, steady enough that one slow run does not starve the queue. */
static void learn(struct vw_sched *q, const void *key, uint64_t ns)
{
	uint32_t i = slot(key);
	if (!ns)
		ns = 1;
	q->avg = q->avg ? (7 * q->avg + ns) / 8 : ns;
	if (q->est[i].key != key || !q->est[i].est) {
		q->est[i].key = key;
		q->est[i].est = ns;
	} else {
		q->est[i].est = (3 * q->est[i].est + ns) / 4;
	}
}

uint64_t vw_sched_estimate(struct vworker *W, const void *key)
{
	if (!W->ledger || !W->schedvm)
		return VW_SCHED_DEFAULT_EST_NS;
	struct vw_sched *q = sched_of(W);
	if (!q)
		return VW_SCHED_DEFAULT_EST_NS;
	pthread_mutex_lock(&q->mu);
	uint64_t e = estimate(q, key);
	pthread_mutex_unlock(&q->mu);
	return e;
}

/* busy_seq odd: busy. changed_ns first, the sequence last (release): the
 * supervisor reads the sequence, the time, the sequence again. */
static void set_busy(struct vgpud_sched_chan *C, bool busy, uint64_t now)
{
	uint64_t s = atomic_load_explicit(&C->busy_seq, memory_order_relaxed);
	if ((s & 1) == busy)
		return;
	atomic_store_explicit(&C->changed_ns, now, memory_order_relaxed);
	atomic_store_explicit(&C->busy_seq, s + 1, memory_order_release);
}

static void futex_wait(_Atomic uint32_t *w, uint32_t seen, uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u),
			      (long)(ns % 1000000000u)};
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, seen, &ts, NULL, 0);
}

static bool take(struct vgpud_sched_vm *S, uint64_t est)
{
	uint64_t a = atomic_load(&S->admitted_ns);
	while (a < atomic_load(&S->limit_ns))
		if (atomic_compare_exchange_weak(&S->admitted_ns, &a, a + est))
			return true;
	return false;
}

/* Spend est of the VM's tokens, waiting for the supervisor's next grant
 * while there are none. False: admitted untracked (scheduler switched
 * off, or the worker closing). */
static bool admit(struct vw_sched *q, uint32_t g, uint64_t est,
		  uint64_t *waited)
{
	struct vgpud_sched_vm *S = q->S[g];
	struct vgpud_sched_chan *C = q->C[g];
	*waited = 0;
	if (take(S, est))
		return true;
	uint64_t t0 = vgpu_now_ns();
	bool ok = false;
	atomic_fetch_add_explicit(&C->waits, 1, memory_order_relaxed);
	atomic_fetch_add(&C->waiting, 1); /* the scan's vs_demand */
	atomic_fetch_add(&S->waiters, 1);
	for (;;) {
		uint32_t seq = atomic_load(&S->grant_seq);
		vgpu_full_fence();
		if ((ok = take(S, est)) || !atomic_load(&S->on) ||
		    atomic_load(&S->solo) ||
		    __atomic_load_n(&q->stop, __ATOMIC_RELAXED))
			break;
		futex_wait(&S->grant_seq, seq, WAIT_NS);
	}
	atomic_fetch_sub(&S->waiters, 1);
	atomic_fetch_sub(&C->waiting, 1);
	uint64_t dt = vgpu_now_ns() - t0;
	atomic_fetch_add(&C->held_ns, dt);
	*waited = dt;
	PADD(q, wait_ns, dt);
	PADD(q, waits, 1);
	return ok;
}

/* A pooled event of context ctx, or NULL (q->mu held). */
static CUevent pool_pop(struct vw_sched *q, uint64_t ctx)
{
	for (uint32_t k = q->pool_n; k-- > 0;) {
		uint32_t i = (q->pool_head + k) % NPOOL;
		if (q->pool[i].ctx != ctx)
			continue;
		CUevent ev = q->pool[i].ev;
		q->pool[i] = q->pool[(q->pool_head + q->pool_n - 1) % NPOOL];
		q->pool_n--;
		return ev;
	}
	return NULL;
}

/* ev (from the pool, or NULL: a new one) recorded on s; NULL if none
 * can be (s is another context's, or ev's context is gone). */
static CUevent record(struct vw_sched *q, CUevent ev, CUstream s)
{
	struct vworker *W = q->W;
	if (ev && !W->drv.cuEventRecord(ev, s))
		return ev;
	if (ev) /* its context is gone, or s is another's */
		W->drv.cuEventDestroy_v2(ev);
	PADD(q, created, 1);
	if (W->drv.cuEventCreate(&ev, 0))
		return NULL;
	if (!W->drv.cuEventRecord(ev, s))
		return ev;
	W->drv.cuEventDestroy_v2(ev);
	return NULL;
}

void vw_sched_before(struct vworker *W, const void *key, CUstream s,
		     struct vw_ticket *t)
{
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	memset(t, 0, sizeof(*t));
	t->key = key;
	/* a worker mapped the whole ledger (worker_main.c) has schedvm; a
	 * test's or the fuzzer's may have only the channels' part */
	if (!W->ledger || !W->schedvm ||
	    !atomic_load_explicit(&W->schedvm->on, memory_order_relaxed))
		return;
	/* a captured launch runs nothing now: the graph's launch counts.
	 * With no capture begun in this worker no stream is capturing, and
	 * the query (a driver call per launch) is skipped. */
	if (atomic_load(&W->captures) &&
	    (W->drv.cuStreamIsCapturing(s, &st) ||
	     st != CU_STREAM_CAPTURE_STATUS_NONE))
		return;
	struct vw_sched *q = sched_of(W);
	if (!q)
		return;
	/* the GPU it runs on: its slot (GPUs past the ledger's: slot 0) */
	t->gpu = vw_cur_dev(W);
	if (t->gpu >= VGPUD_SCHED_GPUS || !q->S[t->gpu])
		t->gpu = 0;
	/* the supervisor's sign of work, metered or not */
	atomic_fetch_add_explicit(&q->C[t->gpu]->launches, 1,
				  memory_order_relaxed);
	/* alone on the GPU: nothing to be fair to, so nothing to meter */
	if (atomic_load_explicit(&q->S[t->gpu]->solo, memory_order_relaxed)) {
		if (profiling())
			PADD(q, solo, 1);
		return;
	}
	bool prof = profiling();
	uint64_t p0 = prof ? vgpu_now_ns() : 0, waited;
	t->ctx = vw_ctx_tagged();
	pthread_mutex_lock(&q->mu);
	uint64_t est = estimate(q, key);
	pthread_mutex_unlock(&q->mu);
	if (!admit(q, t->gpu, est, &waited))
		return;
	t->est_ns = est;
	t->t0 = vgpu_now_ns();
	/* the kernel's own GPU time, from device timestamps: the start
	 * event runs when this context is on the GPU (contexts time-slice),
	 * so the pair measures the kernel, not the others' turns, unless
	 * it was switched out mid-way (longer than a time slice). Back to
	 * back on one stream, the previous launch's end event is this
	 * one's start: one event per launch instead of two. Both events
	 * are taken from the pool under one lock. */
	CUevent ev0 = NULL;
	pthread_mutex_lock(&q->mu);
	for (size_t i = q->n, k = 0; i-- > 0 && k < CHAIN_LOOK; k++)
		if (q->q[i].s == s && q->q[i].ctx == t->ctx) {
			t->chain = true;
			break;
		}
	if (!t->chain)
		ev0 = pool_pop(q, t->ctx);
	t->ev = pool_pop(q, t->ctx);
	pthread_mutex_unlock(&q->mu);
	t->ev0 = t->chain ? NULL : record(q, ev0, s);
	if (prof) {
		PADD(q, launches, 1);
		PADD(q, before_ns, vgpu_now_ns() - p0 - waited);
	}
}

/* A finished event back to the pool (q->mu held); the oldest goes when
 * it is full (it may be a gone context's: destroying that one fails
 * harmlessly). */
static void release(struct vw_sched *q, CUevent ev, uint64_t ctx)
{
	if (!ev)
		return;
	if (q->pool_n == NPOOL) {
		q->W->drv.cuEventDestroy_v2(q->pool[q->pool_head].ev);
		q->pool_head = (q->pool_head + 1) % NPOOL;
		q->pool_n--;
	}
	q->pool[(q->pool_head + q->pool_n++) % NPOOL] = (struct pooled){ev, ctx};
}

static void release2(struct vw_sched *q, CUevent a, CUevent b, uint64_t ctx)
{
	pthread_mutex_lock(&q->mu);
	release(q, a, ctx);
	release(q, b, ctx);
	pthread_mutex_unlock(&q->mu);
}

static void *poller(void *arg);

static void track(struct vw_sched *q, CUevent ev, CUstream s,
		  const struct vw_ticket *t)
{
	pthread_mutex_lock(&q->mu);
	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 16;
		struct inflight *n = realloc(q->q, cap * sizeof(*n));
		if (!n) {
			release(q, ev, t->ctx);
			release(q, t->ev0, t->ctx);
			pthread_mutex_unlock(&q->mu);
			return; /* untracked: it runs, unmetered */
		}
		q->q = n;
		q->cap = cap;
	}
	q->q[q->n++] = (struct inflight){t->ev0, ev, s, t->chain, t->ctx,
					 t->key, t->est_ns, t->t0, t->gpu};
	atomic_fetch_add(&q->C[t->gpu]->inflight_ns, t->est_ns);
	atomic_fetch_add(&q->C[t->gpu]->inflight, 1);
	set_busy(q->C[t->gpu], true, t->t0);
	if (!q->running && !q->stop &&
	    pthread_create(&q->th, NULL, poller, q) == 0)
		q->running = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void vw_sched_after(struct vworker *W, struct vw_ticket *t, CUstream s,
		    CUresult r)
{
	if (!t->est_ns)
		return;
	struct vw_sched *q = W->sched;
	uint64_t p0 = profiling() ? vgpu_now_ns() : 0;
	if (r != CUDA_SUCCESS) { /* nothing queued: the tokens go back */
		atomic_fetch_sub(&q->S[t->gpu]->admitted_ns, t->est_ns);
		release2(q, t->ev0, t->ev, t->ctx);
		return;
	}
	/* behind the launch; if the stream is another context's the record
	 * fails and the launch runs unmetered (its estimate stays spent) */
	CUevent ev = record(q, t->ev, s);
	if (!ev) {
		release2(q, t->ev0, NULL, t->ctx);
		return;
	}
	track(q, ev, s, t);
	if (p0)
		PADD(q, after_ns, vgpu_now_ns() - p0);
}

/* The stream's last end event, or NULL (q->mu held). */
static CUevent last_of(struct vw_sched *q, CUstream s, uint64_t ctx)
{
	for (uint32_t i = 0; i < NLAST; i++)
		if (q->last[i].ev && q->last[i].s == s && q->last[i].ctx == ctx)
			return q->last[i].ev;
	return NULL;
}

/* ev is now the stream's last end event; the one it replaces (or the
 * oldest kept, to make room) goes back to the pool. */
static void remember(struct vw_sched *q, CUstream s, CUevent ev,
		     uint64_t ctx)
{
	uint32_t i = 0;
	while (i < NLAST && !(q->last[i].ev && q->last[i].s == s &&
			      q->last[i].ctx == ctx))
		i++;
	if (i == NLAST)
		i = q->last_next++ % NLAST;
	release(q, q->last[i].ev, q->last[i].ctx);
	q->last[i].s = s;
	q->last[i].ev = ev;
	q->last[i].ctx = ctx;
}

/* Launch i is done at now. Its GPU time is what its events measured,
 * reported to the supervisor and learnt as the key's estimate; without
 * them, its time since it (or the launch before it) could run, divided
 * by the contexts sharing the GPU meanwhile, is the estimate. */
static void complete(struct vw_sched *q, const struct inflight *ep,
		     uint64_t now)
{
	struct inflight e = *ep;
	uint64_t from = e.t0 > q->last_done ? e.t0 : q->last_done;
	uint32_t share = atomic_load(&q->S[e.gpu]->gpu_busy);
	float ms = 0;
	CUevent start = e.ev0 ? e.ev0
			      : e.chain ? last_of(q, e.s, e.ctx) : NULL;
	if (start && !q->W->drv.cuEventElapsedTime_v2(&ms, start, e.ev) &&
	    ms >= 0) {
		uint64_t ns = (uint64_t)((double)ms * 1e6);
		atomic_fetch_add(&q->C[e.gpu]->gpu_ns, ns);
		learn(q, e.key, ns);
	} else if (now > from) {
		learn(q, e.key, (now - from) / (share ? share : 1));
	}
	if (now > q->last_done)
		q->last_done = now;
	release(q, e.ev0, e.ctx);
	remember(q, e.s, e.ev, e.ctx);
	struct vgpud_sched_chan *C = q->C[e.gpu];
	uint64_t ns = atomic_load(&C->inflight_ns);
	atomic_fetch_sub(&C->inflight_ns, e.est < ns ? e.est : ns);
	atomic_fetch_sub(&C->inflight, 1);
}

static bool blocked(CUstream const *b, unsigned nb, CUstream s)
{
	for (unsigned k = 0; k < nb; k++)
		if (b[k] == s)
			return true;
	return false;
}

static bool query(struct vw_sched *q, CUevent ev)
{
	PADD(q, queries, 1);
	/* done, or its context gone: either way over */
	return q->W->drv.cuEventQuery(ev) != CUDA_ERROR_NOT_READY;
}

/* One pass over the launches in flight, in launch order (kept: the
 * survivors are compacted in place). On one stream, launches complete in
 * order: a bisection finds the first not done, so a deep queue of short
 * kernels costs a few queries per pass, not one per launch.
 * Called and returns with q->mu held, but queries without it: executors
 * take q->mu on every launch, and must not wait out the driver calls.
 * Only this thread removes entries and track() only appends, so the
 * first m entries are the same ones once the lock is back. */
static void poll_once(struct vw_sched *q)
{
	CUstream st[NSCAN];
	CUevent ev[NSCAN];
	uint64_t cx[NSCAN];
	bool done[NSCAN] = {false};
	/* The window's launches grouped by stream (and context), each group
	 * in launch order at ord[off .. off + n): on one stream events
	 * complete in order, so the first not done is found by bisection
	 * (the newest queried first: while the GPU keeps up it is done and
	 * one query covers the stream). Streams past NBLOCKED are queried
	 * one launch at a time. */
	struct {
		CUstream s;
		uint64_t ctx;
		size_t off, n;
	} g[NBLOCKED];
	size_t ord[NSCAN], grp[NSCAN];
	unsigned ng = 0;
	size_t m = q->n < NSCAN ? q->n : NSCAN;
	for (size_t i = 0; i < m; i++) {
		ev[i] = q->q[i].ev;
		st[i] = q->q[i].s;
		cx[i] = q->q[i].ctx;
	}
	pthread_mutex_unlock(&q->mu);
	uint64_t p0 = profiling() ? vgpu_now_ns() : 0;
	for (size_t i = 0; i < m; i++) {
		unsigned k = 0;
		while (k < ng && !(g[k].s == st[i] && g[k].ctx == cx[i]))
			k++;
		if (k == ng && ng < NBLOCKED)
			g[ng++] = (typeof(g[0])){st[i], cx[i], 0, 0};
		grp[i] = k; /* ng: not grouped */
		if (k < ng)
			g[k].n++;
	}
	for (unsigned k = 0, off = 0; k < ng; k++) {
		g[k].off = off;
		off += (unsigned)g[k].n;
		g[k].n = 0;
	}
	for (size_t i = 0; i < m; i++)
		if (grp[i] < ng) {
			unsigned k = (unsigned)grp[i];
			ord[g[k].off + g[k].n++] = i;
		}
	for (unsigned k = 0; k < ng; k++) {
		const size_t *o = ord + g[k].off;
		size_t lo = 0, hi = g[k].n; /* o[< lo] done; o[hi] not done */
		if (query(q, ev[o[hi - 1]]))
			lo = hi;
		else
			hi--;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (query(q, ev[o[mid]]))
				lo = mid + 1;
			else
				hi = mid;
		}
		for (size_t j = 0; j < lo; j++)
			done[o[j]] = true;
	}
	CUstream b[NBLOCKED];
	unsigned nb = 0;
	for (size_t i = 0; i < m; i++) {
		if (grp[i] < ng || blocked(b, nb, st[i]))
			continue;
		done[i] = query(q, ev[i]);
		if (!done[i] && nb < NBLOCKED)
			b[nb++] = st[i];
	}
	uint64_t now = vgpu_now_ns();
	PADD(q, polls, 1);
	if (p0)
		PADD(q, query_ns, now - p0);
	pthread_mutex_lock(&q->mu);
	size_t j = 0;
	for (size_t i = 0; i < q->n; i++) {
		if (i < m && done[i]) {
			complete(q, &q->q[i], now);
			continue;
		}
		q->q[j++] = q->q[i];
	}
	q->n = j;
	for (uint32_t g = 0; g < VGPUD_SCHED_GPUS; g++) /* each GPU's own */
		if (q->C[g] && !atomic_load(&q->C[g]->inflight))
			set_busy(q->C[g], false, now);
}

/* Once a second at most (q->mu held): per launch metered, the
 * executor's time in before (less token waits) and after, the waits,
 * and the poller's queries. */
static void prof_print(struct vw_sched *q)
{
	uint64_t now = vgpu_now_ns();
	if (now - q->prof.last_print < 1000000000ull)
		return;
	q->prof.last_print = now;
	uint64_t n = PGET(q, launches) ? PGET(q, launches) : 1;
	uint64_t nq = PGET(q, queries) ? PGET(q, queries) : 1;
	fprintf(stderr,
		"vgpu-sched-prof chan %u: metered %llu solo %llu | before %.2f us "
		"after %.2f us per launch | waits %llu (%.3f ms in all) | "
		"polls %llu queries %llu (%.2f us each) | events created %llu\n",
		q->W->chan, (unsigned long long)PGET(q, launches),
		(unsigned long long)PGET(q, solo),
		(double)PGET(q, before_ns) / (double)n / 1e3,
		(double)PGET(q, after_ns) / (double)n / 1e3,
		(unsigned long long)PGET(q, waits),
		(double)PGET(q, wait_ns) / 1e6,
		(unsigned long long)PGET(q, polls),
		(unsigned long long)PGET(q, queries),
		(double)PGET(q, query_ns) / (double)nq / 1e3,
		(unsigned long long)PGET(q, created));
}

static void *poller(void *arg)
{
	struct vw_sched *q = arg;
	q->W->drv.cuCtxSetCurrent(q->W->ctx);
	/* cuEventQuery is a "potentially unsafe" call: in the default GLOBAL
	 * mode, this thread's queries would invalidate a guest thread's
	 * global-mode stream capture. RELAXED exempts this thread alone. */
	CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
	q->W->drv.cuThreadExchangeStreamCaptureMode(&mode);
	pthread_mutex_lock(&q->mu);
	uint64_t idle_since = 0;
	while (!__atomic_load_n(&q->stop, __ATOMIC_RELAXED)) {
		/* idle: keep polling a while before sleeping on the condition,
		 * so that a guest launching in bursts (a token's kernels, a
		 * synchronise, the next token's) does not pay a futex wake-up
		 * at each burst's first launch */
		if (!q->n) {
			uint64_t now = vgpu_now_ns();
			if (!idle_since)
				idle_since = now;
			if (now - idle_since >= LINGER_NS) {
				pthread_cond_wait(&q->cv, &q->mu);
				idle_since = 0;
				continue;
			}
		} else {
			idle_since = 0;
		}
		pthread_mutex_unlock(&q->mu);
		struct timespec ts = {0, POLL_NS};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&q->mu);
		poll_once(q);
		if (profiling())
			prof_print(q);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* Executors may still be running (a launch waiting for tokens returns
 * at once once stop is set), so q stays: the worker exits next. */
void vw_sched_close(struct vworker *W)
{
	pthread_mutex_lock(&W->mu);
	struct vw_sched *q = W->sched;
	pthread_mutex_unlock(&W->mu);
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	__atomic_store_n(&q->stop, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&q->cv);
	bool join = q->running;
	q->running = false;
	pthread_mutex_unlock(&q->mu);
	if (join)
		pthread_join(q->th, NULL);
}

void vw_copied(struct vworker *W, uint64_t bytes)
{
	if (W->ledger && bytes) /* this worker's slot alone */
		atomic_fetch_add_explicit(&W->ledger[W->chan].copy_bytes,
					  bytes, memory_order_relaxed);
}

void vw_sched_graph_launch(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args in = {{0}}, out = {{0}};
	CUgraphExec e = NULL;
	CUstream s = NULL;
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (m->len == sizeof(in)) {
		memcpy(&in, m->data, sizeof(in));
		r = vw_handle_get(W, VGPU_HK_GRAPH_EXEC, in.a[0], (void **)&e);
		if (!r)
			r = vw_stream(W, in.a[1], &s);
	}
	if (!r) {
		struct vw_ticket t;
		vw_sched_before(W, e, s, &t);
		r = W->drv.cuGraphLaunch(e, s);
		vw_sched_after(W, &t, s, r);
	}
	vw_reply(W, m, r, &out, sizeof(out), 0);
}
