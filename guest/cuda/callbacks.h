/* guest/cuda/callbacks.h - host calls run in the guest by its completion
 * thread, in the order the device reaches them.
 *
 * Contract: a host call (cuLaunchHostFunc, cuStreamAddCallback, later a
 * graph's host node) is registered here first and gets a token; the caller
 * then asks the worker to enqueue a real host function carrying that
 * token (VGPU_CU_HOST_FUNC, or its own opcode). When the device reaches
 * it, the worker hands the token to this process's completion thread
 * (started on the first registration), which runs fn(arg, status) and
 * tells the worker it returned with its next poll; until then the stream
 * waits, as natively. One thread runs every call, one at a time (the
 * driver documents that host functions may be serialised).
 *
 * While a call runs, every CUDA call of that thread that would reach the
 * worker returns CUDA_ERROR_NOT_PERMITTED, as the driver documents for
 * callbacks: a callback that synchronised on its own stream would
 * otherwise wait for itself for ever. Queries the guest answers itself
 * (cuCtxGetCurrent, device attributes, error strings) still work. After fork() the child has no completion thread and
 * none of the parent's tokens; its first registration starts its own.
 */
#ifndef VGPU_GUEST_CUDA_CALLBACKS_H
#define VGPU_GUEST_CUDA_CALLBACKS_H

#include <cuda.h>
#include <stdbool.h>
#include <stdint.h>

typedef void (*vgpu_cb_fn)(void *arg, CUresult status);

/* Register fn(arg). once: forgotten after it ran (stream host calls);
 * else it runs each time its token is posted until vgpu_cb_forget (a
 * graph's host node runs at every launch). */
CUresult vgpu_cb_register(vgpu_cb_fn fn, void *arg, bool once,
			  uint64_t *token);
/* The enqueue failed, or the graph went: the token runs nothing more (a
 * post already under way is acknowledged without running). */
void vgpu_cb_forget(uint64_t token);
/* Whether this thread is inside a host call now. */
bool vgpu_cb_in_callback(void);

#endif
