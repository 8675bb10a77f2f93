/* daemon/supervisor.h - vgpud's main loop: VMs, channels, workers.
 *
 * Contract: the supervisor owns every VM's region (it formats it, beats its
 * heartbeat, applies the channel lease) but executes no CUDA call itself.
 * It keeps a small pool of idle workers per VM (exec'd vgpud-worker
 * processes whose contexts already exist), hands each new channel claim to
 * one, and replaces workers as they exit. A worker that dies while its
 * guest process still holds the channel marks that channel FAILED, so the
 * guest's next call fails instead of hanging; other guests are untouched.
 * A shared ledger (one memfd per VM, written by workers) holds each
 * channel's device memory in use and call count, and the VM's memory
 * quota: the limit (written here) and the VM-wide use workers charge
 * against it. A channel's next claim waits until its previous worker has
 * exited, so each ledger slot has one writer at a time.
 */
#ifndef VGPU_DAEMON_SUPERVISOR_H
#define VGPU_DAEMON_SUPERVISOR_H

#include "../ring/region.h"
#include "config.h"
#include "hostgpu.h"
#include "ledger.h"
#include "sched_scan.h"
#include "stats.h"
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#define VGPUD_POOL 1 /* idle workers kept ready per VM */

struct vs_sched;

struct vgpud_worker {
	pid_t pid;
	int to, from;   /* its stdin (we write), its stdout (we read) */
	bool ready;
	int chan;       /* -1: idle */
	uint32_t gen;
	uint32_t guest_pid;
};

/* What the VM info block's publisher remembers between refreshes. */
struct vgpud_vminfo_state {
	uint32_t seq;         /* the seqlock's value, never read back */
	uint64_t updates;
	uint64_t last_ns;
	uint64_t last_calls;
	uint16_t busy;        /* one bit per period, newest in bit 0 */
	bool have_ident;
	struct vgpud_ledger_ident ident; /* private copy once ready */
};

struct vgpud_vmstate {
	const struct vgpud_vm *cfg;
	struct vgpu_region r;
	struct vgpu_hchan *lease;  /* per channel, lease bookkeeping */
	uint32_t *assigned;        /* per channel: generation handed out */
	int ledger_fd;
	struct vgpud_ledger *ledger;
	struct vgpud_vm_ledger *vml; /* the VM-wide part of the ledger */
	struct vgpud_worker *w;
	uint32_t nw, wcap;
	uint64_t beat_ns;
	struct vgpud_vminfo_state info; /* daemon/vminfo_pub.c */
	struct vgpud_vmstats stats;
	uint64_t *sched_seen; /* per channel: busy_seq, then gpu_ns, last seen
			       * (sched_scan.c) */
	uint64_t sched_retired_held_ns; /* launches' waits, workers gone */
	/* per ledger slot (GPU): its channels' launches at the last scan,
	 * and the last scan it had work (0: never) */
	uint64_t sched_launches[VGPUD_SCHED_GPUS];
	uint64_t sched_work_ns[VGPUD_SCHED_GPUS];
};

struct vgpud {
	struct vgpud_config cfg;
	struct vgpud_vmstate *vms;
	char worker_path[512];
	int ctl_fd;
	struct vgpud_hostgpu *gpu; /* sensors for the guests' NVML: the
				    * host list's GPU 0 */
	struct vgpud_hostgpu *gpu_more[VGPUD_MAX_GPUS]; /* its GPUs 1.. */
	int metrics_fd; /* -1: metrics_listen off */
	/* the fair-share policy (sched_scan.h): one instance per host GPU,
	 * each with its VMs (a VM's first GPU) and its GPU's busy time */
	struct vs_sched *sched; /* [cfg.ngpu_specs] */
	uint32_t sched_busy[VGPUD_MAX_GPUS];   /* channels busy now */
	uint64_t sched_since[VGPUD_MAX_GPUS];  /* ... since when (some busy) */
	uint64_t sched_budget[VGPUD_MAX_GPUS]; /* busy time not yet charged */
	volatile sig_atomic_t stop;
	volatile sig_atomic_t reload; /* SIGHUP: re-read the configuration */
};

int vgpud_start(struct vgpud *d, char *err, size_t errlen);
void vgpud_run(struct vgpud *d);
void vgpud_shutdown(struct vgpud *d);
/* The text `vgpuctl status` prints. */
void vgpud_status(const struct vgpud *d, char *buf, size_t n);

#endif
