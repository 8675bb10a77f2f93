/* daemon/stats.h - per-VM figures for `vgpuctl stats` (and Prometheus).
 *
 * Contract: the supervisor calls vgpud_stats_sample() every tick; once a
 * second it records each VM's call total, so rates over the last second
 * and the last VGPUD_STATS_WINDOW seconds need no second request. Call
 * totals survive workers: what a worker counted is added to its VM's
 * retired total when it exits. Memory figures are read from the VM's
 * ledger as they are. Nothing here touches a guest's region.
 */
#ifndef VGPU_DAEMON_STATS_H
#define VGPU_DAEMON_STATS_H

#include <stddef.h>
#include <stdint.h>

#define VGPUD_STATS_WINDOW 10 /* seconds of call totals kept */

struct vgpud_vmstats {
	uint64_t retired_calls; /* counted by workers now gone */
	uint64_t calls[VGPUD_STATS_WINDOW + 1]; /* totals, once a second */
	uint64_t at_ns[VGPUD_STATS_WINDOW + 1];
	uint64_t gpu_ns[VGPUD_STATS_WINDOW + 1]; /* the scheduler's meter */
	uint64_t copied[VGPUD_STATS_WINDOW + 1]; /* host<->device bytes */
	uint64_t retired_copied;
	uint32_t head, n;       /* ring of samples */
	uint64_t next_ns;       /* next sample due */
};

struct vgpud;
struct vgpud_vmstate;

/* Calls the VM's guest processes made, ever. */
uint64_t vgpud_vm_calls(const struct vgpud_vmstate *v);
/* A worker of channel ch is gone: keep its count. */
void vgpud_stats_retire(struct vgpud_vmstate *v, uint32_t ch);
void vgpud_stats_sample(struct vgpud *d, uint64_t now_ns);
/* Calls per second over the last `secs` seconds (fewer if younger). */
double vgpud_calls_rate(const struct vgpud_vmstate *v, uint32_t secs);
/* Bytes the VM's processes copied between their memory and the device,
 * ever; and per second over the last `secs` seconds. */
uint64_t vgpud_vm_copied(const struct vgpud_vmstate *v);
double vgpud_copy_rate(const struct vgpud_vmstate *v, uint32_t secs);
/* The VM's share of the GPU's wall time over the last `secs` seconds,
 * 0..1, from the scheduler's meter (0 with the scheduler off). */
double vgpud_gpu_share(const struct vgpud_vmstate *v, uint32_t secs);
/* The text `vgpuctl stats` prints; Prometheus text exposition format. */
void vgpud_stats(const struct vgpud *d, char *buf, size_t n);
void vgpud_stats_prom(const struct vgpud *d, char *buf, size_t n);

#endif
