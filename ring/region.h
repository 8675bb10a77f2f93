/* ring/region.h - laying out and checking a shared region.
 *
 * Contract: vgpu_geom_* computes the byte layout of a region from a few
 * numbers; the daemon calls vgpu_region_format() on memory it owns, guests
 * call vgpu_region_check() on memory they mapped and then address channels
 * only through the geometry it returned (never by re-reading the header).
 */
#ifndef VGPU_RING_REGION_H
#define VGPU_RING_REGION_H

#include "abi.h"
#include "errors.h"
#include <stdbool.h>

struct vgpu_geom {
	uint32_t nchannels;
	uint32_t nslots;
	uint32_t slot_size;
	uint64_t arena_per_chan;
	uint64_t pool_size;      /* pinned-host pool, 0 = none (4 KiB multiple) */
	/* derived by vgpu_geom_layout() */
	uint64_t chans_off;
	uint64_t slots_off;
	uint64_t replies_off;
	uint64_t info_off;  /* the VM info block (ring/vminfo.h) */
	uint64_t info_size;
	uint64_t arena_off;
	uint64_t pool_off;       /* 2 MiB aligned, after the arena; 0 = none */
	uint64_t pool_per_chan;  /* each channel's slice of the pool */
	uint64_t size; /* bytes needed */
};

/* A mapped region: base pointer, mapped length and the trusted geometry. */
struct vgpu_region {
	uint8_t *base;
	uint64_t maplen;
	struct vgpu_geom g;
};

/* Fill the derived fields; fails on values outside the ABI's bounds. */
int vgpu_geom_layout(struct vgpu_geom *g);

/* Largest geometry with these channel/slot counts that fits size bytes. */
int vgpu_geom_fit(struct vgpu_geom *g, uint64_t size);

/* Daemon: lay out a fresh region in base[0..maplen). Channels start free. */
int vgpu_region_format(struct vgpu_region *r, void *base, uint64_t maplen,
		       const struct vgpu_geom *g, uint64_t features);

/* Guest: validate a mapped header (magic, ABI overlap, geometry inside the
 * mapping) and fill r. *abi receives the version both sides speak. */
int vgpu_region_check(struct vgpu_region *r, void *base, uint64_t maplen,
		      uint32_t *abi);

/* Negotiate: the newest version in both [amin,amax] and [bmin,bmax]. */
int vgpu_abi_pick(uint32_t amin, uint32_t amax, uint32_t bmin, uint32_t bmax,
		  uint32_t *out);

static inline struct vgpu_region_hdr *vgpu_hdr(const struct vgpu_region *r)
{
	return (struct vgpu_region_hdr *)r->base;
}

static inline struct vgpu_chan_ctl *vgpu_ctl(const struct vgpu_region *r,
					     uint32_t ch)
{
	return (struct vgpu_chan_ctl *)(r->base + r->g.chans_off +
					(uint64_t)ch * VGPU_CTL_SIZE);
}

static inline struct vgpu_slot *vgpu_slot_at(const struct vgpu_region *r,
					     uint32_t ch, uint32_t pos)
{
	uint64_t idx = (uint64_t)ch * r->g.nslots + (pos & (r->g.nslots - 1));
	return (struct vgpu_slot *)(r->base + r->g.slots_off +
				    idx * r->g.slot_size);
}

static inline struct vgpu_slot *vgpu_reply_at(const struct vgpu_region *r,
					      uint32_t ch, uint32_t idx)
{
	uint64_t i = (uint64_t)ch * r->g.nslots + (idx & (r->g.nslots - 1));
	return (struct vgpu_slot *)(r->base + r->g.replies_off +
				    i * r->g.slot_size);
}

static inline uint8_t *vgpu_arena(const struct vgpu_region *r, uint32_t ch)
{
	return r->base + r->g.arena_off + (uint64_t)ch * r->g.arena_per_chan;
}

/* The VM info block (ring/vminfo.h), or NULL when the region has none. */
static inline void *vgpu_info(const struct vgpu_region *r)
{
	return r->g.info_size ? r->base + r->g.info_off : NULL;
}

/* Channel ch's slice of the pinned-host pool (pool_per_chan bytes). */
static inline uint8_t *vgpu_pool(const struct vgpu_region *r, uint32_t ch)
{
	return r->base + r->g.pool_off + (uint64_t)ch * r->g.pool_per_chan;
}

static inline uint32_t vgpu_inline_max(const struct vgpu_region *r)
{
	return r->g.slot_size - VGPU_MSG_HDR_SIZE;
}

#endif
