/* daemon/supervisor.c - VMs, channel claims, the worker pool. */
#define _GNU_SOURCE
#include "supervisor.h"
#include "../ring/host.h"
#include "../ring/wait.h"
#include "ctl.h"
#include "gpus.h"
#include "log.h"
#include "metrics_http.h"
#include "region_file.h"
#include "vminfo_pub.h"
#include "reload.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TICK_US 2000 /* claim pick-up latency bound; ~500 wake-ups/s */
#define SCHED_TICK_US 500 /* with the scheduler: token refill latency */

static int ledger_open(struct vgpud_vmstate *v)
{
	size_t len = VGPUD_LEDGER_SIZE(v->cfg->channels);
	v->ledger_fd = memfd_create("vgpud-ledger", 0); /* inherited */
	if (v->ledger_fd < 0 || ftruncate(v->ledger_fd, (off_t)len))
		return -1;
	v->ledger = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 v->ledger_fd, 0);
	if (v->ledger == MAP_FAILED)
		return -1;
	v->vml = vgpud_ledger_vm(v->ledger, v->cfg->channels);
	atomic_store(&v->vml->mem_limit, v->cfg->memory_limit);
	return 0;
}

/* What a gone worker still had charged goes back to the VM: its context,
 * and so its memory, went with it. */
static void uncharge_channel(struct vgpud_vmstate *v, uint32_t ch)
{
	uint64_t n = atomic_exchange(&v->ledger[ch].mem_in_use, 0);
	uint64_t used = atomic_load(&v->vml->mem_used);
	while (!atomic_compare_exchange_weak(&v->vml->mem_used, &used,
					     used > n ? used - n : 0))
		;
	for (uint32_t g = 0; g < VGPU_CU_MAX_DEVS; g++) { /* per GPU */
		n = atomic_exchange(&v->ledger[ch].mem_gpu[g], 0);
		used = atomic_load(&v->vml->mem_used_gpu[g]);
		while (n && !atomic_compare_exchange_weak(
				    &v->vml->mem_used_gpu[g], &used,
				    used > n ? used - n : 0))
			;
	}
}

/* With no channel in use nothing can be charged: a worker killed between
 * charging the VM and its channel (daemon/worker_quota.c) left the VM
 * over-counted; this is where that heals. Workers charge only while
 * serving a channel, and channels are handed out by this thread. */
static void heal_quota(struct vgpud_vmstate *v)
{
	for (uint32_t i = 0; i < v->nw; i++)
		if (v->w[i].chan >= 0)
			return;
	if (!atomic_load(&v->vml->mem_used))
		return; /* the usual case: no write to the shared page */
	uint64_t stale = atomic_exchange(&v->vml->mem_used, 0);
	for (uint32_t g = 0; g < VGPU_CU_MAX_DEVS; g++)
		atomic_store(&v->vml->mem_used_gpu[g], 0);
	if (stale)
		VLOG_WARN("vm %s: %llu bytes of memory quota were charged with "
			  "no process left: released", v->cfg->name,
			  (unsigned long long)stale);
}

static int vm_open(struct vgpud_vmstate *v, const struct vgpud_vm *cfg,
		   char *err, size_t n)
{
	memset(v, 0, sizeof(*v));
	v->cfg = cfg;
	if (vgpud_region_open(cfg, &v->r, err, n))
		return -1;
	v->lease = calloc(cfg->channels, sizeof(*v->lease));
	v->assigned = calloc(cfg->channels, sizeof(*v->assigned));
	if (!v->lease || !v->assigned || ledger_open(v)) {
		snprintf(err, n, "%s: out of memory", cfg->name);
		return -1;
	}
	for (uint32_t i = 0; i < cfg->channels; i++)
		vgpu_hchan_init(&v->lease[i], i);
	atomic_store(&vgpu_hdr(&v->r)->epoch, (uint32_t)time(NULL));
	atomic_store(&vgpu_hdr(&v->r)->state, VGPU_REGION_READY);
	VLOG_INFO("vm %s: serving %s (%llu MiB, %u channels)", cfg->name,
		  cfg->region, (unsigned long long)(cfg->region_size >> 20),
		  cfg->channels);
	return 0;
}

static void worker_argv(const struct vgpud *d, const struct vgpud_vmstate *v,
			char bufs[4][64], char **argv)
{
	const struct vgpud_vm *c = v->cfg;
	vgpud_vm_gpus_text(&d->cfg, c, true, bufs[0], 64);
	snprintf(bufs[1], 64, "%llu", (unsigned long long)c->memory_limit);
	snprintf(bufs[2], 64, "%d", v->ledger_fd);
	int i = 0;
	argv[i++] = (char *)d->worker_path;
	argv[i++] = "--region", argv[i++] = (char *)c->region;
	argv[i++] = "--vm", argv[i++] = (char *)c->name;
	argv[i++] = "--backend";
	argv[i++] = d->cfg.backend == VGPUD_BACKEND_SIM ? "sim" : "cuda";
	argv[i++] = "--driver", argv[i++] = (char *)d->cfg.driver;
	argv[i++] = "--gpus", argv[i++] = bufs[0];
	argv[i++] = "--memory-limit", argv[i++] = bufs[1];
	argv[i++] = "--ledger-fd", argv[i++] = bufs[2];
	argv[i] = NULL;
}

static int spawn(struct vgpud *d, struct vgpud_vmstate *v)
{
	int in[2], out[2];
	if (v->nw == v->wcap) {
		uint32_t cap = v->wcap ? v->wcap * 2 : 8;
		struct vgpud_worker *w = realloc(v->w, cap * sizeof(*w));
		if (!w)
			return -1;
		v->w = w;
		v->wcap = cap;
	}
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC | O_NONBLOCK))
		return -1;
	char bufs[4][64], *argv[24];
	worker_argv(d, v, bufs, argv);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(d->worker_path, argv);
		fprintf(stderr, "vgpud: exec %s: %s\n", d->worker_path,
			strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		return -1;
	}
	v->w[v->nw++] = (struct vgpud_worker){.pid = pid, .to = in[1],
					      .from = out[0], .chan = -1};
	VLOG_DEBUG("vm %s: started worker %d", v->cfg->name, (int)pid);
	return 0;
}

static void poll_ready(struct vgpud_vmstate *v)
{
	for (uint32_t i = 0; i < v->nw; i++) {
		char buf[16];
		if (!v->w[i].ready && read(v->w[i].from, buf, sizeof(buf)) > 0) {
			v->w[i].ready = true; /* it printed "ready" */
			VLOG_DEBUG("vm %s: worker %d ready", v->cfg->name,
				   (int)v->w[i].pid);
		}
	}
}

static struct vgpud_worker *idle_worker(struct vgpud_vmstate *v)
{
	for (uint32_t i = 0; i < v->nw; i++)
		if (v->w[i].ready && v->w[i].chan < 0)
			return &v->w[i];
	return NULL;
}

static void assign(struct vgpud *d, struct vgpud_vmstate *v, struct vgpud_worker *w,
		   uint32_t ch, uint32_t gen, uint32_t pid)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "serve %u\n", ch);
	if (write(w->to, line, (size_t)n) != n)
		return; /* it died: reaped next tick, the claim stays pending */
	w->chan = (int)ch;
	w->gen = gen;
	w->guest_pid = pid;
	v->assigned[ch] = gen;
	uncharge_channel(v, ch); /* nothing: its last worker's was returned */
	vgpud_sched_retire(d, v, ch, vgpu_now_ns()); /* likewise */
	vgpud_stats_retire(v, ch); /* likewise */
	VLOG_INFO("vm %s: guest pid %u on channel %u, worker pid %d",
		  v->cfg->name, pid, ch, (int)w->pid);
}

/* Whether a worker of an earlier claim still runs on channel ch. Its
 * guest process has lost the channel, so the worker has nothing left to
 * do; one still busy (a long synchronising call) is killed rather than
 * waited for, so the new claim is not held up past the guest's timeout.
 * Its pid cannot be reused before we reap it. */
static bool chan_taken(const struct vgpud_vmstate *v, uint32_t ch)
{
	for (uint32_t i = 0; i < v->nw; i++)
		if (v->w[i].chan == (int)ch) {
			kill(v->w[i].pid, SIGKILL);
			return true;
		}
	return false;
}

static uint32_t procs_in_use(const struct vgpud_vmstate *v)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < v->nw; i++)
		n += v->w[i].chan >= 0;
	return n;
}

/* max_processes reached: the guest's cuInit fails at once (the claim's
 * wait sees REFUSED) instead of timing out. */
static void refuse(struct vgpud_vmstate *v, uint32_t ch, uint32_t gen,
		   uint32_t pid)
{
	struct vgpu_chan_ctl *ctl = vgpu_ctl(&v->r, ch);
	atomic_store_explicit(&ctl->status, VGPU_CHAN_REFUSED,
			      memory_order_relaxed);
	atomic_store_explicit(&ctl->ready_gen, gen, memory_order_release);
	v->assigned[ch] = gen;
	VLOG_WARN("vm %s: guest pid %u refused: max_processes (%u) reached",
		  v->cfg->name, pid, v->cfg->max_processes);
}

static void pick_up_claims(struct vgpud *d, struct vgpud_vmstate *v)
{
	for (uint32_t ch = 0; ch < v->cfg->channels; ch++) {
		struct vgpu_chan_ctl *ctl = vgpu_ctl(&v->r, ch);
		uint64_t c = atomic_load(&ctl->claim);
		uint32_t gen = VGPU_CLAIM_GEN(c), pid = VGPU_CLAIM_PID(c);
		if (!pid || gen == v->assigned[ch] ||
		    atomic_load(&ctl->req_gen) != gen)
			continue;
		/* A channel's ledger slot (its memory charged to the quota,
		 * its call count, its park futex) is one worker's: the next
		 * claim waits until the last worker has exited and been
		 * accounted (a tick or two). */
		if (chan_taken(v, ch))
			continue;
		if (procs_in_use(v) >= v->cfg->max_processes) {
			refuse(v, ch, gen, pid);
			continue;
		}
		struct vgpud_worker *w = idle_worker(v);
		if (!w)
			return; /* the pool refills; the guest waits a moment */
		assign(d, v, w, ch, gen, pid);
	}
}

/* A parked worker whose channel has a request (at the consumer position
 * the worker publishes) or a changed claim is woken. The published
 * position is guest-writable: a lie costs that guest a spurious wake-up or
 * up to a second's delay, nothing else. */
static void wake_parked(struct vgpud_vmstate *v)
{
	for (uint32_t i = 0; i < v->nw; i++) {
		struct vgpud_worker *w = &v->w[i];
		if (w->chan < 0 || !atomic_load(&v->ledger[w->chan].parked))
			continue;
		struct vgpu_chan_ctl *ctl = vgpu_ctl(&v->r, (uint32_t)w->chan);
		uint32_t pos = atomic_load(&ctl->cons);
		uint32_t seq = atomic_load(&vgpu_slot_at(&v->r, (uint32_t)w->chan,
							 pos)->seq);
		if (seq == pos &&
		    atomic_load(&ctl->claim) == VGPU_CLAIM(w->gen, w->guest_pid))
			continue;
		atomic_fetch_add(&v->ledger[w->chan].wake, 1);
		vgpu_futex_wake(&v->ledger[w->chan].wake);
	}
}

static void worker_gone(struct vgpud *d, struct vgpud_vmstate *v, struct vgpud_worker *w,
			int status)
{
	if (w->chan >= 0) {
		struct vgpu_chan_ctl *ctl = vgpu_ctl(&v->r, (uint32_t)w->chan);
		uint64_t c = atomic_load(&ctl->claim);
		bool held = VGPU_CLAIM_PID(c) && VGPU_CLAIM_GEN(c) == w->gen;
		if (held && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			atomic_store(&ctl->status, VGPU_CHAN_FAILED);
			VLOG_ERR("vm %s: worker %d for guest pid %u died (%s %d): "
				 "that process's GPU calls now fail; others "
				 "continue", v->cfg->name, (int)w->pid,
				 w->guest_pid,
				 WIFSIGNALED(status) ? "signal" : "exit",
				 WIFSIGNALED(status) ? WTERMSIG(status)
						     : WEXITSTATUS(status));
		} else {
			VLOG_INFO("vm %s: guest pid %u left channel %d",
				  v->cfg->name, w->guest_pid, w->chan);
		}
		uncharge_channel(v, (uint32_t)w->chan);
		vgpud_stats_retire(v, (uint32_t)w->chan);
		vgpud_sched_retire(d, v, (uint32_t)w->chan, vgpu_now_ns());
		vgpud_ipc_forget(vgpud_ledger_ipc(v->ledger, v->cfg->channels),
				 (int32_t)w->pid);
	} else if (!w->ready) {
		VLOG_ERR("vm %s: worker %d failed to start (see its message "
			 "above)", v->cfg->name, (int)w->pid);
	}
	close(w->to);
	close(w->from);
	*w = v->w[--v->nw];
}

static void reap(struct vgpud *d)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		for (uint32_t i = 0; i < d->cfg.nvms; i++) {
			struct vgpud_vmstate *v = &d->vms[i];
			for (uint32_t k = 0; k < v->nw; k++)
				if (v->w[k].pid == pid)
					worker_gone(d, v, &v->w[k], st);
		}
}

static void refill(struct vgpud *d, struct vgpud_vmstate *v)
{
	uint32_t idle = 0;
	for (uint32_t i = 0; i < v->nw; i++)
		idle += v->w[i].chan < 0;
	while (idle++ < VGPUD_POOL && spawn(d, v) == 0)
		;
}

static void housekeeping(struct vgpud *d, struct vgpud_vmstate *v)
{
	uint64_t now = vgpu_now_ns();
	if (now - v->beat_ns < VGPU_HEARTBEAT_MS * 1000000ull)
		return;
	v->beat_ns = now;
	atomic_fetch_add(&vgpu_hdr(&v->r)->heartbeat, 1);
	for (uint32_t ch = 0; ch < v->cfg->channels; ch++)
		if (vgpu_hchan_lease(&v->r, &v->lease[ch], now,
				     d->cfg.lease_ms * 1000000ull))
			VLOG_WARN("vm %s: channel %u reclaimed: its guest process "
				  "stopped beating for %llu ms", v->cfg->name, ch,
				  (unsigned long long)d->cfg.lease_ms);
}

static int find_worker(struct vgpud *d, char *err, size_t n)
{
	const char *env = getenv("VGPUD_WORKER");
	char self[400];
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (env)
		snprintf(d->worker_path, sizeof(d->worker_path), "%s", env);
	else if (k > 0) {
		self[k] = 0;
		snprintf(d->worker_path, sizeof(d->worker_path),
			 "%s/vgpud-worker", dirname(self));
	}
	if (access(d->worker_path, X_OK)) {
		snprintf(err, n, "no worker program at '%s' (install "
			 "vgpud-worker beside vgpud, or set VGPUD_WORKER)",
			 d->worker_path);
		return -1;
	}
	return 0;
}

int vgpud_start(struct vgpud *d, char *err, size_t n)
{
	vlog_set_level(d->cfg.log_level);
	d->ctl_fd = -1;
	d->metrics_fd = -1;
	if (find_worker(d, err, n) ||
	    vgpud_gpus_setup(&d->cfg, d->worker_path, err, n))
		return -1;
	d->vms = calloc(d->cfg.nvms ? d->cfg.nvms : 1, sizeof(*d->vms));
	if (!d->vms)
		return -1;
	for (uint32_t i = 0; i < d->cfg.nvms; i++)
		if (vm_open(&d->vms[i], &d->cfg.vms[i], err, n))
			return -1;
	if (vgpud_sched_open(d, vgpu_now_ns())) {
		snprintf(err, n, "scheduler: out of memory");
		return -1;
	}
	/* one sampler per GPU, each told its GPU now: a VM's NVML shows its
	 * own GPU's sensors (daemon/vminfo_pub.c) */
	for (uint32_t i = 0; i < d->cfg.ngpu_specs; i++) {
		struct vgpud_hostgpu **h = i ? &d->gpu_more[i] : &d->gpu;
		*h = vgpud_hostgpu_open(d->cfg.backend == VGPUD_BACKEND_SIM);
		if (*h)
			vgpud_hostgpu_set_uuid(*h, d->cfg.gpu_uuid[i]);
	}
	d->ctl_fd = vgpud_ctl_listen(d->cfg.control_socket, err, n);
	if (d->ctl_fd < 0)
		return -1;
	if (vgpud_metrics_listen(d, err, n))
		return -1;
	if (!d->cfg.nvms)
		VLOG_WARN("no VMs configured: add %s/vms.d/NAME.conf",
			  d->cfg.dir);
	return 0;
}

void vgpud_run(struct vgpud *d)
{
	while (!d->stop) {
		if (d->reload) {
			char msg[4096];
			d->reload = 0;
			vgpud_reload(d, msg, sizeof(msg)); /* it logs */
		}
		reap(d);
		for (uint32_t i = 0; i < d->cfg.nvms; i++) {
			struct vgpud_vmstate *v = &d->vms[i];
			refill(d, v);
			poll_ready(v);
			pick_up_claims(d, v);
			wake_parked(v);
			housekeeping(d, v);
			vgpud_vminfo_refresh(d, v, vgpu_now_ns());
			heal_quota(v);
		}
		bool busy = vgpud_sched_scan(d, vgpu_now_ns());
		vgpud_stats_sample(d, vgpu_now_ns());
		vgpud_ctl_serve(d);
		vgpud_metrics_serve(d);
		/* with launches in flight, grants follow completions within a
		 * short tick; an idle VM keeps its last grant meanwhile */
		usleep(busy ? SCHED_TICK_US : TICK_US);
	}
}

void vgpud_shutdown(struct vgpud *d)
{
	for (uint32_t i = 0; i < d->cfg.nvms; i++) {
		struct vgpud_vmstate *v = &d->vms[i];
		for (uint32_t k = 0; k < v->nw; k++)
			kill(v->w[k].pid, SIGTERM);
		vgpud_vminfo_withdraw(v);
		vgpud_region_close(&v->r);
	}
	while (wait(NULL) > 0)
		;
	vgpud_ctl_close(d);
	vgpud_hostgpu_close(d->gpu);
	d->gpu = NULL;
	for (uint32_t i = 1; i < VGPUD_MAX_GPUS; i++) {
		vgpud_hostgpu_close(d->gpu_more[i]);
		d->gpu_more[i] = NULL;
	}
	vgpud_metrics_close(d);
	vgpud_sched_close(d);
	VLOG_INFO("stopped");
}

void vgpud_status(const struct vgpud *d, char *buf, size_t n)
{
	size_t o = 0;
#define OUT(...) (o += (size_t)snprintf(buf + o, o < n ? n - o : 0, __VA_ARGS__))
	OUT("backend %s, gpus", d->cfg.backend == VGPUD_BACKEND_SIM ? "sim"
								     : "cuda");
	for (uint32_t i = 0; i < d->cfg.ngpu_specs; i++)
		OUT("%s %u=%s", i ? "," : "", i, d->cfg.gpu_spec[i]);
	OUT(", %u VM%s\n", d->cfg.nvms, d->cfg.nvms == 1 ? "" : "s");
	for (uint32_t i = 0; i < d->cfg.nvms; i++) {
		const struct vgpud_vmstate *v = &d->vms[i];
		uint64_t mem = 0;
		uint32_t used = 0;
		for (uint32_t k = 0; k < v->nw; k++)
			if (v->w[k].chan >= 0) {
				used++;
				mem += atomic_load(&v->ledger[v->w[k].chan].mem_in_use);
			}
		char g[64];
		vgpud_vm_gpus_text(&d->cfg, v->cfg, false, g, sizeof(g));
		OUT("\nvm %s  gpus %s%s  region %s  %llu MiB  channels %u/%u  "
		    "memory %llu MiB", v->cfg->name, g,
		    v->cfg->gpus_any ? " (any)" : "", v->cfg->region,
		    (unsigned long long)(v->cfg->region_size >> 20), used,
		    v->cfg->channels, (unsigned long long)(mem >> 20));
		if (v->cfg->memory_limit)
			OUT(" of %llu MiB",
			    (unsigned long long)(v->cfg->memory_limit >> 20));
		OUT("\n");
		for (uint32_t k = 0; k < v->nw; k++) {
			const struct vgpud_worker *w = &v->w[k];
			if (w->chan < 0)
				continue;
			OUT("  channel %-3d guest pid %-8u worker pid %-8d memory "
			    "%llu MiB\n", w->chan, w->guest_pid, (int)w->pid,
			    (unsigned long long)(atomic_load(
				    &v->ledger[w->chan].mem_in_use) >> 20));
		}
	}
#undef OUT
}
