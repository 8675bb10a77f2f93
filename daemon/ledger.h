/* daemon/ledger.h - what each guest process uses, per channel, in a memfd
 * the supervisor shares with the VM's workers (never with guests: the
 * region is the guest's to scribble on, the ledger is not). */
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

#endif
