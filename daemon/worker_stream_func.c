/* daemon/worker_stream_func.c - function settings, names and occupancy
 * (VGPU_CU_FUNC_CTL).
 *
 * Contract: the function id must be the caller's (INVALID_HANDLE); the
 * attribute, cache configuration, block sizes and flags go to the driver,
 * whose error for a bad one is the native answer, after a check that each
 * fits the C type the driver takes (INVALID_VALUE otherwise, never a
 * truncated value). A name is answered as a NUL-terminated string of at
 * most VGPU_CU_NAME_MAX bytes. Occupancy of clusters is asked with a
 * configuration the worker builds: the given block and shared memory, the
 * grid one cluster, and only the cluster-dimension attribute (none if the
 * caller gave none: the function's required dimensions then apply).
 */
#include "worker_stream.h"
#include "../ring/cuda_proto_stream.h"
#include <string.h>

static bool is_int(uint64_t v)
{
	return (int64_t)v >= INT32_MIN && (int64_t)v <= INT32_MAX;
}

static CUresult clusters(struct vworker *W, CUfunction f,
			 const struct vgpu_cu_args *in, int *n)
{
	for (int i = 2; i <= 5; i++)
		if (in->a[i] > UINT32_MAX)
			return CUDA_ERROR_INVALID_VALUE;
	if (in->a[7] > UINT32_MAX)
		return CUDA_ERROR_INVALID_VALUE;
	CUlaunchAttribute at;
	memset(&at, 0, sizeof(at));
	at.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
	at.value.clusterDim.x = (unsigned)in->a[6];
	at.value.clusterDim.y = (unsigned)(in->a[6] >> 32);
	at.value.clusterDim.z = (unsigned)in->a[7];
	/* no dimensions: the function's required ones, as the caller's
	 * configuration without the attribute asks */
	unsigned n_at = in->a[6] || in->a[7] ? 1 : 0;
	CUlaunchConfig c = {n_at ? at.value.clusterDim.x : 1,
			    n_at ? at.value.clusterDim.y : 1,
			    n_at ? at.value.clusterDim.z : 1,
			    (unsigned)in->a[2], (unsigned)in->a[3],
			    (unsigned)in->a[4], (unsigned)in->a[5], NULL,
			    n_at ? &at : NULL, n_at};
	return W->drv.cuOccupancyMaxActiveClusters(n, f, &c);
}

CUresult vw_func_ctl(struct vworker *W, const struct vgpu_cu_args *in,
		     struct vgpu_cu_args *out)
{
	CUfunction f;
	struct vgpu_cu_fninfo fi;
	CUresult r = vw_function(W, in->a[1], &f, &fi);
	int v = 0;
	size_t z = 0;
	if (r)
		return r;
	switch (in->a[0]) {
	case VGPU_FCTL_SET_ATTRIBUTE:
		if (in->a[2] > INT32_MAX || !is_int(in->a[3]))
			return CUDA_ERROR_INVALID_VALUE;
		return W->drv.cuFuncSetAttribute(
			f, (CUfunction_attribute)in->a[2], (int)in->a[3]);
	case VGPU_FCTL_SET_CACHE_CONFIG:
		if (in->a[2] > INT32_MAX)
			return CUDA_ERROR_INVALID_VALUE;
		return W->drv.cuFuncSetCacheConfig(f, (CUfunc_cache)in->a[2]);
	case VGPU_FCTL_GET_ATTRIBUTE:
		if (in->a[2] > INT32_MAX)
			return CUDA_ERROR_INVALID_VALUE;
		r = W->drv.cuFuncGetAttribute(&v, (CUfunction_attribute)in->a[2],
					      f);
		out->a[0] = (uint64_t)(int64_t)v;
		return r;
	case VGPU_FCTL_OCC_BLOCKS:
		if (!is_int(in->a[2]) || in->a[4] > UINT32_MAX)
			return CUDA_ERROR_INVALID_VALUE;
		r = W->drv.cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
			&v, f, (int)in->a[2], (size_t)in->a[3],
			(unsigned)in->a[4]);
		out->a[0] = (uint64_t)(int64_t)v;
		return r;
	case VGPU_FCTL_OCC_DYN_SMEM:
		if (!is_int(in->a[2]) || !is_int(in->a[3]))
			return CUDA_ERROR_INVALID_VALUE;
		r = W->drv.cuOccupancyAvailableDynamicSMemPerBlock(
			&z, f, (int)in->a[2], (int)in->a[3]);
		out->a[0] = z;
		return r;
	case VGPU_FCTL_OCC_CLUSTERS:
		r = clusters(W, f, in, &v);
		out->a[0] = (uint64_t)(int64_t)v;
		return r;
	case VGPU_FCTL_IS_LOADED: {
		CUfunctionLoadingState st = CU_FUNCTION_LOADING_STATE_UNLOADED;
		r = W->drv.cuFuncIsLoaded(&st, f);
		out->a[0] = (uint64_t)st;
		return r;
	}
	case VGPU_FCTL_LOAD:
		return W->drv.cuFuncLoad(f);
	case VGPU_FCTL_OCC_CLUSTER_SIZE: {
		for (int i = 2; i <= 5; i++)
			if (in->a[i] > UINT32_MAX)
				return CUDA_ERROR_INVALID_VALUE;
		CUlaunchConfig c = {1, 1, 1, (unsigned)in->a[2],
				    (unsigned)in->a[3], (unsigned)in->a[4],
				    (unsigned)in->a[5], NULL, NULL, 0};
		r = W->drv.cuOccupancyMaxPotentialClusterSize(&v, f, &c);
		out->a[0] = (uint64_t)(int64_t)v;
		return r;
	}
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

/* VGPU_FCTL_GET_NAME: the reply's payload is the name. */
void vw_func_name(struct vworker *W, const struct vgpu_msg *m)
{
	struct vgpu_cu_args in;
	CUfunction f;
	struct vgpu_cu_fninfo fi;
	const char *name = NULL;
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (m->len == sizeof(in)) {
		memcpy(&in, m->data, sizeof(in));
		r = vw_function(W, in.a[1], &f, &fi);
	}
	if (!r)
		r = W->drv.cuFuncGetName(&name, f);
	size_t n = !r && name ? strnlen(name, VGPU_CU_NAME_MAX - 1) : 0;
	char buf[VGPU_CU_NAME_MAX];
	memcpy(buf, name ? name : "", n);
	buf[n] = 0;
	vw_reply(W, m, r, buf, r ? 0 : (uint32_t)n + 1, 0);
}
