/* daemon/vminfo_pub.c - build and publish a VM's info block. */
#include "vminfo_pub.h"
#include "log.h"
#include <cuda.h>
#include <stdio.h>
#include <string.h>

/* The sensors of the VM's first GPU (index into the host's list). */
static struct vgpud_hostgpu *sensors(struct vgpud *d, struct vgpud_vmstate *v)
{
	uint32_t g = v->cfg->ngpus ? v->cfg->gpus[0] : 0;
	return g == 0 || g >= VGPUD_MAX_GPUS ? d->gpu : d->gpu_more[g];
}

/* The identity, once the VM's first worker has published it. */
static bool ident(struct vgpud *d, struct vgpud_vmstate *v)
{
	struct vgpud_vminfo_state *st = &v->info;
	if (st->have_ident)
		return true;
	struct vgpud_ledger_ident *id =
		vgpud_ledger_ident(v->ledger, v->cfg->channels);
	if (atomic_load(&id->state) != VGPUD_IDENT_READY)
		return false;
	memcpy(&st->ident, id, sizeof(*id));
	st->have_ident = true;
	if (sensors(d, v)) /* told at start already, unless in tests */
		vgpud_hostgpu_set_uuid(sensors(d, v), st->ident.phys_uuid);
	VLOG_DEBUG("vm %s: identity published: %s, %s", v->cfg->name,
		   st->ident.info.name, st->ident.info.pci_bus_id);
	return true;
}

/* One bit per period: did any of the VM's requests run in it? */
static uint32_t activity(struct vgpud_vmstate *v)
{
	struct vgpud_vminfo_state *st = &v->info;
	uint64_t calls = 0;
	bool running = false;
	for (uint32_t ch = 0; ch < v->cfg->channels; ch++) {
		calls += atomic_load(&v->ledger[ch].calls);
		running |= atomic_load(&v->ledger[ch].active) != 0;
	}
	bool busy = running || calls != st->last_calls;
	st->last_calls = calls;
	st->busy = (uint16_t)((st->busy << 1) | busy);
	return (uint32_t)__builtin_popcount(st->busy & 0x3ff) * 10;
}

static void memory(struct vgpud *d, struct vgpud_vmstate *v,
		   struct vgpu_vminfo *b)
{
	uint64_t phys_free = 0;
	/* the VM's first GPU's sensors; should they watch another GPU (an
	 * ordinal changed owner between listing and now), none rather than
	 * that one's (docs/multigpu.md) */
	struct vgpud_hostgpu *h = sensors(d, v);
	if (h && vgpud_hostgpu_watches(h, v->info.ident.phys_uuid))
		vgpud_hostgpu_get(h, b, &phys_free);
	b->quota = v->cfg->memory_limit;
	b->phys_total = v->info.ident.phys_total;
	/* in use by every channel, including ones between owners: a ledger
	 * entry is zeroed when its worker goes */
	for (uint32_t ch = 0; ch < v->cfg->channels; ch++)
		b->vm_used += atomic_load(&v->ledger[ch].mem_in_use);
	/* Without the host's NVML (or on the sim) the only user we know of
	 * is this VM: physical free is what its own use leaves. */
	if (!phys_free || b->source != VGPU_VMI_SRC_NVML)
		phys_free = b->phys_total > b->vm_used
				    ? b->phys_total - b->vm_used
				    : 0;
	b->phys_free = phys_free;
	b->valid |= VGPU_VMI_MEMORY;
}

/* Each of the VM's GPUs: identity, quota-capped total, the VM's use. */
static void gpus(struct vgpud_vmstate *v, struct vgpu_vminfo *b)
{
	const struct vgpud_ledger_ident *id = &v->info.ident;
	uint64_t q = v->cfg->memory_limit;
	b->ngpus = id->ngpus < VGPU_VMINFO_MAX_GPUS ? id->ngpus
						    : VGPU_VMINFO_MAX_GPUS;
	for (uint32_t g = 0; g < b->ngpus; g++) {
		struct vgpu_vminfo_gpu *o = &b->gpus[g];
		*o = id->gpus[g];
		o->total_mem = q && q < o->phys_total ? q : o->phys_total;
		o->vm_used = 0;
		for (uint32_t ch = 0; ch < v->cfg->channels; ch++)
			o->vm_used += atomic_load(&v->ledger[ch].mem_gpu[g]);
	}
}

static void processes(struct vgpud *d, struct vgpud_vmstate *v,
		      struct vgpu_vminfo *b)
{
	pid_t workers[VGPU_VMINFO_MAX_PROCS];
	uint32_t n = 0;
	for (uint32_t k = 0; k < v->nw && n < VGPU_VMINFO_MAX_PROCS; k++) {
		const struct vgpud_worker *w = &v->w[k];
		if (w->chan < 0)
			continue;
		workers[n] = w->pid;
		b->procs[n++] = (struct vgpu_vminfo_proc){
			.pid = w->guest_pid,
			.channel = (uint32_t)w->chan,
			.used_mem = atomic_load(&v->ledger[w->chan].mem_in_use)};
	}
	b->nprocs = n;
	b->valid |= VGPU_VMI_PROCS;
	uint32_t duty = activity(v);
	struct vgpud_hostgpu *h = sensors(d, v);
	if (h && b->source == VGPU_VMI_SRC_NVML &&
	    vgpud_hostgpu_util(h, workers, n, &b->util_gpu, &b->util_mem)) {
		b->util_source = VGPU_VMI_UTIL_NVML;
	} else {
		b->util_gpu = duty;
		b->util_mem = 0;
		b->util_source = VGPU_VMI_UTIL_ACTIVITY;
	}
	b->valid |= VGPU_VMI_UTIL;
}

static void header(struct vgpud_vminfo_state *st, struct vgpu_vminfo *b)
{
	memset(b, 0, sizeof(*b));
	b->magic = VGPU_VMINFO_MAGIC;
	b->version = VGPU_VMINFO_VERSION;
	b->size = sizeof(*b);
	b->updates = ++st->updates;
}

void vgpud_vminfo_withdraw(struct vgpud_vmstate *v)
{
	static struct vgpu_vminfo b;
	struct vgpu_vminfo *dst = vgpu_info(&v->r);
	if (!dst)
		return;
	header(&v->info, &b);
	vgpu_vminfo_write(dst, &b, &v->info.seq);
}

void vgpud_vminfo_refresh(struct vgpud *d, struct vgpud_vmstate *v,
			  uint64_t now_ns)
{
	struct vgpud_vminfo_state *st = &v->info;
	struct vgpu_vminfo *dst = vgpu_info(&v->r);
	if (!dst || !v->ledger ||
	    now_ns - st->last_ns < VGPUD_VMINFO_PERIOD_MS * 1000000ull)
		return;
	st->last_ns = now_ns;
	static struct vgpu_vminfo b;
	header(st, &b);
	if (ident(d, v)) {
		const struct vgpu_cu_devinfo *i = &st->ident.info;
		b.dev = *i;
		b.valid |= VGPU_VMI_IDENTITY;
		if (i->nattrs > CU_DEVICE_ATTRIBUTE_GPU_PCI_SUBSYSTEM_ID) {
			b.pci_device_id = (uint32_t)i->attrs
				[CU_DEVICE_ATTRIBUTE_GPU_PCI_DEVICE_ID];
			b.pci_subsys_id = (uint32_t)i->attrs
				[CU_DEVICE_ATTRIBUTE_GPU_PCI_SUBSYSTEM_ID];
		}
		memory(d, v, &b);
		gpus(v, &b);
		processes(d, v, &b);
	}
	vgpu_vminfo_write(dst, &b, &st->seq);
}
