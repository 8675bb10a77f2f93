/* tests/support/memregion.c - hand-driven in-process region. */
#include "memregion.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void memregion_init(struct memregion *m, uint32_t nslots)
{
	memset(m, 0, sizeof(*m));
	struct vgpu_geom g = {.nchannels = 4, .nslots = nslots,
			      .slot_size = 256, .arena_per_chan = 65536};
	vgpu_geom_layout(&g);
	if (posix_memalign(&m->mem, 4096, g.size))
		abort();
	memset(m->mem, 0xA5, g.size); /* format must not rely on zeroed memory */
	if (vgpu_region_format(&m->r, m->mem, g.size, &g, 0))
		abort();
	atomic_store(&vgpu_hdr(&m->r)->state, VGPU_REGION_READY);
	vgpu_hchan_init(&m->h, 0);
}

void memregion_fini(struct memregion *m)
{
	free(m->mem);
}

int memregion_attach(struct memregion *m, uint32_t gen, uint32_t start)
{
	struct vgpu_chan_ctl *ctl = vgpu_ctl(&m->r, 0);
	atomic_store(&ctl->claim, VGPU_CLAIM(gen, (uint32_t)getpid()));
	ctl->abi = VGPU_ABI_MAX;
	atomic_store(&ctl->req_gen, gen);
	struct vgpu_msg msg;
	int ev = vgpu_hchan_poll(&m->r, &m->h, &msg, m->buf);
	if (ev == VGPU_H_ATTACH)
		vgpu_hchan_accept(&m->r, &m->h, start);
	return ev;
}

struct vgpu_slot *memregion_put(struct memregion *m, uint32_t pos,
				uint32_t gen, uint16_t op, uint16_t flags,
				uint32_t len)
{
	struct vgpu_slot *s = vgpu_slot_at(&m->r, 0, pos);
	s->pos = pos;
	s->gen = gen;
	s->opcode = op;
	s->flags = flags;
	s->tid = 7;
	s->len = len;
	s->reply = pos % m->r.g.nslots;
	s->arena_off = 0;
	s->arena_len = 0;
	for (uint32_t i = 0; i < len && i < vgpu_inline_max(&m->r); i++)
		((uint8_t *)s)[VGPU_MSG_HDR_SIZE + i] = (uint8_t)i;
	atomic_store(&s->seq, pos + 1);
	return s;
}
