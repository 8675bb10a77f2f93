/* guest/cuda/torch_order.h - the program's call order across guest threads
 * (guest/cuda/torch_order.c). Every request to the worker is bracketed:
 * vgpu_cu_order_before() first (it may cost one round trip, and returns
 * the ring's error if that fails), vgpu_cu_order_after(async) once the
 * request was sent (async) or answered (!async). */
#ifndef VGPU_GUEST_CUDA_TORCH_ORDER_H
#define VGPU_GUEST_CUDA_TORCH_ORDER_H

#include <cuda.h>
#include <stdbool.h>

CUresult vgpu_cu_order_before(void);
void vgpu_cu_order_after(bool async);
/* The calling thread's requests are the library's own plumbing, not the
 * program's calls (the host-callback completion thread): never ordered
 * after other threads' work. Ordering them would deadlock: the work
 * they would wait for may itself wait for a host callback they run. */
void vgpu_cu_order_exempt(void);
/* In a forked child (one thread, a connection of its own to come): the
 * parent's threads and counts are not its worker's. */
void vgpu_cu_order_after_fork(void);

#endif
