/* daemon/worker_cublas.c - the worker's part of the cublas area: export
 * table 1734dc26's entry 4 (the SM layout cuBLASLt asks for).
 *
 * Contract: vw_cublas_execute() answers VGPU_CU_SM_LAYOUT and returns
 * false for any other opcode. The request carries nothing (a payload is
 * refused with CUDA_ERROR_INVALID_VALUE). The worker's own driver runs
 * entry 4 on the executor thread, whose current context is the sender's,
 * so its answer (CUDA_ERROR_INVALID_CONTEXT with none) is the native one;
 * the array it hands out is copied, at most VGPU_CU_SM_LAYOUT_MAX bytes
 * (a longer or inverted one is CUDA_ERROR_NOT_SUPPORTED: cuBLASLt then
 * takes its fallback), and given straight back through entry 13. The
 * bytes describe the physical GPU the guest's kernels run on, so they
 * are forwarded, never made up.
 */
#include "worker.h"
#include <string.h>

static const CUuuid layout_table = {{
	0x17, 0x34, 0xdc, 0x26, 0x80, 0x0d, 0x47, 0x45, 0x87, 0x26, 0xc0, 0xf1,
	0xe7, 0xdd, 0x8b, 0xca}};

enum { SLOT_GET = 4, SLOT_PUT = 13 };

typedef CUresult (*layout_get_fn)(void **begin, void **end);
typedef CUresult (*layout_put_fn)(void *begin, void *end);

/* The driver's table, when it has one with both slots (slot 0: bytes). */
static const void *const *driver_table(struct vworker *W)
{
	const void *t = NULL;
	if (W->drv.cuGetExportTable(&t, &layout_table) || !t)
		return NULL;
	const void *const *slots = t;
	if ((uintptr_t)slots[0] < (SLOT_PUT + 1) * sizeof(void *) ||
	    !slots[SLOT_GET] || !slots[SLOT_PUT])
		return NULL;
	return slots;
}

static CUresult sm_layout(struct vworker *W, const struct vgpu_msg *m,
			  struct vgpu_cu_smlayout *out)
{
	if (m->len)
		return CUDA_ERROR_INVALID_VALUE;
	const void *const *slots = driver_table(W);
	if (!slots)
		return CUDA_ERROR_NOT_SUPPORTED;
	layout_get_fn get = (layout_get_fn)(uintptr_t)slots[SLOT_GET];
	layout_put_fn put = (layout_put_fn)(uintptr_t)slots[SLOT_PUT];
	void *b = NULL, *e = NULL;
	CUresult r = get(&b, &e);
	if (r)
		return r;
	uintptr_t n = (uintptr_t)e - (uintptr_t)b;
	if (b && (uintptr_t)e >= (uintptr_t)b &&
	    n <= VGPU_CU_SM_LAYOUT_MAX) {
		memcpy(out->bytes, b, n);
		out->len = (uint32_t)n;
	} else {
		r = CUDA_ERROR_NOT_SUPPORTED;
	}
	put(b, e);
	return r;
}

bool vw_cublas_execute(struct vworker *W, struct vw_exec *x,
		       const struct vgpu_msg *m)
{
	(void)x;
	if (m->op != VGPU_CU_SM_LAYOUT)
		return false;
	struct vgpu_cu_smlayout l;
	memset(&l, 0, sizeof(l));
	CUresult r = sm_layout(W, m, &l);
	vw_reply(W, m, r, &l, r ? 0 : sizeof(l), 0);
	return true;
}
