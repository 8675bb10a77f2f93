/* guest/nvml/multigpu.c - peer-to-peer status between the VM's GPUs.
 *
 * Contract: nvmlDeviceGetP2PStatus(a, b, index) answers from the peers the
 * VM's first worker asked the host driver for (cuDeviceCanAccessPeer and
 * the native-atomics attribute, ring/vminfo.h's gpus[].peers), never
 * invented: READ, WRITE and PROP are OK where a reaches b, ATOMICS where
 * it does so with native atomics, NVLINK never (the guest's NVML reports
 * no NVLink, guest/nvml/nvlink.c); NVML_P2P_STATUS_NOT_SUPPORTED
 * otherwise, and for a device with itself (not its own peer, as
 * cuDeviceCanAccessPeer says). NCCL reads the whole matrix at its start
 * and stops if any query fails (docs/multigpu.md). Handles not ours are
 * INVALID_ARGUMENT; an index NVML does not define is INVALID_ARGUMENT.
 */
#include "internal.h"

/* NVML's public values (nvml.h: nvmlGpuP2PCapsIndex_t, nvmlGpuP2PStatus_t) */
enum {
	P2P_READ = 0,
	P2P_WRITE = 1,
	P2P_NVLINK = 2,
	P2P_ATOMICS = 3,
	P2P_PROP = 4,
	P2P_UNKNOWN = 5,
};
enum {
	P2P_STATUS_OK = 0,
	P2P_STATUS_NOT_SUPPORTED = 5,
};

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetP2PStatus(nvmlDevice_t a,
						nvmlDevice_t b, int index,
						int *status);

nvmlReturn_t nvmlDeviceGetP2PStatus(nvmlDevice_t a, nvmlDevice_t b, int index,
				    int *status)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(a, &s);
	if (!r)
		r = vn_device(b, &s);
	if (r)
		return r;
	if (!status || index < P2P_READ || index > P2P_UNKNOWN)
		return NVML_ERROR_INVALID_ARGUMENT;
	int i = vn_index(a), j = vn_index(b);
	uint32_t peers = 0;
	if (i != j && (unsigned)i < s.ngpus && j < 32)
		peers = index == P2P_ATOMICS ? s.gpus[i].peer_atomics
					     : s.gpus[i].peers;
	bool ok = index != P2P_NVLINK && index != P2P_UNKNOWN &&
		  (peers >> j & 1);
	*status = ok ? P2P_STATUS_OK : P2P_STATUS_NOT_SUPPORTED;
	return NVML_SUCCESS;
}
