/* ring/vminfo.h - the VM info block: what the guest's NVML library reads.
 *
 * Contract: vgpud's supervisor writes one block per VM region, at
 * hdr.info_off (ring/abi.h), on its tick; the guest NVML library only reads
 * it, so an NVML call never claims a channel, never starts a worker and
 * never creates a CUDA context. The block is guarded by a seqlock: the
 * daemon makes seq odd, writes, makes it even; a reader copies the block
 * between two equal even reads of seq (vgpu_vminfo_read) and retries
 * otherwise. The daemon keeps its own copy of seq and never reads the
 * block back: the region is guest-writable, so nothing here is trusted by
 * the daemon, and a guest clamps counts and terminates strings itself.
 *
 * Each group of fields is meaningful only if its bit is set in `valid`
 * (a host without NVML has no temperatures; the guest answers
 * NVML_ERROR_NOT_SUPPORTED for those). Units are NVML's: bytes, MHz,
 * degrees C, milliwatts, millijoules, percent.
 */
#ifndef VGPU_RING_VMINFO_H
#define VGPU_RING_VMINFO_H

#include "abi.h"
#include "cuda_proto.h"
#include <stdbool.h>
#include <string.h>

#define VGPU_VMINFO_MAGIC 0x31464e4955504756ull /* "VGPUINF1" */
#define VGPU_VMINFO_VERSION 3u /* 2: gpus[] (several GPUs per VM);
				* 3: their peers */
#define VGPU_VMINFO_SIZE 8192u /* bytes reserved in the region */
#define VGPU_VMINFO_MAX_PROCS 64u
#define VGPU_VMINFO_STR 96u

/* valid bits */
#define VGPU_VMI_IDENTITY (1ull << 0) /* dev, driver strings */
#define VGPU_VMI_MEMORY (1ull << 1)   /* quota, phys_*, vm_used */
#define VGPU_VMI_UTIL (1ull << 2)
#define VGPU_VMI_CLOCKS (1ull << 3)
#define VGPU_VMI_TEMP (1ull << 4)
#define VGPU_VMI_POWER (1ull << 5)
#define VGPU_VMI_FAN (1ull << 6)
#define VGPU_VMI_PSTATE (1ull << 7)
#define VGPU_VMI_ECC (1ull << 8)
#define VGPU_VMI_MODES (1ull << 9)    /* persistence, compute mode */
#define VGPU_VMI_BAR1 (1ull << 10)
#define VGPU_VMI_PROCS (1ull << 11)
#define VGPU_VMI_PCIE (1ull << 12)
#define VGPU_VMI_ENERGY (1ull << 13)
#define VGPU_VMI_CLKREASON (1ull << 14) /* clocks event reasons */
#define VGPU_VMI_APPCLK (1ull << 15)    /* application clocks */
#define VGPU_VMI_BOARDID (1ull << 16)
#define VGPU_VMI_INFOROM (1ull << 17)   /* inforom image version */
#define VGPU_VMI_GSP (1ull << 18)       /* GSP firmware version */

/* source (where the sensor values came from) */
enum vgpu_vmi_source {
	VGPU_VMI_SRC_NONE = 0, /* no host NVML: sensors absent */
	VGPU_VMI_SRC_NVML = 1, /* the host's libnvidia-ml */
	VGPU_VMI_SRC_SIM = 2,  /* fixed plausible values of the sim backend */
};

/* utilization source */
enum vgpu_vmi_util_source {
	VGPU_VMI_UTIL_ACTIVITY = 0, /* share of sample periods with requests */
	VGPU_VMI_UTIL_NVML = 1,     /* sum over the VM's worker processes of
				     * nvmlDeviceGetProcessUtilization */
};

/* clock index: NVML's nvmlClockType_t */
enum { VGPU_VMI_CLK_GRAPHICS, VGPU_VMI_CLK_SM, VGPU_VMI_CLK_MEM,
       VGPU_VMI_CLK_VIDEO, VGPU_VMI_NCLK };

struct vgpu_vminfo_proc {
	uint32_t pid;      /* the guest process's pid (its own namespace) */
	uint32_t channel;
	uint64_t used_mem; /* device bytes it has allocated */
};

/* One of the VM's GPUs (docs/multigpu.md), in the VM's order: what NVML
 * reports for device i. Sensors (the groups after memory) are the first
 * GPU's only; other devices answer NOT_SUPPORTED for them. */
#define VGPU_VMINFO_MAX_GPUS 16u
struct vgpu_vminfo_gpu {
	uint8_t uuid[16];          /* per-VM, as libcuda reports it */
	char pci_bus_id[32];       /* the guest's numbering */
	char name[VGPU_VMINFO_STR];
	uint64_t total_mem;        /* min(quota, physical) */
	uint64_t phys_total;
	uint64_t vm_used;          /* this VM's processes, on this GPU */
	/* bit j: this GPU reaches the VM's GPU j (cuDeviceCanAccessPeer),
	 * with native atomics (CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_...) */
	uint32_t peers, peer_atomics;
};

struct vgpu_vminfo {
	uint64_t magic;     /*   0 VGPU_VMINFO_MAGIC */
	uint32_t version;   /*   8 VGPU_VMINFO_VERSION */
	uint32_t size;      /*  12 sizeof(struct vgpu_vminfo) */
	_Atomic uint32_t seq; /* 16 seqlock, odd while the daemon writes */
	uint32_t source;    /*  20 enum vgpu_vmi_source */
	uint64_t valid;     /*  24 VGPU_VMI_* */
	uint64_t updates;   /*  32 refreshes so far */
	/* identity: the same struct the worker sends for DEVICE_INFO */
	struct vgpu_cu_devinfo dev;
	char driver_version[VGPU_VMINFO_STR]; /* host kernel driver, "580.159.04" */
	char vbios_version[VGPU_VMINFO_STR];
	char board_part[VGPU_VMINFO_STR];
	uint32_t pci_device_id;  /* (device << 16) | vendor, as NVML */
	uint32_t pci_subsys_id;
	/* memory: the VM's view */
	uint64_t quota;       /* VM memory limit; 0 = none */
	uint64_t phys_total;
	uint64_t phys_free;
	uint64_t vm_used;     /* all of this VM's guest processes */
	/* utilization (this VM's share), percent */
	uint32_t util_gpu, util_mem;
	uint32_t util_source; /* enum vgpu_vmi_util_source */
	uint32_t pad0;
	/* clocks, MHz */
	uint32_t clock[VGPU_VMI_NCLK];
	uint32_t clock_max[VGPU_VMI_NCLK];
	/* thermals and power */
	uint32_t temp_gpu, temp_slowdown, temp_shutdown, temp_max_gpu;
	uint32_t power_usage, power_limit, power_default_limit;
	uint32_t power_min_limit, power_max_limit;
	uint32_t fan_speed, nfans;
	uint32_t pstate;
	uint64_t energy;
	/* ECC */
	uint32_t ecc_current, ecc_pending;
	uint64_t ecc_volatile_corrected, ecc_volatile_uncorrected;
	uint64_t ecc_aggregate_corrected, ecc_aggregate_uncorrected;
	/* modes */
	uint32_t persistence, compute_mode;
	/* BAR1 */
	uint64_t bar1_total, bar1_used;
	/* PCIe link */
	uint32_t pcie_gen, pcie_gen_max, pcie_width, pcie_width_max;
	/* guest processes on the GPU */
	uint32_t nprocs;
	uint32_t pad1;
	struct vgpu_vminfo_proc procs[VGPU_VMINFO_MAX_PROCS];
	/* board facts nvidia-smi -q shows (the physical board's) */
	uint64_t clk_reasons;           /* nvmlClocksEventReason* mask */
	uint64_t clk_reasons_supported;
	uint32_t app_clock[VGPU_VMI_NCLK];         /* MHz */
	uint32_t app_clock_default[VGPU_VMI_NCLK];
	uint32_t board_id;
	uint32_t pad2;
	char inforom_image[VGPU_VMINFO_STR / 2];
	char gsp_version[VGPU_VMINFO_STR / 2];
	/* the VM's GPUs; dev above is gpus[0]'s identity in full */
	uint32_t ngpus;
	uint32_t pad3;
	struct vgpu_vminfo_gpu gpus[VGPU_VMINFO_MAX_GPUS];
};

_Static_assert(sizeof(struct vgpu_vminfo) <= VGPU_VMINFO_SIZE, "vminfo");
_Static_assert(offsetof(struct vgpu_vminfo, dev) % 8 == 0, "vminfo dev");

/* NVML's spelling of a UUID: "GPU-" and 8-4-4-4-12 lower-case hex. */
#define VGPU_UUID_STR 48
static inline void vgpu_uuid_str(const uint8_t u[16], char out[VGPU_UUID_STR])
{
	static const char hex[] = "0123456789abcdef";
	char *p = out;
	*p++ = 'G', *p++ = 'P', *p++ = 'U', *p++ = '-';
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[u[i] >> 4];
		*p++ = hex[u[i] & 15];
	}
	*p = 0;
}

/* Daemon: publish *src into the region's block. seq is the daemon's own
 * counter (even), never read back from shared memory. */
static inline void vgpu_vminfo_write(struct vgpu_vminfo *dst,
				     const struct vgpu_vminfo *src,
				     uint32_t *seq)
{
	atomic_store_explicit(&dst->seq, *seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release); /* odd before data */
	memcpy(dst, src, offsetof(struct vgpu_vminfo, seq));
	memcpy(&dst->source, &src->source,
	       sizeof(*src) - offsetof(struct vgpu_vminfo, source));
	*seq += 2;
	atomic_store_explicit(&dst->seq, *seq, memory_order_release);
}

/* Guest: a consistent copy of the block into *out, or false (no block,
 * foreign version, or the daemon stopped in the middle of an update). */
static inline bool vgpu_vminfo_read(const struct vgpu_vminfo *src,
				    struct vgpu_vminfo *out)
{
	for (int tries = 0; tries < 100000; tries++) {
		uint32_t s1 = atomic_load_explicit(
			&((struct vgpu_vminfo *)src)->seq, memory_order_acquire);
		if (s1 & 1) {
			__builtin_ia32_pause();
			continue;
		}
		memcpy(out, (const void *)src, sizeof(*out));
		atomic_thread_fence(memory_order_acquire);
		uint32_t s2 = atomic_load_explicit(
			&((struct vgpu_vminfo *)src)->seq, memory_order_relaxed);
		if (s1 != s2)
			continue;
		if (out->magic != VGPU_VMINFO_MAGIC ||
		    out->version != VGPU_VMINFO_VERSION ||
		    out->size != sizeof(*out))
			return false;
		/* written by a daemon, but the region is guest-writable */
		out->dev.name[sizeof(out->dev.name) - 1] = 0;
		out->dev.pci_bus_id[sizeof(out->dev.pci_bus_id) - 1] = 0;
		out->driver_version[VGPU_VMINFO_STR - 1] = 0;
		out->vbios_version[VGPU_VMINFO_STR - 1] = 0;
		out->board_part[VGPU_VMINFO_STR - 1] = 0;
		out->inforom_image[sizeof(out->inforom_image) - 1] = 0;
		out->gsp_version[sizeof(out->gsp_version) - 1] = 0;
		if (out->nprocs > VGPU_VMINFO_MAX_PROCS)
			out->nprocs = VGPU_VMINFO_MAX_PROCS;
		if (out->dev.nattrs > VGPU_CU_MAX_ATTRS)
			out->dev.nattrs = VGPU_CU_MAX_ATTRS;
		if (out->ngpus > VGPU_VMINFO_MAX_GPUS)
			out->ngpus = VGPU_VMINFO_MAX_GPUS;
		for (uint32_t g = 0; g < VGPU_VMINFO_MAX_GPUS; g++) {
			out->gpus[g].pci_bus_id[31] = 0;
			out->gpus[g].name[VGPU_VMINFO_STR - 1] = 0;
		}
		return true;
	}
	return false;
}

#endif
