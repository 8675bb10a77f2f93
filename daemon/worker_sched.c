/* daemon/worker_sched.c - admission of launches from the VM's tokens, and
 * what the supervisor's scheduler needs to know: busy/idle, the queue.
 * (Contract: worker_sched.h; design: docs/scheduler.md.) */
#define _GNU_SOURCE
#include "worker_sched.h"
#include "../ring/wait.h"
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define POLL_NS 50000   /* completions are seen this late at most */
#define WAIT_NS 1000000 /* a token wait re-checks this often anyway */
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
};

static struct vw_sched *sched_of(struct vworker *W)
{
	pthread_mutex_lock(&W->mu);
	struct vw_sched *q = W->sched;
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
		W->sched = q;
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
static bool admit(struct vw_sched *q, uint32_t g, uint64_t est)
{
	struct vgpud_sched_vm *S = q->S[g];
	struct vgpud_sched_chan *C = q->C[g];
	if (take(S, est))
		return true;
	uint64_t t0 = vgpu_now_ns();
	bool ok = false;
	atomic_fetch_add(&C->waiting, 1); /* the scan's vs_demand */
	atomic_fetch_add(&S->waiters, 1);
	for (;;) {
		uint32_t seq = atomic_load(&S->grant_seq);
		vgpu_full_fence();
		if ((ok = take(S, est)) || !atomic_load(&S->on) ||
		    __atomic_load_n(&q->stop, __ATOMIC_RELAXED))
			break;
		futex_wait(&S->grant_seq, seq, WAIT_NS);
	}
	atomic_fetch_sub(&S->waiters, 1);
	atomic_fetch_sub(&C->waiting, 1);
	atomic_fetch_add(&C->held_ns, vgpu_now_ns() - t0);
	return ok;
}

static CUevent mark(struct vw_sched *q, CUstream s, uint64_t ctx);

void vw_sched_before(struct vworker *W, const void *key, CUstream s,
		     struct vw_ticket *t)
{
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	memset(t, 0, sizeof(*t));
	t->key = key;
	/* a worker mapped the whole ledger (worker_main.c) has schedvm; a
	 * test's or the fuzzer's may have only the channels' part */
	if (!W->ledger || !W->schedvm || !atomic_load(&W->schedvm->on))
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
	pthread_mutex_lock(&q->mu);
	uint64_t est = estimate(q, key);
	pthread_mutex_unlock(&q->mu);
	if (!admit(q, t->gpu, est))
		return;
	t->est_ns = est;
	t->t0 = vgpu_now_ns();
	/* the kernel's own GPU time, from device timestamps: the start
	 * event runs when this context is on the GPU (contexts time-slice),
	 * so the pair measures the kernel, not the others' turns, unless
	 * it was switched out mid-way (longer than a time slice) */
	t->ctx = vw_ctx_tagged();
	/* back to back on one stream, the previous launch's end event is
	 * this one's start: one event per launch instead of two */
	pthread_mutex_lock(&q->mu);
	for (size_t i = q->n, k = 0; i-- > 0 && k < CHAIN_LOOK; k++)
		if (q->q[i].s == s && q->q[i].ctx == t->ctx) {
			t->chain = true;
			break;
		}
	pthread_mutex_unlock(&q->mu);
	t->ev0 = t->chain ? NULL : mark(q, s, t->ctx);
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

static void release_locked(struct vw_sched *q, CUevent ev, uint64_t ctx)
{
	pthread_mutex_lock(&q->mu);
	release(q, ev, ctx);
	pthread_mutex_unlock(&q->mu);
}

/* A timing event of the executor's current context recorded on s (one
 * from the pool when there is: creating one per launch costs more than
 * the launch); NULL if none can be (s is another context's). */
static CUevent mark(struct vw_sched *q, CUstream s, uint64_t ctx)
{
	struct vworker *W = q->W;
	CUevent ev = NULL;
	pthread_mutex_lock(&q->mu);
	for (uint32_t k = q->pool_n; k-- > 0;) {
		uint32_t i = (q->pool_head + k) % NPOOL;
		if (q->pool[i].ctx != ctx)
			continue;
		ev = q->pool[i].ev;
		q->pool[i] = q->pool[(q->pool_head + q->pool_n - 1) % NPOOL];
		q->pool_n--;
		break;
	}
	pthread_mutex_unlock(&q->mu);
	if (ev && !W->drv.cuEventRecord(ev, s))
		return ev;
	if (ev) /* its context is gone, or s is another's */
		W->drv.cuEventDestroy_v2(ev);
	if (W->drv.cuEventCreate(&ev, 0))
		return NULL;
	if (!W->drv.cuEventRecord(ev, s))
		return ev;
	W->drv.cuEventDestroy_v2(ev);
	return NULL;
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
	if (r != CUDA_SUCCESS) { /* nothing queued: the tokens go back */
		atomic_fetch_sub(&q->S[t->gpu]->admitted_ns, t->est_ns);
		release_locked(q, t->ev0, t->ctx);
		return;
	}
	/* behind the launch; if the stream is another context's the record
	 * fails and the launch runs unmetered (its estimate stays spent) */
	CUevent ev = mark(q, s, t->ctx);
	if (!ev) {
		release_locked(q, t->ev0, t->ctx);
		return;
	}
	track(q, ev, s, t);
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

/* One pass over the launches in flight, in launch order (kept: the
 * survivors are compacted in place). Once a stream's launch is not done,
 * its later ones are not either: they are not queried. So a deep queue
 * of short kernels costs a few queries per pass, not one per launch.
 * Called and returns with q->mu held, but queries without it: executors
 * take q->mu on every launch, and must not wait out the driver calls.
 * Only this thread removes entries and track() only appends, so the
 * first m entries are the same ones once the lock is back. */
static void poll_once(struct vw_sched *q)
{
	CUstream b[NBLOCKED], st[NSCAN];
	CUevent ev[NSCAN];
	bool done[NSCAN] = {false};
	unsigned nb = 0;
	size_t m = q->n < NSCAN ? q->n : NSCAN;
	for (size_t i = 0; i < m; i++) {
		ev[i] = q->q[i].ev;
		st[i] = q->q[i].s;
	}
	pthread_mutex_unlock(&q->mu);
	for (size_t i = 0; i < m; i++) {
		if (blocked(b, nb, st[i]))
			continue;
		/* done, or its context gone: either way over */
		done[i] = q->W->drv.cuEventQuery(ev[i]) != CUDA_ERROR_NOT_READY;
		if (!done[i] && nb < NBLOCKED)
			b[nb++] = st[i];
	}
	uint64_t now = vgpu_now_ns();
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
	while (!__atomic_load_n(&q->stop, __ATOMIC_RELAXED)) {
		if (!q->n) {
			pthread_cond_wait(&q->cv, &q->mu);
			continue;
		}
		pthread_mutex_unlock(&q->mu);
		struct timespec ts = {0, POLL_NS};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&q->mu);
		poll_once(q);
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
