/* daemon/sim/sim_queue.c - stream workers: queues, ordering, execution.
 *
 * Contract: every stream (user, legacy, per-thread) has a worker thread
 * that runs its operations one at a time, in submission order. Before an
 * operation runs, its dependencies are met (other streams' progress,
 * events), then the worker sleeps a random 0..50 us drawn from a generator
 * seeded by VGPU_SIM_SEED and the stream's creation number, so that code
 * which only works when the device is fast, or in one particular order,
 * fails here. Legacy default stream semantics, the simple correct model:
 * an operation on the legacy stream waits for everything already queued
 * on every blocking stream, and an operation on a blocking stream waits
 * for everything already queued on the legacy stream; non-blocking
 * streams do neither. Once the context has a sticky error, operations are
 * skipped (but still complete, so that waiters wake and see the error).
 */
#define _GNU_SOURCE
#include "sim.h"
#include <stdlib.h>
#include <sys/prctl.h>

#define MAX_DELAY_US 50

static atomic_uint_fast64_t serial;

struct sim_op *sim_op_new(enum sim_op_kind k)
{
	struct sim_op *op = calloc(1, sizeof(*op));
	if (op)
		op->kind = k;
	return op;
}

void sim_op_free(struct sim_op *op)
{
	if (!op)
		return;
	for (size_t i = 0; i < op->ndeps; i++)
		sim_stream_put(op->deps[i].s);
	free(op->deps);
	if (op->ev)
		sim_event_put(op->ev);
	if (op->kind == SIM_OP_LAUNCH && op->u.launch)
		sim_launch_free(op->u.launch);
	if (op->kind == SIM_OP_MEMOP)
		sim_stream_op_free(op);
	free(op);
}

/* splitmix64: small, good enough, and the same on every platform. */
static uint64_t next_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void delay(struct sim_stream *s)
{
	long us = (long)(next_rand(&s->rng) % (MAX_DELAY_US + 1));
	struct timespec ts = {0, us * 1000};
	while (us && nanosleep(&ts, &ts))
		;
}

static void execute(struct sim_op *op)
{
	bool skip = sim_sticky() != CUDA_SUCCESS;
	switch (op->kind) {
	case SIM_OP_HTOD:
	case SIM_OP_DTOH:
	case SIM_OP_DTOD:
	case SIM_OP_MEMSET:
		if (!skip)
			sim_mem_exec(op);
		break;
	case SIM_OP_RECT:
		if (!skip)
			sim_rect_exec(op);
		break;
	case SIM_OP_LAUNCH:
		if (!skip)
			sim_launch_exec(op->u.launch);
		break;
	case SIM_OP_RECORD:
		sim_event_complete(op->ev, op->ev_seq);
		break;
	case SIM_OP_FREE: /* even after a fault: memory is released */
		sim_pool_exec_free(op);
		break;
	case SIM_OP_HOST:
	case SIM_OP_MEMOP:
		sim_stream_op_exec(op, sim_sticky());
		break;
	case SIM_OP_NOP:
	case SIM_OP_WAIT:
		break;
	}
}

static void run(struct sim_stream *s, struct sim_op *op)
{
	for (size_t i = 0; i < op->ndeps; i++)
		sim_stream_wait(op->deps[i].s, op->deps[i].seq);
	if (op->kind == SIM_OP_WAIT)
		sim_event_wait_seq(op->ev, op->ev_seq);
	delay(s);
	execute(op);
}

static void unlink_stream(struct sim_stream *s)
{
	pthread_mutex_lock(&sim_ctx.mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		sim_ctx.streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&sim_ctx.mu);
}

/* The operation stays at the head while it runs: a non-empty queue is
 * what "not idle" means. */
static void *worker(void *arg)
{
	struct sim_stream *s = arg;
	/* the default 50 us timer slack would swamp the 0..50 us delays */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->head && !s->closing)
			pthread_cond_wait(&s->work, &s->mu);
		struct sim_op *op = s->head;
		if (!op)
			break;
		pthread_mutex_unlock(&s->mu);
		run(s, op);
		pthread_mutex_lock(&s->mu);
		s->head = op->next;
		if (!s->head)
			s->tail = NULL;
		s->done++;
		pthread_cond_broadcast(&s->idle);
		pthread_mutex_unlock(&s->mu);
		sim_op_free(op);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	unlink_stream(s);
	sim_stream_put(s);
	return NULL;
}

static void destroy(struct sim_obj *o)
{
	struct sim_stream *s = (struct sim_stream *)o;
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->idle);
	free(s);
}

static int spawn(struct sim_stream *s)
{
	pthread_attr_t a;
	pthread_t t;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &a, worker, s);
	pthread_attr_destroy(&a);
	return rc;
}

struct sim_stream *sim_stream_new(enum sim_stream_type type, bool blocking)
{
	struct sim_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	sim_obj_init(&s->obj, SIM_STREAM, destroy);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->idle, NULL);
	s->type = type;
	s->blocking = blocking;
	s->id = atomic_fetch_add(&serial, 1) + 1;
	s->rng = sim_cfg.seed ^ ((s->id - 1) * 0x2545f4914f6cdd1dull);
	sim_obj_ref(&s->obj); /* the worker's */
	pthread_mutex_lock(&sim_ctx.mu);
	s->next = sim_ctx.streams;
	if (s->next)
		s->next->prev = s;
	sim_ctx.streams = s;
	pthread_mutex_unlock(&sim_ctx.mu);
	if (spawn(s)) {
		unlink_stream(s);
		destroy(&s->obj);
		return NULL;
	}
	return s;
}

static int add_dep(struct sim_op *op, struct sim_stream *s, uint64_t seq)
{
	struct sim_dep *d = realloc(op->deps, (op->ndeps + 1) * sizeof(*d));
	if (!d)
		return -1;
	op->deps = d;
	sim_obj_ref(&s->obj);
	d[op->ndeps++] = (struct sim_dep){s, seq};
	return 0;
}

/* Depend on s's queued work, if it has any. Called with s->mu not held. */
static int depend_on_tail(struct sim_op *op, struct sim_stream *s)
{
	pthread_mutex_lock(&s->mu);
	uint64_t enq = s->enq, done = s->done;
	pthread_mutex_unlock(&s->mu);
	return done < enq ? add_dep(op, s, enq) : 0;
}

static int legacy_deps(struct sim_stream *s, struct sim_op *op)
{
	int rc = 0;
	if (s->type != SIM_S_LEGACY)
		return s->blocking ? depend_on_tail(op, sim_ctx.legacy) : 0;
	pthread_mutex_lock(&sim_ctx.mu);
	for (struct sim_stream *b = sim_ctx.streams; b && !rc; b = b->next)
		if (b != s && b->blocking)
			rc = depend_on_tail(op, b);
	pthread_mutex_unlock(&sim_ctx.mu);
	return rc;
}

CUresult sim_submit(struct sim_stream *s, struct sim_op *op, uint64_t *seq)
{
	CUresult crc;
	if (sim_capture_submit(s, op, &crc)) { /* a graph node, or refused */
		if (seq)
			*seq = 0;
		return crc;
	}
	if (legacy_deps(s, op)) {
		sim_op_free(op);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	pthread_mutex_lock(&s->mu);
	if (s->closing) { /* destroyed by another thread meanwhile */
		pthread_mutex_unlock(&s->mu);
		sim_op_free(op);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	if (s->tail)
		s->tail->next = op;
	else
		s->head = op;
	s->tail = op;
	if (seq)
		*seq = s->enq + 1;
	s->enq++;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mu);
	return CUDA_SUCCESS;
}

void sim_stream_wait(struct sim_stream *s, uint64_t seq)
{
	pthread_mutex_lock(&s->mu);
	while (s->done < seq)
		pthread_cond_wait(&s->idle, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

bool sim_stream_idle(struct sim_stream *s)
{
	pthread_mutex_lock(&s->mu);
	bool idle = s->done == s->enq;
	pthread_mutex_unlock(&s->mu);
	return idle;
}

void sim_stream_close(struct sim_stream *s)
{
	pthread_mutex_lock(&s->mu);
	s->closing = true;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mu);
}

void sim_stream_put(struct sim_stream *s)
{
	sim_obj_put(&s->obj);
}
