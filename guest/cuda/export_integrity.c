/* guest/cuda/export_integrity.c - INTEGRITY_CHECK.
 *
 * GUID d4082055-bde6-704b-8d34-ba123c66e1f2, 3 slots (0x18). Entry 1 is
 * (uint32_t version, uint64_t unix_seconds, uint64_t out[2]) -> CUresult:
 * the runtime checks out against its own computation (lib_integrity.h),
 * so every input is what the guest shows the runtime: our driver version,
 * our tables' addresses, and each device's UUID and PCI location as
 * cuDeviceGetUuid / cuDeviceGetAttribute report them (the VM's virtual
 * identity, not the host's). Computed here, never forwarded: the host's
 * answer is over the host's values.
 */
#include "export_table.h"
#include "lib_integrity.h"
#include "rpc.h"
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define NAME "INTEGRITY_CHECK"

static const vgpu_slot slots[3];

static CUresult device(int i, struct vgpu_integrity_dev *d)
{
	CUdevice dev;
	CUuuid u;
	CUresult r = cuDeviceGet(&dev, i);
	if (!r)
		r = cuDeviceGetUuid_v2(&u, dev);
	if (!r)
		r = cuDeviceGetAttribute(&d->pci_domain,
					 CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, dev);
	if (!r)
		r = cuDeviceGetAttribute(&d->pci_bus,
					 CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, dev);
	if (!r)
		r = cuDeviceGetAttribute(&d->pci_device,
					 CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, dev);
	if (!r)
		memcpy(d->uuid, u.bytes, 16);
	return r;
}

static CUresult integrity_check(uint32_t version, uint64_t unix_seconds,
				uint64_t out[2])
{
	if (!out)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_integrity_in in = {.version = version};
	if (version % 10 <= 1) { /* fixed answers: nothing to gather */
		vgpu_integrity_hash(&in, NULL, 0, out);
		return CUDA_SUCCESS;
	}
	int drv = 0, n = 0;
	CUresult r = cuDriverGetVersion(&drv);
	if (!r)
		r = cuDeviceGetCount(&n);
	/* every device the process sees, in order (28 bytes each) */
	struct vgpu_integrity_dev devs[VGPU_CU_MAX_DEVS];
	if (n > VGPU_CU_MAX_DEVS)
		return CUDA_ERROR_NOT_SUPPORTED;
	for (int i = 0; !r && i < n; i++)
		r = device(i, &devs[i]);
	if (r)
		return r;
	in.driver_version = (uint32_t)drv;
	in.pid = (uint32_t)getpid();
	in.thread = (uint32_t)pthread_self();
	in.cudart_table = (uint64_t)(uintptr_t)vgpu_export_cudart.slots;
	in.integrity_table = (uint64_t)(uintptr_t)slots;
	in.fn = (uint64_t)(uintptr_t)slots[1];
	in.unix_seconds = unix_seconds;
	vgpu_integrity_hash(&in, devs, n, out);
	return CUDA_SUCCESS;
}

VGPU_EXPORT_STUB(integrity, NAME, 2)

static const vgpu_slot slots[3] = {
	VGPU_SLOT_SIZE(3),
	VGPU_SLOT(integrity_check),
	VGPU_SLOT(integrity_stub_2),
};

const struct vgpu_export_table vgpu_export_integrity = {
	NAME,
	{0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b, 0x8d, 0x34, 0xba, 0x12,
	 0x3c, 0x66, 0xe1, 0xf2},
	slots, 3,
};
