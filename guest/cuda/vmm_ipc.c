/* guest/cuda/vmm_ipc.c - CUDA IPC between guest processes of one VM.
 *
 * Contract: the handles are vgpu's (ring/cuda_proto.h: struct
 * vgpu_cu_ipc_handle, a slot and a nonce in the VM's table); the driver's
 * never reach the guest. They travel between guest processes like native
 * ones (64 opaque bytes) and open only in a process of the same VM.
 */
#include "rpc.h"
#include <string.h>

_Static_assert(sizeof(struct vgpu_cu_ipc_handle) == sizeof(CUipcMemHandle),
	       "64 bytes");

static CUresult get(uint64_t op, uint64_t what, void *handle, const char *name)
{
	if (!handle)
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_args a = {{op, what}};
	CUresult r = vgpu_cu_rpc(VGPU_CU_IPC, &a, true, name);
	if (r == CUDA_SUCCESS)
		memcpy(handle, &a, sizeof(struct vgpu_cu_ipc_handle));
	return r;
}

static CUresult open_handle(uint32_t kind, const void *handle, unsigned flags,
			    uint64_t *out, const char *name)
{
	struct vgpu_cu_ipc_open o = {.kind = kind, .flags = flags};
	struct vgpu_cu_args a;
	memcpy(&o.h, handle, sizeof(o.h));
	CUresult r = vgpu_cu_call(VGPU_CU_IPC_OPEN, &o, sizeof(o), &a,
				  sizeof(a), true, name);
	if (r == CUDA_SUCCESS)
		*out = a.a[0];
	return r;
}

VGPU_EXPORT CUresult cuIpcGetMemHandle(CUipcMemHandle *pHandle,
				       CUdeviceptr dptr)
{
	return get(VGPU_IPC_MEM_GET, dptr, pHandle, "cuIpcGetMemHandle");
}

VGPU_EXPORT CUresult cuIpcGetEventHandle(CUipcEventHandle *pHandle,
					 CUevent event)
{
	return get(VGPU_IPC_EVENT_GET, (uint64_t)(uintptr_t)event, pHandle,
		   "cuIpcGetEventHandle");
}

static CUresult open_mem(CUdeviceptr *pdptr, CUipcMemHandle handle,
			 unsigned int flags)
{
	uint64_t p;
	if (!pdptr)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = open_handle(1, &handle, flags, &p, "cuIpcOpenMemHandle");
	if (r == CUDA_SUCCESS)
		*pdptr = p;
	return r;
}

VGPU_EXPORT CUresult cuIpcOpenMemHandle_v2(CUdeviceptr *pdptr,
					   CUipcMemHandle handle,
					   unsigned int flags)
{
	return open_mem(pdptr, handle, flags);
}

#undef cuIpcOpenMemHandle /* cuda.h maps it to _v2: export both ABIs */
VGPU_EXPORT CUresult cuIpcOpenMemHandle(CUdeviceptr *pdptr,
					CUipcMemHandle handle,
					unsigned int flags)
{
	return open_mem(pdptr, handle, flags);
}

VGPU_EXPORT CUresult cuIpcCloseMemHandle(CUdeviceptr dptr)
{
	struct vgpu_cu_args a = {{VGPU_IPC_MEM_CLOSE, dptr}};
	return vgpu_cu_rpc(VGPU_CU_IPC, &a, true, "cuIpcCloseMemHandle");
}

VGPU_EXPORT CUresult cuIpcOpenEventHandle(CUevent *phEvent,
					  CUipcEventHandle handle)
{
	uint64_t id;
	if (!phEvent)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = open_handle(2, &handle, 0, &id, "cuIpcOpenEventHandle");
	if (r == CUDA_SUCCESS)
		*phEvent = (CUevent)(uintptr_t)id;
	return r;
}
