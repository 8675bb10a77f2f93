/* daemon/sched_scan.h - the supervisor's side of the fair-share scheduler.
 *
 * Contract: one struct vs_sched (scheduler/sched.h) per host GPU, with
 * the VMs whose first GPU it is: VMs on different GPUs never compete, and
 * each GPU's busy time is charged to its own VMs. A VM on several GPUs is
 * scheduled on its first with all its launches (workers count them in
 * the ledger's slot 0; docs/multigpu.md). Every supervisor tick vgpud_sched_scan()
 * reads each channel's ledger slot (busy/idle changes with their times,
 * the queue, launches waiting), feeds the policy (vs_ctx_busy/idle,
 * vs_tokens) and writes each VM's grant into its ledger, waking workers
 * that wait for tokens. It runs on the supervisor's thread, as do reload
 * and stats, so nothing here locks. With `scheduler = off` it does
 * nothing and workers admit every launch.
 */
#ifndef VGPU_DAEMON_SCHED_SCAN_H
#define VGPU_DAEMON_SCHED_SCAN_H

#include <stdbool.h>
#include <stdint.h>

struct vgpud;
struct vgpud_vmstate;

int vgpud_sched_open(struct vgpud *d, uint64_t now);
void vgpud_sched_close(struct vgpud *d);
/* True while some VM has launches queued or waiting: the supervisor then
 * scans more often (grants follow completions within a short tick). */
bool vgpud_sched_scan(struct vgpud *d, uint64_t now);
/* Channel ch's worker is gone (or a new one takes it): its context is
 * idle, its queue forgotten, its slot cleared. */
void vgpud_sched_retire(struct vgpud *d, struct vgpud_vmstate *v,
			uint32_t ch, uint64_t now);
/* A reload: weights, caps and the on/off switch as configured now. */
void vgpud_sched_apply(struct vgpud *d, uint64_t now);
/* Measured GPU time and time held back (share or cap) of VM index i. */
uint64_t vgpud_sched_gpu_ns(struct vgpud *d, uint32_t i, uint64_t now);
uint64_t vgpud_sched_throttled_ns(const struct vgpud *d, uint32_t i);

#endif
