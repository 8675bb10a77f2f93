/* daemon/ledger.h - what each guest process uses, per channel, in a memfd
 * the supervisor shares with the VM's workers (never with guests: the
 * region is the guest's to scribble on, the ledger is not). */
#ifndef VGPU_DAEMON_LEDGER_H
#define VGPU_DAEMON_LEDGER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct vgpud_ledger {
	_Atomic uint64_t mem_in_use; /* device bytes allocated */
	_Atomic uint64_t calls;      /* requests executed */
	/* An idle worker parks: sets parked, futex-waits on wake. The
	 * supervisor's scan bumps wake (and futex-wakes) when the channel
	 * has work, so a parked worker costs no CPU. */
	_Atomic uint32_t parked;
	_Atomic uint32_t wake;
};

/* CUDA IPC within the VM (daemon/worker_vmm_ipc.c). After the channels'
 * entries, the memfd holds this table: a worker exporting memory or an
 * event stores the driver's handle in a slot under a random nonce, and the
 * guest's handle carries only (slot, nonce); an importing worker of the
 * same VM looks it up here. Another VM's workers map another memfd, so its
 * handles find nothing. The supervisor clears a dead worker's slots. */
#define VGPUD_IPC_SLOTS 256
#define VGPUD_IPC_HANDLE 64 /* CU_IPC_HANDLE_SIZE */

struct vgpud_ipc_slot {
	/* 0 free; 1 being written or cleared; else the nonce, stored last
	 * (release) by the owner: a reader re-checks it after copying */
	_Atomic uint64_t nonce;
	_Atomic int32_t owner;  /* the exporting worker's pid */
	uint32_t kind;          /* 1 memory, 2 event */
	uint64_t size;          /* memory: the allocation's size */
	uint8_t handle[VGPUD_IPC_HANDLE]; /* the driver's */
};

static inline size_t vgpud_ledger_size(uint32_t nchannels)
{
	return nchannels * sizeof(struct vgpud_ledger) +
	       VGPUD_IPC_SLOTS * sizeof(struct vgpud_ipc_slot);
}

static inline struct vgpud_ipc_slot *vgpud_ledger_ipc(void *ledger,
						      uint32_t nchannels)
{
	return (struct vgpud_ipc_slot *)((char *)ledger +
		nchannels * sizeof(struct vgpud_ledger));
}

/* The supervisor, when worker pid is gone: its exports go with it (and a
 * slot it died writing). */
static inline void vgpud_ipc_forget(struct vgpud_ipc_slot *t, int32_t pid)
{
	for (int i = 0; i < VGPUD_IPC_SLOTS; i++) {
		uint64_t n = atomic_load(&t[i].nonce);
		if (n == 0 || atomic_load(&t[i].owner) != pid)
			continue;
		if (n == 1 || atomic_compare_exchange_strong(&t[i].nonce, &n, 1)) {
			memset(t[i].handle, 0, sizeof(t[i].handle));
			atomic_store(&t[i].owner, 0);
			atomic_store(&t[i].nonce, 0);
		}
	}
}

#endif
