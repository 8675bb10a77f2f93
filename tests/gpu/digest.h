/* tests/gpu/digest.h - the digests the GPU test programs print and that
 * tests/gpu/run.sh compares between the native run and the run through
 * vgpu: 64-bit FNV-1a over a result's bytes. fnv() digests one buffer,
 * fnv_more() continues a digest over the next one, digest() prints the
 * line "digest NAME HEX". Plain C, also included by the CUDA C++ tests.
 *
 * The start value: FNV's offset basis, or, where a program defines
 * DIGEST_START before including this, its own. The cuBLAS, cuDNN, bulk
 * and CUDA runtime tests were written with the basis missing its last
 * digit (FNV_START_SHORT) and keep it, so that their digests stay those
 * recorded in the docs. */
#ifndef VGPU_TESTS_GPU_DIGEST_H
#define VGPU_TESTS_GPU_DIGEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FNV_START 0xcbf29ce484222325ull
#define FNV_START_SHORT 1469598103934665603ull
#ifndef DIGEST_START
#define DIGEST_START FNV_START
#endif

static inline uint64_t fnv_more(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = (const uint8_t *)p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static inline uint64_t fnv(const void *p, size_t n)
{
	return fnv_more(DIGEST_START, p, n);
}

static inline void digest(const char *name, const void *p, size_t n)
{
	printf("digest %s %016llx\n", name, (unsigned long long)fnv(p, n));
}

#endif
