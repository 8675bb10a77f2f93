/* daemon/sim/sim_gexec.c - executable graphs: instantiate, launch,
 * update.
 *
 * Contract: instantiating copies the graph (it may then change or go
 * without affecting the executable); a cycle is CUDA_ERROR_INVALID_VALUE.
 * A launch queues the nodes' operations on the stream in a topological
 * order drawn at random each time (so work that only succeeds in
 * creation order shows), after the executable's previous launch, as
 * natively (launches of one executable never overlap). Event record and
 * wait nodes act as cuEventRecord / cuStreamWaitEvent at their turn. A
 * launch into a capturing stream is captured node by node. Updates
 * (cuGraphExecUpdate, cuGraphExecKernelNodeSetParams) change what later
 * launches run, never one already queued. cuGraphExecUpdate pairs nodes in
 * creation order and refuses, with CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE
 * and the reason in the result info, a different node count or edges
 * (TOPOLOGY_CHANGED), node type (NODE_TYPE_CHANGED) or memset element
 * size (PARAMETERS_CHANGED); nothing is changed then.
 */
#include "sim.h"
#include <stdlib.h>
#include <string.h>

struct xnode {
	CUgraphNodeType type;
	struct sim_op *op;          /* template, NULL for empty nodes */
	size_t *deps;               /* indices into the executable's nodes */
	size_t ndeps;
	const void *key;            /* the graph node it came from */
};

struct sim_gexec {
	struct sim_obj obj;
	pthread_mutex_t mu;
	struct xnode *x;
	size_t n;
	uint64_t rng;
	struct sim_stream *last;    /* the previous launch's stream, ref'd */
	uint64_t last_seq;
};

static atomic_uint_fast64_t serial;

static void free_nodes(struct xnode *x, size_t n)
{
	for (size_t i = 0; x && i < n; i++) {
		sim_op_free(x[i].op);
		free(x[i].deps);
	}
	free(x);
}

static void exec_destroy(struct sim_obj *o)
{
	struct sim_gexec *e = (struct sim_gexec *)o;
	free_nodes(e->x, e->n);
	if (e->last)
		sim_stream_put(e->last);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

static size_t index_of(const struct sim_graph *g, const struct sim_gnode *n)
{
	size_t i = 0;
	while (i < g->n && g->nodes[i] != n)
		i++;
	return i;
}

/* Kahn's algorithm: whether g has no cycle. */
static bool acyclic(const struct sim_graph *g)
{
	size_t *left = calloc(g->n + 1, sizeof(*left)), done = 0;
	bool *out = calloc(g->n + 1, 1);
	if (!left || !out) {
		free(left);
		free(out);
		return true;
	}
	for (size_t i = 0; i < g->n; i++)
		left[i] = g->nodes[i]->ndeps;
	for (bool progress = true; progress;) {
		progress = false;
		for (size_t i = 0; i < g->n; i++) {
			if (out[i] || left[i])
				continue;
			out[i] = progress = true;
			done++;
			for (size_t k = 0; k < g->n; k++)
				for (size_t d = 0; d < g->nodes[k]->ndeps; d++)
					if (g->nodes[k]->deps[d] == g->nodes[i])
						left[k]--;
		}
	}
	free(left);
	free(out);
	return done == g->n;
}

/* A copy of g's nodes, under sim_gmu. */
static CUresult copy_nodes(const struct sim_graph *g, struct xnode **out)
{
	struct xnode *x = calloc(g->n + 1, sizeof(*x));
	if (!x)
		return CUDA_ERROR_OUT_OF_MEMORY;
	for (size_t i = 0; i < g->n; i++) {
		const struct sim_gnode *n = g->nodes[i];
		x[i].type = n->type;
		x[i].key = n;
		x[i].ndeps = n->ndeps;
		x[i].deps = calloc(n->ndeps + 1, sizeof(size_t));
		x[i].op = n->op ? sim_op_clone(n->op) : NULL;
		if (!x[i].deps || (n->op && !x[i].op)) {
			free_nodes(x, i + 1);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		for (size_t d = 0; d < n->ndeps; d++)
			x[i].deps[d] = index_of(g, n->deps[d]);
	}
	*out = x;
	return CUDA_SUCCESS;
}

static CUresult instantiate(CUgraphExec *out, CUgraph h)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_graph *g = (struct sim_graph *)sim_obj_get(h, SIM_GRAPH);
	if (!g)
		return CUDA_ERROR_INVALID_HANDLE;
	struct sim_gexec *e = calloc(1, sizeof(*e));
	if (!e)
		rc = CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&sim_gmu);
	if (!rc && !acyclic(g))
		rc = CUDA_ERROR_INVALID_VALUE;
	if (!rc && !(rc = copy_nodes(g, &e->x)))
		e->n = g->n;
	pthread_mutex_unlock(&sim_gmu);
	sim_obj_put(&g->obj);
	if (rc) {
		free(e);
		return rc;
	}
	sim_obj_init(&e->obj, SIM_GEXEC, exec_destroy);
	pthread_mutex_init(&e->mu, NULL);
	e->rng = sim_cfg.seed ^ ((atomic_fetch_add(&serial, 1) + 1) *
				 0x9e3779b97f4a7c15ull);
	if (sim_obj_register(&e->obj)) {
		exec_destroy(&e->obj);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*out = (CUgraphExec)e;
	return CUDA_SUCCESS;
}

CUresult sim_cuGraphInstantiateWithFlags(CUgraphExec *out, CUgraph g,
					 unsigned long long flags)
{
	const unsigned long long known =
		CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH |
		CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY;
	if (flags & ~known) /* UPLOAD needs WithParams' stream */
		return CUDA_ERROR_INVALID_VALUE;
	return instantiate(out, g);
}

CUresult sim_cuGraphInstantiateWithParams(CUgraphExec *out, CUgraph g,
					  CUDA_GRAPH_INSTANTIATE_PARAMS *p)
{
	const unsigned long long known =
		CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH |
		CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD |
		CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY;
	if (!p || (p->flags & ~known))
		return CUDA_ERROR_INVALID_VALUE;
	CUresult rc = CUDA_SUCCESS;
	if (p->flags & CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD) {
		struct sim_stream *s;
		if ((rc = sim_stream_resolve(p->hUploadStream, &s)))
			return rc;
		sim_stream_put(s); /* uploading is nothing to the sim */
	}
	rc = instantiate(out, g);
	p->hErrNode_out = NULL;
	p->result_out = rc ? CUDA_GRAPH_INSTANTIATE_ERROR
			   : CUDA_GRAPH_INSTANTIATE_SUCCESS;
	return rc;
}

static struct sim_gexec *exec_get(CUgraphExec h)
{
	return (struct sim_gexec *)sim_obj_get(h, SIM_GEXEC);
}

CUresult sim_cuGraphExecDestroy(CUgraphExec h)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	struct sim_gexec *e = exec_get(h);
	if (!e)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!sim_obj_unregister(&e->obj))
		rc = CUDA_ERROR_INVALID_HANDLE;
	sim_obj_put(&e->obj);
	return rc;
}

/* splitmix64, as the stream workers draw their delays */
static uint64_t next_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A random topological order of e's nodes into order[]. */
static CUresult draw_order(struct sim_gexec *e, size_t *order)
{
	size_t *left = calloc(e->n + 1, sizeof(*left));
	size_t *ready = calloc(e->n + 1, sizeof(*ready)), nready = 0;
	if (!left || !ready) {
		free(left);
		free(ready);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	for (size_t i = 0; i < e->n; i++)
		if (!(left[i] = e->x[i].ndeps))
			ready[nready++] = i;
	for (size_t k = 0; k < e->n && nready; k++) {
		size_t pick = next_rand(&e->rng) % nready, i = ready[pick];
		ready[pick] = ready[--nready];
		order[k] = i;
		for (size_t j = 0; j < e->n; j++)
			for (size_t d = 0; d < e->x[j].ndeps; d++)
				if (e->x[j].deps[d] == i && !--left[j])
					ready[nready++] = j;
	}
	free(left);
	free(ready);
	return CUDA_SUCCESS;
}

/* A marker on s after the executable's previous launch, wherever it ran. */
static CUresult after_previous(struct sim_gexec *e, struct sim_stream *s)
{
	struct sim_op *op = sim_op_new(SIM_OP_NOP);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (e->last && e->last != s) {
		op->deps = malloc(sizeof(*op->deps));
		if (!op->deps) {
			sim_op_free(op);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		sim_obj_ref(&e->last->obj);
		op->deps[0] = (struct sim_dep){e->last, e->last_seq};
		op->ndeps = 1;
	}
	return sim_submit(s, op, NULL);
}

static CUresult run_node(const struct xnode *x, CUstream hs,
			 struct sim_stream *s)
{
	struct sim_op *op;
	switch (x->type) {
	case CU_GRAPH_NODE_TYPE_EMPTY:
		return CUDA_SUCCESS;
	case CU_GRAPH_NODE_TYPE_EVENT_RECORD:
		return sim_cuEventRecord((CUevent)x->op->ev, hs);
	case CU_GRAPH_NODE_TYPE_WAIT_EVENT:
		return sim_cuStreamWaitEvent(hs, (CUevent)x->op->ev, 0);
	default:
		op = sim_op_clone(x->op);
		return op ? sim_submit(s, op, NULL) : CUDA_ERROR_OUT_OF_MEMORY;
	}
}

CUresult sim_cuGraphLaunch(CUgraphExec h, CUstream hs)
{
	struct sim_stream *s;
	CUresult rc = sim_stream_resolve(hs, &s);
	if (rc)
		return rc;
	struct sim_gexec *e = exec_get(h);
	if (!e) {
		sim_stream_put(s);
		return CUDA_ERROR_INVALID_HANDLE;
	}
	pthread_mutex_lock(&e->mu);
	size_t *order = calloc(e->n + 1, sizeof(*order));
	rc = order ? draw_order(e, order) : CUDA_ERROR_OUT_OF_MEMORY;
	if (!rc)
		rc = after_previous(e, s);
	for (size_t k = 0; k < e->n && !rc; k++)
		rc = run_node(&e->x[order[k]], hs, s);
	struct sim_op *end = rc ? NULL : sim_op_new(SIM_OP_NOP);
	uint64_t seq = 0;
	if (!rc)
		rc = end ? sim_submit(s, end, &seq) : CUDA_ERROR_OUT_OF_MEMORY;
	if (!rc && seq) { /* 0: captured, not queued */
		if (e->last)
			sim_stream_put(e->last);
		sim_obj_ref(&s->obj);
		e->last = s;
		e->last_seq = seq;
	}
	pthread_mutex_unlock(&e->mu);
	free(order);
	sim_obj_put(&e->obj);
	sim_stream_put(s);
	return rc;
}

/* Uploading prepares a launch on the GPU; the sim has nothing to do. */
CUresult sim_cuGraphUpload(CUgraphExec h, CUstream hs)
{
	struct sim_stream *s;
	CUresult rc = sim_stream_resolve(hs, &s);
	if (rc)
		return rc;
	struct sim_gexec *e = exec_get(h);
	sim_stream_put(s);
	if (!e)
		return CUDA_ERROR_INVALID_HANDLE;
	sim_obj_put(&e->obj);
	return CUDA_SUCCESS;
}

static bool same_deps(const struct xnode *x, const struct sim_graph *g,
		      const struct sim_gnode *n)
{
	if (x->ndeps != n->ndeps)
		return false;
	for (size_t d = 0; d < n->ndeps; d++) {
		size_t k = index_of(g, n->deps[d]), j = 0;
		while (j < x->ndeps && x->deps[j] != k)
			j++;
		if (j == x->ndeps)
			return false;
	}
	return true;
}

/* Why g cannot update e, or SUCCESS; *err the node at fault. */
static CUgraphExecUpdateResult check_update(const struct sim_gexec *e,
					    const struct sim_graph *g,
					    const struct sim_gnode **err)
{
	*err = NULL;
	if (e->n != g->n)
		return CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED;
	for (size_t i = 0; i < g->n; i++) {
		const struct xnode *x = &e->x[i];
		const struct sim_gnode *n = g->nodes[i];
		*err = n;
		if (x->type != n->type)
			return CU_GRAPH_EXEC_UPDATE_ERROR_NODE_TYPE_CHANGED;
		if (!same_deps(x, g, n))
			return CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED;
		if (n->type == CU_GRAPH_NODE_TYPE_MEMSET &&
		    x->op->u.set.elem != n->op->u.set.elem)
			return CU_GRAPH_EXEC_UPDATE_ERROR_PARAMETERS_CHANGED;
	}
	*err = NULL;
	return CU_GRAPH_EXEC_UPDATE_SUCCESS;
}

CUresult sim_cuGraphExecUpdate_v2(CUgraphExec h, CUgraph hg,
				  CUgraphExecUpdateResultInfo *info)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!info)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_gexec *e = exec_get(h);
	struct sim_graph *g = (struct sim_graph *)sim_obj_get(hg, SIM_GRAPH);
	struct xnode *x = NULL;
	const struct sim_gnode *err = NULL;
	*info = (CUgraphExecUpdateResultInfo){
		.result = CU_GRAPH_EXEC_UPDATE_ERROR};
	if (!e || !g)
		rc = CUDA_ERROR_INVALID_HANDLE;
	if (!rc)
		pthread_mutex_lock(&e->mu);
	pthread_mutex_lock(&sim_gmu);
	if (!rc && (info->result = check_update(e, g, &err)))
		rc = CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE;
	if (!rc)
		rc = copy_nodes(g, &x);
	pthread_mutex_unlock(&sim_gmu);
	info->errorNode = (CUgraphNode)err;
	if (!rc) { /* nodes keep the names they had: the first graph's */
		for (size_t i = 0; i < e->n; i++)
			x[i].key = e->x[i].key;
		free_nodes(e->x, e->n);
		e->x = x;
	}
	if (e && g)
		pthread_mutex_unlock(&e->mu);
	if (e)
		sim_obj_put(&e->obj);
	if (g)
		sim_obj_put(&g->obj);
	return rc;
}

CUresult sim_cuGraphExecKernelNodeSetParams_v2(CUgraphExec h,
					       CUgraphNode hn,
					       const CUDA_KERNEL_NODE_PARAMS *p)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	struct sim_gexec *e = exec_get(h);
	struct sim_obj *n = sim_obj_get(hn, SIM_GNODE);
	struct sim_func *f = NULL;
	struct sim_launch *l = NULL;
	if (!e || !n)
		rc = CUDA_ERROR_INVALID_HANDLE;
	else if (!p || !p->func)
		rc = CUDA_ERROR_INVALID_VALUE;
	else if (!(f = (struct sim_func *)sim_obj_get(p->func, SIM_FUNC)))
		rc = CUDA_ERROR_INVALID_HANDLE;
	if (!rc) {
		l = sim_launch_prepare(
			f, (struct sim_dim3){p->gridDimX, p->gridDimY, p->gridDimZ},
			(struct sim_dim3){p->blockDimX, p->blockDimY,
					  p->blockDimZ},
			p->sharedMemBytes, p->kernelParams, p->extra, &rc);
		if (rc)
			sim_obj_put(&f->obj);
	}
	if (!rc) {
		pthread_mutex_lock(&e->mu);
		size_t i = 0;
		while (i < e->n && e->x[i].key != n)
			i++;
		if (i == e->n || e->x[i].type != CU_GRAPH_NODE_TYPE_KERNEL) {
			rc = CUDA_ERROR_INVALID_VALUE;
		} else {
			struct sim_launch *old = e->x[i].op->u.launch;
			e->x[i].op->u.launch = l;
			l = old;
		}
		pthread_mutex_unlock(&e->mu);
		sim_launch_free(l);
	}
	if (n)
		sim_obj_put(n);
	if (e)
		sim_obj_put(&e->obj);
	return rc;
}
