/* daemon/sim/sim_errors.c - error names and strings, and the per-thread
 * detail of the last failure.
 *
 * Contract: cuGetErrorName/cuGetErrorString know every CUresult of the
 * CUDA 13 cuda.h (the names are the enum's identifiers; the descriptions
 * are our own short wording). An unknown code gives INVALID_VALUE and a
 * NULL string, as the real driver does. sim_detail() records why a call
 * failed in words, for tests and logs; it never prints.
 */
#include "sim.h"
#include <stdarg.h>
#include <stdio.h>

#define E(code, text) {code, #code, text}
static const struct {
	CUresult code;
	const char *name, *text;
} errors[] = {
	E(CUDA_SUCCESS, "no error"),
	E(CUDA_ERROR_INVALID_VALUE, "invalid argument"),
	E(CUDA_ERROR_OUT_OF_MEMORY, "out of memory"),
	E(CUDA_ERROR_NOT_INITIALIZED, "driver not initialized (cuInit)"),
	E(CUDA_ERROR_DEINITIALIZED, "driver shutting down"),
	E(CUDA_ERROR_PROFILER_DISABLED, "profiler disabled"),
	E(CUDA_ERROR_PROFILER_NOT_INITIALIZED, "profiler not initialized"),
	E(CUDA_ERROR_PROFILER_ALREADY_STARTED, "profiler already started"),
	E(CUDA_ERROR_PROFILER_ALREADY_STOPPED, "profiler already stopped"),
	E(CUDA_ERROR_STUB_LIBRARY, "stub driver library loaded"),
	E(CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER, "call needs a newer driver"),
	E(CUDA_ERROR_DEVICE_UNAVAILABLE, "device unavailable"),
	E(CUDA_ERROR_NO_DEVICE, "no CUDA-capable device"),
	E(CUDA_ERROR_INVALID_DEVICE, "invalid device ordinal"),
	E(CUDA_ERROR_DEVICE_NOT_LICENSED, "device not licensed"),
	E(CUDA_ERROR_INVALID_IMAGE, "invalid device kernel image"),
	E(CUDA_ERROR_INVALID_CONTEXT, "invalid device context"),
	E(CUDA_ERROR_CONTEXT_ALREADY_CURRENT, "context already current"),
	E(CUDA_ERROR_MAP_FAILED, "mapping failed"),
	E(CUDA_ERROR_UNMAP_FAILED, "unmapping failed"),
	E(CUDA_ERROR_ARRAY_IS_MAPPED, "array is mapped"),
	E(CUDA_ERROR_ALREADY_MAPPED, "resource already mapped"),
	E(CUDA_ERROR_NO_BINARY_FOR_GPU, "no kernel image for this device"),
	E(CUDA_ERROR_ALREADY_ACQUIRED, "resource already acquired"),
	E(CUDA_ERROR_NOT_MAPPED, "resource not mapped"),
	E(CUDA_ERROR_NOT_MAPPED_AS_ARRAY, "resource not mapped as array"),
	E(CUDA_ERROR_NOT_MAPPED_AS_POINTER, "resource not mapped as pointer"),
	E(CUDA_ERROR_ECC_UNCORRECTABLE, "uncorrectable ECC error"),
	E(CUDA_ERROR_UNSUPPORTED_LIMIT, "limit not supported"),
	E(CUDA_ERROR_CONTEXT_ALREADY_IN_USE, "context already in use"),
	E(CUDA_ERROR_PEER_ACCESS_UNSUPPORTED, "peer access not supported"),
	E(CUDA_ERROR_INVALID_PTX, "PTX JIT compilation failed"),
	E(CUDA_ERROR_INVALID_GRAPHICS_CONTEXT, "invalid graphics context"),
	E(CUDA_ERROR_NVLINK_UNCORRECTABLE, "uncorrectable NVLink error"),
	E(CUDA_ERROR_JIT_COMPILER_NOT_FOUND, "PTX JIT compiler not found"),
	E(CUDA_ERROR_UNSUPPORTED_PTX_VERSION, "PTX version not supported"),
	E(CUDA_ERROR_JIT_COMPILATION_DISABLED, "PTX JIT compilation disabled"),
	E(CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY, "exec affinity not supported"),
	E(CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC, "device-side sync not supported"),
	E(CUDA_ERROR_CONTAINED, "contained device error"),
	E(CUDA_ERROR_INVALID_SOURCE, "invalid source"),
	E(CUDA_ERROR_FILE_NOT_FOUND, "file not found"),
	E(CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND,
	  "shared object symbol not found"),
	E(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED,
	  "shared object initialization failed"),
	E(CUDA_ERROR_OPERATING_SYSTEM, "operating system call failed"),
	E(CUDA_ERROR_INVALID_HANDLE, "invalid resource handle"),
	E(CUDA_ERROR_ILLEGAL_STATE, "illegal state"),
	E(CUDA_ERROR_LOSSY_QUERY, "lossy query"),
	E(CUDA_ERROR_NOT_FOUND, "named symbol not found"),
	E(CUDA_ERROR_NOT_READY, "device not ready"),
	E(CUDA_ERROR_ILLEGAL_ADDRESS, "illegal memory access"),
	E(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "too many resources requested"),
	E(CUDA_ERROR_LAUNCH_TIMEOUT, "launch timed out"),
	E(CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING, "incompatible texturing"),
	E(CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED, "peer access already on"),
	E(CUDA_ERROR_PEER_ACCESS_NOT_ENABLED, "peer access not on"),
	E(CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE, "primary context active"),
	E(CUDA_ERROR_CONTEXT_IS_DESTROYED, "context is destroyed"),
	E(CUDA_ERROR_ASSERT, "device-side assert triggered"),
	E(CUDA_ERROR_TOO_MANY_PEERS, "too many peers"),
	E(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED,
	  "host memory already registered"),
	E(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, "host memory not registered"),
	E(CUDA_ERROR_HARDWARE_STACK_ERROR, "hardware stack error"),
	E(CUDA_ERROR_ILLEGAL_INSTRUCTION, "illegal instruction"),
	E(CUDA_ERROR_MISALIGNED_ADDRESS, "misaligned address"),
	E(CUDA_ERROR_INVALID_ADDRESS_SPACE, "invalid address space"),
	E(CUDA_ERROR_INVALID_PC, "invalid program counter"),
	E(CUDA_ERROR_LAUNCH_FAILED, "unspecified launch failure"),
	E(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE,
	  "cooperative launch too large"),
	E(CUDA_ERROR_TENSOR_MEMORY_LEAK, "tensor memory leak"),
	E(CUDA_ERROR_NOT_PERMITTED, "operation not permitted"),
	E(CUDA_ERROR_NOT_SUPPORTED, "operation not supported"),
	E(CUDA_ERROR_SYSTEM_NOT_READY, "system not ready"),
	E(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, "driver/kernel module mismatch"),
	E(CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE,
	  "forward compatibility not supported on device"),
	E(CUDA_ERROR_MPS_CONNECTION_FAILED, "MPS connection failed"),
	E(CUDA_ERROR_MPS_RPC_FAILURE, "MPS RPC failure"),
	E(CUDA_ERROR_MPS_SERVER_NOT_READY, "MPS server not ready"),
	E(CUDA_ERROR_MPS_MAX_CLIENTS_REACHED, "MPS client limit reached"),
	E(CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED,
	  "MPS connection limit reached"),
	E(CUDA_ERROR_MPS_CLIENT_TERMINATED, "MPS client terminated"),
	E(CUDA_ERROR_CDP_NOT_SUPPORTED, "dynamic parallelism not supported"),
	E(CUDA_ERROR_CDP_VERSION_MISMATCH, "dynamic parallelism mismatch"),
	E(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
	  "operation not permitted while capturing"),
	E(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "stream capture invalidated"),
	E(CUDA_ERROR_STREAM_CAPTURE_MERGE, "stream capture merge"),
	E(CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, "stream capture unmatched"),
	E(CUDA_ERROR_STREAM_CAPTURE_UNJOINED, "stream capture unjoined"),
	E(CUDA_ERROR_STREAM_CAPTURE_ISOLATION, "stream capture isolation"),
	E(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, "implicit stream in capture"),
	E(CUDA_ERROR_CAPTURED_EVENT, "operation on a captured event"),
	E(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD,
	  "stream capture ended on another thread"),
	E(CUDA_ERROR_TIMEOUT, "wait timed out"),
	E(CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE, "graph update failed"),
	E(CUDA_ERROR_EXTERNAL_DEVICE, "external device error"),
	E(CUDA_ERROR_INVALID_CLUSTER_SIZE, "invalid cluster size"),
	E(CUDA_ERROR_FUNCTION_NOT_LOADED, "function not loaded"),
	E(CUDA_ERROR_INVALID_RESOURCE_TYPE, "invalid resource type"),
	E(CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION,
	  "invalid resource configuration"),
	E(CUDA_ERROR_KEY_ROTATION, "key rotation error"),
	E(CUDA_ERROR_UNKNOWN, "unknown error"),
};
#undef E

static int find(CUresult e)
{
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == e)
			return (int)i;
	return -1;
}

/* Neither needs cuInit: callers use them to report cuInit's failure. */
CUresult sim_cuGetErrorName(CUresult error, const char **pStr)
{
	if (!pStr)
		return CUDA_ERROR_INVALID_VALUE;
	int i = find(error);
	*pStr = i < 0 ? NULL : errors[i].name;
	return i < 0 ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

CUresult sim_cuGetErrorString(CUresult error, const char **pStr)
{
	if (!pStr)
		return CUDA_ERROR_INVALID_VALUE;
	int i = find(error);
	*pStr = i < 0 ? NULL : errors[i].text;
	return i < 0 ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

static __thread char detail[256];

void sim_detail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
}

const char *vgpu_sim_last_error_detail(void)
{
	return detail;
}
