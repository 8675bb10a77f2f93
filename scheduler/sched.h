/* scheduler/sched.h - weighted fair sharing of one GPU among VMs.
 *
 * Contract: pure policy. The caller reports what happens (a VM wants to
 * launch, a launch was admitted, a context became busy or idle, a launch
 * completed) and asks what may happen next (may this VM admit a launch of
 * an estimated cost, how much GPU time may it queue now). Every call takes
 * the time, in nanoseconds of a monotonic clock the caller owns: that is
 * the injected clock (vgpud passes CLOCK_MONOTONIC, tests a simulated
 * one). No I/O, no locks (the caller serialises), no allocation; the same
 * calls with the same times give the same answers.
 *
 * Policy (docs/scheduler.md has the why):
 *  - GPU time is measured, not estimated (scheduler/meter.h: busy
 *    contexts, time-sliced, never double-counted), and charged to a
 *    virtual time that runs at 1/weight: vtime += gpu_ns * VS_WEIGHT_MAX /
 *    weight.
 *  - Fair share: a VM may admit only while its vtime is less than `slack`
 *    (of its own GPU time) ahead of the lowest vtime among VMs that have
 *    work (waiting launches or launches in flight) and are not held back
 *    by a cap. The VM at the minimum may always admit, so the GPU is never
 *    left idle while a VM could use it (work-conserving).
 *  - No banked credit: a VM that returns from idle (or from under its cap)
 *    restarts no more than `max_lag` (of its own GPU time) behind that
 *    minimum.
 *  - Hard cap (percent): a bucket fills at cap% of wall time up to
 *    `cap_burst`, measured GPU time drains it; admission needs it > 0.
 *  - Queue cap: a VM's admitted, unfinished launches may hold at most
 *    `queue` ns of estimated GPU time (a second launch always fits while
 *    one is queued, so kernels longer than `queue` still run back to
 *    back), so a heavy VM never stacks a deep queue in front of others.
 *  - Optionally (queue_ahead_ns), a VM ahead of a latency-bound VM (one
 *    that had work recently, never two launches queued) queues less:
 *    what the one behind waits behind. VMs that all keep queues of
 *    their own are left their whole queue (shares, not latency, are
 *    what they get).
 *  - Kernels are not preemptible: a kernel admitted runs to its end. What
 *    it runs beyond its estimate or beyond the VM's share is still
 *    measured and charged (vtime ahead, bucket below zero): a debt the VM
 *    repays by waiting. Fairness holds over windows longer than the
 *    longest kernel; within one, a VM can be ahead by one kernel per busy
 *    context.
 */
#ifndef VGPU_SCHED_SCHED_H
#define VGPU_SCHED_SCHED_H

#include "meter.h"
#include <stdbool.h>
#include <stdint.h>

#define VS_WEIGHT_MAX 10000

struct vs_params {
	uint64_t slack_ns;     /* fairness granularity (default 2 ms) */
	uint64_t max_lag_ns;   /* most credit an idle VM keeps (4 ms) */
	uint64_t queue_ns;     /* queued GPU time per VM (4 ms) */
	uint64_t cap_burst_ns; /* cap bucket depth (10 ms of GPU time) */
	/* The queue of a VM ahead of a latency-bound one, which had work
	 * within recent_ns but not two launches queued (0: no such rule,
	 * the default): at most this much, and no second launch beyond it,
	 * so that the VM behind (between its kernels, too) waits behind one
	 * kernel at most. */
	uint64_t queue_ahead_ns;
	uint64_t recent_ns;    /* 0: 50 ms */
};

struct vs_vm {
	bool present;
	uint32_t weight;     /* 1..VS_WEIGHT_MAX */
	uint32_t cap_pct;    /* 0: none, else 1..100 */
	bool demand;         /* launches waiting for admission */
	uint64_t vtime;      /* compared by signed difference: may wrap */
	int64_t budget_ns;   /* cap bucket; below zero: debt */
	uint64_t queued_ns;  /* admitted, unfinished: estimates */
	uint32_t queued;     /* ... and their number */
	uint64_t charged_ns; /* meter GPU time already in vtime/budget */
	uint64_t admitted;   /* launches, ever */
	bool was_capped;     /* at the last sync */
	bool held;           /* its last admission was refused by share/cap */
	uint64_t throttled_ns; /* wall time held back by its share or cap */
	uint64_t work_ns;    /* the last time it had work (0: never) */
	uint64_t deep_ns;    /* ... two launches or more queued (0: never) */
};

struct vs_sched {
	struct vs_params p;
	struct vs_meter m;
	uint64_t now;        /* the last time seen */
	uint32_t nvms;       /* 1 + highest VM index configured */
	struct vs_vm vm[VS_MAX_VMS];
};

/* p NULL: the defaults above. */
void vs_init(struct vs_sched *s, const struct vs_params *p, uint64_t now);
/* Add or change a VM (index < VS_MAX_VMS); takes effect at once, without
 * touching its launches in flight. weight 0 means 1; cap 0 = none. */
int vs_vm_set(struct vs_sched *s, uint32_t vm, uint32_t weight,
	      uint32_t cap_pct, uint64_t now);
/* Remove: its in-flight work stays metered until it goes idle. */
void vs_vm_remove(struct vs_sched *s, uint32_t vm, uint64_t now);

/* The VM has launches waiting (true) or none (false). */
void vs_demand(struct vs_sched *s, uint32_t vm, bool waiting, uint64_t now);
/* May vm queue one launch estimated at est_ns now? If so it is counted
 * as queued (until vs_complete) and true is returned. */
bool vs_admit(struct vs_sched *s, uint32_t vm, uint64_t est_ns,
	      uint64_t now);
/* An admitted launch finished (est_ns as admitted). */
void vs_complete(struct vs_sched *s, uint32_t vm, uint64_t est_ns,
		 uint64_t now);
/* GPU time vm used, measured by the caller (see vs_meter_charge): the
 * alternative to reporting busy/idle contexts. */
void vs_charge(struct vs_sched *s, uint32_t vm, uint64_t ns, uint64_t now);
/* One of vm's contexts starts / stops executing (see meter.h). */
void vs_ctx_busy(struct vs_sched *s, uint32_t vm, uint64_t now);
void vs_ctx_idle(struct vs_sched *s, uint32_t vm, uint64_t now);

/* The token grant: GPU time (estimated) vm may add to its queue now,
 * 0 while its share or cap holds it back. A guest holding this much may
 * admit launches itself without asking (docs/scheduler.md). */
uint64_t vs_grant_ns(struct vs_sched *s, uint32_t vm, uint64_t now);
/* Why vm may not admit now: NULL if it may. */
const char *vs_held(struct vs_sched *s, uint32_t vm, uint64_t now);

/* The token form of vs_demand + vs_admit, for callers whose VMs admit
 * launches themselves from a grant (vgpud's workers, docs/scheduler.md):
 * the caller tells whether launches are waiting and what the VM has
 * queued (admitted, unfinished: count and estimated ns), and gets the
 * grant (as vs_grant_ns). A VM that was neither waiting nor queued and
 * now is comes back level with the pace (no banked credit), as with
 * vs_demand; a VM waiting while its share or cap holds it back counts as
 * throttled until the next call. */
uint64_t vs_tokens(struct vs_sched *s, uint32_t vm, bool waiting,
		   uint32_t queued, uint64_t queued_ns, uint64_t now);

/* Measured GPU time of vm, up to now. */
uint64_t vs_gpu_ns(struct vs_sched *s, uint32_t vm, uint64_t now);

/* Jain's fairness index over n values x[i] / w[i] (w NULL: all 1). */
double vs_jain(const double *x, const double *w, uint32_t n);

#endif
