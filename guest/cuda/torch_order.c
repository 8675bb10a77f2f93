/* guest/cuda/torch_order.c - the program's call order across guest threads.
 *
 * Natively, work a thread enqueues on a stream comes after whatever any
 * thread enqueued there before it: the program's own synchronisation
 * (a mutex, a queue) orders the calls and so the work. The worker runs
 * each guest thread's requests on an executor of its own, so a launch
 * that thread A sent without waiting may still sit in A's queue when
 * thread B, told by A that the work is queued, sends its own, which could
 * then reach the driver first. PyTorch does exactly this every training
 * step: its autograd engine runs the backward pass on a thread of its own,
 * right after the main thread queued the forward pass (through vgpu the
 * losses turned to NaN: gradients read before they were written).
 *
 * Contract: before any request, vgpu_cu_order_before() finds the other
 * threads that may have asynchronous requests not yet run and, if there
 * are any, sends one VGPU_CU_ORDER_AFTER naming them (per 16), answered
 * once each has run them or is in a synchronous call (whose caller waits,
 * so nothing is ordered after it natively either). A thread "may have
 * some" from its asynchronous send until a synchronous call of its own
 * returns or another thread's order request covered it: each thread's
 * slot counts requests sent and requests known to have run. A
 * single-threaded program pays one slot scan (its own) per call. Threads
 * beyond ORDER_SLOTS get no slot and instead wait for each asynchronous
 * request of theirs to run (VGPU_CU_BULK_FENCE): slower, still ordered.
 */
#define _GNU_SOURCE
#include "torch_order.h"
#include "rpc.h"
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ORDER_SLOTS 256

struct order_slot {
	_Atomic uint32_t tid;
	_Atomic uint64_t sent;   /* asynchronous requests sent */
	_Atomic uint64_t fenced; /* how many of them are known to have run */
} __attribute__((aligned(64)));

static struct order_slot slots[ORDER_SLOTS];
static _Atomic uint32_t nslots;
static __thread int mine = -1; /* -1: none yet; -2: none to be had */
static __thread bool exempt;    /* vgpu_cu_order_exempt() */

static int my_slot(void)
{
	if (mine == -1) {
		uint32_t i = atomic_fetch_add(&nslots, 1);
		if (i < ORDER_SLOTS) {
			atomic_store(&slots[i].tid, (uint32_t)syscall(SYS_gettid));
			mine = (int)i;
		} else {
			mine = -2;
		}
	}
	return mine;
}

static void raise_to(_Atomic uint64_t *v, uint64_t to)
{
	uint64_t cur = atomic_load(v);
	while (cur < to && !atomic_compare_exchange_weak(v, &cur, to))
		;
}

/* One request outside vgpu_cu_call (which brackets with this file). */
static CUresult call(uint16_t op, const void *in, uint32_t len)
{
	struct vgpu_req q = {.op = op, .data = in, .len = len};
	struct vgpu_resp p = {0};
	atomic_fetch_add_explicit(&vgpu_cu_round_trips, 1,
				  memory_order_relaxed);
	int rc = vgpu_gchan_call(&vgpu_cu.conn.ch, &q, &p);
	return rc ? vgpu_cu_from_ring(rc) : (CUresult)p.result;
}

static CUresult flush(struct vgpu_cu_order *o, const uint32_t *idx,
		      const uint64_t *seen)
{
	CUresult r = call(VGPU_CU_ORDER_AFTER, o,
			  (uint32_t)(sizeof(o->n) + o->n * sizeof(o->tid[0])));
	for (uint32_t k = 0; !r && k < o->n; k++)
		raise_to(&slots[idx[k]].fenced, seen[k]);
	o->n = 0;
	return r;
}

void vgpu_cu_order_exempt(void)
{
	exempt = true;
}

CUresult vgpu_cu_order_before(void)
{
	if (exempt)
		return CUDA_SUCCESS;
	uint32_t n = atomic_load_explicit(&nslots, memory_order_acquire);
	struct vgpu_cu_order o = {0};
	uint32_t idx[VGPU_CU_ORDER_MAX];
	uint64_t seen[VGPU_CU_ORDER_MAX];
	CUresult r = CUDA_SUCCESS;
	for (uint32_t i = 0; i < n && i < ORDER_SLOTS && !r; i++) {
		if ((int)i == mine)
			continue;
		uint64_t s = atomic_load_explicit(&slots[i].sent,
						  memory_order_acquire);
		if (s <= atomic_load(&slots[i].fenced))
			continue;
		idx[o.n] = i;
		seen[o.n] = s;
		o.tid[o.n++] = atomic_load(&slots[i].tid);
		if (o.n == VGPU_CU_ORDER_MAX)
			r = flush(&o, idx, seen);
	}
	return !r && o.n ? flush(&o, idx, seen) : r;
}

void vgpu_cu_order_after(bool async)
{
	if (exempt)
		return;
	int i = my_slot();
	if (i >= 0 && async) {
		atomic_fetch_add_explicit(&slots[i].sent, 1,
					  memory_order_release);
	} else if (i >= 0) { /* answered: this thread's earlier ones ran */
		raise_to(&slots[i].fenced, atomic_load(&slots[i].sent));
	} else if (async) {
		(void)call(VGPU_CU_BULK_FENCE, NULL, 0);
	}
}

void vgpu_cu_order_after_fork(void)
{
	memset(slots, 0, sizeof(slots));
	atomic_store(&nslots, 0);
	mine = -1;
}
