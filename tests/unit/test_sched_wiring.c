/* The scheduler wired in (docs/scheduler.md): a worker admits launches
 * from its VM's tokens in the ledger (daemon/worker_sched.c) and the
 * supervisor's scan turns the ledgers into grants (daemon/sched_scan.c).
 * The supervisor half runs on an injected clock; the worker half waits
 * only for things to happen (bounded loops for liveness), never asserts
 * a duration.
 */
#define _GNU_SOURCE
#include "../../daemon/supervisor.h"
#include "../../daemon/worker_sched.h"
#include "../../ring/host.h"
#include "../../ring/wait.h"
#include "../../scheduler/sched.h"
#include "../support/sched_fixture.h"
#include "../support/worker_fixture.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS 1000000ull

/* ---- the supervisor's scan, on a simulated clock ------------------------ */

static struct vgpud D;
static void *led[2];

static void sup_up(void)
{
	schedfix_init(&D, led, 2);
	cr_assert_eq(vgpud_sched_open(&D, 1 * MS), 0);
}

static void sup_down(void) { schedfix_fini(&D, led); }

static struct vgpud_sched_vm *S(int vm)
{
	return vgpud_ledger_sched(led[vm], 2, 0);
}

static struct vgpud_sched_chan *C(int vm, int ch)
{
	return vgpud_ledger_sched_chan(led[vm], 2, 0, ch);
}

/* What a worker writes: busy/idle at t, and its queue. */
static void busy(int vm, int ch, bool b, uint64_t t)
{
	schedfix_busy(C(vm, ch), b, t);
}

static uint64_t tokens(int vm) { return schedfix_tokens(S(vm)); }

TestSuite(sched_scan, .init = sup_up, .fini = sup_down);

Test(sched_scan, a_heavy_vm_is_held_back_and_a_light_one_is_not)
{
	cr_expect_eq(atomic_load(&S(0)->on), 1u);
	/* vm0 runs alone for 100 ms: one launch queued at a time */
	atomic_store(&C(0, 0)->inflight, 1);
	atomic_store(&C(0, 0)->inflight_ns, 1 * MS);
	busy(0, 0, true, 2 * MS);
	for (uint64_t t = 2; t <= 102; t++) {
		atomic_store(&C(0, 0)->gpu_ns, (t - 2) * MS); /* its kernels */
		vgpud_sched_scan(&D, t * MS);
	}
	cr_expect_gt(tokens(0), 0, "alone, it may queue more");
	cr_expect_geq(vgpud_sched_gpu_ns(&D, 0, 102 * MS), 99 * MS);
	/* vm1 wakes with a launch waiting; vm0 keeps asking too */
	atomic_store(&C(1, 0)->waiting, 1);
	atomic_store(&C(0, 1)->waiting, 1);
	vgpud_sched_scan(&D, 103 * MS);
	cr_expect_gt(tokens(1), 0, "the light VM may admit at once");
	cr_expect_eq(tokens(0), 0, "the heavy VM is over its share: no tokens");
	vgpud_sched_scan(&D, 110 * MS);
	cr_expect_gt(vgpud_sched_throttled_ns(&D, 0), 0);
	cr_expect_eq(vgpud_sched_throttled_ns(&D, 1), 0);
	/* vm1 now runs alone (vm0's launch done): it catches up, vm0 gets
	 * tokens again once level */
	busy(0, 0, false, 110 * MS);
	atomic_store(&C(0, 0)->inflight, 0);
	atomic_store(&C(0, 0)->inflight_ns, 0);
	atomic_store(&C(1, 0)->waiting, 0);
	atomic_store(&C(1, 0)->inflight, 1);
	atomic_store(&C(1, 0)->inflight_ns, 1 * MS);
	busy(1, 0, true, 111 * MS);
	uint64_t t = 111;
	while (!tokens(0) && t < 400) {
		atomic_store(&C(1, 0)->gpu_ns, (t - 110) * MS);
		vgpud_sched_scan(&D, ++t * MS);
	}
	cr_expect_gt(tokens(0), 0, "level again: vm0 admits");
	cr_expect_lt(t, 400);
}

Test(sched_scan, kernels_are_charged_what_they_measured_never_more_than_wall)
{
	/* 30 ms with some context busy; the kernels report 10 + 5 ms (vm0's
	 * two contexts) and 15 ms (vm1): charged as measured */
	busy(0, 0, true, 2 * MS);
	busy(0, 1, true, 2 * MS);
	busy(1, 0, true, 2 * MS);
	vgpud_sched_scan(&D, 2 * MS);
	atomic_store(&C(0, 0)->gpu_ns, 10 * MS);
	atomic_store(&C(0, 1)->gpu_ns, 5 * MS);
	atomic_store(&C(1, 0)->gpu_ns, 15 * MS);
	vgpud_sched_scan(&D, 32 * MS);
	cr_expect_eq(vgpud_sched_gpu_ns(&D, 0, 32 * MS), 15 * MS);
	cr_expect_eq(vgpud_sched_gpu_ns(&D, 1, 32 * MS), 15 * MS);
	/* interleaved contexts whose spans overlap (switched out mid-way)
	 * report 60 ms in the next 20 ms of wall time: scaled to 20 */
	atomic_store(&C(0, 0)->gpu_ns, 10 * MS + 20 * MS);
	atomic_store(&C(0, 1)->gpu_ns, 5 * MS + 20 * MS);
	atomic_store(&C(1, 0)->gpu_ns, 15 * MS + 20 * MS);
	vgpud_sched_scan(&D, 52 * MS);
	uint64_t a = vgpud_sched_gpu_ns(&D, 0, 52 * MS),
		 b = vgpud_sched_gpu_ns(&D, 1, 52 * MS);
	cr_expect_leq(a + b, 50 * MS, "never more than the busy wall time");
	cr_expect_geq(a + b, 50 * MS - 2, "(to a rounding)");
	cr_expect_geq(a - 15 * MS, 2 * (b - 15 * MS) - 2, "2:1 as measured");
	/* workers gone while busy: no busy time is left to charge */
	vgpud_sched_retire(&D, &D.vms[0], 0, 52 * MS);
	vgpud_sched_retire(&D, &D.vms[0], 1, 52 * MS);
	vgpud_sched_retire(&D, &D.vms[1], 0, 52 * MS);
	cr_expect_eq(atomic_load(&C(0, 0)->busy_seq), 0u);
	cr_expect_eq(atomic_load(&C(0, 0)->gpu_ns), 0u);
	cr_expect_eq(D.sched_busy[0], 0u);
	vgpud_sched_scan(&D, 62 * MS);
	cr_expect_eq(vgpud_sched_gpu_ns(&D, 0, 62 * MS), a);
}

Test(sched_scan, stats_give_gpu_share_throttled_time_and_copy_rate)
{
	struct vgpud_ledger *l = led[0];
	busy(0, 0, true, 1000 * MS);
	vgpud_sched_scan(&D, 1000 * MS);
	vgpud_stats_sample(&D, 1000 * MS);
	atomic_store(&C(0, 0)->gpu_ns, 250 * MS); /* a quarter of a second */
	atomic_store(&l[1].copy_bytes, 3000000000ull);
	vgpud_sched_scan(&D, 2000 * MS);
	vgpud_stats_sample(&D, 2000 * MS);
	cr_expect_eq(vgpud_gpu_share(&D.vms[0], 1), 0.25);
	cr_expect_eq(vgpud_copy_rate(&D.vms[0], 1), 3e9);
	vgpud_stats_retire(&D.vms[0], 1);
	cr_expect_eq(vgpud_vm_copied(&D.vms[0]), 3000000000ull, "kept");
	static char buf[8192];
	vgpud_stats(&D, buf, sizeof(buf));
	cr_expect(strstr(buf, "GPU%_1S") && strstr(buf, "COPY_GB/S_1S"), "%s",
		  buf);
	vgpud_stats_prom(&D, buf, sizeof(buf));
	cr_expect(strstr(buf, "vgpu_vm_gpu_seconds_total{vm=\"vm0\"} 0.250000"),
		  "%s", buf);
	cr_expect(strstr(buf, "vgpu_vm_copy_bytes_total{vm=\"vm0\"} 3000000000"),
		  "%s", buf);
}

Test(sched_scan, a_reload_applies_weights_and_the_switch)
{
	D.cfg.vms[0].compute_weight = 300;
	D.cfg.vms[1].compute_cap = 30;
	vgpud_sched_apply(&D, 5 * MS);
	cr_expect_eq(D.sched->vm[0].weight, 300u);
	cr_expect_eq(D.sched->vm[1].cap_pct, 30u);
	/* both busy 40 ms, one context each: at 3:1 vm0 is not held where
	 * at 1:1 it would be (20 ms each is level: equal vtime at 1:1) */
	busy(0, 0, true, 5 * MS);
	busy(1, 0, true, 5 * MS);
	atomic_store(&C(0, 0)->waiting, 1);
	atomic_store(&C(1, 0)->waiting, 1);
	vgpud_sched_scan(&D, 5 * MS);
	atomic_store(&C(0, 0)->gpu_ns, 20 * MS);
	atomic_store(&C(1, 0)->gpu_ns, 20 * MS);
	vgpud_sched_scan(&D, 45 * MS);
	cr_expect_gt(tokens(0), 0);
	D.cfg.sched_on = false;
	vgpud_sched_apply(&D, 46 * MS);
	cr_expect_eq(atomic_load(&S(0)->on), 0u, "workers told: admit all");
	cr_expect_eq(atomic_load(&S(1)->on), 0u);
	uint64_t l = atomic_load(&S(0)->limit_ns);
	vgpud_sched_scan(&D, 47 * MS);
	cr_expect_eq(atomic_load(&S(0)->limit_ns), l, "off: the scan is idle");
}

/* ---- the worker's admission, over the sim -------------------------------- */

static const char PTX[] =
	".version 9.0\n.target sm_90\n.address_size 64\n"
	".global .align 8 .u64 vgpu_counter;\n"
	".visible .entry vgpu_inc_counter() { ret; }\n";

static struct vgpud_ledger *wl;

static void wk_up(void)
{
	wl = calloc(1, VGPUD_LEDGER_SIZE(1));
	cr_assert(wl);
	vwf_opts.ledger = wl;
	vwf_up();
	W.schedvm = vgpud_ledger_sched(wl, 1, 0); /* as worker_main.c maps it */
}

static void wk_down(void)
{
	vw_sched_close(&W);
	vwf_down();
	free(wl);
}

static struct vgpud_sched_vm *WS(void)
{
	return vgpud_ledger_sched(wl, 1, 0);
}

static struct vgpud_sched_chan *WC(void)
{
	return vgpud_ledger_sched_chan(wl, 1, 0, 0);
}

static uint64_t load_ptx(void)
{
	return vwf_load_module(PTX, sizeof(PTX) - 1);
}

static uint64_t fn, counter;

static void kernel(void)
{
	uint64_t mod = load_ptx();
	struct vgpu_cu_getfn g = {.module = mod};
	struct vgpu_cu_fninfo fi;
	struct vgpu_cu_args ga = {{0}};
	snprintf(g.name, sizeof(g.name), "vgpu_inc_counter");
	cr_assert_eq(request(VGPU_CU_MODULE_GET_FUNCTION, 0, &g, sizeof(g), &fi,
			     sizeof(fi)), CUDA_SUCCESS);
	snprintf(g.name, sizeof(g.name), "vgpu_counter");
	cr_assert_eq(request(VGPU_CU_MODULE_GET_GLOBAL, 0, &g, sizeof(g), &ga,
			     sizeof(ga)), CUDA_SUCCESS);
	fn = fi.function;
	counter = ga.a[0];
}

static int32_t launch(void)
{
	uint8_t buf[sizeof(struct vgpu_cu_launch)];
	struct vgpu_cu_launch L = {.function = fn,
				   .stream = (uint64_t)(uintptr_t)CU_STREAM_LEGACY,
				   .grid = {1, 1, 1}, .block = {1, 1, 1}};
	memcpy(buf, &L, sizeof(L));
	return request(VGPU_CU_LAUNCH, 0, buf, sizeof(L), NULL, 0);
}

static uint64_t read_counter(void)
{
	uint8_t buf[24];
	uint64_t x[3] = {counter, UINT64_MAX, 8}, v = 0;
	memcpy(buf, x, sizeof(x));
	cr_assert_eq(request(VGPU_CU_MEMCPY_DTOH_INLINE, 0, buf, sizeof(buf),
			     &v, sizeof(v)), CUDA_SUCCESS);
	return v;
}

/* Liveness only: something the worker does within a (generous) bound. */
#define EVENTUALLY(cond)                                                     \
	do {                                                                 \
		for (int i_ = 0; !(cond) && i_ < 10000; i_++)                \
			usleep(1000);                                        \
		cr_assert(cond, "never: %s", #cond);                         \
	} while (0)

TestSuite(sched_worker, .init = wk_up, .fini = wk_down);

Test(sched_worker, a_launch_spends_tokens_and_is_reported_until_done)
{
	kernel();
	atomic_store(&WS()->on, 1);
	atomic_store(&WS()->limit_ns, 100 * MS);
	cr_assert_eq(launch(), CUDA_SUCCESS);
	cr_expect_eq(atomic_load(&WS()->admitted_ns), VW_SCHED_DEFAULT_EST_NS,
		     "a function never seen costs the default estimate");
	cr_expect_geq(atomic_load(&WC()->busy_seq), 1u, "the context was busy");
	EVENTUALLY(atomic_load(&WC()->inflight) == 0);
	EVENTUALLY(atomic_load(&WC()->busy_seq) % 2 == 0); /* idle again */
	cr_expect_eq(atomic_load(&WC()->inflight_ns), 0u);
	cr_expect_eq(read_counter(), 1u);
	CUfunction f;
	struct vgpu_cu_fninfo fi;
	cr_assert_eq(vw_function(&W, fn, &f, &fi), CUDA_SUCCESS);
	cr_expect_neq(vw_sched_estimate(&W, f), VW_SCHED_DEFAULT_EST_NS,
		      "the estimate was learnt from the run");
}

static void *launcher(void *arg)
{
	int32_t *r = arg;
	W.drv.cuCtxSetCurrent(W.ctx); /* as an executor's guest thread */
	r[0] = launch();
	r[1] = launch();
	return NULL;
}

Test(sched_worker, without_tokens_launches_wait_in_order_and_go_on_a_grant)
{
	kernel();
	atomic_store(&WS()->on, 1);
	atomic_store(&WS()->limit_ns, 0); /* the VM has no tokens */
	int32_t r[2] = {-1, -1};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, launcher, r), 0);
	EVENTUALLY(atomic_load(&WC()->waiting) == 1);
	cr_expect_eq(atomic_load(&WS()->waiters), 1u, "demand is visible");
	cr_expect_eq(r[0], -1, "held, not refused");
	/* the supervisor's grant: enough for exactly one launch */
	atomic_store(&WS()->limit_ns, 1);
	atomic_fetch_add(&WS()->grant_seq, 1);
	vgpu_futex_wake(&WS()->grant_seq);
	EVENTUALLY(r[0] == CUDA_SUCCESS);
	EVENTUALLY(atomic_load(&WC()->waiting) == 1); /* the second waits */
	cr_expect_eq(r[1], -1);
	atomic_store(&WS()->limit_ns, UINT64_MAX);
	atomic_fetch_add(&WS()->grant_seq, 1);
	vgpu_futex_wake(&WS()->grant_seq);
	pthread_join(th, NULL);
	cr_expect_eq(r[1], CUDA_SUCCESS);
	cr_expect_eq(atomic_load(&WC()->waiting), 0u);
	cr_expect_gt(atomic_load(&WC()->held_ns), 0u);
	cr_expect_eq(read_counter(), 2u, "both ran, after their wait");
}

Test(sched_worker, with_the_scheduler_off_nothing_waits_or_counts)
{
	kernel();
	atomic_store(&WS()->on, 0);
	atomic_store(&WS()->limit_ns, 0);
	cr_expect_eq(launch(), CUDA_SUCCESS);
	cr_expect_eq(launch(), CUDA_SUCCESS);
	cr_expect_eq(atomic_load(&WS()->admitted_ns), 0u);
	cr_expect_eq(atomic_load(&WC()->busy_seq), 0u);
	cr_expect_eq(read_counter(), 2u);
	cr_expect_eq(atomic_load(&wl[0].copy_bytes), 8u,
		     "the 8 bytes read back are counted for copy GB/s");
}

/* ---- the switch in vgpud.conf --------------------------------------------- */

static int load_conf(const char *text, struct vgpud_config *c,
		     struct vgpud_cfgerr *e)
{
	char dir[] = "/tmp/vgpu-sched-conf-XXXXXX", path[64];
	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vgpud.conf", dir);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
	int rc = vgpud_config_load(dir, c, e);
	unlink(path);
	rmdir(dir);
	return rc;
}

Test(sched_conf, the_scheduler_is_on_unless_switched_off)
{
	static struct vgpud_config c;
	struct vgpud_cfgerr e;
	cr_assert_eq(load_conf("log_level = info\n", &c, &e), 0, "%s", e.msg);
	cr_expect(c.sched_on, "on by default");
	cr_expect(c.sched_solo, "a lone VM unmetered by default");
	cr_expect_eq(c.sched_queue_ahead_us, 0u, "queue_ahead off by default");
	cr_assert_eq(load_conf("scheduler = off\n", &c, &e), 0, "%s", e.msg);
	cr_expect(!c.sched_on);
	cr_assert_eq(load_conf("scheduler = on\n", &c, &e), 0, "%s", e.msg);
	cr_expect(c.sched_on);
	cr_expect_eq(load_conf("scheduler = maybe\n", &c, &e), -1);
	cr_expect_eq(e.line, 1);
	cr_expect(strstr(e.msg, "expected on") != NULL, "%s", e.msg);
}

Test(sched_conf, sched_solo_and_sched_queue_ahead)
{
	static struct vgpud_config c;
	struct vgpud_cfgerr e;
	cr_assert_eq(load_conf("sched_solo = off\nsched_queue_ahead = 500us\n",
			       &c, &e), 0, "%s", e.msg);
	cr_expect(!c.sched_solo);
	cr_expect_eq(c.sched_queue_ahead_us, 500u);
	cr_assert_eq(load_conf("sched_queue_ahead = 1ms\n", &c, &e), 0, "%s",
		     e.msg);
	cr_expect_eq(c.sched_queue_ahead_us, 1000u);
	cr_assert_eq(load_conf("sched_queue_ahead = off\n", &c, &e), 0, "%s",
		     e.msg);
	cr_expect_eq(c.sched_queue_ahead_us, 0u);
	cr_expect_eq(load_conf("\nsched_solo = maybe\n", &c, &e), -1);
	cr_expect_eq(e.line, 2);
	cr_expect(strstr(e.msg, "expected on") != NULL, "%s", e.msg);
	cr_expect_eq(load_conf("sched_queue_ahead = 50us\n", &c, &e), -1);
	cr_expect(strstr(e.msg, "expected off or a duration") != NULL, "%s",
		  e.msg);
}

/* The fuzzer's and older tests' workers have only the channels' part of
 * a ledger: no tokens to read, so launches go unscheduled. */
Test(sched_worker, a_worker_without_the_schedulers_ledger_part_admits_all)
{
	kernel();
	atomic_store(&WS()->on, 1);
	atomic_store(&WS()->limit_ns, 0); /* would hold every launch */
	W.schedvm = NULL;
	cr_expect_eq(launch(), CUDA_SUCCESS);
	cr_expect_eq(atomic_load(&WS()->admitted_ns), 0u);
	cr_expect_eq(read_counter(), 1u);
}

/* ---- solo: a VM alone on its GPU runs unmetered --------------------------- */

static void launched(int vm, int ch, uint64_t n)
{
	atomic_fetch_add(&C(vm, ch)->launches, n);
}

Test(sched_scan, a_lone_vm_runs_solo_until_another_has_work)
{
	D.cfg.sched_solo = true;
	launched(0, 0, 10); /* vm0 launches, vm1 has never had work */
	vgpud_sched_scan(&D, 2 * MS);
	cr_expect_eq(atomic_load(&S(0)->solo), 1u, "nobody to be fair to");
	cr_expect_eq(atomic_load(&S(1)->solo), 0u,
		     "vm0 had work: vm1's first launch is metered");
	launched(0, 0, 10);
	vgpud_sched_scan(&D, 3 * MS);
	cr_expect_eq(atomic_load(&S(0)->solo), 1u);
	/* vm1 asks: the next scan ends vm0's solo */
	atomic_store(&C(1, 0)->waiting, 1);
	launched(0, 0, 10);
	vgpud_sched_scan(&D, 4 * MS);
	cr_expect_eq(atomic_load(&S(0)->solo), 0u, "metered beside vm1");
	cr_expect_eq(atomic_load(&S(1)->solo), 0u);
	/* vm1 goes quiet: vm0 stays metered for a while (vm1 may come back
	 * between two of its kernels), then runs solo again */
	atomic_store(&C(1, 0)->waiting, 0);
	uint64_t t = 4;
	while (!atomic_load(&S(0)->solo) && t < 1000) {
		launched(0, 0, 1);
		vgpud_sched_scan(&D, ++t * MS);
	}
	cr_expect_geq(t, 4 + 50, "not before vm1 was quiet 50 ms");
	cr_expect_lt(t, 1000, "solo again once vm1 is quiet");
	cr_expect_eq(atomic_load(&S(1)->solo), 0u);
}

Test(sched_scan, never_solo_with_a_cap_or_with_sched_solo_off)
{
	D.cfg.sched_solo = true;
	D.cfg.vms[0].compute_cap = 30; /* a cap holds alone too */
	vgpud_sched_apply(&D, 2 * MS);
	launched(0, 0, 10);
	vgpud_sched_scan(&D, 3 * MS);
	cr_expect_eq(atomic_load(&S(0)->solo), 0u);
	D.cfg.vms[0].compute_cap = 0;
	D.cfg.sched_solo = false;
	vgpud_sched_apply(&D, 4 * MS);
	launched(0, 0, 10);
	vgpud_sched_scan(&D, 5 * MS);
	cr_expect_eq(atomic_load(&S(0)->solo), 0u, "sched_solo = off");
	D.cfg.sched_solo = true;
	launched(0, 0, 10);
	vgpud_sched_scan(&D, 6 * MS);
	cr_expect_eq(atomic_load(&S(0)->solo), 1u, "reloaded on: solo");
}

Test(sched_scan, a_vm_coming_back_beside_a_solo_one_banks_no_credit)
{
	D.cfg.sched_solo = true;
	/* both ran, vm0 far more (its vtime ahead); then vm1 went idle and
	 * vm0 ran alone, unmetered, for a second */
	busy(0, 0, true, 2 * MS);
	busy(1, 0, true, 2 * MS);
	vgpud_sched_scan(&D, 2 * MS);
	atomic_store(&C(0, 0)->gpu_ns, 90 * MS);
	atomic_store(&C(1, 0)->gpu_ns, 10 * MS);
	busy(0, 0, false, 102 * MS);
	busy(1, 0, false, 102 * MS);
	vgpud_sched_scan(&D, 102 * MS);
	for (uint64_t t = 103; t < 1200; t++) {
		launched(0, 0, 1);
		vgpud_sched_scan(&D, t * MS);
	}
	cr_assert_eq(atomic_load(&S(0)->solo), 1u);
	/* vm1 comes back: it may lead by max_lag (4 ms) at most, not by the
	 * 80 ms it was behind */
	atomic_store(&C(1, 0)->waiting, 1);
	launched(0, 0, 1);
	vgpud_sched_scan(&D, 1200 * MS);
	int64_t lead = (int64_t)(D.sched->vm[0].vtime - D.sched->vm[1].vtime);
	cr_expect_leq(lead, (int64_t)(4 * MS * VS_WEIGHT_MAX / 100),
		      "lead %lld", (long long)lead);
}

Test(sched_worker, a_solo_vm_launches_without_tokens_or_events)
{
	kernel();
	atomic_store(&WS()->on, 1);
	atomic_store(&WS()->solo, 1);
	atomic_store(&WS()->limit_ns, 0); /* would hold a metered launch */
	cr_expect_eq(launch(), CUDA_SUCCESS);
	cr_expect_eq(launch(), CUDA_SUCCESS);
	cr_expect_eq(atomic_load(&WS()->admitted_ns), 0u, "no tokens spent");
	cr_expect_eq(atomic_load(&WC()->busy_seq), 0u, "not metered");
	cr_expect_eq(atomic_load(&WC()->inflight), 0u);
	cr_expect_eq(atomic_load(&WC()->launches), 2u, "but counted: work");
	cr_expect_eq(read_counter(), 2u);
}

Test(sched_worker, a_waiting_launch_goes_when_its_vm_turns_solo)
{
	kernel();
	atomic_store(&WS()->on, 1);
	atomic_store(&WS()->limit_ns, 0);
	int32_t r[2] = {-1, -1};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, launcher, r), 0);
	EVENTUALLY(atomic_load(&WC()->waiting) == 1);
	cr_expect_eq(atomic_load(&WC()->waits), 1u, "a wait for a grant");
	atomic_store(&WS()->solo, 1); /* as the scan does: then a wake */
	atomic_fetch_add(&WS()->grant_seq, 1);
	vgpu_futex_wake(&WS()->grant_seq);
	pthread_join(th, NULL);
	cr_expect_eq(r[0], CUDA_SUCCESS);
	cr_expect_eq(r[1], CUDA_SUCCESS);
	cr_expect_eq(atomic_load(&WS()->admitted_ns), 0u);
	cr_expect_eq(read_counter(), 2u);
}
