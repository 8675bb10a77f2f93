/* daemon/worker_stream.c - the worker's streams, priorities, host callbacks, stream memory ops, launch variants, occupancy, contexts.
 *
 * Contract: vw_stream_execute() runs the hand-written requests of this area
 * (its opcode range in ring/cuda_proto.h) and replies; any other opcode
 * returns false untouched.
 */
#include "worker.h"

bool vw_stream_execute(struct vworker *W, struct vw_exec *x,
		     const struct vgpu_msg *m)
{
	(void)W;
	(void)x;
	(void)m;
	return false;
}
