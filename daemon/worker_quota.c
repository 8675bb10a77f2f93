/* daemon/worker_quota.c - the VM's device-memory quota, charged before the
 * driver allocates.
 *
 * The VM-wide counter lives in the ledger every worker of the VM maps, so
 * the limit spans all of the VM's guest processes. A charge is a CAS loop:
 * it succeeds only if the counter it read still holds, so two workers
 * racing for the last bytes cannot both pass. The VM counter is charged
 * before this worker's own (channel) counter: a worker killed between the
 * two leaves the VM over-counted (safe: it refuses, never over-commits),
 * and the supervisor resets the VM counter when none of its channels is
 * in use. A limit lowered below use refuses new charges; nothing live is
 * ever freed for it. The limit is per (VM, GPU): each of the VM's GPUs
 * has its own counter, charged for the GPU of the executor's current
 * context (vw_cur_dev); the VM-wide counter is their sum (figures only).
 */
#include "worker.h"

static void publish(struct vworker *W, uint32_t dev)
{
	if (W->ledger) {
		atomic_store(&W->ledger[W->chan].mem_in_use, W->mem_in_use);
		atomic_store(&W->ledger[W->chan].mem_gpu[dev], W->mem_gpu[dev]);
	}
}

/* Never below zero: an uncharge without a charge is a caller's bug, and
 * must not hand the VM the whole 64-bit range as quota. */
static void sub_sat(_Atomic uint64_t *c, uint64_t n)
{
	uint64_t v = atomic_load(c);
	while (!atomic_compare_exchange_weak(c, &v, v > n ? v - n : 0))
		;
}

/* Charge the GPU's counter against the limit: false if over it. */
static bool charge_gpu(struct vgpud_vm_ledger *L, uint32_t dev, uint64_t bytes)
{
	uint64_t lim = atomic_load(&L->mem_limit);
	uint64_t used = atomic_load(&L->mem_used_gpu[dev]);
	do {
		if (bytes > UINT64_MAX - used || (lim && used + bytes > lim)) {
			atomic_fetch_add(&L->mem_refused, 1);
			return false;
		}
	} while (!atomic_compare_exchange_weak(&L->mem_used_gpu[dev], &used,
					       used + bytes));
	return true;
}

CUresult vw_mem_charge(struct vworker *W, uint64_t bytes)
{
	struct vgpud_vm_ledger *L = W->vmledger;
	uint32_t dev = vw_cur_dev(W);
	if (L) {
		if (!charge_gpu(L, dev, bytes))
			return CUDA_ERROR_OUT_OF_MEMORY;
		atomic_fetch_add(&L->mem_used, bytes);
	}
	pthread_mutex_lock(&W->mu);
	/* without a VM ledger (tests) this counter alone bounds the sum: a
	 * size near 2^64 must fail here, not wrap it */
	bool wraps = bytes > UINT64_MAX - W->mem_in_use;
	if (!wraps) {
		W->mem_in_use += bytes;
		W->mem_gpu[dev] += bytes;
		publish(W, dev);
	}
	pthread_mutex_unlock(&W->mu);
	if (wraps && L) {
		sub_sat(&L->mem_used_gpu[dev], bytes);
		sub_sat(&L->mem_used, bytes);
	}
	return wraps ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
}

void vw_mem_uncharge_dev(struct vworker *W, uint32_t dev, uint64_t bytes)
{
	dev %= VGPU_CU_MAX_DEVS;
	pthread_mutex_lock(&W->mu);
	if (bytes > W->mem_in_use)
		bytes = W->mem_in_use;
	/* what this GPU holds: a caller naming the wrong one cannot move
	 * quota between GPUs */
	uint64_t g = bytes < W->mem_gpu[dev] ? bytes : W->mem_gpu[dev];
	W->mem_in_use -= bytes;
	W->mem_gpu[dev] -= g;
	publish(W, dev);
	pthread_mutex_unlock(&W->mu);
	if (W->vmledger) {
		sub_sat(&W->vmledger->mem_used, bytes);
		sub_sat(&W->vmledger->mem_used_gpu[dev], g);
	}
}

void vw_mem_uncharge(struct vworker *W, uint64_t bytes)
{
	vw_mem_uncharge_dev(W, vw_cur_dev(W), bytes);
}

void vw_mem_info(struct vworker *W, size_t *free_b, size_t *total_b)
{
	struct vgpud_vm_ledger *L = W->vmledger;
	uint64_t lim = L ? atomic_load(&L->mem_limit) : 0;
	if (!lim)
		return;
	uint64_t used = atomic_load(&L->mem_used_gpu[vw_cur_dev(W)]);
	uint64_t room = used < lim ? lim - used : 0;
	if (lim < *total_b)
		*total_b = (size_t)lim;
	if (room < *free_b)
		*free_b = (size_t)room;
}

void vw_mem_refresh_devinfo(struct vworker *W)
{
	size_t total;
	if (!W->vmledger)
		return; /* keep what --memory-limit gave */
	uint64_t lim = atomic_load(&W->vmledger->mem_limit);
	for (uint32_t v = 0; v < W->ndev; v++)
		if (W->drv.cuDeviceTotalMem_v2(&total, W->devs[v]) ==
		    CUDA_SUCCESS)
			W->infos[v].total_mem = lim && lim < total ? lim : total;
	if (W->drv.cuDeviceTotalMem_v2(&total, W->dev) != CUDA_SUCCESS)
		return;
	W->info.total_mem = lim && lim < total ? lim : total;
}
