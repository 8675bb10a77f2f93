/* The supervisor's side of the VM info block (daemon/vminfo_pub.c), with
 * the clock in the test's hands: nothing is published as a device until a
 * worker has left the identity in the ledger; then the block carries it
 * byte for byte, the VM's memory summed over the ledger, its guest
 * processes, its quota, the sim's sensors; utilization is the share of the
 * last ten periods with requests; refreshes wait for their period. */
#include "../../daemon/vminfo_pub.h"
#include <criterion/criterion.h>
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB (1ull << 20)
#define PERIOD (VGPUD_VMINFO_PERIOD_MS * 1000000ull)
#define NCH 4

static struct vgpud d;
static struct vgpud_vm cfg;
static struct vgpud_vmstate v;
static struct vgpud_worker workers[2];
static uint8_t *region;
static uint64_t now;

static void setup(void)
{
	size_t len = 4 * MiB;
	region = aligned_alloc(4096, len);
	cr_assert_not_null(region);
	struct vgpu_geom g = {.nchannels = NCH, .nslots = 8, .slot_size = 256};
	cr_assert_eq(vgpu_geom_fit(&g, len), 0);
	cr_assert_eq(vgpu_region_format(&v.r, region, len, &g, 0), 0);
	cfg = (struct vgpud_vm){.name = "vm1", .channels = NCH,
				.memory_limit = 512 * MiB};
	v.cfg = &cfg;
	v.ledger = calloc(1, VGPUD_LEDGER_SIZE(NCH));
	cr_assert_not_null(v.ledger);
	d.gpu = vgpud_hostgpu_open(true);
	cr_assert_not_null(d.gpu);
	now = 1000 * PERIOD;
}

static void teardown(void)
{
	vgpud_hostgpu_close(d.gpu);
	free(v.ledger);
	free(region);
}

static struct vgpu_vminfo *refresh(void)
{
	static struct vgpu_vminfo out;
	now += PERIOD;
	vgpud_vminfo_refresh(&d, &v, now);
	cr_assert(vgpu_vminfo_read(vgpu_info(&v.r), &out));
	return &out;
}

static void worker_publishes_identity(void)
{
	struct vgpud_ledger_ident *id = vgpud_ledger_ident(v.ledger, NCH);
	snprintf(id->info.name, sizeof(id->info.name), "NVIDIA H100 80GB HBM3");
	memset(id->info.uuid, 0x5a, 16);
	id->info.total_mem = 512 * MiB;
	id->info.nattrs = VGPU_CU_MAX_ATTRS;
	id->info.attrs[CU_DEVICE_ATTRIBUTE_GPU_PCI_DEVICE_ID] = 0x233010de;
	id->phys_total = 80 * 1024 * MiB;
	atomic_store(&id->state, VGPUD_IDENT_READY);
}

TestSuite(vminfo_pub, .init = setup, .fini = teardown);

Test(vminfo_pub, no_device_until_a_worker_has_described_it)
{
	struct vgpu_vminfo *b = refresh();
	cr_expect_eq(b->valid & VGPU_VMI_IDENTITY, 0);
	worker_publishes_identity();
	b = refresh();
	cr_assert(b->valid & VGPU_VMI_IDENTITY);
	cr_expect_str_eq(b->dev.name, "NVIDIA H100 80GB HBM3");
	cr_expect_eq(b->dev.uuid[15], 0x5a);
	cr_expect_eq(b->pci_device_id, 0x233010de);
	cr_expect_eq(b->source, VGPU_VMI_SRC_SIM);
	cr_expect_eq(b->temp_gpu, 41);
	cr_expect_str_eq(b->driver_version, "580.159.04");
}

Test(vminfo_pub, memory_and_processes_come_from_the_ledger)
{
	worker_publishes_identity();
	workers[0] = (struct vgpud_worker){.pid = 900, .chan = 1,
					   .guest_pid = 41};
	workers[1] = (struct vgpud_worker){.pid = 901, .chan = -1}; /* idle */
	v.w = workers;
	v.nw = 2;
	atomic_store(&v.ledger[1].mem_in_use, 100 * MiB);
	atomic_store(&v.ledger[3].mem_in_use, 28 * MiB); /* between owners */
	struct vgpu_vminfo *b = refresh();
	cr_expect_eq(b->quota, 512 * MiB);
	cr_expect_eq(b->vm_used, 128 * MiB);
	cr_expect_eq(b->phys_total, 80 * 1024 * MiB);
	/* the sim knows no other tenant */
	cr_expect_eq(b->phys_free, 80 * 1024 * MiB - 128 * MiB);
	cr_assert_eq(b->nprocs, 1);
	cr_expect_eq(b->procs[0].pid, 41);
	cr_expect_eq(b->procs[0].channel, 1);
	cr_expect_eq(b->procs[0].used_mem, 100 * MiB);
	v.w = NULL;
	v.nw = 0;
}

Test(vminfo_pub, utilization_is_the_share_of_busy_periods)
{
	worker_publishes_identity();
	struct vgpu_vminfo *b = refresh();
	cr_expect_eq(b->util_gpu, 0);
	cr_expect_eq(b->util_source, VGPU_VMI_UTIL_ACTIVITY);
	for (int i = 0; i < 3; i++) { /* three periods with completed calls */
		atomic_fetch_add(&v.ledger[2].calls, 5);
		b = refresh();
	}
	cr_expect_eq(b->util_gpu, 30);
	atomic_store(&v.ledger[0].active, 1); /* one long call in flight */
	for (int i = 0; i < 10; i++)
		b = refresh();
	cr_expect_eq(b->util_gpu, 100);
	atomic_store(&v.ledger[0].active, 0);
	for (int i = 0; i < 10; i++)
		b = refresh();
	cr_expect_eq(b->util_gpu, 0);
}

Test(vminfo_pub, refreshes_wait_for_their_period)
{
	worker_publishes_identity();
	struct vgpu_vminfo *b = refresh();
	uint64_t n = b->updates;
	uint32_t seq = atomic_load(&((struct vgpu_vminfo *)vgpu_info(&v.r))->seq);
	vgpud_vminfo_refresh(&d, &v, now + PERIOD / 2);
	cr_expect_eq(atomic_load(&((struct vgpu_vminfo *)vgpu_info(&v.r))->seq),
		     seq, "refreshed before its period");
	b = refresh();
	cr_expect_eq(b->updates, n + 1);
	cr_expect_eq(seq % 2, 0);
}

Test(vminfo_pub, shutdown_withdraws_the_device)
{
	worker_publishes_identity();
	cr_assert(refresh()->valid & VGPU_VMI_IDENTITY);
	vgpud_vminfo_withdraw(&v);
	struct vgpu_vminfo out;
	cr_assert(vgpu_vminfo_read(vgpu_info(&v.r), &out));
	cr_expect_eq(out.valid, 0);
}
