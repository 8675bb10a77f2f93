/* guest/transport.h - finding and mapping this VM's vgpu region.
 *
 * Contract: vgpu_transport_open() maps the region named by VGPU_REGION (a
 * file: tests and host-side development, where guest and daemon share a
 * kernel), or else the BAR2 of the first ivshmem PCI device (1af4:1110)
 * under /sys/bus/pci/devices (VGPU_PCI_ROOT overrides that directory for
 * tests). BAR2 is mapped through resource2_wc (write-combining: every
 * publish is preceded by an sfence), falling back to resource2 (uncached).
 * The mapping is MADV_DONTFORK: a forked child does not inherit it and
 * must open its own. Errors are VGPU_E_* codes; msg receives a sentence
 * naming the path and the fix.
 */
#ifndef VGPU_GUEST_TRANSPORT_H
#define VGPU_GUEST_TRANSPORT_H

#include "../ring/region.h"
#include <stdbool.h>
#include <stddef.h>

enum vgpu_map_kind {
	VGPU_MAP_FILE = 0, /* regular/shm file: same kernel as vgpud */
	VGPU_MAP_BAR_WC,   /* PCI BAR, write-combining */
	VGPU_MAP_BAR_UC,   /* PCI BAR, uncached */
};

struct vgpu_transport {
	struct vgpu_region r;
	uint32_t abi;
	enum vgpu_map_kind kind;
	void *map;
	size_t maplen;
	char path[256];
	bool readonly; /* mapped PROT_READ, inherited across fork */
};

int vgpu_transport_open(struct vgpu_transport *t, char *msg, size_t msglen);
/* The same region, mapped read-only and without MADV_DONTFORK: for
 * readers of the VM info block (the guest NVML), which claim nothing. */
int vgpu_transport_open_ro(struct vgpu_transport *t, char *msg,
			   size_t msglen);
void vgpu_transport_close(struct vgpu_transport *t);

/* Find the first 1af4:1110 device under root (e.g. /sys/bus/pci/devices);
 * writes its directory into dir. */
int vgpu_pci_find(const char *root, char *dir, size_t dirlen);

#endif
