/* daemon/stats.c - per-VM figures: memory against the quota, call rates. */
#include "stats.h"
#include "supervisor.h"
#include <stdio.h>

uint64_t vgpud_vm_calls(const struct vgpud_vmstate *v)
{
	uint64_t n = v->stats.retired_calls;
	for (uint32_t ch = 0; ch < v->cfg->channels; ch++)
		n += atomic_load_explicit(&v->ledger[ch].calls,
					  memory_order_relaxed);
	return n;
}

uint64_t vgpud_vm_copied(const struct vgpud_vmstate *v)
{
	uint64_t n = v->stats.retired_copied;
	for (uint32_t ch = 0; ch < v->cfg->channels; ch++)
		n += atomic_load_explicit(&v->ledger[ch].copy_bytes,
					  memory_order_relaxed);
	return n;
}

void vgpud_stats_retire(struct vgpud_vmstate *v, uint32_t ch)
{
	v->stats.retired_calls += atomic_exchange(&v->ledger[ch].calls, 0);
	v->stats.retired_copied += atomic_exchange(&v->ledger[ch].copy_bytes, 0);
}

void vgpud_stats_sample(struct vgpud *d, uint64_t now)
{
	for (uint32_t i = 0; i < d->cfg.nvms; i++) {
		struct vgpud_vmstats *s = &d->vms[i].stats;
		if (now < s->next_ns)
			continue;
		s->next_ns = now + 1000000000ull;
		s->head = (s->head + 1) % (VGPUD_STATS_WINDOW + 1);
		s->calls[s->head] = vgpud_vm_calls(&d->vms[i]);
		s->gpu_ns[s->head] = vgpud_sched_gpu_ns(d, i, now);
		s->copied[s->head] = vgpud_vm_copied(&d->vms[i]);
		s->at_ns[s->head] = now;
		if (s->n < VGPUD_STATS_WINDOW + 1)
			s->n++;
	}
}

/* Per second over the last secs seconds of one series of samples. */
static double rate(const struct vgpud_vmstats *s, const uint64_t *x,
		   uint32_t secs)
{
	if (s->n < 2)
		return 0;
	if (secs > s->n - 1)
		secs = s->n - 1;
	if (secs > VGPUD_STATS_WINDOW)
		secs = VGPUD_STATS_WINDOW;
	uint32_t old = (s->head + VGPUD_STATS_WINDOW + 1 - secs) %
		       (VGPUD_STATS_WINDOW + 1);
	uint64_t dt = s->at_ns[s->head] - s->at_ns[old];
	return dt ? (double)(x[s->head] - x[old]) * 1e9 / (double)dt : 0;
}

double vgpud_calls_rate(const struct vgpud_vmstate *v, uint32_t secs)
{
	return rate(&v->stats, v->stats.calls, secs);
}

double vgpud_copy_rate(const struct vgpud_vmstate *v, uint32_t secs)
{
	return rate(&v->stats, v->stats.copied, secs);
}

double vgpud_gpu_share(const struct vgpud_vmstate *v, uint32_t secs)
{
	return rate(&v->stats, v->stats.gpu_ns, secs) / 1e9;
}

static uint32_t procs(const struct vgpud_vmstate *v)
{
	uint32_t n = 0;
	for (uint32_t k = 0; k < v->nw; k++)
		n += v->w[k].chan >= 0;
	return n;
}

#define OUT(...) (o += (size_t)snprintf(buf + o, o < n ? n - o : 0, __VA_ARGS__))

void vgpud_stats(const struct vgpud *d, char *buf, size_t n)
{
	size_t o = 0;
	OUT("%-16s %7s %12s %12s %8s %11s %11s %12s %8s %8s %11s %11s %12s\n",
	    "VM", "PROCS", "MEM_USED", "MEM_LIMIT", "REFUSED", "CALLS/S_1S",
	    "CALLS/S_10S", "CALLS", "GPU%_1S", "GPU%_10S", "THROTTLED_S",
	    "COPY_GB/S_1S", "COPY_GB/S_10S");
	for (uint32_t i = 0; i < d->cfg.nvms; i++) {
		const struct vgpud_vmstate *v = &d->vms[i];
		char lim[32], use[32], pr[16];
		uint64_t l = atomic_load(&v->vml->mem_limit);
		snprintf(use, sizeof(use), "%.1fM",
			 (double)atomic_load(&v->vml->mem_used) / (1 << 20));
		if (l)
			snprintf(lim, sizeof(lim), "%.1fM", (double)l / (1 << 20));
		else
			snprintf(lim, sizeof(lim), "none");
		snprintf(pr, sizeof(pr), "%u/%u", procs(v), v->cfg->channels);
		OUT("%-16s %7s %12s %12s %8llu %11.1f %11.1f %12llu %8.1f %8.1f "
		    "%11.3f %11.3f %12.3f\n",
		    v->cfg->name, pr, use, lim,
		    (unsigned long long)atomic_load(&v->vml->mem_refused),
		    vgpud_calls_rate(v, 1),
		    vgpud_calls_rate(v, VGPUD_STATS_WINDOW),
		    (unsigned long long)vgpud_vm_calls(v),
		    100 * vgpud_gpu_share(v, 1),
		    100 * vgpud_gpu_share(v, VGPUD_STATS_WINDOW),
		    (double)vgpud_sched_throttled_ns(d, i) / 1e9,
		    vgpud_copy_rate(v, 1) / 1e9,
		    vgpud_copy_rate(v, VGPUD_STATS_WINDOW) / 1e9);
	}
	if (!d->cfg.sched_on)
		OUT("\nscheduler off (vgpud.conf): GPU share is not measured, "
		    "nothing is throttled\n");
}

/* Prometheus text exposition format, version 0.0.4. VM names are letters,
 * digits, '_', '.' and '-' (daemon/config.c): no label escaping needed. */
void vgpud_stats_prom(const struct vgpud *d, char *buf, size_t n)
{
	static const struct {
		const char *name, *type, *help;
	} m[] = {
		{"vgpu_vm_memory_used_bytes", "gauge",
		 "Device memory charged to the VM's quota, all its processes."},
		{"vgpu_vm_memory_limit_bytes", "gauge",
		 "The VM's memory_limit; 0 means none."},
		{"vgpu_vm_memory_refused_total", "counter",
		 "Allocations refused for the VM's memory_limit."},
		{"vgpu_vm_calls_total", "counter",
		 "CUDA driver calls the VM's guest processes made."},
		{"vgpu_vm_processes", "gauge",
		 "Guest processes of the VM with a channel."},
		{"vgpu_vm_channels", "gauge",
		 "Channels of the VM: guest processes it may run at once."},
		{"vgpu_vm_gpu_seconds_total", "counter",
		 "GPU time the scheduler measured for the VM (time-sliced "
		 "contexts counted once)."},
		{"vgpu_vm_throttled_seconds_total", "counter",
		 "Wall time the VM had launches held back by its share or "
		 "cap."},
		{"vgpu_vm_copy_bytes_total", "counter",
		 "Bytes the VM's processes copied between their memory and "
		 "the device."},
	};
	size_t o = 0;
	for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
		OUT("# HELP %s %s\n# TYPE %s %s\n", m[k].name, m[k].help,
		    m[k].name, m[k].type);
		for (uint32_t i = 0; i < d->cfg.nvms; i++) {
			const struct vgpud_vmstate *v = &d->vms[i];
			uint64_t val = 0;
			if (k == 8) {
				OUT("%s{vm=\"%s\"} %llu\n", m[k].name,
				    v->cfg->name,
				    (unsigned long long)vgpud_vm_copied(v));
				continue;
			}
			if (k >= 6) {
				uint64_t ns = k == 6
					? v->stats.gpu_ns[v->stats.head]
					: vgpud_sched_throttled_ns(d, i);
				OUT("%s{vm=\"%s\"} %.6f\n", m[k].name,
				    v->cfg->name, (double)ns / 1e9);
				continue;
			}
			switch (k) {
			case 0: val = atomic_load(&v->vml->mem_used); break;
			case 1: val = atomic_load(&v->vml->mem_limit); break;
			case 2: val = atomic_load(&v->vml->mem_refused); break;
			case 3: val = vgpud_vm_calls(v); break;
			case 4: val = procs(v); break;
			default: val = v->cfg->channels; break;
			}
			OUT("%s{vm=\"%s\"} %llu\n", m[k].name, v->cfg->name,
			    (unsigned long long)val);
		}
	}
}
#undef OUT
