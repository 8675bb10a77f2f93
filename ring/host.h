/* ring/host.h - the daemon side of a channel: attach, take, reply, reclaim.
 *
 * Contract: the region is hostile. vgpu_hchan_poll() reads a slot's seq
 * once, copies the 64-byte header and then at most inline_max payload bytes
 * into private memory, and validates only that copy. A malformed message is
 * consumed and returned as VGPU_H_BADMSG (the caller answers it with an
 * error); a protocol violation (seq jump, wrong position or generation)
 * marks the channel CORRUPT and detaches it; nothing the guest writes can
 * make these functions read or write outside the region or loop forever.
 * The daemon keeps its own copy of every index; values it publishes into the
 * region are never read back.
 */
#ifndef VGPU_RING_HOST_H
#define VGPU_RING_HOST_H

#include "region.h"
#include <stdbool.h>

enum vgpu_hevent {
	VGPU_H_NONE = 0,    /* nothing to do */
	VGPU_H_MSG,         /* m holds a validated request */
	VGPU_H_BADMSG,      /* m->err says why; reply unless NOREPLY */
	VGPU_H_ATTACH,      /* a new owner asks: vgpu_hchan_accept/refuse */
	VGPU_H_DETACH,      /* owner released or was replaced: tear down */
	VGPU_H_CORRUPT,     /* protocol violation: channel detached */
};

/* Daemon-private state of one channel. */
struct vgpu_hchan {
	uint32_t idx;
	uint32_t gen;       /* generation being served (or last handled) */
	uint32_t cons;      /* next position to consume */
	uint32_t owner_pid; /* as the guest kernel sees it, for logs */
	uint32_t abi;
	bool active;
	int last_err;       /* why the channel went CORRUPT */
	uint32_t beat;      /* last guest_beat seen */
	uint64_t beat_ns;   /* when it last changed */
	uint32_t beat_gen;  /* the claim those two are about */
	uint64_t nmsgs, nbad;
	uint64_t epoch;     /* accepts so far: daemon-private, never reused,
			     * unlike generations, which the guest writes */
};

/* A request copied out of its slot; data points into the caller's buffer
 * of at least vgpu_inline_max() bytes. */
struct vgpu_msg {
	uint32_t pos;
	uint16_t op, flags;
	uint32_t tid;
	uint32_t len;
	uint32_t reply; /* reply entry, or VGPU_NO_REPLY */
	uint64_t epoch; /* the channel's accept count when it was taken */
	uint64_t arena_off, arena_len, tag, total;
	uint8_t *data;
	int err; /* VGPU_H_BADMSG: the validation failure */
};

void vgpu_hchan_init(struct vgpu_hchan *h, uint32_t idx);

/* One step for one channel. buf receives the payload. */
int vgpu_hchan_poll(struct vgpu_region *r, struct vgpu_hchan *h,
		    struct vgpu_msg *m, void *buf);

/* After VGPU_H_ATTACH: reset the slots for the new generation with the
 * first position start (choose one near UINT32_MAX and indices wrap within
 * the first laps) and publish ready_gen. */
void vgpu_hchan_accept(struct vgpu_region *r, struct vgpu_hchan *h,
		       uint32_t start);
void vgpu_hchan_refuse(struct vgpu_region *r, struct vgpu_hchan *h,
		       uint32_t status);

/* Answer request m into the reply entry it named. Refused (VGPU_E_REPLY)
 * for NOREPLY requests and out-of-range entries, and once the channel has
 * been detached. */
int vgpu_hchan_reply(struct vgpu_region *r, struct vgpu_hchan *h,
		     const struct vgpu_msg *m, int32_t result, const void *data,
		     uint32_t len, uint64_t arena_len);

/* Lease backstop: a claimed channel whose guest_beat has not moved for
 * lease_ns is freed (claim pid set to 0, status LEASE_EXPIRED). Returns true
 * if it reclaimed; the next poll then reports VGPU_H_DETACH. */
bool vgpu_hchan_lease(struct vgpu_region *r, struct vgpu_hchan *h,
		      uint64_t now_ns, uint64_t lease_ns);

/* Would vgpu_hchan_poll() have anything to report? (a request at cons, a
 * changed claim). Cheap; for servers deciding whether they may sleep. */
bool vgpu_hchan_pending(const struct vgpu_region *r,
			const struct vgpu_hchan *h);

/* Set or clear need_wakeup on a channel (the idle scanner does this). */
void vgpu_hchan_need_wakeup(struct vgpu_region *r, struct vgpu_hchan *h,
			    bool on);

/* Validation of a copied header alone (exposed for the fuzzer and tests). */
int vgpu_msg_validate(const struct vgpu_region *r, const struct vgpu_hchan *h,
		      const struct vgpu_slot *copy);

#define VGPU_NO_REPLY 0xFFFFFFFFu
#define VGPU_START_DEFAULT 0xFFFFFF00u /* indices wrap in the first lap */

#endif
