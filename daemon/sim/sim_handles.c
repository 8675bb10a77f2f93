/* daemon/sim/sim_handles.c - the registry of live handles.
 *
 * Contract: a CUstream, CUevent, CUmodule or CUfunction the sim hands out
 * is the address of a struct whose first member is a struct sim_obj. Every
 * call looks the handle up here before touching it, so a stale, foreign or
 * garbage handle gives CUDA_ERROR_INVALID_HANDLE instead of a crash (the
 * real driver often crashes; the daemon must not). The registry is a hash
 * set of addresses: lookups never dereference the handle. Objects are
 * reference counted: destroying a handle removes it from the set at once,
 * and the object is freed when the last operation using it is done.
 */
#include "sim.h"
#include <stdlib.h>

#define TOMB ((struct sim_obj *)1)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct sim_obj **slot;
static size_t cap, used, live; /* used counts tombstones too */

static size_t hash(const void *p, size_t mask)
{
	uint64_t x = (uint64_t)(uintptr_t)p;
	x ^= x >> 29;
	x *= 0x9e3779b97f4a7c15ull;
	return (size_t)(x >> 17) & mask;
}

/* Index of o's slot, or of the empty slot ending its probe sequence. */
static size_t probe(const void *o)
{
	size_t i = hash(o, cap - 1);
	while (slot[i] && slot[i] != o)
		i = (i + 1) & (cap - 1);
	return i;
}

/* Rehash into a table sized by the live objects: the tombstones go. Sized
 * from the old capacity instead, the table doubled each time tombstones
 * filled it, so a create/destroy loop grew it (and every collect's scan)
 * without bound (fuzz_worker's executions slowed down over minutes). */
static int grow(void)
{
	size_t ncap = 64;
	while (live * 2 >= ncap)
		ncap *= 2;
	struct sim_obj **old = slot, **n = calloc(ncap, sizeof(*n));
	if (!n)
		return -1;
	size_t ocap = cap;
	slot = n;
	cap = ncap;
	used = live;
	for (size_t i = 0; i < ocap; i++)
		if (old[i] && old[i] != TOMB)
			slot[probe(old[i])] = old[i];
	free(old);
	return 0;
}

void sim_obj_init(struct sim_obj *o, enum sim_kind k,
		  void (*destroy)(struct sim_obj *))
{
	o->kind = k;
	atomic_init(&o->refs, 1);
	o->destroy = destroy;
	o->ctx = sim_ctx_tag();
}

int sim_obj_register(struct sim_obj *o)
{
	pthread_mutex_lock(&mu);
	int rc = 0;
	if ((used + 1) * 4 >= cap * 3)
		rc = grow();
	if (!rc) {
		size_t i = probe(o);
		slot[i] = o;
		used++;
		live++;
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

struct sim_obj *sim_obj_get(const void *h, enum sim_kind k)
{
	struct sim_obj *o = NULL;
	if (!h || h == TOMB)
		return NULL;
	pthread_mutex_lock(&mu);
	if (cap) {
		size_t i = probe(h);
		if (slot[i] && slot[i]->kind == k) {
			o = slot[i];
			atomic_fetch_add(&o->refs, 1);
		}
	}
	pthread_mutex_unlock(&mu);
	return o;
}

void sim_obj_ref(struct sim_obj *o)
{
	atomic_fetch_add(&o->refs, 1);
}

void sim_obj_put(struct sim_obj *o)
{
	if (o && atomic_fetch_sub(&o->refs, 1) == 1)
		o->destroy(o);
}

bool sim_obj_unregister(struct sim_obj *o)
{
	bool found = false;
	pthread_mutex_lock(&mu);
	if (cap) {
		size_t i = probe(o);
		if (slot[i] == o) {
			slot[i] = TOMB;
			live--;
			found = true;
		}
	}
	pthread_mutex_unlock(&mu);
	if (found)
		sim_obj_put(o);
	return found;
}

size_t sim_obj_slots(void)
{
	pthread_mutex_lock(&mu);
	size_t n = cap;
	pthread_mutex_unlock(&mu);
	return n;
}

int sim_obj_collect(enum sim_kind k, struct sim_obj ***out, size_t *n)
{
	pthread_mutex_lock(&mu);
	struct sim_obj **v = malloc((live + 1) * sizeof(*v));
	size_t m = 0;
	for (size_t i = 0; v && i < cap; i++) {
		struct sim_obj *o = slot[i];
		if (o && o != TOMB && o->kind == k) {
			atomic_fetch_add(&o->refs, 1);
			v[m++] = o;
		}
	}
	pthread_mutex_unlock(&mu);
	*out = v;
	*n = m;
	return v ? 0 : -1;
}
