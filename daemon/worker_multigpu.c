/* daemon/worker_multigpu.c - one worker, all of the VM's GPUs.
 *
 * Contract: the worker serves the VM's devices devs[0..ndev-1] (host
 * ordinals, vgpud's placement); the guest process sees devices 0..nvis-1,
 * its device i being VM device map[i] (CUDA_VISIBLE_DEVICES, told once at
 * cuInit; the identity otherwise). Guest ordinals are translated here and
 * nowhere trusted unchecked: one outside 0..nvis-1 is
 * CUDA_ERROR_INVALID_DEVICE before the driver sees it. Each device's
 * primary context is retained on first use and kept for the worker's life
 * (device 0's at start-up); its handle id is never swept and cannot be
 * destroyed. One process holds every context, so device pointers of all
 * the VM's GPUs share one address space (UVA): a copy between GPUs
 * (cuMemcpyPeer, cuMemcpyDtoD, cuMemcpy) is the driver's device-to-device
 * copy, its ranges checked to be this process's like any other. Peer
 * access is the driver's answer for the host devices, never invented
 * (docs/multigpu.md).
 */
#include "devinfo.h"
#include "worker.h"
#include <stdio.h>
#include <string.h>

void vw_devinfo_place(struct vgpu_cu_devinfo *info, uint32_t i)
{
	/* the guest's own numbering: bus i+1, as devinfo.c gives device 0 */
	snprintf(info->pci_bus_id, sizeof(info->pci_bus_id), "0000:%02x:00.0",
		 (i + 1) & 0xff);
	info->attrs[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID] = 0;
	info->attrs[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID] = (int32_t)(i + 1);
	info->attrs[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID] = 0;
}

/* A worker set up without a device list (test fixtures, the fuzz
 * harness) serves its one device, W->dev. */
static uint32_t ndev(const struct vworker *W)
{
	return W->ndev ? W->nvis : 1;
}

/* The VM index of guest device i < ndev(W). */
static uint32_t vm_of(const struct vworker *W, uint32_t i)
{
	return W->ndev ? W->map[i] : 0;
}

static CUdevice host_of(const struct vworker *W, uint32_t i)
{
	return W->ndev ? W->devs[W->map[i]] : W->dev;
}

int vw_dev_host(struct vworker *W, int64_t guest)
{
	return guest >= 0 && guest < (int64_t)ndev(W)
		       ? host_of(W, (uint32_t)guest)
		       : -1;
}

int vw_dev_guest(struct vworker *W, CUdevice host)
{
	for (uint32_t i = 0; i < ndev(W); i++)
		if (host_of(W, i) == host)
			return (int)i;
	return -1;
}

const struct vgpu_cu_devinfo *vw_dev_info(struct vworker *W, uint64_t i)
{
	if (i & VGPU_CU_DEVINFO_VM) {
		i &= ~VGPU_CU_DEVINFO_VM;
		return !W->ndev ? (i ? NULL : &W->info)
		       : i < W->ndev ? &W->infos[i] : NULL;
	}
	return i >= ndev(W) ? NULL : W->ndev ? &W->infos[W->map[i]] : &W->info;
}

uint64_t vw_dev_ctx_id(struct vworker *W, uint32_t i)
{
	if (i >= ndev(W))
		return 0;
	return W->ndev ? __atomic_load_n(&W->pctx_id[vm_of(W, i)],
					 __ATOMIC_ACQUIRE)
		       : W->ctx_id;
}

uint32_t vw_cur_dev(struct vworker *W)
{
	CUdevice d;
	if (W->ndev <= 1 || W->drv.cuCtxGetDevice(&d))
		return 0;
	for (uint32_t v = 0; v < W->ndev; v++)
		if (W->devs[v] == d)
			return v;
	return 0;
}

/* Retain VM device v's primary context once. */
static CUresult retain(struct vworker *W, uint32_t v)
{
	static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&once);
	CUresult r = CUDA_SUCCESS;
	if (!W->pctx[v]) {
		CUcontext c;
		r = W->drv.cuDevicePrimaryCtxRetain(&c, W->devs[v]);
		/* a device's context: untagged, never swept with another's */
		uint64_t keep = vw_ctx_tagged(), id = 0;
		vw_ctx_tag(0);
		if (!r)
			id = vw_handle_new(W, VGPU_HK_CONTEXT, c);
		vw_ctx_tag(keep);
		if (!r && !id) {
			W->drv.cuDevicePrimaryCtxRelease_v2(W->devs[v]);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		}
		if (!r) { /* read without the lock: vw_dev_ctx_id, primary_dev */
			__atomic_store_n(&W->pctx_id[v], id, __ATOMIC_RELEASE);
			__atomic_store_n(&W->pctx[v], c, __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&once);
	return r;
}

CUresult vw_dev_ctx(struct vworker *W, uint32_t i, CUcontext *ctx)
{
	if (i >= ndev(W))
		return CUDA_ERROR_INVALID_DEVICE;
	if (!W->ndev) {
		*ctx = W->ctx;
		return CUDA_SUCCESS;
	}
	CUresult r = retain(W, vm_of(W, i));
	*ctx = W->pctx[vm_of(W, i)];
	return r;
}

CUresult vw_devs_open(struct vworker *W, const int *host, uint32_t n,
		      const char *vm, uint64_t limit, int *bad)
{
	CUresult r = n && n <= VGPU_CU_MAX_DEVS ? CUDA_SUCCESS
						: CUDA_ERROR_INVALID_VALUE;
	for (uint32_t i = 0; !r && i < n; i++) {
		*bad = host[i];
		r = W->drv.cuDeviceGet(&W->devs[i], host[i]);
		if (!r)
			r = vgpu_devinfo_fill(&W->drv, W->devs[i], vm, limit,
					      &W->infos[i]);
		vw_devinfo_place(&W->infos[i], i);
		W->map[i] = (uint8_t)i;
	}
	if (r)
		return r;
	W->ndev = W->nvis = n;
	W->dev = W->devs[0];
	W->info = W->infos[0];
	*bad = host[0];
	r = retain(W, 0);
	W->ctx = W->pctx[0];
	W->ctx_id = W->pctx_id[0];
	return r;
}

/* CUDA_VISIBLE_DEVICES, as the guest matched it: the process's devices
 * become VM devices a[2..] (bytes), device 0's context the primary one. */
static CUresult visible(struct vworker *W, const uint64_t *a)
{
	static bool done;
	uint8_t v[16];
	memcpy(v, &a[2], sizeof(v));
	if (done || !W->ndev || a[1] == 0 || a[1] > W->ndev)
		return CUDA_ERROR_INVALID_VALUE;
	for (uint32_t i = 0; i < a[1]; i++) {
		if (v[i] >= W->ndev)
			return CUDA_ERROR_INVALID_DEVICE;
		for (uint32_t j = 0; j < i; j++)
			if (v[i] == v[j])
				return CUDA_ERROR_INVALID_DEVICE;
	}
	CUresult r = retain(W, v[0]);
	if (r)
		return r;
	done = true;
	memcpy(W->map, v, (size_t)a[1]);
	W->nvis = (uint32_t)a[1];
	W->dev = W->devs[v[0]];
	W->ctx = W->pctx[v[0]];
	W->ctx_id = W->pctx_id[v[0]];
	W->info = W->infos[v[0]];
	return CUDA_SUCCESS;
}

static CUresult ctx_of(struct vworker *W, uint64_t id, CUcontext *c)
{
	return id && !vw_handle_get(W, VGPU_HK_CONTEXT, id, (void **)c)
		       ? CUDA_SUCCESS
		       : CUDA_ERROR_INVALID_CONTEXT;
}

static CUresult mgpu(struct vworker *W, const uint64_t *a, uint64_t *out)
{
	CUcontext c;
	int x, y, v = 0;
	CUresult r;
	switch (a[0]) {
	case VGPU_MGPU_COUNT:
		*out = ndev(W);
		return CUDA_SUCCESS;
	case VGPU_MGPU_RETAIN:
		if (a[1] >= ndev(W))
			return CUDA_ERROR_INVALID_DEVICE;
		r = vw_dev_ctx(W, (uint32_t)a[1], &c);
		*out = r ? 0 : vw_dev_ctx_id(W, (uint32_t)a[1]);
		return r;
	case VGPU_MGPU_CAN_PEER:
	case VGPU_MGPU_P2P_ATTR:
		x = vw_dev_host(W, (int64_t)a[a[0] == VGPU_MGPU_CAN_PEER ? 1 : 2]);
		y = vw_dev_host(W, (int64_t)a[a[0] == VGPU_MGPU_CAN_PEER ? 2 : 3]);
		if (x < 0 || y < 0)
			return CUDA_ERROR_INVALID_DEVICE;
		if (a[0] == VGPU_MGPU_P2P_ATTR && a[1] > INT32_MAX)
			return CUDA_ERROR_INVALID_VALUE;
		r = a[0] == VGPU_MGPU_CAN_PEER
			    ? W->drv.cuDeviceCanAccessPeer(&v, x, y)
			    : W->drv.cuDeviceGetP2PAttribute(
				      &v, (CUdevice_P2PAttribute)a[1], x, y);
		*out = (uint64_t)(int64_t)v;
		return r;
	case VGPU_MGPU_ENABLE:
	case VGPU_MGPU_DISABLE:
		if ((r = ctx_of(W, a[1], &c)))
			return r;
		if (a[0] == VGPU_MGPU_DISABLE)
			return W->drv.cuCtxDisablePeerAccess(c);
		return a[2] > UINT32_MAX ? CUDA_ERROR_INVALID_VALUE
				: W->drv.cuCtxEnablePeerAccess(c, (unsigned)a[2]);
	case VGPU_MGPU_VISIBLE:
		return visible(W, a);
	case VGPU_MGPU_PTR_DEV:
		if ((r = vw_range(W, a[1], 1)) ||
		    (r = W->drv.cuPointerGetAttribute(
			     &v, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, a[1])))
			return r;
		x = vw_dev_guest(W, v);
		*out = x < 0 ? 0 : (uint64_t)x;
		return x < 0 ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
	}
	return CUDA_ERROR_INVALID_VALUE;
}

bool vw_multigpu_execute(struct vworker *W, struct vw_exec *x,
			 const struct vgpu_msg *m)
{
	(void)x;
	if (m->op != VGPU_CU_MGPU)
		return false;
	struct vgpu_cu_args in = {{0}}, out = {{0}};
	CUresult r = CUDA_ERROR_INVALID_VALUE;
	if (m->len == sizeof(in)) {
		memcpy(&in, m->data, sizeof(in));
		r = mgpu(W, in.a, &out.a[0]);
	}
	vw_reply(W, m, r, &out, r ? 0 : sizeof(out), 0);
	return true;
}
