/* guest/cuda/graph_func.c - kernel records by daemon id, and the storage
 * behind cuGraphKernelNodeGetParams' pointers.
 *
 * A kernel node read back from a graph names its function by daemon id;
 * the program must get the CUfunction it launched with (cudart maps
 * CUfunctions back to its host stubs), so every record cuModuleGetFunction
 * makes is registered here. A function the daemon knows but this table
 * does not (a library's kernel) gets a record built from the layout the
 * daemon reports. Records are never freed, as cuModuleGetFunction's are
 * not (a module unload leaves the program's CUfunction values dangling
 * natively too).
 */
#include "graph.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct vgpu_fn **fns;
static size_t nfns, capfns;

void vgpu_fn_register(struct vgpu_fn *f)
{
	pthread_mutex_lock(&mu);
	if (nfns == capfns) {
		size_t cap = capfns ? capfns * 2 : 64;
		struct vgpu_fn **v = realloc(fns, cap * sizeof(*v));
		if (v) {
			fns = v;
			capfns = cap;
		}
	}
	if (nfns < capfns) /* else GetParams builds another record */
		fns[nfns++] = f;
	pthread_mutex_unlock(&mu);
}

static const struct vgpu_fn *find(uint64_t id)
{
	const struct vgpu_fn *f = NULL;
	uint64_t conn = vgpu_cu_conn_id();
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < nfns && !f; i++)
		if (fns[i]->info.function == id && fns[i]->conn == conn)
			f = fns[i];
	pthread_mutex_unlock(&mu);
	return f;
}

const struct vgpu_fn *vgpu_fn_by_id(uint64_t id)
{
	const struct vgpu_fn *f = find(id);
	if (f)
		return f;
	struct vgpu_fn *n = calloc(1, sizeof(*n));
	struct vgpu_cu_args a = {{id}};
	if (!n || vgpu_cu_call(VGPU_CU_FUNC_INFO, &a, sizeof(a), &n->info,
			       sizeof(n->info), true, "cuGraphKernelNodeGetParams")) {
		free(n);
		return NULL;
	}
	n->magic = VGPU_FN_MAGIC;
	n->conn = vgpu_cu_conn_id();
	vgpu_fn_register(n);
	return n;
}

/* ---- kernel node parameter storage -------------------------------- */

struct kstore {
	struct kstore *next;
	uint64_t node, graph;
	void **ptrs;
	uint8_t *data;
};

static struct kstore *stores;

static void store_free(struct kstore *k)
{
	free(k->ptrs);
	free(k->data);
	free(k);
}

void **vgpu_graph_kparams(uint64_t node, uint64_t graph,
			  const struct vgpu_fn *f, const uint8_t *data,
			  uint32_t len)
{
	struct kstore *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->node = node;
	k->graph = graph;
	k->ptrs = calloc(f->info.nparams + 1, sizeof(void *));
	k->data = malloc(len + 1);
	if (!k->ptrs || !k->data) {
		store_free(k);
		return NULL;
	}
	if (len)
		memcpy(k->data, data, len);
	for (uint32_t i = 0; i < f->info.nparams; i++)
		k->ptrs[i] = k->data + f->info.offset[i];
	/* a node's earlier answer is replaced: the driver's pointers are
	 * likewise only good until the node's next query or change */
	pthread_mutex_lock(&mu);
	for (struct kstore **p = &stores; *p; p = &(*p)->next)
		if ((*p)->node == node) {
			struct kstore *old = *p;
			*p = old->next;
			store_free(old);
			break;
		}
	k->next = stores;
	stores = k;
	pthread_mutex_unlock(&mu);
	return k->ptrs;
}

void vgpu_graph_forget(uint64_t graph)
{
	pthread_mutex_lock(&mu);
	for (struct kstore **p = &stores; *p;) {
		if ((*p)->graph == graph) {
			struct kstore *old = *p;
			*p = old->next;
			store_free(old);
		} else {
			p = &(*p)->next;
		}
	}
	pthread_mutex_unlock(&mu);
}

CUresult vgpu_graph_ids(uint16_t op, struct vgpu_cu_args *a, int slot,
			size_t width, uint64_t **ids, size_t *n,
			uint64_t head[4], const char *name)
{
	uint32_t cap = vgpu_inline_max(&vgpu_cu.conn.t.r);
	struct vgpu_cu_ids *r = malloc(cap);
	uint64_t *v = NULL;
	size_t got = 0, total = 0;
	CUresult rc = r ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
	for (bool first = true; !rc && (first || got < total); first = false) {
		struct vgpu_cu_args q = *a;
		q.a[slot] = got;
		if ((rc = vgpu_cu_call(op, &q, sizeof(q), r, cap, true, name)))
			break;
		if (first) {
			memcpy(head, r->a, sizeof(r->a));
			total = r->total;
			v = malloc((total * width + 1) * sizeof(*v));
			if (!v) {
				rc = CUDA_ERROR_OUT_OF_MEMORY;
				break;
			}
		}
		/* the list changed under us, or a reply that says nothing */
		if (r->total != total || r->n > total - got ||
		    r->n > (cap - sizeof(*r)) / sizeof(*v) / width ||
		    (!r->n && got < total)) {
			rc = CUDA_ERROR_UNKNOWN;
			break;
		}
		memcpy(v + got * width, r->id, r->n * width * sizeof(*v));
		got += r->n;
	}
	free(r);
	if (rc) {
		free(v);
		return rc;
	}
	*ids = v;
	*n = total;
	return CUDA_SUCCESS;
}
