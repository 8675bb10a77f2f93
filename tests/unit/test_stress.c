/* Many claimant processes, many threads each, more spinners than cores:
 * millions of checksummed messages, none lost, duplicated or reordered;
 * and a lost-wake-up hunt where both sides sleep on every message.
 *
 * VGPU_STRESS_MSGS sets the messages per thread (default 100000; the
 * sanitizer builds lower it, since TSan runs ~10x slower). */
#define _GNU_SOURCE
#include "../support/client.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t per_thread(void)
{
	const char *s = getenv("VGPU_STRESS_MSGS");
	return s ? strtoull(s, NULL, 10) : 100000;
}

struct worker {
	struct vgpu_gchan *ch;
	uint64_t n;
	int rc;
	struct report rep;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (uint64_t i = 0; i < w->n && !w->rc; i++)
		w->rc = client_check(w->ch, i, (uint32_t)(i * 7919 % 480),
				     i % 16 != 0);
	if (!w->rc)
		w->rc = client_report(w->ch, client_tid(), &w->rep);
	return NULL;
}

/* One claimant process: NT threads on one channel; exit 0 iff every
 * thread's report says all its messages arrived intact. */
static int claimant(const char *path, int nt, uint64_t n)
{
	struct vgpu_conn c;
	if (client_connect(&c, path))
		return 10;
	pthread_t th[16];
	struct worker w[16];
	int bad = 0;
	for (int i = 0; i < nt; i++) {
		w[i] = (struct worker){.ch = &c.ch, .n = n};
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < nt; i++) {
		pthread_join(th[i], NULL);
		if (w[i].rc || w[i].rep.received != n || w[i].rep.errors) {
			fprintf(stderr, "claimant %d thread %d: rc %d got %llu/%llu "
				"errors %llu\n", (int)getpid(), i, w[i].rc,
				(unsigned long long)w[i].rep.received,
				(unsigned long long)n,
				(unsigned long long)w[i].rep.errors);
			bad = 1;
		}
	}
	vgpu_conn_close(&c);
	return bad;
}

Test(stress, processes_and_threads, .timeout = 600)
{
	/* small rings so producers wrap and wait on full rings constantly */
	struct vgpu_geom g = {.nchannels = 8, .nslots = 8, .slot_size = 640,
			      .arena_per_chan = 1 << 16};
	struct peer p;
	struct peer_opts o = {0};
	cr_assert_eq(peer_start(&p, &g, &o), 0);
	enum { NP = 6, NT = 4 };
	uint64_t n = per_thread();
	pid_t kids[NP];
	for (int i = 0; i < NP; i++) {
		kids[i] = fork();
		if (kids[i] == 0)
			_exit(claimant(p.path, NT, n));
	}
	for (int i = 0; i < NP; i++) {
		int st;
		waitpid(kids[i], &st, 0);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "claimant %d failed (status 0x%x)", i, st);
	}
	cr_expect_eq(peer_stop(&p), 0, "peer saw corrupt or reordered messages");
	cr_log_info("%d processes x %d threads x %llu messages", NP, NT,
		    (unsigned long long)n);
}

Test(stress, no_lost_wakeups, .timeout = 120)
{
	/* Both sides go straight to unbounded futex sleeps: one lost wake-up
	 * and this test hangs until its timeout. */
	struct vgpu_geom g = {.nchannels = 2, .nslots = 8, .slot_size = 256,
			      .arena_per_chan = 1 << 16};
	struct peer p;
	struct peer_opts o = {.infinite_sleep = true};
	cr_assert_eq(peer_start(&p, &g, &o), 0);
	struct vgpu_conn c;
	setenv("VGPU_SPIN_NS", "0", 1);
	setenv("VGPU_YIELD_NS", "0", 1);
	setenv("VGPU_SLEEP_MAX_US", "0", 1);
	cr_assert_eq(client_connect(&c, p.path), VGPU_OK);
	cr_assert(c.ch.futex);
	cr_assert_eq(c.ch.wait.sleep_max_us, 0);
	uint64_t n = per_thread() / 2;
	for (uint64_t i = 0; i < n; i++) {
		cr_assert_eq(client_check(&c.ch, i, 16, false), 0, "msg %llu",
			     (unsigned long long)i);
		if (i % 1024 == 0)
			usleep(200); /* let the peer fall fully asleep */
	}
	struct report r;
	cr_assert_eq(client_report(&c.ch, client_tid(), &r), VGPU_OK);
	cr_expect_eq(r.received, n);
	vgpu_conn_close(&c);
	cr_expect_eq(peer_stop(&p), 0);
}
