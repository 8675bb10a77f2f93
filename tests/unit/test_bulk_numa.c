/* The worker's NUMA placement (daemon/worker_numa.c): the GPU's node read
 * from a sysfs tree (a fake one here) by the bus id the driver gives, in
 * either spelling; -1, absent or malformed files mean "no node" and bind
 * nothing; a node is bound through libnuma (node 0 exists on any Linux
 * host, NUMA or not, when libnuma is available), one not online is
 * refused. */
#define _GNU_SOURCE
#include "../../daemon/worker_numa.h"
#include <criterion/criterion.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char root[64];

static void dev(const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/bus/pci/devices/%s", root, name);
	char cmd[320];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", p);
	cr_assert_eq(system(cmd), 0);
	strcat(p, "/numa_node");
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void up(void)
{
	snprintf(root, sizeof(root), "/tmp/vgpu-numa-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	dev("0000:3b:00.0", "1\n");
	dev("0000:01:00.0", "-1\n");
	dev("0000:02:00.0", "banana\n");
	dev("0000:03:00.0", "");
}

static void down(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(bulk_numa, .init = up, .fini = down);

Test(bulk_numa, the_node_is_read_by_bus_id_in_either_spelling)
{
	cr_expect_eq(vw_numa_node(root, "0000:3B:00.0"), 1, "the driver's");
	cr_expect_eq(vw_numa_node(root, "00000000:3b:00.0"), 1, "NVML's");
	cr_expect_eq(vw_numa_node(root, "0000:3b:00.0"), 1);
}

Test(bulk_numa, no_node_is_minus_one)
{
	cr_expect_eq(vw_numa_node(root, "0000:01:00.0"), -1, "sysfs says -1");
	cr_expect_eq(vw_numa_node(root, "0000:02:00.0"), -1, "malformed");
	cr_expect_eq(vw_numa_node(root, "0000:03:00.0"), -1, "empty");
	cr_expect_eq(vw_numa_node(root, "0000:09:00.0"), -1, "absent");
	cr_expect_eq(vw_numa_node(root, "nonsense"), -1);
	cr_expect_eq(vw_numa_node(root, "0000:../../x"), -1, "no paths");
	cr_expect_eq(vw_numa_node(root, NULL), -1);
}

Test(bulk_numa, binding)
{
	char msg[160];
	cr_expect_eq(vw_numa_bind(-1, msg, sizeof(msg)), 1);
	cr_expect(strstr(msg, "no NUMA node") != NULL, "%s", msg);
	if (numa_available() < 0) {
		cr_log_info("libnuma reports no NUMA support here");
		return;
	}
	cr_expect_eq(vw_numa_bind(0, msg, sizeof(msg)), 0, "%s", msg);
	struct bitmask *m = numa_get_run_node_mask();
	cr_expect(numa_bitmask_isbitset(m, 0));
	numa_bitmask_free(m);
	cr_expect_eq(numa_preferred(), 0);
	cr_expect_eq(vw_numa_bind(numa_max_node() + 1, msg, sizeof(msg)), -1);
	cr_expect(strstr(msg, "not online") != NULL, "%s", msg);
}
