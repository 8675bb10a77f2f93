/* guest/cuda/multigpu.c - the VM's several GPUs: the device list, peer
 * access, and finding a device by its PCI bus id.
 *
 * Contract: cuInit asks the worker how many GPUs the VM has and fetches
 * each one's identity, then applies CUDA_VISIBLE_DEVICES (visible.h) to
 * them: the process's device k is the VM's device visible[k], the worker
 * is told so once (VGPU_MGPU_VISIBLE) and translates every ordinal from
 * then on. An empty list is CUDA_ERROR_NO_DEVICE, as natively. Peer
 * queries and peer access are the worker's answer from the host driver
 * for the host GPUs behind them; nothing is invented here. Copies between
 * GPUs need nothing of this file: the worker holds every context in one
 * process, so cuMemcpyPeer, cuMemcpyDtoD and cuMemcpy between GPUs are
 * device-to-device copies in one address space (guest/cuda/mem_copy.c).
 */
#include "rpc.h"
#include "visible.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct vgpu_cu_devinfo *vgpu_cu_dev(CUdevice dev)
{
	if (dev < 0 || dev >= vgpu_cu.ndev)
		return NULL;
	return dev == 0 ? &vgpu_cu.info : &vgpu_cu.more[dev - 1];
}

static CUresult mgpu(struct vgpu_cu_args *a, const char *name)
{
	return vgpu_cu_rpc(VGPU_CU_MGPU, a, true, name);
}

static CUresult fetch(uint64_t which, struct vgpu_cu_devinfo *out)
{
	struct vgpu_cu_xfer x = {which, VGPU_CU_NO_STREAM};
	CUresult r = vgpu_cu_stream_in(VGPU_CU_DEVICE_INFO, &x, out,
				       sizeof(*out));
	out->name[sizeof(out->name) - 1] = 0;
	out->pci_bus_id[sizeof(out->pci_bus_id) - 1] = 0;
	if (out->nattrs > VGPU_CU_MAX_ATTRS)
		out->nattrs = VGPU_CU_MAX_ATTRS;
	return r;
}

/* Tell the worker which VM devices the process sees, in order. */
static CUresult tell_visible(const int *vis, int k)
{
	struct vgpu_cu_args a = {{VGPU_MGPU_VISIBLE, (uint64_t)k}};
	uint8_t b[16] = {0};
	for (int i = 0; i < k; i++)
		b[i] = (uint8_t)vis[i];
	memcpy(&a.a[2], b, sizeof(b));
	return mgpu(&a, "cuInit (CUDA_VISIBLE_DEVICES)");
}

CUresult vgpu_cu_devices_init(void)
{
	static struct vgpu_cu_devinfo vm[VGPU_CU_MAX_DEVS];
	static char uuids[VGPU_CU_MAX_DEVS][VGPU_UUID_STR];
	struct vgpu_cu_args a = {{VGPU_MGPU_COUNT}};
	int vis[VGPU_CU_MAX_DEVS];
	CUresult r = mgpu(&a, "cuInit (device count)");
	if (r || a.a[0] < 1 || a.a[0] > VGPU_CU_MAX_DEVS) {
		fprintf(stderr, "vgpu: cuInit: vgpud did not list the VM's GPUs "
			"(CUresult %d)\n", (int)r);
		return CUDA_ERROR_NO_DEVICE;
	}
	int n = (int)a.a[0];
	vm[0] = vgpu_cu.info; /* DEVICE_INFO's device 0: the VM's first */
	for (int i = 1; i < n && !r; i++)
		r = fetch(VGPU_CU_DEVINFO_VM | (uint64_t)i, &vm[i]);
	if (r)
		return CUDA_ERROR_NO_DEVICE;
	for (int i = 0; i < n; i++)
		vgpu_uuid_str(vm[i].uuid, uuids[i]);
	const char *env = getenv("CUDA_VISIBLE_DEVICES");
	int k = vgpu_visible_parse(env, (const char (*)[VGPU_UUID_STR])uuids,
				   n, vis);
	if (k == 0)
		return CUDA_ERROR_NO_DEVICE;
	bool identity = k == n;
	for (int i = 0; i < k; i++)
		identity = identity && vis[i] == i;
	if (!identity && (r = tell_visible(vis, k)))
		return CUDA_ERROR_NO_DEVICE;
	vgpu_cu.info = vm[vis[0]];
	for (int i = 1; i < k; i++)
		vgpu_cu.more[i - 1] = vm[vis[i]];
	vgpu_cu.ndev = k;
	return CUDA_SUCCESS;
}

int vgpu_cu_ptr_dev(uint64_t p)
{
	if (vgpu_cu.ndev <= 1)
		return 0;
	struct vgpu_cu_args a = {{VGPU_MGPU_PTR_DEV, p}};
	return mgpu(&a, "cuPointerGetAttribute") ? 0 : (int)a.a[0];
}

VGPU_EXPORT CUresult cuDeviceCanAccessPeer(int *can, CUdevice dev,
					   CUdevice peer)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!vgpu_cu_dev(dev) || !vgpu_cu_dev(peer))
		return CUDA_ERROR_INVALID_DEVICE;
	if (!can)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{VGPU_MGPU_CAN_PEER, (uint64_t)dev,
				  (uint64_t)peer}};
	if (!(r = mgpu(&a, "cuDeviceCanAccessPeer")))
		*can = (int)a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuDeviceGetP2PAttribute(int *value,
					     CUdevice_P2PAttribute attrib,
					     CUdevice src, CUdevice dst)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!vgpu_cu_dev(src) || !vgpu_cu_dev(dst))
		return CUDA_ERROR_INVALID_DEVICE;
	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{VGPU_MGPU_P2P_ATTR, (uint64_t)attrib,
				  (uint64_t)src, (uint64_t)dst}};
	if (!(r = mgpu(&a, "cuDeviceGetP2PAttribute")))
		*value = (int)a.a[0];
	return r;
}

static CUresult peer_access(uint64_t op, CUcontext peer, unsigned flags,
			    const char *name)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	CUcontext cur = NULL;
	cuCtxGetCurrent(&cur);
	if (!cur || !peer || !vgpu_cu_ctx_known(peer))
		return CUDA_ERROR_INVALID_CONTEXT;
	struct vgpu_cu_args a = {{op, (uint64_t)(uintptr_t)peer, flags}};
	return mgpu(&a, name);
}

VGPU_EXPORT CUresult cuCtxEnablePeerAccess(CUcontext peer, unsigned int flags)
{
	return peer_access(VGPU_MGPU_ENABLE, peer, flags,
			   "cuCtxEnablePeerAccess");
}

VGPU_EXPORT CUresult cuCtxDisablePeerAccess(CUcontext peer)
{
	return peer_access(VGPU_MGPU_DISABLE, peer, 0, "cuCtxDisablePeerAccess");
}

/* "[domain:]bus:device.function", hex, as the driver accepts it. */
static bool bus_id(const char *s, unsigned v[4])
{
	int used = 0;
	v[0] = 0;
	if (sscanf(s, "%x:%x:%x.%x%n", &v[0], &v[1], &v[2], &v[3], &used) == 4 &&
	    !s[used])
		return true;
	used = 0;
	v[0] = 0;
	return sscanf(s, "%x:%x.%x%n", &v[1], &v[2], &v[3], &used) == 3 &&
	       !s[used];
}

VGPU_EXPORT CUresult cuDeviceGetByPCIBusId(CUdevice *dev, const char *pci)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	unsigned want[4], have[4];
	if (!dev || !pci || !bus_id(pci, want))
		return CUDA_ERROR_INVALID_VALUE;
	for (int d = 0; d < vgpu_cu.ndev; d++)
		if (bus_id(vgpu_cu_dev(d)->pci_bus_id, have) &&
		    !memcmp(want, have, sizeof(want))) {
			*dev = d;
			return CUDA_SUCCESS;
		}
	return CUDA_ERROR_INVALID_DEVICE;
}
