/* scheduler/sched.c - virtual-time fair admission with caps and debt. */
#include "sched.h"
#include <string.h>

#define MS 1000000ull

static const struct vs_params defaults = {
	.slack_ns = 2 * MS, .max_lag_ns = 4 * MS, .queue_ns = 4 * MS,
	.cap_burst_ns = 10 * MS};

void vs_init(struct vs_sched *s, const struct vs_params *p, uint64_t now)
{
	memset(s, 0, sizeof(*s));
	s->p = p ? *p : defaults;
	s->now = now;
	vs_meter_init(&s->m, now);
}

/* vtimes wrap; only differences between active VMs mean anything */
static int64_t vdiff(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b);
}

static uint64_t to_v(uint64_t ns, uint32_t weight)
{
	return ns * VS_WEIGHT_MAX / weight;
}

static bool capped(const struct vs_vm *v)
{
	return v->cap_pct && v->budget_ns <= 0;
}

static void clamp(struct vs_sched *s, uint32_t vm);

/* A VM its cap held back fell behind the pace without using less than it
 * may: back under its cap it rejoins level, or it would stall the others
 * while it spends its bucket. */
static void uncapped(struct vs_sched *s)
{
	for (uint32_t i = 0; i < s->nvms; i++) {
		struct vs_vm *v = &s->vm[i];
		bool c = v->present && capped(v);
		if (v->was_capped && !c)
			clamp(s, i);
		v->was_capped = c;
	}
}

/* Bring measured GPU time and the cap buckets up to now. */
static void sync(struct vs_sched *s, uint64_t now)
{
	if (now < s->now)
		now = s->now;
	uint64_t dt = now - s->now;
	s->now = now;
	vs_meter_advance(&s->m, now);
	for (uint32_t i = 0; i < s->nvms; i++) {
		struct vs_vm *v = &s->vm[i];
		if (!v->present)
			continue;
		uint64_t gpu = vs_meter_gpu_ns(&s->m, i);
		uint64_t d = gpu - v->charged_ns;
		v->charged_ns = gpu;
		v->vtime += to_v(d, v->weight);
		if (v->held && v->demand)
			v->throttled_ns += dt;
		if (!v->cap_pct)
			continue;
		/* drained before the depth applies: a kernel running through
		 * the refill cannot bank it */
		int64_t b = v->budget_ns - (int64_t)d +
			    (int64_t)(dt * v->cap_pct / 100);
		v->budget_ns = b > (int64_t)s->p.cap_burst_ns
				       ? (int64_t)s->p.cap_burst_ns
				       : b;
	}
	uncapped(s);
}


/* The lowest vtime among VMs other than `except` that have work and are
 * not held back by a cap: the pace everyone else is measured against. */
static bool vmin(const struct vs_sched *s, uint32_t except, uint64_t *out)
{
	bool found = false;
	for (uint32_t i = 0; i < s->nvms; i++) {
		const struct vs_vm *v = &s->vm[i];
		if (i == except || !v->present || capped(v) ||
		    (!v->demand && !v->queued))
			continue;
		if (!found || vdiff(v->vtime, *out) < 0)
			*out = v->vtime;
		found = true;
	}
	return found;
}

/* No banked credit: never more than max_lag behind the pace. */
static void clamp(struct vs_sched *s, uint32_t vm)
{
	struct vs_vm *v = &s->vm[vm];
	uint64_t m;
	if (!vmin(s, vm, &m))
		return;
	uint64_t lag = to_v(s->p.max_lag_ns, v->weight);
	if (vdiff(m, v->vtime) > (int64_t)lag)
		v->vtime = m - lag;
}

const char *vs_held(struct vs_sched *s, uint32_t vm, uint64_t now)
{
	sync(s, now);
	if (vm >= s->nvms || !s->vm[vm].present)
		return "not configured";
	struct vs_vm *v = &s->vm[vm];
	if (capped(v))
		return "compute cap";
	uint64_t m;
	if (vmin(s, vm, &m) &&
	    vdiff(v->vtime, m) >= (int64_t)to_v(s->p.slack_ns, v->weight))
		return "fair share";
	return NULL;
}

int vs_vm_set(struct vs_sched *s, uint32_t vm, uint32_t weight,
	      uint32_t cap_pct, uint64_t now)
{
	if (vm >= VS_MAX_VMS || weight > VS_WEIGHT_MAX || cap_pct > 100)
		return -1;
	sync(s, now);
	struct vs_vm *v = &s->vm[vm];
	if (!v->present) {
		uint64_t m = 0;
		memset(v, 0, sizeof(*v));
		v->present = true;
		v->charged_ns = vs_meter_gpu_ns(&s->m, vm);
		v->budget_ns = (int64_t)s->p.cap_burst_ns;
		if (vmin(s, vm, &m))
			v->vtime = m; /* level with the others, no credit */
	}
	v->weight = weight ? weight : 1;
	v->cap_pct = cap_pct;
	if (vm >= s->nvms)
		s->nvms = vm + 1;
	return 0;
}

void vs_vm_remove(struct vs_sched *s, uint32_t vm, uint64_t now)
{
	sync(s, now);
	if (vm < VS_MAX_VMS)
		s->vm[vm].present = false;
}

/* A latency-bound VM (work within recent_ns, but never two launches
 * queued within it) is behind vm: vm queues at most queue_ahead_ns.
 * Recent, not only now: a light VM between two of its kernels must find
 * the heavy VM's queue short when it comes back. A VM behind that keeps
 * a queue of its own gains nothing from a shorter one ahead of it, and
 * capping the VM ahead would only idle the GPU and bend the shares. */
static bool ahead(const struct vs_sched *s, uint32_t vm)
{
	const struct vs_vm *v = &s->vm[vm];
	uint64_t recent = s->p.recent_ns ? s->p.recent_ns : 50 * MS;
	if (!s->p.queue_ahead_ns)
		return false;
	for (uint32_t i = 0; i < s->nvms; i++) {
		const struct vs_vm *o = &s->vm[i];
		if (i == vm || !o->present || !o->work_ns ||
		    s->now - o->work_ns >= recent || capped(o) ||
		    (o->deep_ns && s->now - o->deep_ns < recent))
			continue;
		if (vdiff(v->vtime, o->vtime) > 0)
			return true;
	}
	return false;
}

/* The queue cap of vm now, and whether a second launch may cross it. */
static uint64_t queue_of(const struct vs_sched *s, uint32_t vm, bool *second)
{
	*second = true;
	if (ahead(s, vm) && s->p.queue_ahead_ns < s->p.queue_ns) {
		*second = false;
		return s->p.queue_ahead_ns;
	}
	return s->p.queue_ns;
}

static void worked(struct vs_sched *s, struct vs_vm *v, bool work)
{
	if (work)
		v->work_ns = s->now ? s->now : 1;
	if (v->queued >= 2)
		v->deep_ns = s->now ? s->now : 1;
}

void vs_demand(struct vs_sched *s, uint32_t vm, bool waiting, uint64_t now)
{
	sync(s, now);
	if (vm >= s->nvms || !s->vm[vm].present)
		return;
	struct vs_vm *v = &s->vm[vm];
	if (waiting && !v->demand && !v->queued)
		clamp(s, vm); /* back from idle: level with the pace first */
	v->demand = waiting;
	worked(s, v, waiting || v->queued);
	if (!waiting)
		v->held = false;
}

bool vs_admit(struct vs_sched *s, uint32_t vm, uint64_t est_ns, uint64_t now)
{
	const char *why = vs_held(s, vm, now);
	if (why) {
		if (vm < s->nvms)
			s->vm[vm].held = true;
		return false;
	}
	struct vs_vm *v = &s->vm[vm];
	v->held = false;
	worked(s, v, true);
	bool second;
	uint64_t q = queue_of(s, vm, &second);
	if (v->queued >= (second ? 2u : 1u) &&
	    (est_ns > q || v->queued_ns > q - est_ns))
		return false; /* its own backlog: not a throttle (room()) */
	v->queued++;
	v->queued_ns += est_ns;
	v->admitted++;
	worked(s, v, true);
	return true;
}

void vs_complete(struct vs_sched *s, uint32_t vm, uint64_t est_ns,
		 uint64_t now)
{
	sync(s, now);
	if (vm >= s->nvms)
		return;
	struct vs_vm *v = &s->vm[vm];
	if (v->queued)
		v->queued--;
	v->queued_ns -= est_ns < v->queued_ns ? est_ns : v->queued_ns;
}

void vs_charge(struct vs_sched *s, uint32_t vm, uint64_t ns, uint64_t now)
{
	sync(s, now);
	vs_meter_charge(&s->m, vm, ns);
}

void vs_ctx_busy(struct vs_sched *s, uint32_t vm, uint64_t now)
{
	sync(s, now);
	vs_meter_busy(&s->m, vm, now);
}

void vs_ctx_idle(struct vs_sched *s, uint32_t vm, uint64_t now)
{
	sync(s, now);
	vs_meter_idle(&s->m, vm, now);
}

/* Room in the VM's queue: queue_ns less what it has queued, and at least
 * room for a second launch while only one is queued (a token of 1 ns:
 * one launch may cross the limit), so that a kernel longer than queue_ns
 * has its successor queued behind it instead of the GPU idling until
 * its completion is seen and a grant follows. */
static uint64_t room(const struct vs_sched *s, uint32_t vm)
{
	const struct vs_vm *v = &s->vm[vm];
	bool second;
	uint64_t q = queue_of(s, vm, &second);
	if (v->queued_ns < q)
		return q - v->queued_ns;
	return second && v->queued < 2 ? 1 : 0;
}

uint64_t vs_grant_ns(struct vs_sched *s, uint32_t vm, uint64_t now)
{
	if (vs_held(s, vm, now))
		return 0;
	return room(s, vm);
}

uint64_t vs_tokens(struct vs_sched *s, uint32_t vm, bool waiting,
		   uint32_t queued, uint64_t queued_ns, uint64_t now)
{
	sync(s, now);
	if (vm >= s->nvms || !s->vm[vm].present)
		return 0;
	struct vs_vm *v = &s->vm[vm];
	if ((waiting || queued) && !v->demand && !v->queued)
		clamp(s, vm); /* back from idle: level with the pace first */
	if (queued > v->queued)
		v->admitted += queued - v->queued;
	v->demand = waiting;
	v->queued = queued;
	v->queued_ns = queued_ns;
	worked(s, v, waiting || queued);
	const char *why = vs_held(s, vm, now);
	v->held = why && waiting;
	if (why)
		return 0;
	return room(s, vm);
}

uint64_t vs_gpu_ns(struct vs_sched *s, uint32_t vm, uint64_t now)
{
	sync(s, now);
	return vs_meter_gpu_ns(&s->m, vm);
}

double vs_jain(const double *x, const double *w, uint32_t n)
{
	double sum = 0, sq = 0;
	for (uint32_t i = 0; i < n; i++) {
		double r = x[i] / (w ? w[i] : 1.0);
		sum += r;
		sq += r * r;
	}
	return n && sq > 0 ? sum * sum / (n * sq) : 1.0;
}
