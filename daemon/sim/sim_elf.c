/* daemon/sim/sim_elf.c - kernels, parameter layouts and globals of a cubin.
 *
 * Contract: sim_elf_parse reads an nvcc cubin (ELF64 little-endian,
 * e_machine EM_CUDA = 190) of at most len bytes, never reading outside
 * them, and returns CUDA_ERROR_INVALID_IMAGE for anything malformed.
 * Kernels: STT_FUNC symbols marked as entry points (st_other bit 0x10;
 * non-kernel __device__ functions lack it) whose section is
 * ".text.<name>". Parameters: the ".nv.info.<name>" section, a sequence of
 * attributes {u8 format, u8 id, u16 value-or-size}, where format 4 is
 * followed by `size` bytes of payload and the other formats carry their
 * value in the u16. EIATTR_KPARAM_INFO (0x17), one per parameter, payload
 * {u32 0, u16 ordinal, u16 offset, u32 bits with the size in bits 18..31};
 * EIATTR_PARAM_CBANK (0x0a), payload {u32 symbol, u16 offset, u16 total
 * size}; EIATTR_CBANK_PARAM_SIZE (0x19), the total in the u16. Registers:
 * EIATTR_REGCOUNT (0x2f) in ".nv.info", payload {u32 symbol, u32 count}.
 * Checked against nvcc 13.0 output of tests/gpu/kernels.cu with readelf
 * (see tests/unit/test_sim.c, param_layout_*). Globals: STT_OBJECT symbols
 * in .nv.global* (zeroed if NOBITS) and .nv.constant* sections, with the
 * symbol's size and the section's bytes at the symbol's value.
 */
#include "sim.h"
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#define EM_CUDA_ 190
#define STO_ENTRY 0x10
#define EIFMT_SVAL 4
#define EIATTR_PARAM_CBANK 0x0a
#define EIATTR_KPARAM_INFO 0x17
/* nvcc 13 describes a kernel with a parameter over 16 KiB (which 0x17's
 * 14-bit size cannot state) with this instead, payload {u32 0, u16
 * ordinal, u16 offset, u32 size}: tests/gpu/kernels.cu vgpu_big_param's
 * .nv.info reads 00000000 0100 007d 08000000 (param 1 at 32000, 8 bytes)
 * and 00000000 0000 0000 007d0000 (param 0 at 0, 32000 bytes). */
#define EIATTR_KPARAM_INFO_V2 0x45
#define EIATTR_CBANK_PARAM_SIZE 0x19
#define EIATTR_REGCOUNT 0x2f
#define ELF_MAX (1ull << 30)
#define MAX_PARAMS 4096

struct elf {
	const uint8_t *p;
	size_t len;
	Elf64_Shdr *sh;
	size_t shnum;
	size_t symtab;            /* section index, 0 if none */
};

/* Bytes [off, off+n) of the file, or NULL if they are not all inside. */
static const uint8_t *at(const struct elf *e, uint64_t off, uint64_t n)
{
	if (off > e->len || n > e->len - off)
		return NULL;
	return e->p + off;
}

/* A NUL-terminated string at off inside section i, or NULL. */
static const char *str(const struct elf *e, size_t i, uint64_t off)
{
	if (i == 0 || i >= e->shnum || off >= e->sh[i].sh_size)
		return NULL;
	const char *s = (const char *)at(e, e->sh[i].sh_offset + off,
					 e->sh[i].sh_size - off);
	return s && memchr(s, 0, e->sh[i].sh_size - off) ? s : NULL;
}

static const char *sec_name(const struct elf *e, size_t i, size_t shstrndx)
{
	return i < e->shnum ? str(e, shstrndx, e->sh[i].sh_name) : NULL;
}

/* Section named prefix+name, or 0. */
static size_t find_sec(const struct elf *e, size_t shstrndx,
		       const char *prefix, const char *name)
{
	size_t pl = strlen(prefix);
	for (size_t i = 1; i < e->shnum; i++) {
		const char *n = sec_name(e, i, shstrndx);
		if (n && !strncmp(n, prefix, pl) && !strcmp(n + pl, name))
			return i;
	}
	return 0;
}

static bool header_ok(const Elf64_Ehdr *h)
{
	return h->e_ident[EI_CLASS] == ELFCLASS64 &&
	       h->e_ident[EI_DATA] == ELFDATA2LSB &&
	       h->e_machine == EM_CUDA_ && h->e_shentsize == sizeof(Elf64_Shdr) &&
	       h->e_shnum > 0 && h->e_shstrndx < h->e_shnum;
}

size_t sim_elf_extent(const uint8_t *p)
{
	Elf64_Ehdr h;
	memcpy(&h, p, sizeof(h));
	if (!header_ok(&h) || h.e_shoff > ELF_MAX)
		return 0;
	uint64_t end = h.e_shoff + (uint64_t)h.e_shnum * sizeof(Elf64_Shdr);
	if (h.e_phnum && h.e_phoff < ELF_MAX &&
	    h.e_phoff + (uint64_t)h.e_phnum * h.e_phentsize > end)
		end = h.e_phoff + (uint64_t)h.e_phnum * h.e_phentsize;
	for (size_t i = 0; i < h.e_shnum; i++) {
		Elf64_Shdr s;
		memcpy(&s, p + h.e_shoff + i * sizeof(s), sizeof(s));
		if (s.sh_type == SHT_NOBITS)
			continue;
		if (s.sh_offset > ELF_MAX || s.sh_size > ELF_MAX)
			return 0;
		if (s.sh_offset + s.sh_size > end)
			end = s.sh_offset + s.sh_size;
	}
	return end > ELF_MAX ? 0 : (size_t)end;
}

/* ---- .nv.info attributes ----------------------------------------------- */

struct attr {
	uint8_t fmt, id;
	uint16_t val;             /* the value, or the payload's size */
	const uint8_t *payload;   /* format 4 only */
};

/* The attribute at *off of section i; advances *off. */
static bool next_attr(const struct elf *e, size_t i, uint64_t *off,
		      struct attr *a)
{
	uint64_t size = e->sh[i].sh_size;
	const uint8_t *h = at(e, e->sh[i].sh_offset + *off, 4);
	if (*off + 4 > size || !h)
		return false;
	a->fmt = h[0];
	a->id = h[1];
	memcpy(&a->val, h + 2, 2);
	*off += 4;
	a->payload = NULL;
	if (a->fmt != EIFMT_SVAL)
		return true;
	/* the payload must be in the file too, not only in the section: a
	 * NOBITS section's offset and size were never checked against it
	 * (a guest's cubin read past the image: found with fuzz_worker) */
	if (*off + a->val > size ||
	    !at(e, e->sh[i].sh_offset + *off, a->val))
		return false;
	a->payload = h + 4;
	*off += a->val;
	return true;
}

static uint16_t u16at(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static uint32_t u32at(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* One KPARAM_INFO into the ordinal-indexed table (size 0 = unset). */
static CUresult add_param(struct sim_kdesc *k, const struct attr *a)
{
	if (a->val < 12)
		return CUDA_ERROR_INVALID_IMAGE;
	uint16_t ord = u16at(a->payload + 4), off = u16at(a->payload + 6);
	uint32_t size = a->id == EIATTR_KPARAM_INFO_V2
				? u32at(a->payload + 8) & 0xffff
				: u32at(a->payload + 8) >> 18;
	if (ord >= MAX_PARAMS || size == 0)
		return CUDA_ERROR_INVALID_IMAGE;
	if (ord >= k->nparams) {
		struct sim_param *v = realloc(k->params, (ord + 1) * sizeof(*v));
		if (!v)
			return CUDA_ERROR_OUT_OF_MEMORY;
		memset(v + k->nparams, 0, (ord + 1 - k->nparams) * sizeof(*v));
		k->params = v;
		k->nparams = ord + 1u;
	}
	if (k->params[ord].size) /* the same ordinal twice */
		return CUDA_ERROR_INVALID_IMAGE;
	k->params[ord] = (struct sim_param){off, size};
	return CUDA_SUCCESS;
}

/* Every ordinal present, every parameter inside the buffer. */
static CUresult check_params(struct sim_kdesc *k, uint32_t cbank)
{
	uint32_t end = 0;
	for (uint32_t i = 0; i < k->nparams; i++) {
		const struct sim_param *p = &k->params[i];
		if (!p->size)
			return CUDA_ERROR_INVALID_IMAGE;
		if (p->offset + p->size > end)
			end = p->offset + p->size;
	}
	k->argsize = cbank ? cbank : end;
	if (end > k->argsize || k->argsize > SIM_MAX_PARAM_BYTES)
		return CUDA_ERROR_INVALID_IMAGE;
	return CUDA_SUCCESS;
}

static CUresult kernel_info(const struct elf *e, size_t shstrndx,
			    struct sim_kdesc *k)
{
	size_t i = find_sec(e, shstrndx, ".nv.info.", k->name);
	uint64_t off = 0;
	uint32_t cbank = 0;
	struct attr a;
	if (!i) /* no attributes: a kernel without parameters */
		return CUDA_SUCCESS;
	while (off < e->sh[i].sh_size) {
		if (!next_attr(e, i, &off, &a))
			return CUDA_ERROR_INVALID_IMAGE;
		CUresult rc = CUDA_SUCCESS;
		if ((a.id == EIATTR_KPARAM_INFO ||
		     a.id == EIATTR_KPARAM_INFO_V2) && a.payload)
			rc = add_param(k, &a);
		else if (a.id == EIATTR_PARAM_CBANK && a.payload && a.val >= 8)
			cbank = u16at(a.payload + 6);
		else if (a.id == EIATTR_CBANK_PARAM_SIZE && !a.payload && !cbank)
			cbank = a.val;
		if (rc)
			return rc;
	}
	return check_params(k, cbank);
}

/* EIATTR_REGCOUNT of symbol sym in ".nv.info", 0 if absent. */
static int regcount(const struct elf *e, size_t shstrndx, uint32_t sym)
{
	size_t i = find_sec(e, shstrndx, ".nv.info", "");
	uint64_t off = 0;
	struct attr a;
	while (i && off < e->sh[i].sh_size && next_attr(e, i, &off, &a))
		if (a.id == EIATTR_REGCOUNT && a.payload && a.val >= 8 &&
		    u32at(a.payload) == sym)
			return (int)u32at(a.payload + 4);
	return 0;
}

/* ---- symbols ------------------------------------------------------------ */

static CUresult add_kernel(const struct elf *e, size_t shstrndx,
			   const char *name, uint32_t sym, struct sim_image *im)
{
	struct sim_kdesc k = {.name = strdup(name)};
	if (!k.name)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult rc = kernel_info(e, shstrndx, &k);
	size_t sh = find_sec(e, shstrndx, ".nv.shared.", name);
	k.shared = sh ? (uint32_t)e->sh[sh].sh_size : 0;
	k.nregs = regcount(e, shstrndx, sym);
	if (!rc && sim_image_add_kernel(im, &k))
		rc = CUDA_ERROR_OUT_OF_MEMORY;
	if (rc) {
		sim_detail("cubin: bad parameter information for kernel %s",
			   name);
		free(k.name);
		free(k.params);
	}
	return rc;
}

static CUresult add_global(const struct elf *e, const Elf64_Sym *s,
			   const char *name, struct sim_image *im)
{
	const Elf64_Shdr *sec = &e->sh[s->st_shndx];
	struct sim_gdesc g = {.size = s->st_size};
	if (s->st_value > sec->sh_size || s->st_size > sec->sh_size - s->st_value)
		return CUDA_ERROR_INVALID_IMAGE;
	if (sec->sh_type != SHT_NOBITS) {
		g.init = at(e, sec->sh_offset + s->st_value, s->st_size);
		g.init_len = s->st_size;
		if (!g.init)
			return CUDA_ERROR_INVALID_IMAGE;
	}
	if (!(g.name = strdup(name)))
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (sim_image_add_global(im, &g)) {
		free(g.name);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return CUDA_SUCCESS;
}

static bool is_kernel(const struct elf *e, size_t shstrndx,
		      const Elf64_Sym *s, const char *name)
{
	const char *sec = sec_name(e, s->st_shndx, shstrndx);
	return ELF64_ST_TYPE(s->st_info) == STT_FUNC &&
	       (s->st_other & STO_ENTRY) && sec &&
	       !strncmp(sec, ".text.", 6) && !strcmp(sec + 6, name);
}

static bool is_global(const struct elf *e, size_t shstrndx,
		      const Elf64_Sym *s)
{
	const char *sec = sec_name(e, s->st_shndx, shstrndx);
	return ELF64_ST_TYPE(s->st_info) == STT_OBJECT && s->st_size &&
	       s->st_shndx != SHN_UNDEF && s->st_shndx < SHN_LORESERVE && sec &&
	       (!strncmp(sec, ".nv.global", 10) ||
		!strncmp(sec, ".nv.constant", 12));
}

static CUresult symbols(const struct elf *e, size_t shstrndx,
			struct sim_image *im)
{
	const Elf64_Shdr *st = &e->sh[e->symtab];
	size_t n = st->sh_size / sizeof(Elf64_Sym);
	if (!at(e, st->sh_offset, st->sh_size))
		return CUDA_ERROR_INVALID_IMAGE;
	for (size_t i = 1; i < n; i++) {
		Elf64_Sym s;
		memcpy(&s, e->p + st->sh_offset + i * sizeof(s), sizeof(s));
		const char *name = str(e, st->sh_link, s.st_name);
		CUresult rc = CUDA_SUCCESS;
		if (!name || !*name)
			continue;
		if (is_kernel(e, shstrndx, &s, name))
			rc = add_kernel(e, shstrndx, name, (uint32_t)i, im);
		else if (is_global(e, shstrndx, &s))
			rc = add_global(e, &s, name, im);
		if (rc)
			return rc;
	}
	return CUDA_SUCCESS;
}

static CUresult load_sections(struct elf *e, const Elf64_Ehdr *h)
{
	const uint8_t *sh = at(e, h->e_shoff, (uint64_t)h->e_shnum * sizeof(Elf64_Shdr));
	if (!sh)
		return CUDA_ERROR_INVALID_IMAGE;
	e->shnum = h->e_shnum;
	e->sh = malloc(e->shnum * sizeof(*e->sh));
	if (!e->sh)
		return CUDA_ERROR_OUT_OF_MEMORY;
	memcpy(e->sh, sh, e->shnum * sizeof(*e->sh));
	for (size_t i = 1; i < e->shnum; i++) {
		const Elf64_Shdr *s = &e->sh[i];
		if (s->sh_type != SHT_NOBITS && !at(e, s->sh_offset, s->sh_size))
			return CUDA_ERROR_INVALID_IMAGE;
		if (s->sh_type == SHT_SYMTAB && !e->symtab &&
		    s->sh_entsize == sizeof(Elf64_Sym) && s->sh_link < e->shnum)
			e->symtab = i;
	}
	return CUDA_SUCCESS;
}

CUresult sim_elf_parse(const uint8_t *p, size_t len, struct sim_image *im)
{
	struct elf e = {.p = p, .len = len};
	Elf64_Ehdr h;
	CUresult rc = CUDA_ERROR_INVALID_IMAGE;
	if (len >= sizeof(h)) {
		memcpy(&h, p, sizeof(h));
		if (!memcmp(h.e_ident, ELFMAG, SELFMAG) && header_ok(&h))
			rc = load_sections(&e, &h);
	}
	if (!rc && !e.symtab)
		rc = CUDA_ERROR_INVALID_IMAGE;
	if (!rc)
		rc = symbols(&e, h.e_shstrndx, im);
	im->binary_version = SIM_SM_VERSION;
	im->ptx_version = SIM_SM_VERSION;
	if (rc == CUDA_ERROR_INVALID_IMAGE && !*vgpu_sim_last_error_detail())
		sim_detail("malformed cubin");
	free(e.sh);
	return rc;
}
