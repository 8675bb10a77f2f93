/* tests/fuzz/fuzz_host.c - libFuzzer harness of the daemon-side decoder.
 *
 * One input is a script: a hostile guest scribbles over a small formatted
 * region while the harness plays the daemon (ring/host.h), and after every
 * daemon call checks the result against a model built from the contract in
 * ring/host.h and ring/abi.h. Any violation aborts; any access outside the
 * region (allocated exactly sized, the padding before the arena poisoned) or
 * outside the exactly sized payload buffers is ASan's to report. Each
 * geometry is laid out once with vgpu_region_format() and restored from a
 * snapshot of that before every input, so inputs are independent.
 *
 * Input format (bytes past the end read as 0):
 *   byte 0      geometry: GEOMS[b % NGEOM]
 *   then ops    opcode byte (b % OP_COUNT) followed by its arguments, see
 *               the OP_* list below; at most MAX_OPS ops per input.
 *
 * Environment:
 *   FUZZ_HOST_TRACE=1   print every op and event to stderr (reproducing)
 *   FUZZ_HOST_NOWRITESET=1  skip the daemon write-set check (faster)
 */
#include "ring/host.h"
#include "ring/errors.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define HAVE_ASAN 1
#endif
#endif
#ifndef HAVE_ASAN
#define ASAN_POISON_MEMORY_REGION(a, n) ((void)(a), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(a, n) ((void)(a), (void)(n))
#endif

#define MAX_OPS 1024
#define MAX_CH 4
#define NSAVED 4

#define FUZZ_NAME "fuzz_host"
#define FUZZ_STEP "op"
#include "fuzz_common.h"

static bool writeset_on = true;

/* ------------------------------------------------------------------ */
/* geometries: each allocated, formatted and snapshotted once */

struct range {
	uint64_t off, len;
};

struct geo {
	uint32_t nchannels, nslots, slot_size;
	uint64_t arena_per_chan;
	/* filled by geo_setup() */
	struct vgpu_region r;
	uint8_t *mem;      /* exactly r.g.size bytes */
	uint8_t *pristine; /* mem[0, live_end) right after format */
	uint8_t *shadow;   /* pre-call copy for the write-set check */
	uint64_t live_end; /* end of the reply entries; then the gap */
	uint8_t *buf;      /* poll payload buffer: exactly inline_max */
	uint8_t *rdata;    /* reply payload source: exactly inline_max */
	struct range gw[MAX_CH + 3]; /* guest-written parts */
	unsigned ngw;
	uint64_t gw_total;
	struct range dw[MAX_CH + 1]; /* daemon-written parts (still mapped) */
	unsigned ndw;
	uint64_t dw_total;
};

static struct geo GEOMS[] = {
	{.nchannels = 4, .nslots = 16, .slot_size = 256, .arena_per_chan = 4096},
	{.nchannels = 4, .nslots = 8, .slot_size = 256, .arena_per_chan = 4096},
	{.nchannels = 2, .nslots = 8, .slot_size = 320, .arena_per_chan = 0},
	{.nchannels = 3, .nslots = 16, .slot_size = 512, .arena_per_chan = 8192},
};
#define MAX_GEOM_SLOTS 16
#define NGEOM (sizeof(GEOMS) / sizeof(GEOMS[0]))

static void *xalloc(size_t align, size_t n)
{
	void *p = NULL;
	if (posix_memalign(&p, align, n ? n : 1))
		abort();
	return p;
}

static void geo_setup(struct geo *G)
{
	struct vgpu_geom g = {.nchannels = G->nchannels, .nslots = G->nslots,
			      .slot_size = G->slot_size,
			      .arena_per_chan = G->arena_per_chan};
	if (vgpu_geom_layout(&g) || g.nchannels > MAX_CH)
		abort();
	G->mem = xalloc(4096, g.size);
	memset(G->mem, 0xA5, g.size);
	if (vgpu_region_format(&G->r, G->mem, g.size, &g, 0))
		abort();
	atomic_store(&vgpu_hdr(&G->r)->state, VGPU_REGION_READY);
	G->live_end = g.replies_off + (uint64_t)g.nchannels * g.nslots *
					      g.slot_size;
	G->pristine = xalloc(64, G->live_end);
	memcpy(G->pristine, G->mem, G->live_end);
	G->shadow = xalloc(64, g.size);
	/* Nobody has business between the reply entries and the arena. */
	ASAN_POISON_MEMORY_REGION(G->mem + G->live_end,
				  g.arena_off - G->live_end);
	ASAN_POISON_MEMORY_REGION(G->shadow + G->live_end,
				  g.arena_off - G->live_end);
	uint32_t max = vgpu_inline_max(&G->r);
	G->buf = malloc(max);
	G->rdata = malloc(max);
	if (!G->buf || !G->rdata)
		abort();
	for (uint32_t i = 0; i < max; i++)
		G->rdata[i] = (uint8_t)(0x5A ^ (i * 7));

	G->ngw = 0;
	for (uint32_t c = 0; c < g.nchannels; c++)
		G->gw[G->ngw++] = (struct range){
			g.chans_off + (uint64_t)c * VGPU_CTL_SIZE, 128};
	uint64_t slots = (uint64_t)g.nchannels * g.nslots * g.slot_size;
	G->gw[G->ngw++] = (struct range){g.slots_off, slots};
	G->gw[G->ngw++] = (struct range){g.replies_off, slots};
	if (g.arena_per_chan)
		G->gw[G->ngw++] = (struct range){
			g.arena_off, g.nchannels * g.arena_per_chan};
	G->gw_total = 0;
	for (unsigned i = 0; i < G->ngw; i++)
		G->gw_total += G->gw[i].len;

	G->ndw = 0;
	G->dw[G->ndw++] = (struct range){0, VGPU_HDR_SIZE};
	for (uint32_t c = 0; c < g.nchannels; c++)
		G->dw[G->ndw++] = (struct range){
			g.chans_off + (uint64_t)c * VGPU_CTL_SIZE + 128, 128};
	G->dw_total = 0;
	for (unsigned i = 0; i < G->ndw; i++)
		G->dw_total += G->dw[i].len;
}

static void geo_reset(struct geo *G)
{
	memcpy(G->mem, G->pristine, G->live_end);
	memset(G->mem + G->r.g.arena_off, 0,
	       G->r.g.nchannels * G->r.g.arena_per_chan);
}

/* ------------------------------------------------------------------ */
/* the daemon-side model */

struct saved {
	struct vgpu_msg m;
	uint32_t epoch;
	bool used;
};

struct chm {
	struct vgpu_hchan h;
	/* what the contract says h must be */
	bool active, pending, dead;
	uint32_t gen, cons;
	uint64_t nmsgs, nbad;
	uint32_t epoch; /* bumped by every accept */
	/* lease clock: guest_beat last seen lbeat, unchanged since lsince */
	bool lclock;
	uint32_t lbeat;
	uint64_t lsince;
	uint32_t lgen; /* the claim generation the clock is about */
	struct saved saved[NSAVED];
	unsigned saved_next;
};

static struct geo *G;
static struct vgpu_region *R;
static struct chm CH[MAX_CH];
static uint64_t now_ns;

static uint32_t nch(void) { return R->g.nchannels; }
static uint32_t nslots(void) { return R->g.nslots; }
static uint32_t imax(void) { return vgpu_inline_max(R); }

static void check_model(unsigned ch)
{
	struct chm *c = &CH[ch];
	CHECK(c->h.idx == ch);
	CHECK(c->h.active == c->active, "ch %u", ch);
	CHECK(c->h.gen == c->gen, "ch %u: %u vs model %u", ch, c->h.gen,
	      c->gen);
	CHECK(c->h.cons == c->cons, "ch %u: %u vs model %u", ch, c->h.cons,
	      c->cons);
	CHECK(c->h.nmsgs == c->nmsgs && c->h.nbad == c->nbad, "ch %u", ch);
}

static void check_all(void)
{
	for (unsigned i = 0; i < nch(); i++)
		check_model(i);
}

/* ---- write-set check: a daemon call writes only where it may ---- */

static struct range allow[2 * MAX_GEOM_SLOTS + 8];
static unsigned nallow;
static bool ws_dirty; /* the guest wrote since the shadow was taken */

static void ws_begin(void)
{
	nallow = 0;
	if (!writeset_on || !ws_dirty)
		return;
	ws_dirty = false;
	memcpy(G->shadow, G->mem, G->live_end);
	uint64_t ao = R->g.arena_off;
	memcpy(G->shadow + ao, G->mem + ao,
	       R->g.nchannels * R->g.arena_per_chan);
}

static void ws_allow(const void *p, uint64_t len)
{
	uint64_t off = (uint64_t)((const uint8_t *)p - G->mem);
	CHECK(off + len <= R->g.size);
	CHECK(nallow < sizeof(allow) / sizeof(allow[0]));
	allow[nallow++] = (struct range){off, len};
}

static void ws_allow_line2(unsigned ch)
{
	ws_allow((uint8_t *)vgpu_ctl(R, ch) + 128, 64);
}

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

static void ws_cmp(uint64_t from, uint64_t to, const char *what)
{
	if (from >= to || !memcmp(G->mem + from, G->shadow + from, to - from))
		return;
	for (uint64_t i = from; i < to; i++)
		if (G->mem[i] != G->shadow[i])
			fail(__FILE__, __LINE__,
			     "%s wrote region offset %llu (0x%02x -> 0x%02x)"
			     " outside what it may write", what,
			     (unsigned long long)i, G->shadow[i], G->mem[i]);
}

static void ws_end(const char *what)
{
	if (!writeset_on)
		return;
	qsort(allow, nallow, sizeof(allow[0]), cmp_range);
	uint64_t pos = 0;
	uint64_t ao = R->g.arena_off;
	for (unsigned i = 0; i <= nallow; i++) {
		uint64_t end = i < nallow ? allow[i].off : R->g.size;
		/* [pos, end) must be untouched; skip the poisoned gap */
		uint64_t a = pos, b = end < G->live_end ? end : G->live_end;
		ws_cmp(a, b, what);
		a = pos > ao ? pos : ao;
		ws_cmp(a, end, what);
		if (i < nallow && allow[i].off + allow[i].len > pos)
			pos = allow[i].off + allow[i].len;
	}
	/* the shadow is the region again */
	for (unsigned i = 0; i < nallow; i++)
		memcpy(G->shadow + allow[i].off, G->mem + allow[i].off,
		       allow[i].len);
}

/* ---- reference of the validation contract ---- */

enum {
	V_POS = 1, V_GEN = 2, V_OP = 4, V_FLAGS = 8, V_LEN = 16, V_REPLY = 32,
	V_ARENA = 64,
};

/* Which of the rules of abi.h/host.h a header copy breaks. */
static unsigned violations(uint32_t cons, uint32_t gen,
			   const struct vgpu_slot *s)
{
	unsigned v = 0;
	uint64_t cap = R->g.arena_per_chan;
	if (s->pos != cons)
		v |= V_POS;
	if (s->gen != gen)
		v |= V_GEN;
	if (s->opcode < 1 || s->opcode >= VGPU_OP_LIMIT)
		v |= V_OP;
	if (s->flags & ~VGPU_MSG_FLAGS_ALL)
		v |= V_FLAGS;
	if (s->len > imax())
		v |= V_LEN;
	if (!(s->flags & VGPU_MSG_NOREPLY) && s->reply >= nslots())
		v |= V_REPLY;
	if (s->flags & VGPU_MSG_ARENA) {
		/* [off, off+len) inside [0, cap], computed without overflow */
		if (s->arena_off > cap || s->arena_len > cap ||
		    s->arena_off + s->arena_len > cap)
			v |= V_ARENA;
	} else if (s->arena_off || s->arena_len) {
		v |= V_ARENA;
	}
	return v;
}

static unsigned err_bit(int err)
{
	switch (err) {
	case VGPU_E_POS: return V_POS;
	case VGPU_E_GEN: return V_GEN;
	case VGPU_E_OPCODE: return V_OP;
	case VGPU_E_FLAGS: return V_FLAGS;
	case VGPU_E_LEN: return V_LEN;
	case VGPU_E_REPLY: return V_REPLY;
	case VGPU_E_ARENA: return V_ARENA;
	default: return 0;
	}
}

/* vgpu_msg_validate() must name a rule the copy breaks, and a protocol
 * rule (position, generation) whenever one is broken. */
static void check_verdict(unsigned v, int err)
{
	if (!v) {
		CHECK(err == VGPU_OK, "err %d on a valid header", err);
		return;
	}
	unsigned b = err_bit(err);
	CHECK(b != 0, "err %d, violations 0x%x", err, v);
	CHECK(v & b, "err %d names a rule the header keeps (0x%x)", err, v);
	if (v & (V_POS | V_GEN))
		CHECK(b & (V_POS | V_GEN), "err %d for a protocol violation", err);
}

/* ------------------------------------------------------------------ */
/* daemon calls, each checked */

static const char *evname(int ev)
{
	static const char *n[] = {"NONE", "MSG", "BADMSG", "ATTACH", "DETACH",
				  "CORRUPT"};
	return ev >= 0 && ev <= VGPU_H_CORRUPT ? n[ev] : "?";
}

static void save_msg(struct chm *c, const struct vgpu_msg *m)
{
	struct saved *s = &c->saved[c->saved_next++ % NSAVED];
	s->m = *m;
	s->m.data = NULL;
	s->epoch = c->epoch;
	s->used = true;
}


static uint8_t *snap_buf;

/* Poll channel ch; returns the event (VGPU_H_NONE if masked). */
static int do_poll(unsigned ch, struct vgpu_msg *m)
{
	struct chm *c = &CH[ch];
	struct vgpu_chan_ctl *ctl = vgpu_ctl(R, ch);
	uint64_t claim = atomic_load(&ctl->claim);
	uint32_t cgen = VGPU_CLAIM_GEN(claim), pid = VGPU_CLAIM_PID(claim);
	uint32_t req_gen = atomic_load(&ctl->req_gen), abi = ctl->abi;
	struct vgpu_slot *slot = vgpu_slot_at(R, ch, c->cons);
	memcpy(snap_buf, slot, R->g.slot_size);
	const struct vgpu_slot *snap = (const struct vgpu_slot *)snap_buf;
	uint32_t seq = atomic_load(&snap->seq);
	uint32_t pre_cons = c->cons;


	/* what the contract says must happen */
	int want;
	unsigned v = 0;
	bool refusal = false;
	if (c->active) {
		if (pid == 0 || cgen != c->gen)
			want = VGPU_H_DETACH;
		else if (seq == c->cons + 1) {
			v = violations(c->cons, c->gen, snap);
			want = (v & (V_POS | V_GEN)) ? VGPU_H_CORRUPT
			       : v		     ? VGPU_H_BADMSG
						     : VGPU_H_MSG;
		} else if (seq == c->cons)
			want = VGPU_H_NONE;
		else
			want = VGPU_H_CORRUPT;
	} else {
		if (pid == 0 || cgen == c->gen || req_gen != cgen)
			want = VGPU_H_NONE;
		else if (abi < VGPU_ABI_MIN || abi > VGPU_ABI_MAX) {
			want = VGPU_H_NONE;
			refusal = true;
		} else
			want = VGPU_H_ATTACH;
	}

	ws_begin();
	memset(m, 0xEE, sizeof(*m));
	int ev = vgpu_hchan_poll(R, &c->h, m, G->buf);
	tracef("poll ch%u cons=%u seq=%u claim=%u:%u -> %s", ch, pre_cons,
	       seq, cgen, pid, evname(ev));

	if (c->dead)
		CHECK(ev == VGPU_H_NONE || ev == VGPU_H_ATTACH,
		      "CORRUPT channel %u yielded %s before a new generation"
		      " was accepted", ch, evname(ev));
	CHECK(ev == want, "ch %u: got %s, contract says %s (v=0x%x)", ch,
	      evname(ev), evname(want), v);

	switch (ev) {
	case VGPU_H_MSG:
	case VGPU_H_BADMSG: {
		ws_allow(&slot->seq, 4);
		ws_allow_line2(ch);
		ws_end("poll");
		CHECK(m->pos == pre_cons);
		CHECK(c->h.cons == pre_cons + 1, "cons advanced by one");
		CHECK(atomic_load(&ctl->cons) == c->h.cons);
		CHECK(atomic_load(&slot->seq) == pre_cons + nslots(),
		      "slot freed for the next lap");
		CHECK(m->op == snap->opcode && m->flags == snap->flags &&
		      m->tid == snap->tid && m->tag == snap->tag &&
		      m->total == snap->total &&
		      m->arena_off == snap->arena_off &&
		      m->arena_len == snap->arena_len);
		CHECK(m->data == G->buf);
		CHECK(m->len <= imax(), "len %u", m->len);
		CHECK(m->len == (snap->len <= imax() ? snap->len : 0),
		      "len %u, slot says %u", m->len, snap->len);
		CHECK(!memcmp(m->data, snap_buf + VGPU_MSG_HDR_SIZE, m->len));
		CHECK(m->reply < nslots() || m->reply == VGPU_NO_REPLY,
		      "reply %u", m->reply);
		if (snap->flags & VGPU_MSG_NOREPLY)
			CHECK(m->reply == VGPU_NO_REPLY);
		else if (snap->reply < nslots())
			CHECK(m->reply == snap->reply);
		/* the verdict, from the copy alone */
		struct vgpu_hchan hv = c->h;
		hv.cons = pre_cons;
		int verr = vgpu_msg_validate(R, &hv, snap);
		check_verdict(v, verr);
		if (ev == VGPU_H_MSG) {
			CHECK(m->err == VGPU_OK);
			CHECK(m->op >= 1 && m->op < VGPU_OP_LIMIT, "op %u",
			      m->op);
			CHECK(!(m->flags & ~VGPU_MSG_FLAGS_ALL));
			CHECK(m->len == snap->len);
			uint64_t cap = R->g.arena_per_chan;
			if (m->flags & VGPU_MSG_ARENA)
				CHECK(m->arena_off <= cap &&
				      m->arena_len <= cap - m->arena_off);
			else
				CHECK(!m->arena_off && !m->arena_len);
			c->nmsgs++;
		} else {
			CHECK(m->err == verr, "err %d vs validate %d", m->err,
			      verr);
			CHECK(!(err_bit(m->err) & (V_POS | V_GEN)));
			check_verdict(v, m->err);
			c->nbad++;
		}
		c->cons++;
		save_msg(c, m);
		break;
	}
	case VGPU_H_CORRUPT:
		ws_allow_line2(ch);
		ws_end("poll");
		CHECK(!c->h.active);
		CHECK(atomic_load(&ctl->status) == VGPU_CHAN_CORRUPT);
		CHECK(atomic_load(&slot->seq) == seq);
		if (seq != pre_cons + 1)
			CHECK(c->h.last_err == VGPU_E_INDEX, "%d",
			      c->h.last_err);
		else
			CHECK(err_bit(c->h.last_err) & v & (V_POS | V_GEN),
			      "%d", c->h.last_err);
		c->active = false;
		c->dead = true;
		break;
	case VGPU_H_DETACH:
		ws_end("poll");
		c->active = false;
		break;
	case VGPU_H_ATTACH:
		ws_end("poll");
		CHECK(c->h.owner_pid == pid && c->h.abi == abi);
		CHECK(c->h.last_err == 0);
		c->gen = cgen;
		c->pending = true;
		break;
	case VGPU_H_NONE:
		if (refusal) {
			ws_allow_line2(ch);
			ws_end("poll");
			CHECK(atomic_load(&ctl->status) ==
			      VGPU_CHAN_ABI_MISMATCH);
			CHECK(atomic_load(&ctl->ready_gen) == cgen);
			c->gen = cgen;
			c->pending = false;
		} else {
			ws_end("poll");
		}
		break;
	default:
		CHECK(0, "unknown event %d", ev);
	}
	check_all();
	return ev;
}

static uint32_t pick_start(uint8_t mode)
{
	switch (mode % 5) {
	case 0: return VGPU_START_DEFAULT;
	case 1: return UINT32_MAX - (u8() % 40); /* wraps within a lap */
	case 2: return 0;
	case 3: return u32();
	default: return (uint32_t)(0 - nslots() + (u8() % 8));
	}
}

static void do_accept(unsigned ch, uint32_t start)
{
	struct chm *c = &CH[ch];
	struct vgpu_chan_ctl *ctl = vgpu_ctl(R, ch);
	ws_begin();
	vgpu_hchan_accept(R, &c->h, start);
	tracef("accept ch%u gen=%u start=%u", ch, c->gen, start);
	for (uint32_t i = 0; i < nslots(); i++) {
		ws_allow(&vgpu_slot_at(R, ch, start + i)->seq, 4);
		ws_allow(&vgpu_reply_at(R, ch, i)->seq, 4);
	}
	ws_allow(&ctl->prod, 4);
	ws_allow_line2(ch);
	ws_end("accept");
	for (uint32_t i = 0; i < nslots(); i++) {
		CHECK(atomic_load(&vgpu_slot_at(R, ch, start + i)->seq) ==
		      start + i);
		CHECK(atomic_load(&vgpu_reply_at(R, ch, i)->seq) == start - 1);
	}
	CHECK(atomic_load(&ctl->ready_gen) == c->gen);
	CHECK(atomic_load(&ctl->status) == VGPU_CHAN_OK);
	CHECK(atomic_load(&ctl->start) == start);
	CHECK(atomic_load(&ctl->cons) == start);
	CHECK(atomic_load(&ctl->prod) == start);
	c->active = true;
	c->lclock = false; /* the next lease check starts the clock */
	c->dead = false;
	c->pending = false;
	c->cons = start;
	c->epoch++;
	check_all();
}

static void do_refuse(unsigned ch, uint32_t status)
{
	struct chm *c = &CH[ch];
	struct vgpu_chan_ctl *ctl = vgpu_ctl(R, ch);
	ws_begin();
	vgpu_hchan_refuse(R, &c->h, status);
	tracef("refuse ch%u gen=%u status=%u", ch, c->gen, status);
	ws_allow_line2(ch);
	ws_end("refuse");
	CHECK(atomic_load(&ctl->status) == status);
	CHECK(atomic_load(&ctl->ready_gen) == c->gen);
	c->active = false;
	c->pending = false;
	check_all();
}

/* stale: m was taken before the channel's current generation was accepted
 * (finding #2 of README.md, fixed: such a reply is refused). */
static void do_reply(unsigned ch, const struct vgpu_msg *m, bool stale,
		     int32_t result, uint32_t len, uint64_t arena_len)
{
	struct chm *c = &CH[ch];
	uint32_t e = m->reply;
	ws_begin();
	int rc = vgpu_hchan_reply(R, &c->h, m, result, G->rdata, len,
				  arena_len);
	tracef("reply ch%u pos=%u entry=%u len=%u%s -> %d", ch, m->pos, e,
	       len, stale ? " (stale)" : "", rc);
	/* a stale message (an earlier generation's) has nowhere to go */
	bool lost = !c->active || stale || m->epoch != c->h.epoch, badreply = e >= nslots(),
	     badlen = len > imax();
	if (rc == VGPU_OK) {
		CHECK(!lost, "reply on a detached channel accepted");
		CHECK(!badreply, "reply to entry %u accepted", e);
		CHECK(!badlen, "reply of %u bytes accepted", len);
		CHECK(!stale, "reply to pos %u, taken before the channel was "
		      "detached, written into generation %u's reply entry %u",
		      m->pos, c->gen, e);
		struct vgpu_slot *s = vgpu_reply_at(R, ch, e);
		ws_allow(s, R->g.slot_size);
		ws_end("reply");
		CHECK(atomic_load(&s->seq) == m->pos + 2);
		CHECK(s->result == result && s->len == len &&
		      s->arena_len == arena_len);
		CHECK(!memcmp((uint8_t *)s + VGPU_MSG_HDR_SIZE, G->rdata, len));
	} else {
		ws_end("reply");
		CHECK((rc == VGPU_E_LOST && lost) ||
		      (rc == VGPU_E_REPLY && badreply) ||
		      (rc == VGPU_E_LEN && badlen), "rc %d", rc);
	}
	check_all();
}

static void do_lease(unsigned ch, uint64_t lease)
{
	struct chm *c = &CH[ch];
	struct vgpu_chan_ctl *ctl = vgpu_ctl(R, ch);
	uint64_t claim = atomic_load(&ctl->claim);
	uint32_t beat = atomic_load(&ctl->guest_beat);
	/* "a claimed channel whose guest_beat has not moved for lease_ns is
	 * freed": the clock starts at the first check that sees a beat, and
	 * again for every new claim generation */
	bool want = false;
	if (VGPU_CLAIM_PID(claim) == 0) {
		/* nothing to reclaim */
	} else if (!c->lclock || beat != c->lbeat ||
		   VGPU_CLAIM_GEN(claim) != c->lgen) {
		c->lclock = true;
		c->lbeat = beat;
		c->lsince = now_ns;
		c->lgen = VGPU_CLAIM_GEN(claim);
	} else if (now_ns - c->lsince >= lease) {
		want = true;
		c->lclock = false;
	}
	ws_begin();
	bool got = vgpu_hchan_lease(R, &c->h, now_ns, lease);
	tracef("lease ch%u now=%llu lease=%llu claim=%u:%u -> %d", ch,
	       (unsigned long long)now_ns, (unsigned long long)lease,
	       VGPU_CLAIM_GEN(claim), VGPU_CLAIM_PID(claim), got);
	CHECK(got == want, "lease returned %d", got);
	if (got) {
		ws_allow(&ctl->claim, 8);
		ws_allow_line2(ch);
		ws_end("lease");
		CHECK(atomic_load(&ctl->claim) ==
		      VGPU_CLAIM(VGPU_CLAIM_GEN(claim), 0));
		CHECK(atomic_load(&ctl->status) == VGPU_CHAN_LEASE_EXPIRED);
	} else {
		ws_end("lease");
		CHECK(atomic_load(&ctl->claim) == claim);
	}
	check_all();
}

/* ------------------------------------------------------------------ */
/* guest-side scribbling */

static void write_in(const struct range *rs, unsigned n, uint64_t total,
		     uint64_t off, const uint8_t *src, uint32_t len)
{
	if (!total)
		return;
	off %= total;
	for (unsigned i = 0; i < n; i++) {
		if (off >= rs[i].len) {
			off -= rs[i].len;
			continue;
		}
		uint64_t room = rs[i].len - off;
		if (len > room)
			len = (uint32_t)room;
		memcpy(G->mem + rs[i].off + off, src, len);
		return;
	}
}

static void put_msg(unsigned ch, uint32_t pos, uint32_t gen, uint16_t op,
		    uint16_t flags, uint32_t len, uint32_t reply, uint64_t aoff,
		    uint64_t alen, uint8_t seed, bool publish)
{
	struct vgpu_slot *s = vgpu_slot_at(R, ch, pos);
	s->pos = pos;
	s->gen = gen;
	s->opcode = op;
	s->flags = flags;
	s->tid = 1000 + ch;
	s->len = len;
	s->result = 0;
	s->reply = reply;
	s->arena_off = aoff;
	s->arena_len = alen;
	s->tag = pos * 3ull;
	s->total = seed;
	uint8_t *p = (uint8_t *)s + VGPU_MSG_HDR_SIZE;
	for (uint32_t i = 0; i < len && i < imax(); i++)
		p[i] = (uint8_t)(seed + i * 13);
	if (publish)
		atomic_store(&s->seq, pos + 1);
}

enum {
	OP_WRITE,	/* u16 off, u8 n, n bytes: guest-writable parts */
	OP_FIELD,	/* u8 ch, u8 idx, u8 sel, value: one header field */
	OP_SEQ,		/* u8 ch, u8 k, u8 mode: a request slot's seq word */
	OP_PUT,		/* u8 ch, u8 k, u8 raw, fields..., u8 mut */
	OP_PUTN,	/* u8 ch, u8 n: n good requests from cons on */
	OP_CLAIM,	/* u8 ch, u8 mode, ...: claim/req_gen/abi */
	OP_RELEASE,	/* u8 ch: claim pid = 0 */
	OP_BEAT,	/* u8 ch, u8 d: guest_beat += d */
	OP_POLL,	/* u8 ch, u8 act: poll; act answers an ATTACH */
	OP_DRAIN,	/* u8 n, u8 start: a serve_once-like scan */
	OP_ACCEPT,	/* u8 ch, u8 mode: accept a pending ATTACH */
	OP_REFUSE,	/* u8 ch, u8 st: refuse a pending ATTACH */
	OP_REPLY,	/* u8 ch, u8 which, i32, u16 len, u8 alen */
	OP_REPLY_FORGED,/* u8 ch, u8 mode, u32 pos, u32 entry */
	OP_LEASE,	/* u8 ch, u8 mode, u16 dt */
	OP_VALIDATE,	/* u8 ch, u8 mode, 64 header bytes, u8 mode2 */
	OP_SCRIBBLE,	/* u16 off, u8 n, n bytes: daemon-written parts */
	OP_WAKE,	/* u8 ch, u8 on */
	OP_COUNT
};

static void answer_attach(unsigned ch, uint8_t act)
{
	switch (act % 4) {
	case 0:
	case 1:
		do_accept(ch, pick_start(act >> 2));
		break;
	case 2:
		do_refuse(ch, (act >> 2) & 1 ? u8() : VGPU_CHAN_REFUSED);
		break;
	default:
		break; /* left pending */
	}
}

static uint64_t field_value(uint8_t sel, uint32_t base)
{
	switch ((sel >> 4) % 4) {
	case 0: return base + (int8_t)u8();
	case 1: return u8();
	case 2: return u32();
	default: return u64();
	}
}

static void op_field(void)
{
	unsigned ch = u8() % nch();
	uint32_t idx = u8();
	uint8_t sel = u8();
	struct chm *c = &CH[ch];
	struct vgpu_slot *s = (sel & 0x80) ? vgpu_reply_at(R, ch, idx)
					   : vgpu_slot_at(R, ch, c->cons + idx);
	uint32_t pos = c->cons + (idx % nslots());
	switch (sel % 13) {
	case 0: atomic_store(&s->seq, (uint32_t)field_value(sel, pos)); break;
	case 1: s->pos = (uint32_t)field_value(sel, pos); break;
	case 2: s->gen = (uint32_t)field_value(sel, c->gen); break;
	case 3: s->opcode = (uint16_t)field_value(sel, VGPU_OP_LIMIT); break;
	case 4: s->flags = (uint16_t)field_value(sel, 0); break;
	case 5: s->tid = (uint32_t)field_value(sel, 0); break;
	case 6: s->len = (uint32_t)field_value(sel, imax()); break;
	case 7: s->result = (int32_t)field_value(sel, 0); break;
	case 8: s->reply = (uint32_t)field_value(sel, nslots()); break;
	case 9: s->arena_off = field_value(sel, R->g.arena_per_chan); break;
	case 10: /* relative to what is left of the slice (may wrap) */
		s->arena_len = field_value(sel, R->g.arena_per_chan - s->arena_off);
		break;
	case 11: s->tag = field_value(sel, 0); break;
	default: s->total = field_value(sel, 0); break;
	}
}

static void op_seq(void)
{
	unsigned ch = u8() % nch();
	int k = (int)(u8() % 32) - 8;
	uint8_t mode = u8();
	uint32_t p = CH[ch].cons + (uint32_t)k, v;
	switch (mode % 8) {
	case 0: v = p; break;
	case 1: v = p + 1; break;
	case 2: v = p + 2; break;
	case 3: v = p + nslots(); break;
	case 4: v = p + nslots() + 1; break;
	case 5: v = p + 1 - nslots(); break;
	case 6: v = p - 1; break;
	default: v = u32(); break;
	}
	atomic_store(&vgpu_slot_at(R, ch, p)->seq, v);
	tracef("guest seq ch%u pos=%u := %u", ch, p, v);
}

static void op_put(void)
{
	unsigned ch = u8() % nch();
	struct chm *c = &CH[ch];
	uint32_t pos = c->cons + u8() % nslots();
	uint8_t raw = u8();
	uint64_t cap = R->g.arena_per_chan;
	uint16_t op = (raw & 1) ? u16() : (uint16_t)(1 + u16() % (VGPU_OP_LIMIT - 1));
	uint16_t flags = (raw & 2) ? u16() : (u8() & VGPU_MSG_FLAGS_ALL);
	uint32_t len = (raw & 4) ? u32() : u16() % (imax() + 1);
	uint32_t reply = (raw & 8) ? u32() : u8() % nslots();
	uint64_t aoff = 0, alen = 0;
	if (raw & 16) {
		switch ((raw >> 5) % 4) {
		case 0: /* anything */
			aoff = u64();
			alen = u64();
			break;
		case 1: /* off + len wraps around 2^64 */
			aoff = u64();
			alen = 0 - aoff + u16();
			break;
		case 2: /* near the end of the slice */
			aoff = cap + (int8_t)u8();
			alen = u8();
			break;
		default: /* a range ending near the end of the slice */
			aoff = u16();
			alen = cap - aoff + (int8_t)u8();
			break;
		}
	} else if (flags & VGPU_MSG_ARENA) {
		aoff = u16() % (cap + 1);
		alen = u16() % (cap - aoff + 1);
	}
	uint8_t mut = u8();
	uint32_t echo = pos, gen = c->gen;
	if (mut & 1)
		echo ^= 1u + u8();
	if (mut & 2)
		gen += 1u + u8();
	put_msg(ch, pos, gen, op, flags, len, reply, aoff, alen, raw,
		!(mut & 4));
	if (echo != pos)
		vgpu_slot_at(R, ch, pos)->pos = echo;
	tracef("guest put ch%u pos=%u gen=%u op=%u flags=%#x len=%u reply=%u "
	       "arena=%llu+%llu mut=%#x", ch, echo, gen, op, flags, len, reply,
	       (unsigned long long)aoff, (unsigned long long)alen, mut);
}

static void op_putn(void)
{
	unsigned ch = u8() % nch();
	unsigned n = 1 + u8() % nslots();
	struct chm *c = &CH[ch];
	for (unsigned i = 0; i < n; i++) {
		uint32_t pos = c->cons + i;
		uint16_t flags = (i % 3 == 2) ? VGPU_MSG_NOREPLY : 0;
		put_msg(ch, pos, c->gen, (uint16_t)(1 + i), flags,
			i % (imax() + 1), pos % nslots(), 0, 0, (uint8_t)i,
			true);
	}
	tracef("guest putn ch%u cons=%u n=%u", ch, c->cons, n);
}

static void op_claim(void)
{
	unsigned ch = u8() % nch();
	uint8_t mode = u8();
	struct chm *c = &CH[ch];
	struct vgpu_chan_ctl *ctl = vgpu_ctl(R, ch);
	uint32_t gen;
	switch (mode % 4) {
	case 0: gen = c->gen + 1; break;
	case 1: gen = c->gen; break;
	case 2: gen = c->gen + 2; break;
	default: gen = u32(); break;
	}
	uint32_t pid = (mode & 4) ? u32() : 4242u + ch;
	atomic_store(&ctl->claim, VGPU_CLAIM(gen, pid));
	switch ((mode >> 3) % 4) {
	case 0: ctl->abi = VGPU_ABI_MAX; break;
	case 1: ctl->abi = VGPU_ABI_MIN; break;
	case 2: ctl->abi = VGPU_ABI_MAX + 1; break;
	default: ctl->abi = u32(); break;
	}
	switch ((mode >> 5) % 4) {
	case 0:
	case 1: atomic_store(&ctl->req_gen, gen); break;
	case 2: break; /* identity not yet published */
	default: atomic_store(&ctl->req_gen, u32()); break;
	}
	tracef("guest claim ch%u gen=%u pid=%u abi=%u req_gen=%u", ch, gen,
	       pid, ctl->abi, atomic_load(&ctl->req_gen));
}

static void op_validate(void)
{
	unsigned ch = u8() % nch();
	uint8_t mode = u8();
	struct vgpu_slot s;
	uint8_t *p = (uint8_t *)&s;
	for (unsigned i = 0; i < sizeof(s); i++)
		p[i] = u8();
	struct vgpu_hchan h = CH[ch].h;
	if (mode & 1)
		s.pos = h.cons;
	if (mode & 2)
		s.gen = h.gen;
	if (mode & 4) {
		h.cons = s.pos;
		h.gen = s.gen;
	}
	if (mode & 8)
		s.opcode = (uint16_t)(1 + s.opcode % (VGPU_OP_LIMIT - 1));
	if (mode & 16)
		s.flags &= VGPU_MSG_FLAGS_ALL;
	if (mode & 32)
		s.len %= imax() + 1;
	if (mode & 64)
		s.reply %= nslots();
	uint64_t cap = R->g.arena_per_chan;
	if (mode & 128) {
		s.arena_off %= cap + 1;
		s.arena_len %= cap - s.arena_off + 1;
	}
	switch (u8() % 4) {
	case 1: /* off + len wraps around 2^64 */
		s.arena_len = 0 - s.arena_off + (s.arena_len & 0xFFFF);
		break;
	case 2: /* ends at the end of the slice, give or take */
		s.arena_len = cap - s.arena_off + (int8_t)s.arena_len;
		break;
	case 3: /* payload length at the slot's limit, give or take */
		s.len = imax() + (int8_t)s.len;
		break;
	default:
		break;
	}
	int err = vgpu_msg_validate(R, &h, &s);
	unsigned v = violations(h.cons, h.gen, &s);
	tracef("validate ch%u v=%#x -> %d", ch, v, err);
	check_verdict(v, err);
}

static void run_op(uint8_t op)
{
	struct vgpu_msg m;
	switch (op % OP_COUNT) {
	case OP_WRITE: case OP_SCRIBBLE: case OP_FIELD: case OP_SEQ:
	case OP_PUT: case OP_PUTN: case OP_CLAIM: case OP_RELEASE: case OP_BEAT:
		ws_dirty = true;
		break;
	default:
		break;
	}
	switch (op % OP_COUNT) {
	case OP_WRITE:
	case OP_SCRIBBLE: {
		uint16_t off = u16();
		uint8_t n = 1 + u8() % 64, b[64];
		for (unsigned i = 0; i < n; i++)
			b[i] = u8();
		if (op % OP_COUNT == OP_WRITE)
			write_in(G->gw, G->ngw, G->gw_total, off, b, n);
		else
			write_in(G->dw, G->ndw, G->dw_total, off, b, n);
		tracef("guest %s off=%u n=%u",
		       op % OP_COUNT == OP_WRITE ? "write" : "scribble", off, n);
		break;
	}
	case OP_FIELD:
		op_field();
		break;
	case OP_SEQ:
		op_seq();
		break;
	case OP_PUT:
		op_put();
		break;
	case OP_PUTN:
		op_putn();
		break;
	case OP_CLAIM:
		op_claim();
		break;
	case OP_RELEASE: {
		unsigned ch = u8() % nch();
		struct vgpu_chan_ctl *ctl = vgpu_ctl(R, ch);
		atomic_store(&ctl->claim,
			     VGPU_CLAIM(VGPU_CLAIM_GEN(atomic_load(&ctl->claim)),
					0));
		tracef("guest release ch%u", ch);
		break;
	}
	case OP_BEAT: {
		unsigned ch = u8() % nch();
		atomic_fetch_add(&vgpu_ctl(R, ch)->guest_beat, 1u + u8() % 4);
		break;
	}
	case OP_POLL: {
		unsigned ch = u8() % nch();
		uint8_t act = u8();
		if (do_poll(ch, &m) == VGPU_H_ATTACH)
			answer_attach(ch, act);
		break;
	}
	case OP_DRAIN: {
		/* what vgpu_serve_once() does, with every event checked */
		unsigned n = 1 + u8() % 64;
		uint8_t act = u8();
		for (unsigned ch = 0; ch < nch(); ch++) {
			for (unsigned k = 0; k < n; k++) {
				int ev = do_poll(ch, &m);
				if (ev == VGPU_H_NONE)
					break;
				if (ev == VGPU_H_ATTACH)
					do_accept(ch, (act & 1)
							      ? pick_start(act >> 1)
							      : VGPU_START_DEFAULT);
				else if (ev == VGPU_H_MSG ||
					 ev == VGPU_H_BADMSG)
					do_reply(ch, &m, false, (int32_t)k,
						 m.len < imax() ? m.len : 0, 0);
			}
		}
		break;
	}
	case OP_ACCEPT: {
		unsigned ch = u8() % nch();
		uint8_t mode = u8();
		if (CH[ch].pending)
			do_accept(ch, pick_start(mode));
		break;
	}
	case OP_REFUSE: {
		unsigned ch = u8() % nch();
		uint8_t st = u8();
		if (CH[ch].pending)
			do_refuse(ch, st % 8);
		break;
	}
	case OP_REPLY: {
		unsigned ch = u8() % nch();
		struct saved *s = &CH[ch].saved[u8() % NSAVED];
		int32_t result = (int32_t)u32();
		uint32_t len = u16();
		uint8_t alen = u8();
		switch (len >> 14) {
		case 0:
		case 1: len %= imax() + 1; break;
		case 2: len = imax() - 4 + (len & 7); break; /* the limit */
		default: len = len & 0x1000 ? UINT32_MAX - (len & 0xFF) : len;
		}
		if (s->used)
			do_reply(ch, &s->m, s->epoch != CH[ch].epoch, result,
				 len, alen);
		break;
	}
	case OP_REPLY_FORGED: {
		unsigned ch = u8() % nch();
		uint8_t mode = u8();
		struct vgpu_msg fm = {0};
		fm.pos = u32();
		fm.reply = (mode & 1) ? u32() : u8() % (2 * nslots());
		do_reply(ch, &fm, false, -1, (mode >> 1) % 9, 0);
		break;
	}
	case OP_LEASE: {
		unsigned ch = u8() % nch();
		uint8_t mode = u8();
		uint64_t dt = u16();
		if (mode & 1)
			dt *= 1000000ull;
		now_ns += dt;
		uint64_t lease = (mode & 2) ? u32() : ((mode & 4) ? 500 : 1000000000ull);
		do_lease(ch, lease);
		break;
	}
	case OP_VALIDATE:
		op_validate();
		break;
	case OP_WAKE: {
		unsigned ch = u8() % nch();
		bool on = u8() & 1;
		ws_begin();
		vgpu_hchan_need_wakeup(R, &CH[ch].h, on);
		ws_allow_line2(ch);
		ws_end("need_wakeup");
		CHECK(atomic_load(&vgpu_ctl(R, ch)->need_wakeup) == on);
		check_all();
		break;
	}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *e;
	trace_on = (e = getenv("FUZZ_HOST_TRACE")) && *e && *e != '0';
	writeset_on = !((e = getenv("FUZZ_HOST_NOWRITESET")) && *e && *e != '0');
	size_t maxslot = 0;
	for (unsigned i = 0; i < NGEOM; i++) {
		geo_setup(&GEOMS[i]);
		if (GEOMS[i].slot_size > maxslot)
			maxslot = GEOMS[i].slot_size;
	}
	snap_buf = xalloc(64, maxslot);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	in_p = data;
	in_n = size;
	step_index = 0;
	G = &GEOMS[u8() % NGEOM];
	R = &G->r;
	geo_reset(G);
	ws_dirty = true;
	memset(CH, 0, sizeof(CH));
	for (unsigned i = 0; i < nch(); i++)
		vgpu_hchan_init(&CH[i].h, i);
	now_ns = 1000000000ull;
	tracef("geometry %u ch x %u slots x %u B, arena %llu", nch(), nslots(),
	       R->g.slot_size, (unsigned long long)R->g.arena_per_chan);
	while (in_n && step_index < MAX_OPS) {
		run_op(u8());
		step_index++;
	}
	check_all();
	return 0;
}
