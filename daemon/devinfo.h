/* daemon/devinfo.h - the device as a VM sees it (its virtual identity).
 *
 * Contract: vgpu_devinfo_fill() queries the backend once (no context
 * needed) and produces what the guest caches: the real name, attributes
 * and driver version; a UUID derived from the VM's name and the GPU's UUID
 * (stable for that VM on that GPU, different across VMs); a PCI bus id
 * 0000:01:00.0 that matches the PCI attributes it reports; and total memory
 * capped by the VM's memory quota. NVML in the guest reports the same. */
#ifndef VGPU_DAEMON_DEVINFO_H
#define VGPU_DAEMON_DEVINFO_H

#include "../ring/cuda_proto.h"
#include "backend.h"

CUresult vgpu_devinfo_fill(const struct vgpu_driver *d, CUdevice dev,
			   const char *vm, uint64_t memory_limit,
			   struct vgpu_cu_devinfo *out);

#endif
