/* tests/gpu/discovery.c - how Ollama and PyTorch find the GPU, replayed.
 *
 * Usage: discovery        (a guest process; linked with -lcuda -ldl)
 *
 * Each group replays one discovery sequence of
 * ../shared/reference/dark-api-and-discovery.md with the libraries opened
 * as those programs open them (dlopen of libcuda.so.1 and
 * libnvidia-ml.so.1, entry points by dlsym) and checks that it ends with
 * the virtual GPU reported, printing the line the program would log:
 *  - ollama_native_probe (0.30+): cuInit, cuDriverGetVersion,
 *    cuDeviceGetCount, cuDeviceGet, attributes 75/76/18, name, total
 *    memory, bus id; NVML init, driver version (its major passes the
 *    gates: >= 550 for a CUDA >= 12.4 runtime, >= 570 below cc 7), shutdown;
 *  - ollama_ggml_nvml (Ollama's ggml patch): UUID from the driver API,
 *    nvmlDeviceGetHandleByUUID, memory info, name, nvmlErrorString;
 *  - ollama_012_inprocess (<= 0.12): the driver sequence with
 *    cuCtxCreate_v3, cuMemGetInfo_v2 and cuCtxDestroy_v2, then NVML by
 *    UUID (its total must be the driver's);
 *  - pytorch_nvml: every symbol PyTorch asserts, handle by the driver's bus
 *    id, CUDA version, processes, NvLink remote type NOT_SUPPORTED on every
 *    link, and the NVML queries torch.cuda's helpers make.
 * Ends with "discovery: N passed, N failed".
 */
#define _GNU_SOURCE
#include "check.h"
#include "../../guest/nvml/nvml_abi.h"
#include <dlfcn.h>
#include <stdlib.h>

static void *cu_lib, *nv_lib;

static void *sym(struct check *c, void *lib, const char *name)
{
	void *f = lib ? dlsym(lib, name) : NULL;
	if (!f)
		check_fail(c, "dlsym %s: not found", name);
	return f;
}

/* Resolve a typed entry point; the group fails if it is missing. */
#define CU(c, name, ...) ((CUresult(*)(__VA_ARGS__))sym(c, cu_lib, #name))
#define NV(c, name, ...) ((nvmlReturn_t(*)(__VA_ARGS__))sym(c, nv_lib, #name))
#define OKCU(c, call) EXPECT_OK(c, call)
#define OKNV(c, call) nv_ok((c), (call), #call, __LINE__)
#define TRUE(c, cond, fmt, ...)                                              \
	((cond) ? 1                                                          \
		: (check_fail((c), "line %d: " fmt, __LINE__, ##__VA_ARGS__), 0))

static int nv_ok(struct check *c, nvmlReturn_t r, const char *what, int line)
{
	if (r == NVML_SUCCESS)
		return 1;
	check_fail(c, "line %d: %s = NVML error %d", line, what, (int)r);
	return 0;
}

static void uuid_str(const CUuuid *u, char out[64])
{
	const unsigned char *b = (const unsigned char *)u->bytes;
	snprintf(out, 64, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
		 b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void ollama_native_probe(void)
{
	struct check c = {.name = "ollama_native_probe"};
	int ver = 0, n = 0, maj = 0, min = 0, mp = 0;
	CUdevice dev;
	char name[256] = "", bus[32] = "", dv[80] = "";
	size_t total = 0;
	OKCU(&c, CU(&c, cuInit, unsigned)(0));
	OKCU(&c, CU(&c, cuDriverGetVersion, int *)(&ver));
	OKCU(&c, CU(&c, cuDeviceGetCount, int *)(&n));
	TRUE(&c, n == 1, "%d devices", n);
	OKCU(&c, CU(&c, cuDeviceGet, CUdevice *, int)(&dev, 0));
	CUresult (*attr)(int *, CUdevice_attribute, CUdevice) =
		CU(&c, cuDeviceGetAttribute, int *, CUdevice_attribute, CUdevice);
	OKCU(&c, attr(&maj, (CUdevice_attribute)75, dev));
	OKCU(&c, attr(&min, (CUdevice_attribute)76, dev));
	OKCU(&c, attr(&mp, (CUdevice_attribute)18, dev));
	OKCU(&c, CU(&c, cuDeviceGetName, char *, int, CUdevice)(name, 256, dev));
	OKCU(&c, CU(&c, cuDeviceTotalMem_v2, size_t *, CUdevice)(&total, dev));
	OKCU(&c, CU(&c, cuDeviceGetPCIBusId, char *, int, CUdevice)(bus, 32,
								      dev));
	OKNV(&c, NV(&c, nvmlInit_v2, void)());
	OKNV(&c, NV(&c, nvmlSystemGetDriverVersion, char *, unsigned)(dv, 80));
	OKNV(&c, NV(&c, nvmlShutdown, void)());
	int drv_major = atoi(dv);
	/* the gates Ollama applies before it keeps a CUDA device */
	TRUE(&c, ver >= 13000, "CUDA driver %d: the cuda_v13 build needs 13", ver);
	TRUE(&c, drv_major >= 550, "driver '%s' below 550 is dropped", dv);
	TRUE(&c, maj >= 7 || drv_major >= 570, "cc %d.%d on driver %d", maj,
	     min, drv_major);
	TRUE(&c, total > 0 && name[0] && bus[0], "empty device description");
	if (!c.bad)
		printf("  inference compute id=0 library=CUDA compute=%d.%d "
		       "name=\"%s\" pci_id=%s driver=%d.%d total=\"%zu MiB\"\n",
		       maj, min, name, bus, ver / 1000, ver % 1000 / 10,
		       total >> 20);
	check_end(&c);
}

/* The UUID as ggml has it (cudaDeviceProp.uuid comes from the driver). */
static int driver_uuid(struct check *c, char out[64])
{
	CUdevice dev;
	CUuuid u;
	return OKCU(c, CU(c, cuInit, unsigned)(0)) &&
	       OKCU(c, CU(c, cuDeviceGet, CUdevice *, int)(&dev, 0)) &&
	       OKCU(c, CU(c, cuDeviceGetUuid, CUuuid *, CUdevice)(&u, dev)) &&
	       (uuid_str(&u, out), 1);
}

static void ollama_ggml_nvml(void)
{
	struct check c = {.name = "ollama_ggml_nvml"};
	char uuid[64], name[96] = "";
	nvmlDevice_t d = NULL;
	nvmlMemory_t m = {0};
	const char *(*es)(nvmlReturn_t);
	*(void **)&es = sym(&c, nv_lib, "nvmlErrorString");
	if (driver_uuid(&c, uuid) && OKNV(&c, NV(&c, nvmlInit_v2, void)())) {
		nvmlReturn_t r = NV(&c, nvmlDeviceGetHandleByUUID, const char *,
				    nvmlDevice_t *)(uuid, &d);
		TRUE(&c, r == NVML_SUCCESS, "no NVML device for %s: %s", uuid,
		     es ? es(r) : "?");
		OKNV(&c, NV(&c, nvmlDeviceGetMemoryInfo, nvmlDevice_t,
			    nvmlMemory_t *)(d, &m));
		OKNV(&c, NV(&c, nvmlDeviceGetName, nvmlDevice_t, char *,
			    unsigned)(d, name, sizeof(name)));
		OKNV(&c, NV(&c, nvmlShutdown, void)());
		TRUE(&c, m.total > 0 && m.free > 0 && m.free <= m.total,
		     "free %llu of %llu", m.free, m.total);
	}
	if (!c.bad)
		printf("  ggml_nvml: %s \"%s\" %llu MiB free of %llu MiB\n", uuid,
		       name, m.free >> 20, m.total >> 20);
	check_end(&c);
}

static void ollama_012_inprocess(void)
{
	struct check c = {.name = "ollama_012_inprocess"};
	char uuid[64];
	CUdevice dev;
	CUcontext ctx = NULL;
	size_t free = 0, total = 0;
	if (!driver_uuid(&c, uuid) ||
	    !OKCU(&c, CU(&c, cuDeviceGet, CUdevice *, int)(&dev, 0))) {
		check_end(&c);
		return;
	}
	if (OKCU(&c, CU(&c, cuCtxCreate_v3, CUcontext *, void *, int,
			unsigned, CUdevice)(&ctx, NULL, 0, 0, dev))) {
		OKCU(&c, CU(&c, cuMemGetInfo_v2, size_t *, size_t *)(&free,
								   &total));
		OKCU(&c, CU(&c, cuCtxDestroy_v2, CUcontext)(ctx));
	}
	nvmlDevice_t d;
	nvmlMemory_t m;
	if (OKNV(&c, NV(&c, nvmlInit_v2, void)())) {
		OKNV(&c, NV(&c, nvmlDeviceGetHandleByUUID, const char *,
			    nvmlDevice_t *)(uuid, &d));
		OKNV(&c, NV(&c, nvmlDeviceGetMemoryInfo, nvmlDevice_t,
			    nvmlMemory_t *)(d, &m));
		OKNV(&c, NV(&c, nvmlShutdown, void)());
		TRUE(&c, m.total == total, "NVML total %llu, driver %zu",
		     m.total, total);
	}
	check_end(&c);
}

static void pytorch_nvml(void)
{
	struct check c = {.name = "pytorch_nvml"};
	static const char *const required[] = {
		"nvmlInit_v2", "nvmlDeviceGetHandleByPciBusId_v2",
		"nvmlDeviceGetNvLinkRemoteDeviceType",
		"nvmlDeviceGetNvLinkRemotePciInfo_v2",
		"nvmlDeviceGetComputeRunningProcesses",
		"nvmlSystemGetCudaDriverVersion_v2"};
	for (size_t i = 0; i < sizeof(required) / sizeof(*required); i++)
		sym(&c, nv_lib, required[i]);
	CUdevice dev;
	char bus[32];
	int cuv = 0, nvv = 0;
	unsigned n = 0, k = 0, clk = 0;
	nvmlDevice_t d = NULL, d0 = NULL;
	nvmlUtilization_t u;
	nvmlProcessInfo_v1_t p[16];
	nvmlIntNvLinkDeviceType_t type;
	char uuid[96];
	OKCU(&c, CU(&c, cuInit, unsigned)(0));
	OKCU(&c, CU(&c, cuDeviceGet, CUdevice *, int)(&dev, 0));
	OKCU(&c, CU(&c, cuDeviceGetPCIBusId, char *, int, CUdevice)(bus, 32,
								      dev));
	OKCU(&c, CU(&c, cuDriverGetVersion, int *)(&cuv));
	if (!OKNV(&c, NV(&c, nvmlInit_v2, void)())) {
		check_end(&c);
		return;
	}
	OKNV(&c, NV(&c, nvmlDeviceGetHandleByPciBusId_v2, const char *,
		    nvmlDevice_t *)(bus, &d));
	OKNV(&c, NV(&c, nvmlSystemGetCudaDriverVersion_v2, int *)(&nvv));
	TRUE(&c, nvv == cuv, "NVML CUDA version %d, driver %d", nvv, cuv);
	/* torch.cuda.device_count() with PYTORCH_NVML_BASED_CUDA_CHECK */
	OKNV(&c, NV(&c, nvmlDeviceGetCount_v2, unsigned *)(&n));
	TRUE(&c, n == 1, "%u NVML devices", n);
	OKNV(&c, NV(&c, nvmlDeviceGetHandleByIndex_v2, unsigned,
		    nvmlDevice_t *)(0, &d0));
	TRUE(&c, d0 == d, "index 0 and the bus id name different devices");
	/* torch.cuda.list_gpu_processes, utilization, clock_rate, uuid */
	k = 16;
	OKNV(&c, NV(&c, nvmlDeviceGetComputeRunningProcesses, nvmlDevice_t,
		    unsigned *, nvmlProcessInfo_v1_t *)(d, &k, p));
	OKNV(&c, NV(&c, nvmlDeviceGetUtilizationRates, nvmlDevice_t,
		    nvmlUtilization_t *)(d, &u));
	OKNV(&c, NV(&c, nvmlDeviceGetClockInfo, nvmlDevice_t, unsigned,
		    unsigned *)(d, NVML_CLOCK_SM, &clk));
	OKNV(&c, NV(&c, nvmlDeviceGetUUID, nvmlDevice_t, char *, unsigned)(
			 d, uuid, sizeof(uuid)));
	/* the NVLink topology probe: no link answers */
	nvmlReturn_t (*remote)(nvmlDevice_t, unsigned,
			       nvmlIntNvLinkDeviceType_t *) =
		NV(&c, nvmlDeviceGetNvLinkRemoteDeviceType, nvmlDevice_t,
		   unsigned, nvmlIntNvLinkDeviceType_t *);
	for (unsigned link = 0; remote && link < 18; link++) {
		nvmlReturn_t r = remote(d, link, &type);
		TRUE(&c, r == NVML_ERROR_NOT_SUPPORTED, "link %u: %d", link,
		     (int)r);
	}
	OKNV(&c, NV(&c, nvmlShutdown, void)());
	if (!c.bad)
		printf("  torch: %s at %s, CUDA %d, %u%% busy, SM %u MHz\n",
		       uuid, bus, nvv, u.gpu, clk);
	check_end(&c);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	cu_lib = dlopen("libcuda.so.1", RTLD_NOW);
	nv_lib = dlopen("libnvidia-ml.so.1", RTLD_NOW);
	if (!cu_lib || !nv_lib) {
		printf("FAIL dlopen: %s\n", dlerror());
		return 1;
	}
	ollama_native_probe();
	ollama_ggml_nvml();
	ollama_012_inprocess();
	pytorch_nvml();
	return check_summary("discovery");
}
