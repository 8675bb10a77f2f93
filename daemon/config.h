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
};

struct vgpud_config {
	char dir[VGPUD_PATH_MAX];
	enum vgpud_backend backend;
	char driver[VGPUD_PATH_MAX];        /* real libcuda.so.1 */
	uint32_t gpu;                       /* device ordinal */
	enum vgpud_log log_level;
	char control_socket[VGPUD_PATH_MAX];
	uint64_t lease_ms;                  /* channel lease backstop */
	/* Prometheus metrics over HTTP: off unless metrics_listen is set */
	bool metrics_on;
	uint32_t metrics_addr;              /* IPv4, host byte order */
	uint16_t metrics_port;              /* 0: any free port (logged) */
	bool sched_on;                      /* scheduler = on (default) | off */
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

#endif
