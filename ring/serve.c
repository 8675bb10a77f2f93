/* ring/serve.c - single-thread scanner over a region's channels. */
#include "serve.h"
#include <stdlib.h>
#include <string.h>

int vgpu_serve_init(struct vgpu_serve *s, struct vgpu_region *r,
		    vgpu_serve_fn fn, void *ctx)
{
	memset(s, 0, sizeof(*s));
	s->ch = calloc(r->g.nchannels, sizeof(*s->ch));
	if (!s->ch)
		return VGPU_E_INVAL;
	for (uint32_t i = 0; i < r->g.nchannels; i++)
		vgpu_hchan_init(&s->ch[i], i);
	s->r = r;
	s->fn = fn;
	s->ctx = ctx;
	s->wait = vgpu_wait_host;
	s->wait.futex = true; /* the daemon sleeps on the doorbell futex */
	s->start = VGPU_START_DEFAULT;
	s->first = 0;
	s->count = r->g.nchannels;
	s->owner = true;
	return VGPU_OK;
}

void vgpu_serve_fini(struct vgpu_serve *s)
{
	free(s->ch);
	s->ch = NULL;
}

void vgpu_serve_heartbeat(struct vgpu_serve *s)
{
	uint64_t now = vgpu_now_ns();
	if (!s->owner || now - s->beat_ns < VGPU_HEARTBEAT_MS * 1000000ull)
		return;
	s->beat_ns = now;
	atomic_fetch_add_explicit(&vgpu_hdr(s->r)->heartbeat, 1,
				  memory_order_release);
	if (!s->lease_ns)
		return;
	for (uint32_t i = 0; i < s->r->g.nchannels; i++)
		vgpu_hchan_lease(s->r, &s->ch[i], now, s->lease_ns);
}

static int poll_one(struct vgpu_serve *s, struct vgpu_hchan *h, void *buf)
{
	struct vgpu_msg m;
	int ev = vgpu_hchan_poll(s->r, h, &m, buf);
	if (ev == VGPU_H_NONE)
		return 0;
	int rc = s->fn(s, h, ev, &m);
	if (ev == VGPU_H_ATTACH && rc == VGPU_SERVE_ACCEPT)
		vgpu_hchan_accept(s->r, h, s->start);
	else if (ev == VGPU_H_ATTACH && rc == VGPU_SERVE_REFUSE)
		vgpu_hchan_refuse(s->r, h, VGPU_CHAN_REFUSED);
	return 1;
}

int vgpu_serve_once(struct vgpu_serve *s)
{
	/* Payload buffer for one message; slot_size bounds it. */
	uint8_t buf[VGPU_MAX_SLOT_SIZE];
	int n = 0;
	s->scans++;
	for (uint32_t i = s->first; i < s->first + s->count; i++) {
		/* Drain a busy channel a little before moving on. */
		for (int k = 0; k < 64 && !atomic_load(&s->stop) &&
				poll_one(s, &s->ch[i], buf);
		     k++)
			n++;
	}
	return n;
}

static void set_need_wakeup(struct vgpu_serve *s, bool on)
{
	for (uint32_t i = s->first; i < s->first + s->count; i++)
		vgpu_hchan_need_wakeup(s->r, &s->ch[i], on);
}

void vgpu_serve_run(struct vgpu_serve *s)
{
	struct vgpu_region_hdr *hdr = vgpu_hdr(s->r);
	struct vgpu_waiter w;
	if (s->owner)
		atomic_store_explicit(&hdr->state, VGPU_REGION_READY,
				      memory_order_release);
	vgpu_waiter_init(&w, &s->wait);
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		vgpu_serve_heartbeat(s);
		if (vgpu_serve_once(s)) {
			vgpu_waiter_init(&w, &s->wait);
			continue;
		}
		if (!vgpu_waiter_sleeping(&w)) {
			vgpu_wait_step(&w, NULL, 0);
			continue;
		}
		/* Handshake: flag, fence, re-scan, then sleep on the bell. */
		uint32_t bell = atomic_load(&hdr->doorbell);
		set_need_wakeup(s, true);
		vgpu_full_fence();
		int n = vgpu_serve_once(s);
		if (!n && s->park &&
		    vgpu_waiter_elapsed_ns(&w) > s->park_after_ns) {
			s->park(s);
			vgpu_waiter_init(&w, &s->wait);
		} else if (!n) {
			s->sleeps++;
			vgpu_wait_step(&w, &hdr->doorbell, bell);
		}
		set_need_wakeup(s, false);
		if (n)
			vgpu_waiter_init(&w, &s->wait);
	}
}
