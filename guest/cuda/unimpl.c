/* guest/cuda/unimpl.c - the report an unimplemented driver call makes.
 *
 * Contract: see unimpl.h. Names already reported live in a fixed
 * open-addressing table of pointers, claimed with compare-and-swap: no
 * allocation, and no lock that a child forked mid-report could inherit
 * held and then block on.
 */
#include "unimpl.h"
#include <cuda.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(VGPU_CUDA_ERROR_NOT_SUPPORTED == CUDA_ERROR_NOT_SUPPORTED,
	       "unimpl.h's copy of CUDA_ERROR_NOT_SUPPORTED is wrong");

/* A power of two well above the 707 names the driver exports, so probes
 * stay short and the table never fills with driver names alone. */
#define SEEN_SLOTS 2048u
static _Atomic(const char *) seen[SEEN_SLOTS];

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* 1 if `name` had not been reported before (and now is marked), else 0. */
static int first_report(const char *name)
{
	uint32_t i = name_hash(name);
	for (unsigned n = 0; n < SEEN_SLOTS; n++, i++) {
		_Atomic(const char *) *slot = &seen[i & (SEEN_SLOTS - 1)];
		const char *cur =
			atomic_load_explicit(slot, memory_order_acquire);
		if (!cur) {
			if (atomic_compare_exchange_strong_explicit(
				    slot, &cur, name, memory_order_acq_rel,
				    memory_order_acquire))
				return 1;
			/* lost the race: cur now holds the winner's name */
		}
		if (strcmp(cur, name) == 0)
			return 0;
	}
	/* Full (only with thousands of distinct names): repeating a report
	 * is better than hiding one. */
	return 1;
}

static int quiet(void)
{
	const char *v = getenv("VGPU_LOG");
	return v && strcmp(v, "quiet") == 0;
}

int vgpu_unimplemented(const char *name)
{
	return vgpu_unimplemented_as(name, "CUDA_ERROR_NOT_SUPPORTED",
				     VGPU_CUDA_ERROR_NOT_SUPPORTED);
}

int vgpu_unimplemented_as(const char *name, const char *code_name, int code)
{
	if (!name || quiet() || !first_report(name))
		return code;
	/* One write(2) per line, so lines from several threads never mix
	 * (stdio would also allocate its buffer here). */
	char line[256];
	int n = snprintf(line, sizeof(line), "vgpu: %s is not implemented "
			 "(%s)\n", name, code_name);
	if (n < 0)
		return code;
	size_t len = (size_t)n;
	if (len >= sizeof(line)) { /* a name this long is not a driver's */
		len = sizeof(line) - 1;
		line[len - 1] = '\n';
	}
	int saved_errno = errno; /* callers' errno is none of our business */
	const char *p = line;
	while (len > 0) {
		ssize_t w = write(STDERR_FILENO, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* stderr closed or full: nothing better to do */
		p += w;
		len -= (size_t)w;
	}
	errno = saved_errno;
	return code;
}
