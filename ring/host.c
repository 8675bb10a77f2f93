/* ring/host.c - daemon side of a channel (see host.h for the contract). */
#include "host.h"
#include "wait.h"
#include <string.h>

void vgpu_hchan_init(struct vgpu_hchan *h, uint32_t idx)
{
	memset(h, 0, sizeof(*h));
	h->idx = idx;
}

int vgpu_msg_validate(const struct vgpu_region *r, const struct vgpu_hchan *h,
		      const struct vgpu_slot *s)
{
	if (s->pos != h->cons)
		return VGPU_E_POS;
	if (s->gen != h->gen)
		return VGPU_E_GEN;
	if (s->opcode == 0 || s->opcode >= VGPU_OP_LIMIT)
		return VGPU_E_OPCODE;
	if (s->flags & ~VGPU_MSG_FLAGS_ALL)
		return VGPU_E_FLAGS;
	if (s->len > vgpu_inline_max(r))
		return VGPU_E_LEN;
	if (!(s->flags & VGPU_MSG_NOREPLY) && s->reply >= r->g.nslots)
		return VGPU_E_REPLY;
	if (s->flags & VGPU_MSG_ARENA) {
		uint64_t cap = r->g.arena_per_chan;
		if (s->arena_off > cap || s->arena_len > cap - s->arena_off)
			return VGPU_E_ARENA;
	} else if (s->arena_off || s->arena_len) {
		return VGPU_E_ARENA;
	}
	return VGPU_OK;
}

static bool corrupting(int err)
{
	return err == VGPU_E_POS || err == VGPU_E_GEN || err == VGPU_E_INDEX;
}

static void detach_corrupt(struct vgpu_region *r, struct vgpu_hchan *h,
			   int err)
{
	struct vgpu_chan_ctl *ctl = vgpu_ctl(r, h->idx);
	h->active = false;
	h->last_err = err;
	atomic_store_explicit(&ctl->status, VGPU_CHAN_CORRUPT,
			      memory_order_release);
}

static int take(struct vgpu_region *r, struct vgpu_hchan *h,
		struct vgpu_msg *m, void *buf)
{
	struct vgpu_slot *s = vgpu_slot_at(r, h->idx, h->cons);
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
	if (seq != h->cons + 1) {
		/* not ready: only "free for this lap" is legal, since the
		 * daemon itself freed the previous lap */
		if (seq == h->cons)
			return VGPU_H_NONE;
		detach_corrupt(r, h, VGPU_E_INDEX);
		return VGPU_H_CORRUPT;
	}
	struct vgpu_slot copy;
	memcpy(&copy, s, sizeof(copy));
	int err = vgpu_msg_validate(r, h, &copy);
	if (corrupting(err)) {
		detach_corrupt(r, h, err);
		return VGPU_H_CORRUPT;
	}
	/* whatever else is wrong, never copy past the slot (fuzzer find) */
	uint32_t len = copy.len <= vgpu_inline_max(r) ? copy.len : 0;
	memcpy(buf, (uint8_t *)s + VGPU_MSG_HDR_SIZE, len);
	uint32_t reply = (copy.flags & VGPU_MSG_NOREPLY) ||
				 copy.reply >= r->g.nslots
			 ? VGPU_NO_REPLY
			 : copy.reply;
	*m = (struct vgpu_msg){.pos = h->cons, .op = copy.opcode,
			       .flags = copy.flags, .tid = copy.tid,
			       .len = len, .reply = reply, .epoch = h->epoch,
			       .arena_off = copy.arena_off,
			       .arena_len = copy.arena_len, .tag = copy.tag,
			       .total = copy.total, .data = buf, .err = err};
	/* The request is ours now: free the slot for the next lap. */
	atomic_store_explicit(&s->seq, h->cons + r->g.nslots,
			      memory_order_release);
	h->cons++;
	atomic_store_explicit(&vgpu_ctl(r, h->idx)->cons, h->cons,
			      memory_order_relaxed);
	if (err) {
		h->nbad++;
		return VGPU_H_BADMSG;
	}
	h->nmsgs++;
	return VGPU_H_MSG;
}

int vgpu_hchan_poll(struct vgpu_region *r, struct vgpu_hchan *h,
		    struct vgpu_msg *m, void *buf)
{
	struct vgpu_chan_ctl *ctl = vgpu_ctl(r, h->idx);
	uint64_t c = atomic_load_explicit(&ctl->claim, memory_order_acquire);
	uint32_t gen = VGPU_CLAIM_GEN(c), pid = VGPU_CLAIM_PID(c);
	if (h->active) {
		if (pid == 0 || gen != h->gen) {
			h->active = false;
			return VGPU_H_DETACH;
		}
		return take(r, h, m, buf);
	}
	if (pid == 0 || gen == h->gen)
		return VGPU_H_NONE;
	/* A new claim: act once the owner has published its identity. */
	if (atomic_load_explicit(&ctl->req_gen, memory_order_acquire) != gen)
		return VGPU_H_NONE;
	h->gen = gen;
	h->owner_pid = pid;
	h->abi = ctl->abi;
	h->last_err = 0;
	if (h->abi < VGPU_ABI_MIN || h->abi > VGPU_ABI_MAX) {
		vgpu_hchan_refuse(r, h, VGPU_CHAN_ABI_MISMATCH);
		return VGPU_H_NONE;
	}
	return VGPU_H_ATTACH;
}

void vgpu_hchan_accept(struct vgpu_region *r, struct vgpu_hchan *h,
		       uint32_t start)
{
	struct vgpu_chan_ctl *ctl = vgpu_ctl(r, h->idx);
	for (uint32_t i = 0; i < r->g.nslots; i++) {
		atomic_store_explicit(&vgpu_slot_at(r, h->idx, start + i)->seq,
				      start + i, memory_order_relaxed);
		/* start - 1 is pos + 2 for no position of the next 2^32 */
		atomic_store_explicit(&vgpu_reply_at(r, h->idx, i)->seq,
				      start - 1, memory_order_relaxed);
	}
	/* Producers take tickets from prod; the owner has not submitted yet
	 * (it waits for ready_gen), so setting it here is race-free for a
	 * well-behaved owner, and harmless for the daemon otherwise. */
	atomic_store_explicit(&ctl->prod, start, memory_order_relaxed);
	atomic_store_explicit(&ctl->start, start, memory_order_relaxed);
	atomic_store_explicit(&ctl->cons, start, memory_order_relaxed);
	atomic_store_explicit(&ctl->status, VGPU_CHAN_OK, memory_order_relaxed);
	h->cons = start;
	h->active = true;
	h->epoch++;
	h->beat = atomic_load(&ctl->guest_beat);
	h->beat_ns = 0; /* the next lease check starts the clock */
	atomic_store_explicit(&ctl->ready_gen, h->gen, memory_order_release);
}

void vgpu_hchan_refuse(struct vgpu_region *r, struct vgpu_hchan *h,
		       uint32_t status)
{
	struct vgpu_chan_ctl *ctl = vgpu_ctl(r, h->idx);
	h->active = false;
	atomic_store_explicit(&ctl->status, status, memory_order_relaxed);
	atomic_store_explicit(&ctl->ready_gen, h->gen, memory_order_release);
}

int vgpu_hchan_reply(struct vgpu_region *r, struct vgpu_hchan *h,
		     const struct vgpu_msg *m, int32_t result, const void *data,
		     uint32_t len, uint64_t arena_len)
{
	/* a late answer to a previous owner must not reach the next one,
	 * whose positions repeat from the same start (fuzzer find) */
	if (!h->active || m->epoch != h->epoch)
		return VGPU_E_LOST;
	if (m->reply >= r->g.nslots)
		return VGPU_E_REPLY;
	uint32_t pos = m->pos;
	struct vgpu_slot *s = vgpu_reply_at(r, h->idx, m->reply);
	uint32_t max = vgpu_inline_max(r);
	if (len > max)
		return VGPU_E_LEN;
	s->result = result;
	s->len = len;
	s->arena_len = arena_len;
	if (len)
		memcpy((uint8_t *)s + VGPU_MSG_HDR_SIZE, data, len);
	atomic_store_explicit(&s->seq, pos + 2, memory_order_release);
	vgpu_full_fence();
	struct vgpu_chan_ctl *ctl = vgpu_ctl(r, h->idx);
	if (atomic_load_explicit(&ctl->resp_waiters, memory_order_relaxed))
		vgpu_futex_wake(&s->seq);
	return VGPU_OK;
}

bool vgpu_hchan_lease(struct vgpu_region *r, struct vgpu_hchan *h,
		      uint64_t now_ns, uint64_t lease_ns)
{
	struct vgpu_chan_ctl *ctl = vgpu_ctl(r, h->idx);
	uint64_t c = atomic_load_explicit(&ctl->claim, memory_order_acquire);
	if (VGPU_CLAIM_PID(c) == 0)
		return false;
	uint32_t beat = atomic_load_explicit(&ctl->guest_beat,
					     memory_order_relaxed);
	/* a new owner starts a fresh lease, whatever the beat counter says
	 * (it carries on from the previous owner's value) */
	if (beat != h->beat || h->beat_ns == 0 ||
	    VGPU_CLAIM_GEN(c) != h->beat_gen) {
		h->beat_gen = VGPU_CLAIM_GEN(c);
		h->beat = beat;
		h->beat_ns = now_ns;
		return false;
	}
	if (now_ns - h->beat_ns < lease_ns)
		return false;
	if (!atomic_compare_exchange_strong(&ctl->claim, &c,
					    VGPU_CLAIM(VGPU_CLAIM_GEN(c), 0)))
		return false;
	atomic_store_explicit(&ctl->status, VGPU_CHAN_LEASE_EXPIRED,
			      memory_order_release);
	h->beat_ns = 0;
	return true;
}

bool vgpu_hchan_pending(const struct vgpu_region *r,
			const struct vgpu_hchan *h)
{
	struct vgpu_chan_ctl *ctl = vgpu_ctl(r, h->idx);
	uint64_t c = atomic_load_explicit(&ctl->claim, memory_order_acquire);
	if (VGPU_CLAIM_GEN(c) != h->gen || !VGPU_CLAIM_PID(c))
		return h->active || VGPU_CLAIM_PID(c);
	if (!h->active)
		return false;
	uint32_t seq = atomic_load_explicit(&vgpu_slot_at(r, h->idx, h->cons)->seq,
					    memory_order_acquire);
	return seq != h->cons;
}

void vgpu_hchan_need_wakeup(struct vgpu_region *r, struct vgpu_hchan *h,
			    bool on)
{
	atomic_store_explicit(&vgpu_ctl(r, h->idx)->need_wakeup, on ? 1u : 0u,
			      memory_order_relaxed);
}
