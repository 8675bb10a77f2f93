/* scheduler/simgpu.h - a simulated GPU and synthetic guest processes, to
 * judge a scheduling policy deterministically (tests, and later benches).
 *
 * Contract: processes (each its own context, as each guest process has
 * its own worker) launch kernels of fixed length in a closed loop, keeping
 * `depth` launches outstanding, optionally in bursts. The GPU is a fluid
 * time-slicer: every context with an admitted kernel progresses at
 * 1/(contexts busy), as the hardware's per-context time slices do on
 * average; a context runs its admitted kernels in order, one at a time.
 * With a scheduler, launches wait for vs_admit (retried at every event and
 * every `tick_ns`); without one (s NULL) each is admitted at once, as
 * today. The simulation's own integration of who ran when is the ground
 * truth (gpu_ns): it never reads the scheduler's accounting. Everything is
 * a pure function of the inputs: no clock, no randomness.
 */
#ifndef VGPU_SCHED_SIMGPU_H
#define VGPU_SCHED_SIMGPU_H

#include "sched.h"

#define VS_SIM_PROCS 64

struct vs_sim_proc {
	uint32_t vm;
	uint64_t kernel_ns;  /* a kernel's length alone on the GPU */
	uint64_t est_ns;     /* what admission is told; 0: kernel_ns */
	uint32_t depth;      /* launches kept outstanding (>= 1) */
	uint64_t on_ns, off_ns; /* bursts: launch for on_ns, pause off_ns */
	uint64_t start_ns, stop_ns; /* launches only in [start, stop); stop
				     * 0: to the end */
	/* state and results */
	uint32_t waiting, admitted;
	double left;         /* work left of the running kernel, ns */
	uint64_t done;       /* kernels finished */
	uint64_t wait_max_ns;  /* longest a launch waited for admission */
	uint64_t wait_since;   /* when the oldest waiting launch arrived */
	/* depth 1 only: launch-to-completion latency */
	uint64_t arrived;      /* the running kernel's launch time */
	uint64_t lat_sum_ns, lat_max_ns;
};

struct vs_sim {
	struct vs_sched *s;  /* NULL: no scheduler */
	uint64_t tick_ns;    /* admission retry period (default 50 us) */
	uint32_t nprocs;
	struct vs_sim_proc p[VS_SIM_PROCS];
	uint64_t now;
	double gpu_ns[VS_MAX_VMS]; /* ground truth, per VM */
	uint64_t idle_with_work_ns; /* GPU idle while a launch waited */
	uint64_t rr;         /* round-robin start for admission */
};

/* Add a process (returns its index, or -1 when full). */
int vs_sim_add(struct vs_sim *m, const struct vs_sim_proc *p);
/* Run until `until` ns (simulated), from wherever it stopped. */
void vs_sim_run(struct vs_sim *m, uint64_t until);

#endif
