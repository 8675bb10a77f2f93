/* guest/cuda/lib_integrity.c - MD2, HMAC-MD2 and the integrity record.
 * See lib_integrity.h. */
#include "lib_integrity.h"
#include <string.h>

/* RFC 1319's substitution table, from the digits of pi. */
static const uint8_t S[256] = {
	41, 46, 67, 201, 162, 216, 124, 1, 61, 54, 84, 161, 236, 240, 6, 19,
	98, 167, 5, 243, 192, 199, 115, 140, 152, 147, 43, 217, 188, 76, 130, 202,
	30, 155, 87, 60, 253, 212, 224, 22, 103, 66, 111, 24, 138, 23, 229, 18,
	190, 78, 196, 214, 218, 158, 222, 73, 160, 251, 245, 142, 187, 47, 238, 122,
	169, 104, 121, 145, 21, 178, 7, 63, 148, 194, 16, 137, 11, 34, 95, 33,
	128, 127, 93, 154, 90, 144, 50, 39, 53, 62, 204, 231, 191, 247, 151, 3,
	255, 25, 48, 179, 72, 165, 181, 209, 215, 94, 146, 42, 172, 86, 170, 198,
	79, 184, 56, 210, 150, 164, 125, 182, 118, 252, 107, 226, 156, 116, 4, 241,
	69, 157, 112, 89, 100, 113, 135, 32, 134, 91, 207, 101, 230, 45, 168, 2,
	27, 96, 37, 173, 174, 176, 185, 246, 28, 70, 97, 105, 52, 64, 126, 15,
	85, 71, 163, 35, 221, 81, 175, 58, 195, 92, 249, 206, 186, 197, 234, 38,
	44, 83, 13, 110, 133, 40, 132, 9, 211, 223, 205, 244, 65, 129, 77, 82,
	106, 220, 55, 200, 108, 193, 171, 250, 36, 225, 123, 8, 12, 189, 177, 74,
	120, 136, 149, 139, 227, 99, 232, 109, 233, 203, 213, 254, 59, 0, 29, 57,
	242, 239, 183, 14, 102, 88, 208, 228, 166, 119, 114, 248, 235, 117, 75, 10,
	49, 68, 80, 180, 143, 237, 31, 26, 219, 153, 141, 51, 159, 17, 131, 20,
};

void vgpu_md2_init(struct vgpu_md2 *m)
{
	memset(m, 0, sizeof(*m));
}

static void block(struct vgpu_md2 *m, const uint8_t b[16])
{
	uint8_t l = m->c[15];
	for (int j = 0; j < 16; j++) {
		m->x[16 + j] = b[j];
		m->x[32 + j] = (uint8_t)(m->x[16 + j] ^ m->x[j]);
		l = m->c[j] ^= S[b[j] ^ l];
	}
	uint8_t t = 0;
	for (int round = 0; round < 18; round++) {
		for (int k = 0; k < 48; k++)
			t = m->x[k] ^= S[t];
		t = (uint8_t)(t + round);
	}
}

void vgpu_md2_update(struct vgpu_md2 *m, const void *p, size_t len)
{
	const uint8_t *s = p;
	while (len--) {
		m->buf[m->n++] = *s++;
		if (m->n == 16) {
			block(m, m->buf);
			m->n = 0;
		}
	}
}

void vgpu_md2_final(struct vgpu_md2 *m, uint8_t digest[16])
{
	uint8_t pad[16], c[16];
	unsigned k = 16 - m->n;
	memset(pad, (int)k, sizeof(pad));
	vgpu_md2_update(m, pad, k);
	memcpy(c, m->c, 16);
	vgpu_md2_update(m, c, 16);
	memcpy(digest, m->x, 16);
}

static void put(uint8_t **p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		*(*p)++ = (uint8_t)(v >> (8 * i));
}

static const uint8_t key[16] = {
	0x14, 0x6a, 0xdd, 0xae, 0x53, 0xa9, 0xa7, 0x52,
	0xaa, 0x08, 0x41, 0x36, 0x0b, 0xf5, 0x5a, 0x9f,
};

static void keyed(struct vgpu_md2 *m, uint8_t pad)
{
	uint8_t k[16];
	for (int i = 0; i < 16; i++)
		k[i] = key[i] ^ pad;
	vgpu_md2_init(m);
	vgpu_md2_update(m, k, 16);
}

void vgpu_integrity_hash(const struct vgpu_integrity_in *in,
			 const struct vgpu_integrity_dev *devs, int ndevs,
			 uint64_t out[2])
{
	if (in->version % 10 == 0 || in->version % 10 == 1) {
		out[0] = in->version % 10 ? 0x1841181C03CB675Cull
					  : 0x3341181C03CB675Cull;
		out[1] = 0x8ED383AA1F4CD1E8ull;
		return;
	}
	uint8_t rec[48], *p = rec, inner[16], digest[16];
	put(&p, in->driver_version, 4);
	put(&p, in->version, 4);
	put(&p, in->pid, 4);
	put(&p, in->thread, 4);
	put(&p, in->cudart_table, 8);
	put(&p, in->integrity_table, 8);
	put(&p, in->fn, 8);
	put(&p, in->unix_seconds, 8);
	struct vgpu_md2 m;
	keyed(&m, 0x36);
	vgpu_md2_update(&m, rec, sizeof(rec));
	for (int d = 0; d < ndevs; d++) {
		uint8_t dev[28], *q = dev;
		memcpy(q, devs[d].uuid, 16);
		q += 16;
		put(&q, (uint32_t)devs[d].pci_domain, 4);
		put(&q, (uint32_t)devs[d].pci_bus, 4);
		put(&q, (uint32_t)devs[d].pci_device, 4);
		vgpu_md2_update(&m, dev, sizeof(dev));
	}
	vgpu_md2_final(&m, inner);
	keyed(&m, 0x5c);
	vgpu_md2_update(&m, inner, 16);
	vgpu_md2_final(&m, digest);
	memcpy(out, digest, 16); /* native order, as the driver returns it */
}
