/* daemon/region_huge.h - hugepage-backed regions.
 *
 * Contract: vgpud_region_check_fs() checks the filesystem of a VM's open
 * region file: with region_hugepages = yes it must be a hugetlbfs mount;
 * on hugetlbfs (asked for or not) region_size must be a multiple of the
 * mount's page size, since a hugetlbfs file is sized and mapped in whole
 * huge pages. 0, or -1 with a message naming the file, the mount and the
 * fix. vgpud_region_huge_hint() explains a failed mmap of a hugetlbfs file
 * (too few huge pages reserved).
 */
#ifndef VGPU_DAEMON_REGION_HUGE_H
#define VGPU_DAEMON_REGION_HUGE_H

#include "config.h"
#include <stdbool.h>
#include <stddef.h>

int vgpud_region_check_fs(const struct vgpud_vm *vm, int fd, char *err,
			  size_t n);
/* Whether fd is on hugetlbfs, and its page size. */
bool vgpud_is_hugetlbfs(int fd, uint64_t *page);

#endif
