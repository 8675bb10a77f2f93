/* daemon/region_file.c - create, own, size, map and format a VM's region. */
#define _GNU_SOURCE
#include "region_file.h"
#include "region_huge.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int vgpud_vm_geometry(const struct vgpud_vm *vm, struct vgpu_geom *g)
{
	*g = (struct vgpu_geom){.nchannels = vm->channels, .nslots = 64,
				.slot_size = 1024,
				.pool_size = vm->pinned_pool};
	return vgpu_geom_fit(g, vm->region_size);
}

static int set_owner(int fd, const struct vgpud_vm *vm, char *err, size_t n)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	if (vm->region_owner[0]) {
		struct passwd *pw = getpwnam(vm->region_owner);
		if (!pw) {
			snprintf(err, n, "%s: region_owner '%s' is no user",
				 vm->file, vm->region_owner);
			return -1;
		}
		uid = pw->pw_uid;
	}
	if (vm->region_group[0]) {
		struct group *gr = getgrnam(vm->region_group);
		if (!gr) {
			snprintf(err, n, "%s: region_group '%s' is no group",
				 vm->file, vm->region_group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid)) {
		snprintf(err, n, "%s: chown: %s", vm->region, strerror(errno));
		return -1;
	}
	if (fchmod(fd, vm->region_mode)) {
		snprintf(err, n, "%s: chmod: %s", vm->region, strerror(errno));
		return -1;
	}
	return 0;
}

int vgpud_region_open(const struct vgpud_vm *vm, struct vgpu_region *r,
		      char *err, size_t n)
{
	struct vgpu_geom g;
	if (vgpud_vm_geometry(vm, &g)) {
		snprintf(err, n, "%s: region_size %llu cannot hold %u channels "
			 "and a pinned_pool of %llu", vm->file,
			 (unsigned long long)vm->region_size, vm->channels,
			 (unsigned long long)vm->pinned_pool);
		return -1;
	}
	int fd = open(vm->region, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, n, "%s: %s", vm->region, strerror(errno));
		return -1;
	}
	struct stat st;
	int rc = set_owner(fd, vm, err, n);
	if (!rc)
		rc = vgpud_region_check_fs(vm, fd, err, n);
	if (!rc && fstat(fd, &st) == 0 &&
	    (uint64_t)st.st_size != vm->region_size &&
	    ftruncate(fd, (off_t)vm->region_size) != 0) {
		snprintf(err, n, "%s: resize to %llu bytes: %s", vm->region,
			 (unsigned long long)vm->region_size, strerror(errno));
		rc = -1;
	}
	void *m = rc ? MAP_FAILED
		     : mmap(NULL, vm->region_size, PROT_READ | PROT_WRITE,
			    MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		if (!rc)
			snprintf(err, n, "%s: mmap: %s%s", vm->region,
				 strerror(errno), errno == ENOMEM &&
				 vm->region_hugepages ? " (too few huge pages "
				 "reserved: raise /proc/sys/vm/nr_hugepages)"
				 : "");
		return -1;
	}
	if (vgpu_region_format(r, m, vm->region_size, &g, VGPU_F_DOORBELL_FUTEX)) {
		snprintf(err, n, "%s: cannot lay out the region", vm->region);
		munmap(m, vm->region_size);
		return -1;
	}
	return 0;
}

void vgpud_region_close(struct vgpu_region *r)
{
	if (r->base) {
		atomic_store(&vgpu_hdr(r)->state, VGPU_REGION_STOPPED);
		munmap(r->base, r->maplen);
	}
	r->base = NULL;
}
