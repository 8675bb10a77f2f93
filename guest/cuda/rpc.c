/* guest/cuda/rpc.c - calls to vgpud: send, wait, map errors, trace. */
#define _GNU_SOURCE
#include "rpc.h"
#include "callbacks.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mem_bulk.h" /* the chunk size */
#include "torch_order.h"

struct vgpu_cu_state vgpu_cu;
_Atomic uint64_t vgpu_cu_round_trips;

CUresult vgpu_cu_ready(void)
{
	if (!vgpu_cu.initialised)
		return CUDA_ERROR_NOT_INITIALIZED;
	return vgpu_cu.init_result;
}

CUresult vgpu_cu_from_ring(int rc)
{
	switch (rc) {
	case VGPU_OK:
		return CUDA_SUCCESS;
	case VGPU_E_FORKED:
		/* as natively: a child may not use its parent's CUDA state */
		return CUDA_ERROR_NOT_INITIALIZED;
	case VGPU_E_DAEMON:
	case VGPU_E_LOST:
		return CUDA_ERROR_DEVICE_UNAVAILABLE;
	default:
		return CUDA_ERROR_UNKNOWN;
	}
}

static void trace(const char *name, CUresult r, uint64_t t0)
{
	if (vgpu_cu.trace)
		fprintf(stderr, "vgpu: %s -> %d (%.1f us)\n", name, (int)r,
			(double)(vgpu_now_ns() - t0) / 1000.0);
}

CUresult vgpu_cu_call(uint16_t op, const void *in, uint32_t inlen, void *out,
		      uint32_t outcap, bool sync, const char *name)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	/* a host callback may not call CUDA (documented for callbacks), and
	 * one that waited on its own stream would wait for ever; queries the
	 * guest answers itself stay allowed */
	if (vgpu_cb_in_callback())
		return CUDA_ERROR_NOT_PERMITTED;
	uint64_t t0 = vgpu_now_ns();
	struct vgpu_req q = {.op = op, .data = in, .len = inlen,
			     .flags = sync ? 0 : VGPU_MSG_NOREPLY};
	struct vgpu_resp p = {.data = out, .cap = outcap};
	/* after what other threads queued before (guest/cuda/torch_order.c) */
	if ((r = vgpu_cu_order_before())) {
		trace(name, r, t0);
		return r;
	}
	if (sync)
		atomic_fetch_add_explicit(&vgpu_cu_round_trips, 1,
					  memory_order_relaxed);
	int rc = vgpu_gchan_call(&vgpu_cu.conn.ch, &q, &p);
	vgpu_cu_order_after(!sync);
	r = rc ? vgpu_cu_from_ring(rc) : (CUresult)p.result;
	trace(name, r, t0);
	return r;
}

CUresult vgpu_cu_rpc(uint16_t op, struct vgpu_cu_args *a, bool sync,
		     const char *name)
{
	struct vgpu_cu_args in = *a;
	return vgpu_cu_call(op, &in, sizeof(in), a, sizeof(*a), sync, name);
}

static CUresult stream(uint16_t op, const struct vgpu_cu_xfer *x, void *buf,
		       uint64_t len, bool out)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (vgpu_cb_in_callback()) /* as in vgpu_cu_call */
		return CUDA_ERROR_NOT_PERMITTED;
	struct vgpu_lane ln;
	int32_t res = 0;
	if ((r = vgpu_cu_order_before()))
		return r;
	atomic_fetch_add_explicit(&vgpu_cu_round_trips, 1,
				  memory_order_relaxed);
	vgpu_lane_get(&vgpu_cu.conn.lanes, &ln);
	struct vgpu_stream st = {.c = &vgpu_cu.conn.ch, .lane = &ln, .op = op,
				 .arg = x, .arglen = sizeof(*x), .total = len,
				 .chunk = vgpu_bulk_chunk(len)};
	int rc = out ? vgpu_stream_out(&st, vgpu_fill_memcpy, buf, &res)
		     : vgpu_stream_in(&st, vgpu_drain_memcpy, buf, &res);
	vgpu_cu_order_after(false); /* answered */
	vgpu_lane_put(&vgpu_cu.conn.lanes, &ln);
	if (rc)
		return vgpu_cu_from_ring(rc);
	return res < 0 ? CUDA_ERROR_UNKNOWN : (CUresult)res; /* ring-level */
}

CUresult vgpu_cu_stream_out(uint16_t op, const struct vgpu_cu_xfer *x,
			    const void *src, uint64_t len)
{
	return stream(op, x, (void *)src, len, true);
}

CUresult vgpu_cu_stream_in(uint16_t op, const struct vgpu_cu_xfer *x,
			   void *dst, uint64_t len)
{
	return stream(op, x, dst, len, false);
}
