/* guest/cuda/procaddr_table.h - the table cuGetProcAddress searches.
 *
 * Contract: tools/gen_procaddr.py writes build/gen/procaddr_table.c from
 * the toolkit's typedef headers: one row per ABI of each driver function
 * (per_thread 0) and per per-thread-default-stream variant (per_thread 1),
 * sorted by name (strcmp), then per_thread, then version. `version` is the
 * CUDA version from which the row's symbol is the one to return; `fn` is
 * our own definition of that exported symbol. No CUDA header here: the
 * generated file declares the symbols without their prototypes.
 */
#ifndef VGPU_GUEST_CUDA_PROCADDR_TABLE_H
#define VGPU_GUEST_CUDA_PROCADDR_TABLE_H

#include <stddef.h>

struct vgpu_proc_entry {
	const char *name;  /* base name, as callers ask: "cuMemAlloc" */
	int version;       /* 3020: cuMemAlloc_v2 from CUDA 3.2 on */
	int per_thread;    /* 1: a _ptds/_ptsz variant */
	void (*fn)(void);  /* cuMemAlloc_v2 */
};

extern const struct vgpu_proc_entry vgpu_proc_table[];
extern const size_t vgpu_proc_table_len;

#endif
