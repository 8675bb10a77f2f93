/* daemon/hostgpu.c - sample the host's NVML (or the sim's fixed values). */
#define _GNU_SOURCE
#include "hostgpu.h"
#include "../guest/nvml/nvml_abi.h"
#include "log.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLE_MS 1000
#define MAX_PSAMPLES 256

typedef nvmlReturn_t (*fn_v)(void);
typedef nvmlReturn_t (*fn_str)(char *, unsigned);
typedef nvmlReturn_t (*fn_dstr)(nvmlDevice_t, char *, unsigned);
typedef nvmlReturn_t (*fn_du)(nvmlDevice_t, unsigned *);
typedef nvmlReturn_t (*fn_dxu)(nvmlDevice_t, unsigned, unsigned *);
typedef nvmlReturn_t (*fn_duu)(nvmlDevice_t, unsigned *, unsigned *);

/* The host NVML entry points we use, resolved once. */
struct nvml {
	void *dl;
	fn_v shutdown;
	nvmlReturn_t (*by_uuid)(const char *, nvmlDevice_t *);
	fn_str driver_version;
	fn_dstr vbios, part;
	nvmlReturn_t (*mem)(nvmlDevice_t, nvmlMemory_t *);
	nvmlReturn_t (*bar1)(nvmlDevice_t, nvmlBAR1Memory_t *);
	fn_dxu clock, max_clock, temp, temp_threshold;
	fn_du power, power_limit, power_default, fan, nfans, pstate,
		persistence, compute_mode, pcie_gen, pcie_gen_max, pcie_width,
		pcie_width_max;
	fn_duu power_range, ecc_mode;
	nvmlReturn_t (*ecc_total)(nvmlDevice_t, unsigned, unsigned,
				  unsigned long long *);
	nvmlReturn_t (*energy)(nvmlDevice_t, unsigned long long *);
	nvmlReturn_t (*proc_util)(nvmlDevice_t, nvmlProcessUtilizationSample_t *,
				  unsigned *, unsigned long long);
	nvmlReturn_t (*reasons)(nvmlDevice_t, unsigned long long *);
	nvmlReturn_t (*reasons_supported)(nvmlDevice_t, unsigned long long *);
	fn_dxu app_clock, app_clock_default;
	fn_du board_id;
	fn_dstr inforom_image;
	nvmlReturn_t (*gsp_version)(nvmlDevice_t, char *);
};

struct vgpud_hostgpu {
	bool sim;
	struct nvml n;
	pthread_t thread;
	bool running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	bool have_uuid;
	char uuid[VGPU_UUID_STR];
	/* the latest sample, under mu */
	struct vgpu_vminfo s;
	uint64_t phys_free;
	bool util_known;
	uint32_t nps;
	nvmlProcessUtilizationSample_t ps[MAX_PSAMPLES];
};

static void sim_values(struct vgpu_vminfo *s)
{
	/* An idle H100 SXM as nvidia-smi shows one; fixed, and marked as
	 * the simulator's so nobody mistakes them for measurements. */
	static const uint32_t clk[] = {1980, 1980, 2619, 1755};
	s->source = VGPU_VMI_SRC_SIM;
	snprintf(s->driver_version, sizeof(s->driver_version), "580.159.04");
	snprintf(s->vbios_version, sizeof(s->vbios_version), "96.00.99.00.01");
	snprintf(s->board_part, sizeof(s->board_part), "vgpu-sim");
	memcpy(s->clock, clk, sizeof(clk));
	memcpy(s->clock_max, clk, sizeof(clk));
	s->temp_gpu = 41, s->temp_slowdown = 90, s->temp_shutdown = 92;
	s->temp_max_gpu = 87;
	s->power_usage = 112000, s->power_limit = 700000;
	s->power_default_limit = 700000, s->power_min_limit = 200000;
	s->power_max_limit = 700000, s->energy = 1000000;
	s->fan_speed = 30, s->nfans = 1;
	s->pstate = 0;
	s->ecc_current = s->ecc_pending = 1;
	s->persistence = 1, s->compute_mode = 0;
	s->bar1_total = 128ull << 30, s->bar1_used = 1ull << 20;
	s->pcie_gen = s->pcie_gen_max = 5;
	s->pcie_width = s->pcie_width_max = 16;
	s->clk_reasons = 0x1; /* idle */
	s->clk_reasons_supported = 0x1ff;
	s->app_clock[VGPU_VMI_CLK_GRAPHICS] = clk[VGPU_VMI_CLK_GRAPHICS];
	s->app_clock[VGPU_VMI_CLK_MEM] = clk[VGPU_VMI_CLK_MEM];
	memcpy(s->app_clock_default, s->app_clock, sizeof(s->app_clock));
	s->board_id = 0x600;
	snprintf(s->inforom_image, sizeof(s->inforom_image), "G520.0200.00.05");
	snprintf(s->gsp_version, sizeof(s->gsp_version), "580.159.04");
	s->valid |= VGPU_VMI_CLKREASON | VGPU_VMI_APPCLK | VGPU_VMI_BOARDID |
		    VGPU_VMI_INFOROM | VGPU_VMI_GSP;
	s->valid |= VGPU_VMI_CLOCKS | VGPU_VMI_TEMP | VGPU_VMI_POWER |
		    VGPU_VMI_FAN | VGPU_VMI_PSTATE | VGPU_VMI_ECC |
		    VGPU_VMI_MODES | VGPU_VMI_BAR1 | VGPU_VMI_PCIE |
		    VGPU_VMI_ENERGY;
}

#define SYM(f, name) (*(void **)&n->f = dlsym(n->dl, name))

static int nvml_load(struct nvml *n)
{
	n->dl = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!n->dl)
		return -1;
	if (dlsym(n->dl, "vgpu_guest_library_marker")) {
		VLOG_WARN("libnvidia-ml.so.1 on this host is vgpu's guest "
			  "library, not NVIDIA's: GPU sensors unavailable");
		return -1;
	}
	nvmlReturn_t (*init)(void);
	*(void **)&init = dlsym(n->dl, "nvmlInit_v2");
	SYM(shutdown, "nvmlShutdown");
	SYM(by_uuid, "nvmlDeviceGetHandleByUUID");
	if (!init || !n->shutdown || !n->by_uuid || init() != NVML_SUCCESS)
		return -1;
	SYM(driver_version, "nvmlSystemGetDriverVersion");
	SYM(vbios, "nvmlDeviceGetVbiosVersion");
	SYM(part, "nvmlDeviceGetBoardPartNumber");
	SYM(mem, "nvmlDeviceGetMemoryInfo");
	SYM(bar1, "nvmlDeviceGetBAR1MemoryInfo");
	SYM(clock, "nvmlDeviceGetClockInfo");
	SYM(max_clock, "nvmlDeviceGetMaxClockInfo");
	SYM(temp, "nvmlDeviceGetTemperature");
	SYM(temp_threshold, "nvmlDeviceGetTemperatureThreshold");
	SYM(power, "nvmlDeviceGetPowerUsage");
	SYM(power_limit, "nvmlDeviceGetPowerManagementLimit");
	SYM(power_default, "nvmlDeviceGetPowerManagementDefaultLimit");
	SYM(power_range, "nvmlDeviceGetPowerManagementLimitConstraints");
	SYM(fan, "nvmlDeviceGetFanSpeed");
	SYM(nfans, "nvmlDeviceGetNumFans");
	SYM(pstate, "nvmlDeviceGetPerformanceState");
	SYM(ecc_mode, "nvmlDeviceGetEccMode");
	SYM(ecc_total, "nvmlDeviceGetTotalEccErrors");
	SYM(persistence, "nvmlDeviceGetPersistenceMode");
	SYM(compute_mode, "nvmlDeviceGetComputeMode");
	SYM(pcie_gen, "nvmlDeviceGetCurrPcieLinkGeneration");
	SYM(pcie_gen_max, "nvmlDeviceGetMaxPcieLinkGeneration");
	SYM(pcie_width, "nvmlDeviceGetCurrPcieLinkWidth");
	SYM(pcie_width_max, "nvmlDeviceGetMaxPcieLinkWidth");
	SYM(energy, "nvmlDeviceGetTotalEnergyConsumption");
	SYM(proc_util, "nvmlDeviceGetProcessUtilization");
	SYM(reasons, "nvmlDeviceGetCurrentClocksEventReasons");
	SYM(reasons_supported, "nvmlDeviceGetSupportedClocksEventReasons");
	SYM(app_clock, "nvmlDeviceGetApplicationsClock");
	SYM(app_clock_default, "nvmlDeviceGetDefaultApplicationsClock");
	SYM(board_id, "nvmlDeviceGetBoardId");
	SYM(inforom_image, "nvmlDeviceGetInforomImageVersion");
	SYM(gsp_version, "nvmlDeviceGetGspFirmwareVersion");
	return 0;
}

/* Call f if the library has it; true on NVML_SUCCESS. TRY: the same,
 * for a best-effort field whose absence changes nothing else. */
#define OK(f, ...) (n->f && n->f(__VA_ARGS__) == NVML_SUCCESS)
#define TRY(f, ...) ((void)OK(f, __VA_ARGS__))

/* Facts nvidia-smi -q shows that no VM could change. */
static void sample_board(const struct nvml *n, nvmlDevice_t d,
			 struct vgpu_vminfo *s)
{
	if (OK(reasons, d, (unsigned long long *)&s->clk_reasons) &&
	    OK(reasons_supported, d,
	       (unsigned long long *)&s->clk_reasons_supported))
		s->valid |= VGPU_VMI_CLKREASON;
	/* graphics and memory have application clocks; another domain that
	 * answers is kept, one that does not stays 0 (NOT_SUPPORTED) */
	for (unsigned c = 0; c < VGPU_VMI_NCLK; c++)
		if (!OK(app_clock, d, c, &s->app_clock[c]) ||
		    !OK(app_clock_default, d, c, &s->app_clock_default[c]))
			s->app_clock[c] = s->app_clock_default[c] = 0;
	if (s->app_clock[VGPU_VMI_CLK_GRAPHICS] && s->app_clock[VGPU_VMI_CLK_MEM])
		s->valid |= VGPU_VMI_APPCLK;
	if (OK(board_id, d, &s->board_id))
		s->valid |= VGPU_VMI_BOARDID;
	if (OK(inforom_image, d, s->inforom_image, sizeof(s->inforom_image)))
		s->valid |= VGPU_VMI_INFOROM;
	char gsp[64]; /* NVML_GSP_FIRMWARE_VERSION_BUF_SIZE */
	if (OK(gsp_version, d, gsp) && strlen(gsp) < sizeof(s->gsp_version)) {
		memcpy(s->gsp_version, gsp, strlen(gsp) + 1);
		s->valid |= VGPU_VMI_GSP;
	}
}

static void sample_sensors(const struct nvml *n, nvmlDevice_t d,
			   struct vgpu_vminfo *s)
{
	bool ok = true;
	for (unsigned c = 0; c < VGPU_VMI_NCLK; c++)
		ok = ok && OK(clock, d, c, &s->clock[c]) &&
		     OK(max_clock, d, c, &s->clock_max[c]);
	s->valid |= ok ? VGPU_VMI_CLOCKS : 0;
	if (OK(temp, d, NVML_TEMPERATURE_GPU, &s->temp_gpu)) {
		s->valid |= VGPU_VMI_TEMP;
		TRY(temp_threshold, d, NVML_TEMPERATURE_THRESHOLD_SLOWDOWN,
		   &s->temp_slowdown);
		TRY(temp_threshold, d, NVML_TEMPERATURE_THRESHOLD_SHUTDOWN,
		   &s->temp_shutdown);
		TRY(temp_threshold, d, NVML_TEMPERATURE_THRESHOLD_GPU_MAX,
		   &s->temp_max_gpu);
	}
	if (OK(power, d, &s->power_usage) && OK(power_limit, d, &s->power_limit)) {
		s->valid |= VGPU_VMI_POWER;
		TRY(power_default, d, &s->power_default_limit);
		TRY(power_range, d, &s->power_min_limit, &s->power_max_limit);
	}
	if (OK(energy, d, (unsigned long long *)&s->energy))
		s->valid |= VGPU_VMI_ENERGY;
	if (OK(fan, d, &s->fan_speed)) {
		s->valid |= VGPU_VMI_FAN;
		if (!OK(nfans, d, &s->nfans))
			s->nfans = 1;
	}
	if (OK(pstate, d, &s->pstate))
		s->valid |= VGPU_VMI_PSTATE;
	if (OK(ecc_mode, d, &s->ecc_current, &s->ecc_pending)) {
		s->valid |= VGPU_VMI_ECC;
		unsigned long long *c[2][2] = {
			{(unsigned long long *)&s->ecc_volatile_corrected,
			 (unsigned long long *)&s->ecc_aggregate_corrected},
			{(unsigned long long *)&s->ecc_volatile_uncorrected,
			 (unsigned long long *)&s->ecc_aggregate_uncorrected}};
		for (unsigned t = 0; t < 2; t++)
			for (unsigned k = 0; k < 2; k++)
				TRY(ecc_total, d, t, k, c[t][k]);
	}
	if (OK(persistence, d, &s->persistence) &&
	    OK(compute_mode, d, &s->compute_mode))
		s->valid |= VGPU_VMI_MODES;
	nvmlBAR1Memory_t b;
	if (OK(bar1, d, &b)) {
		s->valid |= VGPU_VMI_BAR1;
		s->bar1_total = b.bar1Total, s->bar1_used = b.bar1Used;
	}
	if (OK(pcie_gen, d, &s->pcie_gen) && OK(pcie_width, d, &s->pcie_width) &&
	    OK(pcie_gen_max, d, &s->pcie_gen_max) &&
	    OK(pcie_width_max, d, &s->pcie_width_max))
		s->valid |= VGPU_VMI_PCIE;
	TRY(vbios, d, s->vbios_version, sizeof(s->vbios_version));
	TRY(part, d, s->board_part, sizeof(s->board_part));
	sample_board(n, d, s);
}

/* One pass over the host NVML, outside the lock. */
static void sample(struct vgpud_hostgpu *h, const char *uuid,
		   unsigned long long *last_ts)
{
	const struct nvml *n = &h->n;
	nvmlDevice_t d;
	static struct vgpu_vminfo s;
	static nvmlProcessUtilizationSample_t ps[MAX_PSAMPLES];
	memset(&s, 0, sizeof(s));
	s.source = VGPU_VMI_SRC_NVML;
	TRY(driver_version, s.driver_version, sizeof(s.driver_version));
	uint64_t free = 0;
	unsigned nps = MAX_PSAMPLES;
	bool util = false;
	if (uuid[0] && n->by_uuid(uuid, &d) == NVML_SUCCESS) {
		sample_sensors(n, d, &s);
		nvmlMemory_t m;
		if (OK(mem, d, &m))
			free = m.free;
		nvmlReturn_t r = n->proc_util
					 ? n->proc_util(d, ps, &nps, *last_ts)
					 : NVML_ERROR_NOT_SUPPORTED;
		util = r == NVML_SUCCESS || r == NVML_ERROR_NOT_FOUND;
		if (r != NVML_SUCCESS)
			nps = 0;
		for (unsigned i = 0; i < nps; i++)
			if (ps[i].timeStamp > *last_ts)
				*last_ts = ps[i].timeStamp;
	} else {
		nps = 0;
	}
	pthread_mutex_lock(&h->mu);
	h->s = s;
	h->phys_free = free;
	h->util_known = util;
	h->nps = nps;
	memcpy(h->ps, ps, nps * sizeof(ps[0]));
	pthread_mutex_unlock(&h->mu);
}

static void *sampler(void *arg)
{
	struct vgpud_hostgpu *h = arg;
	unsigned long long last_ts = 0;
	char uuid[VGPU_UUID_STR];
	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		snprintf(uuid, sizeof(uuid), "%s", h->have_uuid ? h->uuid : "");
		pthread_mutex_unlock(&h->mu);
		sample(h, uuid, &last_ts);
		pthread_mutex_lock(&h->mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += SAMPLE_MS / 1000;
		if (!h->stop)
			pthread_cond_timedwait(&h->cv, &h->mu, &ts);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* Without NVML the kernel module still says which driver runs. */
static void proc_driver_version(char *out, size_t n)
{
	FILE *f = fopen("/proc/driver/nvidia/version", "r");
	char line[256];
	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "Kernel Module");
		char v[64];
		if (p && sscanf(p + 13, " %63s", v) == 1)
			snprintf(out, n, "%s", v);
	}
	fclose(f);
}

struct vgpud_hostgpu *vgpud_hostgpu_open(bool sim)
{
	struct vgpud_hostgpu *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->sim = sim;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (sim) {
		sim_values(&h->s);
		return h;
	}
	h->s.source = VGPU_VMI_SRC_NONE;
	if (nvml_load(&h->n)) {
		VLOG_WARN("no usable libnvidia-ml.so.1 on the host: guests' NVML "
			  "reports no clocks, temperatures or power");
		if (h->n.dl)
			dlclose(h->n.dl);
		h->n.dl = NULL;
		proc_driver_version(h->s.driver_version,
				    sizeof(h->s.driver_version));
		return h;
	}
	h->s.source = VGPU_VMI_SRC_NVML;
	h->running = pthread_create(&h->thread, NULL, sampler, h) == 0;
	return h;
}

void vgpud_hostgpu_close(struct vgpud_hostgpu *h)
{
	if (!h)
		return;
	if (h->running) {
		pthread_mutex_lock(&h->mu);
		h->stop = true;
		pthread_cond_signal(&h->cv);
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->thread, NULL);
	}
	if (h->n.dl) {
		h->n.shutdown();
		dlclose(h->n.dl);
	}
	free(h);
}

void vgpud_hostgpu_set_uuid(struct vgpud_hostgpu *h, const uint8_t uuid[16])
{
	pthread_mutex_lock(&h->mu);
	if (!h->have_uuid) {
		vgpu_uuid_str(uuid, h->uuid);
		h->have_uuid = true;
		pthread_cond_signal(&h->cv); /* sample now, not in a second */
	}
	pthread_mutex_unlock(&h->mu);
}

bool vgpud_hostgpu_watches(struct vgpud_hostgpu *h, const uint8_t uuid[16])
{
	char u[VGPU_UUID_STR];
	vgpu_uuid_str(uuid, u);
	pthread_mutex_lock(&h->mu);
	bool yes = !h->have_uuid || !strcmp(h->uuid, u);
	pthread_mutex_unlock(&h->mu);
	return yes;
}

void vgpud_hostgpu_get(struct vgpud_hostgpu *h, struct vgpu_vminfo *vi,
		       uint64_t *phys_free)
{
	pthread_mutex_lock(&h->mu);
	vi->source = h->s.source;
	vi->valid |= h->s.valid;
	memcpy(vi->driver_version, h->s.driver_version, VGPU_VMINFO_STR);
	memcpy(vi->vbios_version, h->s.vbios_version, VGPU_VMINFO_STR);
	memcpy(vi->board_part, h->s.board_part, VGPU_VMINFO_STR);
	/* clocks through PCIe: the sensor fields, contiguous */
	memcpy(vi->clock, h->s.clock,
	       offsetof(struct vgpu_vminfo, nprocs) -
		       offsetof(struct vgpu_vminfo, clock));
	/* board facts: contiguous after the process list */
	memcpy(&vi->clk_reasons, &h->s.clk_reasons,
	       sizeof(*vi) - offsetof(struct vgpu_vminfo, clk_reasons));
	*phys_free = h->phys_free;
	pthread_mutex_unlock(&h->mu);
}

bool vgpud_hostgpu_util(struct vgpud_hostgpu *h, const pid_t *pids,
			uint32_t n, uint32_t *gpu, uint32_t *mem)
{
	pthread_mutex_lock(&h->mu);
	bool known = h->util_known;
	uint32_t g = 0, m = 0;
	for (uint32_t i = 0; known && i < h->nps; i++)
		for (uint32_t k = 0; k < n; k++)
			if (h->ps[i].pid == (unsigned)pids[k]) {
				g += h->ps[i].smUtil;
				m += h->ps[i].memUtil;
			}
	pthread_mutex_unlock(&h->mu);
	*gpu = g > 100 ? 100 : g;
	*mem = m > 100 ? 100 : m;
	return known;
}
