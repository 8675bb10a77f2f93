/* daemon/reload.c - compare and apply a re-read configuration. */
#define _GNU_SOURCE
#include "reload.h"
#include "log.h"
#include "supervisor.h"
#include "../ring/wait.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The line of `key = ...` in path, 0 if it is not there (a default). */
static int key_line(const char *path, const char *key)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	int n = 0, found = 0;
	size_t k = strlen(key);
	while (f && !found && fgets(line, sizeof(line), f)) {
		const char *s = line;
		n++;
		while (isspace((unsigned char)*s))
			s++;
		if (!strncmp(s, key, k) &&
		    (s[k] == '=' || isspace((unsigned char)s[k])))
			found = n;
	}
	if (f)
		fclose(f);
	return found;
}

__attribute__((format(printf, 4, 5))) static int
refuse(struct vgpud_cfgerr *e, const char *file, const char *key,
       const char *fmt, ...)
{
	va_list ap;
	snprintf(e->file, sizeof(e->file), "%s", file);
	e->line = key ? key_line(file, key) : 0;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

#define RESTART "cannot change while vgpud runs (restart vgpud to apply it)"

static int compare_host(const struct vgpud_config *a,
			const struct vgpud_config *b, struct vgpud_cfgerr *e)
{
	char f[VGPUD_PATH_MAX + 16];
	snprintf(f, sizeof(f), "%s/vgpud.conf", b->dir);
	if (a->backend != b->backend)
		return refuse(e, f, "backend", "backend " RESTART);
	if (strcmp(a->driver, b->driver))
		return refuse(e, f, "driver", "driver " RESTART);
	bool gpus = a->ngpu_specs != b->ngpu_specs;
	for (uint32_t i = 0; !gpus && i < a->ngpu_specs; i++)
		gpus = strcmp(a->gpu_spec[i], b->gpu_spec[i]) != 0;
	if (gpus)
		return refuse(e, f, b->gpus_line ? "gpus" : NULL,
			      "gpus " RESTART);
	if (a->sim_gpus != b->sim_gpus)
		return refuse(e, f, "sim_gpus", "sim_gpus " RESTART);
	if (strcmp(a->sim_peer, b->sim_peer))
		return refuse(e, f, "sim_peer", "sim_peer " RESTART);
	if (strcmp(a->control_socket, b->control_socket))
		return refuse(e, f, "control_socket", "control_socket " RESTART);
	if (a->metrics_on != b->metrics_on ||
	    a->metrics_addr != b->metrics_addr ||
	    a->metrics_port != b->metrics_port)
		return refuse(e, f, "metrics_listen", "metrics_listen " RESTART);
	return 0;
}

static int compare_vm(const struct vgpud_vm *a, const struct vgpud_vm *b,
		      struct vgpud_cfgerr *e)
{
	static const struct {
		const char *key;
		size_t off, len;
	} fixed[] = {
#define F(k) {#k, offsetof(struct vgpud_vm, k), sizeof(((struct vgpud_vm *)0)->k)}
		F(region), F(region_size), F(region_owner), F(region_group),
		F(region_mode), F(channels), F(region_hugepages),
#undef F
	};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (memcmp((const char *)a + fixed[i].off,
			   (const char *)b + fixed[i].off, fixed[i].len))
			return refuse(e, b->file, fixed[i].key, "%s " RESTART,
				      fixed[i].key);
	/* guests hold their devices; `any` stays where it was placed */
	if (a->gpus_any != b->gpus_any || a->ngpus != b->ngpus ||
	    (!a->gpus_any && memcmp(a->gpus, b->gpus, a->ngpus)))
		return refuse(e, b->file, "gpus", "gpus " RESTART);
	return 0;
}

static const struct vgpud_vm *find_vm(const struct vgpud_config *c,
				      const char *name)
{
	for (uint32_t i = 0; i < c->nvms; i++)
		if (!strcmp(c->vms[i].name, name))
			return &c->vms[i];
	return NULL;
}

int vgpud_config_compare(const struct vgpud_config *a,
			 const struct vgpud_config *b, struct vgpud_cfgerr *e)
{
	if (compare_host(a, b, e))
		return -1;
	for (uint32_t i = 0; i < b->nvms; i++) {
		const struct vgpud_vm *old = find_vm(a, b->vms[i].name);
		if (!old)
			return refuse(e, b->vms[i].file, NULL,
				      "new VM '%s': vgpud serves the VMs it "
				      "started with (restart vgpud to add it)",
				      b->vms[i].name);
		if (compare_vm(old, &b->vms[i], e))
			return -1;
	}
	for (uint32_t i = 0; i < a->nvms; i++)
		if (!find_vm(b, a->vms[i].name))
			return refuse(e, a->vms[i].file, NULL,
				      "VM '%s' is served but its file is gone "
				      "(put it back, or restart vgpud to stop "
				      "serving it)", a->vms[i].name);
	return 0;
}

static void size_text(uint64_t v, char *buf, size_t n)
{
	if (!v)
		snprintf(buf, n, "none");
	else if (!(v & ((1ull << 20) - 1)))
		snprintf(buf, n, "%lluM", (unsigned long long)(v >> 20));
	else
		snprintf(buf, n, "%llu", (unsigned long long)v);
}

/* Apply one VM's quotas; append what changed to msg. */
static void apply_vm(struct vgpud_vmstate *v, struct vgpud_vm *cur,
		     const struct vgpud_vm *neu, char *msg, size_t n,
		     size_t *o)
{
	char a[32], b[32];
#define SAY(...)                                                               \
	do {                                                                   \
		int k_ = snprintf(msg + *o, *o < n ? n - *o : 0, __VA_ARGS__); \
		*o += k_ > 0 ? (size_t)k_ : 0;                                 \
	} while (0)
	if (cur->memory_limit != neu->memory_limit) {
		size_text(cur->memory_limit, a, sizeof(a));
		size_text(neu->memory_limit, b, sizeof(b));
		SAY("vm %s: memory_limit %s -> %s\n", cur->name, a, b);
		VLOG_INFO("vm %s: memory_limit %s -> %s", cur->name, a, b);
		atomic_store(&v->vml->mem_limit, neu->memory_limit);
	}
	if (cur->compute_weight != neu->compute_weight)
		SAY("vm %s: compute_weight %u -> %u\n", cur->name,
		    cur->compute_weight, neu->compute_weight);
	if (cur->compute_cap != neu->compute_cap)
		SAY("vm %s: compute_cap %u -> %u\n", cur->name,
		    cur->compute_cap, neu->compute_cap);
	if (cur->max_processes != neu->max_processes)
		SAY("vm %s: max_processes %u -> %u\n", cur->name,
		    cur->max_processes, neu->max_processes);
#undef SAY
	cur->memory_limit = neu->memory_limit;
	cur->compute_weight = neu->compute_weight;
	cur->compute_cap = neu->compute_cap;
	cur->max_processes = neu->max_processes;
}

int vgpud_reload(struct vgpud *d, char *msg, size_t n)
{
	struct vgpud_config *neu = malloc(sizeof(*neu));
	struct vgpud_cfgerr e;
	if (!neu) {
		snprintf(msg, n, "%s: out of memory", d->cfg.dir);
		return -1;
	}
	if (vgpud_config_load(d->cfg.dir, neu, &e) ||
	    vgpud_config_compare(&d->cfg, neu, &e)) {
		vgpud_cfgerr_format(&e, msg, n);
		VLOG_ERR("reload refused, the configuration in force is "
			 "unchanged: %s", msg);
		free(neu);
		return -1;
	}
	size_t o = 0;
	for (uint32_t i = 0; i < d->cfg.nvms; i++)
		apply_vm(&d->vms[i], &d->cfg.vms[i],
			 find_vm(neu, d->cfg.vms[i].name), msg, n, &o);
	static const char *const level[] = {"error", "warn", "info", "debug"};
	if (d->cfg.log_level != neu->log_level)
		o += (size_t)snprintf(msg + o, o < n ? n - o : 0,
				      "log_level %s -> %s\n",
				      level[d->cfg.log_level],
				      level[neu->log_level]);
	if (d->cfg.lease_ms != neu->lease_ms)
		o += (size_t)snprintf(msg + o, o < n ? n - o : 0,
				      "lease %llums -> %llums\n",
				      (unsigned long long)d->cfg.lease_ms,
				      (unsigned long long)neu->lease_ms);
	if (d->cfg.sched_on != neu->sched_on)
		o += (size_t)snprintf(msg + o, o < n ? n - o : 0,
				      "scheduler %s -> %s\n",
				      d->cfg.sched_on ? "on" : "off",
				      neu->sched_on ? "on" : "off");
	d->cfg.log_level = neu->log_level;
	d->cfg.lease_ms = neu->lease_ms;
	if (d->cfg.sched_queue_us != neu->sched_queue_us)
		o += (size_t)snprintf(msg + o, o < n ? n - o : 0,
				      "sched_queue %lluus -> %lluus\n",
				      (unsigned long long)d->cfg.sched_queue_us,
				      (unsigned long long)neu->sched_queue_us);
	if (d->cfg.sched_solo != neu->sched_solo)
		o += (size_t)snprintf(msg + o, o < n ? n - o : 0,
				      "sched_solo %s -> %s\n",
				      d->cfg.sched_solo ? "on" : "off",
				      neu->sched_solo ? "on" : "off");
	if (d->cfg.sched_queue_ahead_us != neu->sched_queue_ahead_us)
		o += (size_t)snprintf(msg + o, o < n ? n - o : 0,
				      "sched_queue_ahead %lluus -> %lluus\n",
				      (unsigned long long)d->cfg.sched_queue_ahead_us,
				      (unsigned long long)neu->sched_queue_ahead_us);
	d->cfg.sched_queue_ahead_us = neu->sched_queue_ahead_us;
	d->cfg.sched_solo = neu->sched_solo;
	d->cfg.sched_on = neu->sched_on;
	d->cfg.sched_queue_us = neu->sched_queue_us;
	if (d->sched)
		vgpud_sched_apply(d, vgpu_now_ns());
	vlog_set_level(d->cfg.log_level);
	snprintf(msg + o, o < n ? n - o : 0, "reloaded %s: %u VM%s%s\n",
		 d->cfg.dir, d->cfg.nvms, d->cfg.nvms == 1 ? "" : "s",
		 o ? "" : ", nothing changed");
	VLOG_INFO("reloaded %s", d->cfg.dir);
	free(neu);
	return 0;
}
