/* tests/support/client.h - guest-side helpers for ring tests. */
#ifndef VGPU_TEST_CLIENT_H
#define VGPU_TEST_CLIENT_H

#include "../../guest/conn.h"
#include "peer.h"

/* Connect to the region at path as a guest library would. */
int client_connect(struct vgpu_conn *c, const char *path);
/* One OP_CHECK message: seq, payload of len bytes derived from seq. */
int client_check(struct vgpu_gchan *ch, uint64_t seq, uint32_t len,
		 bool noreply);
/* The peer's count for thread tid on this channel. */
int client_report(struct vgpu_gchan *ch, uint32_t tid, struct report *r);
int client_stats(struct vgpu_gchan *ch, struct peer_stats *st);
uint32_t client_tid(void);

#endif
