/* daemon/worker_bulk.h - the bulk data path's worker side: the region's
 * arena and pinned pool registered with the driver before any guest needs
 * them.
 *
 * Contract: vw_bulk_register() registers the region's bulk part, from the
 * first channel's arena to the end of the pinned pool (the whole arena when
 * there is no pool), with cuMemHostRegister (portable, device-mapped), once
 * per worker process, at start-up: a worker of the pre-spawned pool is
 * registered before it is handed a guest, so no copy ever waits on
 * registration and every arena chunk is DMA'd at the pinned rate. It
 * returns the driver's result and the time it took (*ns). On failure the
 * worker carries on unregistered: arena copies then run as pageable copies
 * and the pool slice is registered on its first use (worker_mem.c), as
 * before. vw_bulk_pool_dev() gives a channel's pool slice's device address
 * from that registration (false if there is none).
 */
#ifndef VGPU_DAEMON_WORKER_BULK_H
#define VGPU_DAEMON_WORKER_BULK_H

#include "worker.h"

CUresult vw_bulk_register(struct vworker *W, uint64_t *ns);
bool vw_bulk_pool_dev(struct vworker *W, uint8_t *slice, CUdeviceptr *d);

#endif
