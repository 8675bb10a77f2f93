/* Several GPUs (docs/multigpu.md): the host's `gpus` and each VM's `gpus`
 * in the configuration, resolution against the host's GPUs, placement of
 * `gpus = any`, the sim's several devices with their own memory and a
 * configurable peer topology, and CUDA_VISIBLE_DEVICES's parsing. */
#define _GNU_SOURCE
#include "../../daemon/backend.h"
#include "../../daemon/config.h"
#include "../../daemon/gpus.h"
#include "../../daemon/reload.h"
#include "../../daemon/sim/sim.h"
#include "../../guest/cuda/visible.h"
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
	confdir_make(dir, sizeof(dir), "mgpu");
}

static void rmconf(void)
{
	confdir_remove(dir);
}
TestSuite(mgpu_config, .init = mkconf, .fini = rmconf);

static void put(const char *rel, const char *text)
{
	confdir_put(dir, rel, text);
}

static void unput(const char *rel)
{
	confdir_unput(dir, rel);
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

Test(mgpu_config, defaults_one_gpu_and_vm_on_it)
{
	put("vms.d/a.conf", "");
	cr_assert_eq(load(), 0, "%s", msg);
	cr_expect_eq(C.ngpu_specs, 1);
	cr_expect_str_eq(C.gpu_spec[0], "0");
	cr_expect_eq(C.sim_gpus, 1);
	cr_expect_str_eq(C.sim_peer, "all");
	cr_expect_eq(C.vms[0].ngpus, 1);
	cr_expect_eq(C.vms[0].gpus[0], 0);
	cr_expect_not(C.vms[0].gpus_any);
}

Test(mgpu_config, host_gpus_every_spelling)
{
	put("vgpud.conf", "backend = sim\n"
			  "gpus = 1, GPU-76677075-2073-696d-2064-657669636530 ,"
			  "0000:3B:00.0,3c:00.1\nsim_gpus = 4\nsim_peer = 0-1,2-3\n");
	cr_assert_eq(load(), 0, "%s", msg);
	cr_assert_eq(C.ngpu_specs, 4);
	cr_expect_str_eq(C.gpu_spec[0], "1");
	cr_expect_str_eq(C.gpu_spec[1],
			 "GPU-76677075-2073-696d-2064-657669636530");
	cr_expect_str_eq(C.gpu_spec[2], "0000:3B:00.0");
	cr_expect_str_eq(C.gpu_spec[3], "3c:00.1");
	cr_expect_eq(C.gpus_line, 2);
	cr_expect_eq(C.sim_gpus, 4);
	struct vgpud_gpu_id g;
	const char *why;
	cr_assert_eq(vgpud_parse_gpu_spec(C.gpu_spec[3], &g, &why), 0);
	cr_expect_eq(g.kind, VGPUD_GPU_PCI);
	cr_expect(g.pci[0] == 0 && g.pci[1] == 0x3c && g.pci[2] == 0 &&
		  g.pci[3] == 1);
	cr_assert_eq(vgpud_parse_gpu_spec(C.gpu_spec[1], &g, &why), 0);
	cr_expect_eq(g.kind, VGPUD_GPU_UUID);
	cr_expect_eq(g.uuid[0], 0x76);
	cr_expect_eq(g.uuid[15], 0x30);
}

Test(mgpu_config, host_gpus_errors)
{
	static const struct {
		const char *text, *why;
		int line;
	} cases[] = {
		{"gpus = 0,,1\n", "empty entry", 1},
		{"gpus = 64\n", "from 0 to 63", 1},
		{"gpus = GPU-1234\n", "expected a UUID", 1},
		{"gpus = GPU-76677075-2073-696d-2064-65766963653\n", "UUID", 1},
		{"gpus = 0000:3b:00\n", "PCI bus id", 1},
		{"gpus = 0x3b:00.0\n", "PCI bus id", 1},
		{"gpus = 3b:40.0\n", "PCI bus id", 1},
		{"gpus = banana\n", "PCI bus id", 1},
		{"gpu = 0\ngpus = 1\n", "set twice", 2},
		{"gpus = 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\n",
		 "at most 16", 1},
		{"sim_gpus = 0\n", "from 1 to 16", 1},
		{"sim_gpus = 17\n", "from 1 to 16", 1},
		{"sim_peer = 0-0\n", "one GPU twice", 1},
		{"sim_peer = 0+1\n", "pairs", 1},
		{"sim_peer = 0-1\n", "sim_gpus = 1", 0}, /* after the file */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put("vgpud.conf", cases[i].text);
		expect_error("vgpud.conf", cases[i].line, cases[i].why);
	}
}

Test(mgpu_config, vm_gpus)
{
	put("vgpud.conf", "gpus = 0,1,2\n");
	put("vms.d/a.conf", "channels = 2\ngpus = 2, 0\n");
	put("vms.d/b.conf", "gpus = any\n");
	cr_assert_eq(load(), 0, "%s", msg);
	cr_expect_eq(C.vms[0].ngpus, 2);
	cr_expect_eq(C.vms[0].gpus[0], 2);
	cr_expect_eq(C.vms[0].gpus[1], 0);
	cr_expect(C.vms[1].gpus_any);
	cr_expect_eq(C.vms[1].ngpus, 1);
	put("vms.d/b.conf", "# x\ngpus = 3\n");
	expect_error("vms.d/b.conf", 2, "not an index into the host's gpus");
	put("vms.d/b.conf", "gpus = 1,1\n");
	expect_error("vms.d/b.conf", 1, "listed twice");
	put("vms.d/b.conf", "gpus = some\n");
	expect_error("vms.d/b.conf", 1, "'any' or indices");
	unput("vgpud.conf"); /* one GPU: only index 0 */
	unput("vms.d/a.conf");
	put("vms.d/b.conf", "gpus = 0,1\n");
	expect_error("vms.d/b.conf", 1, "names 1 GPU: 0..0");
}

/* A running vgpud keeps its GPUs and its VMs' placement: a reload that
 * changes them is refused by file and line. */
Test(mgpu_config, reload_refuses_gpu_changes)
{
	static struct vgpud_config old;
	put("vgpud.conf", "gpus = 0,1\n");
	put("vms.d/a.conf", "channels = 2\ngpus = 1\nmemory_limit = 1G\n");
	cr_assert_eq(load(), 0, "%s", msg);
	old = C;
	put("vms.d/a.conf", "channels = 2\ngpus = 1\nmemory_limit = 2G\n");
	cr_assert_eq(load(), 0, "%s", msg);
	cr_expect_eq(vgpud_config_compare(&old, &C, &E), 0, "quota: fine");
	put("vms.d/a.conf", "channels = 2\ngpus = 0\n");
	cr_assert_eq(load(), 0, "%s", msg);
	cr_assert_eq(vgpud_config_compare(&old, &C, &E), -1);
	cr_expect_eq(E.line, 2);
	cr_expect(strstr(E.msg, "gpus") != NULL, "%s", E.msg);
	put("vms.d/a.conf", "channels = 2\ngpus = 1\n");
	put("vgpud.conf", "gpus = 1,0\n");
	cr_assert_eq(load(), 0, "%s", msg);
	cr_assert_eq(vgpud_config_compare(&old, &C, &E), -1);
	cr_expect(strstr(E.file, "vgpud.conf") != NULL);
	cr_expect_eq(E.line, 1);
	put("vgpud.conf", "gpus = 0,1\nsim_gpus = 2\n");
	cr_assert_eq(load(), 0, "%s", msg);
	cr_assert_eq(vgpud_config_compare(&old, &C, &E), -1);
	cr_expect(strstr(E.msg, "sim_gpus") != NULL, "%s", E.msg);
}

static const char *lines[] = {
	"0 GPU-76677075-2073-696d-2064-657669636530 0000:00:00.0 17179869184 "
	"vgpu sim (CPU test double)\n",
	"1 GPU-76677075-2073-696d-2064-657669636531 0000:3B:00.0 17179869184 "
	"vgpu sim (CPU test double)\n",
	"2 GPU-76677075-2073-696d-2064-657669636532 0000:3c:00.1 8589934592 "
	"another\n",
};

static void host(struct vgpud_hostdev h[3])
{
	for (int i = 0; i < 3; i++)
		cr_assert_eq(vgpud_hostdev_parse(lines[i], &h[i]), 0, "%s",
			     lines[i]);
}

Test(mgpu_resolve, list_lines)
{
	struct vgpud_hostdev h[3], bad;
	host(h);
	cr_expect_eq(h[2].ord, 2);
	cr_expect_eq(h[2].total, 8ull << 30);
	cr_expect_str_eq(h[2].name, "another");
	cr_expect_eq(h[1].pci[1], 0x3b);
	cr_expect_eq(h[1].uuid[15], 0x31);
	cr_expect_eq(vgpud_hostdev_parse("x GPU-1 0:0.0 1 n\n", &bad), -1);
	cr_expect_eq(vgpud_hostdev_parse("0 1 2\n", &bad), -1);
}

Test(mgpu_resolve, by_ordinal_uuid_and_bus_id)
{
	struct vgpud_hostdev h[3];
	struct vgpud_cfgerr e;
	host(h);
	vgpud_config_defaults(&C);
	C.ngpu_specs = 3;
	C.gpus_line = 7;
	strcpy(C.gpu_spec[0], "3c:00.1");
	strcpy(C.gpu_spec[1], "gpu-76677075-2073-696D-2064-657669636530");
	strcpy(C.gpu_spec[2], "1");
	cr_assert_eq(vgpud_gpus_resolve(&C, h, 3, &e), 0, "%s", e.msg);
	cr_expect_eq(C.gpu_ord[0], 2);
	cr_expect_eq(C.gpu_ord[1], 0);
	cr_expect_eq(C.gpu_ord[2], 1);
	strcpy(C.gpu_spec[2], "0000:00:00.0"); /* GPU 0 again */
	cr_assert_eq(vgpud_gpus_resolve(&C, h, 3, &e), -1);
	cr_expect_eq(e.line, 7);
	cr_expect(strstr(e.msg, "same GPU") != NULL, "%s", e.msg);
	strcpy(C.gpu_spec[2], "5");
	cr_assert_eq(vgpud_gpus_resolve(&C, h, 3, &e), -1);
	cr_expect(strstr(e.msg, "5: no such GPU") != NULL, "%s", e.msg);
	cr_expect(strstr(e.msg, "0000:3b:00.0") != NULL, "lists them: %s",
		  e.msg);
	cr_expect(strstr(e.file, "vgpud.conf") != NULL);
	strcpy(C.gpu_spec[2], "GPU-76677075-2073-696d-2064-657669636539");
	cr_assert_eq(vgpud_gpus_resolve(&C, h, 3, &e), -1);
	cr_expect(strstr(e.msg, "no such GPU") != NULL, "%s", e.msg);
}

static void vm(struct vgpud_vm *m, const char *name, uint64_t limit, int any,
	       int g0, int g1)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->memory_limit = limit;
	m->gpus_any = any;
	m->ngpus = g1 >= 0 ? 2 : 1;
	m->gpus[0] = (uint8_t)(g0 < 0 ? 0 : g0);
	m->gpus[1] = (uint8_t)(g1 < 0 ? 0 : g1);
}

Test(mgpu_place, least_committed_then_fewest_vms)
{
	vgpud_config_defaults(&C);
	C.ngpu_specs = 3;
	/* fixed: GPU 0 has 8G committed; GPU 1 4G+4G (two VMs); GPU 2 none */
	vm(&C.vms[0], "fixed0", 8ull << 30, 0, 0, -1);
	vm(&C.vms[1], "fixed1", 4ull << 30, 0, 1, -1);
	vm(&C.vms[2], "fixed2", 4ull << 30, 0, 1, -1);
	vm(&C.vms[3], "x-any1", 16ull << 30, 1, -1, -1); /* -> 2 (0 commit) */
	vm(&C.vms[4], "x-any2", 1ull << 30, 1, -1, -1);  /* 0: 8G vs 8G,
							  * fewer VMs */
	vm(&C.vms[5], "x-any3", 0, 1, -1, -1);  /* 1 (8G) vs 0 (9G) vs 2 */
	C.nvms = 6;
	vgpud_place(&C);
	cr_expect_eq(C.vms[3].gpus[0], 2);
	cr_expect_eq(C.vms[4].gpus[0], 0);
	cr_expect_eq(C.vms[5].gpus[0], 1);
	cr_expect_eq(C.vms[0].gpus[0], 0, "fixed VMs stay");
	char t[32];
	vm(&C.vms[6], "two", 0, 0, 2, 0);
	C.gpu_ord[0] = 5, C.gpu_ord[1] = 6, C.gpu_ord[2] = 7;
	vgpud_vm_gpus_text(&C, &C.vms[6], false, t, sizeof(t));
	cr_expect_str_eq(t, "2,0");
	vgpud_vm_gpus_text(&C, &C.vms[6], true, t, sizeof(t));
	cr_expect_str_eq(t, "7,5");
}

Test(mgpu_place, two_any_vms_on_two_gpus_spread)
{
	vgpud_config_defaults(&C);
	C.ngpu_specs = 2;
	vm(&C.vms[0], "a", 0, 1, -1, -1);
	vm(&C.vms[1], "b", 0, 1, -1, -1);
	C.nvms = 2;
	vgpud_place(&C);
	cr_expect_eq(C.vms[0].gpus[0], 0);
	cr_expect_eq(C.vms[1].gpus[0], 1, "no-limit VMs commit a whole GPU");
}

/* ---- the sim's several devices ----------------------------------------- */

static struct vgpu_driver D;

static void sim3(void)
{
	char err[256] = "";
	setenv("VGPU_SIM_GPUS", "3", 1);
	setenv("VGPU_SIM_PEER", "0-1", 1);
	setenv("VGPU_SIM_MEMORY", "64M", 1);
	cr_assert_eq(vgpu_backend_sim_open(&D, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(D.cuInit(0), CUDA_SUCCESS);
}
TestSuite(mgpu_sim, .init = sim3);

#define OK(x) cr_assert_eq((x), CUDA_SUCCESS, "%s", #x)
#define ERR(x, want) cr_assert_eq((x), (want), "%s", #x)

Test(mgpu_sim, devices_have_their_own_identity)
{
	int n;
	CUdevice d;
	char bus[32];
	CUuuid u0, u2;
	OK(D.cuDeviceGetCount(&n));
	cr_assert_eq(n, 3);
	OK(D.cuDeviceGet(&d, 2));
	cr_expect_eq(d, 2);
	ERR(D.cuDeviceGet(&d, 3), CUDA_ERROR_INVALID_DEVICE);
	OK(D.cuDeviceGetPCIBusId(bus, sizeof(bus), 2));
	cr_expect_str_eq(bus, "0000:02:00.0");
	OK(D.cuDeviceGetUuid_v2(&u0, 0));
	OK(D.cuDeviceGetUuid_v2(&u2, 2));
	cr_expect(memcmp(u0.bytes, "vgpu sim device0", 16) == 0);
	cr_expect(memcmp(u2.bytes, "vgpu sim device2", 16) == 0);
	int bid;
	OK(D.cuDeviceGetAttribute(&bid, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, 1));
	cr_expect_eq(bid, 1);
	ERR(D.cuDeviceGetAttribute(&bid, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, 3),
	    CUDA_ERROR_INVALID_DEVICE);
}

Test(mgpu_sim, each_device_its_own_memory)
{
	CUcontext c0, c1;
	CUdeviceptr a, b, x;
	size_t fr, tot;
	OK(D.cuDevicePrimaryCtxRetain(&c0, 0));
	OK(D.cuDevicePrimaryCtxRetain(&c1, 1));
	cr_expect_neq(c0, c1);
	OK(D.cuCtxSetCurrent(c1));
	CUdevice d;
	OK(D.cuCtxGetDevice(&d));
	cr_expect_eq(d, 1);
	OK(D.cuMemAlloc_v2(&a, 48 << 20));
	OK(D.cuMemGetInfo_v2(&fr, &tot));
	cr_expect_eq(tot, 64 << 20);
	cr_expect_eq(fr, 16 << 20, "device 1 has 48M taken");
	ERR(D.cuMemAlloc_v2(&x, 32 << 20), CUDA_ERROR_OUT_OF_MEMORY);
	OK(D.cuCtxSetCurrent(c0));
	OK(D.cuMemGetInfo_v2(&fr, &tot));
	cr_expect_eq(fr, 64 << 20, "device 0 untouched");
	OK(D.cuMemAlloc_v2(&b, 48 << 20));
	/* one address space: a copy between the devices' memory */
	OK(D.cuMemsetD8_v2(a, 0x5a, 4096));
	OK(D.cuMemcpyPeer(b, c0, a, c1, 4096));
	unsigned char h[4096];
	OK(D.cuMemcpyDtoH_v2(h, b, sizeof(h)));
	for (size_t i = 0; i < sizeof(h); i++)
		cr_assert_eq(h[i], 0x5a);
	ERR(D.cuMemcpyPeer(b, (CUcontext)h, a, c1, 16),
	    CUDA_ERROR_INVALID_CONTEXT);
	OK(D.cuMemFree_v2(a));
	OK(D.cuCtxSetCurrent(c1));
	OK(D.cuMemGetInfo_v2(&fr, &tot));
	cr_expect_eq(fr, 64 << 20, "freed back to device 1");
}

Test(mgpu_sim, peer_topology_says_yes_and_no)
{
	int can, v;
	OK(D.cuDeviceCanAccessPeer(&can, 0, 1));
	cr_expect_eq(can, 1);
	OK(D.cuDeviceCanAccessPeer(&can, 1, 0));
	cr_expect_eq(can, 1);
	OK(D.cuDeviceCanAccessPeer(&can, 0, 2));
	cr_expect_eq(can, 0);
	OK(D.cuDeviceCanAccessPeer(&can, 1, 1));
	cr_expect_eq(can, 0, "a device is not its own peer");
	ERR(D.cuDeviceCanAccessPeer(&can, 0, 3), CUDA_ERROR_INVALID_DEVICE);
	OK(D.cuDeviceGetP2PAttribute(&v, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED,
				     0, 1));
	cr_expect_eq(v, 1);
	OK(D.cuDeviceGetP2PAttribute(&v, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED,
				     2, 0));
	cr_expect_eq(v, 0);
	ERR(D.cuDeviceGetP2PAttribute(
		    &v, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, 1, 1),
	    CUDA_ERROR_INVALID_DEVICE);
	CUcontext c0, c1, c2;
	OK(D.cuDevicePrimaryCtxRetain(&c0, 0));
	OK(D.cuDevicePrimaryCtxRetain(&c1, 1));
	OK(D.cuDevicePrimaryCtxRetain(&c2, 2));
	ERR(D.cuCtxEnablePeerAccess(c1, 0), CUDA_ERROR_INVALID_CONTEXT);
	OK(D.cuCtxSetCurrent(c0));
	ERR(D.cuCtxDisablePeerAccess(c1), CUDA_ERROR_PEER_ACCESS_NOT_ENABLED);
	OK(D.cuCtxEnablePeerAccess(c1, 0));
	ERR(D.cuCtxEnablePeerAccess(c1, 0),
	    CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED);
	ERR(D.cuCtxEnablePeerAccess(c2, 0), CUDA_ERROR_PEER_ACCESS_UNSUPPORTED);
	ERR(D.cuCtxEnablePeerAccess(c0, 0), CUDA_ERROR_INVALID_DEVICE);
	ERR(D.cuCtxEnablePeerAccess(c1, 1), CUDA_ERROR_INVALID_VALUE);
	OK(D.cuCtxDisablePeerAccess(c1));
	ERR(D.cuCtxDisablePeerAccess(c1), CUDA_ERROR_PEER_ACCESS_NOT_ENABLED);
}

Test(mgpu_sim_env, bad_gpu_count_is_refused)
{
	char err[256] = "";
	setenv("VGPU_SIM_GPUS", "17", 1);
	cr_assert_eq(vgpu_backend_sim_open(&D, err, sizeof(err)), -1);
	cr_expect(strstr(err, "VGPU_SIM_GPUS") != NULL, "%s", err);
}

Test(mgpu_sim_env, no_peers)
{
	char err[256] = "";
	int can;
	setenv("VGPU_SIM_GPUS", "2", 1);
	setenv("VGPU_SIM_PEER", "none", 1);
	setenv("VGPU_SIM_MEMORY", "64M", 1);
	cr_assert_eq(vgpu_backend_sim_open(&D, err, sizeof(err)), 0, "%s", err);
	OK(D.cuInit(0));
	OK(D.cuDeviceCanAccessPeer(&can, 0, 1));
	cr_expect_eq(can, 0);
}

/* ---- CUDA_VISIBLE_DEVICES ----------------------------------------------- */

static const char U[3][VGPU_UUID_STR] = {
	"GPU-11111111-2222-8333-8444-555555555555",
	"GPU-11112222-2222-8333-8444-555555555555",
	"GPU-abcdef00-2222-8333-8444-555555555555",
};

static void vis(const char *env, int want_n, const int *want)
{
	int out[16];
	int n = vgpu_visible_parse(env, U, 3, out);
	cr_assert_eq(n, want_n, "'%s': %d devices, want %d", env ? env : "NULL",
		     n, want_n);
	for (int i = 0; i < n; i++)
		cr_expect_eq(out[i], want[i], "'%s' [%d]", env, i);
}

Test(mgpu_visible, as_the_driver_reads_it)
{
	vis(NULL, 3, (int[]){0, 1, 2});
	vis("", 0, NULL);
	vis("1", 1, (int[]){1});
	vis("2,0", 2, (int[]){2, 0});
	vis(" 2 , 1 ", 2, (int[]){2, 1});
	vis("0,3,1", 1, (int[]){0});     /* an unknown index ends the list */
	vis("0,x,1", 1, (int[]){0});     /* so does anything else */
	vis("1,1,2", 1, (int[]){1});     /* and a repeat */
	vis("-1", 0, NULL);
	vis("1a", 0, NULL);
	vis("GPU-abcdef00-2222-8333-8444-555555555555,0", 2, (int[]){2, 0});
	vis("gpu-ABCDEF00", 1, (int[]){2}); /* a prefix, any case */
	vis("GPU-1111,0", 0, NULL);          /* ambiguous prefix */
	vis("GPU-11112,GPU-1111111", 2, (int[]){1, 0});
	vis("GPU-", 0, NULL);
	vis("GPU-99", 0, NULL);
	vis("2,GPU-abc", 1, (int[]){2}); /* device 2 again: ends the list */
}
