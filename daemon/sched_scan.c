/* daemon/sched_scan.c - feed the policy from the ledgers, write grants. */
#include "sched_scan.h"
#include "../ring/wait.h"
#include "../scheduler/sched.h"
#include "supervisor.h"
#include <stdlib.h>
#include <string.h>

/* A VM with several GPUs is scheduled on each: its k-th GPU (gpus[k]) is
 * ledger slot k, where its workers count the launches on that GPU, and
 * the VM is registered in that GPU's policy instance (docs/multigpu.md).
 * GPUs past VGPUD_SCHED_GPUS share slot 0 (the workers' fallback). */
#define MS 1000000ull
/* Busy wall time kept to charge kernels that finish later: a kernel's
 * measurement arrives when it completes, after the time it ran. */
#define BUDGET_MAX_NS (1000 * MS)

/* The policy's defaults but the queue, `sched_queue` (default 2 ms): a
 * heavy VM's queued kernels are what a light VM's next kernel waits behind
 * (contexts time-slice; the GPU cannot be preempted from here), and grants
 * refill within a scan (0.5 ms) plus a completion poll (50 us), so 2 ms
 * keeps a lone VM's queue from running dry. */
static const struct vs_params params = {
	.slack_ns = 2 * MS, .max_lag_ns = 4 * MS, .queue_ns = 2 * MS,
	.cap_burst_ns = 10 * MS};

/* A VM is solo (its launches unmetered: ledger.h) while no other VM on
 * its GPU has had work for this long. Longer than a light VM's pauses
 * between kernels, so that a VM launching now and then keeps the heavy
 * one beside it metered (and its queue capped) between its kernels. */
#define SOLO_QUIET_NS (50 * MS)

static void busy_change(struct vgpud *d, uint32_t g, bool busy, uint64_t t);
static void retire_slot(struct vgpud *d, struct vgpud_vmstate *v, uint32_t k,
			uint32_t ch, uint64_t now);

struct change {
	uint64_t t;
	uint32_t gpu;
	bool busy;
};

/* The ledger slots of VM i: one per GPU, at most VGPUD_SCHED_GPUS. */
static uint32_t nslots(const struct vgpud *d, uint32_t i)
{
	uint32_t n = d->cfg.vms[i].ngpus;
	return !n ? 1 : n < VGPUD_SCHED_GPUS ? n : VGPUD_SCHED_GPUS;
}

/* The host GPU whose policy instance schedules VM i's slot k: its k-th
 * GPU. VMs on different GPUs never compete; each GPU's busy time is its
 * own, and a VM's work on one GPU spends only that GPU's share. */
static uint32_t dom(const struct vgpud *d, uint32_t i, uint32_t k)
{
	uint32_t g = d->cfg.vms[i].gpus[k];
	return g < d->cfg.ngpu_specs ? g : 0;
}

/* Slot k's busy_seq and gpu_ns last seen, channel by channel. */
static uint64_t *seen(const struct vgpud_vmstate *v, uint32_t k)
{
	return v->sched_seen + (size_t)k * 2 * v->cfg->channels;
}

static uint32_t ndoms(const struct vgpud *d)
{
	return d->cfg.ngpu_specs ? d->cfg.ngpu_specs : 1;
}

static struct vgpud_sched_vm *vm_slot(const struct vgpud_vmstate *v,
				      uint32_t k)
{
	return vgpud_ledger_sched(v->ledger, v->cfg->channels, k);
}

static struct vgpud_sched_chan *chan_slot(const struct vgpud_vmstate *v,
					  uint32_t k, uint32_t ch)
{
	return vgpud_ledger_sched_chan(v->ledger, v->cfg->channels, k, ch);
}

void vgpud_sched_apply(struct vgpud *d, uint64_t now)
{
	for (uint32_t g = 0; g < ndoms(d); g++) {
		d->sched[g].p.queue_ns = d->cfg.sched_queue_us * 1000;
		d->sched[g].p.queue_ahead_ns = d->cfg.sched_queue_ahead_us * 1000;
	}
	for (uint32_t i = 0; i < d->cfg.nvms; i++)
	for (uint32_t k = 0; k < nslots(d, i); k++) {
		const struct vgpud_vm *c = &d->cfg.vms[i];
		struct vgpud_sched_vm *S = vm_slot(&d->vms[i], k);
		vs_vm_set(&d->sched[dom(d, i, k)], i, c->compute_weight,
			  c->compute_cap, now);
		if (atomic_load(&S->on) != d->cfg.sched_on) {
			atomic_store(&S->on, d->cfg.sched_on);
			/* waiters re-check the switch */
			atomic_fetch_add(&S->grant_seq, 1);
			vgpu_futex_wake(&S->grant_seq);
		}
	}
}

int vgpud_sched_open(struct vgpud *d, uint64_t now)
{
	d->sched = calloc(ndoms(d), sizeof(*d->sched));
	if (!d->sched)
		return -1;
	for (uint32_t g = 0; g < ndoms(d); g++) {
		vs_init(&d->sched[g], &params, now);
		d->sched_busy[g] = 0;
		d->sched_since[g] = now;
		d->sched_budget[g] = 0;
	}
	for (uint32_t i = 0; i < d->cfg.nvms; i++) {
		struct vgpud_vmstate *v = &d->vms[i];
		v->sched_seen = calloc(2 * (size_t)v->cfg->channels *
					       VGPUD_SCHED_GPUS,
				       sizeof(uint64_t));
		if (!v->sched_seen)
			return -1;
		/* a first launch need not wait for the first scan */
		for (uint32_t k = 0; k < nslots(d, i); k++)
			atomic_store(&vm_slot(v, k)->limit_ns,
				     d->cfg.sched_queue_us * 1000);
	}
	vgpud_sched_apply(d, now);
	return 0;
}

void vgpud_sched_close(struct vgpud *d)
{
	for (uint32_t i = 0; d->vms && i < d->cfg.nvms; i++) {
		free(d->vms[i].sched_seen);
		d->vms[i].sched_seen = NULL;
	}
	free(d->sched);
	d->sched = NULL;
}

void vgpud_sched_retire(struct vgpud *d, struct vgpud_vmstate *v,
			uint32_t ch, uint64_t now)
{
	if (!d->sched || !v->sched_seen)
		return;
	uint32_t i = (uint32_t)(v - d->vms);
	for (uint32_t k = 0; k < nslots(d, i); k++)
		retire_slot(d, v, k, ch, now);
}

static void retire_slot(struct vgpud *d, struct vgpud_vmstate *v, uint32_t k,
			uint32_t ch, uint64_t now)
{
	struct vgpud_sched_chan *C = chan_slot(v, k, ch);
	uint64_t *s = seen(v, k);
	if (s[ch] & 1)
		busy_change(d, dom(d, (uint32_t)(v - d->vms), k), false, now);
	s[ch] = 0;
	s[v->cfg->channels + ch] = 0;
	atomic_store(&C->gpu_ns, 0);
	v->sched_retired_held_ns += atomic_exchange(&C->held_ns, 0);
	atomic_store(&C->inflight_ns, 0);
	atomic_store(&C->inflight, 0);
	atomic_store(&C->waiting, 0);
	atomic_store(&C->changed_ns, 0);
	atomic_store(&C->busy_seq, 0);
}

/* The wall time some context was busy on GPU g: the most GPU time
 * there was. */
static void busy_change(struct vgpud *d, uint32_t g, bool busy, uint64_t t)
{
	if (t < d->sched_since[g])
		t = d->sched_since[g];
	if (busy) {
		if (d->sched_busy[g]++ == 0)
			d->sched_since[g] = t;
		return;
	}
	if (!d->sched_busy[g])
		return;
	if (--d->sched_busy[g] == 0) {
		d->sched_budget[g] += t - d->sched_since[g];
		d->sched_since[g] = t;
	}
}

static int by_time(const void *a, const void *b)
{
	const struct change *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t;
}

/* Busy/idle changes since the last scan, oldest first, across all
 * channels. A channel that went idle and busy again between two scans
 * counts as busy throughout. */
static void feed_changes(struct vgpud *d, uint64_t now)
{
	static struct change *ev;
	static size_t cap;
	size_t n = 0;
	for (uint32_t i = 0; i < d->cfg.nvms; i++)
	for (uint32_t k = 0; k < nslots(d, i); k++) {
		struct vgpud_vmstate *v = &d->vms[i];
		uint64_t *seen_k = seen(v, k);
		for (uint32_t ch = 0; ch < v->cfg->channels; ch++) {
			struct vgpud_sched_chan *C = chan_slot(v, k, ch);
			uint64_t s = atomic_load_explicit(&C->busy_seq,
							  memory_order_acquire);
			if (s == seen_k[ch])
				continue;
			uint64_t t = atomic_load(&C->changed_ns);
			if (atomic_load(&C->busy_seq) != s)
				continue; /* mid-change: next scan */
			bool busy = s & 1;
			if (busy != (seen_k[ch] & 1)) {
				if (n == cap) {
					size_t c = cap ? 2 * cap : 64;
					struct change *e = realloc(ev, c * sizeof(*e));
					if (!e)
						return; /* next scan */
					ev = e;
					cap = c;
				}
				ev[n++] = (struct change){t < now ? t : now,
							  dom(d, i, k), busy};
			}
			seen_k[ch] = s;
		}
	}
	if (n) /* ev is NULL while nothing changed: qsort wants non-NULL */
		qsort(ev, n, sizeof(*ev), by_time);
	for (size_t k = 0; k < n; k++)
		busy_change(d, ev[k].gpu, ev[k].busy, ev[k].t);
	for (uint32_t g = 0; g < ndoms(d); g++) {
		if (d->sched_busy[g] && now > d->sched_since[g]) {
			d->sched_budget[g] += now - d->sched_since[g];
			d->sched_since[g] = now;
		}
		if (d->sched_budget[g] > BUDGET_MAX_NS)
			d->sched_budget[g] = BUDGET_MAX_NS;
	}
}

/* Charge each VM the GPU time its kernels measured since the last scan
 * (device timestamps, worker_sched.c). Contexts time-slice, so those
 * measurements are each context's own time, except a kernel switched
 * out mid-way (longer than a time slice), whose span includes other
 * contexts' turns. So the charges are held to the busy wall time: if
 * they would exceed it, all are scaled down alike. Interleaved contexts
 * are never counted twice. */
static void charge(struct vgpud *d, uint32_t g, uint64_t now)
{
	uint64_t e[VGPUD_MAX_VMS], sum = 0;
	for (uint32_t i = 0; i < d->cfg.nvms; i++) {
		e[i] = 0;
		struct vgpud_vmstate *v = &d->vms[i];
		uint32_t nch = v->cfg->channels;
		for (uint32_t k = 0; k < nslots(d, i); k++) {
			if (dom(d, i, k) != g)
				continue;
			uint64_t *s = seen(v, k);
			for (uint32_t ch = 0; ch < nch; ch++) {
				uint64_t ns = atomic_load(&chan_slot(v, k, ch)->gpu_ns);
				e[i] += ns - s[nch + ch];
				s[nch + ch] = ns;
			}
		}
		sum += e[i];
	}
	if (!sum)
		return;
	uint64_t *budget = &d->sched_budget[g];
	double scale = sum <= *budget ? 1.0 : (double)*budget / (double)sum;
	for (uint32_t i = 0; i < d->cfg.nvms; i++) {
		uint64_t c = (uint64_t)((double)e[i] * scale);
		if (!c)
			continue;
		vs_charge(&d->sched[g], i, c, now);
		*budget -= c < *budget ? c : *budget;
	}
}

/* Whether the VM has work on its k-th GPU: launches queued or waiting,
 * or (solo, so neither is reported) launched since the last scan. */
static bool grant(struct vgpud *d, uint32_t i, uint32_t k, uint64_t now,
		  bool write)
{
	struct vgpud_vmstate *v = &d->vms[i];
	struct vgpud_sched_vm *S = vm_slot(v, k);
	uint32_t queued = 0;
	uint64_t queued_ns = 0, launches = 0;
	bool waiting = false;
	for (uint32_t ch = 0; ch < v->cfg->channels; ch++) {
		struct vgpud_sched_chan *C = chan_slot(v, k, ch);
		queued += atomic_load(&C->inflight);
		queued_ns += atomic_load(&C->inflight_ns);
		waiting |= atomic_load(&C->waiting) != 0;
		launches += atomic_load_explicit(&C->launches,
						 memory_order_relaxed);
	}
	bool launched = launches != v->sched_launches[k];
	/* a solo VM that launches counts as asking: another VM coming back
	 * is levelled against it (no banked credit while it was alone) */
	bool asking = waiting || (launched && atomic_load(&S->solo));
	uint32_t gpu = dom(d, i, k);
	uint64_t g = vs_tokens(&d->sched[gpu], i, asking, queued, queued_ns,
			       now);
	bool work = waiting || queued || launched;
	if (!write)
		return work;
	v->sched_launches[k] = launches;
	if (work)
		v->sched_work_ns[k] = now ? now : 1;
	uint64_t lim = atomic_load(&S->admitted_ns) + g;
	uint64_t old = atomic_exchange(&S->limit_ns, lim);
	atomic_store(&S->gpu_busy, d->sched_busy[gpu]);
	if (lim > old && atomic_load(&S->waiters)) {
		atomic_fetch_add(&S->grant_seq, 1);
		vgpu_futex_wake(&S->grant_seq);
	}
	return work;
}

static bool recent(const struct vgpud_vmstate *v, uint32_t k, uint64_t now)
{
	return v->sched_work_ns[k] && now - v->sched_work_ns[k] < SOLO_QUIET_NS;
}

/* Solo: a VM with nobody to be fair to on a GPU runs unmetered there (no
 * tokens, no events: the cost of the scheduler off). Not a capped VM: a
 * cap holds alone too. The first launch of another VM is metered at once
 * (that VM is not solo: this one had work), and the next scan ends the
 * solo. */
static void solo(struct vgpud *d, uint64_t now)
{
	uint32_t n[VGPUD_MAX_GPUS] = {0};
	for (uint32_t i = 0; i < d->cfg.nvms; i++)
		for (uint32_t k = 0; k < nslots(d, i); k++)
			n[dom(d, i, k)] += recent(&d->vms[i], k, now);
	for (uint32_t i = 0; i < d->cfg.nvms; i++)
	for (uint32_t k = 0; k < nslots(d, i); k++) {
		struct vgpud_vmstate *v = &d->vms[i];
		struct vgpud_sched_vm *S = vm_slot(v, k);
		uint32_t others = n[dom(d, i, k)] - recent(v, k, now);
		uint32_t want = d->cfg.sched_solo && !v->cfg->compute_cap &&
				!others;
		if (atomic_load(&S->solo) == want)
			continue;
		atomic_store(&S->solo, want);
		if (want) { /* launches waiting for tokens go now */
			atomic_fetch_add(&S->grant_seq, 1);
			vgpu_futex_wake(&S->grant_seq);
		}
	}
}

bool vgpud_sched_scan(struct vgpud *d, uint64_t now)
{
	bool active = false;
	if (!d->sched || !d->cfg.sched_on)
		return false;
	feed_changes(d, now);
	for (uint32_t g = 0; g < ndoms(d); g++)
		charge(d, g, now);
	/* twice: every VM's demand is known before any grant is decided
	 * (the first pass's answers would lag a VM waking up by a scan) */
	for (uint32_t i = 0; i < d->cfg.nvms; i++)
		for (uint32_t k = 0; k < nslots(d, i); k++)
			grant(d, i, k, now, false);
	for (uint32_t i = 0; i < d->cfg.nvms; i++)
		for (uint32_t k = 0; k < nslots(d, i); k++)
			active |= grant(d, i, k, now, true);
	solo(d, now);
	return active;
}

/* Summed over the VM's GPUs. */
uint64_t vgpud_sched_gpu_ns(struct vgpud *d, uint32_t i, uint64_t now)
{
	uint64_t ns = 0;
	for (uint32_t k = 0; d->sched && k < nslots(d, i); k++)
		ns += vs_gpu_ns(&d->sched[dom(d, i, k)], i, now);
	return ns;
}

uint64_t vgpud_sched_throttled_ns(const struct vgpud *d, uint32_t i)
{
	uint64_t ns = 0;
	for (uint32_t k = 0; d->sched && i < VS_MAX_VMS && k < nslots(d, i); k++)
		ns += d->sched[dom(d, i, k)].vm[i].throttled_ns;
	return ns;
}
