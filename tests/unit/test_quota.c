/* tests/unit/test_quota.c - the VM memory quota (daemon/worker_quota.c):
 * two workers of one VM (two guest processes) over the sim, sharing one
 * ledger as vgpud's workers do, calling the generated handlers. */
#include "../../daemon/devinfo.h"
#include "../../daemon/worker.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1ull << 20)

static struct vworker W1, W2;
static struct vgpud_ledger *ledger;
static struct vgpud_vm_ledger *vml;

static void worker(struct vworker *W, uint32_t chan)
{
	char err[256] = "";
	cr_assert_eq(vgpu_backend_sim_open(&W->drv, err, sizeof(err)), 0, "%s",
		     err);
	pthread_mutex_init(&W->mu, NULL);
	W->ledger = ledger;
	W->vmledger = vml;
	W->chan = chan;
}

static void up(void)
{
	ledger = calloc(1, VGPUD_LEDGER_SIZE(2));
	cr_assert_not_null(ledger);
	vml = vgpud_ledger_vm(ledger, 2);
	worker(&W1, 0);
	worker(&W2, 1);
	CUcontext ctx;
	cr_assert_eq(W1.drv.cuInit(0), CUDA_SUCCESS);
	cr_assert_eq(W1.drv.cuDevicePrimaryCtxRetain(&ctx, 0), CUDA_SUCCESS);
	cr_assert_eq(W1.drv.cuCtxSetCurrent(ctx), CUDA_SUCCESS);
}

static void down(void)
{
	free(ledger);
}

TestSuite(quota, .init = up, .fini = down);

static CUresult gen(struct vworker *W, const char *name,
		    struct vgpu_cu_args *a)
{
	for (const struct vw_gen_entry *e = vw_gen_table; e->name; e++)
		if (!strcmp(e->name, name)) {
			struct vgpu_cu_args in = *a;
			memset(a, 0, sizeof(*a));
			return e->fn(W, &in, a);
		}
	cr_assert_fail("no handler %s", name);
	return CUDA_ERROR_UNKNOWN;
}

static CUresult alloc(struct vworker *W, uint64_t bytes, uint64_t *dptr)
{
	struct vgpu_cu_args a = {{bytes}};
	CUresult r = gen(W, "cuMemAlloc_v2", &a);
	*dptr = a.a[0];
	return r;
}

static CUresult mfree(struct vworker *W, uint64_t dptr)
{
	struct vgpu_cu_args a = {{dptr}};
	return gen(W, "cuMemFree_v2", &a);
}

static void meminfo(struct vworker *W, uint64_t *fr, uint64_t *total)
{
	struct vgpu_cu_args a = {{0}};
	cr_assert_eq(gen(W, "cuMemGetInfo_v2", &a), CUDA_SUCCESS);
	*fr = a.a[0];
	*total = a.a[1];
}

Test(quota, spans_the_vms_processes)
{
	uint64_t a, b, c;
	atomic_store(&vml->mem_limit, 10 * MiB);
	cr_assert_eq(alloc(&W1, 6 * MiB, &a), CUDA_SUCCESS);
	cr_expect_eq(alloc(&W2, 6 * MiB, &b), CUDA_ERROR_OUT_OF_MEMORY,
		     "6 + 6 MiB over a 10 MiB limit, across processes");
	cr_expect_eq(W2.nallocs, 0u, "the driver was never asked");
	cr_expect_eq(atomic_load(&vml->mem_refused), 1u);
	cr_assert_eq(alloc(&W2, 4 * MiB, &b), CUDA_SUCCESS, "exactly full");
	cr_expect_eq(atomic_load(&vml->mem_used), 10 * MiB);
	cr_expect_eq(atomic_load(&ledger[0].mem_in_use), 6 * MiB);
	cr_expect_eq(atomic_load(&ledger[1].mem_in_use), 4 * MiB);
	cr_expect_eq(alloc(&W1, 1, &c), CUDA_ERROR_OUT_OF_MEMORY);

	cr_assert_eq(mfree(&W1, a), CUDA_SUCCESS);
	cr_expect_eq(atomic_load(&vml->mem_used), 4 * MiB, "freed is returned");
	cr_expect_eq(atomic_load(&ledger[0].mem_in_use), 0u);
	cr_assert_eq(alloc(&W2, 6 * MiB, &c), CUDA_SUCCESS);
	cr_expect_eq(mfree(&W1, c), CUDA_ERROR_INVALID_VALUE,
		     "another process's pointer is not freed, nor uncharged");
	cr_expect_eq(atomic_load(&vml->mem_used), 10 * MiB);
	cr_expect_eq(mfree(&W2, b), CUDA_SUCCESS);
	cr_expect_eq(mfree(&W2, c), CUDA_SUCCESS);
	cr_expect_eq(atomic_load(&vml->mem_used), 0u);
}

Test(quota, mem_get_info_is_quota_relative)
{
	uint64_t fr, total, pfree, ptotal, a, b;
	size_t f0, t0;
	meminfo(&W1, &pfree, &ptotal);
	cr_assert_eq(W1.drv.cuMemGetInfo_v2(&f0, &t0), CUDA_SUCCESS);
	cr_expect_eq(pfree, f0, "no limit: the device's figures");
	cr_expect_eq(ptotal, t0);

	atomic_store(&vml->mem_limit, 64 * MiB);
	cr_assert_eq(alloc(&W1, 16 * MiB, &a), CUDA_SUCCESS);
	cr_assert_eq(alloc(&W2, 8 * MiB, &b), CUDA_SUCCESS);
	meminfo(&W1, &fr, &total);
	cr_expect_eq(total, 64 * MiB);
	cr_expect_eq(fr, 40 * MiB, "limit - used, all processes");
	meminfo(&W2, &fr, &total);
	cr_expect_eq(fr, 40 * MiB, "the same from the other process");

	/* a limit above the device: physical figures bound it */
	atomic_store(&vml->mem_limit, (uint64_t)t0 * 2);
	meminfo(&W1, &fr, &total);
	cr_assert_eq(W1.drv.cuMemGetInfo_v2(&f0, &t0), CUDA_SUCCESS);
	cr_expect_eq(total, t0);
	cr_expect_eq(fr, f0);

	/* devinfo: the guest's device total follows a reloaded limit */
	atomic_store(&vml->mem_limit, 64 * MiB);
	vw_mem_refresh_devinfo(&W1);
	cr_expect_eq(W1.info.total_mem, 64 * MiB);
	mfree(&W1, a);
	mfree(&W2, b);
}

Test(quota, lowered_limit_refuses_new_and_keeps_live)
{
	uint64_t a, b, c, fr, total;
	atomic_store(&vml->mem_limit, 16 * MiB);
	cr_assert_eq(alloc(&W1, 6 * MiB, &a), CUDA_SUCCESS);
	cr_assert_eq(alloc(&W2, 6 * MiB, &b), CUDA_SUCCESS);
	atomic_store(&vml->mem_limit, 8 * MiB); /* vgpuctl reload */
	cr_expect_eq(alloc(&W1, 1, &c), CUDA_ERROR_OUT_OF_MEMORY);
	cr_expect_eq(vw_range(&W1, a, 6 * MiB), CUDA_SUCCESS, "still live");
	cr_expect_eq(vw_range(&W2, b, 6 * MiB), CUDA_SUCCESS, "still live");
	meminfo(&W1, &fr, &total);
	cr_expect_eq(fr, 0u, "over the limit: nothing free");
	cr_expect_eq(total, 8 * MiB);
	cr_assert_eq(mfree(&W1, a), CUDA_SUCCESS);
	cr_expect_eq(alloc(&W1, 3 * MiB, &c), CUDA_ERROR_OUT_OF_MEMORY);
	cr_expect_eq(alloc(&W1, 2 * MiB, &c), CUDA_SUCCESS, "6 + 2 = 8 MiB");
	atomic_store(&vml->mem_limit, 0); /* raised: no limit */
	cr_expect_eq(alloc(&W1, 64 * MiB, &a), CUDA_SUCCESS);
	mfree(&W1, a);
	mfree(&W1, c);
	mfree(&W2, b);
	cr_expect_eq(atomic_load(&vml->mem_used), 0u);
}

Test(quota, driver_failure_uncharges)
{
	uint64_t a;
	atomic_store(&vml->mem_limit, 0);
	cr_expect_eq(alloc(&W1, 0, &a), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(alloc(&W1, 1ull << 50, &a), CUDA_ERROR_OUT_OF_MEMORY,
		     "the device itself is out of memory");
	cr_expect_eq(atomic_load(&vml->mem_used), 0u);
	cr_expect_eq(W1.mem_in_use, 0u);
	cr_expect_eq(atomic_load(&vml->mem_refused), 0u, "not the quota's");
	/* an uncharge without a charge must not wrap the counters */
	vw_mem_uncharge(&W1, 5);
	cr_expect_eq(atomic_load(&vml->mem_used), 0u);
	cr_expect_eq(W1.mem_in_use, 0u);
}

/* Two processes racing for the last bytes: the compare-and-swap lets
 * exactly the limit through, whatever the interleaving. */
#define RACE_LIMIT 200000u
static void *racer(void *arg)
{
	struct vworker *W = arg;
	uintptr_t won = 0;
	for (uint32_t i = 0; i < RACE_LIMIT; i++)
		won += vw_mem_charge(W, 1) == CUDA_SUCCESS;
	return (void *)won;
}

Test(quota, racing_processes_cannot_both_pass)
{
	pthread_t t1, t2;
	void *w1, *w2;
	atomic_store(&vml->mem_limit, RACE_LIMIT);
	pthread_create(&t1, NULL, racer, &W1);
	pthread_create(&t2, NULL, racer, &W2);
	pthread_join(t1, &w1);
	pthread_join(t2, &w2);
	cr_expect_eq((uintptr_t)w1 + (uintptr_t)w2, RACE_LIMIT);
	cr_expect_eq(atomic_load(&vml->mem_used), RACE_LIMIT);
	cr_expect_eq(atomic_load(&vml->mem_refused), RACE_LIMIT);
	cr_expect_eq(atomic_load(&ledger[0].mem_in_use) +
			     atomic_load(&ledger[1].mem_in_use),
		     RACE_LIMIT);
}
