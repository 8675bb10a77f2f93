/* guest/cuda/cudbg.c - the debugger interface symbols of the driver's ABI.
 *
 * Contract: the real driver exports, besides functions, the cudbg* symbols
 * of NVIDIA's public debugger interface (cudadebugger.h, shipped with
 * cuda-gdb): most are global variables that a debugger reads and writes in
 * the debuggee, not functions. They are defined here as zeroed objects of
 * the documented types, so that a lookup finds data of the right size (a
 * generated function stub in its place would be written over). The
 * functions are hooks a debugger calls or breaks on; no GPU debugging
 * reaches the VM, so the query functions answer CUDBG_ERROR_NOT_SUPPORTED
 * and the hooks do nothing.
 */
#include "export.h"
#include <stdint.h>

/* CUDBGResult values (cudadebugger.h). */
enum { CUDBG_ERROR_NOT_SUPPORTED = 0x2e };

/* Flags and identities the debugger writes or reads (uint32_t). */
VGPU_EXPORT uint32_t cudbgIpcFlag;
VGPU_EXPORT uint32_t cudbgRpcEnabled;
VGPU_EXPORT uint32_t cudbgApiClientPid;
VGPU_EXPORT uint32_t cudbgApiClientRevision;
VGPU_EXPORT uint32_t cudbgSessionId;
VGPU_EXPORT uint32_t cudbgDebuggerInitialized;
VGPU_EXPORT uint32_t cudbgAttachHandlerAvailable;
VGPU_EXPORT uint32_t cudbgEnableLaunchBlocking;
VGPU_EXPORT uint32_t cudbgEnablePreemptionDebugging;
VGPU_EXPORT uint32_t cudbgEnableIntegratedMemcheck;
VGPU_EXPORT uint32_t cudbgDetachSuspendedDevicesMask;
VGPU_EXPORT uint32_t cudbgResumeForAttachDetach;
VGPU_EXPORT uint32_t cudbgReportDriverApiErrorFlags;
VGPU_EXPORT uint32_t cudbgDebuggerCapabilities;
VGPU_EXPORT uint32_t cudbgUseExternalDebugger;

/* What the driver reports at an API error (uint64_t). The header declares
 * the source as uint32_t; 13.x drivers give it an 8-byte slot, and a
 * larger object is safe where a smaller one is not. */
VGPU_EXPORT uint64_t cudbgReportedDriverApiErrorCode;
VGPU_EXPORT uint64_t cudbgReportedDriverApiErrorFuncNameSize;
VGPU_EXPORT uint64_t cudbgReportedDriverApiErrorFuncNameAddr;
VGPU_EXPORT uint64_t cudbgReportedDriverApiErrorSource;
VGPU_EXPORT uint64_t cudbgReportedDriverApiErrorNameSize;
VGPU_EXPORT uint64_t cudbgReportedDriverApiErrorNameAddr;
VGPU_EXPORT uint64_t cudbgReportedDriverApiErrorStringSize;
VGPU_EXPORT uint64_t cudbgReportedDriverApiErrorStringAddr;
VGPU_EXPORT uint64_t cudbgReportedDriverInternalErrorCode;

/* A path the debugger writes into the debuggee (4 KiB in the driver). */
VGPU_EXPORT char cudbgInjectionPath[4096];

/* Breakpoint hooks and attach entry points: nothing to do without a GPU. */
VGPU_EXPORT void cudbgReportDriverApiError(void) {}
VGPU_EXPORT void cudbgReportDriverInternalError(void) {}
VGPU_EXPORT void cudbgApiInit(uint32_t arg) { (void)arg; }
VGPU_EXPORT void cudbgApiAttach(void) {}
VGPU_EXPORT void cudbgApiDetach(void) {}

struct CUDBGAPI_st;

VGPU_EXPORT int cudbgGetAPI(uint32_t major, uint32_t minor, uint32_t rev,
			    const struct CUDBGAPI_st **api)
{
	(void)major, (void)minor, (void)rev, (void)api;
	return CUDBG_ERROR_NOT_SUPPORTED;
}

VGPU_EXPORT int cudbgGetAPIVersion(uint32_t *major, uint32_t *minor,
				   uint32_t *rev)
{
	(void)major, (void)minor, (void)rev;
	return CUDBG_ERROR_NOT_SUPPORTED;
}

VGPU_EXPORT int cudbgMain(int apiClientPid, uint32_t apiClientRevision,
			  int sessionId, int attachState,
			  int attachEventInitialized, int writeFd, int detachFd,
			  int attachStubInUse, int enablePreemptionDebugging)
{
	(void)apiClientPid, (void)apiClientRevision, (void)sessionId;
	(void)attachState, (void)attachEventInitialized, (void)writeFd;
	(void)detachFd, (void)attachStubInUse, (void)enablePreemptionDebugging;
	return CUDBG_ERROR_NOT_SUPPORTED;
}
