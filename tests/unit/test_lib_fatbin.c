/* tests/unit/test_lib_fatbin.c - the guest's fatbin entry selection
 * (guest/cuda/lib_fatbin.c) on nvcc's real outputs: kernels_multi.fatbin
 * (sm_80 and sm_90 cubins, compute_90 PTX compressed with ZSTD, as nvcc 13
 * writes by default), kernels.cubin and kernels.ptx. The selected image
 * must still pass the daemon's bounds check and load in the sim. */
#include "../../guest/cuda/lib_fatbin.c" /* the guest's code, linked here */
#include "daemon/backend.h"
#include "daemon/image_check.h"
#include "daemon/sim/sim.h"
#include <criterion/criterion.h>
#include <stdio.h>

static uint8_t *slurp(const char *name, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/tests/gpu/%s", VGPU_BUILD_DIR, name);
	FILE *f = fopen(path, "rb");
	cr_assert(f, "%s missing (make builds it)", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = calloc(1, (size_t)n + 1);
	cr_assert(p && fread(p, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* Entry i of fatbin f: kind, sm, flags; its header + stored bytes. */
struct seen {
	uint16_t kind;
	uint32_t sm;
	uint64_t flags;
	const uint8_t *at;
	uint64_t size;
};

static int entries(const uint8_t *f, struct seen *out, int max)
{
	uint64_t hdr = rd(f + 6, 2), files = rd(f + 8, 8);
	int n = 0;
	for (uint64_t off = 0; off < files && n < max; n++) {
		const uint8_t *e = f + hdr + off;
		uint64_t pay = rd(e + 8, 4), cmp = rd(e + 16, 4);
		out[n] = (struct seen){(uint16_t)rd(e, 2), (uint32_t)rd(e + 28, 4),
				       rd(e + 40, 8), e,
				       rd(e + 4, 4) + (pay > cmp ? pay : cmp)};
		off += out[n].size;
	}
	return n;
}

/* The one entry of the selection for device sm, checked to be a byte copy
 * of the original's entry of that kind and sm. */
static struct seen select_one(const uint8_t *img, int sm, uint16_t kind,
			      uint32_t want_sm)
{
	struct vgpu_image im;
	cr_assert_eq(vgpu_image_prepare(img, sm, &im), CUDA_SUCCESS);
	cr_assert_eq(im.kept, 1);
	cr_assert(vgpu_image_fits(im.data, im.len));
	struct seen got[4], orig[8];
	cr_assert_eq(entries(im.data, got, 4), 1);
	cr_assert_eq(got[0].kind, kind);
	cr_assert_eq(got[0].sm, want_sm);
	const uint8_t *fb = img;
	if (rd(img, 4) == VGPU_WRAPPER_MAGIC)
		memcpy(&fb, img + 8, sizeof(fb));
	int n = entries(fb, orig, 8), match = 0;
	for (int i = 0; i < n; i++)
		if (orig[i].kind == kind && orig[i].sm == want_sm &&
		    orig[i].size == got[0].size &&
		    !memcmp(orig[i].at, got[0].at, got[0].size))
			match++;
	cr_assert_eq(match, 1, "the kept entry is not a byte copy");
	cr_assert_eq(im.dropped, (unsigned)n - 1);
	cr_assert_eq(im.len, 16 + got[0].size);
	vgpu_image_release(&im);
	return got[0];
}

Test(lib_fatbin, nvcc_multi_arch_layout)
{
	size_t len;
	uint8_t *f = slurp("kernels_multi.fatbin", &len);
	struct seen e[8];
	cr_assert_eq(rd(f, 4), VGPU_FATBIN_MAGIC);
	cr_assert_eq(16 + rd(f + 8, 8), len);
	cr_assert_eq(entries(f, e, 8), 3);
	int elf80 = 0, elf90 = 0, ptx90z = 0;
	for (int i = 0; i < 3; i++) {
		elf80 += e[i].kind == KIND_ELF && e[i].sm == 80;
		elf90 += e[i].kind == KIND_ELF && e[i].sm == 90;
		ptx90z += e[i].kind == KIND_PTX && e[i].sm == 90 &&
			  (e[i].flags & 0x8000); /* ZSTD */
	}
	cr_assert(elf80 == 1 && elf90 == 1 && ptx90z == 1,
		  "nvcc's output changed: %d %d %d", elf80, elf90, ptx90z);
	free(f);
}

Test(lib_fatbin, picks_exact_cubin)
{
	size_t len;
	uint8_t *f = slurp("kernels_multi.fatbin", &len);
	select_one(f, 90, KIND_ELF, 90);
	free(f);
}

Test(lib_fatbin, picks_older_minor_cubin_of_same_major)
{
	size_t len;
	uint8_t *f = slurp("kernels_multi.fatbin", &len);
	select_one(f, 86, KIND_ELF, 80);
	select_one(f, 89, KIND_ELF, 80);
	free(f);
}

Test(lib_fatbin, newer_major_gets_compressed_ptx_as_is)
{
	size_t len;
	uint8_t *f = slurp("kernels_multi.fatbin", &len);
	struct seen e = select_one(f, 100, KIND_PTX, 90);
	cr_assert(e.flags & 0x8000, "compression flag kept");
	free(f);
}

Test(lib_fatbin, older_device_has_no_binary)
{
	size_t len;
	uint8_t *f = slurp("kernels_multi.fatbin", &len);
	struct vgpu_image im;
	cr_assert_eq(vgpu_image_prepare(f, 75, &im), CUDA_ERROR_NO_BINARY_FOR_GPU);
	cr_assert_null(im.owned);
	free(f);
}

struct wrapper {
	uint32_t magic, version;
	const void *data;
	const void *const *prelinked;
};

Test(lib_fatbin, wrappers_v1_and_v2)
{
	size_t len;
	uint8_t *f = slurp("kernels_multi.fatbin", &len);
	static const void *const none[1] = {NULL};
	const void *some[2] = {f, NULL};
	struct wrapper v1 = {VGPU_WRAPPER_MAGIC, 1, f, NULL};
	struct wrapper v2 = {VGPU_WRAPPER_MAGIC, 2, f, none};
	struct wrapper v2rdc = {VGPU_WRAPPER_MAGIC, 2, f, some};
	struct wrapper v3 = {VGPU_WRAPPER_MAGIC, 3, f, NULL};
	struct wrapper nodata = {VGPU_WRAPPER_MAGIC, 1, NULL, NULL};
	struct vgpu_image im;
	select_one((const uint8_t *)&v1, 90, KIND_ELF, 90);
	select_one((const uint8_t *)&v2, 90, KIND_ELF, 90);
	/* relocatable device code: the linked cubin is used as it is... */
	select_one((const uint8_t *)&v2rdc, 90, KIND_ELF, 90);
	/* ...but PTX would need the prelinked objects JIT-linked again */
	cr_assert_eq(vgpu_image_prepare(&v2rdc, 100, &im), CUDA_ERROR_NOT_SUPPORTED);
	select_one((const uint8_t *)&v2, 100, KIND_PTX, 90);
	cr_assert_eq(vgpu_image_prepare(&v3, 90, &im), CUDA_ERROR_INVALID_IMAGE);
	cr_assert_eq(vgpu_image_prepare(&nodata, 90, &im), CUDA_ERROR_INVALID_IMAGE);
	free(f);
}

Test(lib_fatbin, corrupt_entry_sizes_refused)
{
	size_t len;
	uint8_t *f = slurp("kernels_multi.fatbin", &len);
	struct vgpu_image im;
	uint32_t huge = 0xfffffff0u;
	memcpy(f + 16 + 8, &huge, 4); /* first entry's payload size */
	cr_assert_eq(vgpu_image_prepare(f, 90, &im), CUDA_ERROR_INVALID_IMAGE);
	uint16_t v2 = 2;
	memcpy(f + 4, &v2, 2);
	cr_assert_eq(vgpu_image_prepare(f, 90, &im), CUDA_ERROR_INVALID_IMAGE);
	free(f);
}

Test(lib_fatbin, cubin_and_ptx_pass_whole)
{
	size_t len;
	struct vgpu_image im;
	uint8_t *c = slurp("kernels.cubin", &len);
	cr_assert_eq(vgpu_image_prepare(c, 90, &im), CUDA_SUCCESS);
	cr_assert_eq(im.data, c);
	cr_assert_eq(im.len, len);
	cr_assert_null(im.owned);
	free(c);
	uint8_t *p = slurp("kernels.ptx", &len);
	cr_assert_eq(vgpu_image_prepare(p, 90, &im), CUDA_SUCCESS);
	cr_assert_eq(im.data, p);
	cr_assert_eq(im.len, len + 1); /* the NUL travels too */
	free(p);
	cr_assert_eq(vgpu_image_prepare(NULL, 90, &im), CUDA_ERROR_INVALID_VALUE);
}

Test(lib_fatbin, selection_loads_in_the_sim)
{
	size_t len;
	char err[256];
	struct vgpu_driver d;
	uint8_t *f = slurp("kernels_multi.fatbin", &len);
	struct vgpu_image im;
	cr_assert_eq(vgpu_image_prepare(f, 90, &im), CUDA_SUCCESS);
	struct sim_image si, whole;
	cr_assert_eq(vgpu_backend_sim_open(&d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sim_image_parse(im.data, &si), CUDA_SUCCESS);
	cr_assert_eq(sim_image_parse(f, &whole), CUDA_SUCCESS);
	/* the same kernels as the sim finds in the whole fatbin */
	cr_assert_geq(si.nk, 8);
	cr_assert_eq(si.nk, whole.nk);
	for (size_t i = 0; i < si.nk; i++) {
		cr_assert_str_eq(si.k[i].name, whole.k[i].name);
		cr_assert_eq(si.k[i].nparams, whole.k[i].nparams);
	}
	cr_assert_eq(si.binary_version, 90);
	sim_image_free(&si);
	sim_image_free(&whole);
	vgpu_image_release(&im);
	free(f);
}
