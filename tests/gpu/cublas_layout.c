/* tests/gpu/cublas_layout.c - export table 1734dc26 entry 4, the SM layout
 * cuBLASLt asks for before picking its Hopper bf16 kernels, and entry 13,
 * which gives it back.
 *
 * A plain driver-API program: natively it checks NVIDIA's driver, through
 * vgpu the guest library and the worker (forwarding to the worker's
 * driver on the GPU, the sim's pattern in the integration suite), with the
 * same expectations:
 *  layout_no_context  after cuInit with no context current: entry 4 is
 *                     CUDA_ERROR_INVALID_CONTEXT, outputs untouched
 *  layout_current     with the primary context current: success, an array
 *                     of 1..256 bytes, the same bytes twice, each given
 *                     back by entry 13
 * and a digest line of the array (length and bytes, printed in hex too):
 * the guest's copy must equal the driver's bit for bit.
 */
#include "check.h"
#include <stdint.h>
#include <stdlib.h>

static const uint8_t G_LAYOUT[16] = {0x17, 0x34, 0xdc, 0x26, 0x80, 0x0d, 0x47, 0x45, 0x87, 0x26, 0xc0, 0xf1, 0xe7, 0xdd, 0x8b, 0xca};

typedef CUresult (*get_fn)(void **begin, void **end);
typedef CUresult (*put_fn)(void *begin, void *end);

static uint64_t fnv(const uint8_t *b, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	while (n--)
		h = (h ^ *b++) * 1099511628211ull;
	return h;
}

/* One get and put; the bytes into out (up to 256), their count into n. */
static void layout(struct check *c, const uintptr_t *t, uint8_t *out,
		   size_t *n)
{
	void *b = NULL, *e = NULL;
	*n = 0;
	if (!EXPECT_OK(c, ((get_fn)t[4])(&b, &e)))
		return;
	if (!b || (uintptr_t)e <= (uintptr_t)b ||
	    (uintptr_t)e - (uintptr_t)b > 256) {
		check_fail(c, "array %p..%p", b, e);
		return;
	}
	*n = (uintptr_t)e - (uintptr_t)b;
	memcpy(out, b, *n);
	EXPECT_OK(c, ((put_fn)t[13])(b, e));
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
	void *b = (void *)1, *e = (void *)2;
	EXPECT(&c, CUDA_ERROR_INVALID_CONTEXT, ((get_fn)t[4])(&b, &e));
	if (b != (void *)1 || e != (void *)2)
		check_fail(&c, "outputs written without a context");
	check_end(&c);

	struct check d = {.name = "layout_current"};
	CUcontext ctx;
	uint8_t a1[256], a2[256];
	size_t n1 = 0, n2 = 0;
	if (EXPECT_OK(&d, cuDevicePrimaryCtxRetain(&ctx, 0)) &&
	    EXPECT_OK(&d, cuCtxSetCurrent(ctx))) {
		layout(&d, t, a1, &n1);
		layout(&d, t, a2, &n2);
		if (n1 != n2 || memcmp(a1, a2, n1))
			check_fail(&d, "two calls gave other arrays");
	}
	check_end(&d);
	if (n1) {
		char hex[2 * 256 + 1];
		for (size_t i = 0; i < n1; i++)
			snprintf(hex + 2 * i, 3, "%02x", a1[i]);
		printf("digest sm_layout %zu %016llx\nlayout %s\n", n1,
		       (unsigned long long)fnv(a1, n1), hex);
	}
	return check_summary("cublas_layout");
}
