/* guest/cuda/errors_table.h - every CUresult the toolkit's cuda.h defines.
 *
 * Contract: tools/gen_errors.py writes build/gen/errors_table.c from
 * $(CUDA_HOME)/include/cuda.h at build time: one entry per CUDA_* value of
 * the CUresult enum, sorted by code, with the enumerator's name and the
 * first sentence of its documentation comment. The table is not kept in
 * the repository because its text is NVIDIA's.
 */
#ifndef VGPU_GUEST_CUDA_ERRORS_TABLE_H
#define VGPU_GUEST_CUDA_ERRORS_TABLE_H

#include <stddef.h>

struct vgpu_cu_error {
	int code;
	const char *name;   /* "CUDA_ERROR_INVALID_VALUE" */
	const char *text;   /* one sentence */
};

extern const struct vgpu_cu_error vgpu_cu_errors[];
extern const size_t vgpu_cu_errors_len;

#endif
