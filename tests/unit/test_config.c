/* vgpud configuration: defaults, every key, and errors that name the file,
 * the line and the reason. */
#define _GNU_SOURCE
#include "../../daemon/config.h"
#include "../support/confdir.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void mkconf(void)
{
	confdir_make(dir, sizeof(dir), "conf");
}

static void rmconf(void)
{
	confdir_remove(dir);
}
TestSuite(config, .init = mkconf, .fini = rmconf);

static void put(const char *rel, const char *text)
{
	confdir_put(dir, rel, text);
}

static struct vgpud_config C;
static struct vgpud_cfgerr E;
static char msg[600];

static int load(void)
{
	return confdir_load(dir, &C, &E, msg, sizeof(msg));
}

static void expect_error(const char *file, int line, const char *text)
{
	confdir_expect_error(dir, &C, &E, msg, sizeof(msg), file, line, text);
}

Test(config, empty_directory_gives_defaults)
{
	cr_assert_eq(load(), 0, "%s", msg);
	cr_expect_eq(C.backend, VGPUD_BACKEND_CUDA);
	cr_expect_str_eq(C.driver, "/usr/lib/x86_64-linux-gnu/libcuda.so.1");
	cr_expect_eq(C.log_level, VGPUD_LOG_INFO);
	cr_expect_eq(C.lease_ms, 30000);
	cr_expect_eq(C.sched_queue_us, 2000);
	cr_expect_eq(C.nvms, 0);
	cr_expect_str_eq(C.dir, dir);
}

Test(config, host_keys)
{
	put("vgpud.conf", "# host\n\nbackend = sim\ndriver=/opt/nv/libcuda.so.1\n"
			  "gpu = 3   # the fourth\nlog_level = debug\n"
			  "control_socket = /run/x.sock\nlease = 45s\n");
	cr_assert_eq(load(), 0, "%s", msg);
	cr_expect_eq(C.backend, VGPUD_BACKEND_SIM);
	cr_expect_str_eq(C.driver, "/opt/nv/libcuda.so.1");
	cr_expect_eq(C.ngpu_specs, 1); /* gpu = N: gpus with one entry */
	cr_expect_str_eq(C.gpu_spec[0], "3");
	cr_expect_eq(C.log_level, VGPUD_LOG_DEBUG);
	cr_expect_str_eq(C.control_socket, "/run/x.sock");
	cr_expect_eq(C.lease_ms, 45000);
}

Test(config, vm_defaults_and_keys)
{
	put("vms.d/alpha.conf", "");
	put("vms.d/beta.conf",
	    "region = /dev/hugepages/beta\nregion_size = 1G\n"
	    "region_owner = libvirt-qemu\nregion_group = kvm\n"
	    "region_mode = 0600\nchannels = 32\nmemory_limit = 16GiB\n"
	    "compute_weight = 300\ncompute_cap = 50%\nmax_processes = 8\n");
	put("vms.d/README", "not a config file\n");
	cr_assert_eq(load(), 0, "%s", msg);
	cr_assert_eq(C.nvms, 2);
	const struct vgpud_vm *a = &C.vms[0], *b = &C.vms[1];
	cr_expect_str_eq(a->name, "alpha");
	cr_expect_str_eq(a->region, "/dev/shm/vgpu-alpha");
	cr_expect_eq(a->region_size, 256ull << 20);
	cr_expect_eq(a->region_mode, 0660);
	cr_expect_eq(a->channels, 16);
	cr_expect_eq(a->memory_limit, 0, "no limit by default");
	cr_expect_eq(a->compute_weight, 100);
	cr_expect_eq(a->compute_cap, 0);
	cr_expect_eq(a->max_processes, 16, "defaults to channels");
	cr_expect_str_eq(b->name, "beta");
	cr_expect_str_eq(b->region, "/dev/hugepages/beta");
	cr_expect_eq(b->region_size, 1ull << 30);
	cr_expect_str_eq(b->region_owner, "libvirt-qemu");
	cr_expect_str_eq(b->region_group, "kvm");
	cr_expect_eq(b->region_mode, 0600);
	cr_expect_eq(b->channels, 32);
	cr_expect_eq(b->memory_limit, 16ull << 30);
	cr_expect_eq(b->compute_weight, 300);
	cr_expect_eq(b->compute_cap, 50);
	cr_expect_eq(b->max_processes, 8);
}

Test(config, unknown_key_names_file_line_and_known_keys)
{
	put("vms.d/vm1.conf", "channels = 4\n\nmemory = 4G\n");
	expect_error("vms.d/vm1.conf", 3, "unknown key 'memory'");
	cr_expect(strstr(msg, "memory_limit") != NULL, "lists the known keys");
}

Test(config, bad_values_say_why)
{
	struct {
		const char *text, *why;
		int line;
	} cases[] = {
		{"region_size = 100M\n", "power of two", 1},
		{"region_size = 512K\n", "power of two", 1},
		{"region_size = 12Q\n", "unit", 1},
		{"region_size = big\n", "expected a size", 1},
		{"region_mode = 660\n", "octal", 1},
		{"region_mode = 01777\n", "octal", 1},
		{"channels = 0\n", "from 1 to 1024", 1},
		{"channels = 4x\n", "from 1 to 1024", 1},
		{"memory_limit = 10K\n", "below 1M", 1},
		{"compute_weight = 0\n", "from 1 to 10000", 1},
		{"compute_cap = 50\n", "percentage", 1},
		{"compute_cap = 150%\n", "from 1 to 100", 1},
		{"region = relative/path\n", "absolute path", 1},
		{"channels =\n", "no value", 1},
		{"channels\n", "expected 'key = value'", 1},
		{"# two\nchannels = 4\nchannels = 5\n", "set twice", 3},
		{"pinned_pool = 1000\n", "multiple of 4K", 1},
		{"pinned_pool = lots\n", "expected a size", 1},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put("vms.d/vm.conf", cases[i].text);
		expect_error("vms.d/vm.conf", cases[i].line, cases[i].why);
	}
}

Test(config, host_errors)
{
	put("vgpud.conf", "backend = gpu\n");
	expect_error("vgpud.conf", 1, "'cuda'");
	put("vgpud.conf", "lease = 1s\n");
	expect_error("vgpud.conf", 1, "at least 3s");
	put("vgpud.conf", "log_level = chatty\n");
	expect_error("vgpud.conf", 1, "debug");
	put("vgpud.conf", "gpu = 64\n");
	expect_error("vgpud.conf", 1, "from 0 to 63");
	put("vgpud.conf", "\nsched_queue = 50us\n");
	expect_error("vgpud.conf", 2, "from 100us to 100ms");
	put("vgpud.conf", "sched_queue = 2s\n");
	expect_error("vgpud.conf", 1, "from 100us to 100ms");
}

Test(config, sched_queue_units)
{
	put("vgpud.conf", "sched_queue = 500us\n");
	cr_assert_eq(load(), 0, "%s", msg);
	cr_expect_eq(C.sched_queue_us, 500);
	put("vgpud.conf", "sched_queue = 4ms\n");
	cr_assert_eq(load(), 0, "%s", msg);
	cr_expect_eq(C.sched_queue_us, 4000);
}

Test(config, cross_key_and_cross_file_checks)
{
	put("vms.d/a.conf", "channels = 4\nmax_processes = 8\n");
	expect_error("vms.d/a.conf", 0, "exceeds channels");
	put("vms.d/a.conf", "region = /dev/shm/shared\n");
	put("vms.d/b.conf", "region = /dev/shm/shared\n");
	expect_error("vms.d/b.conf", 0, "already VM 'a'");
}

Test(config, pinned_pool_default_and_bounds)
{
	put("vms.d/a.conf", "region_size = 64M\n");
	cr_assert_eq(load(), 0, "%s", msg);
	cr_expect_eq(C.vms[0].pinned_pool, 16ull << 20, "a quarter");
	put("vms.d/a.conf", "region_size = 64M\npinned_pool = none\n");
	cr_assert_eq(load(), 0, "%s", msg);
	cr_expect_eq(C.vms[0].pinned_pool, 0);
	put("vms.d/a.conf", "pinned_pool = 24M\nregion_size = 64M\n");
	cr_assert_eq(load(), 0, "%s", msg);
	cr_expect_eq(C.vms[0].pinned_pool, 24ull << 20);
	put("vms.d/a.conf", "region_size = 64M\npinned_pool = 33M\n");
	expect_error("vms.d/a.conf", 0, "more than half of region_size");
}

Test(config, bad_vm_names)
{
	put("vms.d/.hidden.conf", "");
	expect_error(".hidden.conf", 0, "VM name");
	unlink(strcat(strcpy(msg, dir), "/vms.d/.hidden.conf"));
	put("vms.d/has space.conf", "");
	expect_error("has space.conf", 0, "VM name");
}

Test(config, errors_load_nothing)
{
	put("vgpud.conf", "backend = sim\n");
	put("vms.d/a.conf", "");
	cr_assert_eq(load(), 0, "%s", msg);
	cr_assert_eq(C.nvms, 1);
	put("vms.d/b.conf", "bogus = 1\n");
	cr_assert_eq(load(), -1);
	cr_expect_eq(C.nvms, 1, "the previous configuration is untouched");
	cr_expect_eq(C.backend, VGPUD_BACKEND_SIM);
}

Test(config, size_and_duration_parsers)
{
	uint64_t v;
	const char *why;
	cr_expect_eq(vgpud_parse_size("0", &v, &why), 0);
	cr_expect_eq(v, 0);
	cr_expect_eq(vgpud_parse_size("4k", &v, &why), 0);
	cr_expect_eq(v, 4096);
	cr_expect_eq(vgpud_parse_size("3MiB", &v, &why), 0);
	cr_expect_eq(v, 3u << 20);
	cr_expect_eq(vgpud_parse_size("2T", &v, &why), 0);
	cr_expect_eq(v, 2ull << 40);
	cr_expect_eq(vgpud_parse_size("17179869184G", &v, &why), -1, "overflow");
	cr_expect_eq(vgpud_parse_size("-1", &v, &why), -1);
	cr_expect_eq(vgpud_parse_size("", &v, &why), -1);
	cr_expect_eq(vgpud_parse_duration_ms("250ms", &v, &why), 0);
	cr_expect_eq(v, 250);
	cr_expect_eq(vgpud_parse_duration_ms("30", &v, &why), 0);
	cr_expect_eq(v, 30000, "bare numbers are seconds");
	cr_expect_eq(vgpud_parse_duration_ms("2m", &v, &why), 0);
	cr_expect_eq(v, 120000);
	cr_expect_eq(vgpud_parse_duration_ms("2h", &v, &why), -1);
}
