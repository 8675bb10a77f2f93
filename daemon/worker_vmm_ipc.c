/* daemon/worker_vmm_ipc.c - CUDA IPC between guest processes of one VM.
 *
 * Contract: workers are host processes on the same GPU, so the driver's
 * own IPC works between them; the guest must never see or forge its
 * handles. Exporting stores the driver's handle in the VM's IPC table
 * (daemon/ledger.h: a memfd only this VM's workers and the supervisor
 * map) under a random 64-bit nonce, and gives the guest (slot, nonce)
 * (struct vgpu_cu_ipc_handle). Opening looks the slot up in this worker's
 * VM's table: another VM's handle, a guessed one or one whose exporter is
 * gone finds nothing and is CUDA_ERROR_INVALID_VALUE. Only the caller's
 * memory and events can be exported. Imported memory is the importer's
 * range (not counted: the exporter's ledger counts it) until closed, with
 * the driver's reference count: opening one handle twice returns the same
 * pointer, and the range goes at the last close.
 */
#define _GNU_SOURCE
#include "worker_vmm.h"
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

_Static_assert(sizeof(struct vgpu_cu_ipc_handle) == VGPUD_IPC_HANDLE,
	       "the guest's handle is a CUipcMemHandle");
_Static_assert(sizeof(CUipcMemHandle) == VGPUD_IPC_HANDLE &&
	       sizeof(CUipcEventHandle) == VGPUD_IPC_HANDLE, "64 bytes");

enum { KIND_MEM = 1, KIND_EVENT = 2 };

static uint64_t nonce(void)
{
	uint64_t n = 0;
	while (n <= 1) /* 0 and 1 mean free and busy */
		if (getrandom(&n, sizeof(n), 0) != sizeof(n))
			n = 0;
	return n;
}

/* A slot for the driver's handle h (the one this worker already exported
 * it in, as the driver returns the same handle for one allocation). */
static CUresult publish(struct vworker *W, uint32_t kind, const void *h,
			uint64_t size, struct vgpu_cu_ipc_handle *out)
{
	struct vgpud_ipc_slot *t = W->ipc;
	int32_t me = (int32_t)getpid();
	if (!t)
		return CUDA_ERROR_NOT_SUPPORTED; /* no VM table (tests) */
	for (uint32_t i = 0; i < VGPUD_IPC_SLOTS; i++) {
		uint64_t n = atomic_load(&t[i].nonce);
		if (n > 1 && atomic_load(&t[i].owner) == me &&
		    t[i].kind == kind && !memcmp(t[i].handle, h, VGPUD_IPC_HANDLE)) {
			*out = (struct vgpu_cu_ipc_handle){VGPU_CU_IPC_MAGIC,
							   kind, i, 0, n, {0}};
			return CUDA_SUCCESS;
		}
	}
	for (uint32_t i = 0; i < VGPUD_IPC_SLOTS; i++) {
		uint64_t zero = 0;
		if (!atomic_compare_exchange_strong(&t[i].nonce, &zero, 1))
			continue;
		atomic_store(&t[i].owner, me);
		t[i].kind = kind;
		t[i].size = size;
		memcpy(t[i].handle, h, VGPUD_IPC_HANDLE);
		uint64_t n = nonce();
		atomic_store_explicit(&t[i].nonce, n, memory_order_release);
		*out = (struct vgpu_cu_ipc_handle){VGPU_CU_IPC_MAGIC, kind, i, 0,
						   n, {0}};
		return CUDA_SUCCESS;
	}
	return CUDA_ERROR_OUT_OF_MEMORY;
}

/* The driver's handle behind g, copied out while the nonce holds. */
static CUresult lookup(struct vworker *W, uint32_t kind,
		       const struct vgpu_cu_ipc_handle *g, void *h,
		       uint64_t *size)
{
	struct vgpud_ipc_slot *t = W->ipc;
	if (!t)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (g->magic != VGPU_CU_IPC_MAGIC || g->kind != kind ||
	    g->slot >= VGPUD_IPC_SLOTS || g->nonce <= 1)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpud_ipc_slot *s = &t[g->slot];
	if (atomic_load_explicit(&s->nonce, memory_order_acquire) != g->nonce)
		return CUDA_ERROR_INVALID_VALUE;
	uint32_t k = s->kind;
	*size = s->size;
	memcpy(h, s->handle, VGPUD_IPC_HANDLE);
	atomic_thread_fence(memory_order_acquire);
	/* recycled while we copied: the copy may be torn */
	if (atomic_load(&s->nonce) != g->nonce || k != kind)
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

static CUresult mem_get(struct vworker *W, uint64_t dptr,
			struct vgpu_cu_ipc_handle *out)
{
	CUipcMemHandle h;
	CUdeviceptr base;
	size_t size;
	CUresult r = vw_range(W, dptr, 1);
	if (!r)
		r = W->drv.cuIpcGetMemHandle(&h, dptr);
	if (!r)
		r = W->drv.cuMemGetAddressRange_v2(&base, &size, dptr);
	return r ? r : publish(W, KIND_MEM, &h, size, out);
}

static CUresult event_get(struct vworker *W, uint64_t id,
			  struct vgpu_cu_ipc_handle *out)
{
	CUipcEventHandle h;
	CUevent ev;
	CUresult r = vw_handle_get(W, VGPU_HK_EVENT, id, (void **)&ev);
	if (!r)
		r = W->drv.cuIpcGetEventHandle(&h, ev);
	return r ? r : publish(W, KIND_EVENT, &h, 0, out);
}

static struct vw_import *import_of(struct vw_vmm *v, uint64_t p)
{
	for (uint32_t i = 0; i < v->imports.n; i++)
		if (v->imports.v[i].base == p)
			return &v->imports.v[i];
	return NULL;
}

static CUresult mem_open(struct vworker *W, struct vw_vmm *v,
			 const struct vgpu_cu_ipc_open *o, uint64_t *out)
{
	CUipcMemHandle h;
	CUdeviceptr p;
	uint64_t size;
	CUresult r = lookup(W, KIND_MEM, &o->h, &h, &size);
	if (!r)
		r = W->drv.cuIpcOpenMemHandle_v2(&p, h, o->flags);
	if (r)
		return r;
	struct vw_import *im = import_of(v, p);
	if (im) { /* the driver counted one more opening */
		im->refs++;
		*out = p;
		return CUDA_SUCCESS;
	}
	struct vw_imports *I = &v->imports;
	if (I->n == I->cap) {
		uint32_t cap = I->cap ? I->cap * 2 : 8;
		struct vw_import *n = realloc(I->v, cap * sizeof(*n));
		if (!n) {
			W->drv.cuIpcCloseMemHandle(p);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		I->v = n;
		I->cap = cap;
	}
	if (vw_alloc_mapped(W, p, size)) {
		W->drv.cuIpcCloseMemHandle(p);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	I->v[I->n++] = (struct vw_import){p, 1};
	*out = p;
	return CUDA_SUCCESS;
}

static CUresult mem_close(struct vworker *W, struct vw_vmm *v, uint64_t p)
{
	struct vw_import *im = import_of(v, p);
	if (!im)
		return CUDA_ERROR_INVALID_VALUE;
	/* one reference less whatever the driver says (a sticky fault) */
	CUresult r = W->drv.cuIpcCloseMemHandle(p);
	if (--im->refs == 0) {
		vw_alloc_unmapped(W, p);
		*im = v->imports.v[--v->imports.n];
	}
	return r;
}

static CUresult event_open(struct vworker *W, const struct vgpu_cu_ipc_open *o,
			   uint64_t *out)
{
	CUipcEventHandle h;
	CUevent ev;
	uint64_t size;
	CUresult r = lookup(W, KIND_EVENT, &o->h, &h, &size);
	if (!r)
		r = W->drv.cuIpcOpenEventHandle(&ev, h);
	if (r)
		return r;
	if (!(*out = vw_handle_new(W, VGPU_HK_EVENT, ev))) {
		W->drv.cuEventDestroy_v2(ev);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return CUDA_SUCCESS;
}

static CUresult run(struct vworker *W, struct vw_vmm *v,
		    const struct vgpu_msg *m, struct vgpu_cu_args *out)
{
	if (m->op == VGPU_CU_IPC_OPEN) {
		struct vgpu_cu_ipc_open o;
		if (m->len != sizeof(o))
			return CUDA_ERROR_INVALID_VALUE;
		memcpy(&o, m->data, sizeof(o));
		if (o.kind == KIND_MEM)
			return mem_open(W, v, &o, &out->a[0]);
		return o.kind == KIND_EVENT ? event_open(W, &o, &out->a[0])
					    : CUDA_ERROR_INVALID_VALUE;
	}
	uint64_t a[8];
	struct vgpu_cu_ipc_handle h;
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (m->len != sizeof(a))
		return r;
	memcpy(a, m->data, sizeof(a));
	switch (a[0]) {
	case VGPU_IPC_MEM_GET: r = mem_get(W, a[1], &h); break;
	case VGPU_IPC_EVENT_GET: r = event_get(W, a[1], &h); break;
	case VGPU_IPC_MEM_CLOSE: return mem_close(W, v, a[1]);
	default: return r;
	}
	if (!r)
		memcpy(out, &h, sizeof(h));
	return r;
}

void vw_vmm_ipc(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args out = {{0}};
	struct vw_vmm *v = vw_vmm_of(W);
	CUresult r = CUDA_ERROR_OUT_OF_MEMORY;
	if (v) {
		pthread_mutex_lock(&v->mu);
		r = run(W, v, m, &out);
		pthread_mutex_unlock(&v->mu);
	}
	vw_reply(W, m, vw_take_async_err(W, r), &out, sizeof(out), 0);
}
