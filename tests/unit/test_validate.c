/* Daemon-side decoding of hostile slots: every validation path, hand-driven
 * in one process so each case is exact. */
#include "../support/memregion.h"
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

static struct memregion M;
static void setup(void) { memregion_init(&M, 16); }
static void teardown(void) { memregion_fini(&M); }
TestSuite(validate, .init = setup, .fini = teardown);

static int poll(struct vgpu_msg *m)
{
	return vgpu_hchan_poll(&M.r, &M.h, m, M.buf);
}

Test(validate, good_message_decodes)
{
	struct vgpu_msg m;
	cr_assert_eq(memregion_attach(&M, 1, 100), VGPU_H_ATTACH);
	cr_expect_eq(poll(&m), VGPU_H_NONE);
	memregion_put(&M, 100, 1, 42, 0, 10);
	cr_assert_eq(poll(&m), VGPU_H_MSG);
	cr_expect_eq(m.pos, 100);
	cr_expect_eq(m.op, 42);
	cr_expect_eq(m.tid, 7);
	cr_expect_eq(m.len, 10);
	for (int i = 0; i < 10; i++)
		cr_expect_eq(m.data[i], i);
	cr_expect_eq(M.h.cons, 101);
	cr_expect_eq(poll(&m), VGPU_H_NONE);
	/* the request slot is free for the next lap as soon as it is taken */
	cr_expect_eq(atomic_load(&vgpu_slot_at(&M.r, 0, 100)->seq),
		     100 + M.r.g.nslots);
	/* the reply lands in the entry it named, with seq = pos + 2 */
	cr_expect_eq(m.reply, 100 % M.r.g.nslots);
	cr_expect_eq(vgpu_hchan_reply(&M.r, &M.h, &m, -5, "ok", 2, 0), VGPU_OK);
	struct vgpu_slot *s = vgpu_reply_at(&M.r, 0, m.reply);
	cr_expect_eq(atomic_load(&s->seq), 102);
	cr_expect_eq(s->result, -5);
	cr_expect_eq(s->len, 2);
}

Test(validate, bad_opcode_is_answered_not_fatal)
{
	struct vgpu_msg m;
	memregion_attach(&M, 1, 0);
	memregion_put(&M, 0, 1, 0, 0, 0);
	cr_assert_eq(poll(&m), VGPU_H_BADMSG);
	cr_expect_eq(m.err, VGPU_E_OPCODE);
	memregion_put(&M, 1, 1, VGPU_OP_LIMIT, 0, 0);
	cr_assert_eq(poll(&m), VGPU_H_BADMSG);
	cr_expect_eq(m.err, VGPU_E_OPCODE);
	/* the channel carries on */
	memregion_put(&M, 2, 1, 5, 0, 0);
	cr_expect_eq(poll(&m), VGPU_H_MSG);
	cr_expect(M.h.active);
}

Test(validate, length_past_slot)
{
	struct vgpu_msg m;
	memregion_attach(&M, 1, 0);
	struct vgpu_slot *s = memregion_put(&M, 0, 1, 5, 0, 0);
	s->len = vgpu_inline_max(&M.r) + 1;
	cr_assert_eq(poll(&m), VGPU_H_BADMSG);
	cr_expect_eq(m.err, VGPU_E_LEN);
	cr_expect_eq(m.len, 0, "no payload is copied for a bad length");
	s = memregion_put(&M, 1, 1, 5, 0, 0);
	s->len = 0xFFFFFFFFu;
	cr_assert_eq(poll(&m), VGPU_H_BADMSG);
	cr_expect_eq(m.err, VGPU_E_LEN);
	/* exactly the maximum is fine */
	memregion_put(&M, 2, 1, 5, 0, vgpu_inline_max(&M.r));
	cr_expect_eq(poll(&m), VGPU_H_MSG);
	cr_expect_eq(m.len, vgpu_inline_max(&M.r));
}

Test(validate, arena_out_of_range)
{
	struct vgpu_msg m;
	uint64_t cap = M.r.g.arena_per_chan;
	memregion_attach(&M, 1, 0);
	struct {
		uint64_t off, len;
		int want;
	} cases[] = {
		{0, cap, VGPU_H_MSG},
		{cap, 0, VGPU_H_MSG},
		{cap - 1, 1, VGPU_H_MSG},
		{cap - 1, 2, VGPU_H_BADMSG},
		{cap + 1, 0, VGPU_H_BADMSG},
		{8, UINT64_MAX - 4, VGPU_H_BADMSG}, /* off + len overflows */
		{UINT64_MAX, 2, VGPU_H_BADMSG},
	};
	for (uint32_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vgpu_slot *s = memregion_put(&M, i, 1, 5, VGPU_MSG_ARENA, 0);
		s->arena_off = cases[i].off;
		s->arena_len = cases[i].len;
		int ev = poll(&m);
		cr_expect_eq(ev, cases[i].want, "case %u", i);
		if (ev == VGPU_H_BADMSG)
			cr_expect_eq(m.err, VGPU_E_ARENA);
	}
	/* arena fields without the ARENA flag are refused too */
	struct vgpu_slot *s = memregion_put(&M, 7, 1, 5, 0, 0);
	s->arena_len = 1;
	cr_expect_eq(poll(&m), VGPU_H_BADMSG);
	cr_expect_eq(m.err, VGPU_E_ARENA);
}

Test(validate, unknown_flags)
{
	struct vgpu_msg m;
	memregion_attach(&M, 1, 0);
	memregion_put(&M, 0, 1, 5, 0x80, 0);
	cr_assert_eq(poll(&m), VGPU_H_BADMSG);
	cr_expect_eq(m.err, VGPU_E_FLAGS);
}

Test(validate, index_jump_corrupts_channel)
{
	struct vgpu_msg m;
	memregion_attach(&M, 1, 50);
	struct vgpu_slot *s = vgpu_slot_at(&M.r, 0, 50);
	atomic_store(&s->seq, 50 + 5); /* a state no guest can leave */
	cr_assert_eq(poll(&m), VGPU_H_CORRUPT);
	cr_expect_eq(M.h.last_err, VGPU_E_INDEX);
	cr_expect_not(M.h.active);
	cr_expect_eq(atomic_load(&vgpu_ctl(&M.r, 0)->status), VGPU_CHAN_CORRUPT);
	/* nothing more is taken from it */
	memregion_put(&M, 50, 1, 5, 0, 0);
	cr_expect_eq(poll(&m), VGPU_H_NONE);
}

Test(validate, only_free_is_idle)
{
	struct vgpu_msg m;
	uint32_t n = M.r.g.nslots;
	memregion_attach(&M, 1, 1000);
	struct vgpu_slot *s = vgpu_slot_at(&M.r, 0, 1000);
	cr_expect_eq(poll(&m), VGPU_H_NONE);
	cr_expect(M.h.active);
	/* the daemon freed the previous lap itself: a guest writing any
	 * earlier state back is tampering */
	atomic_store(&s->seq, 1000 - n + 1);
	cr_expect_eq(poll(&m), VGPU_H_CORRUPT);
	cr_expect_eq(M.h.last_err, VGPU_E_INDEX);
}

Test(validate, reply_index_out_of_range)
{
	struct vgpu_msg m;
	memregion_attach(&M, 1, 0);
	struct vgpu_slot *s = memregion_put(&M, 0, 1, 5, 0, 0);
	s->reply = M.r.g.nslots;
	cr_assert_eq(poll(&m), VGPU_H_BADMSG);
	cr_expect_eq(m.err, VGPU_E_REPLY);
	cr_expect_eq(m.reply, VGPU_NO_REPLY);
	cr_expect_eq(vgpu_hchan_reply(&M.r, &M.h, &m, -1, NULL, 0, 0),
		     VGPU_E_REPLY, "nowhere to answer");
	/* NOREPLY requests may carry any reply value */
	s = memregion_put(&M, 1, 1, 5, VGPU_MSG_NOREPLY, 0);
	s->reply = 0xFFFFFFFFu;
	cr_expect_eq(poll(&m), VGPU_H_MSG);
	cr_expect_eq(vgpu_hchan_reply(&M.r, &M.h, &m, 0, NULL, 0, 0),
		     VGPU_E_REPLY);
}

Test(validate, wrong_position_echo)
{
	struct vgpu_msg m;
	memregion_attach(&M, 1, 0);
	struct vgpu_slot *s = memregion_put(&M, 0, 1, 5, 0, 0);
	s->pos = 16; /* same slot, another lap */
	cr_assert_eq(poll(&m), VGPU_H_CORRUPT);
	cr_expect_eq(M.h.last_err, VGPU_E_POS);
}

Test(validate, wrong_generation_never_executes)
{
	struct vgpu_msg m;
	memregion_attach(&M, 3, 0);
	memregion_put(&M, 0, 2, 5, 0, 0); /* stale message of generation 2 */
	cr_assert_eq(poll(&m), VGPU_H_CORRUPT);
	cr_expect_eq(M.h.last_err, VGPU_E_GEN);
}

Test(validate, abi_outside_range_is_refused)
{
	struct vgpu_chan_ctl *ctl = vgpu_ctl(&M.r, 0);
	struct vgpu_msg m;
	atomic_store(&ctl->claim, VGPU_CLAIM(1, (uint32_t)getpid()));
	ctl->abi = VGPU_ABI_MAX + 1;
	atomic_store(&ctl->req_gen, 1);
	cr_expect_eq(poll(&m), VGPU_H_NONE);
	cr_expect_eq(atomic_load(&ctl->ready_gen), 1);
	cr_expect_eq(atomic_load(&ctl->status), VGPU_CHAN_ABI_MISMATCH);
	cr_expect_not(M.h.active);
	ctl->abi = 0;
	atomic_store(&ctl->claim, VGPU_CLAIM(2, (uint32_t)getpid()));
	atomic_store(&ctl->req_gen, 2);
	cr_expect_eq(poll(&m), VGPU_H_NONE);
	cr_expect_eq(atomic_load(&ctl->status), VGPU_CHAN_ABI_MISMATCH);
}

Test(validate, claim_waits_for_req_gen)
{
	struct vgpu_chan_ctl *ctl = vgpu_ctl(&M.r, 0);
	struct vgpu_msg m;
	atomic_store(&ctl->claim, VGPU_CLAIM(1, 99));
	ctl->abi = VGPU_ABI_MAX;
	cr_expect_eq(poll(&m), VGPU_H_NONE, "identity not yet published");
	atomic_store(&ctl->req_gen, 1);
	cr_expect_eq(poll(&m), VGPU_H_ATTACH);
}

Test(validate, new_generation_detaches_old_and_resets_slots)
{
	struct vgpu_msg m;
	memregion_attach(&M, 1, 0);
	memregion_put(&M, 0, 1, 5, 0, 0);
	memregion_put(&M, 1, 1, 5, 0, 0);
	cr_assert_eq(poll(&m), VGPU_H_MSG);
	/* owner replaced before message 1 was taken */
	cr_expect_eq(memregion_attach(&M, 2, 0xFFFFFFF0u), VGPU_H_DETACH);
	cr_expect_eq(memregion_attach(&M, 2, 0xFFFFFFF0u), VGPU_H_ATTACH);
	cr_expect_eq(poll(&m), VGPU_H_NONE, "stale message 1 is gone");
	for (uint32_t i = 0; i < M.r.g.nslots; i++)
		cr_expect_eq(atomic_load(&vgpu_slot_at(&M.r, 0, 0xFFFFFFF0u + i)->seq),
			     0xFFFFFFF0u + i);
	cr_expect_eq(atomic_load(&vgpu_ctl(&M.r, 0)->ready_gen), 2);
}

Test(validate, reply_bounds_and_detached_channel)
{
	struct vgpu_msg m;
	memregion_attach(&M, 1, 0);
	memregion_put(&M, 0, 1, 5, 0, 0);
	cr_assert_eq(poll(&m), VGPU_H_MSG);
	cr_expect_eq(vgpu_hchan_reply(&M.r, &M.h, &m, 0, NULL,
				      vgpu_inline_max(&M.r) + 1, 0), VGPU_E_LEN);
	cr_expect_eq(vgpu_hchan_reply(&M.r, &M.h, &m, 0, NULL, 0, 0), VGPU_OK);
	/* after the owner is replaced, late replies go nowhere */
	memregion_attach(&M, 2, 0);
	cr_expect_eq(vgpu_hchan_reply(&M.r, &M.h, &m, 0, NULL, 0, 0), VGPU_E_LOST);
}

Test(validate, wraps_across_uint32_max)
{
	struct vgpu_msg m;
	uint32_t start = UINT32_MAX - 20;
	memregion_attach(&M, 1, start);
	for (uint32_t i = 0; i < 200; i++) {
		uint32_t pos = start + i;
		memregion_put(&M, pos, 1, 5, 0, 3);
		cr_assert_eq(poll(&m), VGPU_H_MSG, "pos %u", pos);
		cr_assert_eq(m.pos, pos);
		cr_assert_eq(vgpu_hchan_reply(&M.r, &M.h, &m, (int32_t)i, NULL, 0, 0),
			     VGPU_OK);
		cr_assert_eq(atomic_load(&vgpu_reply_at(&M.r, 0, m.reply)->seq),
			     pos + 2);
		cr_assert_eq(atomic_load(&vgpu_slot_at(&M.r, 0, pos)->seq),
			     pos + M.r.g.nslots);
	}
	cr_expect_eq(M.h.cons, start + 200);
}

Test(validate, lease_reclaims_silent_owner)
{
	struct vgpu_msg m;
	memregion_attach(&M, 1, 0);
	uint64_t t = 1000000000ull;
	cr_expect_not(vgpu_hchan_lease(&M.r, &M.h, t, 500));
	atomic_fetch_add(&vgpu_ctl(&M.r, 0)->guest_beat, 1);
	cr_expect_not(vgpu_hchan_lease(&M.r, &M.h, t + 400, 500), "beat moved");
	cr_expect_not(vgpu_hchan_lease(&M.r, &M.h, t + 800, 500));
	cr_expect(vgpu_hchan_lease(&M.r, &M.h, t + 1000, 500));
	cr_expect_eq(VGPU_CLAIM_PID(atomic_load(&vgpu_ctl(&M.r, 0)->claim)), 0);
	cr_expect_eq(atomic_load(&vgpu_ctl(&M.r, 0)->status),
		     VGPU_CHAN_LEASE_EXPIRED);
	cr_expect_eq(poll(&m), VGPU_H_DETACH);
}

Test(validate, bad_message_never_copies_past_the_slot)
{
	/* fuzzer finding 1: an early validation failure used to let a huge
	 * len through to the payload copy */
	struct vgpu_msg m;
	memregion_attach(&M, 1, 0);
	struct vgpu_slot *s = memregion_put(&M, 0, 1, 0 /* bad opcode */, 0, 0);
	s->len = 70000;
	cr_assert_eq(poll(&m), VGPU_H_BADMSG);
	cr_expect_eq(m.err, VGPU_E_OPCODE);
	cr_expect_eq(m.len, 0);
	s = memregion_put(&M, 1, 1, 5, 0x40 /* unknown flag */, 0);
	s->len = 0xFFFFFFF0u;
	cr_assert_eq(poll(&m), VGPU_H_BADMSG);
	cr_expect_eq(m.err, VGPU_E_FLAGS);
	cr_expect_eq(m.len, 0);
}

Test(validate, late_reply_never_reaches_the_next_owner)
{
	/* fuzzer finding 2: positions repeat from the same start in the
	 * next generation, so a reply must carry its generation */
	struct vgpu_msg old, m;
	memregion_attach(&M, 1, 0);
	memregion_put(&M, 0, 1, 5, 0, 0);
	cr_assert_eq(poll(&old), VGPU_H_MSG);
	cr_assert_eq(memregion_attach(&M, 2, 0), VGPU_H_DETACH);
	cr_assert_eq(memregion_attach(&M, 2, 0), VGPU_H_ATTACH);
	memregion_put(&M, 0, 2, 5, 0, 0);
	cr_assert_eq(poll(&m), VGPU_H_MSG);
	cr_expect_eq(vgpu_hchan_reply(&M.r, &M.h, &old, 99, NULL, 0, 0),
		     VGPU_E_LOST);
	struct vgpu_slot *e = vgpu_reply_at(&M.r, 0, m.reply);
	cr_expect_neq(atomic_load(&e->seq), 2, "no reply was published");
	cr_expect_eq(vgpu_hchan_reply(&M.r, &M.h, &m, 7, NULL, 0, 0), VGPU_OK);
	cr_expect_eq(e->result, 7);
}

Test(validate, lease_restarts_for_a_new_owner)
{
	/* found by the integration test: a new claim inherits the beat
	 * counter, and must not inherit the old owner's silence with it */
	memregion_attach(&M, 1, 0);
	uint64_t t = 1000000000ull;
	cr_expect_not(vgpu_hchan_lease(&M.r, &M.h, t, 500));
	struct vgpu_chan_ctl *ctl = vgpu_ctl(&M.r, 0);
	atomic_store(&ctl->claim, VGPU_CLAIM(2, 4242));
	cr_expect_not(vgpu_hchan_lease(&M.r, &M.h, t + 10000, 500),
		      "reclaimed a claim made a moment ago");
	cr_expect_eq(VGPU_CLAIM_PID(atomic_load(&ctl->claim)), 4242);
	cr_expect(vgpu_hchan_lease(&M.r, &M.h, t + 10600, 500));
}

#include "../../ring/guest.h"

Test(validate, claim_never_judges_an_owner_mid_claim)
{
	/* channel 0: claimed by a live process (our parent) that has not
	 * yet published its identity: the fields are still the previous
	 * owner's, whose start time differs. It must not be taken. */
	struct vgpu_chan_ctl *ctl = vgpu_ctl(&M.r, 0);
	uint64_t busy = VGPU_CLAIM(5, (uint32_t)getppid());
	atomic_store(&ctl->claim, busy);
	atomic_store(&ctl->req_gen, 4);
	ctl->owner_pidns = vgpu_self_pidns();
	ctl->owner_start = 1; /* not our parent's */
	struct vgpu_gchan c;
	struct vgpu_claim_opts o = {.abi = VGPU_ABI_MAX, .ready_timeout_ms = 50};
	int rc = vgpu_gchan_claim(&c, &M.r, &o);
	cr_expect_eq(rc, VGPU_E_TIMEOUT, "no daemon answers in this test");
	cr_expect_eq(atomic_load(&ctl->claim), busy, "channel 0 was taken");
	/* once identity is published and says "another process", it is */
	atomic_store(&ctl->req_gen, 5);
	rc = vgpu_gchan_claim(&c, &M.r, &o);
	cr_expect_eq(rc, VGPU_E_TIMEOUT);
	/* taken as generation 6 (then released after the timeout) */
	cr_expect_eq(VGPU_CLAIM_GEN(atomic_load(&ctl->claim)), 6,
		     "a reused pid is reclaimed once its identity is published");
}
