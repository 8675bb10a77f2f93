/* guest/conn.c - open, keep alive and close a guest connection. */
#include "conn.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *keeper_main(void *arg)
{
	struct vgpu_conn *c = arg;
	while (!atomic_load(&c->stop)) {
		vgpu_gchan_beat(&c->ch);
		for (int i = 0; i < 10 && !atomic_load(&c->stop); i++) {
			struct timespec ts = {0, 100 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static uint32_t env_lanes(void)
{
	const char *s = getenv("VGPU_LANES");
	char *end = NULL;
	long n = s && *s ? strtol(s, &end, 10) : 4;
	if (end && *end)
		return 4; /* not a number: the default, not a guess */
	return n >= 1 && n <= 32 ? (uint32_t)n : 4;
}

int vgpu_conn_open(struct vgpu_conn *c, char *msg, size_t msglen)
{
	memset(c, 0, sizeof(*c));
	int rc = vgpu_transport_open(&c->t, msg, msglen);
	if (rc)
		return rc;
	struct vgpu_waitpolicy wp;
	vgpu_wait_from_env(&wp, &vgpu_wait_guest);
	struct vgpu_claim_opts o = {
		.abi = c->t.abi,
		.wc = c->t.kind == VGPU_MAP_BAR_WC,
		.futex = c->t.kind == VGPU_MAP_FILE,
		.wait = &wp,
	};
	rc = vgpu_gchan_claim(&c->ch, &c->t.r, &o);
	if (rc == VGPU_OK &&
	    vgpu_lanes_init(&c->lanes, c->t.r.g.arena_per_chan, env_lanes())) {
		snprintf(msg, msglen,
			 "%s: the region's arena per channel (%llu bytes) is "
			 "below 8 KiB: raise 'region_size' in the VM's vgpud "
			 "config", c->t.path,
			 (unsigned long long)c->t.r.g.arena_per_chan);
		vgpu_gchan_release(&c->ch);
		vgpu_transport_close(&c->t);
		return VGPU_E_SMALL;
	}
	if (rc == VGPU_OK &&
	    pthread_create(&c->keeper, NULL, keeper_main, c) == 0)
		c->keeper_on = 1;
	if (rc) {
		snprintf(msg, msglen, "%s: %s", c->t.path, vgpu_strerror(rc));
		vgpu_gchan_release(&c->ch);
		vgpu_transport_close(&c->t);
	}
	return rc;
}

void vgpu_conn_close(struct vgpu_conn *c)
{
	/* A forked child holds a copy of the parent's state: it must not
	 * release the parent's channel nor join a thread it does not have. */
	if (c->ch.pid != (uint32_t)getpid()) {
		memset(c, 0, sizeof(*c));
		return;
	}
	atomic_store(&c->stop, 1);
	if (c->keeper_on)
		pthread_join(c->keeper, NULL);
	vgpu_gchan_release(&c->ch);
	vgpu_lanes_fini(&c->lanes);
	vgpu_transport_close(&c->t);
}
