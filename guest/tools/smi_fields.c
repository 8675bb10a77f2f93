/* guest/tools/smi_fields.c - the --query-gpu fields, nvidia-smi's names. */
#include "smi.h"
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define MiB (1ull << 20)

void smi_time(char *out, size_t n, bool csv)
{
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	if (!csv) {
		strftime(out, n, "%a %b %e %H:%M:%S %Y", &tm);
		return;
	}
	char s[32];
	strftime(s, sizeof(s), "%Y/%m/%d %H:%M:%S", &tm);
	snprintf(out, n, "%s.%03d", s, (int)(tv.tv_usec / 1000));
}

static nvmlReturn_t f_timestamp(nvmlDevice_t d, char *o, size_t n)
{
	(void)d;
	smi_time(o, n, true);
	return NVML_SUCCESS;
}

static nvmlReturn_t f_driver(nvmlDevice_t d, char *o, size_t n)
{
	(void)d;
	return nvmlSystemGetDriverVersion(o, (unsigned)n);
}

static nvmlReturn_t f_count(nvmlDevice_t d, char *o, size_t n)
{
	unsigned c;
	(void)d;
	nvmlReturn_t r = nvmlDeviceGetCount_v2(&c);
	if (!r)
		snprintf(o, n, "%u", c);
	return r;
}

static nvmlReturn_t f_name(nvmlDevice_t d, char *o, size_t n)
{
	return nvmlDeviceGetName(d, o, (unsigned)n);
}

static nvmlReturn_t f_serial(nvmlDevice_t d, char *o, size_t n)
{
	return nvmlDeviceGetSerial(d, o, (unsigned)n);
}

static nvmlReturn_t f_uuid(nvmlDevice_t d, char *o, size_t n)
{
	return nvmlDeviceGetUUID(d, o, (unsigned)n);
}

static nvmlReturn_t f_vbios(nvmlDevice_t d, char *o, size_t n)
{
	return nvmlDeviceGetVbiosVersion(d, o, (unsigned)n);
}

/* PCI fields share one lookup; which one is the caller's business. */
#define PCI(fname, fmt, expr)                                                \
	static nvmlReturn_t fname(nvmlDevice_t d, char *o, size_t n)         \
	{                                                                    \
		nvmlPciInfo_t p;                                             \
		nvmlReturn_t r = nvmlDeviceGetPciInfo_v3(d, &p);             \
		if (!r)                                                      \
			snprintf(o, n, fmt, expr);                           \
		return r;                                                    \
	}
PCI(f_bus_id, "%s", p.busId)
PCI(f_domain, "0x%04X", p.domain)
PCI(f_bus, "0x%02X", p.bus)
PCI(f_device, "0x%02X", p.device)
PCI(f_device_id, "0x%08X", p.pciDeviceId)
PCI(f_sub_id, "0x%08X", p.pciSubSystemId)

/* A call yielding one unsigned, printed with fmt. */
#define UINT(fname, call, fmt)                                               \
	static nvmlReturn_t fname(nvmlDevice_t d, char *o, size_t n)         \
	{                                                                    \
		unsigned v;                                                  \
		nvmlReturn_t r = call;                                       \
		if (!r)                                                      \
			snprintf(o, n, fmt, v);                              \
		return r;                                                    \
	}
UINT(f_index, nvmlDeviceGetIndex(d, &v), "%u")
UINT(f_fan, nvmlDeviceGetFanSpeed(d, &v), "%u")
UINT(f_temp, nvmlDeviceGetTemperature(d, NVML_TEMPERATURE_GPU, &v), "%u")
UINT(f_gen, nvmlDeviceGetCurrPcieLinkGeneration(d, &v), "%u")
UINT(f_gen_max, nvmlDeviceGetMaxPcieLinkGeneration(d, &v), "%u")
UINT(f_width, nvmlDeviceGetCurrPcieLinkWidth(d, &v), "%u")
UINT(f_width_max, nvmlDeviceGetMaxPcieLinkWidth(d, &v), "%u")
UINT(f_clk_gr, nvmlDeviceGetClockInfo(d, NVML_CLOCK_GRAPHICS, &v), "%u")
UINT(f_clk_sm, nvmlDeviceGetClockInfo(d, NVML_CLOCK_SM, &v), "%u")
UINT(f_clk_mem, nvmlDeviceGetClockInfo(d, NVML_CLOCK_MEM, &v), "%u")
UINT(f_clk_video, nvmlDeviceGetClockInfo(d, NVML_CLOCK_VIDEO, &v), "%u")
UINT(f_max_gr, nvmlDeviceGetMaxClockInfo(d, NVML_CLOCK_GRAPHICS, &v), "%u")
UINT(f_max_sm, nvmlDeviceGetMaxClockInfo(d, NVML_CLOCK_SM, &v), "%u")
UINT(f_max_mem, nvmlDeviceGetMaxClockInfo(d, NVML_CLOCK_MEM, &v), "%u")

/* Milliwatts as watts with two decimals, as nvidia-smi prints them. */
#define WATTS(fname, call)                                                   \
	static nvmlReturn_t fname(nvmlDevice_t d, char *o, size_t n)         \
	{                                                                    \
		unsigned v, w;                                               \
		nvmlReturn_t r = call;                                       \
		(void)w;                                                     \
		if (!r)                                                      \
			snprintf(o, n, "%u.%02u", v / 1000, v % 1000 / 10);  \
		return r;                                                    \
	}
WATTS(f_power, nvmlDeviceGetPowerUsage(d, &v))
WATTS(f_limit, nvmlDeviceGetPowerManagementLimit(d, &v))
WATTS(f_enforced, nvmlDeviceGetEnforcedPowerLimit(d, &v))
WATTS(f_default, nvmlDeviceGetPowerManagementDefaultLimit(d, &v))
WATTS(f_min, nvmlDeviceGetPowerManagementLimitConstraints(d, &v, &w))
WATTS(f_max, nvmlDeviceGetPowerManagementLimitConstraints(d, &w, &v))

static nvmlReturn_t util(nvmlDevice_t d, char *o, size_t n, bool mem)
{
	nvmlUtilization_t u;
	nvmlReturn_t r = nvmlDeviceGetUtilizationRates(d, &u);
	if (!r)
		snprintf(o, n, "%u", mem ? u.memory : u.gpu);
	return r;
}

static nvmlReturn_t f_util_gpu(nvmlDevice_t d, char *o, size_t n)
{
	return util(d, o, n, false);
}

static nvmlReturn_t f_util_mem(nvmlDevice_t d, char *o, size_t n)
{
	return util(d, o, n, true);
}

/* memory.* in MiB: 0 total, 1 reserved, 2 used, 3 free */
static nvmlReturn_t mem(nvmlDevice_t d, char *o, size_t n, int which)
{
	nvmlMemory_v2_t m = {.version = nvmlMemory_v2};
	nvmlReturn_t r = nvmlDeviceGetMemoryInfo_v2(d, &m);
	unsigned long long v[] = {m.total, m.reserved, m.used, m.free};
	if (!r)
		snprintf(o, n, "%llu", v[which] / MiB);
	return r;
}
#define MEM(fname, which)                                                    \
	static nvmlReturn_t fname(nvmlDevice_t d, char *o, size_t n)         \
	{                                                                    \
		return mem(d, o, n, which);                                  \
	}
MEM(f_mem_total, 0)
MEM(f_mem_reserved, 1)
MEM(f_mem_used, 2)
MEM(f_mem_free, 3)

static const char *enabled(unsigned v)
{
	return v ? "Enabled" : "Disabled";
}

/* An enable state printed as a word. */
#define STATE(fname, type, call)                                             \
	static nvmlReturn_t fname(nvmlDevice_t d, char *o, size_t n)         \
	{                                                                    \
		type v, w;                                                   \
		nvmlReturn_t r = call;                                       \
		(void)w;                                                     \
		if (!r)                                                      \
			snprintf(o, n, "%s", enabled((unsigned)v));          \
		return r;                                                    \
	}
STATE(f_persistence, nvmlEnableState_t, nvmlDeviceGetPersistenceMode(d, &v))
STATE(f_ecc, nvmlEnableState_t, nvmlDeviceGetEccMode(d, &v, &w))
STATE(f_ecc_pending, nvmlEnableState_t, nvmlDeviceGetEccMode(d, &w, &v))
STATE(f_display, nvmlEnableState_t, nvmlDeviceGetDisplayMode(d, &v))
STATE(f_display_active, nvmlEnableState_t, nvmlDeviceGetDisplayActive(d, &v))
STATE(f_mig, unsigned, nvmlDeviceGetMigMode(d, &v, &w))

static nvmlReturn_t f_pstate(nvmlDevice_t d, char *o, size_t n)
{
	nvmlPstates_t p;
	nvmlReturn_t r = nvmlDeviceGetPerformanceState(d, &p);
	if (!r)
		snprintf(o, n, "P%u", (unsigned)p);
	return r;
}

static nvmlReturn_t f_compute_mode(nvmlDevice_t d, char *o, size_t n)
{
	static const char *const names[] = {"Default", "Exclusive_Thread",
					    "Prohibited", "Exclusive_Process"};
	nvmlComputeMode_t m;
	nvmlReturn_t r = nvmlDeviceGetComputeMode(d, &m);
	if (!r)
		snprintf(o, n, "%s", (unsigned)m < 4 ? names[m] : "Unknown");
	return r;
}

static nvmlReturn_t f_cc(nvmlDevice_t d, char *o, size_t n)
{
	int maj, min;
	nvmlReturn_t r = nvmlDeviceGetCudaComputeCapability(d, &maj, &min);
	if (!r)
		snprintf(o, n, "%d.%d", maj, min);
	return r;
}

/* ECC totals: corrected/uncorrected x volatile/aggregate */
#define ECC(fname, type, counter)                                            \
	static nvmlReturn_t fname(nvmlDevice_t d, char *o, size_t n)         \
	{                                                                    \
		unsigned long long v;                                        \
		nvmlReturn_t r = nvmlDeviceGetTotalEccErrors(d, type,        \
							     counter, &v);   \
		if (!r)                                                      \
			snprintf(o, n, "%llu", v);                           \
		return r;                                                    \
	}
ECC(f_ecc_cv, NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_VOLATILE_ECC)
ECC(f_ecc_uv, NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_VOLATILE_ECC)
ECC(f_ecc_ca, NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_AGGREGATE_ECC)
ECC(f_ecc_ua, NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_AGGREGATE_ECC)

const char *smi_brand(nvmlBrandType_t b)
{
	static const char *const names[] = {
		[NVML_BRAND_QUADRO] = "Quadro", [NVML_BRAND_TESLA] = "Tesla",
		[NVML_BRAND_NVS] = "NVS", [NVML_BRAND_GEFORCE] = "GeForce",
		[NVML_BRAND_TITAN] = "Titan", [NVML_BRAND_QUADRO_RTX] = "Quadro RTX",
		[NVML_BRAND_NVIDIA_RTX] = "NVIDIA RTX",
		[NVML_BRAND_NVIDIA] = "NVIDIA",
		[NVML_BRAND_GEFORCE_RTX] = "GeForce RTX",
		[NVML_BRAND_TITAN_RTX] = "Titan RTX"};
	unsigned i = (unsigned)b;
	return i < sizeof(names) / sizeof(names[0]) && names[i] ? names[i]
								: "Unknown";
}

/* clocks event reasons as nvidia-smi prints them: a 64-bit hex mask */
#define MASK(fname, call)                                                    	static nvmlReturn_t fname(nvmlDevice_t d, char *o, size_t n)         	{                                                                    		unsigned long long v;                                        		nvmlReturn_t r = call(d, &v);                                		if (!r)                                                      			snprintf(o, n, "0x%016llx", v);                      		return r;                                                    	}
MASK(f_reasons, nvmlDeviceGetCurrentClocksEventReasons)
MASK(f_reasons_sup, nvmlDeviceGetSupportedClocksEventReasons)

/* application clocks (current target and default), MHz */
#define APPCLK(fname, call, clk)                                             	static nvmlReturn_t fname(nvmlDevice_t d, char *o, size_t n)         	{                                                                    		unsigned v;                                                  		nvmlReturn_t r = call(d, clk, &v);                           		if (!r)                                                      			snprintf(o, n, "%u", v);                             		return r;                                                    	}
APPCLK(f_app_gr, nvmlDeviceGetApplicationsClock, NVML_CLOCK_GRAPHICS)
APPCLK(f_app_mem, nvmlDeviceGetApplicationsClock, NVML_CLOCK_MEM)
APPCLK(f_dapp_gr, nvmlDeviceGetDefaultApplicationsClock, NVML_CLOCK_GRAPHICS)
APPCLK(f_dapp_mem, nvmlDeviceGetDefaultApplicationsClock, NVML_CLOCK_MEM)

static nvmlReturn_t f_inforom(nvmlDevice_t d, char *o, size_t n)
{
	return nvmlDeviceGetInforomImageVersion(d, o, (unsigned)n);
}

static const struct smi_field fields[] = {
	{"timestamp", NULL, NULL, "time of the query", f_timestamp},
	{"driver_version", NULL, NULL, "host kernel driver version", f_driver},
	{"count", NULL, NULL, "number of GPUs", f_count},
	{"name", "gpu_name", NULL, "product name", f_name},
	{"serial", "gpu_serial", NULL, "serial (per VM, derived from the UUID)",
	 f_serial},
	{"uuid", "gpu_uuid", NULL, "the VM's GPU UUID (as cuDeviceGetUuid)",
	 f_uuid},
	{"pci.bus_id", "gpu_bus_id", NULL, "PCI bus id as the VM sees it",
	 f_bus_id},
	{"pci.domain", NULL, NULL, "PCI domain", f_domain},
	{"pci.bus", NULL, NULL, "PCI bus", f_bus},
	{"pci.device", NULL, NULL, "PCI device", f_device},
	{"pci.device_id", NULL, NULL, "PCI device and vendor id", f_device_id},
	{"pci.sub_device_id", NULL, NULL, "PCI subsystem id", f_sub_id},
	{"index", NULL, NULL, "GPU index", f_index},
	{"vbios_version", NULL, NULL, "the board's VBIOS", f_vbios},
	{"persistence_mode", NULL, NULL, "host persistence mode", f_persistence},
	{"display_mode", NULL, NULL, "display mode (always Disabled)", f_display},
	{"display_active", NULL, NULL, "display active (always Disabled)",
	 f_display_active},
	{"pstate", NULL, NULL, "performance state P0..P15", f_pstate},
	{"compute_mode", NULL, NULL, "compute mode", f_compute_mode},
	{"compute_cap", NULL, NULL, "CUDA compute capability", f_cc},
	{"mig.mode.current", NULL, NULL, "MIG mode (always Disabled)", f_mig},
	{"fan.speed", NULL, "%", "fan speed", f_fan},
	{"temperature.gpu", NULL, NULL, "core temperature, degrees C", f_temp},
	{"power.draw", NULL, "W", "board power draw", f_power},
	{"power.limit", NULL, "W", "power limit", f_limit},
	{"enforced.power.limit", NULL, "W", "enforced power limit", f_enforced},
	{"power.default_limit", NULL, "W", "default power limit", f_default},
	{"power.min_limit", NULL, "W", "lowest settable limit", f_min},
	{"power.max_limit", NULL, "W", "highest settable limit", f_max},
	{"clocks.current.graphics", "clocks.gr", "MHz", "graphics clock",
	 f_clk_gr},
	{"clocks.current.sm", "clocks.sm", "MHz", "SM clock", f_clk_sm},
	{"clocks.current.memory", "clocks.mem", "MHz", "memory clock",
	 f_clk_mem},
	{"clocks.current.video", "clocks.video", "MHz", "video clock",
	 f_clk_video},
	{"clocks.max.graphics", "clocks.max.gr", "MHz", "max graphics clock",
	 f_max_gr},
	{"clocks.max.sm", NULL, "MHz", "max SM clock", f_max_sm},
	{"clocks.max.memory", "clocks.max.mem", "MHz", "max memory clock",
	 f_max_mem},
	{"utilization.gpu", NULL, "%", "this VM's share of GPU time",
	 f_util_gpu},
	{"utilization.memory", NULL, "%", "this VM's memory-bandwidth share",
	 f_util_mem},
	{"memory.total", NULL, "MiB", "the VM's quota, else the GPU's memory",
	 f_mem_total},
	{"memory.reserved", NULL, "MiB", "held by others, not usable by the VM",
	 f_mem_reserved},
	{"memory.used", NULL, "MiB", "used by the VM's processes", f_mem_used},
	{"memory.free", NULL, "MiB", "what the VM can still allocate",
	 f_mem_free},
	{"ecc.mode.current", NULL, NULL, "ECC mode", f_ecc},
	{"ecc.mode.pending", NULL, NULL, "ECC mode after reboot", f_ecc_pending},
	{"ecc.errors.corrected.volatile.total", NULL, NULL,
	 "corrected ECC errors since boot", f_ecc_cv},
	{"ecc.errors.uncorrected.volatile.total", NULL, NULL,
	 "uncorrected ECC errors since boot", f_ecc_uv},
	{"ecc.errors.corrected.aggregate.total", NULL, NULL,
	 "corrected ECC errors, lifetime", f_ecc_ca},
	{"ecc.errors.uncorrected.aggregate.total", NULL, NULL,
	 "uncorrected ECC errors, lifetime", f_ecc_ua},
	{"pcie.link.gen.current", NULL, NULL, "PCIe generation", f_gen},
	{"pcie.link.gen.max", NULL, NULL, "max PCIe generation", f_gen_max},
	{"pcie.link.width.current", NULL, NULL, "PCIe lanes", f_width},
	{"pcie.link.width.max", NULL, NULL, "max PCIe lanes", f_width_max},
	{"clocks_event_reasons.active", "clocks_throttle_reasons.active", NULL,
	 "the board's clocks event reasons now (mask)", f_reasons},
	{"clocks_event_reasons.supported", "clocks_throttle_reasons.supported",
	 NULL, "clocks event reasons the board reports (mask)", f_reasons_sup},
	{"clocks.applications.graphics", "clocks.applications.gr", "MHz",
	 "graphics application clock", f_app_gr},
	{"clocks.applications.memory", "clocks.applications.mem", "MHz",
	 "memory application clock", f_app_mem},
	{"clocks.default_applications.graphics",
	 "clocks.default_applications.gr", "MHz",
	 "default graphics application clock", f_dapp_gr},
	{"clocks.default_applications.memory",
	 "clocks.default_applications.mem", "MHz",
	 "default memory application clock", f_dapp_mem},
	{"inforom.img", "inforom.image", NULL, "the board's inforom image",
	 f_inforom},
};
#define NFIELDS (sizeof(fields) / sizeof(*fields))

const struct smi_field *smi_field_find(const char *name)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (!strcmp(fields[i].name, name) ||
		    (fields[i].alias && !strcmp(fields[i].alias, name)))
			return &fields[i];
	return NULL;
}

void smi_fields_help(FILE *f)
{
	fprintf(f, "Fields for --query-gpu (units as printed without "
		   "nounits):\n\n");
	for (size_t i = 0; i < NFIELDS; i++) {
		char name[96];
		snprintf(name, sizeof(name), "%s%s%s", fields[i].name,
			 fields[i].alias ? ", " : "",
			 fields[i].alias ? fields[i].alias : "");
		fprintf(f, "  %-38s %s%s%s%s\n", name, fields[i].help,
			fields[i].unit ? " [" : "",
			fields[i].unit ? fields[i].unit : "",
			fields[i].unit ? "]" : "");
	}
}

/* The comma-separated names of list, checked before anything prints. */
static int parse_list(const char *list, const struct smi_field **out,
		      size_t max, size_t *n)
{
	char buf[2048];
	snprintf(buf, sizeof(buf), "%s", list);
	*n = 0;
	for (char *save, *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		const struct smi_field *f = smi_field_find(t);
		if (!f) {
			fprintf(stderr, "Field \"%s\" is not a valid field to "
					"query.\n", t);
			return 2;
		}
		if (*n == max)
			return 2;
		out[(*n)++] = f;
	}
	if (!*n) {
		fprintf(stderr, "--query-gpu needs at least one field\n");
		return 2;
	}
	return 0;
}

int smi_query_csv(nvmlDevice_t *devs, unsigned ndev, const char *list,
		  bool header, bool units)
{
	const struct smi_field *f[64];
	size_t n;
	int rc = parse_list(list, f, 64, &n);
	if (rc)
		return rc;
	for (size_t i = 0; header && i < n; i++)
		printf("%s%s%s%s%s", i ? ", " : "", f[i]->name,
		       units && f[i]->unit ? " [" : "",
		       units && f[i]->unit ? f[i]->unit : "",
		       units && f[i]->unit ? "]" : "");
	if (header)
		printf("\n");
	for (unsigned g = 0; g < ndev; g++) {
		for (size_t i = 0; i < n; i++) {
			char v[256];
			nvmlReturn_t r = f[i]->get(devs[g], v, sizeof(v));
			if (r == NVML_ERROR_NOT_SUPPORTED)
				snprintf(v, sizeof(v), "[N/A]");
			else if (r)
				snprintf(v, sizeof(v), "[%s]", nvmlErrorString(r));
			bool unit = !r && units && f[i]->unit;
			printf("%s%s%s%s", i ? ", " : "", v, unit ? " " : "",
			       unit ? f[i]->unit : "");
		}
		printf("\n");
	}
	return 0;
}
