/* tests/support/sched_fixture.c - see sched_fixture.h. */
#include "sched_fixture.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void schedfix_init(struct vgpud *d, void *led[2], uint32_t channels)
{
	memset(d, 0, sizeof(*d));
	d->cfg.nvms = 2;
	d->cfg.sched_on = true;
	d->vms = calloc(2, sizeof(*d->vms));
	cr_assert(d->vms);
	for (int i = 0; i < 2; i++) {
		struct vgpud_vm *v = &d->cfg.vms[i];
		snprintf(v->name, sizeof(v->name), "vm%d", i);
		v->channels = channels;
		v->compute_weight = 100;
		led[i] = calloc(1, VGPUD_LEDGER_SIZE(channels));
		cr_assert(led[i]);
		d->vms[i].cfg = v;
		d->vms[i].ledger = led[i];
		d->vms[i].vml = vgpud_ledger_vm(led[i], channels);
	}
}

void schedfix_fini(struct vgpud *d, void *led[2])
{
	vgpud_sched_close(d);
	free(d->vms);
	free(led[0]);
	free(led[1]);
}

void schedfix_busy(struct vgpud_sched_chan *c, bool busy, uint64_t t)
{
	uint64_t s = atomic_load(&c->busy_seq);
	if ((s & 1) != busy) {
		atomic_store(&c->changed_ns, t);
		atomic_store(&c->busy_seq, s + 1);
	}
}

uint64_t schedfix_tokens(struct vgpud_sched_vm *s)
{
	uint64_t a = atomic_load(&s->admitted_ns),
		 l = atomic_load(&s->limit_ns);
	return l > a ? l - a : 0;
}
