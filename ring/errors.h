/* ring/errors.h - error codes of the ring layer.
 *
 * Contract: every ring function returns 0 or a negative VGPU_E_* code;
 * vgpu_strerror() gives a sentence that says what happened and, where the
 * user can act, what to do. Upper layers map these to CUDA/NVML codes.
 */
#ifndef VGPU_RING_ERRORS_H
#define VGPU_RING_ERRORS_H

enum vgpu_err {
	VGPU_OK = 0,
	VGPU_E_INVAL = -1,      /* bad argument from the caller */
	VGPU_E_MAGIC = -2,      /* region is not a vgpu region */
	VGPU_E_ABI = -3,        /* no common ABI version */
	VGPU_E_SMALL = -4,      /* region smaller than its header claims */
	VGPU_E_GEOM = -5,       /* geometry outside the ABI's bounds */
	VGPU_E_NOTREADY = -6,   /* daemon not serving this region */
	VGPU_E_NOCHAN = -7,     /* every channel is taken */
	VGPU_E_TIMEOUT = -8,    /* daemon did not answer in time */
	VGPU_E_DAEMON = -9,     /* daemon stopped or its heartbeat stalled */
	VGPU_E_LOST = -10,      /* channel no longer ours (reclaimed/reset) */
	VGPU_E_FORKED = -11,    /* channel belongs to the parent process */
	VGPU_E_OPCODE = -12,    /* opcode outside the wire range */
	VGPU_E_LEN = -13,       /* payload longer than the slot */
	VGPU_E_ARENA = -14,     /* arena range outside the channel's slice */
	VGPU_E_FLAGS = -15,     /* unknown flag bits */
	VGPU_E_INDEX = -16,     /* slot sequence jumped: corrupt channel */
	VGPU_E_GEN = -17,       /* message from another generation */
	VGPU_E_POS = -18,       /* message names another ring position */
	VGPU_E_NODEV = -19,     /* no ivshmem device and no VGPU_REGION */
	VGPU_E_PERM = -20,      /* permission denied opening the region */
	VGPU_E_IO = -21,        /* open/mmap/stat failed otherwise */
	VGPU_E_REFUSED = -22,   /* daemon refused the channel */
	VGPU_E_TRUNC = -23,     /* response larger than the caller's buffer */
	VGPU_E_REMOTE = -24,    /* server answered with an error status */
	VGPU_E_REPLY = -25,     /* reply entry index out of range */
};

const char *vgpu_strerror(int err);
const char *vgpu_errname(int err);

#endif
