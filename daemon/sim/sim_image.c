/* daemon/sim/sim_image.c - what cuModuleLoadData was given: a cubin, a
 * fatbin, a fatbin wrapper or PTX text; and the parsed image's storage.
 *
 * Contract: sim_image_parse recognises (a) a cubin (ELF64, e_machine
 * EM_CUDA), (b) a fatbin (magic 0xBA55ED50), (c) a fatbin wrapper (magic
 * 0x466243B1, version 1 or 2, whose data pointer is a fatbin) and (d) PTX
 * text, and fills a struct sim_image. From a fatbin it takes, as the
 * driver does for a 9.0 device, an sm_90 cubin if there is one, else the
 * newest PTX for compute_90 or older; neither is NO_BINARY_FOR_GPU.
 * Fatbin layout (little-endian): a 16-byte header {u32 magic, u16 version
 * 1, u16 header size, u64 size of the entries}, then entries, each a
 * header {@0 u16 kind (1 PTX, 2 ELF), @4 u32 header size (64 or more),
 * @8 u32 payload size, @16 u32 compressed size, @28 u32 sm (90 for sm_90
 * and sm_90a), @40 u64 flags} followed by its payload; the next entry
 * starts after the larger of the two sizes. Sizes come from the image
 * itself (cuModuleLoadData has no length): a fatbin's or ELF's stated size
 * is trusted as the real driver trusts it, and everything inside is
 * bounds-checked against it.
 */
#include "sim.h"
#include <stdlib.h>
#include <string.h>

#define WRAPPER_MAGIC 0x466243b1u
#define FATBIN_MAGIC 0xba55ed50u
#define FATBIN_MAX (1ull << 30)  /* no real fatbin is bigger: a bad size */
#define KIND_PTX 1
#define KIND_ELF 2
/* Entry flags: the payload is compressed. The sim has no LZ4 or ZSTD
 * decoder, so such entries are refused (NOT_SUPPORTED) rather than
 * misread: build test images with nvcc --no-compress. nvcc 13 compresses
 * PTX entries by default, not cubins. */
#define FLAG_LZ4 0x2000ull
#define FLAG_ZSTD 0x8000ull

struct entry {
	uint16_t kind;
	uint32_t header_size, payload_size, compressed_size, sm;
	uint64_t flags;
	const uint8_t *data;
};

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* Compare a magic number byte by byte, stopping at the first difference:
 * a short PTX string must not be read past its NUL. */
static bool has_magic(const uint8_t *p, uint32_t magic)
{
	for (int i = 0; i < 4; i++)
		if (p[i] != (uint8_t)(magic >> (8 * i)))
			return false;
	return true;
}

static bool read_entry(const uint8_t *p, uint64_t left, struct entry *e)
{
	if (left < 64)
		return false;
	memcpy(&e->kind, p, 2);
	e->header_size = rd32(p + 4);
	e->payload_size = rd32(p + 8);
	e->compressed_size = rd32(p + 16);
	e->sm = rd32(p + 28);
	memcpy(&e->flags, p + 40, 8);
	uint64_t stored = e->payload_size > e->compressed_size ?
		e->payload_size : e->compressed_size;
	e->data = p + e->header_size;
	return e->header_size >= 64 && e->header_size <= left &&
	       stored <= left - e->header_size;
}

/* Best ELF and best PTX entry for this device. */
static CUresult pick(const uint8_t *p, uint64_t size, struct entry *elf,
		     struct entry *ptx)
{
	uint64_t off = 0;
	elf->kind = ptx->kind = 0;
	while (size - off >= 64) { /* a shorter tail can only be padding */
		struct entry e;
		if (!read_entry(p + off, size - off, &e))
			return CUDA_ERROR_INVALID_IMAGE;
		if (e.kind == KIND_ELF && e.sm == SIM_SM_VERSION && !elf->kind)
			*elf = e;
		if (e.kind == KIND_PTX && e.sm <= SIM_SM_VERSION &&
		    (!ptx->kind || e.sm > ptx->sm))
			*ptx = e;
		off += e.header_size + (e.payload_size > e.compressed_size ?
					e.payload_size : e.compressed_size);
	}
	return CUDA_SUCCESS;
}

static CUresult load_ptx_entry(const struct entry *e, struct sim_image *im)
{
	char *text = malloc((size_t)e->payload_size + 1);
	if (!text)
		return CUDA_ERROR_OUT_OF_MEMORY;
	memcpy(text, e->data, e->payload_size);
	text[e->payload_size] = 0;
	CUresult rc = sim_ptx_parse(text, im);
	free(text);
	return rc;
}

static CUresult fatbin(const uint8_t *p, struct sim_image *im)
{
	uint16_t version, hsize;
	uint64_t size;
	struct entry elf, ptx;
	memcpy(&version, p + 4, 2);
	memcpy(&hsize, p + 6, 2);
	memcpy(&size, p + 8, 8);
	if (version != 1 || hsize < 16 || size > FATBIN_MAX)
		return CUDA_ERROR_INVALID_IMAGE;
	CUresult rc = pick(p + hsize, size, &elf, &ptx);
	if (rc)
		return rc;
	const struct entry *e = elf.kind ? &elf : ptx.kind ? &ptx : NULL;
	if (!e) {
		sim_detail("fatbin has neither an sm_90 cubin nor PTX for "
			   "compute_90 or older");
		return CUDA_ERROR_NO_BINARY_FOR_GPU;
	}
	if (e->flags & (FLAG_LZ4 | FLAG_ZSTD)) {
		sim_detail("fatbin %s entry is %s-compressed; the sim reads only "
			   "uncompressed fatbins (nvcc --no-compress)",
			   e->kind == KIND_ELF ? "cubin" : "PTX",
			   e->flags & FLAG_LZ4 ? "LZ4" : "ZSTD");
		return CUDA_ERROR_NOT_SUPPORTED;
	}
	if (e->kind == KIND_PTX)
		return load_ptx_entry(e, im);
	return sim_elf_parse(e->data, e->payload_size, im);
}

/* {u32 magic, u32 version, const void *data, const void *extra} */
static CUresult wrapper(const uint8_t *p, struct sim_image *im)
{
	uint32_t version = rd32(p + 4);
	const uint8_t *data;
	memcpy(&data, p + 8, sizeof(data));
	if ((version != 1 && version != 2) || !data ||
	    !has_magic(data, FATBIN_MAGIC)) {
		sim_detail("fatbin wrapper: version %u or its data pointer is "
			   "not a fatbin", version);
		return CUDA_ERROR_INVALID_IMAGE;
	}
	return fatbin(data, im);
}

CUresult sim_image_parse(const void *image, struct sim_image *im)
{
	const uint8_t *p = image;
	memset(im, 0, sizeof(*im));
	if (has_magic(p, WRAPPER_MAGIC))
		return wrapper(p, im);
	if (has_magic(p, FATBIN_MAGIC))
		return fatbin(p, im);
	if (has_magic(p, 0x464c457fu)) { /* "\177ELF" */
		size_t len = sim_elf_extent(p);
		if (!len) {
			sim_detail("not a 64-bit little-endian CUDA ELF");
			return CUDA_ERROR_INVALID_IMAGE;
		}
		return sim_elf_parse(p, len, im);
	}
	return sim_ptx_parse(image, im);
}

void sim_image_free(struct sim_image *im)
{
	for (size_t i = 0; i < im->nk; i++) {
		free(im->k[i].name);
		free(im->k[i].params);
	}
	for (size_t i = 0; i < im->ng; i++) {
		free(im->g[i].name);
		free(im->g[i].owned);
	}
	free(im->k);
	free(im->g);
	memset(im, 0, sizeof(*im));
}

int sim_image_add_kernel(struct sim_image *im, struct sim_kdesc *k)
{
	struct sim_kdesc *v = realloc(im->k, (im->nk + 1) * sizeof(*v));
	if (!v)
		return -1;
	im->k = v;
	v[im->nk++] = *k;
	return 0;
}

int sim_image_add_global(struct sim_image *im, struct sim_gdesc *g)
{
	struct sim_gdesc *v = realloc(im->g, (im->ng + 1) * sizeof(*v));
	if (!v)
		return -1;
	im->g = v;
	v[im->ng++] = *g;
	return 0;
}
