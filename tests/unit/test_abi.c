/* Layout and ABI constants: the wire must not move by accident. */
#include "../../ring/region.h"
#include "../../ring/errors.h"
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

Test(abi, header_offsets)
{
	cr_expect_eq(offsetof(struct vgpu_region_hdr, magic), 0);
	cr_expect_eq(offsetof(struct vgpu_region_hdr, abi_min), 8);
	cr_expect_eq(offsetof(struct vgpu_region_hdr, abi_max), 10);
	cr_expect_eq(offsetof(struct vgpu_region_hdr, region_size), 16);
	cr_expect_eq(offsetof(struct vgpu_region_hdr, nchannels), 32);
	cr_expect_eq(offsetof(struct vgpu_region_hdr, chans_off), 48);
	cr_expect_eq(offsetof(struct vgpu_region_hdr, arena_per_chan), 72);
	cr_expect_eq(offsetof(struct vgpu_region_hdr, state), 128);
	cr_expect_eq(offsetof(struct vgpu_region_hdr, heartbeat), 136);
	cr_expect_eq(offsetof(struct vgpu_region_hdr, doorbell), 192);
	cr_expect_eq(sizeof(struct vgpu_region_hdr), 4096);
	cr_expect_eq(VGPU_REGION_MAGIC, 0x3147455255504756ull);
	cr_expect_eq(memcmp(&(uint64_t){VGPU_REGION_MAGIC}, "VGPUREG1", 8), 0);
}

Test(abi, ctl_and_slot_offsets)
{
	/* guest-written and daemon-written fields on separate cache lines */
	cr_expect_eq(offsetof(struct vgpu_chan_ctl, claim), 0);
	cr_expect_eq(offsetof(struct vgpu_chan_ctl, req_gen), 28);
	cr_expect_eq(offsetof(struct vgpu_chan_ctl, guest_beat), 32);
	cr_expect_eq(offsetof(struct vgpu_chan_ctl, prod), 64);
	cr_expect_eq(offsetof(struct vgpu_chan_ctl, resp_waiters), 68);
	cr_expect_eq(offsetof(struct vgpu_chan_ctl, ready_gen), 128);
	cr_expect_eq(offsetof(struct vgpu_chan_ctl, status), 132);
	cr_expect_eq(offsetof(struct vgpu_chan_ctl, need_wakeup), 144);
	cr_expect_eq(sizeof(struct vgpu_chan_ctl), 256);
	cr_expect_eq(offsetof(struct vgpu_slot, seq), 0);
	cr_expect_eq(offsetof(struct vgpu_slot, opcode), 12);
	cr_expect_eq(offsetof(struct vgpu_slot, len), 20);
	cr_expect_eq(offsetof(struct vgpu_slot, arena_off), 32);
	cr_expect_eq(offsetof(struct vgpu_slot, total), 56);
	cr_expect_eq(sizeof(struct vgpu_slot), 64);
}

Test(abi, claim_word_packing)
{
	uint64_t c = VGPU_CLAIM(0xDEADBEEFu, 4242u);
	cr_expect_eq(VGPU_CLAIM_GEN(c), 0xDEADBEEFu);
	cr_expect_eq(VGPU_CLAIM_PID(c), 4242u);
}

Test(abi, pick_negotiates_newest_common)
{
	uint32_t v = 0;
	cr_expect_eq(vgpu_abi_pick(1, 3, 2, 5, &v), VGPU_OK);
	cr_expect_eq(v, 3);
	cr_expect_eq(vgpu_abi_pick(1, 1, 1, 1, &v), VGPU_OK);
	cr_expect_eq(v, 1);
	cr_expect_eq(vgpu_abi_pick(1, 2, 3, 4, &v), VGPU_E_ABI);
	cr_expect_eq(vgpu_abi_pick(5, 6, 1, 4, &v), VGPU_E_ABI);
	cr_expect_eq(vgpu_abi_pick(3, 1, 1, 4, &v), VGPU_E_ABI);
}

Test(geom, layout_is_aligned_and_bounded)
{
	struct vgpu_geom g = {.nchannels = 64, .nslots = 64, .slot_size = 1024,
			      .arena_per_chan = 1 << 20};
	cr_assert_eq(vgpu_geom_layout(&g), VGPU_OK);
	cr_expect_eq(g.chans_off, 4096);
	cr_expect_eq(g.slots_off % 4096, 0);
	cr_expect_eq(g.arena_off % VGPU_ARENA_ALIGN, 0);
	cr_expect_geq(g.slots_off, g.chans_off + 64 * VGPU_CTL_SIZE);
	cr_expect_geq(g.arena_off, g.slots_off + 64ull * 64 * 1024);
	cr_expect_eq(g.size, g.arena_off + 64ull * (1 << 20));
}

Test(geom, rejects_out_of_bounds)
{
	struct vgpu_geom base = {.nchannels = 4, .nslots = 16, .slot_size = 256,
				 .arena_per_chan = 4096};
	struct vgpu_geom g;
	g = base; g.nchannels = 0;
	cr_expect_eq(vgpu_geom_layout(&g), VGPU_E_GEOM);
	g = base; g.nchannels = VGPU_MAX_CHANNELS + 1;
	cr_expect_eq(vgpu_geom_layout(&g), VGPU_E_GEOM);
	g = base; g.nslots = 12; /* not a power of two */
	cr_expect_eq(vgpu_geom_layout(&g), VGPU_E_GEOM);
	g = base; g.nslots = 4; /* states would alias */
	cr_expect_eq(vgpu_geom_layout(&g), VGPU_E_GEOM);
	g = base; g.slot_size = 200;
	cr_expect_eq(vgpu_geom_layout(&g), VGPU_E_GEOM);
	g = base; g.slot_size = 320 + 1;
	cr_expect_eq(vgpu_geom_layout(&g), VGPU_E_GEOM);
	g = base; g.arena_per_chan = 1000;
	cr_expect_eq(vgpu_geom_layout(&g), VGPU_E_GEOM);
}

Test(geom, fit_fills_the_region)
{
	struct vgpu_geom g = {.nchannels = 8, .nslots = 32, .slot_size = 512};
	cr_assert_eq(vgpu_geom_fit(&g, 64ull << 20), VGPU_OK);
	cr_expect_leq(g.size, 64ull << 20);
	cr_expect_gt(g.size + 8 * 4096, 64ull << 20);
	cr_expect_eq(vgpu_geom_fit(&g, 8192), VGPU_E_SMALL);
}

Test(geom, the_pool_follows_the_arena)
{
	struct vgpu_geom g = {.nchannels = 3, .nslots = 8, .slot_size = 256,
			      .pool_size = 3 * 8192 + 4096};
	cr_assert_eq(vgpu_geom_fit(&g, 16ull << 20), VGPU_OK);
	cr_expect_leq(g.size, 16ull << 20);
	cr_expect_eq(g.pool_off % VGPU_ARENA_ALIGN, 0);
	cr_expect_geq(g.pool_off, g.arena_off + 3 * g.arena_per_chan);
	cr_expect_eq(g.pool_per_chan, 8192, "page-rounded slices");
	cr_expect_eq(g.size, g.pool_off + g.pool_size);
	g.pool_size = 1000;
	cr_expect_eq(vgpu_geom_layout(&g), VGPU_E_GEOM, "not whole pages");
	g.pool_size = 15ull << 20;
	cr_expect_eq(vgpu_geom_fit(&g, 16ull << 20), VGPU_E_SMALL);
}

static void *fresh(struct vgpu_geom *g, struct vgpu_region *r)
{
	vgpu_geom_layout(g);
	void *m = calloc(1, g->size);
	cr_assert_eq(vgpu_region_format(r, m, g->size, g, 0), VGPU_OK);
	return m;
}

Test(region, check_accepts_formatted)
{
	struct vgpu_geom g = {.nchannels = 2, .nslots = 8, .slot_size = 256,
			      .arena_per_chan = 8192};
	struct vgpu_region r, r2;
	void *m = fresh(&g, &r);
	uint32_t abi = 0;
	cr_expect_eq(vgpu_region_check(&r2, m, g.size, &abi), VGPU_OK);
	cr_expect_eq(abi, VGPU_ABI_MAX);
	cr_expect_eq(r2.g.arena_off, g.arena_off);
	free(m);
	/* with a pool: the guest derives the same slices */
	g.pool_size = 2 * 4096;
	m = fresh(&g, &r);
	cr_expect_eq(vgpu_region_check(&r2, m, g.size, &abi), VGPU_OK);
	cr_expect_eq(r2.g.pool_off, g.pool_off);
	cr_expect_eq(r2.g.pool_per_chan, 4096);
	cr_expect_eq(vgpu_pool(&r2, 1), (uint8_t *)m + g.pool_off + 4096);
	((struct vgpu_region_hdr *)m)->pool_off += 4096; /* lies */
	cr_expect_eq(vgpu_region_check(&r2, m, g.size, &abi), VGPU_E_GEOM);
	free(m);
}

Test(region, check_errors)
{
	struct vgpu_geom g = {.nchannels = 2, .nslots = 8, .slot_size = 256,
			      .arena_per_chan = 8192};
	struct vgpu_region r, r2;
	uint32_t abi;
	void *m = fresh(&g, &r);
	struct vgpu_region_hdr *h = m;
	cr_expect_eq(vgpu_region_check(&r2, m, 100, &abi), VGPU_E_SMALL);
	cr_expect_eq(vgpu_region_check(&r2, m, g.size - 1, &abi), VGPU_E_SMALL);
	h->abi_min = VGPU_ABI_MAX + 1;
	h->abi_max = VGPU_ABI_MAX + 3;
	cr_expect_eq(vgpu_region_check(&r2, m, g.size, &abi), VGPU_E_ABI);
	h->abi_min = h->abi_max = VGPU_ABI_MAX;
	h->slots_off += 64;
	cr_expect_eq(vgpu_region_check(&r2, m, g.size, &abi), VGPU_E_GEOM);
	h->slots_off -= 64;
	h->nslots = 0;
	cr_expect_eq(vgpu_region_check(&r2, m, g.size, &abi), VGPU_E_GEOM);
	h->nslots = 8;
	h->magic ^= 1;
	cr_expect_eq(vgpu_region_check(&r2, m, g.size, &abi), VGPU_E_MAGIC);
	free(m);
}

Test(errors, every_code_has_a_sentence)
{
	for (int e = 0; e >= VGPU_E_REPLY; e--) {
		cr_expect_str_neq(vgpu_strerror(e), "unknown vgpu error",
				  "code %d", e);
		cr_expect_str_neq(vgpu_errname(e), "VGPU_E_?", "code %d", e);
	}
	cr_expect_str_eq(vgpu_strerror(-999), "unknown vgpu error");
}
