/* daemon/hostgpu.h - the physical GPU's sensors, for the guests' NVML.
 *
 * Contract: the supervisor's view of what CUDA does not tell: clocks,
 * temperature, power, fan, performance state, ECC, persistence and compute
 * mode, BAR1, PCIe link, the kernel driver's version, physical free memory,
 * and per-process utilization. With the `cuda` backend it dlopens the
 * host's libnvidia-ml.so.1 (never vgpu's own guest library) and samples
 * it on its own thread once a second, so a slow NVML call never delays
 * the supervisor's scan; it creates no CUDA context. Without a host NVML
 * the sensors are absent (valid bits clear). With the `sim` backend it
 * supplies fixed, plausible H100-like values and says so
 * (VGPU_VMI_SRC_SIM). Which device: the one whose UUID the VM's worker
 * reported (vgpud_hostgpu_set_uuid), so CUDA and NVML orderings never mix.
 */
#ifndef VGPU_DAEMON_HOSTGPU_H
#define VGPU_DAEMON_HOSTGPU_H

#include "../ring/vminfo.h"
#include <stdbool.h>
#include <sys/types.h>

struct vgpud_hostgpu;

/* Never fails for want of NVML (sensors are then absent); NULL only when
 * out of memory. */
struct vgpud_hostgpu *vgpud_hostgpu_open(bool sim);
void vgpud_hostgpu_close(struct vgpud_hostgpu *h);

/* The physical device to watch (its CUDA UUID); later calls are no-ops. */
void vgpud_hostgpu_set_uuid(struct vgpud_hostgpu *h, const uint8_t uuid[16]);

/* Whether uuid is the device watched (or none is yet): with several GPUs,
 * a VM on another GPU must not be shown this one's sensors. */
bool vgpud_hostgpu_watches(struct vgpud_hostgpu *h, const uint8_t uuid[16]);

/* Copy the latest sample into vi: source, the sensor fields and their
 * valid bits, driver_version, vbios_version, board_part. *phys_free gets
 * the device's free memory, or 0 when unknown. */
void vgpud_hostgpu_get(struct vgpud_hostgpu *h, struct vgpu_vminfo *vi,
		       uint64_t *phys_free);

/* Utilization of the processes pids (a VM's workers) in percent of the
 * GPU, summed and capped at 100; false when the host cannot tell. */
bool vgpud_hostgpu_util(struct vgpud_hostgpu *h, const pid_t *pids,
			uint32_t n, uint32_t *gpu, uint32_t *mem);

#endif
