/* ring/abi.h - the shared-region ABI between guest libraries and vgpud.
 *
 * Contract: this file is the wire. Every struct here lives in memory shared
 * with a guest that may be hostile, so the daemon reads each field once with
 * an atomic or a bounded memcpy into private memory and validates the copy
 * (ring/host.h). Only offsets are stored, never pointers.
 *
 * x86_64 only, little-endian. We rely on x86-TSO: a release store is a plain
 * store and an acquire load a plain load, so the only explicit fences are the
 * full (seq_cst) ones of the wake-up handshake and the sfence a guest issues
 * before publishing when its mapping is write-combining (ring/wait.h).
 *
 * Region layout (all offsets in bytes from the start of the region):
 *
 *   0                 struct vgpu_region_hdr        (VGPU_HDR_SIZE)
 *   chans_off         struct vgpu_chan_ctl[nchannels] (VGPU_CTL_SIZE each)
 *   slots_off         nchannels * nslots request slots of slot_size bytes
 *   replies_off       nchannels * nslots reply entries of slot_size bytes
 *   info_off          the VM info block (ring/vminfo.h), daemon-written,
 *                     read by the guest NVML library; 0 = absent
 *   arena_off         nchannels * arena_per_chan bytes, 2 MiB aligned
 *   pool_off          pinned-host pool, 2 MiB aligned (0 = absent):
 *                     nchannels slices of (pool_size / nchannels) & ~4095
 *
 * Who writes what: the daemon writes the region header and line 2 of each
 * channel control block; guests write lines 0 and 1. A request slot is
 * the guest's until it publishes seq = pos+1 and the daemon's until it has
 * copied the request out and freed it with seq = pos+nslots, so producers
 * wait only for the daemon, which never waits for anyone. A reply goes to
 * the reply entry the request names, which the guest reserved beforehand;
 * the daemon publishes it with seq = pos+2 (see struct vgpu_slot).
 */
#ifndef VGPU_RING_ABI_H
#define VGPU_RING_ABI_H

#include <stdint.h>
#include <stdatomic.h>
#include <stddef.h>

#if !defined(__x86_64__)
#error "vgpu's shared-region ABI is defined for x86_64 only"
#endif

#define VGPU_REGION_MAGIC 0x3147455255504756ull /* "VGPUREG1" */
#define VGPU_ABI_MIN 1u         /* oldest ABI this build speaks */
#define VGPU_ABI_MAX 1u         /* newest ABI this build speaks */
#define VGPU_CACHELINE 64u
#define VGPU_HDR_SIZE 4096u
#define VGPU_CTL_SIZE 256u
#define VGPU_MSG_HDR_SIZE 64u   /* slot bytes before the inline payload */
#define VGPU_ARENA_ALIGN (2u << 20) /* hugepage-friendly */
#define VGPU_REGION_MIN_SIZE (1u << 20)

/* Geometry bounds the daemon accepts from its config and guests accept from
 * a header: anything outside is a corrupt or foreign region. */
#define VGPU_MAX_CHANNELS 1024u
#define VGPU_MIN_SLOTS 8u
#define VGPU_MAX_SLOTS 4096u
#define VGPU_MIN_SLOT_SIZE 256u
#define VGPU_MAX_SLOT_SIZE 65536u

/* Region states (vgpu_region_hdr.state). */
enum vgpu_region_state {
	VGPU_REGION_INIT = 0,    /* daemon is laying it out */
	VGPU_REGION_READY = 1,   /* daemon serving */
	VGPU_REGION_STOPPED = 2, /* daemon shut down cleanly */
};

/* Feature bits (vgpu_region_hdr.features). */
#define VGPU_F_DOORBELL_FUTEX (1ull << 0) /* daemon sleeps on hdr.doorbell */

struct vgpu_region_hdr {
	/* line 0-1: geometry, written once by the daemon before state=READY */
	uint64_t magic;          /*   0 VGPU_REGION_MAGIC */
	uint16_t abi_min;        /*   8 oldest ABI the daemon speaks */
	uint16_t abi_max;        /*  10 newest ABI the daemon speaks */
	uint32_t hdr_size;       /*  12 VGPU_HDR_SIZE */
	uint64_t region_size;    /*  16 bytes the daemon laid out */
	uint64_t features;       /*  24 VGPU_F_* */
	uint32_t nchannels;      /*  32 */
	uint32_t nslots;         /*  36 per channel, a power of two */
	uint32_t slot_size;      /*  40 bytes, multiple of 64 */
	uint32_t reserved0;      /*  44 */
	uint64_t chans_off;      /*  48 */
	uint64_t slots_off;      /*  56 */
	uint64_t arena_off;      /*  64 */
	uint64_t arena_per_chan; /*  72 bytes, multiple of 4096 */
	uint64_t pool_off;       /*  80 0 = no pool */
	uint64_t pool_size;      /*  88 bytes, multiple of 4096 */
	uint64_t replies_off;    /*  96 */
	uint64_t info_off;       /* 104 VM info block (ring/vminfo.h); 0 = absent */
	uint64_t info_size;      /* 112 its bytes, multiple of 4096; 0 = absent */
	uint8_t pad1[128 - 120];
	/* line 2: liveness, written by the daemon while it runs */
	_Atomic uint32_t state;     /* 128 enum vgpu_region_state */
	_Atomic uint32_t epoch;     /* 132 bumped at every daemon start */
	_Atomic uint64_t heartbeat; /* 136 bumped every VGPU_HEARTBEAT_MS */
	uint8_t pad2[192 - 144];
	/* line 3: written by guests */
	_Atomic uint32_t doorbell; /* 192 futex word, bumped by producers */
	uint8_t pad3[VGPU_HDR_SIZE - 196];
};

#define VGPU_HEARTBEAT_MS 100u

/* Channel status (vgpu_chan_ctl.status), written by the daemon. */
enum vgpu_chan_status {
	VGPU_CHAN_OK = 0,
	VGPU_CHAN_CORRUPT = 1,       /* protocol violation: channel was reset */
	VGPU_CHAN_ABI_MISMATCH = 2,  /* owner's ABI outside the daemon's range */
	VGPU_CHAN_LEASE_EXPIRED = 3, /* owner stopped beating; reclaimed */
	VGPU_CHAN_REFUSED = 4,       /* daemon refused the client (quota) */
	VGPU_CHAN_FAILED = 5,        /* the daemon's worker for it died */
};

/* claim word: (generation << 32) | owner pid; pid 0 means free. */
#define VGPU_CLAIM(gen, pid) (((uint64_t)(gen) << 32) | (uint32_t)(pid))
#define VGPU_CLAIM_GEN(c) ((uint32_t)((c) >> 32))
#define VGPU_CLAIM_PID(c) ((uint32_t)(c))

struct vgpu_chan_ctl {
	/* line 0: owner identity, written by the claiming guest */
	_Atomic uint64_t claim;     /*   0 VGPU_CLAIM(gen, pid), CAS only */
	uint64_t owner_pidns;       /*   8 inode of the owner's pid namespace */
	uint64_t owner_start;       /*  16 owner's start time (proc stat #22) */
	uint32_t abi;               /*  24 ABI version the owner speaks */
	_Atomic uint32_t req_gen;   /*  28 = gen once the fields above are set */
	_Atomic uint32_t guest_beat;/*  32 bumped by the owner's keeper thread */
	uint32_t guest_tid0;        /*  36 owner's main thread id, for logs */
	uint8_t pad0[64 - 40];
	/* line 1: producers (guest threads of the owner) */
	_Atomic uint32_t prod;         /*  64 next ticket; the daemon never reads it */
	_Atomic uint32_t resp_waiters; /*  68 guest threads in futex sleep */
	uint8_t pad1[128 - 72];
	/* line 2: written by the daemon */
	_Atomic uint32_t ready_gen;   /* 128 generation the channel is reset for */
	_Atomic uint32_t status;      /* 132 enum vgpu_chan_status */
	_Atomic uint32_t start;       /* 136 first ring position of ready_gen */
	_Atomic uint32_t cons;        /* 140 consumer position (informational) */
	_Atomic uint32_t need_wakeup; /* 144 consumer sleeps: ring hdr.doorbell */
	uint8_t pad2[192 - 148];
	/* line 3: reserved */
	uint8_t pad3[VGPU_CTL_SIZE - 192];
};

/* Message flags (vgpu_slot.flags). */
#define VGPU_MSG_NOREPLY (1u << 0) /* async: the daemon frees the slot itself */
#define VGPU_MSG_ARENA (1u << 1)   /* arena_off/arena_len name arena bytes */
#define VGPU_MSG_MORE (1u << 2)    /* a stream chunk with more to follow */
#define VGPU_MSG_FLAGS_ALL (VGPU_MSG_NOREPLY | VGPU_MSG_ARENA | VGPU_MSG_MORE)

/* Opcodes 1..VGPU_OP_LIMIT-1 are valid on the wire; which of them a server
 * implements is its dispatcher's business (it answers unknown ones). */
#define VGPU_OP_LIMIT 4096u

/* A request slot or a reply entry: one cache line of header, then inline
 * payload.
 *
 * Request slot for ring position pos (free-running u32), seq is:
 *   pos             free: the producer holding ticket pos may write it
 *   pos + 1         request published (guest release store)
 *   pos + nslots    copied out by the daemon, free for the next lap
 * Reply entry named by a request's reply field: the daemon writes result,
 * len, arena_len and payload, then publishes seq = pos + 2 where pos is the
 * request's position, a value no earlier use of the entry had.
 * nslots >= 8, so the states never alias.
 */
struct vgpu_slot {
	_Atomic uint32_t seq; /*  0 */
	uint32_t pos;         /*  4 ring position (echo, checked) */
	uint32_t gen;         /*  8 channel generation (checked) */
	uint16_t opcode;      /* 12 */
	uint16_t flags;       /* 14 VGPU_MSG_* */
	uint32_t tid;         /* 16 guest thread id */
	uint32_t len;         /* 20 inline payload bytes */
	int32_t result;       /* 24 reply: status code */
	uint32_t reply;       /* 28 request: reply entry index (< nslots) */
	uint64_t arena_off;   /* 32 offset in the channel's arena slice */
	uint64_t arena_len;   /* 40 */
	uint64_t tag;         /* 48 caller cookie (stream: logical offset) */
	uint64_t total;       /* 56 stream: total logical length */
	/* 64: payload[slot_size - 64] */
};

_Static_assert(sizeof(struct vgpu_region_hdr) == VGPU_HDR_SIZE, "hdr size");
_Static_assert(offsetof(struct vgpu_region_hdr, state) == 128, "hdr state");
_Static_assert(offsetof(struct vgpu_region_hdr, doorbell) == 192, "doorbell");
_Static_assert(sizeof(struct vgpu_chan_ctl) == VGPU_CTL_SIZE, "ctl size");
_Static_assert(offsetof(struct vgpu_chan_ctl, prod) == 64, "ctl prod");
_Static_assert(offsetof(struct vgpu_chan_ctl, ready_gen) == 128, "ctl line2");
_Static_assert(sizeof(struct vgpu_slot) == VGPU_MSG_HDR_SIZE, "slot hdr");
_Static_assert(offsetof(struct vgpu_region_hdr, replies_off) == 96, "replies");
_Static_assert(offsetof(struct vgpu_region_hdr, info_off) == 104, "info");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "lock-free 64-bit atomics");

#endif
