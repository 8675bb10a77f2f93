/* daemon/sim/sim_graph.c - graphs built by hand: nodes, edges, queries,
 * kernel node parameters.
 *
 * Contract: a graph is a DAG of nodes in creation order; each node holds
 * an operation template (the same struct sim_op a stream queues, never
 * queued itself) and its dependencies, which must be live nodes of the
 * same graph, no repeats (CUDA_ERROR_INVALID_VALUE). Node parameters are
 * checked as the matching stream call checks them (kernel launches as
 * cuLaunchKernel, device ranges inside live allocations). The sim keeps
 * memcpy nodes to 1D copies and memset nodes to 1D sets of 1- or 4-byte
 * elements; other shapes are CUDA_ERROR_NOT_SUPPORTED with a detail, not
 * faked. Destroying a graph invalidates its nodes' handles at once.
 * Query calls follow the driver's array conventions (NULL array: count;
 * else up to *n filled, the rest NULL, *n the number filled).
 */
#include "sim.h"
#include <stdlib.h>
#include <string.h>

static void node_destroy(struct sim_obj *o)
{
	struct sim_gnode *n = (struct sim_gnode *)o;
	sim_op_free(n->op);
	free(n->deps);
	free(n->kparams);
	free(n);
}

static void graph_destroy(struct sim_obj *o)
{
	struct sim_graph *g = (struct sim_graph *)o;
	pthread_mutex_lock(&sim_gmu);
	for (size_t i = 0; i < g->n; i++) {
		g->nodes[i]->g = NULL;
		sim_obj_unregister(&g->nodes[i]->obj);
		sim_obj_put(&g->nodes[i]->obj);
	}
	pthread_mutex_unlock(&sim_gmu);
	free(g->nodes);
	free(g);
}

struct sim_graph *sim_graph_new(void)
{
	struct sim_graph *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	sim_obj_init(&g->obj, SIM_GRAPH, graph_destroy);
	if (sim_obj_register(&g->obj)) {
		free(g);
		return NULL;
	}
	sim_obj_ref(&g->obj);
	return g;
}

void sim_graph_unregister(struct sim_graph *g)
{
	for (size_t i = 0; i < g->n; i++)
		sim_obj_unregister(&g->nodes[i]->obj);
	sim_obj_unregister(&g->obj);
}

CUresult sim_graph_add(struct sim_graph *g, CUgraphNodeType t,
		       struct sim_op *op, struct sim_gnode *const *deps,
		       size_t ndeps, struct sim_gnode **out)
{
	struct sim_gnode *n = calloc(1, sizeof(*n));
	struct sim_gnode **d = ndeps ? malloc(ndeps * sizeof(*d)) : NULL;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		struct sim_gnode **v = realloc(g->nodes, cap * sizeof(*v));
		if (v) {
			g->nodes = v;
			g->cap = cap;
		}
	}
	if (!n || (ndeps && !d) || g->n == g->cap) {
		free(n);
		free(d);
		sim_op_free(op);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	sim_obj_init(&n->obj, SIM_GNODE, node_destroy);
	if (sim_obj_register(&n->obj)) {
		free(n);
		free(d);
		sim_op_free(op);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	sim_obj_ref(&n->obj); /* the graph's */
	if (ndeps)
		memcpy(d, deps, ndeps * sizeof(*d));
	n->g = g;
	n->type = t;
	n->op = op;
	n->deps = d;
	n->ndeps = ndeps;
	g->nodes[g->n++] = n;
	*out = n;
	return CUDA_SUCCESS;
}

struct sim_op *sim_op_clone(const struct sim_op *t)
{
	struct sim_op *op = sim_op_new(t->kind);
	if (!op)
		return NULL;
	op->u = t->u;
	op->ev_seq = t->ev_seq;
	if (t->ev) {
		op->ev = t->ev;
		sim_obj_ref((struct sim_obj *)t->ev);
	}
	if (t->kind == SIM_OP_LAUNCH) {
		const struct sim_launch *l = t->u.launch;
		struct sim_launch *c = calloc(1, sizeof(*c));
		uint8_t *args = malloc(l->f->d.argsize + 1);
		if (!c || !args) {
			free(c);
			free(args);
			op->u.launch = NULL;
			sim_op_free(op);
			return NULL;
		}
		memcpy(args, l->args, l->f->d.argsize + 1);
		*c = (struct sim_launch){.f = l->f, .grid = l->grid,
					 .block = l->block, .shared = l->shared,
					 .args = args};
		sim_obj_ref(&l->f->obj);
		op->u.launch = c;
	}
	return op;
}

/* The graph h names, referenced. */
static CUresult graph_get(CUgraph h, struct sim_graph **g)
{
	CUresult rc = sim_enter_handle();
	if (rc)
		return rc;
	*g = (struct sim_graph *)sim_obj_get(h, SIM_GRAPH);
	return *g ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult sim_cuGraphCreate(CUgraph *phGraph, unsigned int flags)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!phGraph || flags)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&sim_gmu);
	struct sim_graph *g = sim_graph_new();
	pthread_mutex_unlock(&sim_gmu);
	if (!g)
		return CUDA_ERROR_OUT_OF_MEMORY;
	sim_obj_put(&g->obj);
	*phGraph = (CUgraph)g;
	return CUDA_SUCCESS;
}

CUresult sim_cuGraphDestroy(CUgraph h)
{
	struct sim_graph *g;
	CUresult rc = graph_get(h, &g);
	if (rc)
		return rc;
	pthread_mutex_lock(&sim_gmu);
	if (!sim_obj_unregister(&g->obj))
		rc = CUDA_ERROR_INVALID_HANDLE; /* a racing destroy won */
	else
		for (size_t i = 0; i < g->n; i++)
			sim_obj_unregister(&g->nodes[i]->obj);
	pthread_mutex_unlock(&sim_gmu);
	sim_obj_put(&g->obj);
	return rc;
}

/* deps as nodes of g, checked: live, g's own, no repeats. Under sim_gmu. */
static CUresult check_deps(struct sim_graph *g, const CUgraphNode *deps,
			   size_t n, struct sim_gnode ***out)
{
	*out = NULL;
	if (!n)
		return CUDA_SUCCESS;
	if (!deps || n > g->n)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_gnode **v = malloc(n * sizeof(*v));
	if (!v)
		return CUDA_ERROR_OUT_OF_MEMORY;
	for (size_t i = 0; i < n; i++) {
		struct sim_gnode *d =
			(struct sim_gnode *)sim_obj_get(deps[i], SIM_GNODE);
		bool ok = d && d->g == g;
		for (size_t k = 0; ok && k < i; k++)
			ok = v[k] != d;
		if (d)
			sim_obj_put(&d->obj); /* g holds it while we hold the lock */
		if (!ok) {
			free(v);
			return CUDA_ERROR_INVALID_VALUE;
		}
		v[i] = d;
	}
	*out = v;
	return CUDA_SUCCESS;
}

/* Add a node owning op (freed on failure) to graph h. */
static CUresult add(CUgraphNode *out, CUgraph h, const CUgraphNode *deps,
		    size_t ndeps, CUgraphNodeType t, struct sim_op *op)
{
	struct sim_graph *g;
	struct sim_gnode **d = NULL, *n;
	CUresult rc = out ? graph_get(h, &g) : CUDA_ERROR_INVALID_VALUE;
	if (rc) {
		sim_op_free(op);
		return rc;
	}
	pthread_mutex_lock(&sim_gmu);
	rc = check_deps(g, deps, ndeps, &d);
	if (!rc)
		rc = sim_graph_add(g, t, op, d, ndeps, &n);
	else
		sim_op_free(op);
	pthread_mutex_unlock(&sim_gmu);
	free(d);
	sim_obj_put(&g->obj);
	if (!rc)
		*out = (CUgraphNode)n;
	return rc;
}

/* A launch from kernel node parameters (v2 layout; v1 is its prefix). */
static CUresult kernel_launch(const CUDA_KERNEL_NODE_PARAMS *p,
			      struct sim_launch **out)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	if (!p->func) {
		sim_detail("sim graphs take kernel nodes by CUfunction only");
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	struct sim_func *f = (struct sim_func *)sim_obj_get(p->func, SIM_FUNC);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	*out = sim_launch_prepare(
		f, (struct sim_dim3){p->gridDimX, p->gridDimY, p->gridDimZ},
		(struct sim_dim3){p->blockDimX, p->blockDimY, p->blockDimZ},
		p->sharedMemBytes, p->kernelParams, p->extra, &rc);
	if (rc)
		sim_obj_put(&f->obj);
	return rc;
}

CUresult sim_cuGraphAddKernelNode_v2(CUgraphNode *node, CUgraph g,
				     const CUgraphNode *deps, size_t ndeps,
				     const CUDA_KERNEL_NODE_PARAMS *p)
{
	struct sim_launch *l;
	CUresult rc = kernel_launch(p, &l);
	if (rc)
		return rc;
	struct sim_op *op = sim_op_new(SIM_OP_LAUNCH);
	if (!op) {
		sim_launch_free(l);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	op->u.launch = l;
	return add(node, g, deps, ndeps, CU_GRAPH_NODE_TYPE_KERNEL, op);
}

static bool ctx_ok(CUcontext ctx)
{
	return !ctx || ctx == (CUcontext)&sim_ctx;
}

CUresult sim_cuGraphAddMemcpyNode(CUgraphNode *node, CUgraph g,
				  const CUgraphNode *deps, size_t ndeps,
				  const CUDA_MEMCPY3D *p, CUcontext ctx)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!p || !ctx_ok(ctx))
		return CUDA_ERROR_INVALID_VALUE;
	if (p->srcMemoryType != CU_MEMORYTYPE_DEVICE ||
	    p->dstMemoryType != CU_MEMORYTYPE_DEVICE || p->Height > 1 ||
	    p->Depth > 1 || p->srcY || p->srcZ || p->dstY || p->dstZ ||
	    p->srcLOD || p->dstLOD) {
		sim_detail("sim memcpy nodes copy device to device in 1D");
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	size_t n = p->WidthInBytes;
	CUdeviceptr src = p->srcDevice + p->srcXInBytes;
	CUdeviceptr dst = p->dstDevice + p->dstXInBytes;
	if (!n || (rc = sim_heap_check(src, n)) || (rc = sim_heap_check(dst, n)))
		return rc ? rc : CUDA_ERROR_INVALID_VALUE;
	struct sim_op *op = sim_op_new(SIM_OP_DTOD);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	op->u.copy.src = src;
	op->u.copy.dst = dst;
	op->u.copy.n = n;
	return add(node, g, deps, ndeps, CU_GRAPH_NODE_TYPE_MEMCPY, op);
}

CUresult sim_cuGraphAddMemsetNode(CUgraphNode *node, CUgraph g,
				  const CUgraphNode *deps, size_t ndeps,
				  const CUDA_MEMSET_NODE_PARAMS *p,
				  CUcontext ctx)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!p || !ctx_ok(ctx) || !p->width || !p->height ||
	    (p->elementSize != 1 && p->elementSize != 2 &&
	     p->elementSize != 4))
		return CUDA_ERROR_INVALID_VALUE;
	if (p->height > 1 || p->elementSize == 2) {
		sim_detail("sim memset nodes set 1D runs of 1 or 4 bytes");
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	if (p->width > SIZE_MAX / p->elementSize || p->dst % p->elementSize ||
	    (rc = sim_heap_check(p->dst, p->width * p->elementSize)))
		return rc ? rc : CUDA_ERROR_INVALID_VALUE;
	struct sim_op *op = sim_op_new(SIM_OP_MEMSET);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	op->u.set.dst = p->dst;
	op->u.set.val = p->elementSize == 1 ? (p->value & 0xff) : p->value;
	op->u.set.elem = p->elementSize;
	op->u.set.count = p->width;
	return add(node, g, deps, ndeps, CU_GRAPH_NODE_TYPE_MEMSET, op);
}

static CUresult event_node(CUgraphNode *node, CUgraph g,
			   const CUgraphNode *deps, size_t ndeps, CUevent e,
			   enum sim_op_kind k, CUgraphNodeType t)
{
	CUresult rc = sim_enter_handle();
	if (rc)
		return rc;
	struct sim_obj *o = sim_obj_get(e, SIM_EVENT);
	if (!o)
		return CUDA_ERROR_INVALID_HANDLE;
	struct sim_op *op = sim_op_new(k);
	if (!op) {
		sim_obj_put(o);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	op->ev = (struct sim_event *)o; /* the reference goes with it */
	return add(node, g, deps, ndeps, t, op);
}

CUresult sim_cuGraphAddEventRecordNode(CUgraphNode *node, CUgraph g,
				       const CUgraphNode *deps, size_t ndeps,
				       CUevent e)
{
	return event_node(node, g, deps, ndeps, e, SIM_OP_RECORD,
			  CU_GRAPH_NODE_TYPE_EVENT_RECORD);
}

CUresult sim_cuGraphAddEventWaitNode(CUgraphNode *node, CUgraph g,
				     const CUgraphNode *deps, size_t ndeps,
				     CUevent e)
{
	return event_node(node, g, deps, ndeps, e, SIM_OP_WAIT,
			  CU_GRAPH_NODE_TYPE_WAIT_EVENT);
}

CUresult sim_cuGraphAddEmptyNode(CUgraphNode *node, CUgraph g,
				 const CUgraphNode *deps, size_t ndeps)
{
	return add(node, g, deps, ndeps, CU_GRAPH_NODE_TYPE_EMPTY, NULL);
}

CUresult sim_cuGraphAddHostNode(CUgraphNode *node, CUgraph g,
				const CUgraphNode *deps, size_t ndeps,
				const CUDA_HOST_NODE_PARAMS *p)
{
	CUresult rc = sim_enter_handle();
	if (rc)
		return rc;
	if (!p || !p->fn)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_op *op = sim_op_new(SIM_OP_HOST);
	if (!op)
		return CUDA_ERROR_OUT_OF_MEMORY;
	op->u.host.fn = p->fn;
	op->u.host.data = p->userData;
	return add(node, g, deps, ndeps, CU_GRAPH_NODE_TYPE_HOST, op);
}

static bool has_edge(const struct sim_gnode *to, const struct sim_gnode *from)
{
	for (size_t i = 0; i < to->ndeps; i++)
		if (to->deps[i] == from)
			return true;
	return false;
}

/* Checked all first, so that a bad pair adds none. */
CUresult sim_cuGraphAddDependencies(CUgraph h, const CUgraphNode *from,
				    const CUgraphNode *to, size_t n)
{
	struct sim_graph *g;
	struct sim_gnode **f = NULL, **t = NULL;
	CUresult rc = graph_get(h, &g);
	if (rc)
		return rc;
	pthread_mutex_lock(&sim_gmu);
	if (n && (!from || !to))
		rc = CUDA_ERROR_INVALID_VALUE;
	f = n && !rc ? calloc(n, sizeof(*f)) : NULL;
	t = n && !rc ? calloc(n, sizeof(*t)) : NULL;
	if (n && !rc && (!f || !t))
		rc = CUDA_ERROR_OUT_OF_MEMORY;
	for (size_t i = 0; i < n && !rc; i++) {
		struct sim_gnode **a, **b;
		if ((rc = check_deps(g, &from[i], 1, &a)))
			break;
		if ((rc = check_deps(g, &to[i], 1, &b))) {
			free(a);
			break;
		}
		f[i] = a[0];
		t[i] = b[0];
		free(a);
		free(b);
		bool dup = f[i] == t[i] || has_edge(t[i], f[i]);
		for (size_t k = 0; k < i && !dup; k++)
			dup = f[k] == f[i] && t[k] == t[i];
		if (dup)
			rc = CUDA_ERROR_INVALID_VALUE;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		struct sim_gnode **d =
			realloc(t[i]->deps, (t[i]->ndeps + 1) * sizeof(*d));
		if (!d) {
			rc = CUDA_ERROR_OUT_OF_MEMORY;
			break;
		}
		t[i]->deps = d;
		d[t[i]->ndeps++] = f[i];
	}
	pthread_mutex_unlock(&sim_gmu);
	free(f);
	free(t);
	sim_obj_put(&g->obj);
	return rc;
}

/* The driver's array convention, for nodes that pass keep. */
static CUresult list(CUgraph h, CUgraphNode *out, size_t *n, bool roots)
{
	struct sim_graph *g;
	CUresult rc = n ? graph_get(h, &g) : CUDA_ERROR_INVALID_VALUE;
	if (rc)
		return rc;
	size_t k = 0;
	pthread_mutex_lock(&sim_gmu);
	for (size_t i = 0; i < g->n; i++) {
		if (roots && g->nodes[i]->ndeps)
			continue;
		if (out && k < *n)
			out[k] = (CUgraphNode)g->nodes[i];
		k++;
	}
	pthread_mutex_unlock(&sim_gmu);
	if (out) {
		for (size_t i = k; i < *n; i++)
			out[i] = NULL;
		*n = k < *n ? k : *n;
	} else {
		*n = k;
	}
	sim_obj_put(&g->obj);
	return CUDA_SUCCESS;
}

CUresult sim_cuGraphGetNodes(CUgraph g, CUgraphNode *nodes, size_t *n)
{
	return list(g, nodes, n, false);
}

CUresult sim_cuGraphGetRootNodes(CUgraph g, CUgraphNode *nodes, size_t *n)
{
	return list(g, nodes, n, true);
}

CUresult sim_cuGraphGetEdges(CUgraph h, CUgraphNode *from, CUgraphNode *to,
			     size_t *n)
{
	struct sim_graph *g;
	if (!n || !from != !to)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult rc = graph_get(h, &g);
	if (rc)
		return rc;
	size_t k = 0;
	pthread_mutex_lock(&sim_gmu);
	for (size_t i = 0; i < g->n; i++)
		for (size_t d = 0; d < g->nodes[i]->ndeps; d++, k++)
			if (from && k < *n) {
				from[k] = (CUgraphNode)g->nodes[i]->deps[d];
				to[k] = (CUgraphNode)g->nodes[i];
			}
	pthread_mutex_unlock(&sim_gmu);
	if (from) {
		for (size_t i = k; i < *n; i++)
			from[i] = to[i] = NULL;
		*n = k < *n ? k : *n;
	} else {
		*n = k;
	}
	sim_obj_put(&g->obj);
	return CUDA_SUCCESS;
}

/* The live node h names, referenced. */
static CUresult node_get(CUgraphNode h, struct sim_gnode **n)
{
	CUresult rc = sim_enter_handle();
	if (rc)
		return rc;
	*n = (struct sim_gnode *)sim_obj_get(h, SIM_GNODE);
	return *n ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* A node's dependencies, or the nodes depending on it. */
static CUresult neighbours(CUgraphNode h, CUgraphNode *out, size_t *n,
			   bool dependents)
{
	struct sim_gnode *node;
	CUresult rc = n ? node_get(h, &node) : CUDA_ERROR_INVALID_VALUE;
	if (rc)
		return rc;
	size_t k = 0;
	pthread_mutex_lock(&sim_gmu);
	const struct sim_graph *g = node->g;
	for (size_t i = 0; g && i < g->n; i++) {
		const struct sim_gnode *x = g->nodes[i];
		for (size_t d = 0; d < x->ndeps; d++) {
			const struct sim_gnode *hit =
				!dependents && x == node ? x->deps[d]
				: dependents && x->deps[d] == node ? x
								   : NULL;
			if (!hit)
				continue;
			if (out && k < *n)
				out[k] = (CUgraphNode)hit;
			k++;
		}
	}
	pthread_mutex_unlock(&sim_gmu);
	if (out) {
		for (size_t i = k; i < *n; i++)
			out[i] = NULL;
		*n = k < *n ? k : *n;
	} else {
		*n = k;
	}
	sim_obj_put(&node->obj);
	return CUDA_SUCCESS;
}

CUresult sim_cuGraphNodeGetDependencies(CUgraphNode h, CUgraphNode *deps,
					size_t *n)
{
	return neighbours(h, deps, n, false);
}

CUresult sim_cuGraphNodeGetDependentNodes(CUgraphNode h, CUgraphNode *deps,
					  size_t *n)
{
	return neighbours(h, deps, n, true);
}

CUresult sim_cuGraphNodeGetType(CUgraphNode h, CUgraphNodeType *type)
{
	struct sim_gnode *n;
	CUresult rc = type ? node_get(h, &n) : CUDA_ERROR_INVALID_VALUE;
	if (rc)
		return rc;
	*type = n->type;
	sim_obj_put(&n->obj);
	return CUDA_SUCCESS;
}

/* Pointers to each parameter inside the launch's argument copy. */
static CUresult kparams(struct sim_gnode *n)
{
	const struct sim_launch *l = n->op->u.launch;
	uint32_t np = l->f->d.nparams;
	void **v = calloc(np + 1, sizeof(*v));
	if (!v)
		return CUDA_ERROR_OUT_OF_MEMORY;
	for (uint32_t i = 0; i < np; i++)
		v[i] = l->args + l->f->d.params[i].offset;
	free(n->kparams);
	n->kparams = v;
	return CUDA_SUCCESS;
}

CUresult sim_cuGraphKernelNodeGetParams_v2(CUgraphNode h,
					   CUDA_KERNEL_NODE_PARAMS *p)
{
	struct sim_gnode *n;
	CUresult rc = p ? node_get(h, &n) : CUDA_ERROR_INVALID_VALUE;
	if (rc)
		return rc;
	pthread_mutex_lock(&sim_gmu);
	if (n->type != CU_GRAPH_NODE_TYPE_KERNEL)
		rc = CUDA_ERROR_INVALID_VALUE;
	else
		rc = kparams(n);
	if (!rc) {
		const struct sim_launch *l = n->op->u.launch;
		*p = (CUDA_KERNEL_NODE_PARAMS){
			.func = (CUfunction)l->f, .gridDimX = l->grid.x,
			.gridDimY = l->grid.y, .gridDimZ = l->grid.z,
			.blockDimX = l->block.x, .blockDimY = l->block.y,
			.blockDimZ = l->block.z, .sharedMemBytes = l->shared,
			.kernelParams = n->kparams};
	}
	pthread_mutex_unlock(&sim_gmu);
	sim_obj_put(&n->obj);
	return rc;
}

CUresult sim_cuGraphKernelNodeSetParams_v2(CUgraphNode h,
					   const CUDA_KERNEL_NODE_PARAMS *p)
{
	struct sim_gnode *n;
	struct sim_launch *l = NULL;
	CUresult rc = node_get(h, &n);
	if (rc)
		return rc;
	if ((rc = kernel_launch(p, &l))) {
		sim_obj_put(&n->obj);
		return rc;
	}
	pthread_mutex_lock(&sim_gmu);
	if (n->type != CU_GRAPH_NODE_TYPE_KERNEL || !n->g) {
		rc = CUDA_ERROR_INVALID_VALUE;
	} else {
		struct sim_launch *old = n->op->u.launch;
		n->op->u.launch = l;
		l = old;
	}
	pthread_mutex_unlock(&sim_gmu);
	sim_launch_free(l);
	sim_obj_put(&n->obj);
	return rc;
}
