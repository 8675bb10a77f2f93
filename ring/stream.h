/* ring/stream.h - bulk payloads through a channel's arena slice.
 *
 * Contract: a payload larger than a slot travels through the arena. The
 * guest divides its channel's slice into lanes (one transfer at a time per
 * lane, any number of threads) and each lane into two halves, so the guest
 * fills half k+1 while the daemon consumes half k. Every chunk is one
 * message: flags ARENA (+MORE unless last), tag = logical offset of the
 * chunk, total = whole length, arena_off/len = the half it occupies, and the
 * same small argument block (arg) as inline payload. A payload of any size
 * (4 GiB and beyond) streams through a lane of a few MiB.
 *
 * Lanes are process-local bookkeeping: the daemon never sees them, it only
 * bounds-checks each chunk's arena range against the channel's slice.
 */
#ifndef VGPU_RING_STREAM_H
#define VGPU_RING_STREAM_H

#include "guest.h"
#include <pthread.h>

struct vgpu_lane {
	uint64_t off, len;
	uint32_t id;
};

struct vgpu_lanes {
	uint64_t lane_len;
	uint32_t n;
	uint32_t busy; /* bitmap, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* Split a slice of slice_len (>= 8 KiB) bytes into n (1..32) lanes, 4 KiB
 * aligned; fewer where the slice cannot give each lane 8 KiB. */
int vgpu_lanes_init(struct vgpu_lanes *l, uint64_t slice_len, uint32_t n);
void vgpu_lanes_fini(struct vgpu_lanes *l);
/* Take a free lane, waiting for one if all are busy. */
void vgpu_lane_get(struct vgpu_lanes *l, struct vgpu_lane *out);
void vgpu_lane_put(struct vgpu_lanes *l, const struct vgpu_lane *ln);

/* Produce bytes [off, off+n) of the payload into dst. */
typedef int (*vgpu_fill_fn)(void *ctx, void *dst, uint64_t off, uint64_t n);
/* Consume bytes [off, off+n) of the payload from src. */
typedef int (*vgpu_drain_fn)(void *ctx, const void *src, uint64_t off,
			     uint64_t n);

struct vgpu_stream {
	struct vgpu_gchan *c;
	const struct vgpu_lane *lane;
	uint16_t op;
	const void *arg;  /* inline argument block sent with every chunk */
	uint32_t arglen;
	uint64_t total;
	uint64_t chunk;   /* 0: half the lane */
};

/* Guest to daemon. *result gets the first non-zero chunk result. */
int vgpu_stream_out(const struct vgpu_stream *st, vgpu_fill_fn fill,
		    void *ctx, int32_t *result);
/* Daemon to guest: each chunk asks for arena_len bytes at offset tag. */
int vgpu_stream_in(const struct vgpu_stream *st, vgpu_drain_fn drain,
		   void *ctx, int32_t *result);

/* fill/drain for plain memory: ctx is the buffer. */
int vgpu_fill_memcpy(void *ctx, void *dst, uint64_t off, uint64_t n);
int vgpu_drain_memcpy(void *ctx, const void *src, uint64_t off, uint64_t n);

#endif
