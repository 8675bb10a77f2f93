/* daemon/sim/sim_stream_func.c - function settings and occupancy queries.
 *
 * Contract: cuFuncSetAttribute sets the attributes the driver lets a
 * program set, within the driver's bounds (CUDA_ERROR_INVALID_VALUE
 * otherwise, and for read-only attributes): the dynamic shared memory
 * opt-in (up to the device's opt-in maximum less static shared memory;
 * launches honour it), the carveout (-1 or 0..100 percent), required
 * cluster dimensions (>= 0), non-portable cluster sizes (0/1), the cluster
 * scheduling preference (0..2). cuFuncSetCacheConfig takes the four
 * CUfunc_cache values. cuFuncGetName gives the kernel's name, valid while
 * the function is; functions are always loaded (cuFuncIsLoaded, cuFuncLoad).
 * Occupancy answers come from sim_occupancy's model
 * (sim_stream_launch.c); a block size the function cannot run, or more
 * dynamic shared memory than it may use, fits 0 blocks. Clusters: the
 * device as 8 GPCs of 16 SMs (an H100's 132 SMs, rounded down to whole
 * GPCs), a cluster never spanning two: clusters = 8 * floor(16 *
 * blocks-per-SM / cluster size).
 */
#include "sim.h"

#define GPCS 8
#define SMS_PER_GPC 16
#define OPTIN_SHARED 232448 /* MAX_SHARED_MEMORY_PER_BLOCK_OPTIN */

int sim_func_max_dyn_shared(const struct sim_func *f)
{
	const int a = CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;
	return f->is_set[a] ? f->set[a] : SIM_SHARED_PER_BLOCK - (int)f->d.shared;
}

static struct sim_func *func(CUfunction h, CUresult *rc)
{
	*rc = sim_enter_handle();
	if (*rc)
		return NULL;
	struct sim_func *f = (struct sim_func *)sim_obj_get(h, SIM_FUNC);
	if (!f)
		*rc = CUDA_ERROR_INVALID_HANDLE;
	return f;
}

static bool settable(const struct sim_func *f, CUfunction_attribute a, int v)
{
	switch (a) {
	case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
		return v >= 0 && v <= OPTIN_SHARED - (int)f->d.shared;
	case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
		return v >= -1 && v <= 100;
	case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
	case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
	case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
		return v >= 0;
	case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
		return v == 0 || v == 1;
	case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
		return v >= 0 && v <= 2;
	default: /* read-only */
		return false;
	}
}

CUresult sim_cuFuncSetAttribute(CUfunction h, CUfunction_attribute a, int v)
{
	CUresult rc;
	struct sim_func *f = func(h, &rc);
	if (!f)
		return rc;
	if ((unsigned)a >= CU_FUNC_ATTRIBUTE_MAX || !settable(f, a, v)) {
		rc = CUDA_ERROR_INVALID_VALUE;
	} else {
		f->set[a] = v;
		f->is_set[a] = true;
	}
	sim_obj_put(&f->obj);
	return rc;
}

CUresult sim_cuFuncSetCacheConfig(CUfunction h, CUfunc_cache config)
{
	CUresult rc;
	struct sim_func *f = func(h, &rc);
	if (!f)
		return rc;
	if ((unsigned)config > CU_FUNC_CACHE_PREFER_EQUAL)
		rc = CUDA_ERROR_INVALID_VALUE;
	sim_obj_put(&f->obj); /* the sim has no L1 to configure */
	return rc;
}

CUresult sim_cuFuncGetName(const char **name, CUfunction h)
{
	CUresult rc;
	if (!name)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_func *f = func(h, &rc);
	if (!f)
		return rc;
	*name = f->d.name; /* lives as long as the function */
	sim_obj_put(&f->obj);
	return CUDA_SUCCESS;
}

/* Blocks per SM, 0 where the block cannot run at all. */
static int blocks_per_sm(const struct sim_func *f, int block, size_t dyn)
{
	if (dyn > (size_t)sim_func_max_dyn_shared(f))
		return 0;
	return sim_occupancy(f, block, dyn);
}

CUresult sim_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
	int *n, CUfunction h, int block, size_t dyn, unsigned int flags)
{
	CUresult rc;
	if (!n || flags > CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_func *f = func(h, &rc);
	if (!f)
		return rc;
	*n = blocks_per_sm(f, block, dyn);
	sim_obj_put(&f->obj);
	return CUDA_SUCCESS;
}

CUresult sim_cuOccupancyAvailableDynamicSMemPerBlock(size_t *dyn,
						     CUfunction h, int blocks,
						     int block)
{
	CUresult rc;
	if (!dyn || blocks <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_func *f = func(h, &rc);
	if (!f)
		return rc;
	*dyn = 0;
	/* blocks must fit by threads and registers with no shared memory */
	if (sim_occupancy(f, block, 0) >= blocks) {
		/* as the real driver: the per-block reservation that
		 * sim_occupancy() counts is not taken off here */
		int64_t per = 228 * 1024 / blocks - (int64_t)f->d.shared;
		int64_t max = sim_func_max_dyn_shared(f);
		*dyn = per < 0 ? 0 : (size_t)(per < max ? per : max);
	}
	sim_obj_put(&f->obj);
	return CUDA_SUCCESS;
}

CUresult sim_cuOccupancyMaxActiveClusters(int *n, CUfunction h,
					  const CUlaunchConfig *c)
{
	CUresult rc;
	if (!n || !c || (c->numAttrs && !c->attrs))
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_func *f = func(h, &rc);
	if (!f)
		return rc;
	uint64_t size = 0;
	for (unsigned i = 0; i < c->numAttrs; i++)
		if (c->attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION)
			size = (uint64_t)c->attrs[i].value.clusterDim.x *
			       c->attrs[i].value.clusterDim.y *
			       c->attrs[i].value.clusterDim.z;
	uint64_t block = (uint64_t)c->blockDimX * c->blockDimY * c->blockDimZ;
	bool wide = f->set[CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED];
	if (!size || size > (wide ? 16u : 8u))
		rc = CUDA_ERROR_INVALID_CLUSTER_SIZE;
	else if (block > SIM_MAX_THREADS)
		rc = CUDA_ERROR_INVALID_VALUE;
	else
		*n = GPCS * (int)((uint64_t)SMS_PER_GPC *
				  (uint64_t)blocks_per_sm(f, (int)block,
							  c->sharedMemBytes) /
				  size);
	sim_obj_put(&f->obj);
	return rc;
}

/* Functions are loaded with their module: always LOADED. */
CUresult sim_cuFuncIsLoaded(CUfunctionLoadingState *state, CUfunction h)
{
	CUresult rc;
	if (!state)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_func *f = func(h, &rc);
	if (!f)
		return rc;
	*state = CU_FUNCTION_LOADING_STATE_LOADED;
	sim_obj_put(&f->obj);
	return CUDA_SUCCESS;
}

CUresult sim_cuFuncLoad(CUfunction h)
{
	CUresult rc;
	struct sim_func *f = func(h, &rc);
	if (f)
		sim_obj_put(&f->obj);
	return rc;
}

/* The largest cluster of which one fits a GPC: 8 blocks (16 with
 * non-portable sizes allowed), fewer if a GPC holds fewer blocks. */
CUresult sim_cuOccupancyMaxPotentialClusterSize(int *size, CUfunction h,
						const CUlaunchConfig *c)
{
	CUresult rc;
	if (!size || !c)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_func *f = func(h, &rc);
	if (!f)
		return rc;
	uint64_t block = (uint64_t)c->blockDimX * c->blockDimY * c->blockDimZ;
	if (block > SIM_MAX_THREADS) {
		sim_obj_put(&f->obj);
		return CUDA_ERROR_INVALID_VALUE;
	}
	int max = f->set[CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED]
			  ? 16 : 8;
	int fit = SMS_PER_GPC * blocks_per_sm(f, (int)block, c->sharedMemBytes);
	*size = fit < max ? fit : max;
	sim_obj_put(&f->obj);
	return CUDA_SUCCESS;
}
