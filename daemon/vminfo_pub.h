/* daemon/vminfo_pub.h - the supervisor keeps each VM's info block current.
 *
 * Contract: vgpud_vminfo_refresh() is called on the supervisor's tick; at
 * most every VGPUD_VMINFO_PERIOD_MS it rebuilds the VM's block (ring/
 * vminfo.h) in private memory from trusted sources only (the identity the
 * VM's first worker left in the ledger, the ledger's per-channel memory
 * and activity, the supervisor's own worker table, the VM's quota, the
 * host GPU's sensors) and publishes it under the seqlock. It never reads
 * the block back. Utilization is this VM's share: with the host's NVML,
 * the sum of its worker processes' utilization; otherwise the percentage
 * of the last ten periods in which any of its requests was executing or
 * completed (a duty cycle of its GPU work, not of the GPU's SMs).
 */
#ifndef VGPU_DAEMON_VMINFO_PUB_H
#define VGPU_DAEMON_VMINFO_PUB_H

#include "supervisor.h"

#define VGPUD_VMINFO_PERIOD_MS 100u

void vgpud_vminfo_refresh(struct vgpud *d, struct vgpud_vmstate *v,
			  uint64_t now_ns);

/* At shutdown: a block that describes no device, so guests' NVML stops
 * reporting a GPU nobody serves (NVML_ERROR_GPU_IS_LOST). */
void vgpud_vminfo_withdraw(struct vgpud_vmstate *v);

#endif
