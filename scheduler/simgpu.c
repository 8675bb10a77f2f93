/* scheduler/simgpu.c - event-stepped fluid GPU for scheduler tests. */
#include "simgpu.h"
#include <math.h>
#include <string.h>

#define DONE_EPS 1e-6 /* work left below this (ns) is done */

int vs_sim_add(struct vs_sim *m, const struct vs_sim_proc *p)
{
	if (m->nprocs == VS_SIM_PROCS || p->vm >= VS_MAX_VMS)
		return -1;
	struct vs_sim_proc *q = &m->p[m->nprocs];
	*q = *p;
	if (!q->est_ns)
		q->est_ns = q->kernel_ns;
	if (!q->depth)
		q->depth = 1;
	q->waiting = q->admitted = 0;
	q->done = q->wait_max_ns = q->wait_since = 0;
	q->arrived = q->lat_sum_ns = q->lat_max_ns = 0;
	return (int)m->nprocs++;
}

static bool launching(const struct vs_sim_proc *p, uint64_t t)
{
	if (t < p->start_ns || (p->stop_ns && t >= p->stop_ns))
		return false;
	if (!p->on_ns || !p->off_ns)
		return true;
	return (t - p->start_ns) % (p->on_ns + p->off_ns) < p->on_ns;
}

/* The next time a process's bursts or window change state after t. */
static uint64_t next_phase(const struct vs_sim_proc *p, uint64_t t)
{
	uint64_t n = UINT64_MAX;
	if (t < p->start_ns)
		n = p->start_ns;
	else if (p->on_ns && p->off_ns) {
		uint64_t per = p->on_ns + p->off_ns, in = (t - p->start_ns) % per;
		n = t + (in < p->on_ns ? p->on_ns - in : per - in);
	}
	if (p->stop_ns && p->stop_ns > t && p->stop_ns < n)
		n = p->stop_ns;
	return n;
}

static void submit(struct vs_sim *m)
{
	for (uint32_t i = 0; i < m->nprocs; i++) {
		struct vs_sim_proc *p = &m->p[i];
		if (!launching(p, m->now))
			continue;
		if (!p->waiting && p->admitted < p->depth)
			p->wait_since = m->now;
		if (p->admitted < p->depth)
			p->waiting = p->depth - p->admitted;
	}
}

static void demand(struct vs_sim *m)
{
	if (!m->s)
		return;
	bool w[VS_MAX_VMS] = {false}, any[VS_MAX_VMS] = {false};
	for (uint32_t i = 0; i < m->nprocs; i++) {
		w[m->p[i].vm] |= m->p[i].waiting > 0;
		any[m->p[i].vm] = true;
	}
	for (uint32_t v = 0; v < VS_MAX_VMS; v++)
		if (any[v])
			vs_demand(m->s, v, w[v], m->now);
}

static void admit(struct vs_sim *m)
{
	bool progress = true;
	demand(m);
	while (progress) {
		progress = false;
		for (uint32_t k = 0; k < m->nprocs; k++) {
			struct vs_sim_proc *p = &m->p[(m->rr + k) % m->nprocs];
			if (!p->waiting ||
			    (m->s && !vs_admit(m->s, p->vm, p->est_ns, m->now)))
				continue;
			uint64_t w = m->now - p->wait_since;
			p->wait_max_ns = w > p->wait_max_ns ? w : p->wait_max_ns;
			p->arrived = p->wait_since;
			p->wait_since = m->now;
			p->waiting--;
			if (!p->admitted++) {
				p->left = (double)p->kernel_ns;
				if (m->s)
					vs_ctx_busy(m->s, p->vm, m->now);
			}
			progress = true;
		}
		m->rr++;
	}
	demand(m);
}

static uint32_t busy(const struct vs_sim *m)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < m->nprocs; i++)
		n += m->p[i].admitted > 0;
	return n;
}

static bool any_waiting(const struct vs_sim *m)
{
	for (uint32_t i = 0; i < m->nprocs; i++)
		if (m->p[i].waiting)
			return true;
	return false;
}

/* Advance the fluid GPU to t (no completion strictly before t). */
static void advance(struct vs_sim *m, uint64_t t)
{
	uint32_t n = busy(m);
	double dt = (double)(t - m->now);
	if (!n && any_waiting(m))
		m->idle_with_work_ns += t - m->now;
	for (uint32_t i = 0; i < m->nprocs && n; i++) {
		struct vs_sim_proc *p = &m->p[i];
		if (!p->admitted)
			continue;
		p->left -= dt / n;
		m->gpu_ns[p->vm] += dt / n;
	}
	m->now = t;
	for (uint32_t i = 0; i < m->nprocs; i++) {
		struct vs_sim_proc *p = &m->p[i];
		if (!p->admitted || p->left > DONE_EPS)
			continue;
		p->done++;
		p->admitted--;
		if (p->depth == 1) {
			uint64_t l = t - p->arrived;
			p->lat_sum_ns += l;
			p->lat_max_ns = l > p->lat_max_ns ? l : p->lat_max_ns;
		}
		if (m->s)
			vs_complete(m->s, p->vm, p->est_ns, t);
		if (p->admitted)
			p->left = (double)p->kernel_ns;
		else if (m->s)
			vs_ctx_idle(m->s, p->vm, t);
	}
}

static uint64_t next_event(const struct vs_sim *m, uint64_t until)
{
	uint64_t t = m->now + (m->tick_ns ? m->tick_ns : 50000);
	uint32_t n = busy(m);
	for (uint32_t i = 0; i < m->nprocs; i++) {
		const struct vs_sim_proc *p = &m->p[i];
		uint64_t ph = next_phase(p, m->now);
		t = ph < t ? ph : t;
		if (p->admitted) {
			uint64_t c = m->now + (uint64_t)ceil(p->left * n - 1e-9);
			c = c > m->now ? c : m->now + 1;
			t = c < t ? c : t;
		}
	}
	return t < until ? t : until;
}

void vs_sim_run(struct vs_sim *m, uint64_t until)
{
	while (m->now < until) {
		submit(m);
		admit(m);
		advance(m, next_event(m, until));
	}
}
