/* daemon/sim/sim_capture.c - stream capture: work queued on a capturing
 * stream becomes graph nodes instead of running.
 *
 * Contract, as the CUDA programming guide describes capture:
 * cuStreamBeginCapture makes a stream the origin of a capture sequence
 * (never the legacy stream: STREAM_CAPTURE_UNSUPPORTED) with a new graph;
 * each operation queued on a member stream becomes a node depending on
 * that stream's previous ones. An event recorded in a capturing stream
 * marks a point of the capture (no node); a stream that waits for it
 * joins the capture (fork), and the origin waiting for an event of a
 * forked stream joins it back. cuStreamEndCapture on the origin returns
 * the graph: NULL with STREAM_CAPTURE_INVALIDATED if an illegal call
 * invalidated the capture, with STREAM_CAPTURE_UNJOINED if some captured
 * work is not joined back into the origin; from another thread than the
 * one that began a non-relaxed capture, STREAM_CAPTURE_WRONG_THREAD (and
 * the capture is over, its graph gone, as natively).
 * Illegal during capture (the capture is invalidated): synchronising or
 * querying a capturing stream or the context (STREAM_CAPTURE_UNSUPPORTED),
 * any use of the legacy stream while a blocking stream captures
 * (STREAM_CAPTURE_IMPLICIT), querying or synchronising an event recorded
 * in the capture (CAPTURED_EVENT), waiting in a capture for an event
 * recorded outside it (STREAM_CAPTURE_ISOLATION) or in another capture
 * (STREAM_CAPTURE_MERGE); work on an invalidated capture's stream is
 * STREAM_CAPTURE_INVALIDATED. A 1D host-to-device copy becomes a memcpy
 * node that reads the host bytes when it runs, as natively for pageable
 * memory; other copies from or to host memory are refused
 * (STREAM_CAPTURE_UNSUPPORTED, invalidating). Potentially unsafe calls
 * (cuMemAlloc, cuMemFree, cuEventQuery) follow
 * cuThreadExchangeStreamCaptureMode's rules: refused with
 * STREAM_CAPTURE_UNSUPPORTED, invalidating the capture that forbids them,
 * unless the thread's mode is RELAXED.
 */
#define _GNU_SOURCE
#include "sim.h"
#include <stdlib.h>
#include <string.h>

/* Recursive: a graph's last reference may go while the lock is held
 * (a capture torn down), and freeing a graph takes it. */
pthread_mutex_t sim_gmu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

struct capture {
	uint64_t id;
	struct sim_graph *g;        /* referenced */
	struct sim_stream *origin;
	CUstreamCaptureMode mode;
	pthread_t thread;           /* that began it */
	bool invalid;
};

/* A stream in a capture, or an event recorded in one, with the nodes
 * that work after it depends on. */
struct point {
	struct sim_obj *o;          /* stream or event, referenced */
	struct capture *c;
	struct sim_gnode **deps;
	size_t ndeps;
};

static struct capture **caps;
static size_t ncaps;
static struct point *members, *events;
static size_t nmembers, nevents;
static atomic_int active; /* ncaps, read without the lock */
static uint64_t next_id = 1;
static __thread CUstreamCaptureMode tl_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;

static struct point *find(struct point *v, size_t n, const void *o)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].o == o)
			return &v[i];
	return NULL;
}

static struct point *member_of(struct sim_stream *s)
{
	return find(members, nmembers, &s->obj);
}

static int set_deps(struct point *p, struct sim_gnode *const *d, size_t n)
{
	struct sim_gnode **v = n ? malloc(n * sizeof(*v)) : NULL;
	if (n && !v)
		return -1;
	if (n)
		memcpy(v, d, n * sizeof(*v));
	free(p->deps);
	p->deps = v;
	p->ndeps = n;
	return 0;
}

/* Append a point for o (referenced here) to *v. */
static struct point *add_point(struct point **v, size_t *n, struct sim_obj *o,
			       struct capture *c)
{
	struct point *nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	*v = nv;
	sim_obj_ref(o);
	nv[*n] = (struct point){.o = o, .c = c};
	return &nv[(*n)++];
}

/* Objects to put once sim_gmu is released (puts may free streams). */
struct later {
	struct sim_obj **o;
	size_t n;
};

static void drop_point(struct point *v, size_t *n, size_t i,
		       struct later *l)
{
	free(v[i].deps);
	struct sim_obj **no = realloc(l->o, (l->n + 1) * sizeof(*no));
	if (no) {
		l->o = no;
		l->o[l->n++] = v[i].o;
	} else {
		sim_obj_put(v[i].o); /* a stream's last put only frees memory */
	}
	v[i] = v[--*n];
}

static void put_later(struct later *l)
{
	for (size_t i = 0; i < l->n; i++)
		sim_obj_put(l->o[i]);
	free(l->o);
}

/* Forget c's streams, events and c itself; its graph goes too unless
 * keep (then the caller owns c's reference). */
static void teardown(struct capture *c, bool keep, struct later *l)
{
	for (size_t i = 0; i < nmembers;)
		if (members[i].c == c)
			drop_point(members, &nmembers, i, l);
		else
			i++;
	for (size_t i = 0; i < nevents;)
		if (events[i].c == c)
			drop_point(events, &nevents, i, l);
		else
			i++;
	for (size_t i = 0; i < ncaps; i++)
		if (caps[i] == c) {
			caps[i] = caps[--ncaps];
			break;
		}
	atomic_store(&active, (int)ncaps);
	if (!keep) {
		sim_graph_unregister(c->g);
		sim_obj_put(&c->g->obj);
	}
	free(c);
}

static bool legacy_blocked(struct sim_stream *s)
{
	if (s->type != SIM_S_LEGACY)
		return false;
	bool hit = false;
	for (size_t i = 0; i < nmembers; i++) {
		struct sim_stream *m = (struct sim_stream *)members[i].o;
		if (m->blocking) {
			members[i].c->invalid = true;
			hit = true;
		}
	}
	return hit;
}

CUresult sim_cuStreamBeginCapture_v2(CUstream hs, CUstreamCaptureMode mode)
{
	struct sim_stream *s;
	CUresult rc = sim_stream_resolve(hs, &s);
	if (rc)
		return rc;
	if ((unsigned)mode > CU_STREAM_CAPTURE_MODE_RELAXED)
		rc = CUDA_ERROR_INVALID_VALUE;
	else if (s->type == SIM_S_LEGACY)
		rc = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	struct capture *c = rc ? NULL : calloc(1, sizeof(*c));
	if (!rc && !c)
		rc = CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&sim_gmu);
	struct capture **nc = NULL;
	if (!rc && member_of(s))
		rc = CUDA_ERROR_ILLEGAL_STATE;
	if (!rc && (!(nc = realloc(caps, (ncaps + 1) * sizeof(*nc))) ||
		    !(c->g = sim_graph_new())))
		rc = CUDA_ERROR_OUT_OF_MEMORY;
	if (nc)
		caps = nc;
	if (!rc && !add_point(&members, &nmembers, &s->obj, c)) {
		sim_graph_unregister(c->g);
		sim_obj_put(&c->g->obj);
		rc = CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (!rc) {
		*c = (struct capture){.id = next_id++, .g = c->g, .origin = s,
				      .mode = mode, .thread = pthread_self()};
		caps[ncaps++] = c;
		atomic_store(&active, (int)ncaps);
		c = NULL;
	}
	pthread_mutex_unlock(&sim_gmu);
	free(c);
	sim_stream_put(s);
	return rc;
}

/* Every node reachable backwards from the origin's current dependencies:
 * anything else was forked off and never joined. */
static bool joined(struct capture *c, struct point *o)
{
	struct sim_graph *g = c->g;
	bool ok = true;
	struct sim_gnode **stack = malloc((g->n + 1) * sizeof(*stack));
	bool *seen = calloc(g->n + 1, 1);
	if (!stack || !seen) {
		free(stack);
		free(seen);
		return true; /* cannot tell: do not fail a good capture */
	}
	size_t top = 0;
	for (size_t i = 0; i < o->ndeps; i++)
		stack[top++] = o->deps[i];
	size_t reached = 0;
	while (top) {
		struct sim_gnode *n = stack[--top];
		size_t k = 0;
		while (k < g->n && g->nodes[k] != n)
			k++;
		if (k == g->n || seen[k])
			continue;
		seen[k] = true;
		reached++;
		for (size_t i = 0; i < n->ndeps && top < g->n; i++)
			stack[top++] = n->deps[i];
	}
	ok = reached == g->n;
	free(stack);
	free(seen);
	return ok;
}

CUresult sim_cuStreamEndCapture(CUstream hs, CUgraph *phGraph)
{
	struct sim_stream *s;
	struct later l = {0};
	CUresult rc = sim_stream_resolve(hs, &s);
	if (rc)
		return rc;
	if (!phGraph) {
		sim_stream_put(s);
		return CUDA_ERROR_INVALID_VALUE;
	}
	pthread_mutex_lock(&sim_gmu);
	struct point *m = member_of(s);
	struct capture *c = m ? m->c : NULL;
	if (!c)
		rc = CUDA_ERROR_ILLEGAL_STATE;
	else if (c->origin != s)
		rc = CUDA_ERROR_STREAM_CAPTURE_UNMATCHED;
	else if (c->mode != CU_STREAM_CAPTURE_MODE_RELAXED &&
		 !pthread_equal(c->thread, pthread_self()))
		rc = CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
	else if (c->invalid)
		rc = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
	else if (!joined(c, m))
		rc = CUDA_ERROR_STREAM_CAPTURE_UNJOINED;
	/* a refused end from the wrong thread ends the capture too: natively
	 * (H200, driver 580) the origin thread's end is then ILLEGAL_STATE */
	if (c && c->origin == s) {
		*phGraph = rc ? NULL : (CUgraph)c->g;
		struct sim_graph *g = c->g;
		teardown(c, !rc, &l);
		if (!rc)
			sim_obj_put(&g->obj); /* the handle's reference stays */
	}
	pthread_mutex_unlock(&sim_gmu);
	put_later(&l);
	sim_stream_put(s);
	return rc;
}

static CUstreamCaptureStatus status_of(struct sim_stream *s,
				       struct point **m)
{
	*m = member_of(s);
	if (!*m)
		return CU_STREAM_CAPTURE_STATUS_NONE;
	return (*m)->c->invalid ? CU_STREAM_CAPTURE_STATUS_INVALIDATED
				: CU_STREAM_CAPTURE_STATUS_ACTIVE;
}

/* The legacy stream cannot be asked while a blocking stream captures. */
static bool legacy_conflict(struct sim_stream *s)
{
	if (s->type != SIM_S_LEGACY)
		return false;
	for (size_t i = 0; i < nmembers; i++)
		if (((struct sim_stream *)members[i].o)->blocking)
			return true;
	return false;
}

CUresult sim_cuStreamIsCapturing(CUstream hs, CUstreamCaptureStatus *st)
{
	struct sim_stream *s;
	struct point *m;
	CUresult rc = sim_stream_resolve(hs, &s);
	if (rc)
		return rc;
	pthread_mutex_lock(&sim_gmu);
	if (!st)
		rc = CUDA_ERROR_INVALID_VALUE;
	else if (legacy_conflict(s))
		rc = CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
	else
		*st = status_of(s, &m);
	pthread_mutex_unlock(&sim_gmu);
	sim_stream_put(s);
	return rc;
}

/* The dependencies pointer stays valid until the stream's next capture
 * operation, as natively. */
CUresult sim_cuStreamGetCaptureInfo_v2(CUstream hs,
				       CUstreamCaptureStatus *st,
				       cuuint64_t *id, CUgraph *graph,
				       const CUgraphNode **deps, size_t *ndeps)
{
	struct sim_stream *s;
	struct point *m;
	CUresult rc = sim_stream_resolve(hs, &s);
	if (rc)
		return rc;
	pthread_mutex_lock(&sim_gmu);
	if (!st)
		rc = CUDA_ERROR_INVALID_VALUE;
	else if (legacy_conflict(s))
		rc = CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
	/* the rest is valid only for an active capture, as natively */
	if (!rc && (*st = status_of(s, &m)) == CU_STREAM_CAPTURE_STATUS_ACTIVE) {
		if (id)
			*id = m->c->id;
		if (graph)
			*graph = (CUgraph)m->c->g;
		if (deps)
			*deps = (const CUgraphNode *)m->deps;
		if (ndeps)
			*ndeps = m->ndeps;
	}
	pthread_mutex_unlock(&sim_gmu);
	sim_stream_put(s);
	return rc;
}

CUresult sim_cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode *mode)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (!mode || (unsigned)*mode > CU_STREAM_CAPTURE_MODE_RELAXED)
		return CUDA_ERROR_INVALID_VALUE;
	CUstreamCaptureMode old = tl_mode;
	tl_mode = *mode;
	*mode = old;
	return CUDA_SUCCESS;
}

static CUgraphNodeType node_type(const struct sim_op *op)
{
	switch (op->kind) {
	case SIM_OP_HTOD:
	case SIM_OP_DTOH:
	case SIM_OP_DTOD:
		return CU_GRAPH_NODE_TYPE_MEMCPY;
	case SIM_OP_MEMSET:
		return CU_GRAPH_NODE_TYPE_MEMSET;
	case SIM_OP_LAUNCH:
		return CU_GRAPH_NODE_TYPE_KERNEL;
	case SIM_OP_RECORD:
		return CU_GRAPH_NODE_TYPE_EVENT_RECORD;
	case SIM_OP_WAIT:
		return CU_GRAPH_NODE_TYPE_WAIT_EVENT;
	case SIM_OP_RECT:
		return op->u.rect.hsrc || op->u.rect.src
			       ? CU_GRAPH_NODE_TYPE_MEMCPY
			       : CU_GRAPH_NODE_TYPE_MEMSET;
	case SIM_OP_FREE:
		return CU_GRAPH_NODE_TYPE_MEM_FREE;
	case SIM_OP_HOST:
		return CU_GRAPH_NODE_TYPE_HOST;
	case SIM_OP_MEMOP:
		return CU_GRAPH_NODE_TYPE_BATCH_MEM_OP;
	case SIM_OP_NOP:
		break;
	}
	return CU_GRAPH_NODE_TYPE_EMPTY;
}

bool sim_capture_submit(struct sim_stream *s, struct sim_op *op,
			CUresult *rc)
{
	if (!atomic_load(&active))
		return false;
	bool handled = true;
	struct sim_op *drop = op;
	pthread_mutex_lock(&sim_gmu);
	struct point *m = member_of(s);
	if (m && m->c->invalid) {
		*rc = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
	} else if (m && (op->kind == SIM_OP_DTOH ||
			 (op->kind == SIM_OP_RECT &&
			  (op->u.rect.hdst || op->u.rect.hsrc)) ||
			 op->kind == SIM_OP_FREE || op->kind == SIM_OP_MEMOP ||
			 (op->kind == SIM_OP_HOST && op->u.host.cb))) {
		/* memory and memory-operation nodes are not
		 * simulated: the capture fails rather than run them early.
		 * A 1D host-to-device copy is a memcpy node reading the host
		 * bytes each time it runs, as natively for pageable memory
		 * (H200, driver 580); device-to-host and 2D host copies in
		 * capture are not simulated. A cuLaunchHostFunc is a host
		 * node run at each launch; a stream callback is not
		 * capturable natively */
		m->c->invalid = true;
		*rc = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	} else if (m) {
		struct sim_gnode *n;
		CUgraphNodeType t = node_type(op);
		/* what the op waited for on other streams is not graph work */
		for (size_t i = 0; i < op->ndeps; i++)
			sim_stream_put(op->deps[i].s);
		free(op->deps);
		op->deps = NULL;
		op->ndeps = 0;
		if (t == CU_GRAPH_NODE_TYPE_EMPTY) {
			*rc = sim_graph_add(m->c->g, t, NULL, m->deps,
					    m->ndeps, &n);
		} else {
			*rc = sim_graph_add(m->c->g, t, op, m->deps, m->ndeps,
					    &n);
			drop = NULL; /* the node owns it, or it was freed */
		}
		if (!*rc && set_deps(m, &n, 1))
			*rc = CUDA_ERROR_OUT_OF_MEMORY;
	} else if (legacy_blocked(s)) {
		*rc = CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
	} else {
		handled = false;
		drop = NULL;
	}
	pthread_mutex_unlock(&sim_gmu);
	sim_op_free(drop);
	return handled;
}

CUresult sim_capture_sync(struct sim_stream *s)
{
	if (!atomic_load(&active))
		return CUDA_SUCCESS;
	CUresult rc = CUDA_SUCCESS;
	pthread_mutex_lock(&sim_gmu);
	struct point *m = member_of(s);
	if (m) {
		m->c->invalid = true;
		rc = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
	} else if (legacy_blocked(s)) {
		rc = CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
	}
	pthread_mutex_unlock(&sim_gmu);
	return rc;
}

CUresult sim_capture_ctx_sync(void)
{
	if (!atomic_load(&active))
		return CUDA_SUCCESS;
	pthread_mutex_lock(&sim_gmu);
	for (size_t i = 0; i < ncaps; i++)
		caps[i]->invalid = true;
	CUresult rc = ncaps ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED
			    : CUDA_SUCCESS;
	pthread_mutex_unlock(&sim_gmu);
	return rc;
}

CUresult sim_capture_unsafe(void)
{
	if (!atomic_load(&active) || tl_mode == CU_STREAM_CAPTURE_MODE_RELAXED)
		return CUDA_SUCCESS;
	CUresult rc = CUDA_SUCCESS;
	pthread_t self = pthread_self();
	pthread_mutex_lock(&sim_gmu);
	for (size_t i = 0; i < ncaps; i++) {
		struct capture *c = caps[i];
		bool mine = pthread_equal(c->thread, self);
		if ((mine && c->mode != CU_STREAM_CAPTURE_MODE_RELAXED) ||
		    (!mine && tl_mode == CU_STREAM_CAPTURE_MODE_GLOBAL &&
		     c->mode == CU_STREAM_CAPTURE_MODE_GLOBAL)) {
			c->invalid = true;
			rc = CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
		}
	}
	pthread_mutex_unlock(&sim_gmu);
	return rc;
}

bool sim_capture_record(struct sim_obj *e, struct sim_stream *s,
			CUresult *rc)
{
	if (!atomic_load(&active))
		return false;
	struct later l = {0};
	bool handled = true;
	pthread_mutex_lock(&sim_gmu);
	struct point *m = member_of(s), *ev = find(events, nevents, e);
	if (m && m->c->invalid) {
		*rc = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
	} else if (m) {
		if (ev && ev->c != m->c) { /* now a point of this capture */
			drop_point(events, &nevents, (size_t)(ev - events), &l);
			ev = NULL;
		}
		if (!ev)
			ev = add_point(&events, &nevents, e, m->c);
		*rc = ev && !set_deps(ev, m->deps, m->ndeps)
			      ? CUDA_SUCCESS
			      : CUDA_ERROR_OUT_OF_MEMORY;
	} else {
		if (ev) /* recorded outside capture: an ordinary event again */
			drop_point(events, &nevents, (size_t)(ev - events), &l);
		handled = legacy_blocked(s);
		if (handled)
			*rc = CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
	}
	pthread_mutex_unlock(&sim_gmu);
	put_later(&l);
	return handled;
}

/* m's dependencies plus ev's (a join), without repeats. */
static int merge_deps(struct point *m, const struct point *ev)
{
	size_t n = m->ndeps;
	struct sim_gnode **v = malloc((n + ev->ndeps + 1) * sizeof(*v));
	if (!v)
		return -1;
	if (n)
		memcpy(v, m->deps, n * sizeof(*v));
	for (size_t i = 0; i < ev->ndeps; i++) {
		size_t k = 0;
		while (k < n && v[k] != ev->deps[i])
			k++;
		if (k == n)
			v[n++] = ev->deps[i];
	}
	free(m->deps);
	m->deps = v;
	m->ndeps = n;
	return 0;
}

bool sim_capture_wait(struct sim_stream *s, struct sim_obj *e, CUresult *rc)
{
	if (!atomic_load(&active))
		return false;
	bool handled = true;
	pthread_mutex_lock(&sim_gmu);
	struct point *m = member_of(s), *ev = find(events, nevents, e);
	if (m && m->c->invalid) {
		*rc = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
	} else if (ev && m && m->c == ev->c) {
		*rc = merge_deps(m, ev) ? CUDA_ERROR_OUT_OF_MEMORY
					: CUDA_SUCCESS;
	} else if (ev && m) {
		m->c->invalid = ev->c->invalid = true;
		*rc = CUDA_ERROR_STREAM_CAPTURE_MERGE;
	} else if (ev && ev->c->invalid) {
		*rc = CUDA_ERROR_INVALID_VALUE;
	} else if (ev && s->type == SIM_S_LEGACY) {
		ev->c->invalid = true;
		*rc = CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
	} else if (ev) { /* s joins the capture: a fork */
		struct point *j = add_point(&members, &nmembers, &s->obj,
					    ev->c);
		*rc = j && !set_deps(j, ev->deps, ev->ndeps)
			      ? CUDA_SUCCESS
			      : CUDA_ERROR_OUT_OF_MEMORY;
	} else if (m) {
		m->c->invalid = true;
		*rc = CUDA_ERROR_STREAM_CAPTURE_ISOLATION;
	} else if (legacy_blocked(s)) {
		*rc = CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
	} else {
		handled = false;
	}
	pthread_mutex_unlock(&sim_gmu);
	return handled;
}

CUresult sim_capture_event_check(struct sim_obj *e)
{
	if (!atomic_load(&active))
		return CUDA_SUCCESS;
	CUresult rc = CUDA_SUCCESS;
	pthread_mutex_lock(&sim_gmu);
	struct point *ev = find(events, nevents, e);
	if (ev) {
		ev->c->invalid = true;
		rc = CUDA_ERROR_CAPTURED_EVENT;
	}
	pthread_mutex_unlock(&sim_gmu);
	return rc;
}

void sim_capture_stream_gone(struct sim_stream *s)
{
	if (!atomic_load(&active))
		return;
	struct later l = {0};
	pthread_mutex_lock(&sim_gmu);
	struct point *m = member_of(s);
	if (m && m->c->origin == s) {
		teardown(m->c, false, &l);
	} else if (m) {
		m->c->invalid = true;
		drop_point(members, &nmembers, (size_t)(m - members), &l);
	}
	pthread_mutex_unlock(&sim_gmu);
	put_later(&l);
}
