/* vgpuctl stats / metrics (daemon/stats.c): call totals that survive
 * workers, rates from once-a-second samples, memory from the ledger. */
#include "../../daemon/supervisor.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEC 1000000000ull

static struct vgpud D;
static struct vgpud_ledger *L;
static struct vgpud_vm_ledger *V;
static char out[8192];

static void up(void)
{
	D.cfg.nvms = 1;
	snprintf(D.cfg.vms[0].name, sizeof(D.cfg.vms[0].name), "vm-1");
	D.cfg.vms[0].channels = 2;
	D.vms = calloc(1, sizeof(*D.vms));
	L = calloc(1, VGPUD_LEDGER_SIZE(2));
	cr_assert(D.vms && L);
	V = vgpud_ledger_vm(L, 2);
	D.vms[0].cfg = &D.cfg.vms[0];
	D.vms[0].ledger = L;
	D.vms[0].vml = V;
}

static void down(void)
{
	free(D.vms);
	free(L);
}

TestSuite(stats, .init = up, .fini = down);

Test(stats, calls_survive_workers_and_rates_use_the_window)
{
	struct vgpud_vmstate *v = &D.vms[0];
	vgpud_stats_sample(&D, 1 * SEC);
	cr_expect_eq(vgpud_calls_rate(v, 1), 0.0, "one sample: no rate yet");
	atomic_store(&L[0].calls, 100);
	atomic_store(&L[1].calls, 50);
	vgpud_stats_sample(&D, 2 * SEC);
	cr_expect_eq(vgpud_calls_rate(v, 1), 150.0);
	vgpud_stats_sample(&D, 2 * SEC + 1); /* not a second yet: no sample */
	vgpud_stats_retire(v, 0); /* worker 0 exits */
	cr_expect_eq(atomic_load(&L[0].calls), 0u);
	cr_expect_eq(vgpud_vm_calls(v), 150u, "its calls are kept");
	atomic_store(&L[0].calls, 30); /* a new worker on channel 0 */
	for (uint64_t t = 3; t <= 20; t++)
		vgpud_stats_sample(&D, t * SEC);
	cr_expect_eq(vgpud_vm_calls(v), 180u);
	cr_expect_eq(vgpud_calls_rate(v, 1), 0.0, "idle for the last second");
	atomic_store(&L[1].calls, 50 + 100);
	vgpud_stats_sample(&D, 21 * SEC);
	cr_expect_eq(vgpud_calls_rate(v, 1), 100.0);
	cr_expect_eq(vgpud_calls_rate(v, VGPUD_STATS_WINDOW), 10.0);
	cr_expect_eq(vgpud_calls_rate(v, 99), 10.0, "at most the window");
}

Test(stats, text_and_prometheus)
{
	atomic_store(&V->mem_used, 3ull << 20);
	atomic_store(&V->mem_limit, 64ull << 20);
	atomic_store(&V->mem_refused, 7);
	atomic_store(&L[1].calls, 42);
	vgpud_stats(&D, out, sizeof(out));
	cr_expect(strstr(out, "MEM_USED") != NULL, "%s", out);
	char *row = strstr(out, "\nvm-1 ");
	cr_assert_not_null(row, "%s", out);
	char name[32], procs[16], used[16], lim[16];
	unsigned long long refused, calls;
	double r1, r10;
	cr_assert_eq(sscanf(row, "%31s %15s %15s %15s %llu %lf %lf %llu", name,
			    procs, used, lim, &refused, &r1, &r10, &calls), 8);
	cr_expect_str_eq(procs, "0/2");
	cr_expect_str_eq(used, "3.0M");
	cr_expect_str_eq(lim, "64.0M");
	cr_expect_eq(refused, 7u);
	cr_expect_eq(calls, 42u);

	vgpud_stats_prom(&D, out, sizeof(out));
	cr_expect(strstr(out, "# TYPE vgpu_vm_memory_used_bytes gauge\n"
			      "vgpu_vm_memory_used_bytes{vm=\"vm-1\"} 3145728\n"));
	cr_expect(strstr(out, "vgpu_vm_memory_limit_bytes{vm=\"vm-1\"} "
			      "67108864\n"));
	cr_expect(strstr(out, "# TYPE vgpu_vm_memory_refused_total counter\n"
			      "vgpu_vm_memory_refused_total{vm=\"vm-1\"} 7\n"));
	cr_expect(strstr(out, "vgpu_vm_calls_total{vm=\"vm-1\"} 42\n"));
	cr_expect(strstr(out, "vgpu_vm_channels{vm=\"vm-1\"} 2\n"));
	atomic_store(&V->mem_limit, 0);
	vgpud_stats(&D, out, sizeof(out));
	cr_expect(strstr(out, " none ") != NULL, "%s", out);
}

/* metrics_listen in vgpud.conf: off by default, loopback unless told. */
static int load_metrics(const char *value, struct vgpud_config *c)
{
	char dir[] = "/tmp/vgpud-metrics-XXXXXX", p[64];
	struct vgpud_cfgerr e;
	cr_assert_not_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/vgpud.conf", dir);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	if (value)
		fprintf(f, "metrics_listen = %s\n", value);
	fclose(f);
	int rc = vgpud_config_load(dir, c, &e);
	unlink(p);
	rmdir(dir);
	return rc;
}

Test(stats, metrics_listen_key)
{
	static struct vgpud_config c;
	cr_assert_eq(load_metrics(NULL, &c), 0);
	cr_expect(!c.metrics_on, "off by default");
	cr_assert_eq(load_metrics("9464", &c), 0);
	cr_expect(c.metrics_on);
	cr_expect_eq(c.metrics_addr, 0x7f000001u, "loopback unless told");
	cr_expect_eq(c.metrics_port, 9464);
	cr_assert_eq(load_metrics("0.0.0.0:0", &c), 0);
	cr_expect_eq(c.metrics_addr, 0u);
	cr_expect_eq(c.metrics_port, 0);
	cr_assert_eq(load_metrics("none", &c), 0);
	cr_expect(!c.metrics_on);
	cr_expect_eq(load_metrics("10.0.0.256:80", &c), -1);
	cr_expect_eq(load_metrics("localhost:80", &c), -1);
	cr_expect_eq(load_metrics("1.2.3.4:", &c), -1);
	cr_expect_eq(load_metrics("70000", &c), -1);
}
