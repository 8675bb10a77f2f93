/* daemon/worker_exec.c - one executor thread per guest thread.
 *
 * The serving thread copies each request (already validated by the ring)
 * into a job and queues it on the executor of the guest thread that sent
 * it; the executor runs jobs in order with that guest thread's current
 * context current (VGPU_CU_CTX_CURRENT, daemon/worker_stream.c).
 * So a guest thread blocked in cuStreamSynchronize holds only its own
 * executor, and its siblings' requests keep flowing.
 * Across threads the guest restores the program's order itself with
 * VGPU_CU_ORDER_AFTER (guest/cuda/torch_order.c): the serving thread notes
 * how many jobs each named executor had been given when the request came
 * (ring order is the guest's order), and the sender's executor waits
 * until those have run or the last of them is a synchronous one now
 * running (its guest thread waits for it: nothing after it is ordered).
 *
 * Short copies (vw_mem_inline_ok) skip the hand-off: when everything the
 * guest thread sent before has run (its executor has nothing queued or
 * running), no stream capture is under way (capture modes are per
 * thread) and the executor's current context is the primary one (the
 * serving thread's own), the serving thread runs the copy itself. The
 * order is the same: the guest thread's earlier requests have all reached
 * the driver, and its next ones are not read until this one has. What it
 * saves is the queue, a thread-to-thread hand-off and its cache-line
 * traffic: part of a small pinned copy's cost
 * (docs/bulk.md). */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include "worker.h"
#include "../ring/wait.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_EXECS 256
#define STOP_GRACE_S 2 /* vw_exec_stop_all's wait for blocked executors */

struct vw_wait; /* VGPU_CU_ORDER_AFTER's executors and targets */

struct vw_job {
	struct vw_job *next;
	struct vw_wait *wait; /* NULL but for VGPU_CU_ORDER_AFTER */
	uint64_t seq;         /* this executor's job number, from 1 */
	struct vgpu_msg m;
	uint8_t data[];
};

struct vw_exec {
	struct vw_exec *next;
	struct vworker *W;
	uint32_t tid;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct vw_job *head, *tail;
	_Atomic uint32_t pending; /* jobs queued: read without the lock */
	_Atomic uint32_t unrun;   /* jobs submitted and not yet run */
	uint64_t ctx_id;          /* its current context's id, after the last
				   * job (read once unrun is 0) */
	bool sleeping;            /* in cond_wait: submit must signal */
	_Atomic bool stop;
	/* for VGPU_CU_ORDER_AFTER: jobs given (serving thread), jobs run,
	 * and the number of the synchronous job running (0: none) */
	_Atomic uint64_t queued, done, sync_running;
	struct vw_exec_state st;
};

struct vw_exec_state *vw_exec_state(struct vw_exec *x)
{
	return &x->st;
}

/* A guest thread's next call usually follows within microseconds: spin
 * that long before sleeping, since a condition-variable wake-up costs
 * about as much as the whole round trip. */
#define EXEC_SPIN_NS 50000u

static void spin_for_work(struct vw_exec *x)
{
	uint64_t t0 = vgpu_now_ns();
	for (unsigned i = 0; !atomic_load_explicit(&x->pending,
						   memory_order_acquire);
	     i++) {
		vgpu_cpu_relax();
		if ((i & 255) == 255 && vgpu_now_ns() - t0 > EXEC_SPIN_NS)
			return;
	}
}

static struct vw_job *next_job(struct vw_exec *x)
{
	spin_for_work(x);
	pthread_mutex_lock(&x->mu);
	while (!x->head && !x->stop) {
		x->sleeping = true;
		pthread_cond_wait(&x->cv, &x->mu);
		x->sleeping = false;
	}
	struct vw_job *j = x->head;
	if (j) {
		x->head = j->next;
		if (!x->head)
			x->tail = NULL;
		atomic_fetch_sub(&x->pending, 1);
	}
	pthread_mutex_unlock(&x->mu);
	return j;
}

struct vw_wait {
	unsigned n;
	struct {
		struct vw_exec *x;
		uint64_t target;
	} on[VGPU_CU_ORDER_MAX];
};

static bool reached(struct vw_exec *o, uint64_t target)
{
	return atomic_load(&o->done) >= target ||
	       atomic_load(&o->sync_running) == target;
}

/* Spin briefly (the other executor is usually microseconds behind), then
 * poll gently; give up when this worker stops. */
static void wait_order(struct vw_exec *x, const struct vw_wait *w)
{
	uint64_t t0 = vgpu_now_ns();
	for (unsigned i = 0; i < w->n; i++) {
		while (!reached(w->on[i].x, w->on[i].target)) {
			if (atomic_load(&x->stop))
				return;
			if (vgpu_now_ns() - t0 < EXEC_SPIN_NS) {
				vgpu_cpu_relax();
			} else {
				struct timespec ts = {0, 20000};
				nanosleep(&ts, NULL);
			}
		}
	}
}

static void *exec_main(void *arg)
{
	struct vw_exec *x = arg;
	struct vworker *W = x->W;
	/* no context current, as on a new guest thread: the guest says
	 * which one its thread has (VGPU_CU_CTX_CURRENT), so calls without
	 * one get the driver's own CUDA_ERROR_INVALID_CONTEXT */
	struct vw_job *j;
	struct vgpud_ledger *L = W->ledger ? &W->ledger[W->chan] : NULL;
	while ((j = next_job(x))) {
		if (L) /* the supervisor's activity measure (utilization) */
			atomic_fetch_add(&L->active, 1);
		/* a synchronous job's guest thread waits for it: executors
		 * ordering after this one need not (and, were it an order
		 * request of its own, must not: two threads may order after
		 * each other at once) */
		if (!(j->m.flags & VGPU_MSG_NOREPLY))
			atomic_store(&x->sync_running, j->seq);
		if (j->wait)
			wait_order(x, j->wait);
		vw_execute(W, x, &j->m);
		atomic_store(&x->done, j->seq);
		atomic_store(&x->sync_running, 0);
		if (L) {
			atomic_fetch_sub(&L->active, 1);
			atomic_fetch_add(&L->calls, 1);
		}
		free(j->wait);
		free(j);
		x->ctx_id = vw_ctx_tagged();
		atomic_fetch_sub_explicit(&x->unrun, 1, memory_order_release);
	}
	free(x->st.image);
	return NULL;
}

static struct vw_exec *exec_for(struct vworker *W, uint32_t tid)
{
	struct vw_exec *x;
	int n = 0;
	for (x = W->execs; x; x = x->next, n++)
		if (x->tid == tid)
			return x;
	if (n >= MAX_EXECS)
		return NULL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->W = W;
	x->tid = tid;
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->cv, NULL);
	if (pthread_create(&x->th, NULL, exec_main, x) != 0) {
		free(x);
		return NULL;
	}
	x->next = W->execs;
	W->execs = x;
	return x;
}

/* An executor without a thread or queue, for tests and fuzzing only:
 * tests/fuzz/fuzz_worker.c and the unit tests call vw_execute() on their
 * own thread and need just the per-executor state a request may use (a
 * module image being assembled). The serving path never makes one. */
struct vw_exec *vw_exec_standalone(struct vworker *W)
{
	struct vw_exec *x = calloc(1, sizeof(*x));
	if (x)
		x->W = W;
	return x;
}

void vw_exec_standalone_free(struct vw_exec *x)
{
	if (!x)
		return;
	free(x->st.image);
	free(x);
}

/* The executors a VGPU_CU_ORDER_AFTER names and how many jobs each had
 * been given: serving thread only (it alone changes W->execs). A payload
 * the handler will refuse, or naming no executor with jobs, needs none. */
static struct vw_wait *order_targets(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_order o = {0};
	if (m->len < sizeof(o.n))
		return NULL;
	memcpy(&o.n, m->data, sizeof(o.n));
	if (o.n < 1 || o.n > VGPU_CU_ORDER_MAX ||
	    m->len != sizeof(o.n) + o.n * sizeof(o.tid[0]))
		return NULL;
	memcpy(o.tid, m->data + sizeof(o.n), o.n * sizeof(o.tid[0]));
	struct vw_wait *w = calloc(1, sizeof(*w));
	for (unsigned i = 0; w && i < o.n; i++)
		for (struct vw_exec *x = W->execs; x; x = x->next)
			if (x->tid == o.tid[i] && x->tid != m->tid) {
				w->on[w->n].x = x;
				w->on[w->n++].target = atomic_load(&x->queued);
				break;
			}
	if (w && !w->n) {
		free(w);
		w = NULL;
	}
	return w;
}

/* Whether the serving thread has made the primary context current. */
static __thread bool serve_has_primary;

/* Run m on this (the serving) thread, if that keeps its order: see the
 * header. False: hand it to the executor. Only under the primary
 * context, which is never destroyed: a created one may be, and a new one
 * may then come back at the same address, which a cached "current" on
 * this thread would take for the old one. */
static bool run_inline(struct vworker *W, struct vw_exec *x,
		       const struct vgpu_msg *m)
{
	if (!vw_mem_inline_ok(m) ||
	    atomic_load_explicit(&x->unrun, memory_order_acquire) ||
	    atomic_load(&W->captures) || !x->ctx_id || x->ctx_id != W->ctx_id)
		return false;
	if (!serve_has_primary) {
		if (W->drv.cuCtxSetCurrent(W->ctx))
			return false;
		serve_has_primary = true;
	}
	struct vgpud_ledger *L = W->ledger ? &W->ledger[W->chan] : NULL;
	if (L)
		atomic_fetch_add(&L->active, 1);
	vw_execute(W, x, m);
	if (L) {
		atomic_fetch_sub(&L->active, 1);
		atomic_fetch_add(&L->calls, 1);
	}
	return true;
}

int vw_exec_submit(struct vworker *W, const struct vgpu_msg *m)
{
	struct vw_exec *x = exec_for(W, m->tid);
	if (x && run_inline(W, x, m))
		return 0;
	struct vw_job *j = malloc(sizeof(*j) + m->len);
	if (!x || !j) {
		free(j);
		/* no thread to run it: answer now rather than never */
		vw_reply(W, m, CUDA_ERROR_OUT_OF_MEMORY, NULL, 0, 0);
		return -1;
	}
	j->next = NULL;
	j->wait = m->op == VGPU_CU_ORDER_AFTER ? order_targets(W, m) : NULL;
	j->seq = atomic_fetch_add(&x->queued, 1) + 1;
	j->m = *m;
	memcpy(j->data, m->data, m->len);
	j->m.data = j->data;
	pthread_mutex_lock(&x->mu);
	if (x->tail)
		x->tail->next = j;
	else
		x->head = j;
	x->tail = j;
	atomic_fetch_add_explicit(&x->unrun, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&x->pending, 1, memory_order_release);
	if (x->sleeping) /* a spinning executor needs no syscall */
		pthread_cond_signal(&x->cv);
	pthread_mutex_unlock(&x->mu);
	return 0;
}

int vw_exec_stop_all(struct vworker *W)
{
	/* an executor may be waiting for a stream held by a host callback
	 * that the guest, now gone, will never run */
	vw_cb_close(W);
	for (struct vw_exec *x = W->execs; x; x = x->next) {
		pthread_mutex_lock(&x->mu);
		x->stop = true;
		pthread_cond_signal(&x->cv);
		pthread_mutex_unlock(&x->mu);
	}
	/* An executor blocked in the driver for good (a stream waiting for a
	 * value the dead guest will never write) must not keep this worker,
	 * its context and its memory alive: past the grace period it is
	 * abandoned, and the caller exits the process, which tears them down
	 * as a native process's exit does. */
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += STOP_GRACE_S;
	int abandoned = 0;
	struct vw_exec *joined = NULL;
	while (W->execs) {
		struct vw_exec *x = W->execs;
		W->execs = x->next;
		if (pthread_timedjoin_np(x->th, NULL, &deadline) == 0) {
			x->next = joined;
			joined = x;
		} else {
			pthread_detach(x->th);
			abandoned++;
		}
	}
	/* freed only now: one still ordering after another reads its
	 * counters until it notices the stop */
	while (joined) {
		struct vw_exec *x = joined;
		joined = x->next;
		free(x);
	}
	return abandoned;
}
