/* Guest and peer in separate processes over a region file: calls, replies
 * in any order, several threads on one channel, wrap-around, errors. */
#define _GNU_SOURCE
#include "../support/client.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>

static struct peer P;
static const struct vgpu_geom G = {.nchannels = 4, .nslots = 16,
				   .slot_size = 512, .arena_per_chan = 1 << 20};

static void up(void)
{
	struct peer_opts o = {0};
	cr_assert_eq(peer_start(&P, &G, &o), 0, "peer did not start");
}
static void down(void)
{
	cr_expect_eq(peer_stop(&P), 0, "peer saw corrupt or reordered messages");
}
TestSuite(ring, .init = up, .fini = down, .timeout = 60);

Test(ring, echo_roundtrip)
{
	struct vgpu_conn c;
	cr_assert_eq(client_connect(&c, P.path), VGPU_OK);
	cr_expect_eq(c.t.kind, VGPU_MAP_FILE);
	for (uint32_t len = 0; len <= vgpu_inline_max(&c.t.r); len += 37) {
		uint8_t in[512], out[512];
		gen_bytes(len, 0, in, len);
		struct vgpu_req q = {.op = OP_ECHO, .data = in, .len = len};
		struct vgpu_resp p = {.data = out, .cap = sizeof(out)};
		cr_assert_eq(vgpu_gchan_call(&c.ch, &q, &p), VGPU_OK);
		cr_assert_eq(p.len, len);
		cr_assert_eq(memcmp(in, out, len), 0, "len %u", len);
	}
	vgpu_conn_close(&c);
}

Test(ring, positions_start_near_wrap)
{
	struct vgpu_conn c;
	struct peer_stats st;
	cr_assert_eq(client_connect(&c, P.path), VGPU_OK);
	cr_assert_eq(client_stats(&c.ch, &st), VGPU_OK);
	cr_expect_eq(st.start, VGPU_START_DEFAULT);
	cr_expect_gt(st.start, UINT32_MAX - 4096);
	/* 10,000 messages cross UINT32_MAX many slot-laps later */
	for (uint64_t i = 0; i < 10000; i++)
		cr_assert_eq(client_check(&c.ch, i, (uint32_t)(i % 300), i % 3), 0);
	struct report r;
	cr_assert_eq(client_report(&c.ch, client_tid(), &r), VGPU_OK);
	cr_expect_eq(r.received, 10000);
	cr_expect_eq(r.errors, 0);
	cr_expect_gt(atomic_load(&c.ch.ctl->prod), 10000 - 300,
		     "the producer index wrapped past zero");
	vgpu_conn_close(&c);
}

Test(ring, replies_can_be_awaited_out_of_order)
{
	struct vgpu_conn c;
	cr_assert_eq(client_connect(&c, P.path), VGPU_OK);
	uint32_t pos[8], rep[8];
	uint64_t vals[8];
	vgpu_replies_get(&c.ch, 8, rep);
	for (int i = 0; i < 8; i++) {
		vals[i] = 1000 + (uint64_t)i;
		struct vgpu_req q = {.op = OP_ECHO, .data = &vals[i], .len = 8};
		cr_assert_eq(vgpu_gchan_submit(&c.ch, &q, rep[i], &pos[i]), VGPU_OK);
	}
	for (int i = 7; i >= 0; i--) {
		uint64_t v = 0;
		struct vgpu_resp p = {.data = &v, .cap = 8};
		cr_assert_eq(vgpu_gchan_wait(&c.ch, pos[i], rep[i], &p), VGPU_OK);
		cr_expect_eq(v, 1000 + (uint64_t)i);
	}
	vgpu_replies_put(&c.ch, 8, rep);
	vgpu_conn_close(&c);
}

Test(ring, truncated_reply_is_reported)
{
	struct vgpu_conn c;
	cr_assert_eq(client_connect(&c, P.path), VGPU_OK);
	char in[100] = "0123456789", out[4];
	struct vgpu_req q = {.op = OP_ECHO, .data = in, .len = sizeof(in)};
	struct vgpu_resp p = {.data = out, .cap = sizeof(out)};
	cr_expect_eq(vgpu_gchan_call(&c.ch, &q, &p), VGPU_E_TRUNC);
	cr_expect_eq(p.len, sizeof(in));
	cr_expect_eq(memcmp(out, "0123", 4), 0);
	/* the channel is still in step */
	cr_expect_eq(client_check(&c.ch, 0, 10, false), 0);
	vgpu_conn_close(&c);
}

Test(ring, bad_requests_get_error_replies)
{
	struct vgpu_conn c;
	cr_assert_eq(client_connect(&c, P.path), VGPU_OK);
	struct vgpu_req q = {.op = OP_NULL, .flags = VGPU_MSG_ARENA,
			     .arena_off = G.arena_per_chan, .arena_len = 1};
	struct vgpu_resp p = {0};
	cr_assert_eq(vgpu_gchan_call(&c.ch, &q, &p), VGPU_OK);
	cr_expect_eq(p.result, VGPU_E_ARENA);
	struct vgpu_req q2 = {.op = 999};
	cr_assert_eq(vgpu_gchan_call(&c.ch, &q2, &p), VGPU_OK);
	cr_expect_eq(p.result, VGPU_E_OPCODE, "unknown to the server");
	struct vgpu_req q3 = {.op = 0};
	cr_expect_eq(vgpu_gchan_call(&c.ch, &q3, &p), VGPU_E_OPCODE,
		     "refused before it reaches the wire");
	cr_expect_eq(client_check(&c.ch, 0, 10, false), 0);
	vgpu_conn_close(&c);
}

struct thr {
	struct vgpu_gchan *ch;
	uint64_t n;
	int rc;
	struct report rep;
};

static void *thread_main(void *arg)
{
	struct thr *t = arg;
	for (uint64_t i = 0; i < t->n && !t->rc; i++)
		t->rc = client_check(t->ch, i, (uint32_t)(i * 13 % 400), i % 4 != 0);
	if (!t->rc)
		t->rc = client_report(t->ch, client_tid(), &t->rep);
	return NULL;
}

Test(ring, threads_share_one_channel)
{
	struct vgpu_conn c;
	cr_assert_eq(client_connect(&c, P.path), VGPU_OK);
	enum { NT = 8 };
	pthread_t th[NT];
	struct thr t[NT];
	for (int i = 0; i < NT; i++) {
		t[i] = (struct thr){.ch = &c.ch, .n = 20000};
		pthread_create(&th[i], NULL, thread_main, &t[i]);
	}
	for (int i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		cr_expect_eq(t[i].rc, 0, "thread %d", i);
		cr_expect_eq(t[i].rep.received, 20000, "thread %d", i);
		cr_expect_eq(t[i].rep.errors, 0, "thread %d", i);
	}
	vgpu_conn_close(&c);
}

Test(ring, every_channel_then_nochan)
{
	struct vgpu_conn c[4];
	for (int i = 0; i < 4; i++)
		cr_assert_eq(client_connect(&c[i], P.path), VGPU_OK);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < i; j++)
			cr_expect_neq(c[i].ch.idx, c[j].ch.idx);
	struct vgpu_gchan extra;
	struct vgpu_claim_opts o = {.abi = c[0].t.abi, .futex = true};
	cr_expect_eq(vgpu_gchan_claim(&extra, &c[0].t.r, &o), VGPU_E_NOCHAN);
	/* a released channel is claimable again, with a new generation */
	uint32_t idx = c[2].ch.idx, gen = c[2].ch.gen;
	vgpu_conn_close(&c[2]);
	cr_assert_eq(client_connect(&c[2], P.path), VGPU_OK);
	cr_expect_eq(c[2].ch.idx, idx);
	cr_expect_eq(c[2].ch.gen, gen + 1);
	cr_expect_eq(client_check(&c[2].ch, 0, 5, false), 0);
	for (int i = 0; i < 4; i++)
		vgpu_conn_close(&c[i]);
}

Test(ring, daemon_stop_is_reported)
{
	struct vgpu_conn c;
	cr_assert_eq(client_connect(&c, P.path), VGPU_OK);
	cr_assert_eq(client_check(&c.ch, 0, 5, false), 0);
	kill(P.pid, SIGSTOP); /* heartbeat stalls, requests go unanswered */
	c.ch.stall_ms = 300;
	struct vgpu_req q = {.op = OP_NULL};
	struct vgpu_resp p = {0};
	cr_expect_eq(vgpu_gchan_call(&c.ch, &q, &p), VGPU_E_DAEMON);
	kill(P.pid, SIGCONT);
	vgpu_conn_close(&c);
}

Test(ring, claim_needs_a_ready_region)
{
	struct vgpu_conn c;
	cr_assert_eq(client_connect(&c, P.path), VGPU_OK);
	struct vgpu_region_hdr *h = vgpu_hdr(&c.t.r);
	atomic_store(&h->state, VGPU_REGION_STOPPED);
	struct vgpu_gchan other;
	struct vgpu_claim_opts o = {.abi = c.t.abi, .futex = true};
	cr_expect_eq(vgpu_gchan_claim(&other, &c.t.r, &o), VGPU_E_NOTREADY);
	cr_expect_eq(vgpu_gchan_check(&c.ch), VGPU_E_DAEMON);
	atomic_store(&h->state, VGPU_REGION_READY);
	cr_expect_eq(vgpu_gchan_check(&c.ch), VGPU_OK);
	vgpu_conn_close(&c);
}
