/* guest/cuda/lib_fatbin.c - pick a fatbin's entries for one device.
 *
 * Layout (little-endian; public notes, dark-api-and-discovery.md §3): a
 * 16-byte header {u32 magic, u16 version 1, u16 header size, u64 size of
 * the entries}, then entries, each a header {@0 u16 kind (1 PTX, 2 ELF),
 * @4 u32 header size, @8 u32 payload size, @16 u32 compressed size, @28
 * u32 sm, @40 u64 flags} and its stored bytes, the larger of the two sizes
 * (a compressed payload is padded up to the payload size). */
#include "lib_fatbin.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define KIND_PTX 1
#define KIND_ELF 2
#define FATBIN_MAX (1ull << 32) /* sizes above this are corrupt */

struct ent {
	uint16_t kind;
	uint32_t sm;
	uint64_t off, size; /* from the first entry header; header + stored */
};

static uint64_t rd(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	memcpy(&v, p, n);
	return v;
}

static bool elf_compatible(uint32_t sm, int dev)
{
	return (int)sm / 10 == dev / 10 && (int)sm % 10 <= dev % 10;
}

/* Walk the entries: the best cubin architecture and the newest usable PTX. */
static CUresult scan(const uint8_t *ents, uint64_t files, int dev,
		     uint32_t *best_elf, uint32_t *best_ptx)
{
	*best_elf = *best_ptx = 0;
	for (uint64_t off = 0; files - off >= 64;) {
		const uint8_t *e = ents + off;
		uint64_t eh = rd(e + 4, 4), pay = rd(e + 8, 4), cmp = rd(e + 16, 4);
		uint64_t stored = pay > cmp ? pay : cmp;
		uint32_t kind = (uint32_t)rd(e, 2), sm = (uint32_t)rd(e + 28, 4);
		if (eh < 64 || eh > files - off || stored > files - off - eh)
			return CUDA_ERROR_INVALID_IMAGE;
		if (kind == KIND_ELF && elf_compatible(sm, dev) && sm > *best_elf)
			*best_elf = sm;
		if (kind == KIND_PTX && (int)sm <= dev && sm > *best_ptx)
			*best_ptx = sm;
		off += eh + stored;
	}
	return CUDA_SUCCESS;
}

static bool keep(const uint8_t *e, uint32_t best_elf, uint32_t best_ptx)
{
	uint32_t kind = (uint32_t)rd(e, 2), sm = (uint32_t)rd(e + 28, 4);
	if (best_elf)
		return kind == KIND_ELF && sm == best_elf;
	return kind == KIND_PTX && sm == best_ptx;
}

/* A new fatbin holding the kept entries of f (already bounds-checked). */
static CUresult rebuild(const uint8_t *f, uint64_t hdr, uint64_t files,
			uint32_t best_elf, uint32_t best_ptx,
			struct vgpu_image *out)
{
	uint8_t *n = malloc(16 + files);
	if (!n)
		return CUDA_ERROR_OUT_OF_MEMORY;
	uint64_t w = 16;
	for (uint64_t off = 0; files - off >= 64;) {
		const uint8_t *e = f + hdr + off;
		uint64_t pay = rd(e + 8, 4), cmp = rd(e + 16, 4);
		uint64_t size = rd(e + 4, 4) + (pay > cmp ? pay : cmp);
		if (keep(e, best_elf, best_ptx)) {
			memcpy(n + w, e, size);
			w += size;
			out->kept++;
		} else {
			out->dropped++;
		}
		off += size;
	}
	uint32_t magic = VGPU_FATBIN_MAGIC;
	uint16_t version = 1, hsize = 16;
	uint64_t body = w - 16;
	memcpy(n, &magic, 4);
	memcpy(n + 4, &version, 2);
	memcpy(n + 6, &hsize, 2);
	memcpy(n + 8, &body, 8);
	out->data = out->owned = n;
	out->len = w;
	return CUDA_SUCCESS;
}

/* cubin_only: a PTX entry will not do (see wrapper()). */
static CUresult fatbin(const uint8_t *f, int dev, bool cubin_only,
		       struct vgpu_image *out)
{
	uint64_t version = rd(f + 4, 2), hdr = rd(f + 6, 2), files = rd(f + 8, 8);
	uint32_t best_elf, best_ptx;
	if (version != 1 || hdr < 16 || files > FATBIN_MAX)
		return CUDA_ERROR_INVALID_IMAGE;
	CUresult r = scan(f + hdr, files, dev, &best_elf, &best_ptx);
	if (r)
		return r;
	if (cubin_only && !best_elf)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!best_elf && !best_ptx)
		return CUDA_ERROR_NO_BINARY_FOR_GPU;
	r = rebuild(f, hdr, files, best_elf, best_ptx, out);
	if (!r && out->dropped) {
		out->whole = f;
		out->whole_len = hdr + files;
	}
	return r;
}

/* Bytes a cubin spans: its section or program headers come last. */
static size_t elf_size(const uint8_t *p)
{
	uint64_t phoff = rd(p + 32, 8), shoff = rd(p + 40, 8);
	uint64_t phent = rd(p + 54, 2), phnum = rd(p + 56, 2);
	uint64_t shent = rd(p + 58, 2), shnum = rd(p + 60, 2);
	uint64_t sh = shoff + shent * shnum, ph = phoff + phent * phnum;
	return sh > ph ? sh : ph;
}

static CUresult wrapper(const uint8_t *p, int dev, struct vgpu_image *out)
{
	uint32_t version = (uint32_t)rd(p + 4, 4);
	const uint8_t *data;
	const void *const *prelinked;
	memcpy(&data, p + 8, sizeof(data));
	memcpy(&prelinked, p + 16, sizeof(prelinked));
	if ((version != 1 && version != 2) || !data ||
	    (uint32_t)rd(data, 4) != VGPU_FATBIN_MAGIC)
		return CUDA_ERROR_INVALID_IMAGE;
	/* Relocatable device code (nvcc -rdc): data holds the device-linked
	 * image, prelinked the objects it was linked from. A cubin for this
	 * device in data is the whole program; PTX there would need those
	 * objects linked again by JIT, which is not offered. */
	bool rdc = version == 2 && prelinked && *prelinked;
	return fatbin(data, dev, rdc, out);
}

CUresult vgpu_image_prepare(const void *image, int sm, struct vgpu_image *out)
{
	const uint8_t *p = image;
	memset(out, 0, sizeof(*out));
	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	/* byte by byte: a short PTX string must not be read past its NUL */
	if (p[0] == 0x7f && p[1] == 'E' && p[2] == 'L' && p[3] == 'F') {
		out->data = p;
		out->len = elf_size(p);
		return CUDA_SUCCESS;
	}
	uint32_t magic = 0;
	if (p[0] && p[1] && p[2] && p[3])
		magic = (uint32_t)rd(p, 4);
	if (magic == VGPU_WRAPPER_MAGIC)
		return wrapper(p, sm, out);
	if (magic == VGPU_FATBIN_MAGIC)
		return fatbin(p, sm, false, out);
	out->data = p;
	out->len = strlen((const char *)p) + 1; /* PTX */
	return CUDA_SUCCESS;
}

void vgpu_image_release(struct vgpu_image *im)
{
	free(im->owned);
	memset(im, 0, sizeof(*im));
}
