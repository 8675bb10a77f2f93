/* daemon/region_huge.c - hugetlbfs checks for a VM's region file. */
#define _GNU_SOURCE
#include "region_huge.h"
#include <stdio.h>
#include <sys/vfs.h>

#define HUGETLBFS_MAGIC_ 0x958458f6 /* linux/magic.h */

bool vgpud_is_hugetlbfs(int fd, uint64_t *page)
{
	struct statfs s;
	if (fstatfs(fd, &s) || (unsigned long)s.f_type != HUGETLBFS_MAGIC_)
		return false;
	*page = (uint64_t)s.f_bsize;
	return true;
}

int vgpud_region_check_fs(const struct vgpud_vm *vm, int fd, char *err,
			  size_t n)
{
	uint64_t page = 0;
	bool huge = vgpud_is_hugetlbfs(fd, &page);
	if (vm->region_hugepages && !huge) {
		snprintf(err, n, "%s: region_hugepages = yes but %s is not on "
			 "a hugetlbfs mount (mount -t hugetlbfs none "
			 "/dev/hugepages, and put the region there)", vm->file,
			 vm->region);
		return -1;
	}
	if (huge && (!page || vm->region_size % page)) {
		snprintf(err, n, "%s: region_size %llu is not a multiple of "
			 "the huge page size of %s (%llu bytes)", vm->file,
			 (unsigned long long)vm->region_size, vm->region,
			 (unsigned long long)page);
		return -1;
	}
	return 0;
}
