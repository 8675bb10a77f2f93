/* ring/region.c - region geometry, formatting (daemon) and checking (guest). */
#include "region.h"
#include "vminfo.h"
#include <string.h>

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static bool geom_bounds_ok(const struct vgpu_geom *g)
{
	return g->nchannels >= 1 && g->nchannels <= VGPU_MAX_CHANNELS &&
	       pow2(g->nslots) && g->nslots >= VGPU_MIN_SLOTS &&
	       g->nslots <= VGPU_MAX_SLOTS &&
	       g->slot_size >= VGPU_MIN_SLOT_SIZE &&
	       g->slot_size <= VGPU_MAX_SLOT_SIZE &&
	       g->slot_size % VGPU_CACHELINE == 0 &&
	       g->arena_per_chan % 4096 == 0 &&
	       g->arena_per_chan <= (1ull << 40) &&
	       g->pool_size % 4096 == 0 && g->pool_size <= (1ull << 40);
}

int vgpu_geom_layout(struct vgpu_geom *g)
{
	if (!geom_bounds_ok(g))
		return VGPU_E_GEOM;
	g->chans_off = VGPU_HDR_SIZE;
	g->slots_off = align_up(g->chans_off +
				(uint64_t)g->nchannels * VGPU_CTL_SIZE, 4096);
	uint64_t slots = (uint64_t)g->nchannels * g->nslots * g->slot_size;
	g->replies_off = g->slots_off + slots;
	g->info_off = align_up(g->replies_off + slots, 4096);
	g->info_size = VGPU_VMINFO_SIZE;
	g->arena_off = align_up(g->info_off + g->info_size, VGPU_ARENA_ALIGN);
	g->size = g->arena_off + (uint64_t)g->nchannels * g->arena_per_chan;
	/* the pinned pool: each channel's slice page aligned, so a worker
	 * registers exactly its guest process's memory */
	g->pool_per_chan = (g->pool_size / g->nchannels) & ~4095ull;
	g->pool_off = 0;
	if (g->pool_size) {
		g->pool_off = align_up(g->size, VGPU_ARENA_ALIGN);
		g->size = g->pool_off + g->pool_size;
	}
	return VGPU_OK;
}

int vgpu_geom_fit(struct vgpu_geom *g, uint64_t size)
{
	g->arena_per_chan = 0;
	int rc = vgpu_geom_layout(g);
	if (rc)
		return rc;
	if (g->size > size)
		return VGPU_E_SMALL;
	uint64_t pool = g->pool_size ? g->pool_size + VGPU_ARENA_ALIGN : 0;
	if (size - g->arena_off < pool)
		return VGPU_E_SMALL;
	g->arena_per_chan =
		((size - g->arena_off - pool) / g->nchannels) & ~4095ull;
	return vgpu_geom_layout(g);
}

int vgpu_abi_pick(uint32_t amin, uint32_t amax, uint32_t bmin, uint32_t bmax,
		  uint32_t *out)
{
	uint32_t lo = amin > bmin ? amin : bmin;
	uint32_t hi = amax < bmax ? amax : bmax;
	if (amin > amax || bmin > bmax || lo > hi)
		return VGPU_E_ABI;
	*out = hi;
	return VGPU_OK;
}

int vgpu_region_format(struct vgpu_region *r, void *base, uint64_t maplen,
		       const struct vgpu_geom *gin, uint64_t features)
{
	struct vgpu_geom g = *gin;
	int rc = vgpu_geom_layout(&g);
	if (rc)
		return rc;
	if (g.size > maplen)
		return VGPU_E_SMALL;
	struct vgpu_region_hdr *h = base;
	atomic_store_explicit(&h->state, VGPU_REGION_INIT, memory_order_release);
	/* Zero header, control blocks and slots; the arena is the guests'. */
	memset((uint8_t *)base + 8, 0, g.arena_off - 8);
	h->abi_min = VGPU_ABI_MIN;
	h->abi_max = VGPU_ABI_MAX;
	h->hdr_size = VGPU_HDR_SIZE;
	h->region_size = g.size;
	h->features = features;
	h->nchannels = g.nchannels;
	h->nslots = g.nslots;
	h->slot_size = g.slot_size;
	h->chans_off = g.chans_off;
	h->slots_off = g.slots_off;
	h->replies_off = g.replies_off;
	h->info_off = g.info_off;
	h->info_size = g.info_size;
	h->arena_off = g.arena_off;
	h->arena_per_chan = g.arena_per_chan;
	h->pool_off = g.pool_off;
	h->pool_size = g.pool_size;
	h->magic = VGPU_REGION_MAGIC;
	r->base = base;
	r->maplen = maplen;
	r->g = g;
	return VGPU_OK;
}

int vgpu_region_check(struct vgpu_region *r, void *base, uint64_t maplen,
		      uint32_t *abi)
{
	struct vgpu_region_hdr h;
	if (maplen < VGPU_HDR_SIZE)
		return VGPU_E_SMALL;
	/* One copy, then decisions on the copy only. */
	memcpy(&h, base, sizeof(h));
	if (h.magic != VGPU_REGION_MAGIC)
		return VGPU_E_MAGIC;
	if (h.hdr_size != VGPU_HDR_SIZE)
		return VGPU_E_GEOM;
	int rc = vgpu_abi_pick(VGPU_ABI_MIN, VGPU_ABI_MAX, h.abi_min,
			       h.abi_max, abi);
	if (rc)
		return rc;
	struct vgpu_geom g = {.nchannels = h.nchannels,
			      .nslots = h.nslots,
			      .slot_size = h.slot_size,
			      .arena_per_chan = h.arena_per_chan,
			      .pool_size = h.pool_size};
	if (vgpu_geom_layout(&g))
		return VGPU_E_GEOM;
	if (g.chans_off != h.chans_off || g.slots_off != h.slots_off ||
	    g.replies_off != h.replies_off ||
	    g.arena_off != h.arena_off || g.pool_off != h.pool_off ||
	    g.size != h.region_size)
		return VGPU_E_GEOM;
	/* the info block is where the geometry puts it, or absent (0, 0) */
	if (!h.info_off && !h.info_size)
		g.info_off = g.info_size = 0;
	else if (h.info_off != g.info_off || h.info_size != g.info_size)
		return VGPU_E_GEOM;
	if (g.size > maplen)
		return VGPU_E_SMALL;
	r->base = base;
	r->maplen = maplen;
	r->g = g;
	return VGPU_OK;
}
