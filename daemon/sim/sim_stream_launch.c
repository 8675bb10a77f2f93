/* daemon/sim/sim_stream_launch.c - cuLaunchKernelEx with attributes, and the
 * sim's occupancy model.
 *
 * Contract: cuLaunchKernelEx checks its configuration and attributes and
 * then launches as cuLaunchKernel does (the sim runs every launch the
 * same way: attributes change scheduling on a GPU, not results).
 * Attributes: IGNORE; COOPERATIVE (a grid larger than the blocks that fit
 * on the device at once is CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE);
 * CLUSTER_DIMENSION (each grid dimension a multiple of the cluster's, at
 * most 8 blocks per cluster: else CUDA_ERROR_INVALID_CLUSTER_SIZE); the
 * scheduling hints (priority, synchronisation policy, cluster scheduling
 * preference, programmatic serialisation, memory sync domains, preferred
 * cluster dimension and carveout, NVLink scheduling) accepted; attributes
 * naming host or device objects (access policy window, programmatic and
 * completion events, graph-only ones) CUDA_ERROR_NOT_SUPPORTED; unknown
 * ids CUDA_ERROR_INVALID_VALUE.
 *
 * Occupancy (sim_occupancy): an H100-like SM, documented and plausible
 * rather than exact: per SM 2048 threads, 32 blocks, 65536 registers
 * (allocated per warp, 256-register granules, so per thread rounded up to
 * 8), 228 KiB shared memory of which each block also takes 1 KiB
 * reserved; blocks per SM is the least of the four limits.
 */
#include "sim.h"

#define SM_THREADS 2048
#define SM_BLOCKS 32
#define SM_REGS 65536
#define SM_SHARED (228 * 1024)
#define BLOCK_RESERVED_SHARED 1024
#define MAX_PORTABLE_CLUSTER 8

int sim_occupancy(const struct sim_func *f, int block, size_t dyn_shared)
{
	if (block <= 0 || block > SIM_MAX_THREADS)
		return 0;
	int warps = (block + 31) / 32;
	int regs = ((f->d.nregs ? f->d.nregs : 32) + 7) / 8 * 8;
	int n = SM_THREADS / (warps * 32);
	if (n > SM_BLOCKS)
		n = SM_BLOCKS;
	int by_regs = SM_REGS / (regs * 32 * warps);
	if (by_regs < n)
		n = by_regs;
	uint64_t smem = (uint64_t)f->d.shared + dyn_shared +
			BLOCK_RESERVED_SHARED;
	uint64_t by_smem = SM_SHARED / smem;
	if (by_smem < (uint64_t)n)
		n = (int)by_smem;
	return n;
}

int sim_sm_count(void)
{
	int n = 0;
	sim_cuDeviceGetAttribute(&n, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
				 0);
	return n;
}

static CUresult check_cluster(const CUlaunchConfig *c, const unsigned d[3])
{
	if (!d[0] || !d[1] || !d[2])
		return CUDA_ERROR_INVALID_CLUSTER_SIZE;
	if (c->gridDimX % d[0] || c->gridDimY % d[1] || c->gridDimZ % d[2])
		return CUDA_ERROR_INVALID_CLUSTER_SIZE;
	if ((uint64_t)d[0] * d[1] * d[2] > MAX_PORTABLE_CLUSTER)
		return CUDA_ERROR_INVALID_CLUSTER_SIZE;
	return CUDA_SUCCESS;
}

static CUresult check_cooperative(const CUlaunchConfig *c, CUfunction hf)
{
	struct sim_func *f = (struct sim_func *)sim_obj_get(hf, SIM_FUNC);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	uint64_t block = (uint64_t)c->blockDimX * c->blockDimY * c->blockDimZ;
	uint64_t grid = (uint64_t)c->gridDimX * c->gridDimY * c->gridDimZ;
	int per_sm = block <= SIM_MAX_THREADS
			     ? sim_occupancy(f, (int)block, c->sharedMemBytes)
			     : 0;
	sim_obj_put(&f->obj);
	/* a block that fits nowhere is the ordinary launch check's error */
	if (per_sm && grid > (uint64_t)per_sm * (uint64_t)sim_sm_count())
		return CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE;
	return CUDA_SUCCESS;
}

static CUresult check_attr(const CUlaunchConfig *c, CUfunction f,
			   const CUlaunchAttribute *a)
{
	switch (a->id) {
	case CU_LAUNCH_ATTRIBUTE_IGNORE:
	case CU_LAUNCH_ATTRIBUTE_PRIORITY:
	case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
	case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
	case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
	case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
	case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
	case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
	case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
	case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING:
		return CUDA_SUCCESS;
	case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
		return a->value.cooperative ? check_cooperative(c, f)
					    : CUDA_SUCCESS;
	case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION: {
		unsigned d[3] = {a->value.clusterDim.x, a->value.clusterDim.y,
				 a->value.clusterDim.z};
		return check_cluster(c, d);
	}
	case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
	case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT:
	case CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT:
	case CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE:
		return CUDA_ERROR_NOT_SUPPORTED;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

CUresult sim_cuLaunchKernelEx(const CUlaunchConfig *c, CUfunction f,
			      void **kernelParams, void **extra)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!c || (c->numAttrs && !c->attrs))
		return CUDA_ERROR_INVALID_VALUE;
	for (unsigned i = 0; i < c->numAttrs; i++)
		if ((rc = check_attr(c, f, &c->attrs[i])))
			return rc;
	return sim_cuLaunchKernel(f, c->gridDimX, c->gridDimY, c->gridDimZ,
				  c->blockDimX, c->blockDimY, c->blockDimZ,
				  c->sharedMemBytes, c->hStream, kernelParams,
				  extra);
}
