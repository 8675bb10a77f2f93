/* scheduler/meter.h - GPU time per VM, from when its contexts are busy.
 *
 * Contract: the caller says when one of a VM's contexts becomes busy (has
 * a kernel executing) and when it becomes idle again, with the time of
 * each change; the meter integrates. The GPU time-slices among the
 * contexts that have work, so over an interval where C contexts are busy
 * in all, a VM with c of them is charged c/C of the interval: the charges
 * of all VMs sum to the wall time the GPU was busy, never more, however
 * the contexts interleave. Two contexts of one VM alone on the GPU are
 * charged once, not twice. Times are nanoseconds from any monotonic
 * clock, passed in by the caller (tests use a simulated one); a time
 * earlier than the last one seen counts as the last one. Pure: no I/O, no
 * locks (the caller serialises), no allocation.
 */
#ifndef VGPU_SCHED_METER_H
#define VGPU_SCHED_METER_H

#include <stdint.h>

#define VS_MAX_VMS 256

struct vs_meter {
	uint64_t last_ns;         /* integrated up to here */
	uint32_t busy_total;      /* busy contexts, all VMs */
	uint32_t busy[VS_MAX_VMS];
	uint64_t gpu_ns[VS_MAX_VMS];
	uint64_t carry[VS_MAX_VMS]; /* remainder of the division, kept */
};

void vs_meter_init(struct vs_meter *m, uint64_t now);
/* Integrate up to now (every other call does this first). */
void vs_meter_advance(struct vs_meter *m, uint64_t now);
/* One of vm's contexts starts or stops executing. An idle call with
 * none busy is ignored (a caller's bookkeeping slip must not wrap). */
void vs_meter_busy(struct vs_meter *m, uint32_t vm, uint64_t now);
void vs_meter_idle(struct vs_meter *m, uint32_t vm, uint64_t now);
/* Or, where the caller measures each VM's GPU time itself (vgpud: the
 * kernels' own device timestamps, never more in all than the wall time
 * some context was busy): add ns to vm's GPU time. */
void vs_meter_charge(struct vs_meter *m, uint32_t vm, uint64_t ns);
/* GPU time charged to vm up to the last advance. */
static inline uint64_t vs_meter_gpu_ns(const struct vs_meter *m, uint32_t vm)
{
	return vm < VS_MAX_VMS ? m->gpu_ns[vm] : 0;
}

#endif
