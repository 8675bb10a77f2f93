/* tests/gpu/tools_tls.c - TOOLS_TLS (export table 42d85a81) entry 2, which
 * cuBLASLt 13.1 calls before each heuristics candidate, feeding its result
 * to entry 4 of cuBLAS's table 21318c60 (the context's id).
 *
 * A plain driver-API program: natively it checks NVIDIA's driver, through
 * vgpu the guest library, with the same expectations:
 *  tools_tls_none     after cuInit, with no context current: CUDA_SUCCESS
 *                     and NULL (measured on driver 580, 2026-11-25)
 *  tools_tls_current  with the primary context current: that context, as
 *                     cuCtxGetCurrent gives it, and 21318c60 entry 4 of it
 *                     is cuCtxGetId's id
 *  tools_tls_thread   per thread: NULL in a new thread, then the context
 *                     that thread made current
 */
#include "check.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

static const uint8_t G_TLS[16] = {0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47, 0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc};
static const uint8_t G_CUBLAS[16] = {0x21, 0x31, 0x8c, 0x60, 0x97, 0x14, 0x32, 0x48, 0x8c, 0xa6, 0x41, 0xff, 0x73, 0x24, 0xc8, 0xf2};

typedef CUresult (*tls_fn)(CUcontext *out);
typedef CUresult (*ctx_id_fn)(CUcontext ctx, unsigned long long *out);
static tls_fn current;
static CUcontext primary;

static const uintptr_t *table(const uint8_t g[16])
{
	CUuuid id;
	const void *t = NULL;
	memcpy(id.bytes, g, 16);
	return cuGetExportTable(&t, &id) == CUDA_SUCCESS ? t : NULL;
}

struct seen {
	CUresult r1, r2, set;
	CUcontext before, after;
};

static void *other_thread(void *arg)
{
	struct seen *s = arg;
	s->before = s->after = (CUcontext)(uintptr_t)1;
	s->r1 = current(&s->before);
	s->set = cuCtxSetCurrent(primary);
	s->r2 = current(&s->after);
	return NULL;
}

int main(void)
{
	struct check c = {.name = "tools_tls_none"};
	const uintptr_t *t;
	CUcontext got = (CUcontext)(uintptr_t)1, cur = NULL;
	CUdevice dev;
	if (!EXPECT_OK(&c, cuInit(0)) || !(t = table(G_TLS)) || !t[2]) {
		check_fail(&c, "no TOOLS_TLS entry 2");
		check_end(&c);
		return check_summary("tools_tls");
	}
	current = (tls_fn)t[2];
	EXPECT_OK(&c, current(&got));
	if (got)
		check_fail(&c, "no context current, entry 2 gave %p", (void *)got);
	check_end(&c);

	struct check d = {.name = "tools_tls_current"};
	unsigned long long id = 0, want = 0;
	EXPECT_OK(&d, cuDeviceGet(&dev, 0));
	EXPECT_OK(&d, cuDevicePrimaryCtxRetain(&primary, dev));
	EXPECT_OK(&d, cuCtxSetCurrent(primary));
	EXPECT_OK(&d, cuCtxGetCurrent(&cur));
	EXPECT_OK(&d, current(&got));
	if (!got || got != cur || got != primary)
		check_fail(&d, "entry 2 %p, current %p, primary %p", (void *)got,
			   (void *)cur, (void *)primary);
	const uintptr_t *cb = table(G_CUBLAS);
	if (!cb || !cb[4]) {
		check_fail(&d, "no 21318c60 entry 4");
	} else {
		EXPECT_OK(&d, ((ctx_id_fn)cb[4])(got, &id));
		EXPECT_OK(&d, cuCtxGetId(primary, &want));
		if (id != want)
			check_fail(&d, "entry 4 id %llu, cuCtxGetId %llu", id, want);
	}
	check_end(&d);

	struct check e = {.name = "tools_tls_thread"};
	struct seen s = {CUDA_ERROR_UNKNOWN, CUDA_ERROR_UNKNOWN,
			 CUDA_ERROR_UNKNOWN, NULL, NULL};
	pthread_t th;
	if (pthread_create(&th, NULL, other_thread, &s) || pthread_join(th, NULL))
		check_fail(&e, "thread");
	EXPECT_OK(&e, s.r1);
	EXPECT_OK(&e, s.set);
	EXPECT_OK(&e, s.r2);
	if (s.before || s.after != primary)
		check_fail(&e, "new thread %p, after cuCtxSetCurrent %p",
			   (void *)s.before, (void *)s.after);
	check_end(&e);
	cuDevicePrimaryCtxRelease(dev);
	return check_summary("tools_tls");
}
