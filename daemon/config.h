/* daemon/config.h - vgpud's configuration: one host file, one file per VM.
 *
 * Contract: vgpud_config_load(DIR) reads DIR/vgpud.conf and every
 * DIR/vms.d/NAME.conf (sorted by name) into a struct vgpud_config. Files are
 * "key = value" lines; '#' starts a comment; blank lines are ignored. An
 * unknown key, a repeated key, a malformed value or a value out of range is
 * an error naming the file, the line and the reason, and nothing is loaded
 * (no partial configuration). Every value has a documented default, listed
 * in packaging/vgpud.conf and packaging/vm.conf.example.
 */
#ifndef VGPU_DAEMON_CONFIG_H
#define VGPU_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VGPUD_CONFIG_DIR "/etc/vgpud"
#define VGPUD_MAX_VMS 256
#define VGPUD_NAME_MAX 64
#define VGPUD_PATH_MAX 256
#define VGPUD_MAX_GPUS 16   /* GPUs one vgpud owns; GPUs one VM gets */
#define VGPUD_GPU_SPEC 48   /* "GPU-" + UUID, or a PCI bus id, or N */

enum vgpud_backend { VGPUD_BACKEND_CUDA, VGPUD_BACKEND_SIM };
enum vgpud_log { VGPUD_LOG_ERROR, VGPUD_LOG_WARN, VGPUD_LOG_INFO,
		 VGPUD_LOG_DEBUG };

struct vgpud_vm {
	char name[VGPUD_NAME_MAX];          /* from the file name */
	char file[2 * VGPUD_PATH_MAX + 16]; /* where it came from */
	char region[VGPUD_PATH_MAX];        /* backing file QEMU maps */
	uint64_t region_size;               /* bytes, power of two */
	char region_owner[VGPUD_NAME_MAX];  /* user name; "" = keep */
	char region_group[VGPUD_NAME_MAX];  /* group name; "" = keep */
	uint32_t region_mode;               /* e.g. 0660 */
	bool region_hugepages;              /* region must be on hugetlbfs */
	uint32_t channels;                  /* guest processes at once */
	uint64_t pinned_pool;               /* bytes of the region for pinned
					     * host memory, split by channel */
	/* quotas (enforced by the scheduler) */
	uint64_t memory_limit;              /* bytes; 0 = no limit */
	uint32_t compute_weight;            /* relative share, 1..10000 */
	uint32_t compute_cap;               /* percent, 1..100; 0 = none */
	uint32_t max_processes;             /* 0 = channels */
	/* GPUs (docs/multigpu.md): indices into the host's `gpus` list, in
	 * the guest's device order; `any`: one, placed at start by
	 * vgpud_place (daemon/gpus.h), which fills gpus[0] */
	bool gpus_any;
	uint32_t ngpus;
	uint8_t gpus[VGPUD_MAX_GPUS];
	int gpus_line;                      /* 0: the default (gpus = 0) */
};

struct vgpud_config {
	char dir[VGPUD_PATH_MAX];
	enum vgpud_backend backend;
	char driver[VGPUD_PATH_MAX];        /* real libcuda.so.1 */
	/* the GPUs this daemon owns, as written (`gpus`, or `gpu = N`):
	 * ordinals, GPU-UUIDs or PCI bus ids, resolved to host ordinals by
	 * vgpud_gpus_resolve (daemon/gpus.h) when vgpud starts */
	uint32_t ngpu_specs;
	char gpu_spec[VGPUD_MAX_GPUS][VGPUD_GPU_SPEC];
	int gpus_line;                      /* 0: the default (gpus = 0) */
	int gpu_ord[VGPUD_MAX_GPUS];        /* resolved host ordinals */
	uint8_t gpu_uuid[VGPUD_MAX_GPUS][16]; /* and their real UUIDs */
	/* sim backend: simulated GPUs and which pairs reach each other */
	uint32_t sim_gpus;                  /* 1..VGPUD_MAX_GPUS */
	char sim_peer[128];                 /* all | none | 0-1,2-3 */
	enum vgpud_log log_level;
	char control_socket[VGPUD_PATH_MAX];
	uint64_t lease_ms;                  /* channel lease backstop */
	/* Prometheus metrics over HTTP: off unless metrics_listen is set */
	bool metrics_on;
	uint32_t metrics_addr;              /* IPv4, host byte order */
	uint16_t metrics_port;              /* 0: any free port (logged) */
	bool sched_on;                      /* scheduler = on (default) | off */
	uint64_t sched_queue_us;            /* sched_queue: a VM's queued GPU
					     * time at most (default 2ms) */
	uint64_t sched_queue_ahead_us;      /* sched_queue_ahead: a VM ahead
					     * of another lately busy; 0 off */
	bool sched_solo;                    /* sched_solo = on (default): a VM
					     * alone on its GPU goes unmetered */
	uint32_t nvms;
	struct vgpud_vm vms[VGPUD_MAX_VMS];
};

struct vgpud_cfgerr {
	char file[2 * VGPUD_PATH_MAX + 16];
	int line;                           /* 0: about the whole file */
	char msg[256];
};

/* Defaults for everything, no VMs. */
void vgpud_config_defaults(struct vgpud_config *c);
/* Load dir (NULL: VGPUD_CONFIG_DIR). 0 on success, -1 with *e filled. */
int vgpud_config_load(const char *dir, struct vgpud_config *c,
		      struct vgpud_cfgerr *e);
/* "file:line: msg" */
void vgpud_cfgerr_format(const struct vgpud_cfgerr *e, char *buf, size_t n);

/* Value parsers, exposed for tests and vgpuctl. 0 or -1 with a reason. */
int vgpud_parse_size(const char *s, uint64_t *out, const char **why);
int vgpud_parse_duration_ms(const char *s, uint64_t *out, const char **why);
/* One entry of the host's gpus list: an ordinal (GPU_ORD, *ord), a UUID
 * "GPU-8-4-4-4-12" hex (GPU_UUID, uuid[16]) or a PCI bus id
 * "[DOMAIN:]BUS:DEV.FN" hex (GPU_PCI, pci[4]). 0 or -1 with a reason. */
enum vgpud_gpu_kind { VGPUD_GPU_ORD, VGPUD_GPU_UUID, VGPUD_GPU_PCI };
struct vgpud_gpu_id {
	enum vgpud_gpu_kind kind;
	uint32_t ord;
	uint8_t uuid[16];
	uint32_t pci[4]; /* domain, bus, device, function */
};
int vgpud_parse_gpu_spec(const char *s, struct vgpud_gpu_id *out,
			 const char **why);
/* sim_peer's value ("all", "none", or pairs "0-1,2-3"), for n GPUs, into
 * a symmetric reachability matrix (bit j of m[i]); also VGPU_SIM_PEER. */
int vgpud_parse_peer(const char *s, uint32_t n, uint32_t m[VGPUD_MAX_GPUS],
		     const char **why);

#endif
