/* daemon/worker_stream_launch.c - launches with attributes, cooperative
 * launches, and launches whose parameters exceed a message slot.
 *
 * Contract: a launch_ex message (ring/cuda_proto_stream.h) is checked
 * whole before the driver sees it: the function and stream must be the
 * caller's, the attribute count and every length must fit the message,
 * the parameters must cover the function's layout, and each attribute
 * must be one the worker forwards (scheduling hints, cooperative, cluster
 * dimensions: values without pointers or handles); others are
 * CUDA_ERROR_NOT_SUPPORTED, unknown ids CUDA_ERROR_INVALID_VALUE. The
 * driver copies the arguments before returning, so the message may go
 * at once. VGPU_CU_LAUNCH_PART parts (no reply) and VGPU_CU_LAUNCH_BIG
 * chunks (answered, the last with the driver's answer) come from one guest
 * thread, so one executor, in order: they are assembled in that executor's
 * buffer and launched when the last byte arrives; a part out of order or
 * beyond the message drops what was assembled.
 */
#include "worker_stream.h"
#include "../ring/cuda_proto_stream.h"
#include "worker_sched.h"
#include <stdlib.h>
#include <string.h>

#define MAX_LAUNCH_MSG (sizeof(struct vgpu_cu_launch_ex) +                    \
			VGPU_CU_MAX_LAUNCH_ATTRS * sizeof(struct vgpu_cu_lattr) + \
			VGPU_CU_MAX_PARAM_BYTES)

static CUresult forwardable(const CUlaunchAttribute *a)
{
	switch (a->id) {
	case CU_LAUNCH_ATTRIBUTE_IGNORE:
	case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
	case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
	case CU_LAUNCH_ATTRIBUTE_PRIORITY:
	case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
	case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
	case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
	case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
	case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
	case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
	case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
	case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING:
		return CUDA_SUCCESS;
	case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW: /* a device range */
	case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT:   /* event handles */
	case CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT:
	case CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE: /* graphs */
		return CUDA_ERROR_NOT_SUPPORTED;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

CUresult vw_launch_ex(struct vworker *W, const uint8_t *p, size_t len)
{
	struct vgpu_cu_launch_ex h;
	static __thread CUlaunchAttribute at[VGPU_CU_MAX_LAUNCH_ATTRS];
	if (len < sizeof(h))
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&h, p, sizeof(h));
	if (h.nattrs > VGPU_CU_MAX_LAUNCH_ATTRS)
		return CUDA_ERROR_INVALID_VALUE;
	size_t head = sizeof(h) + h.nattrs * sizeof(at[0]);
	if (len < head || h.l.param_bytes > len - head ||
	    h.l.param_bytes > VGPU_CU_MAX_PARAM_BYTES)
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(at, p + sizeof(h), h.nattrs * sizeof(at[0]));
	CUresult r = CUDA_SUCCESS;
	for (uint32_t i = 0; i < h.nattrs && !r; i++)
		r = forwardable(&at[i]);
	CUfunction f;
	CUstream s;
	struct vgpu_cu_fninfo fi;
	if (!r)
		r = vw_function(W, h.l.function, &f, &fi);
	if (!r)
		r = vw_stream(W, h.l.stream, &s);
	if (r)
		return r;
	if (h.l.param_bytes < fi.param_bytes)
		return CUDA_ERROR_INVALID_VALUE;
	void *ptrs[VGPU_CU_MAX_PARAMS];
	uint8_t *params = (uint8_t *)p + head;
	for (uint32_t i = 0; i < fi.nparams; i++)
		ptrs[i] = params + fi.offset[i];
	CUlaunchConfig c = {h.l.grid[0], h.l.grid[1], h.l.grid[2],
			    h.l.block[0], h.l.block[1], h.l.block[2],
			    h.l.shared_bytes, s, at, h.nattrs};
	struct vw_ticket t;
	vw_sched_before(W, f, s, &t); /* may wait for the VM's tokens */
	r = W->drv.cuLaunchKernelEx(&c, f, ptrs, NULL);
	vw_sched_after(W, &t, s, r);
	return r;
}

/* The executor's buffer for a streamed launch. */
static __thread uint8_t *big;
static __thread uint64_t big_len, big_got;

static uint8_t *arena_at(struct vworker *W, const struct vgpu_msg *m)
{
	/* the ring checked arena_off + arena_len against the slice */
	return vgpu_arena(&W->r, W->chan) + m->arena_off;
}

/* Take len bytes at offset of a total-byte message into the executor's
 * buffer; the assembled message once complete (the caller launches it and
 * calls reset), else NULL with *r set. */
static uint8_t *assemble(uint64_t total, uint64_t offset, const uint8_t *p,
			 uint64_t len, CUresult *r)
{
	*r = CUDA_ERROR_INVALID_VALUE;
	if (offset == 0) {
		free(big);
		big = NULL;
		big_len = big_got = 0;
		if (total && total <= MAX_LAUNCH_MSG && (big = malloc(total)))
			big_len = total;
	}
	if (!big || offset != big_got || len > big_len - offset)
		return NULL;
	memcpy(big + offset, p, len);
	big_got += len;
	*r = CUDA_SUCCESS;
	return big_got == big_len ? big : NULL;
}

static void reset(void)
{
	free(big);
	big = NULL;
	big_len = big_got = 0;
}

/* VGPU_CU_LAUNCH_PART: no reply; a failure is the next synchronising
 * call's error, as for any asynchronous launch. */
void vw_launch_part(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_part h;
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (m->len >= sizeof(h)) {
		memcpy(&h, m->data, sizeof(h));
		uint8_t *msg = assemble(h.total, h.offset, m->data + sizeof(h),
					m->len - sizeof(h), &r);
		if (msg) {
			r = vw_launch_ex(W, msg, big_len);
			reset();
		}
	}
	if (r != CUDA_SUCCESS)
		reset(); /* later parts of this message fail too */
	vw_reply(W, m, r, NULL, 0, 0);
}

void vw_launch_big(struct vworker *W, const struct vgpu_msg *m)
{
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (m->flags & VGPU_MSG_ARENA) {
		uint8_t *msg = assemble(m->total, m->tag, arena_at(W, m),
					m->arena_len, &r);
		if (msg) {
			r = vw_launch_ex(W, msg, big_len);
			reset();
		}
	}
	vw_reply(W, m, r, NULL, 0, 0);
}
