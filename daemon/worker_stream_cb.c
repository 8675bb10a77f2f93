/* daemon/worker_stream_cb.c - host callbacks: the driver's side of a
 * guest's cuLaunchHostFunc / cuStreamAddCallback.
 *
 * Contract: a guest's host call is enqueued on the real stream as a real
 * host function (vw_cb_trampoline) carrying the guest's token. When the
 * stream reaches it, the driver's thread posts the token here and waits;
 * the guest's completion thread, long-polling with VGPU_CU_CB_POLL, gets
 * the token, runs the function in the guest and says so with its next
 * poll, which releases the driver's thread: later work on the stream
 * waits for the callback's return, as natively. Tokens are handed out in
 * the order the driver runs host functions, so in stream order.
 *
 * Liveness: a host function never waits on a guest that is gone. The
 * worker exits when its guest process does, and vw_cb_close (called before
 * the executors are joined) releases every waiter and answers every poll
 * with CUDA_ERROR_DEINITIALIZED; nothing waits again after that. A guest
 * that never polls only stalls its own streams, as a native callback that
 * never returns does.
 *
 * Graph host nodes and captured cuLaunchHostFunc run at every launch:
 * their driver argument is the token itself (vw_cb_persistent_fn), not
 * an allocation, so graphs and their execs own nothing here.
 */
#include "worker_stream.h"
#include "../ring/cuda_proto_stream.h"
#include <stdlib.h>
#include <string.h>

struct vw_cb {
	struct vw_cb *next;
	uint64_t token;
	CUresult status;
	bool done;
};

struct vw_cb_hub {
	pthread_mutex_t mu;
	pthread_cond_t cv;        /* pollers and host functions */
	struct vw_cb *ready;      /* posted, not yet handed out (FIFO) */
	struct vw_cb **ready_end;
	struct vw_cb *running;    /* handed to the guest, not yet done */
	bool closing;
};

static struct vw_cb_hub *hub(struct vworker *W)
{
	pthread_mutex_lock(&W->mu);
	if (!W->cb && (W->cb = calloc(1, sizeof(*W->cb)))) {
		pthread_mutex_init(&W->cb->mu, NULL);
		pthread_cond_init(&W->cb->cv, NULL);
		W->cb->ready_end = &W->cb->ready;
	}
	struct vw_cb_hub *h = W->cb;
	pthread_mutex_unlock(&W->mu);
	return h;
}

static void unlink_cb(struct vw_cb **list, struct vw_cb *c)
{
	for (; *list; list = &(*list)->next)
		if (*list == c) {
			*list = c->next;
			return;
		}
}

void vw_cb_run(struct vworker *W, uint64_t token, CUresult status)
{
	struct vw_cb_hub *h = hub(W);
	if (!h)
		return; /* no memory: better a skipped callback than a hang */
	struct vw_cb c = {.token = token, .status = status};
	pthread_mutex_lock(&h->mu);
	if (!h->closing) {
		*h->ready_end = &c;
		h->ready_end = &c.next;
		pthread_cond_broadcast(&h->cv);
		while (!c.done && !h->closing)
			pthread_cond_wait(&h->cv, &h->mu);
	}
	if (!c.done) { /* closing: c may still be on either list */
		unlink_cb(&h->running, &c);
		unlink_cb(&h->ready, &c);
		h->ready_end = &h->ready;
		while (*h->ready_end)
			h->ready_end = &(*h->ready_end)->next;
	}
	pthread_mutex_unlock(&h->mu);
}

void vw_cb_close(struct vworker *W)
{
	struct vw_cb_hub *h = hub(W);
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->closing = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* The guest ran `token`: release its host function. An unknown token
 * (a guest's mistake or malice) changes nothing. */
static void mark_done(struct vw_cb_hub *h, uint64_t token)
{
	for (struct vw_cb **p = &h->running; *p; p = &(*p)->next)
		if ((*p)->token == token) {
			struct vw_cb *c = *p;
			*p = c->next;
			c->done = true;
			pthread_cond_broadcast(&h->cv);
			return;
		}
}

void vw_cb_poll(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args a = {{0}}, out = {{0}};
	struct vw_cb_hub *h = hub(W);
	if (m->len != sizeof(a) || !h) {
		vw_reply(W, m, h ? CUDA_ERROR_INVALID_VALUE
				 : CUDA_ERROR_OUT_OF_MEMORY, NULL, 0, 0);
		return;
	}
	memcpy(&a, m->data, sizeof(a));
	pthread_mutex_lock(&h->mu);
	if (a.a[0])
		mark_done(h, a.a[0]);
	while (!h->ready && !h->closing)
		pthread_cond_wait(&h->cv, &h->mu);
	CUresult r = CUDA_ERROR_DEINITIALIZED;
	struct vw_cb *c = h->closing ? NULL : h->ready;
	if (c) {
		h->ready = c->next;
		if (!h->ready)
			h->ready_end = &h->ready;
		c->next = h->running;
		h->running = c;
		out.a[0] = c->token;
		out.a[1] = (uint64_t)c->status;
		r = CUDA_SUCCESS;
	}
	pthread_mutex_unlock(&h->mu);
	vw_reply(W, m, r, &out, sizeof(out), 0);
}

/* What the driver calls: the token travels in a small allocation. */
struct tramp {
	struct vworker *W;
	uint64_t token;
};

static void host_fn(void *p)
{
	struct tramp t = *(struct tramp *)p;
	free(p);
	vw_cb_run(t.W, t.token, CUDA_SUCCESS);
}

static void stream_cb(CUstream s, CUresult status, void *p)
{
	struct tramp t = *(struct tramp *)p;
	(void)s;
	free(p);
	vw_cb_run(t.W, t.token, status);
}

/* The trampoline of host functions that run more than once (graph host
 * nodes, captured cuLaunchHostFunc): its argument is the guest's token,
 * so nothing is owned by the graph, its execs or their copies of the
 * node's parameters, and nothing can be freed early or leak. */
static struct vworker *persist_worker;

void vw_cb_persist_bind(struct vworker *W)
{
	__atomic_store_n(&persist_worker, W, __ATOMIC_RELEASE);
}

void vw_cb_persistent_fn(void *token)
{
	struct vworker *W = __atomic_load_n(&persist_worker, __ATOMIC_ACQUIRE);
	if (W && token)
		vw_cb_run(W, (uint64_t)(uintptr_t)token, CUDA_SUCCESS);
}

/* VGPU_CU_HOST_FUNC: a[0] stream, a[1] token, a[2] kind, a[3] flags. */
CUresult vw_cb_enqueue(struct vworker *W, const struct vgpu_cu_args *a)
{
	CUstream s;
	CUresult r = vw_stream(W, a->a[0], &s);
	if (r)
		return r;
	if (!a->a[1] || a->a[2] > VGPU_HOSTFN_CALLBACK ||
	    (a->a[2] == VGPU_HOSTFN_LAUNCH && a->a[3]))
		return CUDA_ERROR_INVALID_VALUE;
	if (a->a[3] > UINT32_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	/* A captured host function is replayed at every launch, so its
	 * driver argument must outlive the capture: it is the token itself
	 * (a value, nothing to free), and the worker is found through
	 * persist_worker (one worker process serves one guest process).
	 * A stream callback is not capturable natively. */
	CUstreamCaptureStatus cs = CU_STREAM_CAPTURE_STATUS_NONE;
	r = W->drv.cuStreamIsCapturing(s, &cs);
	if (r)
		return r;
	if (cs != CU_STREAM_CAPTURE_STATUS_NONE) {
		if (a->a[2] != VGPU_HOSTFN_LAUNCH)
			return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
		vw_cb_persist_bind(W);
		return W->drv.cuLaunchHostFunc(s, vw_cb_persistent_fn,
					       (void *)(uintptr_t)a->a[1]);
	}
	struct tramp *t = malloc(sizeof(*t));
	if (!t)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*t = (struct tramp){W, a->a[1]};
	r = a->a[2] == VGPU_HOSTFN_LAUNCH
		    ? W->drv.cuLaunchHostFunc(s, host_fn, t)
		    : W->drv.cuStreamAddCallback(s, stream_cb, t,
						 (unsigned)a->a[3]);
	if (r)
		free(t); /* the driver did not take it */
	return r;
}
