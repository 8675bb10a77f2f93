/* daemon/sim/sim_stream_ctx.c - stream priorities and properties, event
 * record flags, and the context's limits, cache preference and flags.
 *
 * Contract: priorities range from SIM_PRIO_LEAST (0) to SIM_PRIO_GREATEST
 * (-5), an H100's range; a priority outside it is clamped, as natively.
 * The default streams have priority 0 and flags 0; a stream's id is its
 * creation number (unique in the process). Limits: the values a fresh
 * context of an H100 reports, settable where the driver allows (stack,
 * printf FIFO, malloc heap, device-runtime depth and launch count, L2 fetch
 * granularity 0..128, persisting L2 up to the device maximum); SHMEM_SIZE
 * and the CIG limits are query-only (CUDA_ERROR_UNSUPPORTED_LIMIT to set),
 * anything beyond CU_LIMIT_MAX is CUDA_ERROR_UNSUPPORTED_LIMIT. The cache
 * preference is remembered (the sim has no L1 to configure). The primary
 * context's flags are 0 (CU_CTX_SCHED_AUTO), its API version 3020 and
 * its id 1; resetting the persisting L2 lines does nothing (no cache).
 */
#include "sim.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static size_t limits[CU_LIMIT_MAX] = {
	[CU_LIMIT_STACK_SIZE] = 1024,
	[CU_LIMIT_PRINTF_FIFO_SIZE] = 1 << 20,
	[CU_LIMIT_MALLOC_HEAP_SIZE] = 8 << 20,
	[CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH] = 2,
	[CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT] = 2048,
	[CU_LIMIT_MAX_L2_FETCH_GRANULARITY] = 32,
	[CU_LIMIT_PERSISTING_L2_CACHE_SIZE] = 0,
	[CU_LIMIT_SHMEM_SIZE] = 0,
	[CU_LIMIT_CIG_ENABLED] = 0,
	[CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED] = 0,
};
static CUfunc_cache cache_config = CU_FUNC_CACHE_PREFER_NONE;

CUresult sim_cuStreamCreateWithPriority(CUstream *ph, unsigned int flags,
					int priority)
{
	CUresult rc = sim_cuStreamCreate(ph, flags);
	if (rc)
		return rc;
	struct sim_stream *s = (struct sim_stream *)*ph;
	s->priority = priority > SIM_PRIO_LEAST	     ? SIM_PRIO_LEAST
		      : priority < SIM_PRIO_GREATEST ? SIM_PRIO_GREATEST
						     : priority;
	return CUDA_SUCCESS;
}

CUresult sim_cuStreamGetPriority(CUstream h, int *priority)
{
	struct sim_stream *s;
	if (!priority)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult rc = sim_stream_resolve(h, &s);
	if (rc)
		return rc;
	*priority = s->priority;
	sim_stream_put(s);
	return CUDA_SUCCESS;
}

CUresult sim_cuStreamGetFlags(CUstream h, unsigned int *flags)
{
	struct sim_stream *s;
	if (!flags)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult rc = sim_stream_resolve(h, &s);
	if (rc)
		return rc;
	*flags = s->type == SIM_S_USER && !s->blocking
			 ? CU_STREAM_NON_BLOCKING
			 : CU_STREAM_DEFAULT;
	sim_stream_put(s);
	return CUDA_SUCCESS;
}

CUresult sim_cuStreamGetId(CUstream h, unsigned long long *id)
{
	struct sim_stream *s;
	if (!id)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult rc = sim_stream_resolve(h, &s);
	if (rc)
		return rc;
	*id = s->id;
	sim_stream_put(s);
	return CUDA_SUCCESS;
}

CUresult sim_cuEventRecordWithFlags(CUevent e, CUstream h, unsigned int flags)
{
	/* CU_EVENT_RECORD_EXTERNAL is for stream capture only */
	if (flags & ~(unsigned)CU_EVENT_RECORD_EXTERNAL) {
		CUresult rc = sim_check_init();
		return rc ? rc : CUDA_ERROR_INVALID_VALUE;
	}
	return sim_cuEventRecord(e, h);
}

CUresult sim_cuCtxGetStreamPriorityRange(int *least, int *greatest)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (least)
		*least = SIM_PRIO_LEAST;
	if (greatest)
		*greatest = SIM_PRIO_GREATEST;
	return CUDA_SUCCESS;
}

CUresult sim_cuCtxGetLimit(size_t *value, CUlimit limit)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	if ((unsigned)limit >= CU_LIMIT_MAX)
		return CUDA_ERROR_UNSUPPORTED_LIMIT;
	pthread_mutex_lock(&mu);
	*value = limits[limit];
	pthread_mutex_unlock(&mu);
	return CUDA_SUCCESS;
}

CUresult sim_cuCtxSetLimit(CUlimit limit, size_t value)
{
	int max_persist = 0;
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	switch (limit) {
	case CU_LIMIT_STACK_SIZE:
	case CU_LIMIT_PRINTF_FIFO_SIZE:
	case CU_LIMIT_MALLOC_HEAP_SIZE:
	case CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH:
	case CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT:
	case CU_LIMIT_CIG_SHMEM_FALLBACK_ENABLED:
		break;
	case CU_LIMIT_MAX_L2_FETCH_GRANULARITY:
		if (value > 128)
			return CUDA_ERROR_INVALID_VALUE;
		break;
	case CU_LIMIT_PERSISTING_L2_CACHE_SIZE:
		sim_cuDeviceGetAttribute(
			&max_persist,
			CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE, 0);
		if (value > (size_t)max_persist)
			value = (size_t)max_persist;
		break;
	default:
		return CUDA_ERROR_UNSUPPORTED_LIMIT;
	}
	pthread_mutex_lock(&mu);
	limits[limit] = value;
	pthread_mutex_unlock(&mu);
	return CUDA_SUCCESS;
}

CUresult sim_cuCtxGetCacheConfig(CUfunc_cache *config)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!config)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&mu);
	*config = cache_config;
	pthread_mutex_unlock(&mu);
	return CUDA_SUCCESS;
}

CUresult sim_cuCtxSetCacheConfig(CUfunc_cache config)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if ((unsigned)config > CU_FUNC_CACHE_PREFER_EQUAL)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&mu);
	cache_config = config;
	pthread_mutex_unlock(&mu);
	return CUDA_SUCCESS;
}

CUresult sim_cuCtxGetFlags(unsigned int *flags)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!flags)
		return CUDA_ERROR_INVALID_VALUE;
	*flags = CU_CTX_SCHED_AUTO;
	return CUDA_SUCCESS;
}

CUresult sim_cuCtxGetApiVersion(CUcontext ctx, unsigned int *version)
{
	CUresult rc = ctx ? sim_check_init() : sim_enter();
	if (rc)
		return rc;
	if (ctx && !sim_ctx_valid(ctx))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!version)
		return CUDA_ERROR_INVALID_VALUE;
	*version = 3020;
	return CUDA_SUCCESS;
}

/* The driver numbers contexts from 1: the primary one first here. */
CUresult sim_cuCtxGetId(CUcontext ctx, unsigned long long *id)
{
	CUresult rc = ctx ? sim_check_init() : sim_enter();
	if (rc)
		return rc;
	if (ctx && !sim_ctx_valid(ctx))
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!id)
		return CUDA_ERROR_INVALID_VALUE;
	*id = sim_ctx_id(ctx ? (const void *)ctx : sim_ctx_tag());
	return CUDA_SUCCESS;
}

/* The sim has no L2 cache: nothing persists, nothing to reset. */
CUresult sim_cuCtxResetPersistingL2Cache(void)
{
	return sim_enter();
}
