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
#include "../ring/vminfo.h"
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
	_Atomic uint64_t copy_bytes; /* host<->device bytes copied */
	/* mem_in_use by the VM's GPU (index into its gpus): per-GPU quota */
	_Atomic uint64_t mem_gpu[VGPU_CU_MAX_DEVS];
};

/* CUDA IPC within the VM (daemon/worker_vmm_ipc.c). After the identity,
 * the memfd holds this table: a worker exporting memory or an
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

/* VM-wide, after the channels' entries. mem_used is charged by workers
 * with a compare-and-swap before the driver allocates
 * (daemon/worker_quota.c), so two processes racing for the last bytes
 * cannot both pass; the supervisor uncharges what a worker still held when
 * it exits. mem_limit is the supervisor's to write (at start and on
 * reload); workers only read it. */
struct vgpud_vm_ledger {
	_Atomic uint64_t mem_used;    /* device bytes charged, all channels,
				       * all GPUs */
	_Atomic uint64_t mem_limit;   /* bytes per GPU; 0: no limit */
	_Atomic uint64_t mem_refused; /* allocations refused over the limit */
	/* mem_used by the VM's GPU: the limit applies to each
	 * (docs/multigpu.md); charged with the same compare-and-swap */
	_Atomic uint64_t mem_used_gpu[VGPU_CU_MAX_DEVS];
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
	/* all of the VM's GPUs, in its order (info: the first's) */
	uint32_t ngpus;
	uint32_t pad2;
	struct vgpu_vminfo_gpu gpus[VGPU_VMINFO_MAX_GPUS];
};

/* The fair-share scheduler's tokens (daemon/sched_scan.c writes grants,
 * daemon/worker_sched.c admits launches; docs/scheduler.md). Here, in the
 * ledger, because the guest must not be able to mint them. Keyed by GPU
 * (VGPUD_SCHED_GPUS slots; one struct vs_sched per GPU in the supervisor)
 * so that a VM spread over several GPUs has one grant per GPU; a worker
 * of one GPU uses slot 0 today. */
#define VGPUD_SCHED_GPUS 8

/* Per VM and GPU. limit_ns and on are the supervisor's to write; workers
 * admit a launch estimated at e ns by a compare-and-swap of admitted_ns
 * from a value below limit_ns to that value + e (the one launch that
 * crosses the limit is the overdraft the policy allows a VM with nothing
 * queued). The supervisor sets limit_ns = admitted_ns + vs_tokens(). */
struct vgpud_sched_vm {
	_Atomic uint32_t on;          /* 0: scheduler off, admit everything */
	_Atomic uint32_t grant_seq;   /* futex word: bumped as limit_ns rises */
	_Atomic uint64_t limit_ns;    /* admit while admitted_ns is below */
	_Atomic uint64_t admitted_ns; /* estimates admitted, ever */
	_Atomic uint32_t gpu_busy;    /* busy contexts on the GPU, all VMs */
	_Atomic uint32_t waiters;     /* executors waiting for tokens */
	/* 1: no other VM on this GPU has had work for a while (the
	 * supervisor's to write): launches go unmetered, without tokens or
	 * events, as with the scheduler off (docs/scheduler.md, "Solo") */
	_Atomic uint32_t solo;
	uint32_t pad;
};

/* Per channel and GPU: one writer (the channel's worker); the supervisor
 * reads it each scan and clears it when the worker is gone. */
struct vgpud_sched_chan {
	_Atomic uint64_t inflight_ns; /* admitted, unfinished: estimates */
	_Atomic uint32_t inflight;    /* ... and their number */
	_Atomic uint32_t waiting;     /* launches held for tokens now */
	_Atomic uint64_t busy_seq;    /* +1 at each change; odd: busy */
	_Atomic uint64_t changed_ns;  /* CLOCK_MONOTONIC of that change */
	_Atomic uint64_t held_ns;     /* time launches waited, in all */
	_Atomic uint64_t gpu_ns;      /* kernels' own time (device events) */
	_Atomic uint64_t launches;    /* launches seen, metered or solo: the
				       * supervisor's sign of work while solo */
	_Atomic uint64_t waits;       /* launches that waited for a grant */
};

/* The memfd: channels' entries, the VM-wide entry, the identity, the
 * IPC table, then the scheduler's per-GPU VM entries and channels. */
#define VGPUD_LEDGER_SIZE(nchannels)                                        \
	((size_t)(nchannels) * sizeof(struct vgpud_ledger) +                 \
	 sizeof(struct vgpud_vm_ledger) + sizeof(struct vgpud_ledger_ident) + \
	 VGPUD_IPC_SLOTS * sizeof(struct vgpud_ipc_slot) +                   \
	 VGPUD_SCHED_GPUS * sizeof(struct vgpud_sched_vm) +                  \
	 (size_t)VGPUD_SCHED_GPUS * (nchannels) *                            \
		 sizeof(struct vgpud_sched_chan))

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

static inline struct vgpud_ipc_slot *vgpud_ledger_ipc(void *ledger,
						      uint32_t nchannels)
{
	return (struct vgpud_ipc_slot *)(void *)(vgpud_ledger_ident(ledger, nchannels) + 1);
}

static inline struct vgpud_sched_vm *
vgpud_ledger_sched(void *ledger, uint32_t nchannels, uint32_t gpu)
{
	return (struct vgpud_sched_vm *)(void *)(vgpud_ledger_ipc(ledger, nchannels) +
						 VGPUD_IPC_SLOTS) + gpu;
}

static inline struct vgpud_sched_chan *
vgpud_ledger_sched_chan(void *ledger, uint32_t nchannels, uint32_t gpu,
			uint32_t ch)
{
	return (struct vgpud_sched_chan *)(void *)(vgpud_ledger_sched(
		       ledger, nchannels, VGPUD_SCHED_GPUS)) +
	       (size_t)gpu * nchannels + ch;
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
