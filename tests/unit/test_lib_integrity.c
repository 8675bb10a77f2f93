/* tests/unit/test_lib_integrity.c - the runtime's integrity value as the
 * guest computes it (guest/cuda/lib_integrity.c): MD2 against RFC 1319's
 * test suite, and the whole computation against the answers NVIDIA's
 * driver gave on a GPU machine (tests/data/integrity-vectors.txt says how
 * they were captured). */
#include "../../guest/cuda/lib_integrity.c" /* the guest's code, linked here */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>

static void md2_hex(const char *s, char hex[33])
{
	struct vgpu_md2 m;
	uint8_t d[16];
	vgpu_md2_init(&m);
	vgpu_md2_update(&m, s, strlen(s));
	vgpu_md2_final(&m, d);
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

Test(lib_integrity, md2_rfc1319_suite)
{
	static const char *in[] = {
		"", "a", "abc", "message digest", "abcdefghijklmnopqrstuvwxyz",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		("1234567890123456789012345678901234567890"
		 "1234567890123456789012345678901234567890"),
	};
	static const char *want[] = {
		"8350e5a3e24c153df2275c9f80692773",
		"32ec01ec4a6dac72c0ab96fb34c0b5d1",
		"da853b0d3f88d99b30283a69e6ded6bb",
		"ab4f496bfb2a530b219ff33031fe06b0",
		"4e8ddff3650292ab5a4108c3aa47940b",
		"da33def2a42df13975352846c30338cd",
		"d5976f79d83d3a0dc9806c3c66f3efd8",
	};
	for (int i = 0; i < 7; i++) {
		char hex[33];
		md2_hex(in[i], hex);
		cr_assert_str_eq(hex, want[i], "MD2(\"%s\")", in[i]);
	}
}

Test(lib_integrity, md2_split_updates_equal_one)
{
	const char *s = "the quick brown fox jumps over the lazy dog, twice";
	struct vgpu_md2 a, b;
	uint8_t da[16], db[16];
	vgpu_md2_init(&a);
	vgpu_md2_update(&a, s, strlen(s));
	vgpu_md2_final(&a, da);
	vgpu_md2_init(&b);
	for (size_t i = 0; i < strlen(s); i += 7)
		vgpu_md2_update(&b, s + i, strlen(s) - i < 7 ? strlen(s) - i : 7);
	vgpu_md2_final(&b, db);
	cr_assert_arr_eq(da, db, 16);
}

/* One "vector ..." line: inputs and the driver's answer. */
static int parse(const char *line, struct vgpu_integrity_in *in,
		 struct vgpu_integrity_dev *d, int *ndev, uint64_t out[2])
{
	char uuid[33];
	unsigned drv, ver, pid, thr;
	int n = sscanf(line,
		       "vector drv=%u version=%u pid=%u thread=%x cudart=%" SCNx64
		       " integrity=%" SCNx64 " fn=%" SCNx64 " secs=%" SCNu64
		       " ndev=%d uuid=%32s pci=%d:%d:%d out=%" SCNx64 ",%" SCNx64,
		       &drv, &ver, &pid, &thr, &in->cudart_table,
		       &in->integrity_table, &in->fn, &in->unix_seconds, ndev,
		       uuid, &d->pci_domain, &d->pci_bus, &d->pci_device, &out[0],
		       &out[1]);
	if (n != 15 || *ndev != 1)
		return -1;
	in->driver_version = drv;
	in->version = ver;
	in->pid = pid;
	in->thread = thr;
	for (int i = 0; i < 16; i++) {
		unsigned b;
		if (sscanf(uuid + 2 * i, "%2x", &b) != 1)
			return -1;
		d->uuid[i] = (uint8_t)b;
	}
	return 0;
}

Test(lib_integrity, equals_the_real_driver_on_captured_vectors)
{
	FILE *f = fopen(VGPU_SRC_DIR "/tests/data/integrity-vectors.txt", "r");
	cr_assert_not_null(f);
	char line[1024];
	int n = 0, computed = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "vector ", 7))
			continue;
		struct vgpu_integrity_in in;
		struct vgpu_integrity_dev d;
		int ndev;
		uint64_t want[2], got[2];
		cr_assert_eq(parse(line, &in, &d, &ndev, want), 0, "%s", line);
		vgpu_integrity_hash(&in, &d, ndev, got);
		cr_assert(got[0] == want[0] && got[1] == want[1],
			  "version %u: %016" PRIx64 " %016" PRIx64 ", driver %016"
			  PRIx64 " %016" PRIx64, in.version, got[0], got[1],
			  want[0], want[1]);
		n++;
		computed += in.version % 10 > 1;
	}
	fclose(f);
	cr_assert_geq(n, 7);
	cr_assert_geq(computed, 5, "too few vectors beyond the fixed values");
}

/* Any input that differs changes the value: the driver's answer depends on
 * each one (a guest that fed the host's values would fail the check). */
Test(lib_integrity, every_input_matters)
{
	struct vgpu_integrity_in base = {13000, 13002, 469, 0xedaed740,
					 0x7f27f368b680, 0x7f27f368b660,
					 0x7f27edfea350, 1764015838};
	struct vgpu_integrity_dev d = {{0x90, 0x49, 0x6d, 0x2f, 0x68, 0xcf, 0xad,
					0x72, 0xf3, 0x61, 0x08, 0xe5, 0x93, 0x67,
					0xde, 0x69}, 0, 0, 6};
	uint64_t ref[2], v[2];
	vgpu_integrity_hash(&base, &d, 1, ref);
	/* the captured line for version 13002 */
	cr_assert_eq(ref[0], 0x112db9300501429aull);
	cr_assert_eq(ref[1], 0xaaecd81655a68817ull);
	for (int field = 0; field < 10; field++) {
		struct vgpu_integrity_in in = base;
		struct vgpu_integrity_dev e = d;
		switch (field) {
		case 0: in.driver_version++; break;
		case 1: in.version += 10; break;
		case 2: in.pid++; break;
		case 3: in.thread++; break;
		case 4: in.cudart_table += 8; break;
		case 5: in.integrity_table += 8; break;
		case 6: in.fn++; break;
		case 7: in.unix_seconds++; break;
		case 8: e.pci_bus++; break;
		case 9: e.uuid[15] ^= 1; break;
		}
		vgpu_integrity_hash(&in, &e, 1, v);
		cr_assert(v[0] != ref[0] || v[1] != ref[1], "field %d", field);
	}
}
