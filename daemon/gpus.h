/* daemon/gpus.h - which GPUs vgpud owns, and which of them each VM gets.
 *
 * Contract: the supervisor executes no CUDA call, so the host's GPUs are
 * listed by a worker (`vgpud-worker --list-gpus`, one line per device:
 * "ORDINAL GPU-UUID BUSID TOTALBYTES NAME"). vgpud_gpus_resolve maps each
 * entry of vgpud.conf's `gpus` (ordinal, UUID or PCI bus id) onto a host
 * ordinal: an entry that names no GPU, or two entries naming one GPU, is
 * an error naming the file, the line and the reason (and the GPUs there
 * are). vgpud_place then gives each `gpus = any` VM one GPU of the list:
 * the least committed memory quota first (a VM without memory_limit
 * commits the whole GPU), then the fewest VMs, then the lowest index.
 * VMs are placed in name order, after every VM with a fixed list, so the
 * result is a pure function of the configuration (docs/multigpu.md).
 */
#ifndef VGPU_DAEMON_GPUS_H
#define VGPU_DAEMON_GPUS_H

#include "config.h"

struct vgpud_hostdev {
	int ord;
	uint8_t uuid[16];
	uint32_t pci[4];    /* domain, bus, device, function */
	uint64_t total;     /* bytes */
	char name[96];
};

/* One line of --list-gpus into *d; 0 or -1. */
int vgpud_hostdev_parse(const char *line, struct vgpud_hostdev *d);
/* Fill c->gpu_ord from c->gpu_spec; 0 or -1 with *e. */
int vgpud_gpus_resolve(struct vgpud_config *c, const struct vgpud_hostdev *h,
		       uint32_t nh, struct vgpud_cfgerr *e);
/* Place every `any` VM (fills vms[i].gpus[0]). */
void vgpud_place(struct vgpud_config *c);
/* "0,1" for a VM: indices into the host's list; "host" gives host
 * ordinals instead (the worker's --gpus). */
void vgpud_vm_gpus_text(const struct vgpud_config *c, const struct vgpud_vm *m,
			bool host, char *buf, size_t n);
/* Run `worker --list-gpus` (environment as the workers get it) and parse
 * its lines into h (at most max); 0 or -1 with err. */
int vgpud_gpus_enumerate(const char *worker, const struct vgpud_config *c,
			 struct vgpud_hostdev *h, uint32_t max, uint32_t *n,
			 char *err, size_t errlen);
/* At vgpud's start: the sim's GPUs into the environment (sim_gpus,
 * sim_peer), then list, resolve, place and log. 0 or -1 with err. */
int vgpud_gpus_setup(struct vgpud_config *c, const char *worker, char *err,
		     size_t errlen);

#endif
