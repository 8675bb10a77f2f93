/* tests/support/client.c - guest-side helpers for ring tests. */
#define _GNU_SOURCE
#include "client.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

uint32_t client_tid(void)
{
	return (uint32_t)syscall(SYS_gettid);
}

int client_connect(struct vgpu_conn *c, const char *path)
{
	char msg[512];
	setenv("VGPU_REGION", path, 1);
	int rc = vgpu_conn_open(c, msg, sizeof(msg));
	if (rc)
		fprintf(stderr, "client_connect: %s\n", msg);
	return rc;
}

int client_check(struct vgpu_gchan *ch, uint64_t seq, uint32_t len,
		 bool noreply)
{
	uint8_t buf[VGPU_MAX_SLOT_SIZE];
	struct check_msg *cm = (struct check_msg *)buf;
	uint32_t max = vgpu_inline_max(ch->r) - (uint32_t)sizeof(*cm);
	len = len > max ? max : len;
	gen_bytes(seq * 2654435761u, 0, cm->data, len);
	cm->seq = seq;
	cm->len = len;
	cm->pad = 0;
	cm->checksum = fnv1a64(cm->data, len);
	struct vgpu_req q = {.op = OP_CHECK, .data = buf,
			     .len = (uint32_t)sizeof(*cm) + len,
			     .flags = noreply ? VGPU_MSG_NOREPLY : 0};
	struct vgpu_resp p = {0};
	int rc = vgpu_gchan_call(ch, &q, &p);
	return rc ? rc : p.result;
}

int client_report(struct vgpu_gchan *ch, uint32_t tid, struct report *r)
{
	struct vgpu_req q = {.op = OP_REPORT, .data = &tid, .len = 4};
	struct vgpu_resp p = {.data = r, .cap = sizeof(*r)};
	int rc = vgpu_gchan_call(ch, &q, &p);
	return rc ? rc : p.result;
}

int client_stats(struct vgpu_gchan *ch, struct peer_stats *st)
{
	struct vgpu_req q = {.op = OP_STATS};
	struct vgpu_resp p = {.data = st, .cap = sizeof(*st)};
	int rc = vgpu_gchan_call(ch, &q, &p);
	return rc ? rc : p.result;
}
