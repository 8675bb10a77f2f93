/* tests/gpu/nvml.c - the guest NVML against the guest libcuda, one process.
 *
 * Usage: nvml [QUOTA_BYTES]   (linked with -lcuda -lnvidia-ml)
 *
 * Checks, each printed "ok NAME" or "FAIL NAME: why":
 *  - lifecycle: every call before nvmlInit is UNINITIALIZED; init/shutdown
 *    are counted; after the last shutdown calls are UNINITIALIZED again;
 *  - no_channel: nvmlInit and queries claim no channel of the region
 *    for this process (VGPU_REGION, read here directly): NVML never
 *    starts a worker (other guests of the VM may hold channels meanwhile);
 *  - identity: name, "GPU-" UUID and PCI bus id equal cuDeviceGetName,
 *    cuDeviceGetUuid and cuDeviceGetPCIBusId; lookups by UUID (any case),
 *    bus id (both spellings) and serial find the device, others NOT_FOUND;
 *    compute capability and the CUDA driver version equal the driver API's;
 *  - memory: total equals cuDeviceTotalMem (and QUOTA when given); after
 *    cuMemAlloc of 64 MiB the VM's used memory is exactly 64 MiB more,
 *    free is total - used, and this process is listed with 64 MiB by every
 *    running-process call; after cuMemFree it is back;
 *  - errors: short buffers, bad handles, NvLink (NOT_SUPPORTED), a stub.
 * On the sim the sensors are the sim's fixed values; on a GPU only their
 * presence and ranges are checked. Ends with "nvml: N passed, N failed".
 */
#define _GNU_SOURCE
#include "check.h"
#include "../../guest/nvml/nvml_api.h"
#include "../../ring/abi.h"
#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* not in nvml_api.h: NvLink (one shared signature there) and a stub */
nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t, unsigned,
				      nvmlEnableState_t *);
nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(nvmlDevice_t, unsigned,
						 nvmlPciInfo_t *);
nvmlReturn_t nvmlDeviceGetAccountingBufferSize(nvmlDevice_t, unsigned *);

static const char *nv_name(nvmlReturn_t r)
{
	static __thread char buf[96];
	snprintf(buf, sizeof(buf), "%d (%s)", (int)r, nvmlErrorString(r));
	return buf;
}

static int nv_expect_(struct check *c, nvmlReturn_t got, nvmlReturn_t want,
		      const char *what, int line)
{
	if (got == want)
		return 1;
	check_fail(c, "line %d: %s = %s, want %d", line, what, nv_name(got),
		   (int)want);
	return 0;
}
#define NV(c, want, call) nv_expect_((c), (call), (want), #call, __LINE__)
#define NV_OK(c, call) NV(c, NVML_SUCCESS, call)
#define TRUE(c, cond, fmt, ...)                                              \
	((cond) ? 1                                                          \
		: (check_fail((c), "line %d: " fmt, __LINE__, ##__VA_ARGS__), 0))

/* How many channels of the region has this process claimed? (-1: no
 * region to look at). Other processes of the VM are not counted: they may
 * hold channels of their own while this test runs. */
static int claimed_channels(void)
{
	const char *path = getenv("VGPU_REGION");
	int fd = path ? open(path, O_RDONLY) : -1;
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	const struct vgpu_region_hdr *h = m;
	int n = 0;
	for (uint32_t i = 0; i < h->nchannels; i++) {
		const struct vgpu_chan_ctl *c =
			(const void *)((char *)m + h->chans_off +
				       (uint64_t)i * VGPU_CTL_SIZE);
		n += VGPU_CLAIM_PID(atomic_load(&c->claim)) ==
		     (uint32_t)getpid();
	}
	munmap(m, (size_t)st.st_size);
	return n;
}

static void lifecycle(void)
{
	struct check c = {.name = "lifecycle"};
	unsigned n;
	nvmlDevice_t d;
	NV(&c, NVML_ERROR_UNINITIALIZED, nvmlDeviceGetCount_v2(&n));
	NV(&c, NVML_ERROR_UNINITIALIZED, nvmlShutdown());
	NV(&c, NVML_ERROR_INVALID_ARGUMENT, nvmlInitWithFlags(0x100));
	NV_OK(&c, nvmlInit());
	NV_OK(&c, nvmlInitWithFlags(0));
	NV_OK(&c, nvmlShutdown());
	NV_OK(&c, nvmlDeviceGetCount_v2(&n)); /* one init left */
	NV_OK(&c, nvmlShutdown());
	NV(&c, NVML_ERROR_UNINITIALIZED, nvmlDeviceGetHandleByIndex_v2(0, &d));
	NV(&c, NVML_ERROR_UNINITIALIZED, nvmlShutdown());
	check_end(&c);
}

static void no_channel(nvmlDevice_t d)
{
	struct check c = {.name = "no_channel"};
	char name[96];
	nvmlMemory_t m;
	NV_OK(&c, nvmlDeviceGetName(d, name, sizeof(name)));
	NV_OK(&c, nvmlDeviceGetMemoryInfo(d, &m));
	int k = claimed_channels();
	TRUE(&c, k == 0, "%d channels claimed by this process after NVML "
	     "calls", k);
	check_end(&c);
}

static void identity(nvmlDevice_t d, CUdevice cu)
{
	struct check c = {.name = "identity"};
	char nv[128], cn[256], bus[32], u[96], sn[32], up[96];
	CUuuid cuid;
	nvmlDevice_t h = NULL;
	NV_OK(&c, nvmlDeviceGetName(d, nv, sizeof(nv)));
	EXPECT_OK(&c, cuDeviceGetName(cn, sizeof(cn), cu));
	TRUE(&c, !strcmp(nv, cn), "name '%s' vs '%s'", nv, cn);
	NV_OK(&c, nvmlDeviceGetUUID(d, u, sizeof(u)));
	EXPECT_OK(&c, cuDeviceGetUuid_v2(&cuid, cu));
	char want[64];
	const uint8_t *b = (const uint8_t *)cuid.bytes;
	snprintf(want, sizeof(want),
		 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
		 b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	TRUE(&c, !strcmp(u, want), "uuid %s vs cuDeviceGetUuid %s", u, want);
	NV_OK(&c, nvmlDeviceGetHandleByUUID(u, &h));
	TRUE(&c, h == d, "handle by uuid differs");
	for (size_t i = 0; u[i]; i++)
		up[i] = (char)toupper((unsigned char)u[i]), up[i + 1] = 0;
	NV_OK(&c, nvmlDeviceGetHandleByUUID(up, &h));
	NV(&c, NVML_ERROR_NOT_FOUND, nvmlDeviceGetHandleByUUID(
		"GPU-00000000-0000-0000-0000-000000000000", &h));
	EXPECT_OK(&c, cuDeviceGetPCIBusId(bus, sizeof(bus), cu));
	nvmlPciInfo_t p;
	nvmlPciInfo_v2_t p2;
	NV_OK(&c, nvmlDeviceGetPciInfo_v3(d, &p));
	NV_OK(&c, nvmlDeviceGetPciInfo(d, &p2));
	TRUE(&c, !strcasecmp(p.busIdLegacy, bus) && !strcasecmp(p2.busId, bus),
	     "bus id '%s'/'%s' vs cuDeviceGetPCIBusId '%s'", p.busIdLegacy,
	     p2.busId, bus);
	TRUE(&c, !strcasecmp(p.busId + 4, bus) && !strncmp(p.busId, "0000", 4),
	     "busId '%s' vs '%s'", p.busId, bus);
	NV_OK(&c, nvmlDeviceGetHandleByPciBusId_v2(bus, &h));
	NV_OK(&c, nvmlDeviceGetHandleByPciBusId_v2(p.busId, &h));
	TRUE(&c, h == d, "handle by bus id differs");
	NV(&c, NVML_ERROR_NOT_FOUND,
	   nvmlDeviceGetHandleByPciBusId_v2("0000:99:00.0", &h));
	NV_OK(&c, nvmlDeviceGetSerial(d, sn, sizeof(sn)));
	NV_OK(&c, nvmlDeviceGetHandleBySerial(sn, &h));
	NV(&c, NVML_ERROR_NOT_FOUND, nvmlDeviceGetHandleBySerial("0", &h));
	int maj, min, cmaj, cmin, nvv, cuv;
	NV_OK(&c, nvmlDeviceGetCudaComputeCapability(d, &maj, &min));
	EXPECT_OK(&c, cuDeviceGetAttribute(
		&cmaj, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, cu));
	EXPECT_OK(&c, cuDeviceGetAttribute(
		&cmin, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, cu));
	TRUE(&c, maj == cmaj && min == cmin, "cc %d.%d vs %d.%d", maj, min,
	     cmaj, cmin);
	NV_OK(&c, nvmlSystemGetCudaDriverVersion_v2(&nvv));
	EXPECT_OK(&c, cuDriverGetVersion(&cuv));
	TRUE(&c, nvv == cuv, "CUDA version %d vs %d", nvv, cuv);
	char dv[80];
	NV_OK(&c, nvmlSystemGetDriverVersion(dv, sizeof(dv)));
	TRUE(&c, atoi(dv) >= 550, "driver version '%s'", dv);
	check_end(&c);
}

/* The VM's used memory, once the daemon's next refresh shows want. */
static int wait_used(nvmlDevice_t d, unsigned long long want,
		     nvmlMemory_v2_t *m)
{
	for (int i = 0; i < 500; i++) { /* refreshes come every 100 ms */
		m->version = nvmlMemory_v2;
		if (nvmlDeviceGetMemoryInfo_v2(d, m) == NVML_SUCCESS &&
		    m->used == want)
			return 1;
		usleep(10000);
	}
	return 0;
}

static int listed(nvmlProcessInfo_t *p, unsigned n, unsigned long long mem)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i].pid == (unsigned)getpid())
			return p[i].usedGpuMemory == mem &&
			       p[i].gpuInstanceId == NVML_INSTANCE_NOT_AVAILABLE;
	return 0;
}

static void procs_check(struct check *c, nvmlDevice_t d,
			unsigned long long mem)
{
	unsigned n = 0;
	nvmlProcessInfo_t p[64];
	nvmlProcessInfo_v1_t p1[64];
	nvmlProcessInfo_v2_t p2[64];
	NV(c, NVML_ERROR_INSUFFICIENT_SIZE,
	   nvmlDeviceGetComputeRunningProcesses_v3(d, &n, NULL));
	TRUE(c, n >= 1, "process count %u", n);
	n = 64;
	NV_OK(c, nvmlDeviceGetComputeRunningProcesses_v3(d, &n, p));
	TRUE(c, listed(p, n, mem), "pid %d not listed with %llu bytes",
	     (int)getpid(), mem);
	n = 64;
	NV_OK(c, nvmlDeviceGetComputeRunningProcesses_v2(d, &n, p2));
	TRUE(c, listed((nvmlProcessInfo_t *)p2, n, mem), "v2 list");
	n = 64;
	NV_OK(c, nvmlDeviceGetComputeRunningProcesses(d, &n, p1));
	int found = 0;
	for (unsigned i = 0; i < n; i++)
		found |= p1[i].pid == (unsigned)getpid() &&
			 p1[i].usedGpuMemory == mem;
	TRUE(c, found, "v1 list");
	n = 0;
	NV_OK(c, nvmlDeviceGetGraphicsRunningProcesses_v3(d, &n, NULL));
	TRUE(c, n == 0, "graphics processes %u", n);
}

static void memory(nvmlDevice_t d, CUdevice cu, unsigned long long quota)
{
	struct check c = {.name = "memory"};
	size_t total;
	nvmlMemory_t m1;
	nvmlMemory_v2_t m;
	EXPECT_OK(&c, cuDeviceTotalMem(&total, cu));
	NV_OK(&c, nvmlDeviceGetMemoryInfo(d, &m1));
	TRUE(&c, m1.total == total, "total %llu vs cuDeviceTotalMem %zu",
	     m1.total, total);
	TRUE(&c, !quota || m1.total == quota, "total %llu vs quota %llu",
	     m1.total, quota);
	TRUE(&c, m1.free + m1.used == m1.total, "v1 free+used != total");
	m.version = 1;
	NV(&c, NVML_ERROR_ARGUMENT_VERSION_MISMATCH,
	   nvmlDeviceGetMemoryInfo_v2(d, &m));
	m.version = nvmlMemory_v2;
	NV_OK(&c, nvmlDeviceGetMemoryInfo_v2(d, &m));
	unsigned long long base = m.used;
	CUdeviceptr p = 0;
	const unsigned long long sz = 64ull << 20;
	if (EXPECT_OK(&c, cuMemAlloc(&p, sz))) {
		TRUE(&c, wait_used(d, base + sz, &m),
		     "used %llu, want %llu after cuMemAlloc", m.used, base + sz);
		TRUE(&c, m.free + m.used + m.reserved == m.total &&
			     m.free <= m.total - m.used,
		     "free %llu used %llu reserved %llu total %llu", m.free,
		     m.used, m.reserved, m.total);
		procs_check(&c, d, sz);
		EXPECT_OK(&c, cuMemFree(p));
		TRUE(&c, wait_used(d, base, &m), "used %llu after cuMemFree",
		     m.used);
	}
	check_end(&c);
}

static void errors(nvmlDevice_t d)
{
	struct check c = {.name = "errors"};
	char small[8];
	unsigned v;
	nvmlEnableState_t st;
	nvmlPciInfo_t p;
	nvmlDevice_t bad = (nvmlDevice_t)(uintptr_t)0x1234;
	NV(&c, NVML_ERROR_INSUFFICIENT_SIZE, nvmlDeviceGetUUID(d, small, 8));
	NV(&c, NVML_ERROR_INVALID_ARGUMENT, nvmlDeviceGetName(bad, small, 8));
	NV(&c, NVML_ERROR_INVALID_ARGUMENT, nvmlDeviceGetHandleByIndex_v2(1, &d));
	NV(&c, NVML_ERROR_NOT_SUPPORTED, nvmlDeviceGetNvLinkState(d, 0, &st));
	NV(&c, NVML_ERROR_NOT_SUPPORTED,
	   nvmlDeviceGetNvLinkRemotePciInfo_v2(d, 0, &p));
	NV(&c, NVML_ERROR_INVALID_ARGUMENT, nvmlDeviceGetNvLinkState(bad, 0, &st));
	NV(&c, NVML_ERROR_NOT_SUPPORTED, nvmlDeviceGetAccountingBufferSize(d, &v));
	NV(&c, NVML_ERROR_INVALID_ARGUMENT,
	   nvmlDeviceGetTemperature(d, (nvmlTemperatureSensors_t)5, &v));
	check_end(&c);
}

static void sensors(nvmlDevice_t d)
{
	struct check c = {.name = "sensors"};
	nvmlUtilization_t u;
	unsigned t, w, clk;
	NV_OK(&c, nvmlDeviceGetUtilizationRates(d, &u));
	TRUE(&c, u.gpu <= 100 && u.memory <= 100, "util %u/%u", u.gpu, u.memory);
	if (NV_OK(&c, nvmlDeviceGetTemperature(d, NVML_TEMPERATURE_GPU, &t)) &&
	    NV_OK(&c, nvmlDeviceGetPowerUsage(d, &w)) &&
	    NV_OK(&c, nvmlDeviceGetClockInfo(d, NVML_CLOCK_SM, &clk)))
		TRUE(&c, t > 0 && t < 120 && w > 0 && clk > 0,
		     "temp %u power %u clock %u", t, w, clk);
	check_end(&c);
}

int main(int argc, char **argv)
{
	unsigned long long quota = argc > 1 ? strtoull(argv[1], NULL, 0) : 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	lifecycle();
	struct check c = {.name = "init"};
	unsigned n = 0;
	nvmlDevice_t d = NULL;
	CUdevice cu;
	NV_OK(&c, nvmlInit_v2());
	NV_OK(&c, nvmlDeviceGetCount_v2(&n));
	TRUE(&c, n == 1, "%u devices", n);
	NV_OK(&c, nvmlDeviceGetHandleByIndex_v2(0, &d));
	check_end(&c);
	if (c.bad)
		return check_summary("nvml");
	no_channel(d);
	struct check ci = {.name = "cuInit"};
	EXPECT_OK(&ci, cuInit(0));
	EXPECT_OK(&ci, cuDeviceGet(&cu, 0));
	CUcontext ctx;
	EXPECT_OK(&ci, cuDevicePrimaryCtxRetain(&ctx, cu));
	EXPECT_OK(&ci, cuCtxSetCurrent(ctx));
	check_end(&ci);
	if (ci.bad)
		return check_summary("nvml");
	identity(d, cu);
	memory(d, cu, quota);
	errors(d);
	sensors(d);
	struct check e = {.name = "shutdown"};
	NV_OK(&e, nvmlShutdown());
	check_end(&e);
	return check_summary("nvml");
}
