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
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOT_SIZE 1024
#define ARENA (64u << 10)
#define POOL (64u << 10)

static struct vworker W;
static struct vw_exec *X;
static void *mem;

static void up_with(uint64_t pool)
{
	char err[256] = "";
	struct vgpu_msg m;
	uint8_t buf[SLOT_SIZE];
	cr_assert_eq(vgpu_backend_sim_open(&W.drv, err, sizeof(err)), 0, "%s",
		     err);
	pthread_mutex_init(&W.mu, NULL);
	cr_assert_eq(W.drv.cuInit(0), CUDA_SUCCESS);
	cr_assert_eq(vgpu_devinfo_fill(&W.drv, 0, "test", 0, &W.info), 0);
	cr_assert_eq(W.drv.cuDevicePrimaryCtxRetain(&W.ctx, 0), 0);
	cr_assert_eq(W.drv.cuCtxSetCurrent(W.ctx), 0);
	struct vgpu_geom g = {.nchannels = 2, .nslots = 16,
			      .slot_size = SLOT_SIZE, .arena_per_chan = ARENA,
			      .pool_size = pool};
	cr_assert_eq(vgpu_geom_layout(&g), 0);
	cr_assert_eq(posix_memalign(&mem, 4096, g.size), 0);
	cr_assert_eq(vgpu_region_format(&W.r, mem, g.size, &g, 0), 0);
	cr_assert_eq(vgpu_serve_init(&W.srv, &W.r, NULL, &W), 0);
	W.chan = 1;
	struct vgpu_chan_ctl *ctl = vgpu_ctl(&W.r, 1);
	atomic_store(&ctl->claim, VGPU_CLAIM(1, (uint32_t)getpid()));
	ctl->abi = VGPU_ABI_MAX;
	atomic_store(&ctl->req_gen, 1);
	cr_assert_eq(vgpu_hchan_poll(&W.r, &W.srv.ch[1], &m, buf),
		     VGPU_H_ATTACH);
	vgpu_hchan_accept(&W.r, &W.srv.ch[1], VGPU_START_DEFAULT);
	X = vw_exec_standalone(&W);
	cr_assert_not_null(X);
}

static void up(void) { up_with(POOL); }

static void down(void)
{
	vw_exec_standalone_free(X);
	vgpu_serve_fini(&W.srv);
	free(mem);
}

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

TestSuite(bulk, .init = up, .fini = down);

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

Test(bulk, without_a_pool_the_arena_alone_is_registered, .init = up_nopool)
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
