/* daemon/sim/sim_ctx.c - the primary context, the current context, the
 * sticky error, and context reset.
 *
 * Contract: each device has one primary context: retain counts up and
 * returns its handle (device 0: sim_ctx; device d: &sim_pctx[d], sharing
 * sim_ctx's state, sim.h); the release that brings the count of every
 * device to zero resets it as the real driver does: all queued work completes, every stream,
 * event, module and function handle becomes invalid, all device memory is
 * freed and the sticky error is cleared. cuCtxSetCurrent sets the calling
 * thread's current context. A kernel fault (sim_fault) is sticky: every
 * later call that uses the context returns it, until the reset.
 */
#include "sim.h"
#include <stdio.h>
#include <stdlib.h>

struct sim_ctx sim_ctx = {.mu = PTHREAD_MUTEX_INITIALIZER};
const char sim_pctx[SIM_MAX_DEVS];
static int dev_refs[SIM_MAX_DEVS]; /* per device; sim_ctx.refs: the sum */
/* Serialises retain and release, so that a reset runs alone without
 * holding sim_ctx.mu (which the stream workers take when they exit). */
static pthread_mutex_t life = PTHREAD_MUTEX_INITIALIZER;
static __thread const void *current; /* &sim_ctx or a user context */

int sim_ctx_start(char *err, size_t errlen)
{
	sim_ctx.legacy = sim_stream_new(SIM_S_LEGACY, true);
	if (!sim_ctx.legacy) {
		snprintf(err, errlen, "cannot start the legacy stream's thread");
		return -1;
	}
	return 0;
}

CUresult sim_sticky(void)
{
	return (CUresult)atomic_load(&sim_ctx.sticky);
}

void sim_fault(CUresult e)
{
	int none = 0;
	atomic_compare_exchange_strong(&sim_ctx.sticky, &none, (int)e);
}

const void *sim_ctx_tag(void)
{
	return current;
}

void sim_ctx_switch(const void *c)
{
	current = c;
}

CUresult sim_enter_handle(void)
{
	CUresult rc = sim_check_init();
	return rc ? rc : sim_sticky();
}

CUresult sim_enter(void)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (!current)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!atomic_load(&sim_ctx.active))
		return CUDA_ERROR_CONTEXT_IS_DESTROYED;
	return sim_sticky();
}

void sim_ctx_drain(void)
{
	pthread_mutex_lock(&sim_ctx.mu);
	size_t n = 0;
	for (struct sim_stream *s = sim_ctx.streams; s; s = s->next)
		n++;
	struct sim_stream **v = malloc((n + 1) * sizeof(*v));
	n = 0;
	for (struct sim_stream *s = sim_ctx.streams; v && s; s = s->next) {
		sim_obj_ref(&s->obj);
		v[n++] = s;
	}
	pthread_mutex_unlock(&sim_ctx.mu);
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&v[i]->mu);
		uint64_t seq = v[i]->enq;
		pthread_mutex_unlock(&v[i]->mu);
		sim_stream_wait(v[i], seq);
		sim_stream_put(v[i]);
	}
	free(v);
}

/* Every object of kind k, or only those tagged with context only. */
static void invalidate(enum sim_kind k, const void *only)
{
	struct sim_obj **v;
	size_t n;
	if (sim_obj_collect(k, &v, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		if (only && v[i]->ctx != only) {
			sim_obj_put(v[i]);
			continue;
		}
		if (sim_obj_unregister(v[i]) && k == SIM_STREAM)
			sim_stream_close((struct sim_stream *)v[i]);
		sim_obj_put(v[i]);
	}
	free(v);
}

/* The last release: everything the context owned goes. Functions before
 * modules (each function holds its module). */
static void reset(void)
{
	atomic_store(&sim_ctx.active, false);
	sim_ctx_drain();
	invalidate(SIM_STREAM, NULL);
	invalidate(SIM_EVENT, NULL);
	invalidate(SIM_GEXEC, NULL);
	invalidate(SIM_GNODE, NULL);
	invalidate(SIM_GRAPH, NULL);
	invalidate(SIM_FUNC, NULL);
	invalidate(SIM_MODULE, NULL);
	sim_stream_close_per_thread();
	sim_vmm_reset();
	sim_pool_reset();
	sim_ipc_reset();
	sim_heap_free_all();
	sim_peer_reset();
	pthread_mutex_lock(&sim_ctx.mu);
	sim_ctx.epoch++;
	pthread_mutex_unlock(&sim_ctx.mu);
	atomic_store(&sim_ctx.sticky, 0);
}

/* A non-primary context destroyed: its queued work completes, then its
 * objects and memory go (sim_ctx_user.c). */
void sim_ctx_free_tagged(const void *c)
{
	static const enum sim_kind kinds[] = {SIM_STREAM, SIM_EVENT,
		SIM_GEXEC, SIM_GNODE, SIM_GRAPH, SIM_FUNC, SIM_MODULE};
	sim_ctx_drain();
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		invalidate(kinds[i], c);
	sim_heap_free_ctx(c);
	if (current == c)
		current = NULL;
}

static const void *primary(int dev)
{
	return dev == 0 ? (const void *)&sim_ctx : (const void *)&sim_pctx[dev];
}

int sim_ctx_dev(const void *c)
{
	if (c == (const void *)&sim_ctx)
		return 0;
	const char *p = c;
	if (p > sim_pctx && p < sim_pctx + SIM_MAX_DEVS &&
	    p - sim_pctx < sim_cfg.ndevs)
		return (int)(p - sim_pctx);
	return sim_ctx_user_valid(c) ? sim_ctx_user_dev(c) : -1;
}

bool sim_ctx_valid(const void *c)
{
	return sim_ctx_dev(c) >= 0;
}

int sim_cur_dev(void)
{
	int d = current ? sim_ctx_dev(current) : 0;
	return d < 0 ? 0 : d;
}

CUresult sim_cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	CUresult rc = sim_check_dev(dev);
	if (rc)
		return rc;
	if (!pctx)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&life);
	sim_ctx.refs++;
	dev_refs[dev]++;
	atomic_store(&sim_ctx.active, true);
	pthread_mutex_unlock(&life);
	*pctx = (CUcontext)primary(dev);
	return CUDA_SUCCESS;
}

CUresult sim_cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	CUresult rc = sim_check_dev(dev);
	if (rc)
		return rc;
	pthread_mutex_lock(&life);
	if (dev_refs[dev] == 0) {
		rc = CUDA_ERROR_INVALID_CONTEXT;
	} else {
		dev_refs[dev]--;
		if (--sim_ctx.refs == 0)
			reset();
	}
	pthread_mutex_unlock(&life);
	return rc;
}

CUresult sim_cuCtxSetCurrent(CUcontext ctx)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (ctx && !sim_ctx_valid(ctx))
		return CUDA_ERROR_INVALID_CONTEXT;
	current = (struct sim_ctx *)ctx;
	return CUDA_SUCCESS;
}

CUresult sim_cuCtxSynchronize(void)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if ((rc = sim_capture_ctx_sync()))
		return rc;
	sim_ctx_drain();
	return sim_sticky();
}
