/* guest/cuda/init.c - cuInit and cuDriverGetVersion.
 *
 * cuInit connects to vgpud once per process: the first call decides, and
 * later calls return the same result, as the real driver does. A failure
 * prints one line saying why and what to do (the program usually prints
 * only "no CUDA-capable device"), and maps to the CUresult a program on a
 * machine without that piece would see. */
#define _GNU_SOURCE
#include "rpc.h"
#include "torch_order.h"
#include "version.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;

static CUresult connect_daemon(void)
{
	char msg[512];
	int rc = vgpu_conn_open(&vgpu_cu.conn, msg, sizeof(msg));
	if (rc) {
		fprintf(stderr, "vgpu: cuInit: %s\n", msg);
		return rc == VGPU_E_NODEV ? CUDA_ERROR_NO_DEVICE
		       : rc == VGPU_E_PERM ? CUDA_ERROR_NOT_PERMITTED
					   : CUDA_ERROR_NO_DEVICE;
	}
	vgpu_cu.initialised = true; /* lets the device-info call through */
	vgpu_cu.init_result = CUDA_SUCCESS;
	struct vgpu_cu_xfer x = {0, VGPU_CU_NO_STREAM};
	CUresult r = vgpu_cu_stream_in(VGPU_CU_DEVICE_INFO, &x, &vgpu_cu.info,
				       sizeof(vgpu_cu.info));
	if (r) {
		fprintf(stderr, "vgpu: cuInit: vgpud did not describe the device "
			"(CUresult %d)\n", (int)r);
		vgpu_conn_close(&vgpu_cu.conn);
		return CUDA_ERROR_NO_DEVICE;
	}
	vgpu_cu.info.name[sizeof(vgpu_cu.info.name) - 1] = 0;
	r = vgpu_cu_devices_init();
	if (r) {
		vgpu_conn_close(&vgpu_cu.conn);
		return r;
	}
	return CUDA_SUCCESS;
}

/* Process exit: the channel goes back to vgpud now, so the worker, its
 * memory and the VM's quota are freed at once rather than when the lease
 * runs out. Library destructors run after the program's atexit handlers
 * and after the libraries that use this one, so no CUDA call of theirs
 * follows; a thread still running gets CUDA_ERROR_DEVICE_UNAVAILABLE. */
__attribute__((destructor)) static void release_at_exit(void)
{
	if (vgpu_cu.initialised)
		vgpu_gchan_abandon(&vgpu_cu.conn.ch);
}

/* fork() after cuInit. The driver refuses a child its parent's CUDA state:
 * its calls, cuInit too, return CUDA_ERROR_NOT_INITIALIZED (NVIDIA's
 * guidelines: a child must not use CUDA before exec; inducer/pycuda#137,
 * triton-lang/triton#10443; measured on driver 580: all calls but those on
 * inherited streams and events, which follow the stale pointers). Here the
 * child forgets the parent's connection, so until it calls cuInit every
 * call returns CUDA_ERROR_NOT_INITIALIZED (vgpu_cu_ready), and it cannot
 * reach the parent's channel at all: the region is MADV_DONTFORK, not
 * mapped in the child. Unlike the driver, cuInit then connects afresh: the
 * child gets its own channel, worker and context, to which the parent's
 * handles, pointers and kernels are foreign (tests/gpu/forkinit.c). The
 * copy of the parent's connection is dropped, never released (guest/conn.c
 * refuses that too). */
static void child_after_fork(void)
{
	memset(&vgpu_cu, 0, sizeof(vgpu_cu));
	pthread_mutex_init(&init_mu, NULL);
	vgpu_cu_ctx_after_fork();
	vgpu_cu_order_after_fork();
}

VGPU_EXPORT CUresult cuInit(unsigned int flags)
{
	if (flags != 0)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&init_mu);
	if (!vgpu_cu.initialised) {
		static bool atfork;
		if (!atfork && !pthread_atfork(NULL, NULL, child_after_fork))
			atfork = true;
		const char *log = getenv("VGPU_LOG");
		vgpu_cu.trace = log && !strcmp(log, "debug");
		CUresult r = connect_daemon();
		vgpu_cu.init_result = r;
		vgpu_cu.initialised = true;
	}
	CUresult r = vgpu_cu.init_result;
	pthread_mutex_unlock(&init_mu);
	return r;
}

VGPU_EXPORT CUresult cuDriverGetVersion(int *version)
{
	if (!version)
		return CUDA_ERROR_INVALID_VALUE;
	/* the host's, once known, so runtimes the host cannot serve fail */
	int host = vgpu_cu.initialised && !vgpu_cu.init_result
			   ? vgpu_cu.info.driver_version
			   : VGPU_CUDA_DRIVER_VERSION;
	*version = host < VGPU_CUDA_DRIVER_VERSION ? host
						   : VGPU_CUDA_DRIVER_VERSION;
	return CUDA_SUCCESS;
}
