/* tests/support/peer.h - a test server on the ring and the data it checks.
 *
 * Contract: the peer is the daemon's stand-in for ring tests: it serves a
 * region with ring/serve.c and implements a few opcodes that let clients
 * prove nothing was lost, duplicated, reordered or corrupted. It runs in its
 * own process (peer_start forks it), like vgpud.
 */
#ifndef VGPU_TEST_PEER_H
#define VGPU_TEST_PEER_H

#include "../../ring/serve.h"
#include <stdbool.h>
#include <sys/types.h>

enum peer_op {
	OP_NULL = 1,   /* reply with nothing */
	OP_ECHO = 2,   /* reply with the payload */
	OP_CHECK = 3,  /* struct check_msg: verify sequence and checksum */
	OP_REPORT = 4, /* u32 tid -> struct report for that thread */
	OP_SINK = 5,   /* stream out: verify gen_bytes(seed) at each offset */
	OP_SOURCE = 6, /* stream in: produce gen_bytes(seed) */
	OP_STATS = 7,  /* -> struct peer_stats of this channel's generation */
	OP_SLEEP = 8,  /* u32 microseconds: delay before replying */
};

struct check_msg {
	uint64_t seq;      /* per (thread) counter, from 0 */
	uint64_t checksum; /* fnv1a64 of data[0..len) */
	uint32_t len;
	uint32_t pad;
	uint8_t data[];
};

struct report {
	uint64_t received;
	uint64_t errors;
};

struct peer_stats {
	uint64_t executed; /* messages handled in this generation */
	uint64_t bad;      /* BADMSG events */
	uint64_t attaches; /* generations attached on this channel */
	uint32_t gen;
	uint32_t start;
};

struct peer_opts {
	uint64_t lease_ms;   /* 0: no lease */
	uint32_t start;      /* first ring position (0: default near wrap) */
	bool infinite_sleep; /* no spin, no yield, futex sleeps without timeout */
	uint32_t spin_ns;    /* override the host wait policy if non-zero */
	uint32_t yield_ns;
	uint32_t sleep_max_us;
	/* Pin the peer to CPU cpu - 1. One-based so that a zeroed
	 * struct peer_opts (every existing caller) means "not pinned". */
	int cpu;
};

struct peer {
	pid_t pid;
	char path[128];
};

uint64_t fnv1a64(const void *p, size_t n);
/* Deterministic bytes of a logical stream: byte i depends on (seed, i). */
void gen_bytes(uint64_t seed, uint64_t off, uint8_t *dst, uint64_t n);

/* Create a region file in /dev/shm, fork a peer serving it, wait READY. */
int peer_start(struct peer *p, const struct vgpu_geom *g,
	       const struct peer_opts *o);
/* SIGTERM the peer; returns its exit status (0 = no errors seen). */
int peer_stop(struct peer *p);

/* Serve path until SIGTERM/SIGINT (used by peer_start and tests/ringpeer).
 * Returns 0 if every checked message was intact. */
int peer_serve(void *base, uint64_t len, const struct vgpu_geom *g,
	       const struct peer_opts *o);

#endif
