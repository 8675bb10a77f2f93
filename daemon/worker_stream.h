/* daemon/worker_stream.h - the parts of the worker's stream area, for
 * worker_stream.c's dispatch (one file per job: host callbacks, launches,
 * function controls). Each handler checks its message whole and every id
 * and device range in it; those returning CUresult leave the reply to the
 * caller, the others reply themselves.
 */
#ifndef VGPU_DAEMON_WORKER_STREAM_H
#define VGPU_DAEMON_WORKER_STREAM_H

#include "worker.h"

/* worker_stream_cb.c: VGPU_CU_CB_POLL (replies when a token is due, or
 * with CUDA_ERROR_DEINITIALIZED once closing), VGPU_CU_HOST_FUNC */
void vw_cb_poll(struct vworker *W, const struct vgpu_msg *m);
CUresult vw_cb_enqueue(struct vworker *W, const struct vgpu_cu_args *a);

/* worker_stream_launch.c: a launch_ex message of len bytes; the streamed
 * (VGPU_CU_LAUNCH_BIG) and partitioned (VGPU_CU_LAUNCH_PART) forms */
CUresult vw_launch_ex(struct vworker *W, const uint8_t *p, size_t len);
void vw_launch_big(struct vworker *W, const struct vgpu_msg *m);
void vw_launch_part(struct vworker *W, const struct vgpu_msg *m);

/* worker_stream_func.c: VGPU_CU_FUNC_CTL, and its name query */
CUresult vw_func_ctl(struct vworker *W, const struct vgpu_cu_args *in,
		     struct vgpu_cu_args *out);
void vw_func_name(struct vworker *W, const struct vgpu_msg *m);

#endif
