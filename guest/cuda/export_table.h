/* guest/cuda/export_table.h - the driver's private tables (cuGetExportTable).
 *
 * Contract: each table the CUDA runtime and libraries require is an array
 * of 8-byte slots in its own file guest/cuda/export_TABLE.c, registered in
 * export_table.c by GUID. Slot 0 holds the table's size in bytes where the
 * real driver puts one there (all but context-local storage); the size and
 * slot count match the real driver's (measured on driver 580.159.04,
 * reference/cuda13-driver-surface.md). Entries whose meaning is public are
 * implemented; every other slot holds a stub that logs
 * "vgpu: export table NAME entry N is not implemented" once and returns
 * CUDA_ERROR_NOT_SUPPORTED (an entry's arguments are unknown there, and the
 * x86-64 calling convention lets a function that takes none ignore them).
 * Tables we do not provide are refused with CUDA_ERROR_INVALID_VALUE, which
 * is what callers tolerate (measured: cudart, PyTorch); a table a caller
 * uses without checking the answer (1734dc26, cuBLASLt) is provided, its
 * entries stubs where the caller handles their failure.
 */
#ifndef VGPU_GUEST_CUDA_EXPORT_TABLE_H
#define VGPU_GUEST_CUDA_EXPORT_TABLE_H

#include <cuda.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*vgpu_slot)(void);

struct vgpu_export_table {
	const char *name;
	uint8_t guid[16];       /* CUuuid bytes in memory order */
	const vgpu_slot *slots; /* what cuGetExportTable hands out */
	size_t nslots;
};

/* The tables, one per file. */
extern const struct vgpu_export_table vgpu_export_cudart,
	vgpu_export_tools_hooks, vgpu_export_tools_tls, vgpu_export_cls,
	vgpu_export_ctx_checks, vgpu_export_integrity, vgpu_export_cublas,
	vgpu_export_cublaslt, vgpu_export_nvrtc_cache;

/* The table for guid, or NULL. */
const struct vgpu_export_table *vgpu_export_find(const uint8_t guid[16]);

/* Log once that entry `slot` of table `name` was called; NOT_SUPPORTED. */
int vgpu_export_unknown(const char *name, int slot);

/* Slot 0: the table's size in bytes. */
#define VGPU_SLOT_SIZE(n) ((vgpu_slot)(uintptr_t)((n) * sizeof(vgpu_slot)))
#define VGPU_SLOT(fn) ((vgpu_slot)(fn))

/* A stub for entry i of table tab (name: its printed name). */
#define VGPU_EXPORT_STUB(tab, name, i)                                        \
	static int tab##_stub_##i(void)                                       \
	{                                                                     \
		return vgpu_export_unknown(name, i);                          \
	}

/* The primary context's handle without retaining it (guest/cuda/ctx.c). */
CUresult vgpu_cu_primary_ctx(CUcontext *pctx);
/* Context-local storage: run and drop ctx's destructors (the context is
 * going away: last release of the primary context, or a reset). */
void vgpu_cls_destroy(CUcontext ctx);

#endif
