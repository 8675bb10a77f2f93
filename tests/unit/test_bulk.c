/* The bulk path's worker side (daemon/worker_bulk.c) over the sim: the
 * region's arena and pinned pool registered once, at start-up, as one
 * range; the pool opened afterwards takes its device address from that
 * registration (no second registration: the sim, like the driver, would
 * refuse an overlapping one) and is still zeroed; without a pool the
 * arena alone is registered.
 */
#define _GNU_SOURCE
#include "../../daemon/devinfo.h"
#include "../../daemon/worker.h"
#include "../../daemon/worker_bulk.h"
#include "../../ring/host.h"
#include "../support/worker_fixture.h"
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARENA VWF_ARENA
#define POOL (64u << 10)

/* Channel 1 of two (the pool and arenas are the region's, not channel
 * 0's), no context handle: the bulk path needs none. */
static void up_with(uint64_t pool)
{
	vwf_opts = (struct vwf_opts){.nchannels = 2, .chan = 1, .pool = pool,
				     .no_ctx_id = true};
	vwf_up();
}

static void up(void) { up_with(POOL); }

static int32_t pool_open(struct vgpu_cu_args *a)
{
	uint32_t at = VGPU_START_DEFAULT;
	struct vgpu_msg m = {.pos = at, .op = VGPU_CU_POOL_OPEN, .tid = 1,
			     .reply = 3, .epoch = W.srv.ch[1].epoch};
	vw_execute(&W, X, &m);
	struct vgpu_slot *s = vgpu_reply_at(&W.r, 1, m.reply);
	cr_assert_eq(atomic_load(&s->seq), at + 2, "POOL_OPEN unanswered");
	memcpy(a, (uint8_t *)s + VGPU_MSG_HDR_SIZE, sizeof(*a));
	return s->result;
}

TestSuite(bulk, .init = up, .fini = vwf_down);

Test(bulk, arena_and_pool_are_registered_once_at_start_up)
{
	uint64_t ns;
	uint8_t *arena0 = vgpu_arena(&W.r, 0), *slice = vgpu_pool(&W.r, 1);
	cr_assert_eq(vw_bulk_register(&W, &ns), CUDA_SUCCESS);
	cr_expect_eq(W.bulk_base, arena0);
	cr_expect_eq(W.bulk_base + W.bulk_len,
		     vgpu_pool(&W.r, 0) + W.r.g.pool_size,
		     "to the end of the pool");
	/* every byte of the arena and the pool is the driver's now */
	cr_expect_eq(W.drv.cuMemHostRegister_v2(arena0, 4096, 0),
		     CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
	cr_expect_eq(W.drv.cuMemHostRegister_v2(vgpu_arena(&W.r, 1) + ARENA -
							4096, 4096, 0),
		     CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
	cr_expect_eq(W.drv.cuMemHostRegister_v2(slice + POOL / 2 - 4096, 4096,
						0),
		     CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
	/* a second worker process would register again; in one, twice fails */
	cr_expect_eq(vw_bulk_register(&W, &ns),
		     CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
}

Test(bulk, the_pool_opens_from_the_start_up_registration_zeroed)
{
	uint64_t ns;
	uint8_t *slice = vgpu_pool(&W.r, 1);
	cr_assert_eq(vw_bulk_register(&W, &ns), CUDA_SUCCESS);
	memset(slice, 0x5a, W.r.g.pool_per_chan); /* a previous owner's */
	struct vgpu_cu_args a = {{0}};
	cr_assert_eq(pool_open(&a), CUDA_SUCCESS,
		     "no second registration of the slice");
	cr_expect_eq(a.a[0], (uint64_t)(uintptr_t)slice, "the sim: UVA");
	cr_expect_eq(a.a[1], W.r.g.pool_per_chan);
	cr_expect_eq(slice[0], 0);
	cr_expect_eq(slice[W.r.g.pool_per_chan - 1], 0, "zeroed at open");
	CUdeviceptr d;
	cr_expect(vw_bulk_pool_dev(&W, slice, &d));
	cr_expect_not(vw_bulk_pool_dev(&W, W.r.base, &d), "outside the range");
}

Test(bulk, without_start_up_registration_the_pool_registers_at_open)
{
	uint8_t *slice = vgpu_pool(&W.r, 1);
	struct vgpu_cu_args a = {{0}};
	cr_assert_eq(pool_open(&a), CUDA_SUCCESS);
	cr_expect_eq(a.a[0], (uint64_t)(uintptr_t)slice);
	cr_expect_eq(W.drv.cuMemHostRegister_v2(slice, 4096, 0),
		     CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
	cr_expect_eq(W.drv.cuMemHostRegister_v2(vgpu_arena(&W.r, 1), 4096, 0),
		     CUDA_SUCCESS, "the arena is not registered then");
}

static void up_nopool(void) { up_with(0); }

Test(bulk_nopool, the_arena_alone_is_registered, .init = up_nopool,
     .fini = vwf_down)
{
	uint64_t ns;
	cr_assert_eq(vw_bulk_register(&W, &ns), CUDA_SUCCESS);
	cr_expect_eq(W.bulk_base, vgpu_arena(&W.r, 0));
	cr_expect_eq(W.bulk_len, 2ull * ARENA);
	struct vgpu_cu_args a = {{0}};
	cr_expect_eq(pool_open(&a), CUDA_ERROR_OUT_OF_MEMORY, "no pool");
}

Test(bulk, the_fence_is_answered_and_keeps_an_async_error_for_later)
{
	W.async_err = CUDA_ERROR_LAUNCH_FAILED;
	uint32_t at = VGPU_START_DEFAULT;
	struct vgpu_msg m = {.pos = at, .op = VGPU_CU_BULK_FENCE, .tid = 1,
			     .reply = 5, .epoch = W.srv.ch[1].epoch};
	vw_execute(&W, X, &m);
	struct vgpu_slot *s = vgpu_reply_at(&W.r, 1, m.reply);
	cr_assert_eq(atomic_load(&s->seq), at + 2, "FENCE unanswered");
	cr_expect_eq(s->result, CUDA_SUCCESS);
	cr_expect_eq(W.async_err, CUDA_ERROR_LAUNCH_FAILED,
		     "told at the next synchronising call, not here");
}
