/* tests/gpu/cublas_layout.c - export table 1734dc26 entry 4, the SM layout
 * cuBLASLt asks for, and entry 13, which gives it back.
 *
 * A plain driver-API program: natively it checks NVIDIA's driver, through
 * vgpu the guest library and the worker (forwarding to the worker's
 * driver on the GPU, the sim's pattern in the integration suite), with the
 * same expectations:
 *  layout_no_context  after cuInit with no context current: entry 4 is
 *                     CUDA_ERROR_INVALID_CONTEXT, outputs untouched
 *  layout_current     with the primary context current: success, two
 *                     distinct arrays, the same bytes on a second call
 *                     (the first pair still held), each pair given back
 *                     by entry 13
 * and a digest line of the arrays' first multiprocessor-count / 2 bytes
 * (one per TPC; printed in hex too): the guest's copies must equal the
 * driver's bit for bit. Measured on the H100 (driver 580, 132 SMs): two
 * 66-byte arrays, each TPC's GPC (round-robin, 0-7) and its index in it.
 */
#define DIGEST_START FNV_START_SHORT /* digest.h */
#include "digest.h"
#include "check.h"
#include <stdint.h>
#include <stdlib.h>

static const uint8_t G_LAYOUT[16] = {0x17, 0x34, 0xdc, 0x26, 0x80, 0x0d, 0x47, 0x45, 0x87, 0x26, 0xc0, 0xf1, 0xe7, 0xdd, 0x8b, 0xca};

typedef CUresult (*get_fn)(void **a, void **b);
typedef CUresult (*put_fn)(void *a, void *b);

static void hex(const char *tag, const uint8_t *p, size_t n)
{
	printf("layout %s ", tag);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

int main(void)
{
	struct check c = {.name = "layout_no_context"};
	CUuuid id;
	const uintptr_t *t = NULL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	memcpy(id.bytes, G_LAYOUT, 16);
	if (!EXPECT_OK(&c, cuInit(0)) ||
	    !EXPECT_OK(&c, cuGetExportTable((const void **)&t, &id)) || !t ||
	    t[0] != 0x88 || !t[4] || !t[13]) {
		check_fail(&c, "no table 1734dc26 of 17 slots");
		check_end(&c);
		return check_summary("cublas_layout");
	}
	get_fn get = (get_fn)t[4];
	put_fn put = (put_fn)t[13];
	void *a = (void *)1, *b = (void *)2;
	EXPECT(&c, CUDA_ERROR_INVALID_CONTEXT, get(&a, &b));
	if (a != (void *)1 || b != (void *)2)
		check_fail(&c, "outputs written without a context");
	check_end(&c);

	struct check d = {.name = "layout_current"};
	CUcontext ctx;
	int sms = 0;
	void *a2 = NULL, *b2 = NULL;
	a = b = NULL;
	size_t n = 0;
	if (EXPECT_OK(&d, cuDevicePrimaryCtxRetain(&ctx, 0)) &&
	    EXPECT_OK(&d, cuCtxSetCurrent(ctx)) &&
	    EXPECT_OK(&d, cuDeviceGetAttribute(
			      &sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0)) &&
	    EXPECT_OK(&d, get(&a, &b)) && EXPECT_OK(&d, get(&a2, &b2))) {
		n = (size_t)sms / 2;
		if (!a || !b || !a2 || !b2 || a == b || a == a2 || b == b2)
			check_fail(&d, "arrays %p %p, again %p %p", a, b, a2, b2);
		else if (memcmp(a, a2, n) || memcmp(b, b2, n))
			check_fail(&d, "two calls gave other arrays");
		if (a && b) {
			uint64_t h = fnv(a, n);
			printf("digest sm_layout %zu %016llx\n", n,
			       (unsigned long long)fnv_more(h, b, n));
			hex("gpc", a, n);
			hex("index", b, n);
		}
		if (a && b)
			EXPECT_OK(&d, put(a, b));
		if (a2 && b2)
			EXPECT_OK(&d, put(a2, b2));
	}
	check_end(&d);
	return check_summary("cublas_layout");
}
