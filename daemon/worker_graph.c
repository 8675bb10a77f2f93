/* daemon/worker_graph.c - the worker's stream capture and graphs.
 *
 * Contract: vw_graph_execute() runs the hand-written requests of this area
 * (its opcode range in ring/cuda_proto.h) and replies; any other opcode
 * returns false untouched.
 */
#include "worker.h"

bool vw_graph_execute(struct vworker *W, struct vw_exec *x,
		     const struct vgpu_msg *m)
{
	(void)W;
	(void)x;
	(void)m;
	return false;
}
