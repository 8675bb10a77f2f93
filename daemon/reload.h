/* daemon/reload.h - apply a re-read configuration to a running vgpud
 * (`vgpuctl reload`, SIGHUP).
 *
 * Contract: vgpud_config_compare(old, new, e) says whether new may replace
 * old while VMs run. Quotas (memory_limit, compute_weight, compute_cap,
 * max_processes), log_level and lease may change; the set of VMs, each
 * VM's region, size, owner, group, mode, channels and gpus, and the host's
 * backend, driver, gpus, sim_gpus, sim_peer, control socket and metrics_listen may not (guests have them
 * mapped, workers have them open: a restart applies those). A refusal
 * names the file, the line of the key (0: the file as a whole) and the
 * reason. vgpud_reload(d) re-reads d's configuration directory, compares,
 * and only if everything is acceptable applies it: limits go into each
 * VM's ledger, where its workers read them at their next allocation.
 * Nothing running is disturbed: a limit lowered below use refuses new
 * allocations and frees nothing. On any error the old configuration stays
 * in force, untouched.
 */
#ifndef VGPU_DAEMON_RELOAD_H
#define VGPU_DAEMON_RELOAD_H

#include "config.h"
#include <stddef.h>

struct vgpud;

int vgpud_config_compare(const struct vgpud_config *old,
			 const struct vgpud_config *neu,
			 struct vgpud_cfgerr *e);
/* 0: applied, msg says what changed; -1: msg is "file:line: reason". */
int vgpud_reload(struct vgpud *d, char *msg, size_t n);

#endif
