#define _GNU_SOURCE
/* tests/ringclient.c - exchange checked messages with a ring peer.
 *
 * The guest side of the real-VM test: connects like the guest libraries do
 * (VGPU_REGION, else the ivshmem PCI device), sends COUNT checksummed
 * messages of varying size, verifies an echo, streams a payload both ways
 * through the arena, and asks the peer how many messages arrived intact.
 */
#include "../guest/conn.h"
#include "support/peer.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int send_checked(struct vgpu_conn *c, uint64_t seq, uint32_t len)
{
	uint8_t buf[1024];
	struct check_msg *cm = (struct check_msg *)buf;
	uint32_t max = vgpu_inline_max(&c->t.r) - (uint32_t)sizeof(*cm);
	if (len > max)
		len = max;
	if (len > sizeof(buf) - sizeof(*cm))
		len = sizeof(buf) - sizeof(*cm);
	gen_bytes(seq, 0, cm->data, len);
	cm->seq = seq;
	cm->len = len;
	cm->pad = 0;
	cm->checksum = fnv1a64(cm->data, len);
	/* every 8th message waits for its answer, the rest are async */
	struct vgpu_req q = {.op = OP_CHECK, .data = buf,
			     .len = (uint32_t)sizeof(*cm) + len,
			     .flags = (seq % 8) ? VGPU_MSG_NOREPLY : 0};
	struct vgpu_resp p = {0};
	int rc = vgpu_gchan_call(&c->ch, &q, &p);
	return rc ? rc : p.result;
}

static int check_stream(struct vgpu_conn *c, uint64_t total)
{
	struct vgpu_lane ln;
	uint64_t seed = 0x5eed;
	uint8_t *buf = malloc(total), *want = malloc(total);
	int32_t res = 0;
	int rc = buf && want ? 0 : VGPU_E_INVAL;
	vgpu_lane_get(&c->lanes, &ln);
	struct vgpu_stream st = {.c = &c->ch, .lane = &ln, .arg = &seed,
				 .arglen = 8, .total = total};
	if (!rc) {
		gen_bytes(seed, 0, want, total);
		st.op = OP_SINK;
		rc = vgpu_stream_out(&st, vgpu_fill_memcpy, want, &res);
	}
	if (!rc && !res) {
		st.op = OP_SOURCE;
		rc = vgpu_stream_in(&st, vgpu_drain_memcpy, buf, &res);
	}
	if (!rc && !res && memcmp(buf, want, total) != 0)
		res = -1;
	vgpu_lane_put(&c->lanes, &ln);
	free(buf);
	free(want);
	return rc ? rc : res;
}

int main(int argc, char **argv)
{
	uint64_t count = 100000, stream = 8u << 20;
	int c;
	while ((c = getopt(argc, argv, "n:s:h")) != -1) {
		if (c == 'n')
			count = strtoull(optarg, NULL, 0);
		else if (c == 's')
			stream = strtoull(optarg, NULL, 0);
		else {
			fprintf(c == 'h' ? stdout : stderr,
				"usage: ringclient [-n MESSAGES] [-s STREAM_BYTES]\n"
				"Connect to a vgpu region (VGPU_REGION or the ivshmem "
				"device) served by ringpeer and check the ring.\n");
			return c == 'h' ? 0 : 2;
		}
	}
	struct vgpu_conn conn;
	char msg[512];
	int rc = vgpu_conn_open(&conn, msg, sizeof(msg));
	if (rc) {
		fprintf(stderr, "ringclient: %s\n", msg);
		return 1;
	}
	static const char *kinds[] = {"file", "pci-bar-wc", "pci-bar-uc"};
	printf("ringclient: %s mapped as %s, channel %u, uid %u\n", conn.t.path,
	       kinds[conn.t.kind], conn.ch.idx, (unsigned)getuid());
	for (uint64_t i = 0; i < count && !rc; i++)
		rc = send_checked(&conn, i, (uint32_t)(i * 37 % 900));
	char echo[64] = "ivshmem echo";
	char back[64] = {0};
	struct vgpu_req q = {.op = OP_ECHO, .data = echo, .len = sizeof(echo)};
	struct vgpu_resp p = {.data = back, .cap = sizeof(back)};
	if (!rc)
		rc = vgpu_gchan_call(&conn.ch, &q, &p);
	if (!rc && memcmp(echo, back, sizeof(echo)) != 0)
		rc = -1;
	if (!rc)
		rc = check_stream(&conn, stream);
	struct report rep = {0};
	uint32_t tid = 0;
	struct vgpu_req rq = {.op = OP_REPORT, .data = &tid, .len = 4};
	struct vgpu_resp rp = {.data = &rep, .cap = sizeof(rep)};
	if (!rc) {
		/* the peer keys reports by thread id: ask for ours */
		tid = (uint32_t)gettid();
		rc = vgpu_gchan_call(&conn.ch, &rq, &rp);
	}
	vgpu_conn_close(&conn);
	if (rc || rep.received != count || rep.errors) {
		fprintf(stderr, "ringclient: FAILED rc=%d (%s) received=%llu/%llu "
			"errors=%llu\n", rc, rc < 0 ? vgpu_strerror(rc) : "",
			(unsigned long long)rep.received,
			(unsigned long long)count, (unsigned long long)rep.errors);
		return 1;
	}
	printf("ringclient: OK %llu checked messages, echo, %llu-byte stream "
	       "both ways\n", (unsigned long long)count,
	       (unsigned long long)stream);
	return 0;
}
