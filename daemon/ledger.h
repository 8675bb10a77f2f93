/* daemon/ledger.h - what each guest process uses, per channel, in a memfd
 * the supervisor shares with the VM's workers (never with guests: the
 * region is the guest's to scribble on, the ledger is not). */
#ifndef VGPU_DAEMON_LEDGER_H
#define VGPU_DAEMON_LEDGER_H

#include "../ring/cuda_proto.h"
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct vgpud_ledger {
	_Atomic uint64_t mem_in_use; /* device bytes allocated */
	_Atomic uint64_t calls;      /* requests executed */
	_Atomic uint32_t active;     /* requests executing now */
	uint32_t pad;
	/* An idle worker parks: sets parked, futex-waits on wake. The
	 * supervisor's scan bumps wake (and futex-wakes) when the channel
	 * has work, so a parked worker costs no CPU. */
	_Atomic uint32_t parked;
	_Atomic uint32_t wake;
};

/* After the channels' entries: the VM's virtual identity, published by
 * the first worker whose device is open (workers compute it; the
 * supervisor executes no CUDA call) and copied by the supervisor into the
 * region's VM info block for the guest's NVML (ring/vminfo.h). */
enum { VGPUD_IDENT_EMPTY, VGPUD_IDENT_WRITING, VGPUD_IDENT_READY };
struct vgpud_ledger_ident {
	_Atomic uint32_t state;  /* VGPUD_IDENT_*, CAS by workers */
	uint32_t pad;
	uint64_t phys_total;     /* the device's real memory */
	uint8_t phys_uuid[16];   /* the device's real UUID */
	struct vgpu_cu_devinfo info;
};

static inline size_t vgpud_ledger_size(uint32_t nchannels)
{
	return nchannels * sizeof(struct vgpud_ledger) +
	       sizeof(struct vgpud_ledger_ident);
}

static inline struct vgpud_ledger_ident *
vgpud_ledger_ident(struct vgpud_ledger *l, uint32_t nchannels)
{
	return (struct vgpud_ledger_ident *)(l + nchannels);
}

#endif
