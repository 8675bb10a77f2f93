/* daemon/sim/sim_stream_attr.c - stream attributes.
 *
 * Contract: the attributes a stream has (access policy window,
 * synchronisation policy, priority, memory sync domain and its map) can
 * be read, set and copied to another stream; any other id is
 * CUDA_ERROR_INVALID_VALUE. A stream never set reads as a new one does:
 * no window, CU_SYNC_POLICY_AUTO, its creation priority, domain 0 with
 * the map {default 0, remote 1}. Priorities set are clamped like
 * cuStreamCreateWithPriority's; a synchronisation policy outside
 * AUTO..BLOCKING_SYNC, a window's hit ratio outside 0..1 or a domain
 * beyond the device's count is CUDA_ERROR_INVALID_VALUE. The sim runs
 * every stream alike: the attributes are remembered, not acted on.
 */
#include "sim.h"
#include <string.h>

static bool known(CUstreamAttrID a)
{
	return a == CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW ||
	       a == CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY ||
	       a == CU_STREAM_ATTRIBUTE_PRIORITY ||
	       a == CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP ||
	       a == CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN;
}

/* Under s->mu. */
static void get(const struct sim_stream *s, CUstreamAttrID a,
		CUstreamAttrValue *v)
{
	memset(v, 0, sizeof(*v));
	if (a == CU_STREAM_ATTRIBUTE_PRIORITY) {
		v->priority = s->priority;
		return;
	}
	if (s->attr_set[a]) {
		*v = s->attr[a];
		return;
	}
	if (a == CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY)
		v->syncPolicy = CU_SYNC_POLICY_AUTO;
	else if (a == CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP)
		v->memSyncDomainMap.remote = 1;
}

static CUresult valid(CUstreamAttrID a, const CUstreamAttrValue *v)
{
	int domains = 0;
	sim_cuDeviceGetAttribute(&domains, CU_DEVICE_ATTRIBUTE_MEM_SYNC_DOMAIN_COUNT,
				 0);
	switch (a) {
	case CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY:
		return v->syncPolicy >= CU_SYNC_POLICY_AUTO &&
			       v->syncPolicy <= CU_SYNC_POLICY_BLOCKING_SYNC
		       ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
	case CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW:
		return v->accessPolicyWindow.hitRatio >= 0.0f &&
			       v->accessPolicyWindow.hitRatio <= 1.0f
		       ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
	case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
		return v->memSyncDomainMap.default_ < domains &&
			       v->memSyncDomainMap.remote < domains
		       ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
	case CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN:
		return (unsigned)v->memSyncDomain <= CU_LAUNCH_MEM_SYNC_DOMAIN_REMOTE
		       ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
	default:
		return CUDA_SUCCESS;
	}
}

CUresult sim_cuStreamGetAttribute(CUstream h, CUstreamAttrID a,
				  CUstreamAttrValue *v)
{
	struct sim_stream *s;
	if (!v || !known(a))
		return CUDA_ERROR_INVALID_VALUE;
	CUresult rc = sim_stream_resolve(h, &s);
	if (rc)
		return rc;
	pthread_mutex_lock(&s->mu);
	get(s, a, v);
	pthread_mutex_unlock(&s->mu);
	sim_stream_put(s);
	return CUDA_SUCCESS;
}

CUresult sim_cuStreamSetAttribute(CUstream h, CUstreamAttrID a,
				  const CUstreamAttrValue *v)
{
	struct sim_stream *s;
	if (!v || !known(a))
		return CUDA_ERROR_INVALID_VALUE;
	CUresult rc = valid(a, v);
	if (rc || (rc = sim_stream_resolve(h, &s)))
		return rc;
	pthread_mutex_lock(&s->mu);
	if (a == CU_STREAM_ATTRIBUTE_PRIORITY) {
		int p = v->priority;
		s->priority = p > SIM_PRIO_LEAST	  ? SIM_PRIO_LEAST
			      : p < SIM_PRIO_GREATEST ? SIM_PRIO_GREATEST
						  : p;
	} else {
		s->attr[a] = *v;
		s->attr_set[a] = true;
	}
	pthread_mutex_unlock(&s->mu);
	sim_stream_put(s);
	return CUDA_SUCCESS;
}

CUresult sim_cuStreamCopyAttributes(CUstream hdst, CUstream hsrc)
{
	static const CUstreamAttrID ids[] = {
		CU_STREAM_ATTRIBUTE_ACCESS_POLICY_WINDOW,
		CU_STREAM_ATTRIBUTE_SYNCHRONIZATION_POLICY,
		CU_STREAM_ATTRIBUTE_PRIORITY,
		CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP,
		CU_STREAM_ATTRIBUTE_MEM_SYNC_DOMAIN};
	CUstreamAttrValue v[5];
	struct sim_stream *src;
	CUresult rc = sim_stream_resolve(hsrc, &src);
	if (rc)
		return rc;
	pthread_mutex_lock(&src->mu);
	for (int i = 0; i < 5; i++)
		get(src, ids[i], &v[i]);
	pthread_mutex_unlock(&src->mu);
	sim_stream_put(src);
	for (int i = 0; i < 5 && !rc; i++)
		rc = sim_cuStreamSetAttribute(hdst, ids[i], &v[i]);
	return rc;
}
