/* daemon/worker_mem.c - the worker's copies in every direction, 2D/3D, memset, host memory, pointer attributes.
 *
 * Contract: vw_mem_execute() runs the hand-written requests of this area
 * (its opcode range in ring/cuda_proto.h) and replies; any other opcode
 * returns false untouched.
 */
#include "worker.h"

bool vw_mem_execute(struct vworker *W, struct vw_exec *x,
		     const struct vgpu_msg *m)
{
	(void)W;
	(void)x;
	(void)m;
	return false;
}
