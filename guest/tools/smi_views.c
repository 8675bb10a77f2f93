/* guest/tools/smi_views.c - vgpu-smi's -L, default table and -q, laid out
 * as nvidia-smi lays them out (the table is 89 columns: three boxes of 41,
 * 24 and 22). A value NVML does not support prints as N/A. */
#include "smi.h"
#include <stdarg.h>
#include <string.h>

#define MiB (1ull << 20)
#define NA(r, buf, ...) ((r) ? snprintf(buf, sizeof(buf), "N/A") \
			     : snprintf(buf, sizeof(buf), __VA_ARGS__))

void smi_list(nvmlDevice_t *devs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		char name[96] = "", uuid[96] = "";
		nvmlDeviceGetName(devs[i], name, sizeof(name));
		nvmlDeviceGetUUID(devs[i], uuid, sizeof(uuid));
		printf("GPU %u: %s (UUID: %s)\n", i, name, uuid);
	}
}

/* "| " + left, padded, + right + " " so that the box is w wide */
static void cell(const char *left, const char *right, int w)
{
	int l = (int)strlen(left), r = (int)strlen(right);
	if (l + r > w)
		l = w - r > 0 ? w - r : 0;
	printf("|%.*s%*s%s", l, left, w - l - r, "", right);
}

#define INNER 89 /* columns between the outer edges */

static void rule(char c, char edge)
{
	printf("%c", edge);
	for (int i = 0; i < INNER; i++)
		printf("%c", c);
	printf("%c\n", edge);
}

static void row(const char *text)
{
	printf("|%-*.*s|\n", INNER, INNER, text);
}

static void boxes_rule(char c, char edge)
{
	static const int w[] = {41, 24, 22};
	for (int b = 0; b < 3; b++) {
		printf("%c", b ? (edge == '|' ? '+' : edge) : edge);
		for (int i = 0; i < w[b]; i++)
			printf("%c", c);
	}
	printf("%c\n", edge);
}

static void header(void)
{
	char t[64], dv[80] = "N/A", line[128];
	int cuda = 0;
	smi_time(t, sizeof(t), false);
	printf("%s       \n", t);
	nvmlSystemGetDriverVersion(dv, sizeof(dv));
	nvmlSystemGetCudaDriverVersion_v2(&cuda);
	rule('-', '+');
	snprintf(line, sizeof(line), " VGPU-SMI %-24s Driver Version: %-14s "
		 "CUDA Version: %d.%d", dv, dv, cuda / 1000, cuda % 1000 / 10);
	row(line);
	boxes_rule('-', '+');
	printf("| GPU  Name                 Persistence-M | Bus-Id          Disp.A "
	       "| Volatile Uncorr. ECC |\n");
	printf("| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage "
	       "| GPU-Util  Compute M. |\n");
	printf("|                                         |                       "
	       " |               MIG M. |\n");
	boxes_rule('=', '|');
}

static void gpu_rows(unsigned i, nvmlDevice_t d)
{
	char name[96] = "", left[160], right[160], bus[40], fan[32], temp[32];
	char pwr[32], cap[32], mem[64], util[32], ecc[32], pm[32];
	nvmlEnableState_t e, pend;
	unsigned v, w;
	nvmlPciInfo_t p;
	nvmlPstates_t ps;
	nvmlComputeMode_t cm;
	nvmlMemory_t m;
	nvmlUtilization_t u;
	unsigned long long errs;
	nvmlDeviceGetName(d, name, sizeof(name));
	NA(nvmlDeviceGetPersistenceMode(d, &e), pm, "%s", e ? "On" : "Off");
	snprintf(left, sizeof(left), " %3u  %-29.29s", i, name);
	snprintf(right, sizeof(right), "%s  ", pm);
	cell(left, right, 41);
	NA(nvmlDeviceGetPciInfo_v3(d, &p), bus, "%s", p.busId);
	NA(nvmlDeviceGetDisplayActive(d, &e), pm, "%s", e ? "On" : "Off");
	snprintf(left, sizeof(left), "   %s", bus);
	snprintf(right, sizeof(right), " %s ", pm);
	cell(left, right, 24);
	if (nvmlDeviceGetEccMode(d, &e, &pend) || !e)
		snprintf(ecc, sizeof(ecc), "N/A");
	else
		NA(nvmlDeviceGetTotalEccErrors(d, NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
					       NVML_VOLATILE_ECC, &errs),
		   ecc, "%llu", errs);
	snprintf(right, sizeof(right), "%s ", ecc);
	cell("", right, 22);
	printf("|\n");

	NA(nvmlDeviceGetFanSpeed(d, &v), fan, "%u%%", v);
	NA(nvmlDeviceGetTemperature(d, NVML_TEMPERATURE_GPU, &v), temp, "%uC", v);
	NA(nvmlDeviceGetPerformanceState(d, &ps), cap, "P%u", (unsigned)ps);
	snprintf(left, sizeof(left), " %-4s %5s    %-3s", fan, temp, cap);
	NA(nvmlDeviceGetPowerUsage(d, &v), pwr, "%uW", v / 1000);
	NA(nvmlDeviceGetPowerManagementLimit(d, &w), cap, "%uW", w / 1000);
	snprintf(right, sizeof(right), "%5s / %5s ", pwr, cap);
	cell(left, right, 41);
	if (nvmlDeviceGetMemoryInfo(d, &m))
		snprintf(mem, sizeof(mem), "N/A ");
	else
		snprintf(mem, sizeof(mem), "%6lluMiB / %6lluMiB ", m.used / MiB,
			 m.total / MiB);
	cell("", mem, 24);
	NA(nvmlDeviceGetUtilizationRates(d, &u), util, "%u%%", u.gpu);
	static const char *const modes[] = {"Default", "E. Thread", "Prohibited",
					    "E. Process"};
	snprintf(right, sizeof(right), "%7s %12s ", util,
		 nvmlDeviceGetComputeMode(d, &cm) || (unsigned)cm > 3
			 ? "N/A"
			 : modes[cm]);
	cell("", right, 22);
	printf("|\n");

	cell("", "", 41);
	cell("", "", 24);
	NA(nvmlDeviceGetMigMode(d, &v, &w), pm, "%s", v ? "Enabled" : "Disabled");
	snprintf(right, sizeof(right), "%s ", pm);
	cell("", right, 22);
	printf("|\n");
	boxes_rule('-', '+');
}

static void processes(nvmlDevice_t *devs, unsigned n)
{
	printf("\n");
	rule('-', '+');
	row(" Processes:");
	row("  GPU   GI   CI              PID   Type   Process name"
	    "                        GPU Memory ");
	row("        ID   ID                                       "
	    "                        Usage      ");
	rule('=', '|');
	int any = 0;
	for (unsigned g = 0; g < n; g++) {
		nvmlProcessInfo_t p[64];
		unsigned k = 64;
		if (nvmlDeviceGetComputeRunningProcesses_v3(devs[g], &k, p))
			continue;
		for (unsigned i = 0; i < k; i++, any = 1) {
			char name[256] = "", line[256];
			if (nvmlSystemGetProcessName(p[i].pid, name, sizeof(name)))
				snprintf(name, sizeof(name), "N/A");
			size_t l = strlen(name);
			/* a long path keeps its end, as nvidia-smi does */
			snprintf(line, sizeof(line),
				 "  %3u   N/A  N/A  %15u      C   %s%-*.*s%10lluMiB ",
				 g, p[i].pid, l > 32 ? "..." : "",
				 l > 32 ? 29 : 32, l > 32 ? 29 : 32,
				 l > 32 ? name + l - 29 : name,
				 p[i].usedGpuMemory / MiB);
			row(line);
		}
	}
	if (!any)
		row("  No running processes found");
	rule('-', '+');
}

void smi_table(nvmlDevice_t *devs, unsigned n)
{
	header();
	for (unsigned i = 0; i < n; i++)
		gpu_rows(i, devs[i]);
	processes(devs, n);
}

/* -q: "    Key        : value" with the colon at column 42 */
static void kv(int depth, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void kv(int depth, const char *key, const char *fmt, ...)
{
	char v[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	printf("%*s%-*s: %s\n", depth * 4, "", 42 - depth * 4, key, v);
}

static void section(int depth, const char *name)
{
	printf("%*s%s\n", depth * 4, "", name);
}

#define Q(depth, key, call, ...)                                             \
	do {                                                                 \
		char b_[256];                                                \
		NA(call, b_, __VA_ARGS__);                                   \
		kv(depth, key, "%s", b_);                                    \
	} while (0)

static void query_identity(nvmlDevice_t d)
{
	char s[128];
	nvmlEnableState_t e;
	unsigned v;
	nvmlBrandType_t br;
	Q(1, "Product Name", nvmlDeviceGetName(d, s, sizeof(s)), "%s", s);
	Q(1, "Product Brand", nvmlDeviceGetBrand(d, &br), "%s", smi_brand(br));
	Q(1, "Persistence Mode", nvmlDeviceGetPersistenceMode(d, &e), "%s",
	  e ? "Enabled" : "Disabled");
	Q(1, "Serial Number", nvmlDeviceGetSerial(d, s, sizeof(s)), "%s", s);
	Q(1, "GPU UUID", nvmlDeviceGetUUID(d, s, sizeof(s)), "%s", s);
	Q(1, "Minor Number", nvmlDeviceGetMinorNumber(d, &v), "%u", v);
	Q(1, "VBIOS Version", nvmlDeviceGetVbiosVersion(d, s, sizeof(s)), "%s", s);
	Q(1, "Board Part Number", nvmlDeviceGetBoardPartNumber(d, s, sizeof(s)),
	  "%s", s);
	Q(1, "MIG Mode", nvmlDeviceGetMigMode(d, &v, &v), "%s",
	  v ? "Enabled" : "Disabled");
	Q(1, "Board ID", nvmlDeviceGetBoardId(d, &v), "0x%x", v);
	section(1, "Inforom Version");
	Q(2, "Image Version", nvmlDeviceGetInforomImageVersion(d, s, sizeof(s)),
	  "%s", s);
	Q(1, "GSP Firmware Version", nvmlDeviceGetGspFirmwareVersion(d, s), "%s",
	  s);
}

/* nvidia-smi's "Clocks Event Reasons": each supported reason Active or
 * Not Active, N/A for one the board does not report. */
static void query_reasons(nvmlDevice_t d)
{
	static const char *const names[] = {
		"Idle", "Applications Clocks Setting", "SW Power Cap",
		"HW Slowdown", "Sync Boost", "SW Thermal Slowdown",
		"HW Thermal Slowdown", "HW Power Brake Slowdown",
		"Display Clock Setting"};
	unsigned long long cur = 0, sup = 0;
	nvmlReturn_t r = nvmlDeviceGetCurrentClocksEventReasons(d, &cur);
	if (!r)
		r = nvmlDeviceGetSupportedClocksEventReasons(d, &sup);
	section(1, "Clocks Event Reasons");
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		Q(2, names[i], r ? r : (sup >> i & 1) ? NVML_SUCCESS
						      : NVML_ERROR_NOT_SUPPORTED,
		  "%s", (cur >> i & 1) ? "Active" : "Not Active");
}

static void query_pci(nvmlDevice_t d)
{
	nvmlPciInfo_t p;
	unsigned a, b;
	nvmlReturn_t r = nvmlDeviceGetPciInfo_v3(d, &p);
	section(1, "PCI");
	Q(2, "Bus", r, "0x%02X", p.bus);
	Q(2, "Device", r, "0x%02X", p.device);
	Q(2, "Domain", r, "0x%04X", p.domain);
	Q(2, "Device Id", r, "0x%08X", p.pciDeviceId);
	Q(2, "Bus Id", r, "%s", p.busId);
	Q(2, "Sub System Id", r, "0x%08X", p.pciSubSystemId);
	section(2, "GPU Link Info");
	section(3, "PCIe Generation");
	Q(4, "Max", nvmlDeviceGetMaxPcieLinkGeneration(d, &a), "%u", a);
	Q(4, "Current", nvmlDeviceGetCurrPcieLinkGeneration(d, &b), "%u", b);
	section(3, "Link Width");
	Q(4, "Max", nvmlDeviceGetMaxPcieLinkWidth(d, &a), "%ux", a);
	Q(4, "Current", nvmlDeviceGetCurrPcieLinkWidth(d, &b), "%ux", b);
}

static void query_memory(nvmlDevice_t d)
{
	nvmlMemory_v2_t m = {.version = nvmlMemory_v2};
	nvmlBAR1Memory_t b;
	nvmlReturn_t r = nvmlDeviceGetMemoryInfo_v2(d, &m);
	section(1, "FB Memory Usage");
	Q(2, "Total", r, "%llu MiB", m.total / MiB);
	Q(2, "Reserved", r, "%llu MiB", m.reserved / MiB);
	Q(2, "Used", r, "%llu MiB", m.used / MiB);
	Q(2, "Free", r, "%llu MiB", m.free / MiB);
	r = nvmlDeviceGetBAR1MemoryInfo(d, &b);
	section(1, "BAR1 Memory Usage");
	Q(2, "Total", r, "%llu MiB", b.bar1Total / MiB);
	Q(2, "Used", r, "%llu MiB", b.bar1Used / MiB);
	Q(2, "Free", r, "%llu MiB", b.bar1Free / MiB);
}

static void query_state(nvmlDevice_t d)
{
	unsigned v;
	nvmlPstates_t ps;
	nvmlComputeMode_t cm;
	nvmlUtilization_t u;
	nvmlEnableState_t e, pend;
	unsigned long long n;
	static const char *const modes[] = {"Default", "Exclusive_Thread",
					    "Prohibited", "Exclusive_Process"};
	Q(1, "Fan Speed", nvmlDeviceGetFanSpeed(d, &v), "%u %%", v);
	Q(1, "Performance State", nvmlDeviceGetPerformanceState(d, &ps), "P%u",
	  (unsigned)ps);
	Q(1, "Compute Mode", nvmlDeviceGetComputeMode(d, &cm), "%s",
	  (unsigned)cm < 4 ? modes[cm] : "Unknown");
	nvmlReturn_t r = nvmlDeviceGetUtilizationRates(d, &u);
	section(1, "Utilization (this VM's share)");
	Q(2, "GPU", r, "%u %%", u.gpu);
	Q(2, "Memory", r, "%u %%", u.memory);
	r = nvmlDeviceGetEccMode(d, &e, &pend);
	section(1, "ECC Mode");
	Q(2, "Current", r, "%s", e ? "Enabled" : "Disabled");
	Q(2, "Pending", r, "%s", pend ? "Enabled" : "Disabled");
	section(1, "ECC Errors");
	Q(2, "Volatile Correctable", nvmlDeviceGetTotalEccErrors(
		  d, NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_VOLATILE_ECC, &n),
	  "%llu", n);
	Q(2, "Volatile Uncorrectable", nvmlDeviceGetTotalEccErrors(
		  d, NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_VOLATILE_ECC, &n),
	  "%llu", n);
	Q(2, "Aggregate Correctable", nvmlDeviceGetTotalEccErrors(
		  d, NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_AGGREGATE_ECC, &n),
	  "%llu", n);
	Q(2, "Aggregate Uncorrectable", nvmlDeviceGetTotalEccErrors(
		  d, NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_AGGREGATE_ECC, &n),
	  "%llu", n);
}

static void query_sensors(nvmlDevice_t d)
{
	static const char *const clk[] = {"Graphics", "SM", "Memory", "Video"};
	unsigned v, a;
	unsigned long long mj;
	section(1, "Temperature");
	Q(2, "GPU Current Temp", nvmlDeviceGetTemperature(
		  d, NVML_TEMPERATURE_GPU, &v), "%u C", v);
	Q(2, "GPU Shutdown Temp", nvmlDeviceGetTemperatureThreshold(
		  d, NVML_TEMPERATURE_THRESHOLD_SHUTDOWN, &v), "%u C", v);
	Q(2, "GPU Slowdown Temp", nvmlDeviceGetTemperatureThreshold(
		  d, NVML_TEMPERATURE_THRESHOLD_SLOWDOWN, &v), "%u C", v);
	Q(2, "GPU Max Operating Temp", nvmlDeviceGetTemperatureThreshold(
		  d, NVML_TEMPERATURE_THRESHOLD_GPU_MAX, &v), "%u C", v);
	section(1, "GPU Power Readings");
	Q(2, "Power Draw", nvmlDeviceGetPowerUsage(d, &v), "%u.%02u W",
	  v / 1000, v % 1000 / 10);
	Q(2, "Current Power Limit", nvmlDeviceGetPowerManagementLimit(d, &v),
	  "%u.%02u W", v / 1000, v % 1000 / 10);
	Q(2, "Default Power Limit", nvmlDeviceGetPowerManagementDefaultLimit(
		  d, &v), "%u.%02u W", v / 1000, v % 1000 / 10);
	nvmlReturn_t r = nvmlDeviceGetPowerManagementLimitConstraints(d, &v, &a);
	Q(2, "Min Power Limit", r, "%u.%02u W", v / 1000, v % 1000 / 10);
	Q(2, "Max Power Limit", r, "%u.%02u W", a / 1000, a % 1000 / 10);
	Q(2, "Total Energy", nvmlDeviceGetTotalEnergyConsumption(d, &mj),
	  "%llu J", mj / 1000);
	section(1, "Clocks");
	for (int c = 0; c < 4; c++)
		Q(2, clk[c], nvmlDeviceGetClockInfo(d, (nvmlClockType_t)c, &v),
		  "%u MHz", v);
	for (int dflt = 0; dflt < 2; dflt++) {
		section(1, dflt ? "Default Applications Clocks"
				: "Applications Clocks");
		for (int c = 0; c < 4; c += 2) /* graphics, memory */
			Q(2, clk[c],
			  (dflt ? nvmlDeviceGetDefaultApplicationsClock
				: nvmlDeviceGetApplicationsClock)(
				  d, (nvmlClockType_t)c, &v),
			  "%u MHz", v);
	}
	section(1, "Max Clocks");
	for (int c = 0; c < 4; c++)
		Q(2, clk[c], nvmlDeviceGetMaxClockInfo(d, (nvmlClockType_t)c, &v),
		  "%u MHz", v);
}

static void query_processes(nvmlDevice_t d)
{
	nvmlProcessInfo_t p[64];
	unsigned k = 64;
	if (nvmlDeviceGetComputeRunningProcesses_v3(d, &k, p) || !k) {
		kv(1, "Processes", "None");
		return;
	}
	section(1, "Processes");
	for (unsigned i = 0; i < k; i++) {
		char name[256];
		kv(2, "GPU instance ID", "N/A");
		kv(2, "Compute instance ID", "N/A");
		kv(2, "Process ID", "%u", p[i].pid);
		kv(2, "Type", "C");
		Q(2, "Name", nvmlSystemGetProcessName(p[i].pid, name,
						      sizeof(name)), "%s", name);
		kv(2, "Used GPU Memory", "%llu MiB", p[i].usedGpuMemory / MiB);
	}
}

void smi_query(nvmlDevice_t *devs, unsigned n)
{
	char t[64], dv[80];
	int cuda;
	smi_time(t, sizeof(t), false);
	printf("\n==============VGPU-SMI LOG==============\n\n");
	kv(0, "Timestamp", "%s", t);
	Q(0, "Driver Version", nvmlSystemGetDriverVersion(dv, sizeof(dv)), "%s",
	  dv);
	Q(0, "CUDA Version", nvmlSystemGetCudaDriverVersion_v2(&cuda), "%d.%d",
	  cuda / 1000, cuda % 1000 / 10);
	printf("\n");
	kv(0, "Attached GPUs", "%u", n);
	for (unsigned i = 0; i < n; i++) {
		nvmlPciInfo_t p;
		if (nvmlDeviceGetPciInfo_v3(devs[i], &p))
			snprintf(p.busId, sizeof(p.busId), "%u", i);
		printf("GPU %s\n", p.busId);
		query_identity(devs[i]);
		query_pci(devs[i]);
		query_state(devs[i]);
		query_reasons(devs[i]);
		query_memory(devs[i]);
		query_sensors(devs[i]);
		query_processes(devs[i]);
		printf("\n");
	}
}
