/* The guest transport and connection setup: finding the region (VGPU_REGION
 * or an ivshmem BAR under VGPU_PCI_ROOT), mapping it, checking its header,
 * and every error a user can meet on the way, each with a sentence that
 * names the path and the fix. */
#define _GNU_SOURCE
#include "../support/client.h"
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MSG 512
#define NOBODY 65534

/* Big enough for 32 lanes of 8 KiB and more: VGPU_LANES tests need room. */
static const struct vgpu_geom G = {.nchannels = 2, .nslots = 16,
				   .slot_size = 512, .arena_per_chan = 1 << 20};
/* The smallest sane region, for tests that only look at the header. */
static const struct vgpu_geom G_SMALL = {.nchannels = 1, .nslots = 8,
					 .slot_size = 256,
					 .arena_per_chan = 4096};

static char T[64];    /* this test's temp dir */
static struct peer P; /* a peer, for tests that need a live daemon */

/* Tests must not see a VGPU_* variable of whoever runs `make test`. */
static void clear_env(void)
{
	unsetenv("VGPU_REGION");
	unsetenv("VGPU_PCI_ROOT");
	unsetenv("VGPU_LANES");
}

static void setup(void)
{
	clear_env();
	snprintf(T, sizeof(T), "/tmp/vgpu-transport-XXXXXX");
	cr_assert_not_null(mkdtemp(T));
	/* 0755: the permission tests must fail on the region, not the dir */
	cr_assert_eq(chmod(T, 0755), 0);
}

static int rm_entry(const char *p, const struct stat *sb, int flag,
		    struct FTW *f)
{
	(void)sb, (void)flag, (void)f;
	return remove(p);
}

static void teardown(void)
{
	if (P.pid > 0)
		peer_stop(&P);
	memset(&P, 0, sizeof(P));
	clear_env();
	if (T[0])
		nftw(T, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(transport, .init = setup, .fini = teardown, .timeout = 30);

/* T/<name>, built printf-style. */
static char *tpath(char *out, const char *fmt, ...)
{
	char rel[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(out, 256, "%s/%s", T, rel);
	return out;
}

static void put_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	cr_assert_geq(fd, 0, "create %s", path);
	size_t n = strlen(text);
	cr_assert_eq(write(fd, text, n), (ssize_t)n);
	close(fd);
	cr_assert_eq(chmod(path, mode), 0); /* umask must not decide */
}

typedef void (*hdr_edit)(struct vgpu_region_hdr *h);

/* Lay out a region in path as vgpud would, then let edit corrupt its
 * header. Nobody serves it: its state stays INIT. */
static void write_region(const char *path, const struct vgpu_geom *gin,
			 hdr_edit edit)
{
	struct vgpu_geom g = *gin;
	cr_assert_eq(vgpu_geom_layout(&g), VGPU_OK);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0, "create %s", path);
	cr_assert_eq(ftruncate(fd, (off_t)g.size), 0);
	void *m = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert_neq(m, MAP_FAILED);
	struct vgpu_region r;
	cr_assert_eq(vgpu_region_format(&r, m, g.size, &g, 0), VGPU_OK);
	if (edit)
		edit(m);
	munmap(m, g.size);
}

/* Open the transport as a guest library would; keep only rc and msg. */
static int topen(char *msg)
{
	struct vgpu_transport t;
	memset(msg, 0, MSG);
	int rc = vgpu_transport_open(&t, msg, MSG);
	if (rc == VGPU_OK)
		vgpu_transport_close(&t);
	return rc;
}

static int copen(struct vgpu_conn *c, char *msg)
{
	memset(msg, 0, MSG);
	return vgpu_conn_open(c, msg, MSG);
}

/* The sentence must carry needle (a path, or the words of the fix). */
#define expect_says(msg, needle)                                            \
	cr_expect_not_null(strstr((msg), (needle)),                         \
			   "message lacks \"%s\": \"%s\"", (needle), (msg))

#define expect_err(rc, want)                                                \
	cr_expect_eq((rc), (want), "got %s, want %s", vgpu_errname(rc),     \
		     vgpu_errname(want))

/* A fake PCI device directory root/bdf with sysfs-style id files. */
static void fake_dev(const char *root, const char *bdf, const char *vendor,
		     const char *device)
{
	char dir[256], p[512];
	snprintf(dir, sizeof(dir), "%s/%s", root, bdf);
	cr_assert_eq(mkdir(dir, 0755), 0, "mkdir %s", dir);
	cr_assert_eq(chmod(dir, 0755), 0);
	snprintf(p, sizeof(p), "%s/vendor", dir);
	put_text(p, vendor, 0644);
	snprintf(p, sizeof(p), "%s/device", dir);
	put_text(p, device, 0644);
}

static void fake_ivshmem(const char *root, const char *bdf)
{
	fake_dev(root, bdf, "0x1af4\n", "0x1110\n");
}

/* T/devices: the stand-in for /sys/bus/pci/devices. */
static char *pci_root(char *out)
{
	tpath(out, "devices");
	if (access(out, F_OK) != 0) {
		cr_assert_eq(mkdir(out, 0755), 0);
		cr_assert_eq(chmod(out, 0755), 0);
	}
	setenv("VGPU_PCI_ROOT", out, 1);
	return out;
}

/* Make root/bdf/<file> a link to target (a BAR file backed by a region). */
static void link_bar(const char *root, const char *bdf, const char *file,
		     const char *target)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s/%s", root, bdf, file);
	cr_assert_eq(symlink(target, p), 0, "symlink %s", p);
}

static void start_peer(void)
{
	struct peer_opts o = {0};
	cr_assert_eq(peer_start(&P, &G, &o), 0, "peer did not start");
}

/* ---- VGPU_REGION: a region file ---------------------------------------- */

Test(transport, region_file_maps_with_checked_geometry)
{
	char path[256], msg[MSG];
	write_region(tpath(path, "region"), &G_SMALL, NULL);
	setenv("VGPU_REGION", path, 1);
	struct vgpu_transport t;
	cr_assert_eq(vgpu_transport_open(&t, msg, sizeof(msg)), VGPU_OK, "%s",
		     msg);
	struct vgpu_geom g = G_SMALL;
	vgpu_geom_layout(&g);
	cr_expect_eq(t.kind, VGPU_MAP_FILE);
	cr_expect_str_eq(t.path, path);
	cr_expect_eq(t.abi, VGPU_ABI_MAX);
	cr_expect_eq(t.maplen, g.size);
	cr_expect_eq(t.r.base, t.map);
	cr_expect_eq(t.r.g.arena_off, g.arena_off);
	cr_expect_eq(t.r.g.size, g.size);
	vgpu_transport_close(&t);
	cr_expect_null(t.map);
	vgpu_transport_close(&t); /* a second close must be harmless */
}

Test(transport, region_file_connection_uses_futex_doorbells)
{
	char msg[MSG];
	struct vgpu_conn c;
	start_peer();
	setenv("VGPU_REGION", P.path, 1);
	cr_assert_eq(copen(&c, msg), VGPU_OK, "%s", msg);
	/* same kernel as the daemon: futex wake-ups work, no WC mapping */
	cr_expect_eq(c.t.kind, VGPU_MAP_FILE);
	cr_expect(c.ch.futex);
	cr_expect_not(c.ch.wc);
	cr_expect_eq(client_check(&c.ch, 0, 100, false), 0);
	vgpu_conn_close(&c);
}

Test(transport, missing_file_is_io_and_named)
{
	char path[256], msg[MSG];
	setenv("VGPU_REGION", tpath(path, "no-such-region"), 1);
	expect_err(topen(msg), VGPU_E_IO);
	expect_says(msg, "VGPU_REGION=");
	expect_says(msg, path);
	expect_says(msg, "does the file exist?");
}

Test(transport, directory_is_io)
{
	char msg[MSG];
	setenv("VGPU_REGION", T, 1);
	expect_err(topen(msg), VGPU_E_IO);
	expect_says(msg, T);
}

Test(transport, empty_region_variable_means_unset)
{
	char root[256], msg[MSG];
	pci_root(root);
	setenv("VGPU_REGION", "", 1);
	/* falls through to PCI discovery, which finds nothing */
	expect_err(topen(msg), VGPU_E_NODEV);
}

Test(transport, file_smaller_than_header_is_small)
{
	static const size_t sizes[] = {0, 100, VGPU_HDR_SIZE - 1};
	char path[256], msg[MSG];
	tpath(path, "short");
	setenv("VGPU_REGION", path, 1);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		cr_assert_geq(fd, 0);
		cr_assert_eq(ftruncate(fd, (off_t)sizes[i]), 0);
		close(fd);
		expect_err(topen(msg), VGPU_E_SMALL);
		expect_says(msg, path);
		expect_says(msg, "region_size");
	}
}

static void bad_magic(struct vgpu_region_hdr *h)
{
	h->magic ^= 1;
}

Test(transport, wrong_magic_is_magic)
{
	char path[256], msg[MSG];
	write_region(tpath(path, "region"), &G_SMALL, bad_magic);
	setenv("VGPU_REGION", path, 1);
	expect_err(topen(msg), VGPU_E_MAGIC);
	expect_says(msg, path);
	expect_says(msg, "vgpuctl status");
}

static void abi_newer(struct vgpu_region_hdr *h)
{
	h->abi_min = VGPU_ABI_MAX + 1;
	h->abi_max = VGPU_ABI_MAX + 5;
}

static void abi_older(struct vgpu_region_hdr *h)
{
	h->abi_min = 0;
	h->abi_max = VGPU_ABI_MIN - 1;
}

static void abi_inverted(struct vgpu_region_hdr *h)
{
	h->abi_min = VGPU_ABI_MAX;
	h->abi_max = VGPU_ABI_MIN - 1;
}

Test(transport, abi_range_without_ours_is_abi)
{
	static const hdr_edit edits[] = {abi_newer, abi_older, abi_inverted};
	char path[256], msg[MSG];
	tpath(path, "region");
	setenv("VGPU_REGION", path, 1);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		write_region(path, &G_SMALL, edits[i]);
		expect_err(topen(msg), VGPU_E_ABI);
		expect_says(msg, path);
		expect_says(msg, "install the guest package");
	}
}

Test(transport, region_larger_than_file_is_small)
{
	char path[256], msg[MSG];
	struct vgpu_geom g = G_SMALL;
	vgpu_geom_layout(&g);
	write_region(tpath(path, "region"), &g, NULL);
	/* the header is intact; the VM's ivshmem is just smaller than it */
	cr_assert_eq(truncate(path, (off_t)(g.size - 4096)), 0);
	setenv("VGPU_REGION", path, 1);
	expect_err(topen(msg), VGPU_E_SMALL);
	expect_says(msg, path);
	expect_says(msg, "region_size");
}

static void nslots_not_pow2(struct vgpu_region_hdr *h) { h->nslots = 12; }
static void nslots_zero(struct vgpu_region_hdr *h) { h->nslots = 0; }
static void nslots_huge(struct vgpu_region_hdr *h) { h->nslots = 1u << 20; }
static void slot_unaligned(struct vgpu_region_hdr *h) { h->slot_size = 300; }
static void chans_zero(struct vgpu_region_hdr *h) { h->nchannels = 0; }
static void chans_huge(struct vgpu_region_hdr *h) { h->nchannels = 5000; }
static void arena_odd(struct vgpu_region_hdr *h) { h->arena_per_chan = 100; }
static void chans_moved(struct vgpu_region_hdr *h) { h->chans_off += 64; }
static void slots_moved(struct vgpu_region_hdr *h) { h->slots_off += 4096; }
static void replies_moved(struct vgpu_region_hdr *h) { h->replies_off -= 64; }
static void arena_moved(struct vgpu_region_hdr *h) { h->arena_off = 4096; }
static void size_lies_up(struct vgpu_region_hdr *h) { h->region_size += 4096; }
static void size_lies_down(struct vgpu_region_hdr *h) { h->region_size -= 4096; }

Test(transport, corrupt_geometry_is_geom)
{
	static const hdr_edit edits[] = {
		nslots_not_pow2, nslots_zero, nslots_huge, slot_unaligned,
		chans_zero, chans_huge, arena_odd, chans_moved, slots_moved,
		replies_moved, arena_moved, size_lies_up, size_lies_down,
	};
	char path[256], msg[MSG];
	tpath(path, "region");
	setenv("VGPU_REGION", path, 1);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		write_region(path, &G_SMALL, edits[i]);
		int rc = topen(msg);
		cr_expect_eq(rc, VGPU_E_GEOM, "edit %zu: got %s", i,
			     vgpu_errname(rc));
		expect_says(msg, path);
		expect_says(msg, "corrupt region");
	}
}

Test(transport, short_message_buffer_is_terminated)
{
	char path[256], msg[24];
	memset(msg, 'x', sizeof(msg));
	setenv("VGPU_REGION", tpath(path, "no-such-region"), 1);
	struct vgpu_transport t;
	/* only 16 of the 24 bytes are offered: the rest must stay untouched */
	cr_expect_eq(vgpu_transport_open(&t, msg, 16), VGPU_E_IO);
	cr_expect_eq(strlen(msg), 15);
	for (size_t i = 16; i < sizeof(msg); i++)
		cr_expect_eq(msg[i], 'x', "byte %zu written", i);
}

/* ---- permission denied: needs a non-root user -------------------------- */

struct child_out {
	int rc;
	char msg[MSG];
};

/* Open the transport in a child that dropped to nobody: the tests run as
 * root, and root is never denied. The answer comes back through a pipe. */
static int open_as_nobody(char *msg)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct child_out out = {.rc = 1};
		close(fds[0]);
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY) ||
		    getuid() != NOBODY || geteuid() != NOBODY)
			snprintf(out.msg, MSG, "could not drop to %d", NOBODY);
		else
			out.rc = topen(out.msg);
		ssize_t n = write(fds[1], &out, sizeof(out));
		_exit(n == (ssize_t)sizeof(out) ? 0 : 1);
	}
	close(fds[1]);
	struct child_out out = {.rc = 1};
	ssize_t n = read(fds[0], &out, sizeof(out));
	close(fds[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	cr_assert_eq(n, (ssize_t)sizeof(out), "child sent no answer");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	memcpy(msg, out.msg, MSG);
	msg[MSG - 1] = 0;
	return out.rc;
}

Test(transport, root_only_region_file_is_perm)
{
	char path[256], msg[MSG];
	write_region(tpath(path, "region"), &G_SMALL, NULL);
	cr_assert_eq(chmod(path, 0600), 0);
	setenv("VGPU_REGION", path, 1);
	/* the file itself is a good region: only the mode is in the way */
	cr_assert_eq(topen(msg), VGPU_OK, "%s", msg);
	expect_err(open_as_nobody(msg), VGPU_E_PERM);
	expect_says(msg, path);
	expect_says(msg, "group 'vgpu'");
}

Test(transport, root_only_bar_is_perm)
{
	char root[256], region[256], bar[512], msg[MSG];
	pci_root(root);
	fake_ivshmem(root, "0000:00:04.0");
	write_region(tpath(region, "region"), &G_SMALL, NULL);
	cr_assert_eq(chmod(region, 0600), 0);
	link_bar(root, "0000:00:04.0", "resource2_wc", region);
	link_bar(root, "0000:00:04.0", "resource2", region);
	cr_assert_eq(topen(msg), VGPU_OK, "%s", msg);
	/* no fallback to resource2: it is denied for the same reason */
	expect_err(open_as_nobody(msg), VGPU_E_PERM);
	snprintf(bar, sizeof(bar), "%s/0000:00:04.0/resource2_wc", root);
	expect_says(msg, bar);
	expect_says(msg, "group 'vgpu'");
}

/* ---- no device ---------------------------------------------------------- */

Test(transport, no_ivshmem_device_is_nodev)
{
	char root[256], msg[MSG];
	pci_root(root);
	expect_err(topen(msg), VGPU_E_NODEV);
	expect_says(msg, "VGPU_REGION");
	expect_says(msg, "1af4:1110");
}

Test(transport, missing_pci_root_is_nodev)
{
	char root[256], msg[MSG];
	setenv("VGPU_PCI_ROOT", tpath(root, "no-such-dir"), 1);
	expect_err(topen(msg), VGPU_E_NODEV);
	expect_says(msg, "VGPU_REGION");
	expect_says(msg, "1af4:1110");
}

Test(transport, other_devices_are_not_ivshmem)
{
	char root[256], msg[MSG], dir[256];
	pci_root(root);
	fake_dev(root, "0000:00:02.0", "0x8086\n", "0x1110\n");
	fake_dev(root, "0000:00:03.0", "0x1af4\n", "0x1000\n"); /* virtio-net */
	fake_dev(root, "0000:00:06.0", "garbage", "");
	cr_expect_eq(vgpu_pci_find(root, dir, sizeof(dir)), VGPU_E_NODEV);
	expect_err(topen(msg), VGPU_E_NODEV);
	expect_says(msg, "1af4:1110");
}

/* ---- PCI discovery ------------------------------------------------------ */

/* The tree of the brief: a non-ivshmem device first, then two ivshmem
 * devices created highest address first, so directory order cannot be
 * what makes the lowest one win. */
static void fake_tree(const char *root)
{
	fake_dev(root, "0000:00:03.0", "0x8086\n", "0x1234\n");
	fake_ivshmem(root, "0000:00:05.0");
	fake_ivshmem(root, "0000:00:04.0");
}

Test(transport, pci_find_picks_lowest_ivshmem_address)
{
	char root[256], dir[256];
	pci_root(root);
	fake_tree(root);
	cr_assert_eq(vgpu_pci_find(root, dir, sizeof(dir)), VGPU_OK);
	char want[512];
	snprintf(want, sizeof(want), "%s/0000:00:04.0", root);
	cr_expect_str_eq(dir, want);
}

Test(transport, bar_wc_is_found_mapped_and_served)
{
	char root[256], stale[256], want[512], msg[MSG];
	struct vgpu_conn c;
	start_peer();
	pci_root(root);
	fake_tree(root);
	link_bar(root, "0000:00:04.0", "resource2_wc", P.path);
	/* 05's BAR is a region nobody serves: picking it would fail */
	write_region(tpath(stale, "stale"), &G, NULL);
	link_bar(root, "0000:00:05.0", "resource2_wc", stale);
	cr_assert_eq(copen(&c, msg), VGPU_OK, "%s", msg);
	snprintf(want, sizeof(want), "%s/0000:00:04.0/resource2_wc", root);
	cr_expect_str_eq(c.t.path, want);
	cr_expect_eq(c.t.kind, VGPU_MAP_BAR_WC);
	cr_expect(c.ch.wc, "a WC mapping needs an sfence before publish");
	cr_expect_not(c.ch.futex, "a VM guest cannot wake a host futex");
	cr_expect_eq(client_check(&c.ch, 0, 200, false), 0);
	cr_expect_eq(client_check(&c.ch, 1, 10, false), 0);
	vgpu_conn_close(&c);
}

Test(transport, bar_without_wc_file_maps_uncached)
{
	char root[256], want[512], msg[MSG];
	struct vgpu_conn c;
	start_peer();
	pci_root(root);
	fake_tree(root);
	link_bar(root, "0000:00:04.0", "resource2", P.path);
	cr_assert_eq(copen(&c, msg), VGPU_OK, "%s", msg);
	snprintf(want, sizeof(want), "%s/0000:00:04.0/resource2", root);
	cr_expect_str_eq(c.t.path, want);
	cr_expect_eq(c.t.kind, VGPU_MAP_BAR_UC);
	cr_expect_not(c.ch.wc);
	cr_expect_not(c.ch.futex);
	cr_expect_eq(client_check(&c.ch, 0, 200, false), 0);
	vgpu_conn_close(&c);
}

Test(transport, ivshmem_without_bar_files_is_io)
{
	char root[256], bar[512], msg[MSG];
	pci_root(root);
	fake_ivshmem(root, "0000:00:04.0");
	expect_err(topen(msg), VGPU_E_IO);
	/* the last path tried is named: the uncached fallback */
	snprintf(bar, sizeof(bar), "%s/0000:00:04.0/resource2", root);
	expect_says(msg, bar);
}

Test(transport, bar_smaller_than_header_is_small)
{
	char root[256], bar[512], msg[MSG];
	pci_root(root);
	fake_ivshmem(root, "0000:00:04.0");
	snprintf(bar, sizeof(bar), "%s/0000:00:04.0/resource2_wc", root);
	put_text(bar, "tiny", 0644);
	expect_err(topen(msg), VGPU_E_SMALL);
	expect_says(msg, bar);
	expect_says(msg, "region_size");
}

Test(transport, bar_with_wrong_magic_names_the_bar)
{
	char root[256], region[256], bar[512], msg[MSG];
	pci_root(root);
	fake_ivshmem(root, "0000:00:04.0");
	write_region(tpath(region, "region"), &G_SMALL, bad_magic);
	link_bar(root, "0000:00:04.0", "resource2_wc", region);
	expect_err(topen(msg), VGPU_E_MAGIC);
	snprintf(bar, sizeof(bar), "%s/0000:00:04.0/resource2_wc", root);
	expect_says(msg, bar);
	expect_says(msg, "vgpuctl status");
}

/* ---- daemon not running ------------------------------------------------- */

static void state_stopped(struct vgpu_region_hdr *h)
{
	atomic_store(&h->state, VGPU_REGION_STOPPED);
}

Test(transport, unserved_region_is_notready)
{
	static const hdr_edit edits[] = {NULL, state_stopped}; /* INIT, STOPPED */
	char path[256], msg[MSG];
	tpath(path, "region");
	setenv("VGPU_REGION", path, 1);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		struct vgpu_conn c;
		write_region(path, &G, edits[i]);
		expect_err(copen(&c, msg), VGPU_E_NOTREADY);
		expect_says(msg, path);
		expect_says(msg, "systemctl start vgpud");
	}
}

static void state_ready(struct vgpu_region_hdr *h)
{
	atomic_store(&h->state, VGPU_REGION_READY);
}

/* A daemon killed -9 leaves its region READY: the claim goes unanswered
 * and the silent heartbeat says why. */
Test(transport, ready_region_without_daemon_is_reported_dead)
{
	char path[256], msg[MSG];
	struct vgpu_conn c;
	write_region(tpath(path, "region"), &G, state_ready);
	setenv("VGPU_REGION", path, 1);
	expect_err(copen(&c, msg), VGPU_E_DAEMON);
	expect_says(msg, path);
	expect_says(msg, "systemctl status vgpud");
}

/* ---- VGPU_LANES --------------------------------------------------------- */

static void expect_lanes(uint32_t n)
{
	char msg[MSG];
	struct vgpu_conn c;
	cr_assert_eq(copen(&c, msg), VGPU_OK, "%s", msg);
	cr_expect_eq(c.lanes.n, n);
	cr_expect_eq(c.lanes.lane_len, (G.arena_per_chan / n) & ~4095ull);
	vgpu_conn_close(&c);
}

Test(transport, lanes_default_to_four)
{
	start_peer();
	setenv("VGPU_REGION", P.path, 1);
	expect_lanes(4);
}

Test(transport, lanes_from_environment)
{
	start_peer();
	setenv("VGPU_REGION", P.path, 1);
	setenv("VGPU_LANES", "2", 1);
	expect_lanes(2); /* two lanes of half the slice each */
	setenv("VGPU_LANES", "1", 1);
	expect_lanes(1);
	setenv("VGPU_LANES", "32", 1);
	expect_lanes(32);
}

Test(transport, invalid_lanes_fall_back_to_four)
{
	static const char *const bad[] = {
		"", "0", "-1", "33", "abc", "8x", "4294967298", "99999999999999999999",
	};
	start_peer();
	setenv("VGPU_REGION", P.path, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("VGPU_LANES", bad[i], 1);
		cr_log_info("VGPU_LANES=\"%s\"", bad[i]);
		expect_lanes(4);
	}
}

/* ---- every channel taken ------------------------------------------------ */

Test(transport, all_channels_taken_is_nochan)
{
	char msg[MSG];
	struct vgpu_conn c[3];
	start_peer();
	setenv("VGPU_REGION", P.path, 1);
	/* G has two channels; one process may hold several connections */
	cr_assert_eq(copen(&c[0], msg), VGPU_OK, "%s", msg);
	cr_assert_eq(copen(&c[1], msg), VGPU_OK, "%s", msg);
	expect_err(copen(&c[2], msg), VGPU_E_NOCHAN);
	expect_says(msg, P.path);
	expect_says(msg, "raise 'channels'");
	vgpu_conn_close(&c[1]);
	/* a released channel is free again */
	cr_expect_eq(copen(&c[2], msg), VGPU_OK, "%s", msg);
	vgpu_conn_close(&c[2]);
	vgpu_conn_close(&c[0]);
}
