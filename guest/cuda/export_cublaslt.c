/* guest/cuda/export_cublaslt.c - table 1734dc26, asked for by cuBLASLt.
 *
 * GUID 1734dc26-800d-4745-8726-c0f1e7dd8bca, 17 slots (0x88, measured on
 * driver 580, reference/cuda13-driver-surface.md). Refusing it is not
 * safe: cuBLASLt 13.1 keeps the pointer cuGetExportTable gives (NULL when
 * refused) and on its bf16 GEMM path calls entry 4 through it unchecked.
 * Entry 4 is (uint8_t **a, uint8_t **b): with a current context the
 * driver allocates two arrays of one byte per TPC describing the GPU's SM
 * layout (measured on the H100, driver 580: 66 bytes each; a: each TPC's
 * GPC, b: its index in that GPC); with none it answers
 * CUDA_ERROR_INVALID_CONTEXT and writes nothing. Entry 13 (a, b) gives
 * both back.
 *
 * The arrays describe the physical GPU, so the guest does not make them
 * up: entry 4 asks the worker, whose driver runs its own entry 4 in the
 * sender's context (VGPU_CU_SM_LAYOUT, daemon/worker_cublas.c), and hands
 * out copies in zeroed buffers of VGPU_CU_SM_LAYOUT_MAX bytes (a reader
 * assuming a longer array reads zeros, never past the buffer); entry 13
 * frees a pair it handed out and refuses anything else
 * (CUDA_ERROR_INVALID_VALUE). The other entries are logged NOT_SUPPORTED
 * stubs (never seen called).
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

/* Pairs handed out and not yet given back (cuBLASLt holds one per
 * handle), so entry 13 frees only what entry 4 allocated. */
#define LIVE 64
static void *live[LIVE][2];
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;

/* Replace the pair (a, b) by (na, nb); false if (a, b) is not there. */
static bool live_swap(void *a, void *b, void *na, void *nb)
{
	bool done = false;
	pthread_mutex_lock(&live_mu);
	for (int i = 0; i < LIVE && !done; i++)
		if (live[i][0] == a && live[i][1] == b) {
			live[i][0] = na, live[i][1] = nb;
			done = true;
		}
	pthread_mutex_unlock(&live_mu);
	return done;
}

static CUresult layout_get(void **pa, void **pb)
{
	CUcontext cur = NULL;
	CUresult r = cuCtxGetCurrent(&cur);
	if (r)
		return r;
	if (!cur)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!pa || !pb)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_smlayout l;
	r = vgpu_cu_call(VGPU_CU_SM_LAYOUT, NULL, 0, &l, sizeof(l), true,
			 NAME " entry 4");
	if (r)
		return r;
	if (l.len > VGPU_CU_SM_LAYOUT_MAX)
		return CUDA_ERROR_INVALID_VALUE; /* not the worker's answer */
	uint8_t *a = calloc(1, VGPU_CU_SM_LAYOUT_MAX);
	uint8_t *b = calloc(1, VGPU_CU_SM_LAYOUT_MAX);
	if (!a || !b || !live_swap(NULL, NULL, a, b)) {
		free(a);
		free(b);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	memcpy(a, l.gpc, l.len);
	memcpy(b, l.index, l.len);
	*pa = a;
	*pb = b;
	return CUDA_SUCCESS;
}

static CUresult layout_put(void *a, void *b)
{
	if (!a || !b || !live_swap(a, b, NULL, NULL))
		return CUDA_ERROR_INVALID_VALUE;
	free(a);
	free(b);
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
