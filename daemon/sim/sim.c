/* daemon/sim/sim.c - vgpu_backend_sim_open: the sim's entry point.
 *
 * Contract: the first open reads the environment (VGPU_SIM_MEMORY: device
 * memory size, "16G" or bytes, default 16 GiB; VGPU_SIM_SEED: the random
 * delays' seed, default 1), reserves the device address range and starts
 * the legacy stream; later opens reuse that process-wide device, as every
 * dlopen of libcuda does. It fills every pointer of struct vgpu_driver
 * (driver.def) with a sim_ function; the sim needs no close (there is one
 * device per process, like the real driver's). 0, or -1 with err set.
 */
#include "sim.h"
#include "../backend.h"
#include "../config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_config sim_cfg;
static atomic_bool initialized;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int start_rc;
static char start_err[256];

/* VGPU_SIM_MEMORY: a size as vgpud.conf writes them (bytes, or 16G). */
static int env_size(const char *name, uint64_t dflt, uint64_t *out)
{
	const char *s = getenv(name), *why;
	*out = dflt;
	if (!s || !*s || vgpud_parse_size(s, out, &why) == 0)
		return 0;
	snprintf(start_err, sizeof(start_err), "%s=%s: %s", name, s, why);
	return -1;
}

/* VGPU_SIM_SEED: any unsigned 64-bit number, decimal or 0x hex. */
static int env_seed(const char *name, uint64_t dflt, uint64_t *out)
{
	const char *s = getenv(name);
	char *end;
	*out = dflt;
	if (!s || !*s)
		return 0;
	errno = 0;
	*out = strtoull(s, &end, 0);
	if (!errno && !*end && *s != '-')
		return 0;
	snprintf(start_err, sizeof(start_err), "%s=%s: expected a number",
		 name, s);
	return -1;
}

/* VGPU_SIM_GPUS (1..16) and VGPU_SIM_PEER (vgpud.conf's sim_peer). */
static int env_gpus(void)
{
	const char *s = getenv("VGPU_SIM_GPUS"), *p = getenv("VGPU_SIM_PEER");
	const char *why = "expected a number from 1 to 16";
	char *end;
	long n = s && *s ? strtol(s, &end, 10) : 1;
	if (s && *s && (*end || n < 1 || n > SIM_MAX_DEVS)) {
		snprintf(start_err, sizeof(start_err), "VGPU_SIM_GPUS=%s: %s",
			 s, why);
		return -1;
	}
	sim_cfg.ndevs = (int)n;
	if (vgpud_parse_peer(p && *p ? p : "all", (uint32_t)n, sim_cfg.peer,
			     &why)) {
		snprintf(start_err, sizeof(start_err), "VGPU_SIM_PEER=%s: %s",
			 p, why);
		return -1;
	}
	return 0;
}

static void start(void)
{
	uint64_t mem;
	start_rc = -1;
	if (env_size("VGPU_SIM_MEMORY", 16ull << 30, &mem) ||
	    env_seed("VGPU_SIM_SEED", 1, &sim_cfg.seed) || env_gpus())
		return;
	/* below 64 MiB nothing real fits; above 1 TiB the reserved device
	 * range (twice the size) no longer fits beside the host's mappings */
	if (mem < (64ull << 20) || mem * (uint64_t)sim_cfg.ndevs > (1ull << 40)) {
		snprintf(start_err, sizeof(start_err),
			 "VGPU_SIM_MEMORY: %llu bytes is outside 64M..1T "
			 "(for all %d devices)", (unsigned long long)mem,
			 sim_cfg.ndevs);
		return;
	}
	sim_cfg.total_mem = mem;
	if (sim_heap_start(mem * (uint64_t)sim_cfg.ndevs, start_err,
			   sizeof(start_err)) ||
	    sim_ctx_start(start_err, sizeof(start_err)))
		return;
	start_rc = 0;
}

int vgpu_backend_sim_open(struct vgpu_driver *d, char *err, size_t errlen)
{
	pthread_once(&once, start);
	if (start_rc) {
		snprintf(err, errlen, "sim backend: %s", start_err);
		return -1;
	}
	memset(d, 0, sizeof(*d));
#define X(name, params) d->name = sim_##name;
#include "../driver.def"
#undef X
	d->backend = "sim";
	return 0;
}

CUresult sim_check_init(void)
{
	return atomic_load(&initialized) ? CUDA_SUCCESS :
					   CUDA_ERROR_NOT_INITIALIZED;
}

CUresult sim_cuInit(unsigned int flags)
{
	if (flags)
		return CUDA_ERROR_INVALID_VALUE;
	atomic_store(&initialized, true);
	return CUDA_SUCCESS;
}

/* Works before cuInit, as the real one does (clients check the version
 * before deciding to initialise). */
CUresult sim_cuDriverGetVersion(int *version)
{
	if (!version)
		return CUDA_ERROR_INVALID_VALUE;
	*version = SIM_DRIVER_VERSION;
	return CUDA_SUCCESS;
}
