/* Channel lifecycle across process deaths: SIGKILL mid-stream, the lease
 * backstop for owners that stop beating, and fork after claim. */
#define _GNU_SOURCE
#include "../support/client.h"
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct vgpu_geom G = {.nchannels = 4, .nslots = 16,
				   .slot_size = 512, .arena_per_chan = 1 << 20};

/* The test's own view of the region, as the daemon side sees it. */
static struct vgpu_chan_ctl *map_ctl(const char *path, uint32_t idx,
				     void **base, size_t *len)
{
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	*len = (size_t)lseek(fd, 0, SEEK_END);
	*base = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert_neq(*base, MAP_FAILED);
	struct vgpu_geom g = G;
	vgpu_geom_layout(&g);
	return (struct vgpu_chan_ctl *)((uint8_t *)*base + g.chans_off +
					idx * VGPU_CTL_SIZE);
}

static int fill_gen(void *ctx, void *dst, uint64_t off, uint64_t n)
{
	gen_bytes(*(uint64_t *)ctx, off, dst, n);
	return 0;
}

/* Child: connect, report channel and generation, then stream forever. */
static void streamer(const char *path, int wfd)
{
	struct vgpu_conn c;
	if (client_connect(&c, path))
		_exit(1);
	uint32_t id[2] = {c.ch.idx, c.ch.gen};
	if (write(wfd, id, sizeof(id)) != sizeof(id))
		_exit(1);
	uint64_t seed = 1;
	struct vgpu_lane ln;
	vgpu_lane_get(&c.lanes, &ln);
	struct vgpu_stream st = {.c = &c.ch, .lane = &ln, .op = OP_SINK,
				 .arg = &seed, .arglen = 8, .total = 1ull << 40};
	int32_t res;
	vgpu_stream_out(&st, fill_gen, &seed, &res);
	_exit(2);
}

static pid_t spawn(void (*fn)(const char *, int), const char *path,
		   uint32_t id[2])
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		fn(path, fds[1]);
	}
	close(fds[1]);
	cr_assert_eq(read(fds[0], id, 2 * sizeof(uint32_t)), 2 * sizeof(uint32_t),
		     "child did not connect");
	close(fds[0]);
	return pid;
}

static void expect_clean_channel(const char *path, uint32_t idx, uint32_t gen)
{
	struct vgpu_conn c;
	struct peer_stats st;
	cr_assert_eq(client_connect(&c, path), VGPU_OK);
	cr_expect_eq(c.ch.idx, idx, "the dead owner's channel is reused");
	cr_expect_gt(c.ch.gen, gen);
	cr_assert_eq(client_stats(&c.ch, &st), VGPU_OK);
	cr_expect_eq(st.executed, 1, "nothing of the old owner ran for us");
	cr_expect_eq(st.gen, c.ch.gen);
	cr_expect_eq(st.attaches, 2);
	cr_expect_eq(atomic_load(&c.ch.ctl->status), VGPU_CHAN_OK);
	for (uint64_t i = 0; i < 1000; i++)
		cr_assert_eq(client_check(&c.ch, i, 100, i % 2), 0);
	struct report r;
	cr_assert_eq(client_report(&c.ch, client_tid(), &r), VGPU_OK);
	cr_expect_eq(r.received, 1000);
	vgpu_conn_close(&c);
}

Test(lifecycle, sigkill_mid_stream_then_reclaim, .timeout = 60)
{
	struct peer p;
	struct peer_opts o = {0};
	cr_assert_eq(peer_start(&p, &G, &o), 0);
	uint32_t id[2];
	pid_t kid = spawn(streamer, p.path, id);
	usleep(200 * 1000); /* well into the stream */
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	/* guest-side reclaim: the owner's pid is gone in our namespace */
	expect_clean_channel(p.path, id[0], id[1]);
	cr_expect_eq(peer_stop(&p), 0);
}

Test(lifecycle, lease_reclaims_a_stopped_owner, .timeout = 60)
{
	struct peer p;
	struct peer_opts o = {.lease_ms = 2500};
	cr_assert_eq(peer_start(&p, &G, &o), 0);
	/* a live owner that beats keeps its channel past the lease */
	struct vgpu_conn live;
	cr_assert_eq(client_connect(&live, p.path), VGPU_OK);
	uint32_t id[2];
	pid_t kid = spawn(streamer, p.path, id);
	kill(kid, SIGSTOP); /* alive, so no guest may reclaim: only the lease */
	void *base;
	size_t len;
	struct vgpu_chan_ctl *ctl = map_ctl(p.path, id[0], &base, &len);
	int waited = 0;
	while (VGPU_CLAIM_PID(atomic_load(&ctl->claim)) != 0 && waited < 8000) {
		usleep(50 * 1000);
		waited += 50;
	}
	cr_expect_eq(VGPU_CLAIM_PID(atomic_load(&ctl->claim)), 0,
		     "lease did not reclaim the stopped owner");
	cr_expect_geq(waited, 2000, "reclaimed before the lease ran out");
	cr_expect_eq(atomic_load(&ctl->status), VGPU_CHAN_LEASE_EXPIRED);
	cr_expect_eq(client_check(&live.ch, 0, 10, false), 0,
		     "the beating owner kept its channel");
	cr_expect_eq(vgpu_gchan_check(&live.ch), VGPU_OK);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	munmap(base, len);
	expect_clean_channel(p.path, id[0], id[1]);
	vgpu_conn_close(&live);
	cr_expect_eq(peer_stop(&p), 0);
}

Test(lifecycle, fork_child_cannot_use_parent_channel, .timeout = 30)
{
	struct peer p;
	struct peer_opts o = {0};
	cr_assert_eq(peer_start(&p, &G, &o), 0);
	struct vgpu_conn c;
	cr_assert_eq(client_connect(&c, p.path), VGPU_OK);
	cr_assert_eq(client_check(&c.ch, 0, 10, false), 0);
	pid_t kid = fork();
	if (kid == 0) {
		int bad = 0;
		/* the mapping did not follow us (MADV_DONTFORK) */
		unsigned char v;
		if (mincore(c.t.map, 4096, &v) == 0 || errno != ENOMEM)
			bad |= 1;
		struct vgpu_req q = {.op = OP_NULL};
		if (vgpu_gchan_submit(&c.ch, &q, 0, NULL) != VGPU_E_FORKED)
			bad |= 2;
		if (vgpu_gchan_check(&c.ch) != VGPU_E_FORKED)
			bad |= 4;
		uint32_t pidx = c.ch.idx;
		vgpu_conn_close(&c); /* must not release the parent's channel */
		struct vgpu_conn mine;
		if (client_connect(&mine, p.path) != VGPU_OK)
			_exit(8);
		if (mine.ch.idx == pidx)
			bad |= 16;
		if (client_check(&mine.ch, 0, 10, false) != 0)
			bad |= 32;
		vgpu_conn_close(&mine);
		_exit(bad);
	}
	int st;
	waitpid(kid, &st, 0);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x", st);
	/* the parent's channel is untouched and still in sequence */
	cr_expect_eq(vgpu_gchan_check(&c.ch), VGPU_OK);
	cr_expect_eq(client_check(&c.ch, 1, 10, false), 0);
	struct peer_stats s;
	cr_assert_eq(client_stats(&c.ch, &s), VGPU_OK);
	cr_expect_eq(s.executed, 3, "only the parent's own messages");
	vgpu_conn_close(&c);
	cr_expect_eq(peer_stop(&p), 0);
}
