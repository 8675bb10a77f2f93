/* daemon/ledger.h - what each guest process uses, per channel, in a memfd
 * the supervisor shares with the VM's workers (never with guests: the
 * region is the guest's to scribble on, the ledger is not).
 *
 * Layout: one struct vgpud_ledger per channel, then one struct
 * vgpud_vm_ledger for the whole VM (its quotas and what counts against
 * them, across all its guest processes). */
#ifndef VGPU_DAEMON_LEDGER_H
#define VGPU_DAEMON_LEDGER_H

#include <stdatomic.h>
#include <stdint.h>

struct vgpud_ledger {
	_Atomic uint64_t mem_in_use; /* device bytes allocated */
	_Atomic uint64_t calls;      /* requests executed */
	/* An idle worker parks: sets parked, futex-waits on wake. The
	 * supervisor's scan bumps wake (and futex-wakes) when the channel
	 * has work, so a parked worker costs no CPU. */
	_Atomic uint32_t parked;
	_Atomic uint32_t wake;
};

/* VM-wide. mem_used is charged by workers with a compare-and-swap before
 * the driver allocates (daemon/worker_quota.c), so two processes racing
 * for the last bytes cannot both pass; the supervisor uncharges what a
 * worker still held when it exits. mem_limit is the supervisor's to write
 * (at start and on reload); workers only read it. */
struct vgpud_vm_ledger {
	_Atomic uint64_t mem_used;    /* device bytes charged, all channels */
	_Atomic uint64_t mem_limit;   /* bytes; 0: no limit */
	_Atomic uint64_t mem_refused; /* allocations refused over the limit */
};

#define VGPUD_LEDGER_SIZE(nchannels)                                        \
	((size_t)(nchannels) * sizeof(struct vgpud_ledger) +                 \
	 sizeof(struct vgpud_vm_ledger))

static inline struct vgpud_vm_ledger *vgpud_ledger_vm(struct vgpud_ledger *l,
						      uint32_t nchannels)
{
	return (struct vgpud_vm_ledger *)(void *)(l + nchannels);
}

#endif
