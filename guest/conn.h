/* guest/conn.h - a guest process's connection to vgpud.
 *
 * Contract: vgpu_conn_open() maps the region (guest/transport.h), claims a
 * channel with the options the mapping calls for (futex doorbells only on
 * a file region, sfence before publish on a write-combining BAR), splits the
 * channel's arena into lanes and starts a keeper thread that beats the
 * channel's lease once a second. The connection belongs to the process
 * that opened it: after fork() the child's copy refuses every call
 * (VGPU_E_FORKED) and the child opens its own.
 */
#ifndef VGPU_GUEST_CONN_H
#define VGPU_GUEST_CONN_H

#include "../ring/guest.h"
#include "../ring/stream.h"
#include "transport.h"
#include <pthread.h>

struct vgpu_conn {
	struct vgpu_transport t;
	struct vgpu_gchan ch;
	struct vgpu_lanes lanes;
	pthread_t keeper;
	int keeper_on;
	_Atomic int stop;
};

/* VGPU_LANES (default 4) sets the number of arena lanes. */
int vgpu_conn_open(struct vgpu_conn *c, char *msg, size_t msglen);
void vgpu_conn_close(struct vgpu_conn *c);

#endif
