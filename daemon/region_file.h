/* daemon/region_file.h - a VM's region backing file.
 *
 * Contract: vgpud_region_open() creates the VM's region file if absent
 * (QEMU may also have created it), sizes it to region_size, applies the
 * configured owner, group and mode so QEMU can open it, maps it shared and
 * lays out a fresh region in it (every channel free). Errors name the path
 * and the cause. */
#ifndef VGPU_DAEMON_REGION_FILE_H
#define VGPU_DAEMON_REGION_FILE_H

#include "../ring/region.h"
#include "config.h"

int vgpud_region_open(const struct vgpud_vm *vm, struct vgpu_region *r,
		      char *err, size_t errlen);
void vgpud_region_close(struct vgpu_region *r);

/* Ring geometry for a VM: its channel count, 64 slots of 1 KiB each, and
 * the rest of the region split into per-channel arenas. */
int vgpud_vm_geometry(const struct vgpud_vm *vm, struct vgpu_geom *g);

#endif
