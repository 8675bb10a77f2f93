/* daemon/worker_numa.h - the worker on its GPU's NUMA node.
 *
 * Contract: vw_numa_node() reads the node of PCI device busid (as the
 * driver's cuDeviceGetPCIBusId spells it, any case, 4- or 8-digit domain)
 * from SYSFS/bus/pci/devices/<bus id>/numa_node: the node, or -1 when the
 * file is absent or unreadable or says -1 (a host without NUMA, or a
 * firmware that does not tell). vw_numa_bind() runs the calling process's
 * threads (those it starts later too) on that node's CPUs and prefers its
 * memory for their allocations, through libnuma; node -1, or a host where
 * libnuma reports no NUMA, leaves everything as it is (returns 1). A worker
 * binds before it registers the region (worker_bulk.h), so the region's
 * pages it faults in come from the GPU's node: mbind does not apply to a
 * shared file mapping the daemon does not own, but the faulting thread's
 * policy does. Pages already faulted (QEMU's prealloc) stay where they
 * are: docs/bulk.md gives QEMU's host-nodes/policy=bind for that.
 */
#ifndef VGPU_DAEMON_WORKER_NUMA_H
#define VGPU_DAEMON_WORKER_NUMA_H

#include <stddef.h>

int vw_numa_node(const char *sysfs, const char *busid);
/* 0 bound, 1 nothing to do, -1 libnuma refused (msg says why). */
int vw_numa_bind(int node, char *msg, size_t n);

#endif
