/* daemon/worker_lib_va.c - VGPU_CU_VA_WINDOW: keeping the guest process's
 * host mappings and this worker's device addresses apart.
 *
 * Contract: vw_va_execute() answers VGPU_CU_VA_WINDOW and returns false
 * for any other opcode. Device pointers are this process's virtual
 * addresses, mirrored in the guest process (docs/memory.md). The request
 * lists the guest's mappings; the first one a worker gets is honoured:
 * the free parts of those ranges are reserved here (PROT_NONE, never
 * over a mapping of ours), so the driver, which takes the virtual range
 * of new device memory from free address space (measured, driver 580:
 * cuMemAlloc grows its first reservation downwards by plain mappings),
 * never puts device memory where the guest already has host memory. A
 * second list, a malformed one (length, count, order, alignment, beyond
 * 2^47) or more than VGPU_CU_VA_TOTAL bytes is CUDA_ERROR_INVALID_VALUE
 * and reserves nothing. The answer is where device memory comes from: the
 * mapping holding a probe cuMemAlloc, extended downwards to twice the
 * device's memory (the room that mapping grows into), and the mapping
 * holding a probe cuMemAllocAsync (the driver reserves its pools' whole
 * range at once: 0x302000000 up, 166 GiB, on the H100). The guest
 * reserves those ranges in its own address space, so none of its later
 * host mappings can take a device address.
 */
#define _GNU_SOURCE
#include "../ring/va_maps.h"
#include "worker.h"
#include <string.h>

#define PROBE (2ull << 20)

static bool listed; /* the guest's list came: one per process */

static bool valid(const struct vgpu_cu_va *q)
{
	uint64_t total = 0;
	if (q->n > VGPU_CU_VA_MAX)
		return false;
	for (uint32_t i = 0; i < q->n; i++) {
		uint64_t lo = q->r[i].lo, hi = q->r[i].hi;
		if (lo >= hi || hi > VGPU_VA_LIMIT || (lo | hi) & 4095 ||
		    (i && lo < q->r[i - 1].hi))
			return false;
		total += hi - lo; /* each < 2^47, at most 32: no overflow */
	}
	return total <= VGPU_CU_VA_TOTAL;
}

/* Keep the driver out of the guest's ranges: best effort (an mmap that
 * fails, say for the process's map count, leaves the rest to the
 * guest's collision check). */
static void keep_out(const struct vgpu_cu_va *q)
{
	for (uint32_t i = 0; i < q->n; i++)
		if (vgpu_maps_reserve_free(q->r[i].lo, q->r[i].hi, NULL, NULL))
			break;
}

static void add(struct vgpu_cu_va *out, uint64_t lo, uint64_t hi)
{
	for (uint32_t i = 0; i < out->n; i++)
		if (lo < out->r[i].hi && out->r[i].lo < hi) { /* join */
			out->r[i].lo = lo < out->r[i].lo ? lo : out->r[i].lo;
			out->r[i].hi = hi > out->r[i].hi ? hi : out->r[i].hi;
			return;
		}
	if (out->n < VGPU_CU_VA_MAX) {
		out->r[out->n].lo = lo;
		out->r[out->n].hi = hi;
		out->n++;
	}
}

static void plain_window(struct vworker *W, struct vgpu_cu_va *out)
{
	CUdeviceptr p;
	size_t total = 0;
	struct vgpu_va_range m;
	if (W->drv.cuMemAlloc_v2(&p, PROBE))
		return;
	int found = vgpu_maps_find(p, &m);
	W->drv.cuMemFree_v2(p);
	if (found || W->drv.cuDeviceTotalMem_v2(&total, W->dev))
		return;
	uint64_t room = 2 * (uint64_t)total;
	if (room < m.hi - m.lo)
		room = m.hi - m.lo;
	add(out, m.hi > room + PROBE ? (m.hi - room) & ~(PROBE - 1) : PROBE,
	    m.hi);
}

static void pool_window(struct vworker *W, struct vgpu_cu_va *out)
{
	CUdeviceptr p;
	struct vgpu_va_range m;
	if (W->drv.cuMemAllocAsync(&p, PROBE, NULL))
		return;
	int found = vgpu_maps_find(p, &m);
	W->drv.cuMemFreeAsync(p, NULL); /* in stream order: no wait */
	if (!found)
		add(out, m.lo, m.hi);
}

static CUresult va_window(struct vworker *W, const struct vgpu_msg *m,
			  struct vgpu_cu_va *out)
{
	struct vgpu_cu_va q;
	if (m->len != sizeof(q) || listed)
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(&q, m->data, sizeof(q)); /* the region may change under us */
	if (!valid(&q))
		return CUDA_ERROR_INVALID_VALUE;
	listed = true;
	keep_out(&q);
	memset(out, 0, sizeof(*out));
	plain_window(W, out);
	pool_window(W, out);
	return CUDA_SUCCESS;
}

bool vw_va_execute(struct vworker *W, struct vw_exec *x,
		   const struct vgpu_msg *m)
{
	(void)x;
	if (m->op != VGPU_CU_VA_WINDOW)
		return false;
	struct vgpu_cu_va out;
	memset(&out, 0, sizeof(out));
	CUresult r = va_window(W, m, &out);
	vw_reply(W, m, r, &out, r ? 0 : sizeof(out), 0);
	return true;
}
