/* guest/transport.c - map the region from VGPU_REGION or the ivshmem BAR. */
#define _GNU_SOURCE
#include "transport.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#define IVSHMEM_VENDOR 0x1af4
#define IVSHMEM_DEVICE 0x1110

static unsigned read_hex(const char *dir, const char *name)
{
	char path[512], buf[32] = {0};
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? (unsigned)strtoul(buf, NULL, 16) : 0;
}

int vgpu_pci_find(const char *root, char *dir, size_t dirlen)
{
	DIR *d = opendir(root);
	if (!d)
		return VGPU_E_NODEV;
	struct dirent *e;
	char best[256] = "";
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", root, e->d_name);
		if (read_hex(p, "vendor") != IVSHMEM_VENDOR ||
		    read_hex(p, "device") != IVSHMEM_DEVICE)
			continue;
		/* Lowest bus address wins, so the choice is stable. */
		if (!best[0] || strcmp(e->d_name, best) < 0)
			snprintf(best, sizeof(best), "%s", e->d_name);
	}
	closedir(d);
	if (!best[0])
		return VGPU_E_NODEV;
	snprintf(dir, dirlen, "%s/%s", root, best);
	return VGPU_OK;
}

static int open_err(int e)
{
	return e == EACCES || e == EPERM ? VGPU_E_PERM : VGPU_E_IO;
}

static int map_path(struct vgpu_transport *t, const char *path,
		    enum vgpu_map_kind kind)
{
	int fd = open(path, (t->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return open_err(errno);
	/* VGPU_REGION may name a BAR file (a container's bind mount): then
	 * the daemon is in another kernel and futex doorbells cannot work. */
	struct statfs sfs;
	if (kind == VGPU_MAP_FILE && fstatfs(fd, &sfs) == 0 &&
	    sfs.f_type == SYSFS_MAGIC) {
		size_t pl = strlen(path);
		kind = pl > 3 && !strcmp(path + pl - 3, "_wc")
			       ? VGPU_MAP_BAR_WC
			       : VGPU_MAP_BAR_UC;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size < (off_t)VGPU_HDR_SIZE) {
		close(fd);
		return VGPU_E_SMALL;
	}
	void *m = mmap(NULL, (size_t)st.st_size,
		       t->readonly ? PROT_READ : PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (m == MAP_FAILED)
		return open_err(e);
	/* a reader holds no channel: a forked child may keep reading */
	if (!t->readonly)
		madvise(m, (size_t)st.st_size, MADV_DONTFORK);
	t->map = m;
	t->maplen = (size_t)st.st_size;
	t->kind = kind;
	snprintf(t->path, sizeof(t->path), "%s", path);
	return VGPU_OK;
}

static int map_pci(struct vgpu_transport *t, char *msg, size_t msglen)
{
	const char *root = getenv("VGPU_PCI_ROOT");
	char dir[400], path[512];
	int rc = vgpu_pci_find(root ? root : "/sys/bus/pci/devices", dir,
			       sizeof(dir));
	if (rc) {
		snprintf(msg, msglen, "%s", vgpu_strerror(rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/resource2_wc", dir);
	rc = map_path(t, path, VGPU_MAP_BAR_WC);
	if (rc == VGPU_E_IO) {
		snprintf(path, sizeof(path), "%s/resource2", dir);
		rc = map_path(t, path, VGPU_MAP_BAR_UC);
	}
	if (rc)
		snprintf(msg, msglen, "%s: %s", path, vgpu_strerror(rc));
	return rc;
}

static int open_mode(struct vgpu_transport *t, bool readonly, char *msg,
		     size_t msglen)
{
	memset(t, 0, sizeof(*t));
	t->readonly = readonly;
	const char *file = getenv("VGPU_REGION");
	int rc;
	if (file && *file) {
		rc = map_path(t, file, VGPU_MAP_FILE);
		if (rc) {
			snprintf(msg, msglen, "VGPU_REGION=%s: %s%s", file,
				 vgpu_strerror(rc),
				 rc == VGPU_E_IO ? " (does the file exist?)"
						 : "");
			return rc;
		}
	} else {
		rc = map_pci(t, msg, msglen);
		if (rc)
			return rc;
	}
	rc = vgpu_region_check(&t->r, t->map, t->maplen, &t->abi);
	if (rc) {
		snprintf(msg, msglen, "%s: %s", t->path, vgpu_strerror(rc));
		vgpu_transport_close(t);
	}
	return rc;
}

int vgpu_transport_open(struct vgpu_transport *t, char *msg, size_t msglen)
{
	return open_mode(t, false, msg, msglen);
}

int vgpu_transport_open_ro(struct vgpu_transport *t, char *msg,
			   size_t msglen)
{
	return open_mode(t, true, msg, msglen);
}

void vgpu_transport_close(struct vgpu_transport *t)
{
	if (t->map)
		munmap(t->map, t->maplen);
	t->map = NULL;
	t->maplen = 0;
}
