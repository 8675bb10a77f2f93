/* guest/cuda/nvrtc_cache_store.c - NVRTC's compute cache on disk
 * (contract in nvrtc_cache_store.h). File: struct head, key, data. */
#include "nvrtc_cache_store.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NC_MAGIC 0x31434e4755504756ull /* "VGPUGNC1" */

struct head {
	uint64_t magic;
	uint64_t key_len;
	uint64_t data_len;
};

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static int entry_path(char *buf, size_t cap, const char *dir,
		      const void *key, size_t kn)
{
	uint64_t a = fnv(key, kn, 0xcbf29ce484222325ull);
	uint64_t b = fnv(key, kn, 0x84222325cbf29ce4ull ^ kn);
	int w = snprintf(buf, cap, "%s/%016llx%016llx", dir,
			 (unsigned long long)a, (unsigned long long)b);
	return w > 0 && (size_t)w < cap ? 0 : -1;
}

const char *vgpu_nc_dir(char *buf, size_t cap)
{
	const char *off = getenv("CUDA_CACHE_DISABLE");
	const char *p = getenv("CUDA_CACHE_PATH");
	const char *home = getenv("HOME");
	char parent[PATH_MAX];
	int w;
	if (off && !strcmp(off, "1"))
		return NULL;
	if (p && *p)
		w = snprintf(parent, sizeof(parent), "%s", p);
	else if (home && *home)
		w = snprintf(parent, sizeof(parent), "%s/.nv/ComputeCache",
			     home);
	else
		return NULL;
	if (w <= 0 || (size_t)w >= sizeof(parent))
		return NULL;
	/* mkdir -p of the parent's last two levels at most: the rest is
	 * the user's to have made */
	if (!p || !*p) {
		char nv[PATH_MAX];
		snprintf(nv, sizeof(nv), "%s/.nv", home);
		if (mkdir(nv, 0700) && errno != EEXIST)
			return NULL;
	}
	if (mkdir(parent, 0700) && errno != EEXIST)
		return NULL;
	w = snprintf(buf, cap, "%s/vgpu-nvrtc", parent);
	if (w <= 0 || (size_t)w >= cap)
		return NULL;
	if (mkdir(buf, 0700) && errno != EEXIST)
		return NULL;
	return buf;
}

uint64_t vgpu_nc_max_total(void)
{
	const char *s = getenv("CUDA_CACHE_MAXSIZE");
	char *end;
	if (!s || !*s)
		return VGPU_NC_TOTAL_DEFAULT;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	return errno || *end || *s == '-' ? VGPU_NC_TOTAL_DEFAULT : v;
}

static int read_all(int fd, void *buf, size_t n)
{
	uint8_t *b = buf;
	while (n) {
		ssize_t r = read(fd, b, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *b = buf;
	while (n) {
		ssize_t r = write(fd, b, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The file's header fits its size and the key asked for. */
static int head_ok(const struct head *h, const struct stat *st, size_t kn)
{
	return h->magic == NC_MAGIC && h->key_len == kn &&
	       h->data_len <= VGPU_NC_DATA_MAX && st->st_size >= 0 &&
	       (uint64_t)st->st_size ==
		       sizeof(*h) + h->key_len + h->data_len;
}

/* The stored key equals key (read in pieces: keys are large). */
static int key_matches(int fd, const void *key, size_t kn)
{
	uint8_t buf[4096];
	const uint8_t *k = key;
	for (size_t off = 0; off < kn;) {
		size_t n = kn - off < sizeof(buf) ? kn - off : sizeof(buf);
		if (read_all(fd, buf, n) || memcmp(buf, k + off, n))
			return 0;
		off += n;
	}
	return 1;
}

int vgpu_nc_get(const char *dir, const void *key, size_t kn, void **data,
		uint32_t *n)
{
	char path[PATH_MAX];
	struct head h;
	struct stat st;
	int rc = -1;
	if (!dir || !key || !data || !n || kn > VGPU_NC_KEY_MAX ||
	    entry_path(path, sizeof(path), dir, key, kn))
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    read_all(fd, &h, sizeof(h)) || !head_ok(&h, &st, kn) ||
	    !key_matches(fd, key, kn))
		goto out;
	void *d = malloc(h.data_len ? h.data_len : 1);
	if (!d)
		goto out;
	if (read_all(fd, d, h.data_len)) {
		free(d);
		goto out;
	}
	*data = d;
	*n = (uint32_t)h.data_len;
	rc = 0;
out:
	close(fd);
	return rc;
}

/* Bytes in dir's regular files (a store checks its room with it). */
static uint64_t dir_bytes(const char *dir)
{
	uint64_t sum = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	if (!d)
		return UINT64_MAX;
	while ((e = readdir(d)))
		if (!fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
		    S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
	closedir(d);
	return sum;
}

static int write_entry(int fd, const void *key, size_t kn, const void *data,
		       uint32_t n)
{
	struct head h = {NC_MAGIC, kn, n};
	return write_all(fd, &h, sizeof(h)) || write_all(fd, key, kn) ||
	       write_all(fd, data, n);
}

int vgpu_nc_put(const char *dir, const void *key, size_t kn,
		const void *data, uint32_t n, uint64_t max_total)
{
	static _Atomic unsigned seq;
	char path[PATH_MAX], tmp[PATH_MAX];
	uint64_t need = sizeof(struct head) + kn + n;
	if (!dir || !key || (n && !data) || kn > VGPU_NC_KEY_MAX ||
	    n > VGPU_NC_DATA_MAX ||
	    entry_path(path, sizeof(path), dir, key, kn))
		return -1;
	void *old;
	uint32_t oldn;
	if (!vgpu_nc_get(dir, key, kn, &old, &oldn)) {
		free(old);
		return 0;
	}
	uint64_t have = dir_bytes(dir);
	if (have > max_total || need > max_total - have)
		return -1;
	int w = snprintf(tmp, sizeof(tmp), "%s/.tmp-%ld-%u", dir,
			 (long)getpid(), atomic_fetch_add(&seq, 1));
	if (w <= 0 || (size_t)w >= sizeof(tmp))
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int bad = write_entry(fd, key, kn, data, n);
	bad |= close(fd);
	if (bad || rename(tmp, path)) {
		unlink(tmp);
		return -1;
	}
	return 0;
}
