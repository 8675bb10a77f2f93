/* ring/serve.h - one thread polling every channel of a region.
 *
 * Contract: vgpu_serve_run() scans the channels in order, hands each event
 * to the handler, and when a whole scan finds nothing it waits by the
 * region's policy: spin, yield, then - after setting need_wakeup on every
 * channel and re-scanning once (the handshake of wait.h) - sleeps on the
 * region doorbell for at most sleep_max_us. It also bumps the region
 * heartbeat and applies the lease backstop. ATTACH events are accepted
 * unless the handler returns non-zero from VGPU_H_ATTACH: VGPU_SERVE_REFUSE
 * refuses the claim, VGPU_SERVE_IGNORE leaves it untouched for another
 * server (a vgpud worker serves one generation, then exits).
 * The handler replies through vgpu_hchan_reply(), now or later.
 */
#ifndef VGPU_RING_SERVE_H
#define VGPU_RING_SERVE_H

#include "host.h"
#include "wait.h"

struct vgpu_serve;

enum { VGPU_SERVE_ACCEPT = 0, VGPU_SERVE_REFUSE = 1, VGPU_SERVE_IGNORE = 2 };
typedef int (*vgpu_serve_fn)(struct vgpu_serve *s, struct vgpu_hchan *h,
			     int event, struct vgpu_msg *m);

struct vgpu_serve {
	struct vgpu_region *r;
	struct vgpu_hchan *ch; /* r->g.nchannels entries */
	struct vgpu_waitpolicy wait;
	uint64_t lease_ns;     /* 0: no lease backstop */
	uint32_t start;        /* first ring position of each generation */
	vgpu_serve_fn fn;
	void *ctx;
	_Atomic int stop;
	uint64_t beat_ns; /* last heartbeat */
	/* channels served: [first, first + count); default all */
	uint32_t first, count;
	/* the region's owner publishes READY and beats; a vgpud worker
	 * serving one channel of it does neither */
	bool owner;
	/* Optional: after park_after_ns asleep with nothing to do, call park()
	 * instead of sleeping by the wait policy; it returns when there may
	 * be work (vgpud workers park on a host-private futex that the
	 * supervisor's scan rings, so idle guest processes cost nothing). */
	void (*park)(struct vgpu_serve *s);
	uint64_t park_after_ns;
	/* statistics */
	uint64_t scans, sleeps;
};

/* Allocates the channel table; the region must be formatted. */
int vgpu_serve_init(struct vgpu_serve *s, struct vgpu_region *r,
		    vgpu_serve_fn fn, void *ctx);
void vgpu_serve_fini(struct vgpu_serve *s);
/* Publish READY and serve until s->stop is set. */
void vgpu_serve_run(struct vgpu_serve *s);
/* Handle whatever is pending once; returns the number of events. */
int vgpu_serve_once(struct vgpu_serve *s);
/* Bump the heartbeat if VGPU_HEARTBEAT_MS has passed since last time. */
void vgpu_serve_heartbeat(struct vgpu_serve *s);

#endif
