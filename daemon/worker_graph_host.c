/* daemon/worker_graph_host.c - pageable host-to-device copies captured
 * into graphs.
 *
 * Contract: natively, a cuMemcpyHtoDAsync from pageable memory queued on a
 * capturing stream becomes a memcpy node that reads the host bytes each
 * time the graph runs. The worker cannot read guest memory at replay, so
 * each such copy gets a worker-owned buffer (ordinary memory: the real
 * driver takes it as the pageable source it is natively) that the node
 * reads, recorded with the guest address and length ("a host range"). A
 * range belongs to its capture until that ends well (then to its graph),
 * and to every executable made from or updated to that graph. The guest's
 * cuGraphLaunch of an executable with ranges first sends the current
 * bytes of each (FILL), then launches here (LAUNCH): a fill waits for the
 * last launch that read the buffer, and launches sharing a buffer are
 * ordered by an event, so each replay copies the bytes the guest had when
 * it launched, never a later launch's. A range is freed once its graph
 * and every executable using it are gone. Device-to-host pageable copies
 * in capture stay refused (vw_graph_staged_copy_ok): the guest would have
 * to learn when each replay finished to copy the bytes back.
 */
#include "worker.h"
#include "worker_sched.h"
#include <stdlib.h>
#include <string.h>

#define MAX_BYTES (1ull << 30) /* all ranges of one worker */
#define MAX_RANGES 4096

struct range {
	uint64_t id;
	uint64_t capture;    /* the capture that made it */
	CUgraph graph;       /* its graph once the capture ended well */
	bool confirmed;      /* graph is valid */
	uint64_t guest, n;   /* the guest's source */
	void *buf;
	CUevent last;        /* after the latest launch reading buf; lazy */
};

struct link {
	uint64_t exec; /* executable id */
	uint64_t range;
};

struct vw_ghosts {
	pthread_mutex_t mu;
	struct range *r;
	size_t nr, rcap;
	struct link *l;
	size_t nl, lcap;
	uint64_t next, bytes;
};

static struct vw_ghosts *of(struct vworker *W)
{
	pthread_mutex_lock(&W->mu);
	if (!W->ghosts && (W->ghosts = calloc(1, sizeof(*W->ghosts))))
		pthread_mutex_init(&W->ghosts->mu, NULL);
	struct vw_ghosts *g = W->ghosts;
	pthread_mutex_unlock(&W->mu);
	return g;
}

static struct range *range_get(struct vw_ghosts *g, uint64_t id)
{
	for (size_t i = 0; i < g->nr; i++)
		if (g->r[i].id == id)
			return &g->r[i];
	return NULL;
}

static bool linked(struct vw_ghosts *g, uint64_t id)
{
	for (size_t i = 0; i < g->nl; i++)
		if (g->l[i].range == id)
			return true;
	return false;
}

/* Free range i unless a graph or an executable still uses it. */
static void settle(struct vworker *W, struct vw_ghosts *g, size_t i)
{
	struct range *r = &g->r[i];
	if (r->confirmed || linked(g, r->id))
		return;
	if (r->last) { /* a launch may still read buf */
		W->drv.cuEventSynchronize(r->last);
		W->drv.cuEventDestroy_v2(r->last);
	}
	free(r->buf);
	g->bytes -= r->n;
	g->r[i] = g->r[--g->nr];
}

static void settle_all(struct vworker *W, struct vw_ghosts *g)
{
	for (size_t i = g->nr; i-- > 0;)
		settle(W, g, i);
}

static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return true;
	size_t c = *cap ? 2 * *cap : 16;
	void *p = realloc(*v, c * size);
	if (!p)
		return false;
	*v = p;
	*cap = c;
	return true;
}

/* ---- capture ------------------------------------------------------ */

static CUresult capture(struct vworker *W, const uint64_t *a)
{
	uint64_t dst = a[1], guest = a[3], n = a[4];
	CUstream s;
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	cuuint64_t cap = 0;
	CUgraph graph = NULL;
	struct vw_ghosts *g = of(W);
	if (!g)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (!n || !guest || guest + n < guest)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = vw_range(W, dst, n);
	if (!r)
		r = vw_stream(W, a[2], &s);
	if (!r)
		r = W->drv.cuStreamGetCaptureInfo_v2(s, &st, &cap, &graph, NULL,
						     NULL);
	if (r)
		return r;
	if (st == CU_STREAM_CAPTURE_STATUS_INVALIDATED)
		return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
	if (st != CU_STREAM_CAPTURE_STATUS_ACTIVE)
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; /* ended since */
	pthread_mutex_lock(&g->mu);
	if (g->nr >= MAX_RANGES || n > MAX_BYTES - g->bytes ||
	    !grow((void **)&g->r, &g->rcap, g->nr, sizeof(*g->r))) {
		pthread_mutex_unlock(&g->mu);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	void *buf = calloc(1, n);
	r = buf ? W->drv.cuMemcpyHtoDAsync_v2(dst, buf, n, s)
		: CUDA_ERROR_OUT_OF_MEMORY;
	if (r) {
		free(buf);
	} else {
		g->r[g->nr++] = (struct range){.id = ++g->next, .capture = cap,
					       .graph = graph, .guest = guest,
					       .n = n, .buf = buf};
		g->bytes += n;
	}
	pthread_mutex_unlock(&g->mu);
	return r;
}

void vw_graph_host_capture_end(struct vworker *W, uint64_t capture,
			       CUgraph graph, bool ok)
{
	struct vw_ghosts *g = W->ghosts;
	if (!g || !capture)
		return;
	pthread_mutex_lock(&g->mu);
	for (size_t i = g->nr; i-- > 0;) {
		struct range *r = &g->r[i];
		if (r->capture != capture || r->confirmed)
			continue;
		r->capture = 0;
		if (ok) {
			r->graph = graph;
			r->confirmed = true;
		} else {
			settle(W, g, i);
		}
	}
	pthread_mutex_unlock(&g->mu);
}

void vw_graph_host_graph_gone(struct vworker *W, CUgraph graph)
{
	struct vw_ghosts *g = W->ghosts;
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; i < g->nr; i++)
		if (g->r[i].confirmed && g->r[i].graph == graph)
			g->r[i].confirmed = false;
	settle_all(W, g);
	pthread_mutex_unlock(&g->mu);
}

/* ---- executables -------------------------------------------------- */

static size_t unlink_exec(struct vw_ghosts *g, uint64_t exec)
{
	size_t k = 0, dropped = 0;
	for (size_t i = 0; i < g->nl; i++)
		if (g->l[i].exec != exec)
			g->l[k++] = g->l[i];
		else
			dropped++;
	g->nl = k;
	return dropped;
}

uint64_t vw_graph_host_bind(struct vworker *W, uint64_t exec, CUgraph graph,
			    CUresult *rc)
{
	struct vw_ghosts *g = W->ghosts;
	uint64_t n = 0;
	*rc = CUDA_SUCCESS;
	if (!g)
		return 0;
	pthread_mutex_lock(&g->mu);
	unlink_exec(g, exec);
	for (size_t i = 0; i < g->nr && !*rc; i++) {
		if (!g->r[i].confirmed || g->r[i].graph != graph)
			continue;
		if (!grow((void **)&g->l, &g->lcap, g->nl, sizeof(*g->l)))
			*rc = CUDA_ERROR_OUT_OF_MEMORY;
		else
			g->l[g->nl++] = (struct link){exec, g->r[i].id};
		n++;
	}
	if (*rc)
		unlink_exec(g, exec);
	settle_all(W, g);
	pthread_mutex_unlock(&g->mu);
	return *rc ? 0 : n;
}

void vw_graph_host_exec_gone(struct vworker *W, uint64_t exec)
{
	struct vw_ghosts *g = W->ghosts;
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	if (unlink_exec(g, exec))
		settle_all(W, g);
	pthread_mutex_unlock(&g->mu);
}

/* The index-th range executable exec reads (under g->mu). */
static struct range *nth(struct vw_ghosts *g, uint64_t exec, uint64_t index)
{
	for (size_t i = 0; i < g->nl; i++)
		if (g->l[i].exec == exec && index-- == 0)
			return range_get(g, g->l[i].range);
	return NULL;
}

static CUresult describe(struct vworker *W, const uint64_t *a, uint64_t *out)
{
	struct vw_ghosts *g = W->ghosts;
	void *e;
	CUresult r = vw_handle_get(W, VGPU_HK_GRAPH_EXEC, a[1], &e);
	if (r)
		return r;
	if (!g)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&g->mu);
	struct range *x = nth(g, a[1], a[2]);
	if (x) {
		out[0] = x->guest;
		out[1] = x->n;
	}
	pthread_mutex_unlock(&g->mu);
	return x ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* Launch: after every earlier launch reading the same buffers (their
 * bytes are this launch's now), and before the next fill of them. */
static CUresult launch(struct vworker *W, const uint64_t *a)
{
	struct vw_ghosts *g = W->ghosts;
	CUgraphExec e;
	CUstream s;
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	CUresult r = vw_handle_get(W, VGPU_HK_GRAPH_EXEC, a[1], (void **)&e);
	if (!r)
		r = vw_stream(W, a[2], &s);
	if (!r)
		r = W->drv.cuStreamIsCapturing(s, &st);
	if (r)
		return r;
	struct vw_ticket t;
	if (!g) {
		vw_sched_before(W, e, s, &t);
		r = W->drv.cuGraphLaunch(e, s);
		vw_sched_after(W, &t, s, r);
		return r;
	}
	/* into a capture, the bytes would have to be sent at the outer
	 * graph's launches: not supported */
	if (st != CU_STREAM_CAPTURE_STATUS_NONE)
		return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	/* tokens first: a launch waiting for them holds no lock */
	vw_sched_before(W, e, s, &t);
	pthread_mutex_lock(&g->mu);
	for (size_t i = 0; i < g->nl && !r; i++) {
		if (g->l[i].exec != a[1])
			continue;
		struct range *x = range_get(g, g->l[i].range);
		if (!x->last)
			r = W->drv.cuEventCreate(&x->last,
						 CU_EVENT_DISABLE_TIMING);
		if (!r)
			r = W->drv.cuStreamWaitEvent(s, x->last, 0);
	}
	if (!r)
		r = W->drv.cuGraphLaunch(e, s);
	vw_sched_after(W, &t, s, r); /* a failure gives the tokens back */
	for (size_t i = 0; i < g->nl && !r; i++)
		if (g->l[i].exec == a[1])
			r = W->drv.cuEventRecord(
				range_get(g, g->l[i].range)->last, s);
	pthread_mutex_unlock(&g->mu);
	return r;
}

/* One chunk of a range's bytes: xfer {exec id, range index}, at tag. */
static CUresult fill(struct vworker *W, const struct vgpu_msg *m)
{
	struct vw_ghosts *g = W->ghosts;
	uint64_t x[2];
	void *e;
	if (m->len != sizeof(x) || !(m->flags & VGPU_MSG_ARENA) || !g)
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(x, m->data, sizeof(x));
	CUresult r = vw_handle_get(W, VGPU_HK_GRAPH_EXEC, x[0], &e);
	if (r)
		return r;
	pthread_mutex_lock(&g->mu);
	struct range *rg = nth(g, x[0], x[1]);
	if (!rg || m->tag > rg->n || m->arena_len > rg->n - m->tag) {
		r = CUDA_ERROR_INVALID_VALUE;
	} else if (!rg->last || !(r = W->drv.cuEventSynchronize(rg->last))) {
		memcpy((uint8_t *)rg->buf + m->tag,
		       vgpu_arena(&W->r, W->chan) + m->arena_off,
		       m->arena_len);
	}
	pthread_mutex_unlock(&g->mu);
	return r;
}

bool vw_graph_host_execute(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args a = {{0}}, out = {{0}};
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (m->op == VGPU_CU_GRAPH_HOST_FILL) {
		r = vw_take_async_err(W, fill(W, m));
		vw_reply(W, m, r, NULL, 0, 0);
		return true;
	}
	if (m->op != VGPU_CU_GRAPH_HOST)
		return false;
	if (m->len == sizeof(a)) {
		memcpy(&a, m->data, sizeof(a));
		switch (a.a[0]) {
		case VGPU_GH_CAPTURE: r = capture(W, a.a); break;
		case VGPU_GH_RANGE: r = describe(W, a.a, out.a); break;
		case VGPU_GH_LAUNCH: r = launch(W, a.a); break;
		}
	}
	r = vw_take_async_err(W, r);
	vw_reply(W, m, r, &out, sizeof(out), 0);
	return true;
}

size_t vw_graph_host_count(struct vworker *W)
{
	struct vw_ghosts *g = W->ghosts;
	if (!g)
		return 0;
	pthread_mutex_lock(&g->mu);
	size_t n = g->nr;
	pthread_mutex_unlock(&g->mu);
	return n;
}

void vw_graph_host_forget(struct vworker *W)
{
	struct vw_ghosts *g = W->ghosts;
	if (!g)
		return;
	W->ghosts = NULL;
	for (size_t i = 0; i < g->nr; i++)
		free(g->r[i].buf); /* the driver's events go with the context */
	free(g->r);
	free(g->l);
	pthread_mutex_destroy(&g->mu);
	free(g);
}
