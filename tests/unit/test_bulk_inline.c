/* Which requests the worker's serving thread may run itself
 * (vw_mem_inline_ok, daemon/worker_mem.c; when it does: worker_exec.c):
 * pinned-pool copies of at most 4 MiB and copies carried in the message,
 * on any stream but the per-thread default one (the executor's own), and
 * nothing else. A malformed payload is never taken: the executor answers
 * it with the usual error. */
#include "../../daemon/worker.h"
#include <criterion/criterion.h>
#include <string.h>

#define PER_THREAD ((uint64_t)(uintptr_t)CU_STREAM_PER_THREAD)
#define NO_STREAM UINT64_MAX /* guest/cuda/rpc.h's: a synchronous copy */

static bool pool(uint64_t len, uint64_t stream, uint32_t msglen)
{
	struct vgpu_cu_poolcopy q = {.dev = 0x1000, .len = len,
				     .stream = stream, .htod = 1};
	struct vgpu_msg m = {.op = VGPU_CU_POOL_COPY, .data = (void *)&q,
			     .len = msglen};
	return vw_mem_inline_ok(&m);
}

Test(bulk_inline, pool_copies_up_to_4_mib)
{
	cr_assert(pool(1, NO_STREAM, sizeof(struct vgpu_cu_poolcopy)));
	cr_assert(pool(4u << 20, 0, sizeof(struct vgpu_cu_poolcopy)));
	cr_assert(pool(64u << 10, 0x1234, sizeof(struct vgpu_cu_poolcopy)));
	cr_assert_not(pool((4u << 20) + 1, 0, sizeof(struct vgpu_cu_poolcopy)));
	cr_assert_not(pool(UINT64_MAX, 0, sizeof(struct vgpu_cu_poolcopy)));
}

Test(bulk_inline, not_on_the_per_thread_stream)
{
	cr_assert_not(pool(4096, PER_THREAD, sizeof(struct vgpu_cu_poolcopy)));
	uint64_t x[3] = {0x1000, PER_THREAD, 0};
	struct vgpu_msg m = {.op = VGPU_CU_MEMCPY_HTOD_INLINE,
			     .data = (void *)x, .len = sizeof(x)};
	cr_assert_not(vw_mem_inline_ok(&m));
	x[1] = NO_STREAM;
	cr_assert(vw_mem_inline_ok(&m));
	m.op = VGPU_CU_MEMCPY_DTOH_INLINE;
	cr_assert(vw_mem_inline_ok(&m));
}

Test(bulk_inline, malformed_payloads_go_to_the_executor)
{
	cr_assert_not(pool(4096, 0, sizeof(struct vgpu_cu_poolcopy) - 1));
	cr_assert_not(pool(4096, 0, sizeof(struct vgpu_cu_poolcopy) + 1));
	uint64_t x[2] = {0x1000, 0};
	struct vgpu_msg m = {.op = VGPU_CU_MEMCPY_HTOD_INLINE,
			     .data = (void *)x, .len = 15};
	cr_assert_not(vw_mem_inline_ok(&m));
}

Test(bulk_inline, other_requests_are_the_executors)
{
	static const uint16_t ops[] = {VGPU_CU_MEMCPY_HTOD, VGPU_CU_MEMCPY_DTOH,
				       VGPU_CU_POOL_OPEN, VGPU_CU_BULK_FENCE,
				       VGPU_CU_LAUNCH, VGPU_CU_CTX_CURRENT};
	uint8_t buf[64] = {0};
	for (size_t i = 0; i < sizeof(ops) / sizeof(*ops); i++) {
		struct vgpu_msg m = {.op = ops[i], .data = buf, .len = 16};
		cr_assert_not(vw_mem_inline_ok(&m), "op %#x", ops[i]);
	}
}
