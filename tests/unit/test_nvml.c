/* The guest NVML library and the VM info block it reads.
 *
 * The region's info block (ring/vminfo.h): where the geometry puts it,
 * what a guest accepts, the seqlock. The library (dlopen'ed as Ollama and
 * PyTorch do) against a region written here by hand, no daemon: exact
 * per-VM memory view, sensors present or absent, processes, PCI ids, a
 * stale block; its symbol surface: every libnvidia-ml export, nothing else,
 * soname libnvidia-ml.so.1, stubs answering NOT_SUPPORTED. */
#define _GNU_SOURCE
#include "../../guest/nvml/nvml_abi.h"
#include "../../ring/region.h"
#include "../../ring/vminfo.h"
#include <criterion/criterion.h>
#include <cuda.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define LIB VGPU_BUILD_DIR "/guest/libvgpu-nvml.so"
#define EXPORTS VGPU_SRC_DIR "/guest/nvml/exports.txt"
#define MiB (1ull << 20)

/* ---- the block in the region ---- */

static struct vgpu_geom small_geom(void)
{
	return (struct vgpu_geom){.nchannels = 2, .nslots = 8,
				  .slot_size = 256, .arena_per_chan = 4096};
}

Test(vminfo, layout_places_the_block_before_the_arena)
{
	struct vgpu_geom g = small_geom();
	cr_assert_eq(vgpu_geom_layout(&g), 0);
	uint64_t replies_end = g.replies_off + 2ull * 8 * 256;
	cr_expect_geq(g.info_off, replies_end);
	cr_expect_eq(g.info_off % 4096, 0);
	cr_expect_eq(g.info_size, VGPU_VMINFO_SIZE);
	cr_expect_leq(g.info_off + g.info_size, g.arena_off);
	cr_expect_eq(g.arena_off % VGPU_ARENA_ALIGN, 0);
}

static uint8_t *format(size_t len, struct vgpu_region *r)
{
	uint8_t *m = aligned_alloc(4096, len);
	cr_assert_not_null(m);
	struct vgpu_geom g = small_geom();
	cr_assert_eq(vgpu_geom_fit(&g, len), 0);
	cr_assert_eq(vgpu_region_format(r, m, len, &g, 0), 0);
	return m;
}

Test(vminfo, header_names_the_block_and_guests_check_it)
{
	struct vgpu_region r, g;
	uint32_t abi;
	uint8_t *m = format(4 * MiB, &r);
	struct vgpu_region_hdr *h = (void *)m;
	cr_expect_eq(h->info_off, r.g.info_off);
	cr_expect_eq(h->info_size, VGPU_VMINFO_SIZE);
	cr_assert_eq(vgpu_region_check(&g, m, 4 * MiB, &abi), 0);
	cr_expect_eq(vgpu_info(&g), m + h->info_off);
	h->info_off += 4096; /* anywhere else is a foreign geometry */
	cr_expect_eq(vgpu_region_check(&g, m, 4 * MiB, &abi), VGPU_E_GEOM);
	h->info_off = 0;
	cr_expect_eq(vgpu_region_check(&g, m, 4 * MiB, &abi), VGPU_E_GEOM);
	h->info_size = 0; /* both 0: absent */
	cr_expect_eq(vgpu_region_check(&g, m, 4 * MiB, &abi), 0);
	cr_expect_null(vgpu_info(&g));
	free(m);
}

Test(vminfo, seqlock_round_trip_and_refusals)
{
	static struct vgpu_vminfo blk, src, out;
	uint32_t seq = 0;
	cr_expect_not(vgpu_vminfo_read(&blk, &out), "an empty block");
	src.magic = VGPU_VMINFO_MAGIC;
	src.version = VGPU_VMINFO_VERSION;
	src.size = sizeof(src);
	src.nprocs = 1000;                       /* a guest scribbled */
	memset(src.dev.name, 'x', sizeof(src.dev.name)); /* no NUL */
	src.phys_total = 42;
	vgpu_vminfo_write(&blk, &src, &seq);
	cr_expect_eq(seq, 2);
	cr_expect_eq(atomic_load(&blk.seq), 2);
	cr_assert(vgpu_vminfo_read(&blk, &out));
	cr_expect_eq(out.phys_total, 42);
	cr_expect_eq(out.nprocs, VGPU_VMINFO_MAX_PROCS);
	cr_expect_eq(strlen(out.dev.name), sizeof(out.dev.name) - 1);
	atomic_store(&blk.seq, 3); /* a writer that died mid-update */
	cr_expect_not(vgpu_vminfo_read(&blk, &out));
	atomic_store(&blk.seq, 4);
	blk.version = 99;
	cr_expect_not(vgpu_vminfo_read(&blk, &out));
}

/* ---- the library against a hand-written region ---- */

static struct {
	void *h;
	char path[64];
	uint8_t *map;
	size_t len;
	struct vgpu_vminfo *blk;
	uint32_t seq;
	struct vgpu_vminfo v;
} T;

#define FN(name, ...) ((nvmlReturn_t(*)(__VA_ARGS__))sym(#name))
static void *sym(const char *name)
{
	void *f = dlsym(T.h, name);
	cr_assert_not_null(f, "%s not exported", name);
	return f;
}

static void publish(void)
{
	vgpu_vminfo_write(T.blk, &T.v, &T.seq);
}

/* A region file with an info block describing an H100-like device under
 * a 1 GiB quota, VGPU_REGION pointing at it, the library loaded. */
static void setup(void)
{
	T.len = 4 * MiB;
	snprintf(T.path, sizeof(T.path), "/dev/shm/vgpu-nvml-test-%d", getpid());
	int fd = open(T.path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0 && ftruncate(fd, (off_t)T.len) == 0);
	T.map = mmap(NULL, T.len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert_neq(T.map, MAP_FAILED);
	struct vgpu_region r;
	struct vgpu_geom g = small_geom();
	cr_assert_eq(vgpu_geom_fit(&g, T.len), 0);
	cr_assert_eq(vgpu_region_format(&r, T.map, T.len, &g, 0), 0);
	T.blk = vgpu_info(&r);
	struct vgpu_vminfo *v = &T.v;
	memset(v, 0, sizeof(*v));
	v->magic = VGPU_VMINFO_MAGIC;
	v->version = VGPU_VMINFO_VERSION;
	v->size = sizeof(*v);
	v->valid = VGPU_VMI_IDENTITY | VGPU_VMI_MEMORY | VGPU_VMI_PROCS |
		   VGPU_VMI_UTIL;
	snprintf(v->dev.name, sizeof(v->dev.name), "NVIDIA H100 80GB HBM3");
	for (int i = 0; i < 16; i++)
		v->dev.uuid[i] = (uint8_t)(0xa0 + i);
	snprintf(v->dev.pci_bus_id, sizeof(v->dev.pci_bus_id), "0000:01:00.0");
	v->dev.total_mem = 1024 * MiB;
	v->dev.driver_version = 13000;
	v->dev.nattrs = VGPU_CU_MAX_ATTRS;
	v->dev.attrs[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID] = 1;
	v->dev.attrs[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR] = 9;
	snprintf(v->driver_version, sizeof(v->driver_version), "580.159.04");
	v->pci_device_id = 0x233010de;
	v->pci_subsys_id = 0x16c110de;
	v->quota = 1024 * MiB;
	v->phys_total = 81559 * MiB;
	v->vm_used = 300 * MiB;
	v->phys_free = 500 * MiB; /* other tenants hold the rest */
	v->util_gpu = 40;
	v->nprocs = 2;
	v->procs[0] = (struct vgpu_vminfo_proc){.pid = 77, .used_mem = 100 * MiB};
	v->procs[1] = (struct vgpu_vminfo_proc){.pid = 78, .used_mem = 200 * MiB};
	publish();
	setenv("VGPU_REGION", T.path, 1);
	setenv("VGPU_LOG", "quiet", 1);
	T.h = dlopen(LIB, RTLD_NOW | RTLD_LOCAL);
	cr_assert_not_null(T.h, "dlopen %s: %s", LIB, dlerror());
}

static void teardown(void)
{
	unlink(T.path);
}

static nvmlDevice_t init_dev(void)
{
	nvmlDevice_t d = NULL;
	cr_assert_eq(FN(nvmlInit_v2, void)(), NVML_SUCCESS);
	cr_assert_eq(FN(nvmlDeviceGetHandleByIndex_v2, unsigned,
			nvmlDevice_t *)(0, &d), NVML_SUCCESS);
	return d;
}

TestSuite(nvml, .init = setup, .fini = teardown);

Test(nvml, per_vm_memory_view)
{
	nvmlDevice_t d = init_dev();
	nvmlMemory_t m;
	nvmlMemory_v2_t m2 = {.version = nvmlMemory_v2};
	cr_assert_eq(FN(nvmlDeviceGetMemoryInfo, nvmlDevice_t, nvmlMemory_t *)(
			     d, &m), NVML_SUCCESS);
	/* total: the quota; free: min(quota - use, physical free) */
	cr_expect_eq(m.total, 1024 * MiB);
	cr_expect_eq(m.free, 500 * MiB);
	cr_expect_eq(m.used, 524 * MiB); /* v1: total - free */
	cr_assert_eq(FN(nvmlDeviceGetMemoryInfo_v2, nvmlDevice_t,
			nvmlMemory_v2_t *)(d, &m2), NVML_SUCCESS);
	cr_expect_eq(m2.total, 1024 * MiB);
	cr_expect_eq(m2.used, 300 * MiB);
	cr_expect_eq(m2.free, 500 * MiB);
	cr_expect_eq(m2.reserved, 224 * MiB);
	/* physical free no longer binds: quota - use does */
	T.v.phys_free = 80000 * MiB;
	publish();
	cr_assert_eq(FN(nvmlDeviceGetMemoryInfo, nvmlDevice_t, nvmlMemory_t *)(
			     d, &m), NVML_SUCCESS);
	cr_expect_eq(m.free, 724 * MiB);
	cr_expect_eq(m.used, 300 * MiB);
	/* over quota (a guest cannot be, but the view must not wrap) */
	T.v.vm_used = 2048 * MiB;
	publish();
	cr_assert_eq(FN(nvmlDeviceGetMemoryInfo, nvmlDevice_t, nvmlMemory_t *)(
			     d, &m), NVML_SUCCESS);
	cr_expect_eq(m.free, 0);
	cr_expect_eq(m.used, 1024 * MiB);
}

Test(nvml, identity_pci_and_versions)
{
	nvmlDevice_t d = init_dev(), h;
	char s[96];
	cr_assert_eq(FN(nvmlDeviceGetUUID, nvmlDevice_t, char *, unsigned)(
			     d, s, sizeof(s)), NVML_SUCCESS);
	cr_expect_str_eq(s, "GPU-a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf");
	cr_expect_eq(FN(nvmlDeviceGetHandleByPciBusId_v2, const char *,
			nvmlDevice_t *)("00000000:01:00.0", &h), NVML_SUCCESS);
	cr_expect_eq(FN(nvmlDeviceGetHandleByPciBusId_v2, const char *,
			nvmlDevice_t *)("01:00.0", &h), NVML_SUCCESS);
	cr_expect_eq(FN(nvmlDeviceGetHandleByPciBusId_v2, const char *,
			nvmlDevice_t *)("0000:02:00.0", &h), NVML_ERROR_NOT_FOUND);
	cr_expect_eq(FN(nvmlDeviceGetHandleByPciBusId_v2, const char *,
			nvmlDevice_t *)("junk", &h), NVML_ERROR_NOT_FOUND);
	nvmlPciInfo_t p;
	cr_assert_eq(FN(nvmlDeviceGetPciInfo_v3, nvmlDevice_t, nvmlPciInfo_t *)(
			     d, &p), NVML_SUCCESS);
	cr_expect_str_eq(p.busId, "00000000:01:00.0");
	cr_expect_str_eq(p.busIdLegacy, "0000:01:00.0");
	cr_expect_eq(p.bus, 1);
	cr_expect_eq(p.pciDeviceId, 0x233010de);
	cr_expect_eq(p.pciSubSystemId, 0x16c110de);
	nvmlPciInfoExt_v1_t e = {.version = 0};
	cr_expect_eq(FN(nvmlDeviceGetPciInfoExt, nvmlDevice_t,
			nvmlPciInfoExt_v1_t *)(d, &e),
		     NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
	cr_assert_eq(FN(nvmlSystemGetDriverVersion, char *, unsigned)(s, 80),
		     NVML_SUCCESS);
	cr_expect_str_eq(s, "580.159.04");
	cr_assert_eq(FN(nvmlSystemGetNVMLVersion, char *, unsigned)(s, 80),
		     NVML_SUCCESS);
	cr_expect_str_eq(s, "13.580.159.04");
	cr_expect_eq(FN(nvmlDeviceGetName, nvmlDevice_t, char *, unsigned)(
			     d, s, 21), NVML_ERROR_INSUFFICIENT_SIZE);
	unsigned arch;
	cr_assert_eq(FN(nvmlDeviceGetArchitecture, nvmlDevice_t, unsigned *)(
			     d, &arch), NVML_SUCCESS);
	cr_expect_eq(arch, NVML_DEVICE_ARCH_HOPPER);
}

Test(nvml, processes_utilization_and_absent_sensors)
{
	nvmlDevice_t d = init_dev();
	unsigned n = 1;
	nvmlProcessInfo_t p[4];
	cr_expect_eq(FN(nvmlDeviceGetComputeRunningProcesses_v3, nvmlDevice_t,
			unsigned *, nvmlProcessInfo_t *)(d, &n, p),
		     NVML_ERROR_INSUFFICIENT_SIZE);
	cr_expect_eq(n, 2);
	n = 4;
	cr_assert_eq(FN(nvmlDeviceGetComputeRunningProcesses_v3, nvmlDevice_t,
			unsigned *, nvmlProcessInfo_t *)(d, &n, p),
		     NVML_SUCCESS);
	cr_expect_eq(n, 2);
	cr_expect_eq(p[1].pid, 78);
	cr_expect_eq(p[1].usedGpuMemory, 200 * MiB);
	cr_expect_eq(p[1].computeInstanceId, NVML_INSTANCE_NOT_AVAILABLE);
	nvmlProcessDetail_v1_t det[4];
	nvmlProcessDetailList_v1_t l = {.version = nvmlProcessDetailList_v1,
					.mode = NVML_PROCESS_MODE_COMPUTE,
					.numProcArrayEntries = 4,
					.procArray = det};
	cr_assert_eq(FN(nvmlDeviceGetRunningProcessDetailList, nvmlDevice_t,
			nvmlProcessDetailList_v1_t *)(d, &l), NVML_SUCCESS);
	cr_expect_eq(l.numProcArrayEntries, 2);
	cr_expect_eq(det[0].usedGpuMemory, 100 * MiB);
	nvmlUtilization_t u;
	cr_assert_eq(FN(nvmlDeviceGetUtilizationRates, nvmlDevice_t,
			nvmlUtilization_t *)(d, &u), NVML_SUCCESS);
	cr_expect_eq(u.gpu, 40);
	unsigned t;
	/* this host supplied no sensors */
	cr_expect_eq(FN(nvmlDeviceGetTemperature, nvmlDevice_t, unsigned,
			unsigned *)(d, 0, &t), NVML_ERROR_NOT_SUPPORTED);
	cr_expect_eq(FN(nvmlDeviceGetPowerUsage, nvmlDevice_t, unsigned *)(
			     d, &t), NVML_ERROR_NOT_SUPPORTED);
	T.v.valid |= VGPU_VMI_TEMP;
	T.v.temp_gpu = 55;
	publish();
	cr_expect_eq(FN(nvmlDeviceGetTemperature, nvmlDevice_t, unsigned,
			unsigned *)(d, 0, &t), NVML_SUCCESS);
	cr_expect_eq(t, 55);
}

Test(nvml, a_stale_block_loses_the_gpu)
{
	nvmlDevice_t d = init_dev();
	char s[96];
	T.v.valid = 0; /* the daemon no longer describes a device */
	publish();
	unsigned n = 9;
	cr_expect_eq(FN(nvmlDeviceGetCount_v2, unsigned *)(&n), NVML_SUCCESS);
	cr_expect_eq(n, 0);
	cr_expect_eq(FN(nvmlDeviceGetName, nvmlDevice_t, char *, unsigned)(
			     d, s, 96), NVML_ERROR_GPU_IS_LOST);
	T.v.magic = 0;
	publish();
	cr_expect_eq(FN(nvmlDeviceGetCount_v2, unsigned *)(&n),
		     NVML_ERROR_GPU_IS_LOST);
	cr_expect_eq(FN(nvmlShutdown, void)(), NVML_SUCCESS);
	cr_expect_eq(FN(nvmlDeviceGetCount_v2, unsigned *)(&n),
		     NVML_ERROR_UNINITIALIZED);
}

Test(nvml, no_region_is_driver_not_loaded)
{
	setenv("VGPU_REGION", "/nonexistent/vgpu-region", 1);
	cr_expect_eq(FN(nvmlInit_v2, void)(), NVML_ERROR_DRIVER_NOT_LOADED);
	const char *(*es)(nvmlReturn_t);
	*(void **)&es = sym("nvmlErrorString");
	cr_expect_str_eq(es(NVML_ERROR_NOT_SUPPORTED), "Not Supported");
	cr_expect_str_eq(es((nvmlReturn_t)12345), "Unknown Error");
}

Test(nvml, field_values_answer_each_field)
{
	nvmlDevice_t d = init_dev();
	nvmlFieldValue_t f[3] = {{.fieldId = NVML_FI_DEV_ECC_CURRENT},
				 {.fieldId = NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION},
				 {.fieldId = 4242}};
	nvmlReturn_t (*get)(nvmlDevice_t, int, nvmlFieldValue_t *);
	*(void **)&get = sym("nvmlDeviceGetFieldValues");
	/* this host has no ECC or energy reading: per-field NOT_SUPPORTED */
	cr_assert_eq(get(d, 3, f), NVML_SUCCESS);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(f[i].nvmlReturn, NVML_ERROR_NOT_SUPPORTED, "%d", i);
	T.v.valid |= VGPU_VMI_ECC | VGPU_VMI_ENERGY;
	T.v.ecc_current = 1;
	T.v.energy = 123456789;
	publish();
	cr_assert_eq(get(d, 3, f), NVML_SUCCESS);
	cr_expect_eq(f[0].nvmlReturn, NVML_SUCCESS);
	cr_expect_eq(f[0].valueType, NVML_VALUE_TYPE_UNSIGNED_INT);
	cr_expect_eq(f[0].value.uiVal, 1);
	cr_expect_eq(f[1].value.ullVal, 123456789);
	cr_expect_eq(f[2].nvmlReturn, NVML_ERROR_NOT_SUPPORTED);
	cr_expect_gt(f[1].timestamp, 0);
	cr_expect_eq(get(d, -1, f), NVML_ERROR_INVALID_ARGUMENT);
	nvmlTemperature_v1_t t = {.version = 1};
	cr_expect_eq(FN(nvmlDeviceGetTemperatureV, nvmlDevice_t,
			nvmlTemperature_v1_t *)(d, &t),
		     NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
}

Test(nvml, nvidia_smi_export_table_is_empty)
{
	static const unsigned char smi[16] = {0xc4, 0xfe, 0x3e, 0x6c, 0xc9, 0x8f,
					      0x6c, 0x4e, 0xa3, 0x27, 0xee, 0x69,
					      0x6e, 0x12, 0xf7, 0xc4};
	unsigned char other[16] = {0};
	const void *t = (void *)1;
	nvmlReturn_t (*get)(const void **, const void *);
	*(void **)&get = sym("nvmlInternalGetExportTable");
	cr_assert_eq(get(&t, smi), NVML_SUCCESS);
	cr_assert_not_null(t);
	for (int i = 0; i < 512; i++) /* size 0, and no entry points */
		cr_assert_null(((const void *const *)t)[i], "slot %d", i);
	cr_expect_eq(get(&t, other), NVML_ERROR_INVALID_ARGUMENT);
	cr_expect_null(t);
	cr_expect_eq(get(NULL, smi), NVML_ERROR_INVALID_ARGUMENT);
}

/* ---- the symbol surface ---- */

Test(nvml_exports, every_export_and_nothing_else)
{
	void *h = dlopen(LIB, RTLD_NOW | RTLD_LOCAL);
	cr_assert_not_null(h, "%s", dlerror());
	FILE *f = fopen(EXPORTS, "r");
	cr_assert_not_null(f);
	char name[256];
	size_t n = 0, missing = 0;
	while (fscanf(f, "%255s", name) == 1) {
		n++;
		if (!dlsym(h, name)) {
			cr_log_info("not exported: %s", name);
			missing++;
		}
	}
	fclose(f);
	cr_expect_eq(n, 404, "exports.txt has %zu names", n);
	cr_expect_eq(missing, 0);
	/* nm -D: the list plus the marker, nothing from the ring library */
	FILE *p = popen("nm -D --defined-only " LIB " | awk '$2 ~ /^[A-Z]$/ && "
			"$3 !~ /^__(odr_asan|asan|tsan|ubsan|sanitizer)/' | wc -l",
			"r");
	cr_assert_not_null(p);
	size_t total = 0;
	cr_assert_eq(fscanf(p, "%zu", &total), 1);
	pclose(p);
	cr_expect_eq(total, n + 1, "%zu dynamic symbols", total);
	cr_expect_not_null(dlsym(h, "vgpu_guest_library_marker"));
	p = popen("objdump -p " LIB " | grep SONAME", "r");
	cr_assert_not_null(p);
	cr_assert_not_null(fgets(name, sizeof(name), p));
	pclose(p);
	cr_expect(strstr(name, "libnvidia-ml.so.1"), "%s", name);
}

/* A stub no VM will implement (vGPU-manager types) answers NOT_SUPPORTED. */
Test(nvml_exports, stubs_answer_not_supported)
{
	setenv("VGPU_LOG", "quiet", 1);
	void *h = dlopen(LIB, RTLD_NOW | RTLD_LOCAL);
	cr_assert_not_null(h);
	int (*f)(void);
	*(void **)&f = dlsym(h, "nvmlVgpuTypeGetName");
	cr_assert_not_null(f);
	cr_expect_eq(f(), NVML_ERROR_NOT_SUPPORTED);
}

/* Event sets: nothing is deliverable, so a set can be created, waited on
 * (TIMEOUT) and freed; registering any type is NOT_SUPPORTED; a freed or
 * forged set is INVALID_ARGUMENT, never a crash. */
Test(nvml, event_sets_time_out_and_refuse_bad_handles)
{
	nvmlEventSet_t es = NULL, es2 = NULL;
	nvmlEventData_t ev;
	unsigned long long types = ~0ull;
	cr_expect_eq(FN(nvmlEventSetCreate, nvmlEventSet_t *)(&es),
		     NVML_ERROR_UNINITIALIZED);
	nvmlDevice_t d = init_dev();
	cr_expect_eq(FN(nvmlEventSetCreate, nvmlEventSet_t *)(NULL),
		     NVML_ERROR_INVALID_ARGUMENT);
	cr_assert_eq(FN(nvmlEventSetCreate, nvmlEventSet_t *)(&es),
		     NVML_SUCCESS);
	cr_assert_eq(FN(nvmlEventSetCreate, nvmlEventSet_t *)(&es2),
		     NVML_SUCCESS);
	cr_expect_neq(es, es2);
	cr_expect_eq(FN(nvmlDeviceGetSupportedEventTypes, nvmlDevice_t,
			unsigned long long *)(d, &types), NVML_SUCCESS);
	cr_expect_eq(types, 0);
	cr_expect_eq(FN(nvmlDeviceGetSupportedEventTypes, nvmlDevice_t,
			unsigned long long *)(d, NULL),
		     NVML_ERROR_INVALID_ARGUMENT);
#define REG FN(nvmlDeviceRegisterEvents, nvmlDevice_t, unsigned long long, \
	       nvmlEventSet_t)
	cr_expect_eq(REG(d, nvmlEventTypeXidCriticalError, es),
		     NVML_ERROR_NOT_SUPPORTED);
	cr_expect_eq(REG(d, nvmlEventTypePState | nvmlEventTypeClock, es),
		     NVML_ERROR_NOT_SUPPORTED);
	cr_expect_eq(REG(d, 0, es), NVML_SUCCESS);
	cr_expect_eq(REG((nvmlDevice_t)&types, 0, es),
		     NVML_ERROR_INVALID_ARGUMENT);
#define WAIT2 FN(nvmlEventSetWait_v2, nvmlEventSet_t, nvmlEventData_t *, \
		 unsigned)
	cr_expect_eq(WAIT2(es, &ev, 0), NVML_ERROR_TIMEOUT);
	cr_expect_eq(WAIT2(es, &ev, 20), NVML_ERROR_TIMEOUT);
	cr_expect_eq(FN(nvmlEventSetWait, nvmlEventSet_t, nvmlEventData_t *,
			unsigned)(es2, &ev, 1), NVML_ERROR_TIMEOUT);
	cr_expect_eq(WAIT2(es, NULL, 1), NVML_ERROR_INVALID_ARGUMENT);
	/* forged: a pointer of ours, garbage, NULL; then a freed set */
	nvmlEventSet_t forged[] = {(nvmlEventSet_t)&ev,
				   (nvmlEventSet_t)(uintptr_t)0x5645000000000001ull,
				   (nvmlEventSet_t)(uintptr_t)~0ull, NULL};
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		cr_expect_eq(WAIT2(forged[i], &ev, 1),
			     NVML_ERROR_INVALID_ARGUMENT, "%zu", i);
		cr_expect_eq(REG(d, 0, forged[i]), NVML_ERROR_INVALID_ARGUMENT);
		cr_expect_eq(FN(nvmlEventSetFree, nvmlEventSet_t)(forged[i]),
			     NVML_ERROR_INVALID_ARGUMENT, "%zu", i);
	}
	cr_expect_eq(FN(nvmlEventSetFree, nvmlEventSet_t)(es), NVML_SUCCESS);
	cr_expect_eq(FN(nvmlEventSetFree, nvmlEventSet_t)(es),
		     NVML_ERROR_INVALID_ARGUMENT);
	cr_expect_eq(WAIT2(es, &ev, 1), NVML_ERROR_INVALID_ARGUMENT);
	cr_expect_eq(REG(d, 0, es), NVML_ERROR_INVALID_ARGUMENT);
	/* the slot is reused under a new generation: the old handle stays dead */
	nvmlEventSet_t es3 = NULL;
	cr_assert_eq(FN(nvmlEventSetCreate, nvmlEventSet_t *)(&es3),
		     NVML_SUCCESS);
	cr_expect_neq(es3, es);
	cr_expect_eq(FN(nvmlEventSetFree, nvmlEventSet_t)(es),
		     NVML_ERROR_INVALID_ARGUMENT);
	cr_expect_eq(FN(nvmlEventSetFree, nvmlEventSet_t)(es3), NVML_SUCCESS);
	cr_expect_eq(FN(nvmlEventSetFree, nvmlEventSet_t)(es2), NVML_SUCCESS);
	cr_expect_eq(FN(nvmlShutdown, void)(), NVML_SUCCESS);
	cr_expect_eq(FN(nvmlEventSetFree, nvmlEventSet_t)(es3),
		     NVML_ERROR_UNINITIALIZED);
#undef REG
#undef WAIT2
}

/* Board facts are the host's: absent until it supplies them, then its
 * values exactly; MIG counts are those of a non-MIG GPU. */
Test(nvml, board_facts_clock_reasons_and_mig)
{
	nvmlDevice_t d = init_dev();
	unsigned v = 99;
	unsigned long long r = 99;
	char s[96];
	nvmlBrandType_t b;
	cr_expect_eq(FN(nvmlDeviceGetMaxMigDeviceCount, nvmlDevice_t,
			unsigned *)(d, &v), NVML_SUCCESS);
	cr_expect_eq(v, 0);
	v = 99;
	cr_expect_eq(FN(nvmlDeviceIsMigDeviceHandle, nvmlDevice_t,
			unsigned *)(d, &v), NVML_SUCCESS);
	cr_expect_eq(v, 0);
	cr_expect_eq(FN(nvmlDeviceGetBrand, nvmlDevice_t, nvmlBrandType_t *)(
			     d, &b), NVML_SUCCESS);
	cr_expect_eq(b, NVML_BRAND_NVIDIA);
#define U(name, ...) FN(name, nvmlDevice_t, unsigned *)(__VA_ARGS__)
#define ULL(name, ...) FN(name, nvmlDevice_t, unsigned long long *)(__VA_ARGS__)
#define CLK(name, ...) FN(name, nvmlDevice_t, unsigned, unsigned *)(__VA_ARGS__)
	cr_expect_eq(U(nvmlDeviceGetBoardId, d, &v), NVML_ERROR_NOT_SUPPORTED);
	cr_expect_eq(ULL(nvmlDeviceGetCurrentClocksEventReasons, d, &r),
		     NVML_ERROR_NOT_SUPPORTED);
	cr_expect_eq(CLK(nvmlDeviceGetApplicationsClock, d, 0, &v),
		     NVML_ERROR_NOT_SUPPORTED);
	cr_expect_eq(FN(nvmlDeviceGetInforomImageVersion, nvmlDevice_t, char *,
			unsigned)(d, s, sizeof(s)), NVML_ERROR_NOT_SUPPORTED);
	cr_expect_eq(FN(nvmlDeviceGetGspFirmwareVersion, nvmlDevice_t,
			char *)(d, s), NVML_ERROR_NOT_SUPPORTED);
	T.v.valid |= VGPU_VMI_CLKREASON | VGPU_VMI_APPCLK | VGPU_VMI_BOARDID |
		     VGPU_VMI_INFOROM | VGPU_VMI_GSP;
	T.v.clk_reasons = 0x1, T.v.clk_reasons_supported = 0x1ff;
	T.v.app_clock[0] = 1755, T.v.app_clock_default[0] = 1980;
	T.v.app_clock[2] = 2619, T.v.app_clock_default[2] = 2619;
	T.v.board_id = 0x1700;
	snprintf(T.v.inforom_image, sizeof(T.v.inforom_image), "G520.0200.00.05");
	memset(T.v.gsp_version, 'x', sizeof(T.v.gsp_version)); /* unterminated */
	publish();
	cr_expect_eq(U(nvmlDeviceGetBoardId, d, &v), NVML_SUCCESS);
	cr_expect_eq(v, 0x1700);
	cr_expect_eq(ULL(nvmlDeviceGetCurrentClocksEventReasons, d, &r),
		     NVML_SUCCESS);
	cr_expect_eq(r, 0x1);
	cr_expect_eq(ULL(nvmlDeviceGetCurrentClocksThrottleReasons, d, &r),
		     NVML_SUCCESS);
	cr_expect_eq(r, 0x1);
	cr_expect_eq(ULL(nvmlDeviceGetSupportedClocksEventReasons, d, &r),
		     NVML_SUCCESS);
	cr_expect_eq(r, 0x1ff);
	cr_expect_eq(ULL(nvmlDeviceGetSupportedClocksThrottleReasons, d, NULL),
		     NVML_ERROR_INVALID_ARGUMENT);
	cr_expect_eq(CLK(nvmlDeviceGetApplicationsClock, d, 0, &v),
		     NVML_SUCCESS);
	cr_expect_eq(v, 1755);
	cr_expect_eq(CLK(nvmlDeviceGetDefaultApplicationsClock, d, 0, &v),
		     NVML_SUCCESS);
	cr_expect_eq(v, 1980);
	cr_expect_eq(CLK(nvmlDeviceGetApplicationsClock, d, 9, &v),
		     NVML_ERROR_INVALID_ARGUMENT);
	/* a domain the host gave no application clock for (SM here) */
	cr_expect_eq(CLK(nvmlDeviceGetApplicationsClock, d, 1, &v),
		     NVML_ERROR_NOT_SUPPORTED);
	cr_expect_eq(FN(nvmlDeviceGetClock, nvmlDevice_t, unsigned, unsigned,
			unsigned *)(d, 2, NVML_CLOCK_ID_APP_CLOCK_DEFAULT, &v),
		     NVML_SUCCESS);
	cr_expect_eq(v, 2619);
	cr_expect_eq(FN(nvmlDeviceGetClock, nvmlDevice_t, unsigned, unsigned,
			unsigned *)(d, 2, NVML_CLOCK_ID_COUNT, &v),
		     NVML_ERROR_INVALID_ARGUMENT);
	cr_expect_eq(FN(nvmlDeviceGetInforomImageVersion, nvmlDevice_t, char *,
			unsigned)(d, s, 8), NVML_ERROR_INSUFFICIENT_SIZE);
	cr_expect_eq(FN(nvmlDeviceGetInforomImageVersion, nvmlDevice_t, char *,
			unsigned)(d, s, sizeof(s)), NVML_SUCCESS);
	cr_expect_str_eq(s, "G520.0200.00.05");
	char g[64];
	cr_expect_eq(FN(nvmlDeviceGetGspFirmwareVersion, nvmlDevice_t,
			char *)(d, g), NVML_SUCCESS);
	cr_expect_eq(strlen(g), sizeof(T.v.gsp_version) - 1); /* terminated */
	/* the brand follows the product line the name spells */
	snprintf(T.v.dev.name, sizeof(T.v.dev.name), "NVIDIA GeForce RTX 4090");
	publish();
	cr_expect_eq(FN(nvmlDeviceGetBrand, nvmlDevice_t, nvmlBrandType_t *)(
			     d, &b), NVML_SUCCESS);
	cr_expect_eq(b, NVML_BRAND_GEFORCE_RTX);
	snprintf(T.v.dev.name, sizeof(T.v.dev.name), "Tesla V100-SXM2-16GB");
	publish();
	cr_expect_eq(FN(nvmlDeviceGetBrand, nvmlDevice_t, nvmlBrandType_t *)(
			     d, &b), NVML_SUCCESS);
	cr_expect_eq(b, NVML_BRAND_TESLA);
#undef U
#undef ULL
#undef CLK
}
