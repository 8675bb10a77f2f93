/* The worker's check of guest module images: nvcc's real outputs pass,
 * the same images lying about their sizes do not. */
#include "../../daemon/image_check.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *load(const char *name, uint64_t *len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/tests/gpu/%s", VGPU_BUILD_DIR, name);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s (make builds it with nvcc)", path);
	fseek(f, 0, SEEK_END);
	*len = (uint64_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc(*len);
	cr_assert_eq(fread(p, 1, *len, f), *len);
	fclose(f);
	return p;
}

Test(image, nvcc_outputs_fit)
{
	uint64_t n;
	uint8_t *c = load("kernels.cubin", &n);
	cr_expect(vgpu_image_fits(c, n));
	cr_expect_not(vgpu_image_fits(c, n - 1), "a truncated cubin fits");
	free(c);
	uint8_t *f = load("kernels.fatbin", &n);
	cr_expect(vgpu_image_fits(f, n));
	cr_expect_not(vgpu_image_fits(f, n - 1), "a truncated fatbin fits");
	free(f);
}

Test(image, lying_elf_is_refused)
{
	uint64_t n, shoff;
	uint8_t *c = load("kernels.cubin", &n);
	memcpy(&shoff, c + 40, 8);
	uint64_t big = n; /* section headers starting at the end */
	memcpy(c + 40, &big, 8);
	cr_expect_not(vgpu_image_fits(c, n));
	memcpy(c + 40, &shoff, 8);
	uint64_t huge = ~0ull - 8; /* a section whose size wraps */
	memcpy(c + shoff + 64 + 32, &huge, 8);
	cr_expect_not(vgpu_image_fits(c, n));
	free(c);
}

Test(image, lying_fatbin_is_refused)
{
	uint64_t n, files;
	uint8_t *f = load("kernels.fatbin", &n);
	memcpy(&files, f + 8, 8);
	uint64_t more = files + 1;
	memcpy(f + 8, &more, 8);
	cr_expect_not(vgpu_image_fits(f, n));
	memcpy(f + 8, &files, 8);
	uint32_t payload = 0x7fffffff; /* first entry's payload */
	memcpy(f + 16 + 8, &payload, 4);
	cr_expect_not(vgpu_image_fits(f, n));
	free(f);
}

Test(image, wrappers_and_text)
{
	uint8_t w[24] = {0xB1, 0x43, 0x62, 0x46, 1};
	cr_expect_not(vgpu_image_fits(w, sizeof(w)), "a guest pointer inside");
	const char *ptx = ".version 9.0\n.target sm_90\n";
	cr_expect(vgpu_image_fits((const uint8_t *)ptx, strlen(ptx)));
}
