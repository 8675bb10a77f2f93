/* ring/guest.h - the guest side of a channel: claim, submit, wait, release.
 *
 * Contract: a channel belongs to one guest process and is shared by all its
 * threads. Each request takes a ticket from ctl.prod (fetch-add), waits for
 * its slot to be free (the daemon frees slots as it copies requests out, and
 * never waits for a guest, so this wait always ends), writes it and
 * publishes seq = pos+1. A request that wants an answer names a reply entry
 * its thread reserved with vgpu_replies_get(); the thread waits on that
 * entry, so replies come back in any order and no thread's wait blocks
 * another's. An operation reserves all the entries it will hold at once
 * (a stream: two), so reservations cannot deadlock.
 *
 * Claiming: CAS ctl.claim from (gen, 0) - or (gen, dead pid) - to
 * (gen+1, our pid), write identity and ABI, publish req_gen = gen+1, and wait
 * for the daemon to reset the channel and publish ready_gen = gen+1. A
 * process must not use a channel its parent claimed (vgpu_gchan_check).
 */
#ifndef VGPU_RING_GUEST_H
#define VGPU_RING_GUEST_H

#include "region.h"
#include "wait.h"
#include <stdbool.h>

struct vgpu_replies;

struct vgpu_gchan {
	struct vgpu_region *r;
	struct vgpu_replies *rp; /* process-local reply-entry allocator */
	struct vgpu_chan_ctl *ctl;
	uint32_t idx;   /* channel index */
	uint32_t gen;   /* our generation */
	uint32_t pid;   /* claiming process: a forked child differs */
	uint32_t abi;
	bool wc;        /* mapping is write-combining: sfence before publish */
	bool futex;     /* the daemon shares our kernel: futex doorbells */
	struct vgpu_waitpolicy wait;
	uint32_t ready_timeout_ms; /* how long claim waits for the daemon */
	uint32_t stall_ms;         /* heartbeat silence that means "gone" */
};

struct vgpu_req {
	uint16_t op;
	uint16_t flags; /* VGPU_MSG_* */
	uint32_t tid;   /* 0: the calling thread's id */
	const void *data;
	uint32_t len;
	uint64_t arena_off, arena_len, tag, total;
};

struct vgpu_resp {
	int32_t result;
	uint32_t len;       /* bytes the daemon sent (may exceed cap: TRUNC) */
	uint64_t arena_len;
	uint64_t tag;
	void *data;         /* where to copy the payload */
	uint32_t cap;
};

struct vgpu_claim_opts {
	uint32_t abi;              /* from vgpu_region_check() */
	bool wc, futex;
	const struct vgpu_waitpolicy *wait; /* NULL: vgpu_wait_guest */
	uint32_t ready_timeout_ms; /* 0: 5000 */
	uint32_t stall_ms;         /* 0: 3000 */
};

int vgpu_gchan_claim(struct vgpu_gchan *c, struct vgpu_region *r,
		     const struct vgpu_claim_opts *o);
int vgpu_gchan_release(struct vgpu_gchan *c);
/* At process exit, while other threads may still be using the channel:
 * give the claim back (so the daemon frees the worker, its memory and
 * the VM's quota at once, not when the lease runs out) and free nothing. */
void vgpu_gchan_abandon(struct vgpu_gchan *c);
/* Still ours, not inherited through fork, daemon still serving it? */
int vgpu_gchan_check(const struct vgpu_gchan *c);
/* Liveness for the daemon's lease: call about once a second. */
void vgpu_gchan_beat(struct vgpu_gchan *c);

/* Reserve n reply entries at once (waits until n are free). */
void vgpu_replies_get(struct vgpu_gchan *c, uint32_t n, uint32_t *idx);
void vgpu_replies_put(struct vgpu_gchan *c, uint32_t n, const uint32_t *idx);

/* Publish a request; reply is the reserved entry (ignored for NOREPLY). */
int vgpu_gchan_submit(struct vgpu_gchan *c, const struct vgpu_req *q,
		      uint32_t reply, uint32_t *pos);
/* Wait for the answer to the request at pos in entry reply. */
int vgpu_gchan_wait(struct vgpu_gchan *c, uint32_t pos, uint32_t reply,
		    struct vgpu_resp *p);
/* reserve + submit + wait + release (submit alone for NOREPLY). */
int vgpu_gchan_call(struct vgpu_gchan *c, const struct vgpu_req *q,
		    struct vgpu_resp *p);

/* Is process pid (as this kernel sees it) gone, or a different process now?
 * Used to reclaim channels of owners that died without releasing. */
bool vgpu_owner_dead(uint32_t pid, uint64_t pidns, uint64_t start);
uint64_t vgpu_self_pidns(void);
uint64_t vgpu_proc_start(uint32_t pid);

#endif
