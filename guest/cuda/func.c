/* guest/cuda/func.c - function settings, names, uncached attributes, and
 * occupancy.
 *
 * Contract: every call checks the function record (INVALID_HANDLE for one
 * not of this process) and asks the worker (VGPU_CU_FUNC_CTL), whose
 * driver answers. A dynamic shared memory opt-in that the driver accepted
 * is remembered in the record, so launches are checked against it at once.
 * A name is fetched once and kept for the function's life.
 * cuOccupancyMaxPotentialBlockSize(WithFlags) runs here, because its
 * dynamic-shared-memory callback is a guest function: block sizes from the
 * limit down in steps of the warp size, each asked of the driver with the
 * callback's (or the fixed) shared memory; the first size with the most
 * resident threads wins, stopping early at a full SM; the minimum grid is
 * that size's blocks per SM times the SM count.
 */
#include "function.h"
#include "../../ring/cuda_proto_stream.h"
#include <stdlib.h>
#include <string.h>

static CUresult fctl(const struct vgpu_fn **out, CUfunction fn,
		     struct vgpu_cu_args *a, const char *name)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	const struct vgpu_fn *f = vgpu_fn_of(fn);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (out)
		*out = f;
	a->a[1] = f->info.function;
	return vgpu_cu_rpc(VGPU_CU_FUNC_CTL, a, true, name);
}

CUresult vgpu_func_attr_remote(int *pi, CUfunction_attribute at,
			       const struct vgpu_fn *f)
{
	struct vgpu_cu_args a = {{VGPU_FCTL_GET_ATTRIBUTE, 0, (uint32_t)at}};
	CUresult r = fctl(NULL, (CUfunction)f, &a, "cuFuncGetAttribute");
	if (!r)
		*pi = (int)(int64_t)a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuFuncSetAttribute(CUfunction fn,
					CUfunction_attribute at, int value)
{
	const struct vgpu_fn *f = NULL;
	struct vgpu_cu_args a = {{VGPU_FCTL_SET_ATTRIBUTE, 0, (uint32_t)at,
				  (uint64_t)(int64_t)value}};
	CUresult r = fctl(&f, fn, &a, "cuFuncSetAttribute");
	if (!r && at == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)
		atomic_store(&((struct vgpu_fn *)f)->max_dyn_shared_set,
			     value + 1);
	return r;
}

VGPU_EXPORT CUresult cuFuncSetCacheConfig(CUfunction fn, CUfunc_cache config)
{
	struct vgpu_cu_args a = {{VGPU_FCTL_SET_CACHE_CONFIG, 0,
				  (uint32_t)config}};
	return fctl(NULL, fn, &a, "cuFuncSetCacheConfig");
}

VGPU_EXPORT CUresult cuFuncGetName(const char **name, CUfunction fn)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	struct vgpu_fn *f = (struct vgpu_fn *)vgpu_fn_of(fn);
	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	char *have = atomic_load(&f->name);
	if (!have) {
		struct vgpu_cu_args a = {{VGPU_FCTL_GET_NAME, f->info.function}};
		char buf[VGPU_CU_NAME_MAX] = "";
		r = vgpu_cu_call(VGPU_CU_FUNC_CTL, &a, sizeof(a), buf,
				 sizeof(buf) - 1, true, "cuFuncGetName");
		if (r)
			return r;
		char *mine = strdup(buf), *none = NULL;
		if (!mine)
			return CUDA_ERROR_OUT_OF_MEMORY;
		if (!atomic_compare_exchange_strong(&f->name, &none, mine))
			free(mine); /* another thread's copy won */
		have = atomic_load(&f->name);
	}
	*name = have;
	return CUDA_SUCCESS;
}

/* ---- occupancy ----------------------------------------------------------- */

static CUresult blocks_per_sm(int *n, CUfunction fn, int block, size_t dyn,
			      unsigned flags)
{
	struct vgpu_cu_args a = {{VGPU_FCTL_OCC_BLOCKS, 0,
				  (uint64_t)(int64_t)block, dyn, flags}};
	CUresult r = fctl(NULL, fn, &a, "cuOccupancyMaxActiveBlocksPerMultiprocessor");
	if (!r)
		*n = (int)(int64_t)a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
	int *n, CUfunction fn, int block, size_t dyn, unsigned int flags)
{
	if (!n) {
		CUresult r = vgpu_cu_ready();
		return r ? r : CUDA_ERROR_INVALID_VALUE;
	}
	return blocks_per_sm(n, fn, block, dyn, flags);
}

VGPU_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(
	int *n, CUfunction fn, int block, size_t dyn)
{
	return cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(n, fn, block,
								    dyn, 0);
}

VGPU_EXPORT CUresult cuOccupancyAvailableDynamicSMemPerBlock(
	size_t *dyn, CUfunction fn, int blocks, int block)
{
	struct vgpu_cu_args a = {{VGPU_FCTL_OCC_DYN_SMEM, 0,
				  (uint64_t)(int64_t)blocks,
				  (uint64_t)(int64_t)block}};
	if (!dyn) {
		CUresult r = vgpu_cu_ready();
		return r ? r : CUDA_ERROR_INVALID_VALUE;
	}
	CUresult r = fctl(NULL, fn, &a, "cuOccupancyAvailableDynamicSMemPerBlock");
	if (!r)
		*dyn = (size_t)a.a[0];
	return r;
}

static int dev_attr(CUdevice_attribute a)
{
	return (unsigned)a < vgpu_cu.info.nattrs ? vgpu_cu.info.attrs[a] : 0;
}

static CUresult potential(int *min_grid, int *block_size, CUfunction fn,
			  CUoccupancyB2DSize cb, size_t dyn, int limit,
			  unsigned flags)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	const struct vgpu_fn *f = vgpu_fn_of(fn);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!min_grid || !block_size)
		return CUDA_ERROR_INVALID_VALUE;
	int max = f->info.max_threads_per_block;
	int dev_max = dev_attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
	if (max <= 0 || max > dev_max)
		max = dev_max;
	if (limit > 0 && limit < max)
		max = limit;
	int warp = dev_attr(CU_DEVICE_ATTRIBUTE_WARP_SIZE);
	int sm_threads = dev_attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR);
	if (warp <= 0)
		warp = 32;
	int best = 0, best_size = 0, best_blocks = 0;
	/* the limit first (it may not be a multiple of the warp size) */
	for (int bs = max; bs > 0; bs = (bs - 1) / warp * warp) {
		int n = 0;
		size_t d = cb ? cb(bs) : dyn;
		if ((r = blocks_per_sm(&n, fn, bs, d, flags)))
			return r;
		if (n * bs > best) {
			best = n * bs;
			best_size = bs;
			best_blocks = n;
		}
		if (best >= sm_threads)
			break;
	}
	*block_size = best_size;
	*min_grid = best_blocks * dev_attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
	return CUDA_SUCCESS;
}

VGPU_EXPORT CUresult cuOccupancyMaxPotentialBlockSize(
	int *min_grid, int *block_size, CUfunction fn, CUoccupancyB2DSize cb,
	size_t dyn, int limit)
{
	return potential(min_grid, block_size, fn, cb, dyn, limit, 0);
}

VGPU_EXPORT CUresult cuOccupancyMaxPotentialBlockSizeWithFlags(
	int *min_grid, int *block_size, CUfunction fn, CUoccupancyB2DSize cb,
	size_t dyn, int limit, unsigned int flags)
{
	return potential(min_grid, block_size, fn, cb, dyn, limit, flags);
}

VGPU_EXPORT CUresult cuOccupancyMaxActiveClusters(int *n, CUfunction fn,
						  const CUlaunchConfig *c)
{
	if (!n || !c || (c->numAttrs && !c->attrs)) {
		CUresult r = vgpu_cu_ready();
		return r ? r : CUDA_ERROR_INVALID_VALUE;
	}
	struct vgpu_cu_args a = {{VGPU_FCTL_OCC_CLUSTERS, 0, c->blockDimX,
				  c->blockDimY, c->blockDimZ,
				  c->sharedMemBytes}};
	for (unsigned i = 0; i < c->numAttrs; i++)
		if (c->attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION) {
			a.a[6] = c->attrs[i].value.clusterDim.x |
				 (uint64_t)c->attrs[i].value.clusterDim.y << 32;
			a.a[7] = c->attrs[i].value.clusterDim.z;
		}
	CUresult r = fctl(NULL, fn, &a, "cuOccupancyMaxActiveClusters");
	if (!r)
		*n = (int)(int64_t)a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuFuncIsLoaded(CUfunctionLoadingState *state,
				    CUfunction fn)
{
	struct vgpu_cu_args a = {{VGPU_FCTL_IS_LOADED}};
	if (!state) {
		CUresult r = vgpu_cu_ready();
		return r ? r : CUDA_ERROR_INVALID_VALUE;
	}
	CUresult r = fctl(NULL, fn, &a, "cuFuncIsLoaded");
	if (!r)
		*state = (CUfunctionLoadingState)a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuFuncLoad(CUfunction fn)
{
	struct vgpu_cu_args a = {{VGPU_FCTL_LOAD}};
	return fctl(NULL, fn, &a, "cuFuncLoad");
}

VGPU_EXPORT CUresult cuOccupancyMaxPotentialClusterSize(
	int *size, CUfunction fn, const CUlaunchConfig *c)
{
	if (!size || !c) {
		CUresult r = vgpu_cu_ready();
		return r ? r : CUDA_ERROR_INVALID_VALUE;
	}
	struct vgpu_cu_args a = {{VGPU_FCTL_OCC_CLUSTER_SIZE, 0, c->blockDimX,
				  c->blockDimY, c->blockDimZ,
				  c->sharedMemBytes}};
	CUresult r = fctl(NULL, fn, &a, "cuOccupancyMaxPotentialClusterSize");
	if (!r)
		*size = (int)(int64_t)a.a[0];
	return r;
}
