/* daemon/worker_vmm.c - the worker's virtual memory management and IPC.
 *
 * Contract: vw_vmm_execute() runs the hand-written requests of this area
 * (its opcode range in ring/cuda_proto.h) and replies; any other opcode
 * returns false untouched.
 *
 * VMM: the guest names physical allocations by ids this worker issued
 * (kind VGPU_HK_MEM_HANDLE, pid salt, slot and generation), never by the
 * driver's handle. A reservation, mapping or access change is allowed
 * only inside the caller's own reservations; a mapping's range is the
 * caller's for every later ownership check (vw_range) until it is
 * unmapped. A physical allocation counts as this process's device memory
 * in the ledger from cuMemCreate until the driver frees it: when the last
 * handle reference is released and its last mapping is gone (ggml
 * releases its handles right after mapping). Retain returns the same id
 * while one is live, as the driver returns the same handle. The guest's
 * device 0 is this worker's device in every location.
 *
 * One mutex orders this area's tables and driver calls: they are rare
 * (allocator growth), so nothing is gained by finer locking, and the
 * tables always agree with the driver's state.
 */
#include "worker_vmm.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(CUmemAllocationProp) == 32, "prop travels in 4 slots");
_Static_assert(sizeof(CUmemLocation) == 8, "location travels in 1 slot");

#define GEN_SHIFT 20
#define SLOT_MASK ((1u << GEN_SHIFT) - 1)

struct vw_vmm *vw_vmm_of(struct vworker *W)
{
	pthread_mutex_lock(&W->mu);
	if (!W->vmm && (W->vmm = calloc(1, sizeof(*W->vmm))))
		pthread_mutex_init(&W->vmm->mu, NULL);
	struct vw_vmm *v = W->vmm;
	pthread_mutex_unlock(&W->mu);
	return v;
}

/* ---- tables (under v->mu) ------------------------------------------------ */

static uint64_t phys_id(uint32_t i, uint32_t gen)
{
	uint64_t salt = ((uint64_t)getpid() & 0xffffff) << 32;
	return ((uint64_t)VGPU_HK_MEM_HANDLE << VGPU_CU_HKIND_SHIFT) | salt |
	       (uint64_t)(gen & 0xfff) << GEN_SHIFT | (i + 1);
}

static struct vw_phys *phys_get(struct vw_vmm *v, uint64_t id)
{
	uint32_t i = (uint32_t)(id & SLOT_MASK) - 1;
	if (i >= v->nphys || !v->phys[i].used || v->phys[i].id != id || !id)
		return NULL;
	return &v->phys[i];
}

static struct vw_phys *phys_new(struct vw_vmm *v)
{
	uint32_t i = 0;
	while (i < v->nphys && v->phys[i].used)
		i++;
	if (i == v->nphys) {
		if (i >= SLOT_MASK)
			return NULL;
		struct vw_phys *n = realloc(v->phys, (i + 16) * sizeof(*n));
		if (!n)
			return NULL;
		memset(n + i, 0, 16 * sizeof(*n));
		v->phys = n;
		v->nphys += 16;
	}
	struct vw_phys *p = &v->phys[i];
	uint32_t gen = p->gen + 1;
	*p = (struct vw_phys){.used = true, .gen = gen};
	return p;
}

/* A live handle reference gets (or keeps) its id. */
static void phys_name(struct vw_vmm *v, struct vw_phys *p)
{
	if (!p->id) {
		p->gen++;
		p->id = phys_id((uint32_t)(p - v->phys), p->gen);
	}
}

/* Forget p once the driver has freed it: no reference, no mapping. */
static void phys_settle(struct vworker *W, struct vw_phys *p)
{
	if (!p->hrefs)
		p->id = 0;
	if (p->hrefs || p->maps)
		return;
	vw_mem_uncharge(W, p->size);
	p->used = false;
}

static int span_add(struct vw_span **s, uint32_t *n, uint32_t *cap,
		    struct vw_span x)
{
	if (*n == *cap) {
		uint32_t c = *cap ? *cap * 2 : 16;
		struct vw_span *m = realloc(*s, c * sizeof(*m));
		if (!m)
			return -1;
		*s = m;
		*cap = c;
	}
	(*s)[(*n)++] = x;
	return 0;
}

/* The span of s holding [p, p+len), computed without overflow. */
static struct vw_span *span_in(struct vw_span *s, uint32_t n, CUdeviceptr p,
			       uint64_t len)
{
	for (uint32_t i = 0; i < n; i++)
		if (p >= s[i].base && p - s[i].base < s[i].size &&
		    len <= s[i].size - (p - s[i].base))
			return &s[i];
	return NULL;
}

/* Drop the mappings lying inside [p, p+len). */
static void unmap_range(struct vworker *W, struct vw_vmm *v, CUdeviceptr p,
			uint64_t len)
{
	for (uint32_t i = 0; i < v->nmaps;) {
		struct vw_span *m = &v->maps[i];
		if (m->base >= p && m->base - p < len &&
		    m->size <= len - (m->base - p)) {
			struct vw_phys *ph = &v->phys[m->phys];
			vw_alloc_unmapped(W, m->base);
			ph->maps--;
			phys_settle(W, ph);
			*m = v->maps[--v->nmaps];
		} else {
			i++;
		}
	}
}

/* ---- the guest's device and the worker's --------------------------------- */

/* A location from the guest: its devices 0..n-1 are the VM's GPUs
 * (vw_dev_host); another ordinal names no device (INT_MAX: the driver answers as for any bad ordinal). Host
 * locations are refused: vgpu reports no host VMM. */
CUresult vw_vmm_loc_in(struct vworker *W, uint64_t wire, CUmemLocation *l)
{
	memcpy(l, &wire, sizeof(*l));
	if (l->type == CU_MEM_LOCATION_TYPE_HOST ||
	    l->type == CU_MEM_LOCATION_TYPE_HOST_NUMA ||
	    l->type == CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (l->type == CU_MEM_LOCATION_TYPE_DEVICE) {
		int h = vw_dev_host(W, l->id);
		l->id = h < 0 ? INT_MAX : h;
	}
	return CUDA_SUCCESS;
}

static CUresult prop_in(struct vworker *W, const uint64_t *wire,
			CUmemAllocationProp *p)
{
	memcpy(p, wire, sizeof(*p));
	/* a guest pointer: the driver requires it zero off Windows */
	if (p->win32HandleMetaData)
		return CUDA_ERROR_INVALID_VALUE;
	uint64_t l;
	memcpy(&l, &p->location, sizeof(l));
	return vw_vmm_loc_in(W, l, &p->location);
}

static void prop_out(struct vworker *W, CUmemAllocationProp *p, uint64_t *wire)
{
	if (p->location.type == CU_MEM_LOCATION_TYPE_DEVICE) {
		int g = vw_dev_guest(W, p->location.id);
		p->location.id = g < 0 ? INT_MAX : g;
	}
	p->win32HandleMetaData = NULL;
	memcpy(wire, p, sizeof(*p));
}

/* ---- requests -------------------------------------------------------------- */

static CUresult granularity(struct vworker *W, const uint64_t *a, uint64_t *o)
{
	CUmemAllocationProp p;
	size_t g = 0;
	CUresult r = prop_in(W, a + 1, &p);
	if (!r)
		r = W->drv.cuMemGetAllocationGranularity(
			&g, &p, (CUmemAllocationGranularity_flags)a[0]);
	o[0] = g;
	return r;
}

static CUresult reserve(struct vworker *W, struct vw_vmm *v, const uint64_t *a,
			uint64_t *o)
{
	CUdeviceptr p = 0;
	CUresult r = W->drv.cuMemAddressReserve(&p, a[0], a[1], a[2], a[3]);
	if (r)
		return r;
	if (span_add(&v->resv, &v->nresv, &v->rcap,
		     (struct vw_span){p, a[0], 0})) {
		W->drv.cuMemAddressFree(p, a[0]);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	o[0] = p;
	return CUDA_SUCCESS;
}

static CUresult address_free(struct vworker *W, struct vw_vmm *v,
			     const uint64_t *a)
{
	struct vw_span *s = span_in(v->resv, v->nresv, a[0], a[1]);
	if (!s || s->base != a[0] || s->size != a[1])
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = W->drv.cuMemAddressFree(a[0], a[1]);
	if (r == CUDA_SUCCESS) {
		unmap_range(W, v, a[0], a[1]); /* if the driver allowed it */
		*s = v->resv[--v->nresv];
	}
	return r;
}

static CUresult create(struct vworker *W, struct vw_vmm *v, const uint64_t *a,
		       uint64_t *o)
{
	CUmemAllocationProp prop;
	CUmemGenericAllocationHandle h;
	CUresult r = prop_in(W, a + 2, &prop);
	if (!r && !(r = vw_mem_charge(W, a[0]))) {
		r = W->drv.cuMemCreate(&h, a[0], &prop, a[1]);
		if (r)
			vw_mem_uncharge(W, a[0]);
	}
	if (r)
		return r;
	struct vw_phys *p = phys_new(v);
	if (!p) {
		W->drv.cuMemRelease(h);
		vw_mem_uncharge(W, a[0]);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	p->real = h;
	p->size = a[0];
	p->hrefs = 1;
	phys_name(v, p);
	o[0] = p->id;
	return CUDA_SUCCESS;
}

static CUresult release(struct vworker *W, struct vw_vmm *v, const uint64_t *a)
{
	struct vw_phys *p = phys_get(v, a[0]);
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	/* one reference less whatever the driver says: after a fault it
	 * releases and still returns the sticky error */
	CUresult r = W->drv.cuMemRelease(p->real);
	p->hrefs--;
	phys_settle(W, p);
	return r;
}

static CUresult map(struct vworker *W, struct vw_vmm *v, const uint64_t *a)
{
	struct vw_phys *p = phys_get(v, a[3]);
	if (!p || !span_in(v->resv, v->nresv, a[0], a[1]))
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = W->drv.cuMemMap(a[0], a[1], a[2], p->real, a[4]);
	if (r)
		return r;
	struct vw_span m = {a[0], a[1], (uint32_t)(p - v->phys)};
	if (span_add(&v->maps, &v->nmaps, &v->mcap, m)) {
		W->drv.cuMemUnmap(a[0], a[1]);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	if (vw_alloc_mapped(W, a[0], a[1])) {
		v->nmaps--;
		W->drv.cuMemUnmap(a[0], a[1]);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	p->maps++;
	return CUDA_SUCCESS;
}

static CUresult unmap(struct vworker *W, struct vw_vmm *v, const uint64_t *a)
{
	if (!span_in(v->resv, v->nresv, a[0], a[1]))
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = W->drv.cuMemUnmap(a[0], a[1]);
	if (r == CUDA_SUCCESS)
		unmap_range(W, v, a[0], a[1]);
	return r;
}

static CUresult set_access(struct vworker *W, struct vw_vmm *v,
			   const struct vgpu_msg *m)
{
	uint64_t h[3];
	if (m->len < sizeof(h))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(h, m->data, sizeof(h));
	if (h[2] > VGPU_CU_MAX_ACCESS_DESCS ||
	    m->len != sizeof(h) + h[2] * 16)
		return CUDA_ERROR_INVALID_VALUE;
	if (!span_in(v->resv, v->nresv, h[0], h[1]))
		return CUDA_ERROR_INVALID_VALUE;
	CUmemAccessDesc d[VGPU_CU_MAX_ACCESS_DESCS];
	for (uint64_t i = 0; i < h[2]; i++) {
		uint64_t w[2];
		memcpy(w, m->data + sizeof(h) + i * 16, sizeof(w));
		CUresult r = vw_vmm_loc_in(W, w[0], &d[i].location);
		if (r)
			return r;
		d[i].flags = (CUmemAccess_flags)w[1];
	}
	return W->drv.cuMemSetAccess(h[0], h[1], d, h[2]);
}

static CUresult get_access(struct vworker *W, struct vw_vmm *v,
			   const uint64_t *a, uint64_t *o)
{
	CUmemLocation l;
	unsigned long long f = 0;
	if (!span_in(v->maps, v->nmaps, a[0], 1))
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = vw_vmm_loc_in(W, a[1], &l);
	if (!r)
		r = W->drv.cuMemGetAccess(&f, &l, a[0]);
	o[0] = f;
	return r;
}

static CUresult get_prop(struct vworker *W, struct vw_vmm *v, const uint64_t *a,
			 uint64_t *o)
{
	CUmemAllocationProp prop;
	struct vw_phys *p = phys_get(v, a[0]);
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = W->drv.cuMemGetAllocationPropertiesFromHandle(&prop,
								   p->real);
	if (!r)
		prop_out(W, &prop, o);
	return r;
}

static CUresult retain(struct vworker *W, struct vw_vmm *v, const uint64_t *a,
		       uint64_t *o)
{
	CUmemGenericAllocationHandle h;
	if (!span_in(v->maps, v->nmaps, a[0], 1))
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = W->drv.cuMemRetainAllocationHandle(
		&h, (void *)(uintptr_t)a[0]);
	if (r)
		return r;
	for (uint32_t i = 0; i < v->nphys; i++) {
		struct vw_phys *p = &v->phys[i];
		if (p->used && p->real == h && (p->hrefs || p->maps)) {
			p->hrefs++;
			phys_name(v, p);
			o[0] = p->id;
			return CUDA_SUCCESS;
		}
	}
	W->drv.cuMemRelease(h); /* not ours: cannot happen, never leak */
	return CUDA_ERROR_INVALID_VALUE;
}

static CUresult run(struct vworker *W, struct vw_vmm *v,
		    const struct vgpu_msg *m, uint64_t *o)
{
	uint64_t a[8] = {0};
	if (m->op == VGPU_CU_MEM_SET_ACCESS)
		return set_access(W, v, m);
	if (m->len != sizeof(a))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(a, m->data, sizeof(a));
	switch (m->op) {
	case VGPU_CU_MEM_GET_GRANULARITY: return granularity(W, a, o);
	case VGPU_CU_MEM_ADDRESS_RESERVE: return reserve(W, v, a, o);
	case VGPU_CU_MEM_ADDRESS_FREE: return address_free(W, v, a);
	case VGPU_CU_MEM_CREATE: return create(W, v, a, o);
	case VGPU_CU_MEM_RELEASE: return release(W, v, a);
	case VGPU_CU_MEM_MAP: return map(W, v, a);
	case VGPU_CU_MEM_UNMAP: return unmap(W, v, a);
	case VGPU_CU_MEM_GET_ACCESS: return get_access(W, v, a, o);
	case VGPU_CU_MEM_GET_PROP: return get_prop(W, v, a, o);
	default: return retain(W, v, a, o);
	}
}

bool vw_vmm_execute(struct vworker *W, struct vw_exec *x,
		     const struct vgpu_msg *m)
{
	(void)x;
	if (m->op == VGPU_CU_MEM_POOL_CREATE || m->op == VGPU_CU_MEM_POOL) {
		vw_vmm_pool(W, m);
		return true;
	}
	if (m->op == VGPU_CU_IPC_OPEN || m->op == VGPU_CU_IPC) {
		vw_vmm_ipc(W, m);
		return true;
	}
	if (m->op < VGPU_CU_MEM_GET_GRANULARITY ||
	    m->op > VGPU_CU_MEM_RETAIN_HANDLE)
		return false;
	struct vgpu_cu_args out = {{0}};
	struct vw_vmm *v = vw_vmm_of(W);
	CUresult r = CUDA_ERROR_OUT_OF_MEMORY;
	if (v) {
		pthread_mutex_lock(&v->mu);
		r = run(W, v, m, out.a);
		pthread_mutex_unlock(&v->mu);
	}
	r = vw_take_async_err(W, r);
	vw_reply(W, m, r, &out, sizeof(out), 0);
	return true;
}

void vw_vmm_forget(struct vworker *W)
{
	struct vw_vmm *v = W->vmm;
	if (!v)
		return;
	W->vmm = NULL;
	pthread_mutex_destroy(&v->mu);
	free(v->phys);
	free(v->resv);
	free(v->maps);
	free(v->pools.v);
	free(v->imports.v);
	free(v);
}

uint64_t vw_vmm_bytes(struct vworker *W)
{
	struct vw_vmm *v = vw_vmm_of(W);
	uint64_t n = 0;
	if (!v)
		return 0;
	pthread_mutex_lock(&v->mu);
	for (uint32_t i = 0; i < v->nphys; i++)
		if (v->phys[i].used)
			n += v->phys[i].size;
	pthread_mutex_unlock(&v->mu);
	return n;
}
