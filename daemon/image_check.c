/* daemon/image_check.c - bounds of cubin (ELF64) and fatbin images. */
#include "image_check.h"
#include <string.h>

#define FATBIN_MAGIC 0xBA55ED50u
#define WRAPPER_MAGIC 0x466243B1u

static uint64_t rd(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	memcpy(&v, p, n); /* little-endian: x86_64 only, like the ring */
	return v;
}

/* [off, off + n) inside [0, len), without overflow */
static bool within(uint64_t off, uint64_t n, uint64_t len)
{
	return off <= len && n <= len - off;
}

static bool elf_fits(const uint8_t *e, uint64_t len)
{
	if (len < 64 || memcmp(e, "\177ELF", 4) || e[4] != 2 /* 64-bit */)
		return false;
	uint64_t phoff = rd(e + 32, 8), shoff = rd(e + 40, 8);
	uint64_t phent = rd(e + 54, 2), phnum = rd(e + 56, 2);
	uint64_t shent = rd(e + 58, 2), shnum = rd(e + 60, 2);
	if ((phnum && phent < 56) || (shnum && shent < 64) ||
	    !within(phoff, phent * phnum, len) ||
	    !within(shoff, shent * shnum, len))
		return false;
	for (uint64_t i = 0; i < shnum; i++) {
		const uint8_t *sh = e + shoff + i * shent;
		uint32_t type = (uint32_t)rd(sh + 4, 4);
		if (type != 8 /* SHT_NOBITS */ &&
		    !within(rd(sh + 24, 8), rd(sh + 32, 8), len))
			return false;
	}
	for (uint64_t i = 0; i < phnum; i++) {
		const uint8_t *ph = e + phoff + i * phent;
		if (!within(rd(ph + 8, 8), rd(ph + 32, 8), len)) /* filesz */
			return false;
	}
	return true;
}

/* Entries: {u16 kind, u16, u32 header_size, u32 payload_size, u32,
 * u32 compressed_size, ..., u64 flags @40}; the stored bytes are the larger
 * of the two sizes. Kind 2 is an ELF, whose own sizes must stay inside. */
static bool fatbin_fits(const uint8_t *f, uint64_t len)
{
	if (len < 16)
		return false;
	uint64_t hdr = rd(f + 6, 2), files = rd(f + 8, 8);
	if (hdr < 16 || !within(hdr, files, len))
		return false;
	uint64_t off = hdr, end = hdr + files;
	while (off < end) {
		if (!within(off, 64, end))
			return false;
		const uint8_t *ent = f + off;
		uint64_t eh = rd(ent + 4, 4), payload = rd(ent + 8, 4);
		uint64_t packed = rd(ent + 16, 4);
		uint64_t stored = payload > packed ? payload : packed;
		if (eh < 64 || !within(off + eh, stored, end))
			return false;
		if (rd(ent, 2) == 2 && !(rd(ent + 40, 8) & 0xA000) && /* raw */
		    !elf_fits(ent + eh, payload))
			return false;
		off += eh + stored;
	}
	return true;
}

bool vgpu_image_fits(const uint8_t *img, uint64_t len)
{
	if (len >= 4 && !memcmp(img, "\177ELF", 4))
		return elf_fits(img, len);
	if (len >= 4 && (uint32_t)rd(img, 4) == FATBIN_MAGIC)
		return fatbin_fits(img, len);
	if (len >= 4 && (uint32_t)rd(img, 4) == WRAPPER_MAGIC)
		return false; /* holds a guest pointer: meaningless here */
	return true; /* PTX text, NUL-terminated by the caller */
}
