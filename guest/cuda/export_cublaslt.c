/* guest/cuda/export_cublaslt.c - table 1734dc26, asked for by cuBLASLt.
 *
 * GUID 1734dc26-800d-4745-8726-c0f1e7dd8bca, 17 slots (0x88, measured on
 * driver 580, reference/cuda13-driver-surface.md). Refusing it is not
 * safe: cuBLASLt 13.1 keeps the pointer cuGetExportTable gives (NULL when
 * refused) and on its bf16 GEMM path calls entry 4 through it unchecked.
 * Entry 4 is (void **begin, void **end): with a current context the
 * driver hands out an array of bytes describing the GPU's SM layout
 * (0x50 bytes, values 0-7, on the 132-SM H100); with none it answers
 * CUDA_ERROR_INVALID_CONTEXT and writes nothing. Entry 13 (begin, end)
 * gives the array back. When entry 4 fails cuBLASLt takes a fallback
 * that picks slower bf16 kernels (0.60x native at 4096^3, docs/torch.md).
 *
 * The array describes the physical GPU, so the guest does not make it up:
 * entry 4 asks the worker, whose driver runs its own entry 4 in the
 * sender's context (VGPU_CU_SM_LAYOUT, daemon/worker_cublas.c), and hands
 * out a malloc'd copy; entry 13 frees a copy it handed out and refuses
 * any other pointer (CUDA_ERROR_INVALID_VALUE). The other entries are
 * logged NOT_SUPPORTED stubs (never seen called).
 */
#include "export_table.h"
#include "rpc.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NAME "CUBLASLT_1734dc26"

VGPU_EXPORT_STUB(cublaslt, NAME, 1)
VGPU_EXPORT_STUB(cublaslt, NAME, 2)
VGPU_EXPORT_STUB(cublaslt, NAME, 3)
VGPU_EXPORT_STUB(cublaslt, NAME, 5)
VGPU_EXPORT_STUB(cublaslt, NAME, 6)
VGPU_EXPORT_STUB(cublaslt, NAME, 7)
VGPU_EXPORT_STUB(cublaslt, NAME, 8)
VGPU_EXPORT_STUB(cublaslt, NAME, 9)
VGPU_EXPORT_STUB(cublaslt, NAME, 10)
VGPU_EXPORT_STUB(cublaslt, NAME, 11)
VGPU_EXPORT_STUB(cublaslt, NAME, 12)

/* Arrays handed out and not yet given back (cuBLASLt holds one per
 * handle), so entry 13 frees only what entry 4 allocated. */
#define LIVE 64
static void *live[LIVE];
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;

static bool live_swap(void *from, void *to)
{
	bool done = false;
	pthread_mutex_lock(&live_mu);
	for (int i = 0; i < LIVE && !done; i++)
		if (live[i] == from)
			live[i] = to, done = true;
	pthread_mutex_unlock(&live_mu);
	return done;
}

static CUresult layout_get(void **begin, void **end)
{
	CUcontext cur = NULL;
	CUresult r = cuCtxGetCurrent(&cur);
	if (r)
		return r;
	if (!cur)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!begin || !end)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_smlayout l;
	r = vgpu_cu_call(VGPU_CU_SM_LAYOUT, NULL, 0, &l, sizeof(l), true,
			 NAME " entry 4");
	if (r)
		return r;
	if (l.len > VGPU_CU_SM_LAYOUT_MAX)
		return CUDA_ERROR_INVALID_VALUE; /* not the worker's answer */
	uint8_t *a = malloc(l.len ? l.len : 1);
	if (!a)
		return CUDA_ERROR_OUT_OF_MEMORY;
	memcpy(a, l.bytes, l.len);
	if (!live_swap(NULL, a)) {
		free(a);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*begin = a;
	*end = a + l.len;
	return CUDA_SUCCESS;
}

static CUresult layout_put(void *begin, void *end)
{
	(void)end;
	if (!begin || !live_swap(begin, NULL))
		return CUDA_ERROR_INVALID_VALUE;
	free(begin);
	return CUDA_SUCCESS;
}
VGPU_EXPORT_STUB(cublaslt, NAME, 14)
VGPU_EXPORT_STUB(cublaslt, NAME, 15)
VGPU_EXPORT_STUB(cublaslt, NAME, 16)

static const vgpu_slot slots[17] = {
	VGPU_SLOT_SIZE(17),
	VGPU_SLOT(cublaslt_stub_1),
	VGPU_SLOT(cublaslt_stub_2),
	VGPU_SLOT(cublaslt_stub_3),
	VGPU_SLOT(layout_get),
	VGPU_SLOT(cublaslt_stub_5),
	VGPU_SLOT(cublaslt_stub_6),
	VGPU_SLOT(cublaslt_stub_7),
	VGPU_SLOT(cublaslt_stub_8),
	VGPU_SLOT(cublaslt_stub_9),
	VGPU_SLOT(cublaslt_stub_10),
	VGPU_SLOT(cublaslt_stub_11),
	VGPU_SLOT(cublaslt_stub_12),
	VGPU_SLOT(layout_put),
	VGPU_SLOT(cublaslt_stub_14),
	VGPU_SLOT(cublaslt_stub_15),
	VGPU_SLOT(cublaslt_stub_16),
};

const struct vgpu_export_table vgpu_export_cublaslt = {
	NAME,
	{0x17, 0x34, 0xdc, 0x26, 0x80, 0x0d, 0x47, 0x45, 0x87, 0x26, 0xc0, 0xf1,
	 0xe7, 0xdd, 0x8b, 0xca},
	slots, 17,
};
