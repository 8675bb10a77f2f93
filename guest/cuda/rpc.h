/* guest/cuda/rpc.h - the guest driver's connection to vgpud and its cache.
 *
 * Contract: cuInit opens the connection once per process (guest/conn.h)
 * and fetches the device's identity and attributes, which every device
 * query then answers locally. vgpu_cu_rpc() sends one call of the
 * generated protocol: synchronous calls wait for the CUresult, async ones
 * return CUDA_SUCCESS at once (an error surfaces at the next synchronising
 * call, as the real driver's asynchronous errors do). Every entry point
 * that needs the daemon calls vgpu_cu_ready() first: CUDA_ERROR_NOT_INITIALIZED
 * before cuInit, as natively. VGPU_LOG=debug traces each call with its
 * result and latency to stderr.
 */
#ifndef VGPU_GUEST_CUDA_RPC_H
#define VGPU_GUEST_CUDA_RPC_H

#include "../../ring/cuda_proto.h"
#include "../conn.h"
#include "export.h"
#include <cuda.h>
#include <stdatomic.h>
#include <stdbool.h>

struct vgpu_cu_state {
	struct vgpu_conn conn;
	struct vgpu_cu_devinfo info;
	CUresult init_result;   /* of the one cuInit that connected */
	bool initialised;
	uint64_t ctx_id;        /* the primary context, once retained */
	int ctx_refs;
	/* devices 1..ndev-1 (device 0's are info, ctx_id, ctx_refs):
	 * CUDA_VISIBLE_DEVICES applied by cuInit (guest/cuda/visible.h) */
	int ndev;
	struct vgpu_cu_devinfo more[VGPU_CU_MAX_DEVS - 1];
	uint64_t more_ctx[VGPU_CU_MAX_DEVS - 1];
	int more_refs[VGPU_CU_MAX_DEVS - 1];
	bool trace;
};

extern struct vgpu_cu_state vgpu_cu;

/* This process's connection: a channel's (index, generation) is never
 * another live claim's, so objects the guest keeps per connection (kernel
 * records) tell a parent's, inherited through fork(), from the child's
 * own. 0 while not connected (no claim has generation 0). */
static inline uint64_t vgpu_cu_conn_id(void)
{
	return (uint64_t)vgpu_cu.conn.ch.idx << 32 | vgpu_cu.conn.ch.gen;
}
/* In a forked child: forget the parent's current context and locks. */
void vgpu_cu_ctx_after_fork(void);
/* Contexts (ctx.c, ctx_create.c): ctx is the primary context or one this
 * process created and has not destroyed; the calling thread's stack has
 * room for one more; id pushed on it (made current); id destroyed (popped
 * if it is the current one). */
bool vgpu_cu_ctx_known(CUcontext ctx);
bool vgpu_cu_ctx_room(void);
void vgpu_cu_ctx_pushed(uint64_t id);
void vgpu_cu_ctx_destroyed(uint64_t id);
/* In a forked child: the parent's created contexts are not its worker's. */
void vgpu_cu_ctx_forget_created(void);

/* Device dev's identity; NULL unless 0 <= dev < ndev (multigpu.c). */
const struct vgpu_cu_devinfo *vgpu_cu_dev(CUdevice dev);
/* The device of a context of this process (-1: none): its primary
 * context's device, or the one it was created on (ctx_create.c). */
int vgpu_cu_ctx_dev(uint64_t id);
int vgpu_cu_ctx_created_dev(uint64_t id);
/* Device dev's primary context without a reference (cudart's entry). */
CUresult vgpu_cu_primary_ctx_of(CUdevice dev, CUcontext *pctx);
/* The device of a device pointer of the process (0 with one GPU, or when
 * the worker cannot tell): cuPointerGetAttribute's DEVICE_ORDINAL. */
int vgpu_cu_ptr_dev(uint64_t p);
/* cuInit's device list: the VM's devices, CUDA_VISIBLE_DEVICES applied. */
CUresult vgpu_cu_devices_init(void);

CUresult vgpu_cu_ready(void);
/* Calls that waited for vgpud's answer (guest/cuda/marker.c exports it). */
extern _Atomic uint64_t vgpu_cu_round_trips;
CUresult vgpu_cu_rpc(uint16_t op, struct vgpu_cu_args *a, bool sync,
		     const char *name);
/* A hand-written call: payload in, reply payload out (may be NULL). */
CUresult vgpu_cu_call(uint16_t op, const void *in, uint32_t inlen, void *out,
		      uint32_t outcap, bool sync, const char *name);
/* Bulk transfer through an arena lane (ring/stream.h). */
struct vgpu_cu_xfer {
	uint64_t dev;    /* device address (or 0) */
	uint64_t stream; /* stream id, or VGPU_CU_NO_STREAM for a sync copy */
};
#define VGPU_CU_NO_STREAM UINT64_MAX
CUresult vgpu_cu_stream_out(uint16_t op, const struct vgpu_cu_xfer *x,
			    const void *src, uint64_t len);
CUresult vgpu_cu_stream_in(uint16_t op, const struct vgpu_cu_xfer *x,
			   void *dst, uint64_t len);
/* Map a ring error (negative VGPU_E_*) to the CUresult a program sees. */
CUresult vgpu_cu_from_ring(int rc);

#endif
