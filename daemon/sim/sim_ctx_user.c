/* daemon/sim/sim_ctx_user.c - non-primary contexts: cuCtxCreate_v2,
 * cuCtxDestroy_v2, cuCtxPopCurrent_v2.
 *
 * Contract: up to SIM_UCTX_MAX contexts besides the primary one live at
 * once (more: CUDA_ERROR_OUT_OF_MEMORY). They share the device with it
 * (its heap, its legacy stream, its sticky error); what sets them apart is
 * the tag every object and allocation gets from the context current when
 * it is made (sim_ctx_tag): destroying a context waits for the queued
 * work, then invalidates its objects and frees its memory. Flags are
 * checked as the driver does: only CU_CTX_FLAGS_MASK bits, at most one
 * scheduling policy. The per-thread context stack is one level deep above
 * cuCtxSetCurrent: create pushes (remembering the previous current), pop
 * returns to it; that is all the worker asks of it.
 */
#include "sim.h"

#define SIM_UCTX_MAX 16

static struct { bool live; int dev; } uctx[SIM_UCTX_MAX];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static __thread const void *below; /* current before the last create */

bool sim_ctx_user_valid(const void *c)
{
	const char *p = c, *b = (const char *)uctx;
	if (p < b || p >= b + sizeof(uctx) || (p - b) % sizeof(uctx[0]))
		return false;
	pthread_mutex_lock(&mu);
	bool ok = uctx[(p - b) / sizeof(uctx[0])].live;
	pthread_mutex_unlock(&mu);
	return ok;
}

int sim_ctx_user_dev(const void *c)
{
	const char *p = c, *b = (const char *)uctx;
	pthread_mutex_lock(&mu);
	int d = uctx[(p - b) / sizeof(uctx[0])].dev;
	pthread_mutex_unlock(&mu);
	return d;
}

unsigned long long sim_ctx_id(const void *c)
{
	const char *p = c, *b = (const char *)uctx;
	if (p > sim_pctx && p < sim_pctx + SIM_MAX_DEVS)
		return 1000 + (unsigned long long)(p - sim_pctx);
	if (p < b || p >= b + sizeof(uctx))
		return 1;
	return 2 + (unsigned long long)(p - b) / sizeof(uctx[0]);
}

static bool flags_ok(unsigned flags)
{
	unsigned sched = flags & CU_CTX_SCHED_MASK;
	return !(flags & ~(unsigned)CU_CTX_FLAGS_MASK) &&
	       (sched & (sched - 1)) == 0;
}

CUresult sim_cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (!pctx || !flags_ok(flags))
		return CUDA_ERROR_INVALID_VALUE;
	if (dev < 0 || dev >= sim_cfg.ndevs)
		return CUDA_ERROR_INVALID_DEVICE;
	int i;
	pthread_mutex_lock(&mu);
	for (i = 0; i < SIM_UCTX_MAX && uctx[i].live; i++)
		;
	if (i < SIM_UCTX_MAX)
		uctx[i].live = true, uctx[i].dev = dev;
	pthread_mutex_unlock(&mu);
	if (i == SIM_UCTX_MAX)
		return CUDA_ERROR_OUT_OF_MEMORY;
	below = sim_ctx_tag();
	sim_ctx_switch(&uctx[i]);
	*pctx = (CUcontext)&uctx[i];
	return CUDA_SUCCESS;
}

CUresult sim_cuCtxDestroy_v2(CUcontext ctx)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (!sim_ctx_user_valid(ctx))
		return CUDA_ERROR_INVALID_CONTEXT;
	sim_ctx_free_tagged(ctx); /* pops it if current here */
	pthread_mutex_lock(&mu);
	((typeof(uctx[0]) *)ctx)->live = false;
	pthread_mutex_unlock(&mu);
	if (below == ctx)
		below = NULL;
	return CUDA_SUCCESS;
}

CUresult sim_cuCtxPopCurrent_v2(CUcontext *pctx)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	const void *c = sim_ctx_tag();
	if (!c)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (pctx)
		*pctx = (CUcontext)c;
	sim_ctx_switch(below);
	below = NULL;
	return CUDA_SUCCESS;
}
