/* daemon/worker_vmm.h - what the files of the worker's VMM area share
 * (worker_vmm.c: VMM; worker_vmm_pool.c: memory pools; worker_vmm_ipc.c:
 * CUDA IPC).
 *
 * Contract: one struct vw_vmm per worker (W->vmm, made on first use) holds
 * the area's tables; its mutex orders them and the area's driver calls.
 */
#ifndef VGPU_DAEMON_WORKER_VMM_H
#define VGPU_DAEMON_WORKER_VMM_H

#include "worker.h"

struct vw_phys {
	uint64_t id;      /* the guest's name while hrefs > 0, else 0 */
	CUmemGenericAllocationHandle real;
	uint64_t size;
	uint32_t hrefs;   /* create + retains - releases */
	uint32_t maps;
	uint32_t gen;     /* bumped per use of the slot: stale ids fail */
	bool used;
};

struct vw_span {
	CUdeviceptr base;
	uint64_t size;
	uint32_t phys; /* mappings: index into phys */
};

struct vw_pool {
	uint64_t id;          /* the guest's (a VGPU_HK_MEM_POOL handle) */
	CUmemoryPool real;
};

struct vw_vmm_pools {
	struct vw_pool *v;
	uint32_t n, cap;
};

struct vw_import {
	CUdeviceptr base;     /* from cuIpcOpenMemHandle */
	uint32_t refs;        /* openings not yet closed */
};

struct vw_imports {
	struct vw_import *v;
	uint32_t n, cap;
};

struct vw_vmm {
	pthread_mutex_t mu;
	struct vw_phys *phys;
	uint32_t nphys;
	struct vw_span *resv, *maps;
	uint32_t nresv, nmaps, rcap, mcap;
	struct vw_vmm_pools pools;
	struct vw_imports imports;
};

/* W's tables (NULL: out of memory). */
struct vw_vmm *vw_vmm_of(struct vworker *W);
/* A CUmemLocation from the guest, for the driver: device 0 is W's device,
 * another ordinal names none; host locations are NOT_SUPPORTED. */
CUresult vw_vmm_loc_in(struct vworker *W, uint64_t wire, CUmemLocation *l);
/* VGPU_CU_MEM_POOL_CREATE and VGPU_CU_MEM_POOL: run and reply. */
void vw_vmm_pool(struct vworker *W, const struct vgpu_msg *m);
/* VGPU_CU_IPC_OPEN and VGPU_CU_IPC: run and reply. */
void vw_vmm_ipc(struct vworker *W, const struct vgpu_msg *m);

#endif
