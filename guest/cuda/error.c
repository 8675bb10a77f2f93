/* guest/cuda/error.c - cuGetErrorName and cuGetErrorString.
 *
 * Contract: both answer locally, without the daemon, for every CUresult in
 * the toolkit's cuda.h (build/gen/errors_table.c): *pStr gets the
 * enumerator's name or a one-sentence description, in static storage.
 * As the real driver does, an unknown code or a NULL pStr gives
 * CUDA_ERROR_INVALID_VALUE, with *pStr set to NULL where pStr is not NULL.
 */
#include "errors_table.h"
#include "export.h"
#include <cuda.h>
#include <stdlib.h>

static int by_code(const void *key, const void *elem)
{
	int a = *(const int *)key;
	int b = ((const struct vgpu_cu_error *)elem)->code;
	return (a > b) - (a < b);
}

static const struct vgpu_cu_error *find(CUresult error)
{
	int code = (int)error;
	return bsearch(&code, vgpu_cu_errors, vgpu_cu_errors_len,
		       sizeof(vgpu_cu_errors[0]), by_code);
}

VGPU_EXPORT CUresult cuGetErrorName(CUresult error, const char **pStr)
{
	if (!pStr)
		return CUDA_ERROR_INVALID_VALUE;
	const struct vgpu_cu_error *e = find(error);
	*pStr = e ? e->name : NULL;
	return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

VGPU_EXPORT CUresult cuGetErrorString(CUresult error, const char **pStr)
{
	if (!pStr)
		return CUDA_ERROR_INVALID_VALUE;
	const struct vgpu_cu_error *e = find(error);
	*pStr = e ? e->text : NULL;
	return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
