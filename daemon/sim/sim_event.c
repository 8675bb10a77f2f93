/* daemon/sim/sim_event.c - events: record, query, synchronise, time, and
 * streams waiting for them.
 *
 * Contract: each cuEventRecord queues a marker on the stream and numbers
 * it; the event is complete when its latest record has run (an event never
 * recorded is complete). A marker takes the host's CLOCK_MONOTONIC when it
 * runs, so elapsed times (ms, float) are those of the sim's execution and
 * are never negative for records in stream order. cuStreamWaitEvent makes
 * a stream wait for the record current at the time of the call, as
 * natively; later records do not move it. Destroying an event is
 * immediate for its handle; markers and waits still queued keep it alive.
 * Errors follow the real driver: timing on a DISABLE_TIMING event or one
 * never recorded is CUDA_ERROR_INVALID_HANDLE, on one not yet complete
 * CUDA_ERROR_NOT_READY; INTERPROCESS events are CUDA_ERROR_NOT_SUPPORTED.
 */
#include "sim.h"
#include <stdlib.h>

struct sim_event {
	struct sim_obj obj;
	unsigned flags;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t recorded;       /* records queued */
	uint64_t done;           /* highest record completed */
	struct timespec t;       /* when record number `done` ran */
};

static void destroy(struct sim_obj *o)
{
	struct sim_event *e = (struct sim_event *)o;
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	free(e);
}

void sim_event_put(struct sim_event *e)
{
	sim_obj_put(&e->obj);
}

static struct sim_event *get(CUevent h)
{
	return (struct sim_event *)sim_obj_get(h, SIM_EVENT);
}

void sim_event_complete(struct sim_event *e, uint64_t seq)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&e->mu);
	if (seq > e->done) { /* an older record finishing late changes nothing */
		e->done = seq;
		e->t = now;
	}
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

void sim_event_wait_seq(struct sim_event *e, uint64_t seq)
{
	pthread_mutex_lock(&e->mu);
	while (e->done < seq)
		pthread_cond_wait(&e->cv, &e->mu);
	pthread_mutex_unlock(&e->mu);
}

CUresult sim_cuEventCreate(CUevent *phEvent, unsigned int flags)
{
	const unsigned known = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING |
			       CU_EVENT_INTERPROCESS;
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!phEvent || (flags & ~known))
		return CUDA_ERROR_INVALID_VALUE;
	if (flags & CU_EVENT_INTERPROCESS)
		return flags & CU_EVENT_DISABLE_TIMING ?
			CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_INVALID_VALUE;
	struct sim_event *e = calloc(1, sizeof(*e));
	if (!e)
		return CUDA_ERROR_OUT_OF_MEMORY;
	sim_obj_init(&e->obj, SIM_EVENT, destroy);
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	e->flags = flags;
	if (sim_obj_register(&e->obj)) {
		destroy(&e->obj);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*phEvent = (CUevent)e;
	return CUDA_SUCCESS;
}

/* Queue an operation of kind k carrying e and a record number. */
static CUresult enqueue(struct sim_stream *s, enum sim_op_kind k,
			struct sim_event *e, uint64_t seq)
{
	struct sim_op *op = sim_op_new(k);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	sim_obj_ref(&e->obj);
	op->ev = e;
	op->ev_seq = seq;
	return sim_submit(s, op, NULL);
}

CUresult sim_cuEventRecord(CUevent h, CUstream hs)
{
	struct sim_stream *s;
	struct sim_event *e = NULL;
	CUresult rc = sim_stream_resolve(hs, &s);
	if (rc)
		return rc;
	if (!(e = get(h))) {
		sim_stream_put(s);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	if (sim_capture_record(&e->obj, s, &rc)) { /* no record: a capture */
		sim_event_put(e);
		sim_stream_put(s);
		return rc;
	}
	/* numbered and queued under the event's lock, so that records of one
	 * event reach their streams in the order of their numbers */
	pthread_mutex_lock(&e->mu);
	rc = enqueue(s, SIM_OP_RECORD, e, e->recorded + 1);
	if (!rc)
		e->recorded++;
	pthread_mutex_unlock(&e->mu);
	sim_event_put(e);
	sim_stream_put(s);
	return rc;
}

CUresult sim_cuStreamWaitEvent(CUstream hs, CUevent h, unsigned int flags)
{
	struct sim_stream *s;
	struct sim_event *e;
	if (flags) /* CU_EVENT_WAIT_EXTERNAL is for graphs only */
		return CUDA_ERROR_INVALID_VALUE;
	CUresult rc = sim_stream_resolve(hs, &s);
	if (rc)
		return rc;
	if (!(e = get(h))) {
		sim_stream_put(s);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	if (sim_capture_wait(s, &e->obj, &rc)) { /* a fork or join */
		sim_event_put(e);
		sim_stream_put(s);
		return rc;
	}
	pthread_mutex_lock(&e->mu);
	uint64_t target = e->recorded;
	pthread_mutex_unlock(&e->mu);
	if (target) /* never recorded: nothing to wait for */
		rc = enqueue(s, SIM_OP_WAIT, e, target);
	sim_event_put(e);
	sim_stream_put(s);
	return rc;
}

/* Whether e's latest record has run, and *e if the handle is good. */
static CUresult lookup(CUevent h, struct sim_event **out)
{
	CUresult rc = sim_enter_handle();
	if (rc)
		return rc;
	return (*out = get(h)) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult sim_cuEventQuery(CUevent h)
{
	struct sim_event *e;
	CUresult rc = lookup(h, &e);
	if (rc)
		return rc;
	/* potentially unsafe, as natively: it invalidates a capture that
	 * forbids it (PyTorch's allocator defers its queries for this) */
	if ((rc = sim_capture_event_check(&e->obj)) ||
	    (rc = sim_capture_unsafe())) {
		sim_event_put(e);
		return rc;
	}
	pthread_mutex_lock(&e->mu);
	bool done = e->done >= e->recorded;
	pthread_mutex_unlock(&e->mu);
	sim_event_put(e);
	if ((rc = sim_sticky()))
		return rc;
	return done ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

CUresult sim_cuEventSynchronize(CUevent h)
{
	struct sim_event *e;
	CUresult rc = lookup(h, &e);
	if (rc)
		return rc;
	if ((rc = sim_capture_event_check(&e->obj))) {
		sim_event_put(e);
		return rc;
	}
	pthread_mutex_lock(&e->mu);
	uint64_t target = e->recorded;
	pthread_mutex_unlock(&e->mu);
	sim_event_wait_seq(e, target);
	sim_event_put(e);
	return sim_sticky();
}

/* SUCCESS with *t, or why there is no time to give. */
static CUresult timestamp(struct sim_event *e, struct timespec *t)
{
	CUresult rc = CUDA_SUCCESS;
	pthread_mutex_lock(&e->mu);
	if ((e->flags & CU_EVENT_DISABLE_TIMING) || !e->recorded)
		rc = CUDA_ERROR_INVALID_HANDLE;
	else if (e->done < e->recorded)
		rc = CUDA_ERROR_NOT_READY;
	*t = e->t;
	pthread_mutex_unlock(&e->mu);
	return rc;
}

CUresult sim_cuEventElapsedTime_v2(float *ms, CUevent hstart, CUevent hend)
{
	struct sim_event *a, *b;
	struct timespec ta, tb;
	CUresult rc = lookup(hstart, &a);
	if (rc)
		return rc;
	if ((rc = lookup(hend, &b))) {
		sim_event_put(a);
		return rc;
	}
	if (!ms)
		rc = CUDA_ERROR_INVALID_VALUE;
	if (!rc && !(rc = timestamp(a, &ta)) && !(rc = timestamp(b, &tb)))
		*ms = (float)((double)(tb.tv_sec - ta.tv_sec) * 1e3 +
			      (double)(tb.tv_nsec - ta.tv_nsec) / 1e6);
	sim_event_put(a);
	sim_event_put(b);
	return rc;
}

CUresult sim_cuEventDestroy_v2(CUevent h)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	struct sim_event *e = get(h);
	if (!e)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!sim_obj_unregister(&e->obj))
		rc = CUDA_ERROR_INVALID_HANDLE;
	sim_event_put(e);
	return rc ? rc : sim_sticky();
}
