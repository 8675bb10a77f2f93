/* daemon/ledger.h - what each guest process uses, per channel, in a memfd
 * the supervisor shares with the VM's workers (never with guests: the
 * region is the guest's to scribble on, the ledger is not).
 *
 * Layout: one struct vgpud_ledger per channel, then one struct
 * vgpud_vm_ledger for the whole VM (its quotas and what counts against
 * them, across all its guest processes). */
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

/* VM-wide, after the channels' entries. mem_used is charged by workers
 * with a compare-and-swap before the driver allocates
 * (daemon/worker_quota.c), so two processes racing for the last bytes
 * cannot both pass; the supervisor uncharges what a worker still held when
 * it exits. mem_limit is the supervisor's to write (at start and on
 * reload); workers only read it. */
struct vgpud_vm_ledger {
	_Atomic uint64_t mem_used;    /* device bytes charged, all channels */
	_Atomic uint64_t mem_limit;   /* bytes; 0: no limit */
	_Atomic uint64_t mem_refused; /* allocations refused over the limit */
};

/* After the VM-wide entry: the VM's virtual identity, published by the
 * first worker whose device is open (workers compute it; the supervisor
 * executes no CUDA call) and copied by the supervisor into the region's VM
 * info block for the guest's NVML (ring/vminfo.h). */
enum { VGPUD_IDENT_EMPTY, VGPUD_IDENT_WRITING, VGPUD_IDENT_READY };
struct vgpud_ledger_ident {
	_Atomic uint32_t state;  /* VGPUD_IDENT_*, CAS by workers */
	uint32_t pad;
	uint64_t phys_total;     /* the device's real memory */
	uint8_t phys_uuid[16];   /* the device's real UUID */
	struct vgpu_cu_devinfo info;
};

#define VGPUD_LEDGER_SIZE(nchannels)                                        \
	((size_t)(nchannels) * sizeof(struct vgpud_ledger) +                 \
	 sizeof(struct vgpud_vm_ledger) + sizeof(struct vgpud_ledger_ident))

static inline struct vgpud_vm_ledger *vgpud_ledger_vm(struct vgpud_ledger *l,
						      uint32_t nchannels)
{
	return (struct vgpud_vm_ledger *)(void *)(l + nchannels);
}

static inline struct vgpud_ledger_ident *
vgpud_ledger_ident(struct vgpud_ledger *l, uint32_t nchannels)
{
	return (struct vgpud_ledger_ident *)(void *)(vgpud_ledger_vm(l, nchannels) + 1);
}

#endif
