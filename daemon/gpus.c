/* daemon/gpus.c - the host's GPUs, resolved and placed (see gpus.h). */
#define _GNU_SOURCE
#include "gpus.h"
#include "../ring/vminfo.h" /* vgpu_uuid_str */
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int vgpud_hostdev_parse(const char *line, struct vgpud_hostdev *d)
{
	char uuid[64], bus[64];
	unsigned long long total;
	int ord, used = 0;
	struct vgpud_gpu_id u, b;
	const char *why;
	memset(d, 0, sizeof(*d));
	if (sscanf(line, "%d %63s %63s %llu %n", &ord, uuid, bus, &total,
		   &used) != 4 || ord < 0 || !used ||
	    vgpud_parse_gpu_spec(uuid, &u, &why) || u.kind != VGPUD_GPU_UUID ||
	    vgpud_parse_gpu_spec(bus, &b, &why) || b.kind != VGPUD_GPU_PCI)
		return -1;
	d->ord = ord;
	memcpy(d->uuid, u.uuid, 16);
	memcpy(d->pci, b.pci, sizeof(d->pci));
	d->total = total;
	snprintf(d->name, sizeof(d->name), "%s", line + used);
	d->name[strcspn(d->name, "\n")] = 0;
	return 0;
}

static bool matches(const struct vgpud_gpu_id *g, const struct vgpud_hostdev *h)
{
	switch (g->kind) {
	case VGPUD_GPU_ORD: return (int)g->ord == h->ord;
	case VGPUD_GPU_UUID: return !memcmp(g->uuid, h->uuid, 16);
	default: return !memcmp(g->pci, h->pci, sizeof(h->pci));
	}
}

static int fail(struct vgpud_cfgerr *e, const struct vgpud_config *c,
		const char *fmt, ...)
{
	va_list ap;
	snprintf(e->file, sizeof(e->file), "%s/vgpud.conf", c->dir);
	e->line = c->gpus_line;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* "0 GPU-... 0000:01:00.0, 1 ..." : what the host has, for errors. */
static void have(const struct vgpud_hostdev *h, uint32_t nh, char *buf,
		 size_t n)
{
	size_t o = 0;
	buf[0] = 0;
	for (uint32_t i = 0; i < nh && o < n; i++) {
		char u[VGPU_UUID_STR];
		vgpu_uuid_str(h[i].uuid, u);
		o += (size_t)snprintf(buf + o, n - o, "%s%d %s %04x:%02x:%02x.%x",
				      i ? ", " : "", h[i].ord, u, h[i].pci[0],
				      h[i].pci[1], h[i].pci[2], h[i].pci[3]);
	}
}

int vgpud_gpus_resolve(struct vgpud_config *c, const struct vgpud_hostdev *h,
		       uint32_t nh, struct vgpud_cfgerr *e)
{
	char list[160];
	have(h, nh, list, sizeof(list));
	for (uint32_t i = 0; i < c->ngpu_specs; i++) {
		struct vgpud_gpu_id g;
		const char *why;
		if (vgpud_parse_gpu_spec(c->gpu_spec[i], &g, &why))
			return fail(e, c, "gpus: %s: %s", c->gpu_spec[i], why);
		uint32_t k = 0;
		while (k < nh && !matches(&g, &h[k]))
			k++;
		if (k == nh)
			return fail(e, c, "gpus: %s: no such GPU on this host "
				    "(%u: %s)", c->gpu_spec[i], nh,
				    nh ? list : "none");
		for (uint32_t j = 0; j < i; j++)
			if (c->gpu_ord[j] == h[k].ord)
				return fail(e, c, "gpus: %s and %s are the same "
					    "GPU (ordinal %d)", c->gpu_spec[j],
					    c->gpu_spec[i], h[k].ord);
		c->gpu_ord[i] = h[k].ord;
		memcpy(c->gpu_uuid[i], h[k].uuid, 16);
	}
	return 0;
}

/* A VM's commitment on each GPU it has: its limit, or the whole GPU. */
static uint64_t commit_add(uint64_t have, uint64_t limit)
{
	uint64_t add = limit ? limit : UINT64_MAX;
	return have > UINT64_MAX - add ? UINT64_MAX : have + add;
}

void vgpud_place(struct vgpud_config *c)
{
	uint64_t committed[VGPUD_MAX_GPUS] = {0};
	uint32_t vms[VGPUD_MAX_GPUS] = {0};
	for (uint32_t i = 0; i < c->nvms; i++) {
		const struct vgpud_vm *m = &c->vms[i];
		for (uint32_t k = 0; k < m->ngpus && !m->gpus_any; k++) {
			committed[m->gpus[k]] =
				commit_add(committed[m->gpus[k]], m->memory_limit);
			vms[m->gpus[k]]++;
		}
	}
	/* vms[] is sorted by name (config.c reads vms.d in name order) */
	for (uint32_t i = 0; i < c->nvms; i++) {
		struct vgpud_vm *m = &c->vms[i];
		if (!m->gpus_any)
			continue;
		uint32_t best = 0;
		for (uint32_t k = 1; k < c->ngpu_specs; k++)
			if (committed[k] < committed[best] ||
			    (committed[k] == committed[best] &&
			     vms[k] < vms[best]))
				best = k;
		m->gpus[0] = (uint8_t)best;
		committed[best] = commit_add(committed[best], m->memory_limit);
		vms[best]++;
	}
}

void vgpud_vm_gpus_text(const struct vgpud_config *c, const struct vgpud_vm *m,
			bool host, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = 0;
	for (uint32_t i = 0; i < m->ngpus && o < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s%d", i ? "," : "",
				      host ? c->gpu_ord[m->gpus[i]]
					   : (int)m->gpus[i]);
}

int vgpud_gpus_enumerate(const char *worker, const struct vgpud_config *c,
			 struct vgpud_hostdev *h, uint32_t max, uint32_t *n,
			 char *err, size_t errlen)
{
	int fd[2];
	*n = 0;
	if (pipe2(fd, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		execl(worker, worker, "--list-gpus", "--backend",
		      c->backend == VGPUD_BACKEND_SIM ? "sim" : "cuda",
		      "--driver", c->driver, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	FILE *f = pid > 0 ? fdopen(fd[0], "r") : NULL;
	char line[256];
	int bad = 0;
	while (f && fgets(line, sizeof(line), f))
		if (*n < max && vgpud_hostdev_parse(line, &h[*n]) == 0)
			(*n)++;
		else
			bad = 1;
	if (f)
		fclose(f);
	else
		close(fd[0]);
	int st = 0;
	if (pid > 0)
		waitpid(pid, &st, 0);
	if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st) || bad) {
		snprintf(err, errlen, "listing the host's GPUs with %s "
			 "--list-gpus failed (%s)", worker,
			 pid < 0 ? strerror(errno)
			 : bad ? "unexpected output"
			       : "see its message above");
		return -1;
	}
	return 0;
}

int vgpud_gpus_setup(struct vgpud_config *c, const char *worker, char *err,
		     size_t errlen)
{
	struct vgpud_hostdev h[64];
	struct vgpud_cfgerr e;
	uint32_t nh;
	char buf[32];
	if (c->backend == VGPUD_BACKEND_SIM) { /* workers inherit these */
		snprintf(buf, sizeof(buf), "%u", c->sim_gpus);
		setenv("VGPU_SIM_GPUS", buf, 1);
		setenv("VGPU_SIM_PEER", c->sim_peer, 1);
	}
	if (vgpud_gpus_enumerate(worker, c, h, 64, &nh, err, errlen))
		return -1;
	if (vgpud_gpus_resolve(c, h, nh, &e)) {
		vgpud_cfgerr_format(&e, err, errlen);
		return -1;
	}
	for (uint32_t i = 0; i < c->ngpu_specs; i++) {
		const struct vgpud_hostdev *d = h;
		while (d->ord != c->gpu_ord[i])
			d++;
		char u[VGPU_UUID_STR];
		vgpu_uuid_str(d->uuid, u);
		VLOG_INFO("gpu %u: ordinal %d, %s, %04x:%02x:%02x.%x, %s, %llu MiB",
			  i, d->ord, u, d->pci[0], d->pci[1], d->pci[2],
			  d->pci[3], d->name, (unsigned long long)(d->total >> 20));
	}
	vgpud_place(c);
	for (uint32_t i = 0; i < c->nvms; i++) {
		const struct vgpud_vm *m = &c->vms[i];
		char a[64], b[64];
		vgpud_vm_gpus_text(c, m, false, a, sizeof(a));
		vgpud_vm_gpus_text(c, m, true, b, sizeof(b));
		VLOG_INFO("vm %s: gpus %s%s (host ordinals %s)", m->name, a,
			  m->gpus_any ? ", placed by least committed memory "
					"then fewest VMs" : "", b);
	}
	return 0;
}
