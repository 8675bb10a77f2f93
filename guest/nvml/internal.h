/* guest/nvml/internal.h - shared state of the guest NVML library.
 *
 * Contract: libvgpu-nvml.so (installed as libnvidia-ml.so.1) answers from
 * the VM info block vgpud publishes in the region (ring/vminfo.h), which
 * it maps read-only; it sends nothing to the daemon, so no NVML call
 * claims a channel or creates a CUDA context. nvmlInit* maps the region
 * (reference counted, as NVML's init/shutdown pairs are); every query
 * takes a consistent snapshot with vn_device()/vn_snapshot() and answers
 * from it. One device per GPU of the VM (docs/multigpu.md), index i the
 * VM's GPU i, with the identity the guest libcuda reports too (the same
 * per-VM UUID and bus id); CUDA_VISIBLE_DEVICES does not apply, as with
 * the real NVML. Sensors are the VM's first GPU's only.
 */
#ifndef VGPU_GUEST_NVML_INTERNAL_H
#define VGPU_GUEST_NVML_INTERNAL_H

#include "../../ring/vminfo.h"
#include "../cuda/export.h"
#include "nvml_api.h"
#include <stdbool.h>
#include <stddef.h>

/* Snapshot of the block; NVML_ERROR_UNINITIALIZED before nvmlInit. */
nvmlReturn_t vn_snapshot(struct vgpu_vminfo *s);
/* Snapshot for a query on device d: UNINITIALIZED, INVALID_ARGUMENT for
 * a handle that is not ours, GPU_IS_LOST when the daemon's block is gone
 * or no longer describes a device. */
nvmlReturn_t vn_device(nvmlDevice_t d, struct vgpu_vminfo *s);
/* The handle of device 0, of device i; a handle's index (-1: not ours);
 * the number of devices a snapshot describes; a snapshot made to
 * describe device i (its identity, memory; sensors only for 0). */
nvmlDevice_t vn_handle(void);
nvmlDevice_t vn_handle_of(unsigned i);
int vn_index(nvmlDevice_t d);
unsigned vn_count(const struct vgpu_vminfo *s);
void vn_select(struct vgpu_vminfo *s, unsigned i);
/* Is there a device to report (identity published)? */
static inline bool vn_present(const struct vgpu_vminfo *s)
{
	return (s->valid & VGPU_VMI_IDENTITY) != 0;
}

/* Copy a string into a caller's buffer of len bytes, NVML's way:
 * INVALID_ARGUMENT for NULL, INSUFFICIENT_SIZE when it does not fit. */
nvmlReturn_t vn_str(char *dst, unsigned len, const char *src);

/* A group of fields the host could not supply answers NOT_SUPPORTED. */
static inline nvmlReturn_t vn_need(const struct vgpu_vminfo *s, uint64_t bit)
{
	return (s->valid & bit) ? NVML_SUCCESS : NVML_ERROR_NOT_SUPPORTED;
}

/* Derived identity (guest/nvml/device.c). */
void vn_uuid(const struct vgpu_vminfo *s, char out[VGPU_UUID_STR]);
void vn_serial(const struct vgpu_vminfo *s, char out[32]);
int vn_attr(const struct vgpu_vminfo *s, int attr);
/* Per-VM memory view: total = quota (else physical), free = min(quota -
 * VM use, physical free), used = VM use, reserved = what neither covers
 * (memory other tenants hold). */
void vn_memory(const struct vgpu_vminfo *s, unsigned long long *total,
	       unsigned long long *free, unsigned long long *used,
	       unsigned long long *reserved);

/* Application clocks (guest/nvml/board.c), for nvmlDeviceGetClock. */
nvmlReturn_t vn_app_clock(nvmlDevice_t d, nvmlClockType_t t, unsigned *out,
			  bool dflt);

/* Snapshot for device d with the field group bit present and out
 * non-NULL: the checks every one-value query makes first. */
static inline nvmlReturn_t vn_get(nvmlDevice_t d, struct vgpu_vminfo *s,
				  uint64_t bit, const void *out)
{
	nvmlReturn_t r = vn_device(d, s);
	if (!r)
		r = vn_need(s, bit);
	if (!r && !out)
		r = NVML_ERROR_INVALID_ARGUMENT;
	return r;
}

/* An export answering one value of the snapshot: expr may use s. */
#define VN_VAL(name, type, bit, expr)                                        \
	VGPU_EXPORT nvmlReturn_t name(nvmlDevice_t d, type *out)             \
	{                                                                    \
		struct vgpu_vminfo s;                                        \
		nvmlReturn_t r = vn_get(d, &s, bit, out);                    \
		if (!r)                                                      \
			*out = (type)(expr);                                 \
		return r;                                                    \
	}

#endif
