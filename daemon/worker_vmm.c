/* daemon/worker_vmm.c - the worker's virtual memory management and IPC.
 *
 * Contract: vw_vmm_execute() runs the hand-written requests of this area
 * (its opcode range in ring/cuda_proto.h) and replies; any other opcode
 * returns false untouched.
 */
#include "worker.h"

bool vw_vmm_execute(struct vworker *W, struct vw_exec *x,
		     const struct vgpu_msg *m)
{
	(void)W;
	(void)x;
	(void)m;
	return false;
}
