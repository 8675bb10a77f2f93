/* Libraries and scheduling per GPU (docs/multigpu.md), over the sim's two
 * devices: a library's kernels and globals used on device 1 run from its
 * copy loaded there (daemon/worker_multigpu_lib.c; the sim refuses another
 * device's function, as a driver refuses another context's), a plain
 * module stays its context's, an unload takes the copies; a worker counts
 * a launch in the ledger slot of the launch's GPU (worker_sched.c) and the
 * supervisor schedules a VM on each of its GPUs' instances (sched_scan.c).
 */
#define _GNU_SOURCE
#include "../../daemon/supervisor.h"
#include "../../daemon/worker.h"
#include "../../daemon/worker_sched.h"
#include "../../ring/host.h"
#include "../support/sched_fixture.h"
#include "../support/worker_fixture.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS 1000000ull

static const char PTX[] =
	".version 9.0\n.target sm_90\n.address_size 64\n"
	".global .align 8 .u64 vgpu_counter;\n"
	".visible .entry vgpu_inc_counter() { ret; }\n";

static struct vgpud_ledger *wl;

static void up(void)
{
	setenv("VGPU_SIM_GPUS", "2", 1);
	setenv("VGPU_SIM_PEER", "none", 1);
	wl = calloc(1, VGPUD_LEDGER_SIZE(1));
	cr_assert(wl);
	vwf_opts = (struct vwf_opts){.async = VWF_ASYNC_TAKE, .ledger = wl};
	vwf_up();
	int host[2] = {0, 1}, bad;
	cr_assert_eq(vw_devs_open(&W, host, 2, "vm", 0, &bad), CUDA_SUCCESS);
}

static void down(void)
{
	vw_sched_close(&W);
	vwf_down();
	free(wl);
}

/* The image through the arena, then MODULE_COMMIT with flags. */
static uint64_t load(uint64_t flags)
{
	uint32_t len = sizeof(PTX) - 1, at = vwf_pos();
	struct vgpu_msg m = {.pos = at, .op = VGPU_CU_MODULE_LOAD,
			     .flags = VGPU_MSG_ARENA, .reply = at % 16,
			     .epoch = W.srv.ch[0].epoch, .arena_len = len,
			     .total = len};
	uint8_t none = 0;
	m.data = &none;
	memcpy(vgpu_arena(&W.r, 0), PTX, len);
	vw_execute(&W, X, &m);
	cr_assert_eq(vgpu_reply_at(&W.r, 0, m.reply)->result, CUDA_SUCCESS);
	struct vgpu_cu_args a = {{flags}};
	cr_assert_eq(request(VGPU_CU_MODULE_COMMIT, 0, &a, sizeof(a), &a,
			     sizeof(a)), CUDA_SUCCESS);
	return a.a[0];
}

static int32_t lookup(uint16_t op, uint64_t module, const char *name,
		      void *out, uint32_t outlen)
{
	struct vgpu_cu_getfn g = {.module = module};
	snprintf(g.name, sizeof(g.name), "%s", name);
	return request(op, 0, &g, sizeof(g), out, outlen);
}

static int32_t launch(uint64_t fn)
{
	struct vgpu_cu_launch L = {.function = fn,
				   .stream = (uint64_t)(uintptr_t)CU_STREAM_LEGACY,
				   .grid = {1, 1, 1}, .block = {1, 1, 1}};
	return request(VGPU_CU_LAUNCH, 0, &L, sizeof(L), NULL, 0);
}

static int32_t sync_ctx(void)
{
	struct vgpu_cu_args a = {{0}};
	return call("cuCtxSynchronize", &a);
}

static void put_u64(uint64_t dev, uint64_t v)
{
	uint8_t buf[24];
	uint64_t x[2] = {dev, UINT64_MAX};
	memcpy(buf, x, sizeof(x));
	memcpy(buf + 16, &v, 8);
	cr_assert_eq(request(VGPU_CU_MEMCPY_HTOD_INLINE, 0, buf, sizeof(buf),
			     NULL, 0), CUDA_SUCCESS);
}

static uint64_t get_u64(uint64_t dev)
{
	uint8_t buf[24];
	uint64_t x[3] = {dev, UINT64_MAX, 8}, v = 0;
	memcpy(buf, x, sizeof(x));
	cr_assert_eq(request(VGPU_CU_MEMCPY_DTOH_INLINE, 0, buf, sizeof(buf),
			     &v, sizeof(v)), CUDA_SUCCESS);
	return v;
}

static void make_current(uint64_t ctx)
{
	struct vgpu_cu_args a = {{ctx}};
	cr_assert_eq(request(VGPU_CU_CTX_CURRENT, VGPU_MSG_NOREPLY, &a,
			     sizeof(a), NULL, 0), CUDA_SUCCESS);
}

static uint64_t device_ctx(uint64_t dev)
{
	struct vgpu_cu_args a = {{VGPU_MGPU_RETAIN, dev}};
	cr_assert_eq(request(VGPU_CU_MGPU, 0, &a, sizeof(a), &a, sizeof(a)),
		     CUDA_SUCCESS);
	return a.a[0];
}

TestSuite(mlib, .init = up, .fini = down);

Test(mlib, a_librarys_kernel_and_global_run_on_each_gpu)
{
	uint64_t mod = load(VGPU_CU_COMMIT_LIBRARY);
	struct vgpu_cu_fninfo fi;
	struct vgpu_cu_args g0, g1;
	cr_assert_eq(lookup(VGPU_CU_MODULE_GET_FUNCTION, mod, "vgpu_inc_counter",
			    &fi, sizeof(fi)), CUDA_SUCCESS);
	cr_assert_eq(lookup(VGPU_CU_MODULE_GET_GLOBAL, mod, "vgpu_counter", &g0,
			    sizeof(g0)), CUDA_SUCCESS);
	put_u64(g0.a[0], 10);
	cr_expect_eq(launch(fi.function), CUDA_SUCCESS);
	cr_expect_eq(vw_mlib_count(&W, mod), 0u, "device 0: the module itself");

	make_current(device_ctx(1));
	cr_assert_eq(lookup(VGPU_CU_MODULE_GET_GLOBAL, mod, "vgpu_counter", &g1,
			    sizeof(g1)), CUDA_SUCCESS);
	cr_expect_neq(g1.a[0], g0.a[0], "device 1's own copy of the global");
	cr_expect_eq(g1.a[1], 8u);
	cr_expect_eq(vw_mlib_count(&W, mod), 1u, "loaded once on device 1");
	put_u64(g1.a[0], 100);
	cr_expect_eq(launch(fi.function), CUDA_SUCCESS, "the same function id");
	cr_expect_eq(launch(fi.function), CUDA_SUCCESS);
	cr_assert_eq(sync_ctx(), CUDA_SUCCESS);
	cr_expect_eq(get_u64(g1.a[0]), 102u);
	CUfunction f1, f0;
	struct vgpu_cu_fninfo x;
	cr_assert_eq(vw_function(&W, fi.function, &f1, &x), CUDA_SUCCESS);
	cr_expect_eq(vw_mlib_fn_id(&W, f1), fi.function, "found back (graphs)");

	make_current(W.ctx_id);
	cr_assert_eq(sync_ctx(), CUDA_SUCCESS);
	cr_expect_eq(get_u64(g0.a[0]), 11u, "device 0's counted alone");
	cr_assert_eq(vw_function(&W, fi.function, &f0, &x), CUDA_SUCCESS);
	cr_expect_neq(f0, f1);
	cr_expect_eq(vw_mlib_count(&W, mod), 1u, "no second load");

	struct vgpu_cu_args a = {{mod}};
	cr_assert_eq(call("cuModuleUnload", &a), CUDA_SUCCESS);
	cr_expect_eq(vw_mlib_count(&W, mod), 0u, "the copies went with it");
	make_current(device_ctx(1));
	cr_expect_eq(launch(fi.function), CUDA_ERROR_INVALID_HANDLE);
	cr_expect_eq(vw_range(&W, g1.a[0], 8), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(vw_mlib_fn_id(&W, f1), 0u);
}

Test(mlib, a_plain_module_stays_on_its_gpu)
{
	uint64_t mod = load(0);
	struct vgpu_cu_fninfo fi;
	cr_assert_eq(lookup(VGPU_CU_MODULE_GET_FUNCTION, mod, "vgpu_inc_counter",
			    &fi, sizeof(fi)), CUDA_SUCCESS);
	make_current(device_ctx(1));
	cr_expect_eq(launch(fi.function), CUDA_ERROR_INVALID_HANDLE,
		     "a module's function is its context's, as natively");
	cr_expect_eq(vw_mlib_count(&W, mod), 0u);
}

Test(mlib, a_created_context_gets_the_home_objects)
{
	uint64_t mod = load(VGPU_CU_COMMIT_LIBRARY);
	struct vgpu_cu_fninfo fi;
	cr_assert_eq(lookup(VGPU_CU_MODULE_GET_FUNCTION, mod, "vgpu_inc_counter",
			    &fi, sizeof(fi)), CUDA_SUCCESS);
	struct vgpu_cu_args c = {{0, 1}};
	cr_assert_eq(request(VGPU_CU_CTX_CREATE, 0, &c, sizeof(c), &c,
			     sizeof(c)), CUDA_SUCCESS);
	make_current(c.a[0]);
	cr_expect_eq(launch(fi.function), CUDA_ERROR_INVALID_HANDLE,
		     "per device primary contexts only (docs/multigpu.md)");
	cr_expect_eq(vw_mlib_count(&W, mod), 0u);
}

/* ---- the worker counts a launch on its GPU's ledger slot ----------------- */

Test(mlib, a_launch_on_device_1_counts_in_slot_1)
{
	W.schedvm = vgpud_ledger_sched(wl, 1, 0); /* as worker_main.c maps it */
	struct vgpud_sched_vm *s0 = vgpud_ledger_sched(wl, 1, 0),
			      *s1 = vgpud_ledger_sched(wl, 1, 1);
	struct vgpud_sched_chan *c0 = vgpud_ledger_sched_chan(wl, 1, 0, 0),
				*c1 = vgpud_ledger_sched_chan(wl, 1, 1, 0);
	for (int g = 0; g < 2; g++) {
		struct vgpud_sched_vm *s = g ? s1 : s0;
		atomic_store(&s->on, 1);
		atomic_store(&s->limit_ns, 100 * MS);
	}
	uint64_t mod = load(VGPU_CU_COMMIT_LIBRARY);
	struct vgpu_cu_fninfo fi;
	cr_assert_eq(lookup(VGPU_CU_MODULE_GET_FUNCTION, mod, "vgpu_inc_counter",
			    &fi, sizeof(fi)), CUDA_SUCCESS);
	make_current(device_ctx(1));
	cr_assert_eq(launch(fi.function), CUDA_SUCCESS);
	cr_expect_eq(atomic_load(&s1->admitted_ns), VW_SCHED_DEFAULT_EST_NS,
		     "device 1's tokens were spent");
	cr_expect_eq(atomic_load(&s0->admitted_ns), 0u, "not device 0's");
	cr_expect_geq(atomic_load(&c1->busy_seq), 1u);
	cr_expect_eq(atomic_load(&c0->busy_seq), 0u);
	for (int i = 0; atomic_load(&c1->inflight) && i < 10000; i++)
		usleep(1000);
	cr_expect_eq(atomic_load(&c1->inflight), 0u, "completed");
	for (int i = 0; atomic_load(&c1->busy_seq) % 2 && i < 10000; i++)
		usleep(1000);
	cr_expect_eq(atomic_load(&c1->busy_seq) % 2, 0u, "idle again");
	make_current(W.ctx_id);
	cr_assert_eq(launch(fi.function), CUDA_SUCCESS);
	cr_expect_gt(atomic_load(&s0->admitted_ns), 0u, "device 0's now");
}

/* ---- the supervisor: a VM on each of its GPUs' instances ----------------- */

static struct vgpud D;
static void *led[2];

/* vm0: gpus 0,1 (host list); vm1: gpu 1 */
static void sup_up(void)
{
	schedfix_init(&D, led, 1);
	D.cfg.ngpu_specs = 2;
	D.cfg.sched_queue_us = 2000;
	for (int i = 0; i < 2; i++) {
		struct vgpud_vm *v = &D.cfg.vms[i];
		v->ngpus = i ? 1 : 2;
		v->gpus[0] = (uint8_t)i;
		v->gpus[1] = 1;
	}
	cr_assert_eq(vgpud_sched_open(&D, 1 * MS), 0);
}

static void sup_down(void) { schedfix_fini(&D, led); }

static struct vgpud_sched_vm *S(int vm, int slot)
{
	return vgpud_ledger_sched(led[vm], 1, (uint32_t)slot);
}

static struct vgpud_sched_chan *C(int vm, int slot)
{
	return vgpud_ledger_sched_chan(led[vm], 1, (uint32_t)slot, 0);
}

static void busy(int vm, int slot, bool b, uint64_t t)
{
	schedfix_busy(C(vm, slot), b, t);
}

static uint64_t tokens(int vm, int slot)
{
	return schedfix_tokens(S(vm, slot));
}

TestSuite(mgpu_sched, .init = sup_up, .fini = sup_down);

Test(mgpu_sched, work_on_a_second_gpu_spends_that_gpus_share_alone)
{
	cr_expect_eq(atomic_load(&S(0, 0)->on), 1u);
	cr_expect_eq(atomic_load(&S(0, 1)->on), 1u, "slot 1 switched on too");
	cr_expect_gt(tokens(0, 1), 0u, "a first launch on GPU 1 need not wait");
	/* vm0 runs 100 ms on its second GPU (host GPU 1), alone there */
	atomic_store(&C(0, 1)->inflight, 1);
	atomic_store(&C(0, 1)->inflight_ns, 1 * MS);
	busy(0, 1, true, 2 * MS);
	for (uint64_t t = 2; t <= 102; t++) {
		atomic_store(&C(0, 1)->gpu_ns, (t - 2) * MS);
		vgpud_sched_scan(&D, t * MS);
	}
	cr_expect_geq(vgpud_sched_gpu_ns(&D, 0, 102 * MS), 99 * MS);
	cr_expect_eq(D.sched_busy[1], 1u, "GPU 1 is the busy one");
	cr_expect_eq(D.sched_busy[0], 0u);
	/* vm1 (GPU 1 only) and vm0 on both GPUs all want to run */
	atomic_store(&C(1, 0)->waiting, 1);
	atomic_store(&C(0, 1)->waiting, 1);
	atomic_store(&C(0, 0)->waiting, 1);
	vgpud_sched_scan(&D, 103 * MS);
	cr_expect_gt(tokens(1, 0), 0u, "vm1 is owed GPU 1's share");
	cr_expect_eq(tokens(0, 1), 0u, "vm0 spent its share of GPU 1");
	cr_expect_gt(tokens(0, 0), 0u, "but not GPU 0's: nobody used it");
	vgpud_sched_scan(&D, 110 * MS);
	cr_expect_gt(vgpud_sched_throttled_ns(&D, 0), 0u);
	cr_expect_eq(vgpud_sched_throttled_ns(&D, 1), 0u);
	/* its worker gone while busy: GPU 1 goes idle */
	vgpud_sched_retire(&D, &D.vms[0], 0, 110 * MS);
	cr_expect_eq(atomic_load(&C(0, 1)->busy_seq), 0u);
	cr_expect_eq(D.sched_busy[1], 0u);
}

/* Solo is per GPU: vm0 alone on its GPU 0 runs unmetered there while its
 * work on GPU 1, beside vm1, stays metered. */
Test(mgpu_sched, solo_on_one_gpu_metered_on_the_other)
{
	D.cfg.sched_solo = true;
	atomic_fetch_add(&C(0, 0)->launches, 5);
	atomic_fetch_add(&C(0, 1)->launches, 5);
	atomic_fetch_add(&C(1, 0)->launches, 5); /* vm1: its GPU is host 1 */
	vgpud_sched_scan(&D, 2 * MS);
	cr_expect_eq(atomic_load(&S(0, 0)->solo), 1u, "nobody else on GPU 0");
	cr_expect_eq(atomic_load(&S(0, 1)->solo), 0u, "vm1 works on GPU 1");
	cr_expect_eq(atomic_load(&S(1, 0)->solo), 0u, "vm0 works on GPU 1");
	/* vm0 stops using GPU 1: 50 ms later vm1 is alone there */
	uint64_t t = 2;
	while (!atomic_load(&S(1, 0)->solo) && t < 1000) {
		atomic_fetch_add(&C(0, 0)->launches, 1);
		atomic_fetch_add(&C(1, 0)->launches, 1);
		vgpud_sched_scan(&D, ++t * MS);
	}
	cr_expect_geq(t, 2 + 50, "not before vm0 left GPU 1 for 50 ms");
	cr_expect_lt(t, 1000);
	cr_expect_eq(atomic_load(&S(0, 0)->solo), 1u, "still alone on GPU 0");
}
