/* daemon/worker_cublas.c - the worker's part of the cublas area: export
 * table 1734dc26's entry 4 (the SM layout cuBLASLt asks for).
 *
 * Contract: vw_cublas_execute() answers VGPU_CU_SM_LAYOUT and returns
 * false for any other opcode. The request carries nothing (a payload is
 * refused with CUDA_ERROR_INVALID_VALUE). The worker's own driver runs
 * entry 4 on the executor thread, whose current context is the sender's,
 * so its answer (CUDA_ERROR_INVALID_CONTEXT with none) is the native one.
 * Entry 4 is (uint8_t **a, uint8_t **b): two arrays the driver allocates,
 * one byte per TPC each (measured on the H100, driver 580: 66 bytes for
 * 132 SMs; a holds the TPCs' GPCs in round-robin order, b each one's
 * round), given back together by entry 13 (a, b). The worker copies
 * multiprocessor-count / 2 bytes of each (at most VGPU_CU_SM_LAYOUT_MAX,
 * else CUDA_ERROR_NOT_SUPPORTED: cuBLASLt then takes its fallback) and
 * gives them straight back. The bytes describe the physical GPU the
 * guest's kernels run on, so they are forwarded, never made up.
 */
#include "worker.h"
#include <string.h>

static const CUuuid layout_table = {{
	0x17, 0x34, 0xdc, 0x26, 0x80, 0x0d, 0x47, 0x45, 0x87, 0x26, 0xc0, 0xf1,
	0xe7, 0xdd, 0x8b, 0xca}};

enum { SLOT_GET = 4, SLOT_PUT = 13 };

typedef CUresult (*layout_get_fn)(void **a, void **b);
typedef CUresult (*layout_put_fn)(void *a, void *b);

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

/* Bytes in each array: one per TPC, two SMs each on Hopper. */
static CUresult layout_len(struct vworker *W, uint32_t *len)
{
	int sms = 0;
	CUresult r = W->drv.cuDeviceGetAttribute(
		&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, W->dev);
	if (r)
		return r;
	if (sms < 2 || sms / 2 > VGPU_CU_SM_LAYOUT_MAX)
		return CUDA_ERROR_NOT_SUPPORTED;
	*len = (uint32_t)sms / 2;
	return CUDA_SUCCESS;
}

static CUresult sm_layout(struct vworker *W, const struct vgpu_msg *m,
			  struct vgpu_cu_smlayout *out)
{
	if (m->len)
		return CUDA_ERROR_INVALID_VALUE;
	const void *const *slots = driver_table(W);
	if (!slots)
		return CUDA_ERROR_NOT_SUPPORTED;
	uint32_t n;
	CUresult r = layout_len(W, &n);
	if (r)
		return r;
	layout_get_fn get = (layout_get_fn)(uintptr_t)slots[SLOT_GET];
	layout_put_fn put = (layout_put_fn)(uintptr_t)slots[SLOT_PUT];
	void *a = NULL, *b = NULL;
	if ((r = get(&a, &b)))
		return r;
	if (a && b) {
		memcpy(out->gpc, a, n);
		memcpy(out->index, b, n);
		out->len = n;
	} else {
		r = CUDA_ERROR_NOT_SUPPORTED;
	}
	put(a, b);
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
