/* daemon/sim/sim_stream.c - the stream API and stream handle resolution.
 *
 * Contract: 0 and CU_STREAM_LEGACY name the legacy default stream,
 * CU_STREAM_PER_THREAD the calling thread's own default stream (blocking:
 * it synchronises with the legacy stream, as natively; created on first
 * use, closed when the thread exits or the context resets); anything else
 * must be a live handle from cuStreamCreate. The special streams need a
 * current context; explicit handles carry theirs. cuStreamDestroy returns
 * at once: queued work still runs, and the stream is freed after it.
 * cuStreamQuery is CUDA_ERROR_NOT_READY while work is queued; on the
 * legacy stream that includes work on every blocking stream it would wait
 * for. Synchronising returns the sticky error if the context has one.
 */
#include "sim.h"
#include <stdlib.h>

static pthread_key_t pts_key;
static pthread_once_t pts_once = PTHREAD_ONCE_INIT;
static __thread uint64_t pts_epoch;

static void pts_exit(void *p)
{
	sim_stream_close(p);
	sim_stream_put(p);
}

static void pts_make_key(void)
{
	pthread_key_create(&pts_key, pts_exit);
}

static uint64_t ctx_epoch(void)
{
	pthread_mutex_lock(&sim_ctx.mu);
	uint64_t e = sim_ctx.epoch;
	pthread_mutex_unlock(&sim_ctx.mu);
	return e;
}

/* This thread's per-thread stream, referenced; a reset since it was made
 * closed it, so a fresh one replaces it. */
static struct sim_stream *per_thread(void)
{
	pthread_once(&pts_once, pts_make_key);
	struct sim_stream *s = pthread_getspecific(pts_key);
	uint64_t epoch = ctx_epoch();
	if (s && pts_epoch != epoch) {
		pthread_setspecific(pts_key, NULL);
		pts_exit(s);
		s = NULL;
	}
	if (!s) {
		s = sim_stream_new(SIM_S_PER_THREAD, true);
		if (!s)
			return NULL;
		pts_epoch = epoch;
		pthread_setspecific(pts_key, s);
	}
	sim_obj_ref(&s->obj);
	return s;
}

void sim_stream_close_per_thread(void)
{
	pthread_mutex_lock(&sim_ctx.mu);
	for (struct sim_stream *s = sim_ctx.streams; s; s = s->next)
		if (s->type == SIM_S_PER_THREAD)
			sim_stream_close(s);
	pthread_mutex_unlock(&sim_ctx.mu);
}

static bool is_special(CUstream h)
{
	return !h || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD;
}

CUresult sim_stream_resolve(CUstream h, struct sim_stream **out)
{
	CUresult rc = is_special(h) ? sim_enter() : sim_enter_handle();
	if (rc)
		return rc;
	struct sim_stream *s;
	if (!h || h == CU_STREAM_LEGACY) {
		s = sim_ctx.legacy;
		sim_obj_ref(&s->obj);
	} else if (h == CU_STREAM_PER_THREAD) {
		s = per_thread();
		if (!s)
			return CUDA_ERROR_OUT_OF_MEMORY;
	} else {
		s = (struct sim_stream *)sim_obj_get(h, SIM_STREAM);
		if (!s)
			return CUDA_ERROR_INVALID_HANDLE;
	}
	*out = s;
	return CUDA_SUCCESS;
}

CUresult sim_cuStreamCreate(CUstream *phStream, unsigned int flags)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!phStream || (flags & ~(unsigned)CU_STREAM_NON_BLOCKING))
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_stream *s =
		sim_stream_new(SIM_S_USER, !(flags & CU_STREAM_NON_BLOCKING));
	if (!s)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (sim_obj_register(&s->obj)) {
		sim_stream_close(s);
		sim_stream_put(s);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*phStream = (CUstream)s;
	return CUDA_SUCCESS;
}

/* Goes ahead even with a sticky error (and then returns it), so that
 * resources are released. */
CUresult sim_cuStreamDestroy_v2(CUstream h)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	struct sim_stream *s;
	if (is_special(h) || !(s = (struct sim_stream *)sim_obj_get(h, SIM_STREAM)))
		return CUDA_ERROR_INVALID_HANDLE;
	if (!sim_obj_unregister(&s->obj)) {
		rc = CUDA_ERROR_INVALID_HANDLE; /* a racing destroy won */
	} else {
		sim_capture_stream_gone(s);
		sim_stream_close(s);
	}
	sim_stream_put(s);
	return rc ? rc : sim_sticky();
}

/* The legacy stream's "everything so far" includes the blocking streams'
 * work: a marker queued on it waits for exactly that. */
static CUresult wait_all_queued(struct sim_stream *s)
{
	uint64_t seq;
	if (s->type == SIM_S_LEGACY) {
		struct sim_op *op = sim_op_new(SIM_OP_NOP);
		CUresult rc = op ? sim_submit(s, op, &seq) :
				   CUDA_ERROR_OUT_OF_MEMORY;
		if (rc)
			return rc;
	} else {
		pthread_mutex_lock(&s->mu);
		seq = s->enq;
		pthread_mutex_unlock(&s->mu);
	}
	sim_stream_wait(s, seq);
	return CUDA_SUCCESS;
}

CUresult sim_cuStreamSynchronize(CUstream h)
{
	struct sim_stream *s;
	CUresult rc = sim_stream_resolve(h, &s);
	if (rc)
		return rc;
	if (!(rc = sim_capture_sync(s)))
		rc = wait_all_queued(s);
	sim_stream_put(s);
	return rc ? rc : sim_sticky();
}

static bool blocking_streams_idle(void)
{
	bool idle = true;
	pthread_mutex_lock(&sim_ctx.mu);
	for (struct sim_stream *b = sim_ctx.streams; b && idle; b = b->next)
		if (b->blocking)
			idle = sim_stream_idle(b);
	pthread_mutex_unlock(&sim_ctx.mu);
	return idle;
}

CUresult sim_cuStreamQuery(CUstream h)
{
	struct sim_stream *s;
	CUresult rc = sim_stream_resolve(h, &s);
	if (rc)
		return rc;
	if ((rc = sim_capture_sync(s))) {
		sim_stream_put(s);
		return rc;
	}
	bool idle = s->type == SIM_S_LEGACY ? blocking_streams_idle() :
					      sim_stream_idle(s);
	sim_stream_put(s);
	if ((rc = sim_sticky()))
		return rc;
	return idle ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}
