/* daemon/sim/sim_peer.c - peer access between the sim's devices.
 *
 * Contract: whether device i reaches device j is VGPU_SIM_PEER's answer
 * (sim_cfg.peer; vgpud.conf's sim_peer: all, none or pairs), so tests see
 * both answers. A device never counts as its own peer (cuDeviceCanAccessPeer
 * says 0, as the driver does). cuCtxEnablePeerAccess enables access from
 * the current context's device to peer's: UNSUPPORTED where the topology
 * says no, INVALID_DEVICE for its own device, ALREADY_ENABLED twice;
 * cuCtxDisablePeerAccess: NOT_ENABLED unless enabled. The state is per
 * device pair and goes with the reset. Copies between devices need no
 * peer access (the driver stages them): cuMemcpyPeer is a device-to-device
 * copy in the one address space, after its contexts are checked.
 */
#include "sim.h"
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint32_t enabled[SIM_MAX_DEVS]; /* bit j of [i]: i -> j on */

void sim_peer_reset(void)
{
	pthread_mutex_lock(&mu);
	memset(enabled, 0, sizeof(enabled));
	pthread_mutex_unlock(&mu);
}

static bool reaches(int i, int j)
{
	return i != j && (sim_cfg.peer[i] >> j & 1);
}

CUresult sim_cuDeviceCanAccessPeer(int *can, CUdevice dev, CUdevice peer)
{
	CUresult rc = sim_check_dev(dev);
	if (!rc)
		rc = sim_check_dev(peer);
	if (rc)
		return rc;
	if (!can)
		return CUDA_ERROR_INVALID_VALUE;
	*can = reaches(dev, peer);
	return CUDA_SUCCESS;
}

CUresult sim_cuDeviceGetP2PAttribute(int *value, CUdevice_P2PAttribute attrib,
				     CUdevice src, CUdevice dst)
{
	CUresult rc = sim_check_dev(src);
	if (!rc)
		rc = sim_check_dev(dst);
	if (rc)
		return rc;
	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	if (src == dst)
		return CUDA_ERROR_INVALID_DEVICE;
	int on = reaches(src, dst);
	switch (attrib) {
	case CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK: *value = 0; break;
	case CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED:
	case CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED:
	case CU_DEVICE_P2P_ATTRIBUTE_CUDA_ARRAY_ACCESS_SUPPORTED:
		*value = on;
		break;
	default: return CUDA_ERROR_INVALID_VALUE;
	}
	return CUDA_SUCCESS;
}

/* The current device and peer's, or the error that refuses them. */
static CUresult pair(CUcontext peer, int *from, int *to)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	*to = peer ? sim_ctx_dev(peer) : -1;
	if (*to < 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	*from = sim_cur_dev();
	return CUDA_SUCCESS;
}

CUresult sim_cuCtxEnablePeerAccess(CUcontext peer, unsigned int flags)
{
	int from, to;
	CUresult rc = pair(peer, &from, &to);
	if (rc)
		return rc;
	if (flags)
		return CUDA_ERROR_INVALID_VALUE;
	if (from == to)
		return CUDA_ERROR_INVALID_DEVICE;
	if (!reaches(from, to))
		return CUDA_ERROR_PEER_ACCESS_UNSUPPORTED;
	pthread_mutex_lock(&mu);
	rc = enabled[from] >> to & 1 ? CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED
				     : CUDA_SUCCESS;
	enabled[from] |= 1u << to;
	pthread_mutex_unlock(&mu);
	return rc;
}

CUresult sim_cuCtxDisablePeerAccess(CUcontext peer)
{
	int from, to;
	CUresult rc = pair(peer, &from, &to);
	if (rc)
		return rc;
	pthread_mutex_lock(&mu);
	rc = enabled[from] >> to & 1 ? CUDA_SUCCESS
				     : CUDA_ERROR_PEER_ACCESS_NOT_ENABLED;
	enabled[from] &= ~(1u << to);
	pthread_mutex_unlock(&mu);
	return rc;
}

static CUresult check_ctxs(CUcontext dctx, CUcontext sctx)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	return sim_ctx_valid(dctx) && sim_ctx_valid(sctx)
		       ? CUDA_SUCCESS
		       : CUDA_ERROR_INVALID_CONTEXT;
}

CUresult sim_cuMemcpyPeer(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src,
			  CUcontext sctx, size_t n)
{
	CUresult rc = check_ctxs(dctx, sctx);
	return rc ? rc : sim_cuMemcpyDtoD_v2(dst, src, n);
}

CUresult sim_cuMemcpyPeerAsync(CUdeviceptr dst, CUcontext dctx,
			       CUdeviceptr src, CUcontext sctx, size_t n,
			       CUstream s)
{
	CUresult rc = check_ctxs(dctx, sctx);
	return rc ? rc : sim_cuMemcpyDtoDAsync_v2(dst, src, n, s);
}

CUresult sim_cuCtxGetDevice(CUdevice *dev)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (!sim_ctx_tag())
		return CUDA_ERROR_INVALID_CONTEXT;
	if (!dev)
		return CUDA_ERROR_INVALID_VALUE;
	*dev = sim_cur_dev();
	return CUDA_SUCCESS;
}

/* Only what the worker asks (the device of a pointer, for the guest's
 * cuPointerGetAttribute with several GPUs): other attributes are
 * NOT_SUPPORTED here. */
CUresult sim_cuPointerGetAttribute(void *data, CUpointer_attribute attr,
				   CUdeviceptr p)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (!data)
		return CUDA_ERROR_INVALID_VALUE;
	if (attr != CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL)
		return CUDA_ERROR_NOT_SUPPORTED;
	int d = sim_heap_dev_of(p);
	if (d < 0)
		return CUDA_ERROR_INVALID_VALUE;
	memcpy(data, &d, sizeof(d));
	return CUDA_SUCCESS;
}
