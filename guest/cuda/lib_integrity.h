/* guest/cuda/lib_integrity.h - the value the runtime's integrity check
 * expects from the driver.
 *
 * Contract: the CUDA runtime calls entry 1 of the INTEGRITY_CHECK export
 * table with (version, unix_seconds, out[2]) and compares out with what it
 * computes itself from values it can see: a mismatch is
 * cudaErrorIntegrityCheckFailed (103). Public notes (ZLUDA dark_api,
 * lupine; reference/dark-api-and-discovery.md) give the computation:
 * version % 10 == 0 or 1 select fixed values; otherwise HMAC-MD2
 * (RFC 2104 over RFC 1319, 16-byte block) keyed with a fixed 16-byte key
 * over a 48-byte record {u32 driver version as cuDriverGetVersion reports
 * it, u32 version, u32 pid, u32 low half of pthread_self(), u64 address
 * of the CUDART_INTERFACE table, u64 address of the INTEGRITY_CHECK table,
 * u64 the function in its slot 1, u64 unix_seconds} followed by 28 bytes
 * per device {16-byte UUID, i32 PCI domain, i32 PCI bus, i32 PCI device},
 * all little-endian; the digest is returned as two native u64. Pure: the
 * caller gathers the inputs (export_integrity.c), the tests feed vectors
 * captured from the real driver (tests/data/integrity-vectors.txt).
 */
#ifndef VGPU_GUEST_CUDA_LIB_INTEGRITY_H
#define VGPU_GUEST_CUDA_LIB_INTEGRITY_H

#include <stddef.h>
#include <stdint.h>

struct vgpu_integrity_in {
	uint32_t driver_version, version, pid, thread;
	uint64_t cudart_table, integrity_table, fn, unix_seconds;
};

struct vgpu_integrity_dev {
	uint8_t uuid[16];
	int32_t pci_domain, pci_bus, pci_device;
};

void vgpu_integrity_hash(const struct vgpu_integrity_in *in,
			 const struct vgpu_integrity_dev *devs, int ndevs,
			 uint64_t out[2]);

/* MD2 (RFC 1319), for the hash and its tests. */
struct vgpu_md2 {
	uint8_t x[48], c[16], buf[16];
	unsigned n; /* bytes in buf */
};
void vgpu_md2_init(struct vgpu_md2 *m);
void vgpu_md2_update(struct vgpu_md2 *m, const void *p, size_t len);
void vgpu_md2_final(struct vgpu_md2 *m, uint8_t digest[16]);

#endif
