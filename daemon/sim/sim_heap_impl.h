/* daemon/sim/sim_heap_impl.h - the device heap's table, shared by its two
 * files: sim_heap.c (allocations, lookups) and sim_heap_vmm.c
 * (reservations and mappings for VMM, files for IPC). Nothing else
 * includes it; sim.h has the heap's interface.
 */
#ifndef VGPU_DAEMON_SIM_HEAP_IMPL_H
#define VGPU_DAEMON_SIM_HEAP_IMPL_H

#include "sim.h"

struct alloc {
	CUdeviceptr base;
	size_t size, charged;
	uint8_t *host;
	const void *owner;
	bool mapped;  /* a VMM mapping: host is in its reservation's shadow */
	bool access;  /* mapped: read-write access set */
	int fd1;      /* memfd + 1 when host maps a file (IPC), else 0 */
	bool foreign; /* imported: another process's memory, not charged */
	const void *ctx; /* context current when made (sim_ctx_tag) */
	int dev;         /* the device whose memory it takes (sim_cur_dev) */
};

struct resv {
	CUdeviceptr base;
	size_t size;
	uint8_t *shadow;
};

struct sim_heap {
	pthread_rwlock_t lock;
	struct alloc *v;
	size_t n, cap;
	uint64_t lo, hi, cursor;
	uint64_t total, used;               /* all devices */
	uint64_t dev_used[SIM_MAX_DEVS];    /* each of sim_cfg.total_mem */
	struct resv *r;     /* reservations, sorted by base, in [hi, vhi) */
	size_t nr, rcap;
	uint64_t vhi;
};

extern struct sim_heap sim_heap;
#define H sim_heap /* the one heap, under its short name in both files */

uint64_t sim_heap_align(uint64_t x);          /* up to SIM_ALIGN */
size_t sim_heap_lower(uint64_t x);            /* first index with base >= x */
/* A free aligned range of len bytes at or after from, below hi: its
 * address and the table index it goes to. */
bool sim_heap_gap(uint64_t from, uint64_t len, uint64_t *at, size_t *idx);
int sim_heap_insert(size_t i, const struct alloc *a); /* -1: no memory */
void sim_heap_host_free(uint8_t *p, size_t size);
void sim_heap_release(const struct alloc *a); /* its host memory */

#endif
