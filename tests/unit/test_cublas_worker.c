/* The worker's SM-layout opcode (daemon/worker_cublas.c,
 * VGPU_CU_SM_LAYOUT) run in-process over the sim: with the caller's
 * context current it answers the driver's table 1734dc26 entry 4 arrays
 * (the sim's: 66 TPCs, GPC round-robin over 8 and the index in it), one
 * byte per TPC (multiprocessor count / 2), the same bytes each time; a request with a payload is refused with CUDA_ERROR_INVALID_VALUE
 * before the driver is asked; with no context current the driver's own
 * CUDA_ERROR_INVALID_CONTEXT comes back. The harness is worker_fixture.c.
 */
#define _GNU_SOURCE
#include "../../daemon/worker.h"
#include "../support/worker_fixture.h"
#include <criterion/criterion.h>
#include <string.h>

TestSuite(cublas_worker, .init = vwf_up, .fini = vwf_down);

static int32_t layout(const void *payload, uint32_t len,
		      struct vgpu_cu_smlayout *l)
{
	memset(l, 0xEE, sizeof(*l));
	return request(VGPU_CU_SM_LAYOUT, 0, payload, len, l, sizeof(*l));
}

Test(cublas_worker, layout_is_the_drivers_array)
{
	struct vgpu_cu_smlayout a, b;
	cr_assert_eq(layout(NULL, 0, &a), CUDA_SUCCESS);
	cr_assert_eq(a.len, 66);
	for (uint32_t i = 0; i < a.len; i++) {
		cr_assert_eq(a.gpc[i], i % 8, "gpc %u", i);
		cr_assert_eq(a.index[i], i / 8, "index %u", i);
	}
	cr_assert_eq(layout(NULL, 0, &b), CUDA_SUCCESS);
	cr_assert_eq(b.len, a.len);
	cr_assert_eq(memcmp(a.gpc, b.gpc, a.len), 0);
	cr_assert_eq(memcmp(a.index, b.index, a.len), 0);
}

Test(cublas_worker, payload_refused)
{
	struct vgpu_cu_smlayout l;
	uint64_t junk[4] = {~0ull, 0, 1, 0x50};
	cr_assert_eq(layout(junk, sizeof(junk), &l), CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(layout(junk, 1, &l), CUDA_ERROR_INVALID_VALUE);
}

Test(cublas_worker, no_context_is_the_drivers_answer)
{
	struct vgpu_cu_args a = {{0}};
	struct vgpu_cu_smlayout l;
	cr_assert_eq(request(VGPU_CU_CTX_CURRENT, 0, &a, sizeof(a), NULL, 0),
		     CUDA_SUCCESS);
	cr_assert_eq(layout(NULL, 0, &l), CUDA_ERROR_INVALID_CONTEXT);
}
