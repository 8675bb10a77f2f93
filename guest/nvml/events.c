/* guest/nvml/events.c - NVML event sets.
 *
 * Contract: event sets behave as NVML's do on a device on which no event
 * ever occurs. nvmlDeviceGetSupportedEventTypes reports only what vgpu can
 * truthfully deliver, which today is nothing (the VM info block carries no
 * Xid, ECC, clock or pstate notifications; a sampled pstate would miss
 * changes, so it is not offered as an event). Registering a type that is
 * not supported is NVML_ERROR_NOT_SUPPORTED, as NVML answers; waiting
 * sleeps the whole timeout and answers NVML_ERROR_TIMEOUT.
 *
 * Handles are never dereferenced: a set is a slot in a fixed table and its
 * handle encodes (tag, generation, slot), so a freed, stale or forged
 * handle is NVML_ERROR_INVALID_ARGUMENT, never a crash. A set freed while
 * another thread waits on it wakes that waiter, which answers
 * INVALID_ARGUMENT (the set it waited on no longer exists).
 */
#define _GNU_SOURCE
#include "internal.h"
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSETS 256u
#define TAG 0x5645ull /* "VE", bits 48..63 of a handle */

/* Events vgpu can deliver: none yet (see the header). */
#define SUPPORTED_EVENTS nvmlEventTypeNone

struct set {
	uint32_t gen; /* odd while the slot is in use */
	unsigned long long types;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static pthread_once_t cv_once = PTHREAD_ONCE_INIT;
static struct set sets[NSETS];

static void cv_init(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &a);
	pthread_condattr_destroy(&a);
}

static nvmlEventSet_t encode(unsigned slot, uint32_t gen)
{
	return (nvmlEventSet_t)(uintptr_t)(TAG << 48 | (uint64_t)gen << 16 |
					   slot);
}

/* The live set a handle names, or NULL; call with mu held. */
static struct set *lookup(nvmlEventSet_t h)
{
	uint64_t v = (uint64_t)(uintptr_t)h;
	unsigned slot = v & 0xffff;
	uint32_t gen = (uint32_t)(v >> 16);
	if (v >> 48 != TAG || slot >= NSETS || !(gen & 1) ||
	    sets[slot].gen != gen)
		return NULL;
	return &sets[slot];
}

/* NVML_SUCCESS if the library is initialized. */
static nvmlReturn_t initialized(void)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_snapshot(&s);
	return r == NVML_ERROR_UNINITIALIZED ? r : NVML_SUCCESS;
}

VGPU_EXPORT nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *out)
{
	nvmlReturn_t r = initialized();
	if (r)
		return r;
	if (!out)
		return NVML_ERROR_INVALID_ARGUMENT;
	pthread_mutex_lock(&mu);
	r = NVML_ERROR_MEMORY; /* NVML's answer when it cannot allocate */
	for (unsigned i = 0; i < NSETS; i++) {
		if (sets[i].gen & 1)
			continue;
		sets[i].gen++;
		sets[i].types = 0;
		*out = encode(i, sets[i].gen);
		r = NVML_SUCCESS;
		break;
	}
	pthread_mutex_unlock(&mu);
	return r;
}

VGPU_EXPORT nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t h)
{
	nvmlReturn_t r = initialized();
	if (r)
		return r;
	pthread_once(&cv_once, cv_init);
	pthread_mutex_lock(&mu);
	struct set *s = lookup(h);
	if (s) {
		s->gen++; /* even: free; the handle is stale from now on */
		pthread_cond_broadcast(&cv);
	}
	pthread_mutex_unlock(&mu);
	return s ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetSupportedEventTypes(
	nvmlDevice_t d, unsigned long long *types)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(d, &s);
	if (!r && !types)
		r = NVML_ERROR_INVALID_ARGUMENT;
	if (!r)
		*types = SUPPORTED_EVENTS;
	return r;
}

/* VGPU_LOG=debug names the event types a program asked for and did not
 * get, so a tool that gives up after that can be traced. */
static void debug_refused(unsigned long long types)
{
	const char *v = getenv("VGPU_LOG");
	if (v && !strcmp(v, "debug"))
		fprintf(stderr,
			"vgpu: nvmlDeviceRegisterEvents: event types %#llx "
			"not supported (NVML_ERROR_NOT_SUPPORTED)\n",
			types & ~SUPPORTED_EVENTS);
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t d,
						   unsigned long long types,
						   nvmlEventSet_t h)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(d, &s);
	if (r)
		return r;
	pthread_mutex_lock(&mu);
	struct set *e = lookup(h);
	if (!e)
		r = NVML_ERROR_INVALID_ARGUMENT;
	else if (types & ~SUPPORTED_EVENTS)
		r = NVML_ERROR_NOT_SUPPORTED;
	else
		e->types |= types;
	pthread_mutex_unlock(&mu);
	if (r == NVML_ERROR_NOT_SUPPORTED)
		debug_refused(types);
	return r;
}

static struct timespec deadline(unsigned ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L)
		t.tv_sec++, t.tv_nsec -= 1000000000L;
	return t;
}

/* Wait for an event on set h for up to ms; none can arrive (see the
 * header), so this ends in TIMEOUT unless the set is freed meanwhile. */
static nvmlReturn_t wait_set(nvmlEventSet_t h, nvmlEventData_t *data,
			     unsigned ms)
{
	nvmlReturn_t r = initialized();
	if (r)
		return r;
	pthread_once(&cv_once, cv_init);
	struct timespec end = deadline(ms);
	pthread_mutex_lock(&mu);
	if (!lookup(h) || !data)
		r = NVML_ERROR_INVALID_ARGUMENT;
	while (!r) {
		int rc = pthread_cond_timedwait(&cv, &mu, &end);
		if (!lookup(h))
			r = NVML_ERROR_INVALID_ARGUMENT;
		else if (rc == ETIMEDOUT)
			r = NVML_ERROR_TIMEOUT;
	}
	pthread_mutex_unlock(&mu);
	return r;
}

VGPU_EXPORT nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t h,
					      nvmlEventData_t *data,
					      unsigned timeoutms)
{
	return wait_set(h, data, timeoutms);
}

/* v1's nvmlEventData_t lacks the two instance ids; nothing is written
 * either way, since no event is ever returned. */
VGPU_EXPORT nvmlReturn_t nvmlEventSetWait(nvmlEventSet_t h,
					   nvmlEventData_t *data,
					   unsigned timeoutms)
{
	return wait_set(h, data, timeoutms);
}
