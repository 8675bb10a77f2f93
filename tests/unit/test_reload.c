/* vgpuctl reload / SIGHUP (daemon/reload.c): which changes apply to
 * running VMs, errors naming file, line and reason, all or nothing. */
#define _GNU_SOURCE
#include "../../daemon/reload.h"
#include "../../daemon/supervisor.h"
#include "../support/confdir.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static struct vgpud D;
static struct vgpud_vm_ledger vml[2];
static char msg[4096];

static void put(const char *rel, const char *text)
{
	confdir_put(dir, rel, text);
}

#define VM_A "region = /dev/shm/vgpu-rl-a\nregion_size = 16M\nchannels = 4\n"
#define VM_B "region = /dev/shm/vgpu-rl-b\n"

/* A daemon as vgpud_start leaves it, as far as reload looks: the loaded
 * configuration and each VM's ledger. */
static void up(void)
{
	struct vgpud_cfgerr e;
	confdir_make(dir, sizeof(dir), "reload");
	put("vgpud.conf", "backend = sim\nlog_level = warn\n");
	put("vms.d/a.conf", VM_A "memory_limit = 64M\n");
	put("vms.d/b.conf", VM_B);
	cr_assert_eq(vgpud_config_load(dir, &D.cfg, &e), 0, "%s", e.msg);
	D.vms = calloc(2, sizeof(*D.vms));
	cr_assert_not_null(D.vms);
	for (int i = 0; i < 2; i++) {
		D.vms[i].cfg = &D.cfg.vms[i];
		D.vms[i].vml = &vml[i];
		atomic_store(&vml[i].mem_limit, D.cfg.vms[i].memory_limit);
	}
}

static void down(void)
{
	confdir_remove(dir);
	free(D.vms);
}

TestSuite(reload, .init = up, .fini = down);

static void expect_refused(const char *file, int line, const char *text)
{
	cr_assert_eq(vgpud_reload(&D, msg, sizeof(msg)), -1,
		     "expected a refusal about %s", text);
	char want[160];
	snprintf(want, sizeof(want), "%s/%s:%d: ", dir, file, line);
	if (!line)
		snprintf(want, sizeof(want), "%s/%s: ", dir, file);
	cr_expect(!strncmp(msg, want, strlen(want)), "'%s' does not start "
		  "with '%s'", msg, want);
	cr_expect(strstr(msg, text) != NULL, "'%s' lacks '%s'", msg, text);
	/* the configuration in force is untouched */
	cr_expect_eq(D.cfg.vms[0].memory_limit, 64ull << 20);
	cr_expect_eq(atomic_load(&vml[0].mem_limit), 64ull << 20);
	cr_expect_eq(D.cfg.vms[1].compute_weight, 100u);
}

Test(reload, quotas_apply_to_running_vms)
{
	put("vms.d/a.conf", VM_A "memory_limit = 32M\ncompute_weight = 300\n");
	put("vms.d/b.conf", VM_B "memory_limit = 1G\ncompute_cap = 50%\n");
	put("vgpud.conf", "backend = sim\nlog_level = error\nlease = 9s\n");
	cr_assert_eq(vgpud_reload(&D, msg, sizeof(msg)), 0, "%s", msg);
	cr_expect_eq(atomic_load(&vml[0].mem_limit), 32ull << 20,
		     "workers read the new limit from the ledger");
	cr_expect_eq(atomic_load(&vml[1].mem_limit), 1ull << 30);
	cr_expect_eq(D.cfg.vms[0].compute_weight, 300u);
	cr_expect_eq(D.cfg.vms[1].compute_cap, 50u);
	cr_expect_eq(D.cfg.lease_ms, 9000u);
	cr_expect_eq(D.cfg.log_level, VGPUD_LOG_ERROR);
	cr_expect(strstr(msg, "vm a: memory_limit 64M -> 32M") != NULL, "%s",
		  msg);
	cr_expect(strstr(msg, "vm b: memory_limit none -> 1024M") != NULL,
		  "%s", msg);
	cr_expect(strstr(msg, "vm a: compute_weight 100 -> 300") != NULL);
	cr_expect(strstr(msg, "vm b: compute_cap 0 -> 50") != NULL);
	cr_expect(strstr(msg, "log_level warn -> error") != NULL, "%s", msg);
	cr_expect(strstr(msg, "lease 30000ms -> 9000ms") != NULL, "%s", msg);

	/* and back down; none is 0 in the ledger */
	put("vms.d/a.conf", VM_A);
	cr_assert_eq(vgpud_reload(&D, msg, sizeof(msg)), 0, "%s", msg);
	cr_expect_eq(atomic_load(&vml[0].mem_limit), 0u);
}

Test(reload, nothing_changed)
{
	cr_assert_eq(vgpud_reload(&D, msg, sizeof(msg)), 0, "%s", msg);
	cr_expect(strstr(msg, "nothing changed") != NULL, "%s", msg);
}

Test(reload, invalid_value_keeps_the_old_configuration)
{
	put("vms.d/b.conf", VM_B "memory_limit = 64M\n");
	put("vms.d/a.conf", VM_A "# lowered\nmemory_limit = 10K\n");
	expect_refused("vms.d/a.conf", 5, "below 1M");
	cr_expect_eq(D.cfg.vms[1].memory_limit, 0u, "b's valid change is not "
		     "applied either: all or nothing");
}

Test(reload, geometry_needs_a_restart)
{
	put("vms.d/a.conf", "region = /dev/shm/vgpu-rl-a\nregion_size = 32M\n"
			    "channels = 4\nmemory_limit = 64M\n");
	expect_refused("vms.d/a.conf", 2, "region_size cannot change while "
		       "vgpud runs");
	put("vms.d/a.conf", VM_A "memory_limit = 64M\nchannels = 8\n");
	cr_expect_eq(vgpud_reload(&D, msg, sizeof(msg)), -1,
		     "a repeated key is an error too");
	put("vms.d/a.conf", "region_size = 16M\nchannels = 8\n"
			    "region = /dev/shm/vgpu-rl-a\nmemory_limit = 64M\n");
	expect_refused("vms.d/a.conf", 2, "channels cannot change");
	put("vms.d/a.conf", VM_A "memory_limit = 64M\n");
	put("vgpud.conf", "log_level = warn\n\nbackend = cuda\n");
	expect_refused("vgpud.conf", 3, "backend cannot change");
	put("vgpud.conf", "backend = sim\nmetrics_listen = 9464\n");
	expect_refused("vgpud.conf", 2, "metrics_listen cannot change");
}

Test(reload, vms_added_or_removed_need_a_restart)
{
	put("vms.d/c.conf", "region = /dev/shm/vgpu-rl-c\nmemory_limit = 1G\n");
	expect_refused("vms.d/c.conf", 0, "new VM 'c'");
	char p[160];
	snprintf(p, sizeof(p), "%s/vms.d/c.conf", dir);
	cr_assert_eq(unlink(p), 0);
	snprintf(p, sizeof(p), "%s/vms.d/b.conf", dir);
	cr_assert_eq(unlink(p), 0);
	expect_refused("vms.d/b.conf", 0, "VM 'b' is served but its file is "
		       "gone");
}

Test(reload, the_schedulers_keys_apply_and_are_listed)
{
	put("vgpud.conf", "backend = sim\nlog_level = warn\nsched_solo = off\n"
			  "sched_queue_ahead = 500us\nsched_queue = 1ms\n");
	cr_assert_eq(vgpud_reload(&D, msg, sizeof(msg)), 0, "%s", msg);
	cr_expect(!D.cfg.sched_solo);
	cr_expect_eq(D.cfg.sched_queue_ahead_us, 500u);
	cr_expect_eq(D.cfg.sched_queue_us, 1000u);
	cr_expect(strstr(msg, "sched_solo on -> off") != NULL, "%s", msg);
	cr_expect(strstr(msg, "sched_queue_ahead 0us -> 500us") != NULL, "%s",
		  msg);
}
