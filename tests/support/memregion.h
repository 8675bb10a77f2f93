/* tests/support/memregion.h - an in-process region for single-process tests:
 * the test plays guest and daemon by hand, step by step. */
#ifndef VGPU_TEST_MEMREGION_H
#define VGPU_TEST_MEMREGION_H

#include "../../ring/host.h"

struct memregion {
	struct vgpu_region r;
	struct vgpu_hchan h; /* daemon view of channel 0 */
	void *mem;
	uint8_t buf[VGPU_MAX_SLOT_SIZE];
};

/* Format a small region (4 channels, 16 slots of 256 B, 64 KiB arena). */
void memregion_init(struct memregion *m, uint32_t nslots);
void memregion_fini(struct memregion *m);
/* Guest-claims channel 0 as generation gen and lets the daemon accept it
 * with first position start. Returns the poll event seen. */
int memregion_attach(struct memregion *m, uint32_t gen, uint32_t start);
/* Write a request into the slot for pos and publish seq = pos+1, as a
 * guest would, with the fields given. Returns the slot. */
struct vgpu_slot *memregion_put(struct memregion *m, uint32_t pos,
				uint32_t gen, uint16_t op, uint16_t flags,
				uint32_t len);

#endif
