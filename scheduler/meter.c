/* scheduler/meter.c - split busy wall time among VMs by busy contexts. */
#include "meter.h"
#include <string.h>

void vs_meter_init(struct vs_meter *m, uint64_t now)
{
	memset(m, 0, sizeof(*m));
	m->last_ns = now;
}

void vs_meter_advance(struct vs_meter *m, uint64_t now)
{
	if (now <= m->last_ns)
		return;
	uint64_t dt = now - m->last_ns;
	m->last_ns = now;
	if (!m->busy_total)
		return;
	/* dt * busy fits: dt < 2^44 (hours) between calls in practice, and
	 * busy < 2^20; split with the remainder carried, so no nanosecond is
	 * lost over many short steps */
	for (uint32_t v = 0; v < VS_MAX_VMS; v++) {
		if (!m->busy[v])
			continue;
		uint64_t num = dt * m->busy[v] + m->carry[v];
		m->gpu_ns[v] += num / m->busy_total;
		m->carry[v] = num % m->busy_total;
	}
}

void vs_meter_charge(struct vs_meter *m, uint32_t vm, uint64_t ns)
{
	if (vm < VS_MAX_VMS)
		m->gpu_ns[vm] += ns;
}

void vs_meter_busy(struct vs_meter *m, uint32_t vm, uint64_t now)
{
	vs_meter_advance(m, now);
	if (vm >= VS_MAX_VMS)
		return;
	m->busy[vm]++;
	m->busy_total++;
}

void vs_meter_idle(struct vs_meter *m, uint32_t vm, uint64_t now)
{
	vs_meter_advance(m, now);
	if (vm >= VS_MAX_VMS || !m->busy[vm])
		return;
	m->busy[vm]--;
	m->busy_total--;
}
