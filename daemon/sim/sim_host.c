/* daemon/sim/sim_host.c - registered host memory: cuMemHostRegister,
 * cuMemHostUnregister, cuMemHostGetDevicePointer.
 *
 * Contract: the sim's host memory is ordinary memory its copies can reach
 * anyway, so registering only records the range (the worker registers
 * each guest's pinned pool slice this way); overlapping an existing range
 * is CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, unregistering anything but
 * a range's start CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, as natively. A
 * registered byte's device pointer is its host address (unified
 * addressing), and the sim's kernels dereference it there, as the GPU
 * does mapped pinned memory (sim_host_find: sim_k_at's second lookup).
 * Only the worker registers memory in the sim (the guest's pool slice,
 * its arena): mappings it keeps for its life, so a kernel never outlives
 * the bytes it reaches.
 */
#include "sim.h"
#include <stdlib.h>

struct range {
	uintptr_t base;
	size_t n;
};

static struct {
	pthread_mutex_t mu;
	struct range *v;
	size_t n, cap;
} R = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct range *containing(uintptr_t p, size_t n)
{
	for (size_t i = 0; i < R.n; i++)
		if (p >= R.v[i].base && p - R.v[i].base < R.v[i].n &&
		    n <= R.v[i].n - (p - R.v[i].base))
			return &R.v[i];
	return NULL;
}

static bool overlaps(uintptr_t p, size_t n)
{
	for (size_t i = 0; i < R.n; i++)
		if (p < R.v[i].base + R.v[i].n && R.v[i].base < p + n)
			return true;
	return false;
}

CUresult sim_cuMemHostRegister_v2(void *p, size_t n, unsigned int flags)
{
	CUresult rc = sim_enter();
	uintptr_t a = (uintptr_t)p;
	if (rc)
		return rc;
	if (!p || !n || a + n < a || (flags & ~0xfu) ||
	    sim_heap_is_device_range(p, n))
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&R.mu);
	if (overlaps(a, n)) {
		rc = CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
	} else if (R.n == R.cap) {
		size_t cap = R.cap ? 2 * R.cap : 16;
		struct range *v = realloc(R.v, cap * sizeof(*v));
		if (v) {
			R.v = v;
			R.cap = cap;
		} else {
			rc = CUDA_ERROR_OUT_OF_MEMORY;
		}
	}
	if (!rc)
		R.v[R.n++] = (struct range){a, n};
	pthread_mutex_unlock(&R.mu);
	return rc;
}

CUresult sim_cuMemHostUnregister(void *p)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	pthread_mutex_lock(&R.mu);
	struct range *r = containing((uintptr_t)p, 1);
	if (r && r->base == (uintptr_t)p)
		*r = R.v[--R.n];
	else
		rc = CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
	pthread_mutex_unlock(&R.mu);
	return rc;
}

CUresult sim_cuMemHostGetDevicePointer_v2(CUdeviceptr *dptr, void *p,
					  unsigned int flags)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!dptr || flags)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&R.mu);
	bool ok = containing((uintptr_t)p, 1) != NULL;
	pthread_mutex_unlock(&R.mu);
	if (!ok)
		return CUDA_ERROR_INVALID_VALUE;
	*dptr = (CUdeviceptr)(uintptr_t)p;
	return CUDA_SUCCESS;
}

bool sim_host_find(CUdeviceptr p, struct sim_span *out)
{
	pthread_mutex_lock(&R.mu);
	struct range *r = containing((uintptr_t)p, 1);
	if (r)
		*out = (struct sim_span){.base = r->base, .size = r->n,
					 .host = (uint8_t *)r->base};
	pthread_mutex_unlock(&R.mu);
	return r != NULL;
}
