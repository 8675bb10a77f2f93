/* daemon/worker_sched.h - a worker's side of the fair-share scheduler.
 *
 * Contract: every launch path (kernels, graph launches) brackets the
 * driver call with vw_sched_before/after. Before admits the launch from
 * the VM's tokens in the ledger (struct vgpud_sched_vm: the supervisor
 * grants, workers spend), waiting on the executor's thread while there
 * are none: the guest's later requests from that thread queue behind it,
 * so stream order holds and a synchronising call waits for the held
 * launch to be admitted and run. After records an event behind the launch
 * on its stream; the worker's poller thread sees it complete, reports
 * the context busy/idle and the queue in the channel's ledger slot, and
 * learns the per-key (function or graph) duration estimate (an EWMA)
 * that the next launch of the key is admitted with. Without a ledger
 * (tests), with the scheduler off, or on a capturing stream (nothing
 * runs) both are no-ops.
 */
#ifndef VGPU_DAEMON_WORKER_SCHED_H
#define VGPU_DAEMON_WORKER_SCHED_H

#include "worker.h"

struct vw_ticket {
	const void *key; /* the function or graph exec */
	uint64_t est_ns; /* admitted with this estimate; 0: untracked */
	uint64_t t0;     /* when admitted */
	CUevent ev0;     /* recorded before the launch (timing); or NULL */
	CUevent ev;      /* from the pool, to record behind it; or NULL */
	bool chain;      /* no ev0: the stream's previous launch was still in
			  * flight, so this one starts when that one ends */
	uint64_t ctx;    /* the executor's context tag (vw_ctx_tagged) */
	uint32_t gpu;    /* the ledger slot: the VM device it runs on */
};

void vw_sched_before(struct vworker *W, const void *key, CUstream s,
		     struct vw_ticket *t);
/* r: the driver's answer to the launch (a failed launch gives its tokens
 * back). */
void vw_sched_after(struct vworker *W, struct vw_ticket *t, CUstream s,
		    CUresult r);
/* VGPU_CU_OP_cuGraphLaunch (the generated call, bracketed): replies. */
void vw_sched_graph_launch(struct vworker *W, const struct vgpu_msg *m);
/* The estimate a launch of key would be admitted with now (tests). */
uint64_t vw_sched_estimate(struct vworker *W, const void *key);
/* The worker is closing: launches waiting for tokens go at once, the
 * poller stops; what is in flight stays counted until the supervisor
 * retires the channel. */
void vw_sched_close(struct vworker *W);

/* bytes went between the guest's memory and the device: counted in the
 * channel's ledger slot for `vgpuctl stats` (copy GB/s). */
void vw_copied(struct vworker *W, uint64_t bytes);

/* A key never seen, before any launch of the worker was measured (then:
 * the average of its launches): 0.5 ms */
#define VW_SCHED_DEFAULT_EST_NS 500000ull

#endif
