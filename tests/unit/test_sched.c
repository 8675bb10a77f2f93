/* tests/unit/test_sched.c - the fair-share policy (scheduler/) on a
 * simulated clock and GPU (scheduler/simgpu.h): synthetic workloads, each
 * run with and without the scheduler, shares taken from the simulation's
 * own record of who ran, never from the scheduler's accounting. */
#include "scheduler/simgpu.h"
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define US 1000ull
#define MS 1000000ull
#define SEC 1000000000ull

static struct vs_sched S;
static struct vs_sim M;

/* A fresh simulation; sched false: every launch admitted at once. */
static void fresh(bool sched)
{
	memset(&M, 0, sizeof(M));
	vs_init(&S, NULL, 0);
	M.s = sched ? &S : NULL;
}

static void vm(uint32_t i, uint32_t weight, uint32_t cap)
{
	cr_assert_eq(vs_vm_set(&S, i, weight, cap, M.now), 0);
}

static void procs(uint32_t vmi, uint32_t n, uint64_t kernel, uint32_t depth)
{
	for (uint32_t k = 0; k < n; k++) {
		struct vs_sim_proc p = {.vm = vmi, .kernel_ns = kernel,
					.depth = depth};
		cr_assert_geq(vs_sim_add(&M, &p), 0);
	}
}

/* Shares of the GPU time given between two snapshots. */
static void shares(const double *before, uint32_t n, double *out)
{
	double total = 0;
	for (uint32_t i = 0; i < n; i++)
		total += M.gpu_ns[i] - (before ? before[i] : 0);
	for (uint32_t i = 0; i < n; i++)
		out[i] = (M.gpu_ns[i] - (before ? before[i] : 0)) / total;
}

static void expect_shares(const double *got, const double *want, uint32_t n,
			  double tol)
{
	for (uint32_t i = 0; i < n; i++)
		cr_expect(fabs(got[i] - want[i]) <= tol,
			  "vm %u: share %.4f, entitled %.4f (tolerance %.3f)",
			  i, got[i], want[i], tol);
}

/* ---- the meter ---- */

Test(sched_meter, contexts_of_one_vm_count_once)
{
	static struct vs_meter m;
	vs_meter_init(&m, 0);
	vs_meter_busy(&m, 0, 0);
	vs_meter_busy(&m, 0, 5 * MS); /* overlaps the first */
	vs_meter_idle(&m, 0, 10 * MS);
	vs_meter_idle(&m, 0, 15 * MS);
	cr_expect_eq(vs_meter_gpu_ns(&m, 0), 15 * MS, "union, not the sum");
}

Test(sched_meter, interleaved_vms_split_by_busy_contexts)
{
	static struct vs_meter m;
	vs_meter_init(&m, 0);
	for (int i = 0; i < 3; i++)
		vs_meter_busy(&m, 0, 0);
	vs_meter_busy(&m, 1, 0);
	vs_meter_advance(&m, 8 * MS);
	cr_expect_eq(vs_meter_gpu_ns(&m, 0), 6 * MS);
	cr_expect_eq(vs_meter_gpu_ns(&m, 1), 2 * MS);
	/* never more than the wall time, whatever the interleaving */
	vs_meter_idle(&m, 0, 9 * MS);
	vs_meter_advance(&m, 12 * MS);
	cr_expect_eq(vs_meter_gpu_ns(&m, 0) + vs_meter_gpu_ns(&m, 1), 12 * MS);
	/* time going backwards and stray idles change nothing */
	vs_meter_advance(&m, 1 * MS);
	vs_meter_idle(&m, 7, 12 * MS);
	cr_expect_eq(m.busy_total, 3u);
	vs_meter_busy(&m, VS_MAX_VMS, 12 * MS);
	cr_expect_eq(m.busy_total, 3u);
}

Test(sched_meter, remainders_are_kept)
{
	static struct vs_meter m;
	vs_meter_init(&m, 0);
	vs_meter_busy(&m, 0, 0);
	vs_meter_busy(&m, 1, 0);
	vs_meter_busy(&m, 2, 0);
	for (uint64_t t = 1; t <= 3000; t++)
		vs_meter_advance(&m, t); /* 1 ns steps split three ways */
	cr_expect_eq(vs_meter_gpu_ns(&m, 0), 1000u);
	cr_expect_eq(vs_meter_gpu_ns(&m, 1), 1000u);
	cr_expect_eq(vs_meter_gpu_ns(&m, 2), 1000u);
}

/* ---- admission, tokens ---- */

Test(sched_policy, grant_and_queue_cap)
{
	fresh(true);
	vm(0, 1, 0);
	cr_expect_eq(vs_grant_ns(&S, 0, 0), 4 * MS);
	cr_expect(vs_admit(&S, 0, 3 * MS, 0));
	cr_expect_eq(vs_grant_ns(&S, 0, 0), 1 * MS);
	cr_expect(vs_admit(&S, 0, 2 * MS, 0), "a second launch always fits");
	cr_expect_eq(vs_grant_ns(&S, 0, 0), 0u);
	cr_expect(!vs_admit(&S, 0, 1 * MS, 0), "over the queue cap");
	vs_complete(&S, 0, 3 * MS, 1);
	vs_complete(&S, 0, 2 * MS, 1);
	cr_expect(vs_admit(&S, 0, 40 * MS, 1), "one launch always fits");
	cr_expect_eq(vs_grant_ns(&S, 0, 1), 1u, "room for one behind it");
	cr_expect(vs_admit(&S, 0, 40 * MS, 1), "and a second behind it");
	cr_expect_eq(vs_grant_ns(&S, 0, 1), 0u);
	cr_expect(!vs_admit(&S, 0, 1, 1), "not a third");
	cr_expect(!vs_admit(&S, 3, 1, 1), "an unknown VM admits nothing");
	cr_expect_str_eq(vs_held(&S, 3, 1), "not configured");
	cr_expect_eq(vs_vm_set(&S, VS_MAX_VMS, 1, 0, 1), -1);
	cr_expect_eq(vs_vm_set(&S, 1, VS_WEIGHT_MAX + 1, 0, 1), -1);
	cr_expect_eq(vs_vm_set(&S, 1, 1, 101, 1), -1);
}

Test(sched_policy, ahead_by_slack_is_held_until_others_catch_up)
{
	fresh(true);
	vm(0, 1, 0);
	vm(1, 1, 0);
	vs_demand(&S, 1, true, 0);
	cr_expect(vs_admit(&S, 0, MS, 0));
	vs_ctx_busy(&S, 0, 0);
	vs_ctx_idle(&S, 0, 3 * MS); /* VM 0 ran 3 ms alone */
	vs_complete(&S, 0, MS, 3 * MS);
	cr_expect_str_eq(vs_held(&S, 0, 3 * MS), "fair share");
	cr_expect_eq(vs_grant_ns(&S, 0, 3 * MS), 0u);
	cr_expect(vs_admit(&S, 1, MS, 3 * MS));
	vs_ctx_busy(&S, 1, 3 * MS);
	vs_ctx_idle(&S, 1, 5 * MS); /* VM 1 catches up by 2 ms */
	cr_expect_null(vs_held(&S, 0, 5 * MS));
	/* an idle VM does not hold others back */
	vs_complete(&S, 1, MS, 5 * MS);
	vs_demand(&S, 1, false, 5 * MS);
	vs_ctx_busy(&S, 0, 5 * MS);
	cr_expect_null(vs_held(&S, 0, 50 * MS), "work-conserving");
}

Test(sched_policy, cap_bucket_and_debt)
{
	fresh(true);
	vm(0, 1, 50);
	cr_expect(vs_admit(&S, 0, MS, 0));
	vs_ctx_busy(&S, 0, 0);
	vs_ctx_idle(&S, 0, 30 * MS); /* a 30 ms kernel: 10 ms budget, 15 refill */
	vs_complete(&S, 0, MS, 30 * MS);
	cr_expect_str_eq(vs_held(&S, 0, 30 * MS), "compute cap");
	cr_expect_eq(S.vm[0].budget_ns, -5 * (int64_t)MS, "the overrun is debt");
	cr_expect_str_eq(vs_held(&S, 0, 40 * MS), "compute cap");
	cr_expect_null(vs_held(&S, 0, 41 * MS), "repaid at 50%%");
}

/* ---- synthetic workloads ---- */

Test(sched_sim, one_to_one, .timeout = 60)
{
	double sh[2], want[2] = {0.5, 0.5};
	fresh(true);
	vm(0, 1, 0);
	vm(1, 1, 0);
	procs(0, 1, 1 * MS, 8);   /* deep queue of long kernels */
	procs(1, 1, 100 * US, 1); /* one short kernel at a time */
	vs_sim_run(&M, 10 * SEC);
	shares(NULL, 2, sh);
	expect_shares(sh, want, 2, 0.02);
	cr_expect_geq(vs_jain(sh, want, 2), 0.99);
	cr_expect_eq(M.idle_with_work_ns, 0u, "work-conserving");
}

Test(sched_sim, weights_three_to_one, .timeout = 60)
{
	double sh[2], want[2] = {0.75, 0.25};
	fresh(false);
	procs(0, 1, 1 * MS, 4);
	procs(1, 1, 1 * MS, 4);
	vs_sim_run(&M, 10 * SEC);
	shares(NULL, 2, sh);
	cr_expect(fabs(sh[0] - 0.5) < 0.01, "without: the GPU splits evenly");

	fresh(true);
	vm(0, 3, 0);
	vm(1, 1, 0);
	procs(0, 1, 1 * MS, 4);
	procs(1, 1, 1 * MS, 4);
	vs_sim_run(&M, 10 * SEC);
	shares(NULL, 2, sh);
	expect_shares(sh, want, 2, 0.02);
	cr_expect_geq(vs_jain(sh, want, 2), 0.99);
	cr_expect_eq(M.idle_with_work_ns, 0u);
}

Test(sched_sim, four_processes_against_one, .timeout = 60)
{
	double sh[2], want[2] = {0.5, 0.5};
	fresh(false);
	procs(0, 4, 1 * MS, 2);
	procs(1, 1, 1 * MS, 2);
	vs_sim_run(&M, 10 * SEC);
	shares(NULL, 2, sh);
	cr_expect_lt(vs_jain(sh, want, 2), 0.75, "without: 4:1 (Jain %.3f)",
		     vs_jain(sh, want, 2));

	fresh(true);
	vm(0, 1, 0);
	vm(1, 1, 0);
	procs(0, 4, 1 * MS, 2);
	procs(1, 1, 1 * MS, 2);
	vs_sim_run(&M, 10 * SEC);
	shares(NULL, 2, sh);
	expect_shares(sh, want, 2, 0.02);
	cr_expect_geq(vs_jain(sh, want, 2), 0.99, "Jain %.4f",
		      vs_jain(sh, want, 2));
	cr_expect_eq(M.idle_with_work_ns, 0u);
}

Test(sched_sim, four_equal_vms, .timeout = 60)
{
	double sh[4], want[4] = {0.25, 0.25, 0.25, 0.25};
	fresh(false);
	for (uint32_t i = 0; i < 4; i++)
		procs(i, i + 1, 500 * US, 2);
	vs_sim_run(&M, 10 * SEC);
	shares(NULL, 4, sh);
	cr_expect_lt(vs_jain(sh, want, 4), 0.90);

	fresh(true);
	for (uint32_t i = 0; i < 4; i++) {
		vm(i, 1, 0);
		procs(i, i + 1, 500 * US, 2); /* 1, 2, 3 and 4 processes */
	}
	vs_sim_run(&M, 10 * SEC);
	shares(NULL, 4, sh);
	expect_shares(sh, want, 4, 0.02);
	cr_expect_geq(vs_jain(sh, want, 4), 0.99, "Jain %.4f",
		      vs_jain(sh, want, 4));
	cr_expect_eq(M.idle_with_work_ns, 0u);
}

Test(sched_sim, hard_caps, .timeout = 60)
{
	double sh[2];
	/* alone: the cap holds even with the GPU otherwise idle */
	fresh(true);
	vm(0, 1, 30);
	procs(0, 1, 1 * MS, 4);
	vs_sim_run(&M, 10 * SEC);
	double used = M.gpu_ns[0] / (double)(10 * SEC);
	cr_expect(fabs(used - 0.30) <= 0.01, "alone at cap 30%%: %.4f", used);
	cr_expect_gt(S.vm[0].throttled_ns, 0u);

	/* beside an uncapped VM: the rest goes to it, nothing idles */
	fresh(true);
	vm(0, 1, 30);
	vm(1, 1, 0);
	procs(0, 2, 1 * MS, 4);
	procs(1, 1, 1 * MS, 4);
	vs_sim_run(&M, 10 * SEC);
	shares(NULL, 2, sh);
	double want[2] = {0.30, 0.70};
	expect_shares(sh, want, 2, 0.02);
	cr_expect_eq(M.idle_with_work_ns, 0u);

	/* a cap above the fair share changes nothing */
	fresh(true);
	vm(0, 1, 80);
	vm(1, 1, 0);
	procs(0, 4, 1 * MS, 2);
	procs(1, 1, 1 * MS, 2);
	vs_sim_run(&M, 10 * SEC);
	shares(NULL, 2, sh);
	double half[2] = {0.5, 0.5};
	expect_shares(sh, half, 2, 0.02);
}

/* An idle VM banks no credit: when it wakes after 5 s it gets its share,
 * not the whole GPU until it has caught up; while it sleeps the other VM
 * has the whole GPU. */
Test(sched_sim, idle_vm_banks_no_credit, .timeout = 60)
{
	double sh[2], at_wake[2], half[2] = {0.5, 0.5};
	fresh(true);
	vm(0, 1, 0);
	vm(1, 1, 0);
	procs(0, 1, 1 * MS, 4);
	struct vs_sim_proc late = {.vm = 1, .kernel_ns = 1 * MS, .depth = 4,
				   .start_ns = 5 * SEC};
	vs_sim_add(&M, &late);
	vs_sim_run(&M, 5 * SEC);
	cr_expect_eq(M.gpu_ns[0], 5.0 * SEC, "work-conserving while B idles");
	memcpy(at_wake, M.gpu_ns, sizeof(at_wake));
	vs_sim_run(&M, 5 * SEC + 200 * MS);
	shares(at_wake, 2, sh);
	cr_expect_leq(sh[1], 0.5 + 0.05, "first 200 ms after waking: %.3f",
		      sh[1]);
	vs_sim_run(&M, 10 * SEC);
	shares(at_wake, 2, sh);
	expect_shares(sh, half, 2, 0.02);
	cr_expect_eq(M.idle_with_work_ns, 0u);
}

/* A bursty light VM (short kernels, one at a time, 10 ms on / 40 ms off)
 * beside a heavy VM with four processes and deep queues: it gets all it
 * asks for, and its kernels finish sooner than without the scheduler. */
Test(sched_sim, bursty_light_vm_beside_heavy, .timeout = 60)
{
	struct vs_sim_proc light = {.vm = 1, .kernel_ns = 200 * US, .depth = 1,
				    .on_ns = 10 * MS, .off_ns = 40 * MS};
	uint64_t lat_without, lat_with, done_without;
	fresh(false);
	procs(0, 4, 1 * MS, 8);
	int li = vs_sim_add(&M, &light);
	vs_sim_run(&M, 10 * SEC);
	lat_without = M.p[li].lat_sum_ns / M.p[li].done;
	done_without = M.p[li].done;

	fresh(true);
	vm(0, 1, 0);
	vm(1, 1, 0);
	procs(0, 4, 1 * MS, 8);
	li = vs_sim_add(&M, &light);
	vs_sim_run(&M, 10 * SEC);
	lat_with = M.p[li].lat_sum_ns / M.p[li].done;
	cr_expect_eq(M.idle_with_work_ns, 0u);
	cr_expect_lt(lat_with, lat_without, "mean latency %llu ns with, %llu "
		     "without", (unsigned long long)lat_with,
		     (unsigned long long)lat_without);
	cr_expect_geq(M.p[li].done, done_without);
	/* the light VM is never held for its share (it is always behind),
	 * nor queued behind the heavy VM: its launches are admitted at once */
	cr_expect_eq(S.vm[1].throttled_ns, 0u);
	cr_expect_eq(M.p[li].wait_max_ns, 0u);
}

/* Kernels 100x the slack, one VM's estimates 50x too low: the overrun is
 * measured and repaid, so shares hold over the horizon. */
Test(sched_sim, long_kernels, .timeout = 120)
{
	double sh[2], half[2] = {0.5, 0.5};
	fresh(true);
	vm(0, 1, 0);
	vm(1, 1, 0);
	for (int i = 0; i < 4; i++) {
		struct vs_sim_proc p = {.vm = 0, .kernel_ns = 50 * MS,
					.est_ns = 1 * MS, .depth = 2};
		vs_sim_add(&M, &p);
	}
	procs(1, 1, 500 * US, 4);
	vs_sim_run(&M, 20 * SEC);
	shares(NULL, 2, sh);
	expect_shares(sh, half, 2, 0.02);
	cr_expect_geq(vs_jain(sh, half, 2), 0.99);
	cr_expect_gt(S.vm[0].throttled_ns, 0u, "paid back by waiting");
	cr_expect_eq(M.idle_with_work_ns, 0u);
}

Test(sched_sim, reweight_while_running, .timeout = 60)
{
	double sh[2], mid[2], w31[2] = {0.75, 0.25};
	fresh(true);
	vm(0, 1, 0);
	vm(1, 1, 0);
	procs(0, 2, 1 * MS, 2);
	procs(1, 2, 1 * MS, 2);
	vs_sim_run(&M, 2 * SEC);
	memcpy(mid, M.gpu_ns, sizeof(mid));
	vm(0, 3, 0); /* `vgpuctl reload` with a new weight */
	vs_sim_run(&M, 10 * SEC);
	shares(mid, 2, sh);
	expect_shares(sh, w31, 2, 0.02);
}

Test(sched_sim, deterministic, .timeout = 60)
{
	double first[4];
	for (int run = 0; run < 2; run++) {
		fresh(true);
		for (uint32_t i = 0; i < 4; i++) {
			vm(i, i + 1, i == 3 ? 20 : 0);
			procs(i, 4 - i, (i + 1) * 300 * US, 3);
		}
		vs_sim_run(&M, 3 * SEC);
		if (run == 0)
			memcpy(first, M.gpu_ns, sizeof(first));
		else
			cr_expect_arr_eq(first, M.gpu_ns, sizeof(first));
	}
}

/* Weights 1:2:3 beside a heavier VM (weight 6) capped at 10%: the cap
 * binds, and what it leaves goes to the others by weight. */
Test(sched_sim, weights_with_a_binding_cap, .timeout = 60)
{
	double sh[4], want[4] = {0.15, 0.30, 0.45, 0.10};
	fresh(true);
	vm(0, 1, 0);
	vm(1, 2, 0);
	vm(2, 3, 0);
	vm(3, 6, 10);
	for (uint32_t i = 0; i < 4; i++)
		procs(i, 2, (i + 1) * 250 * US, 3);
	vs_sim_run(&M, 10 * SEC);
	shares(NULL, 4, sh);
	expect_shares(sh, want, 4, 0.02);
	double w[4] = {0.15, 0.30, 0.45, 0.10};
	cr_expect_geq(vs_jain(sh, w, 4), 0.99);
	cr_expect_eq(M.idle_with_work_ns, 0u);
}

/* Four equal VMs of one process each: fair with or without. */
Test(sched_sim, one_one_one_one, .timeout = 60)
{
	double sh[4], want[4] = {0.25, 0.25, 0.25, 0.25};
	fresh(true);
	for (uint32_t i = 0; i < 4; i++) {
		vm(i, 100, 0);
		procs(i, 1, (i + 1) * 200 * US, 4); /* unequal kernel sizes */
	}
	vs_sim_run(&M, 10 * SEC);
	shares(NULL, 4, sh);
	expect_shares(sh, want, 4, 0.02);
	cr_expect_geq(vs_jain(sh, want, 4), 0.99);
}

/* queue_ahead: a VM ahead of another that had work lately queues at most
 * queue_ahead_ns, with no second launch beyond it (what the one behind,
 * a light VM between its kernels too, waits behind); the VM behind keeps
 * the whole queue, and once the other is quiet for recent_ns the queue
 * is whole again. */
Test(sched_policy, queue_ahead_caps_the_vm_ahead_while_another_is_recent)
{
	struct vs_params p = {.slack_ns = 2 * MS, .max_lag_ns = 4 * MS,
			      .queue_ns = 2 * MS, .cap_burst_ns = 10 * MS,
			      .queue_ahead_ns = 500 * US,
			      .recent_ns = 20 * MS};
	vs_init(&S, &p, 0);
	vm(0, 1, 0);
	vm(1, 1, 0);
	/* both ask; vm0 has run 1 ms more (ahead, within the slack) */
	vs_tokens(&S, 0, true, 0, 0, 0);
	vs_tokens(&S, 1, true, 0, 0, 0);
	vs_charge(&S, 0, 1 * MS, 1 * MS);
	cr_expect_eq(vs_tokens(&S, 0, true, 0, 0, 1 * MS), 500 * US);
	cr_expect_eq(vs_tokens(&S, 1, true, 0, 0, 1 * MS), 2 * MS,
		     "the VM behind keeps the whole queue");
	cr_expect_eq(vs_tokens(&S, 0, true, 1, 1 * MS, 1 * MS), 0u,
		     "one kernel queued, no second beyond the cap");
	cr_expect(!vs_admit(&S, 0, 1 * MS, 1 * MS), "vs_admit agrees");
	cr_expect_eq(S.vm[0].queued, 1u);
	/* vm1 idle since 1 ms: still recent at 15 ms, not at 25 ms */
	vs_tokens(&S, 1, false, 0, 0, 2 * MS);
	cr_expect_eq(vs_tokens(&S, 0, true, 0, 0, 15 * MS), 500 * US);
	cr_expect_eq(vs_tokens(&S, 0, true, 0, 0, 25 * MS), 2 * MS,
		     "alone lately: the whole queue");
	/* a VM behind that keeps a queue of its own (two launches queued
	 * lately: throughput-bound, as in the weighted case) does not cap
	 * the VM ahead: a shorter queue would only idle the GPU */
	vs_tokens(&S, 1, true, 2, 2 * MS, 30 * MS);
	vs_charge(&S, 0, 500 * US, 31 * MS);
	cr_expect_gt(S.vm[0].vtime, S.vm[1].vtime, "vm0 is ahead");
	cr_expect_eq(vs_tokens(&S, 0, true, 0, 0, 31 * MS), 2 * MS,
		     "the VM behind is not latency-bound");
	/* it drains to one launch at a time: latency-bound once its last
	 * deep queue is recent_ns old */
	vs_tokens(&S, 1, true, 1, 1 * MS, 40 * MS);
	cr_expect_eq(vs_tokens(&S, 0, true, 0, 0, 45 * MS), 2 * MS);
	vs_tokens(&S, 1, true, 1, 1 * MS, 55 * MS);
	cr_expect_eq(vs_tokens(&S, 0, true, 0, 0, 55 * MS), 500 * US,
		     "one launch at a time for 20 ms: latency-bound");
	/* without queue_ahead (the default) nothing changes */
	vs_init(&S, NULL, 0);
	vm(0, 1, 0);
	vm(1, 1, 0);
	vs_tokens(&S, 0, true, 0, 0, 0);
	vs_tokens(&S, 1, true, 0, 0, 0);
	vs_charge(&S, 0, 1 * MS, 1 * MS);
	cr_expect_eq(vs_tokens(&S, 0, true, 0, 0, 1 * MS), 4 * MS);
}
