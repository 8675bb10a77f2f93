/* guest/cuda/lib_va.h - the worker's device address windows, reserved in
 * this process before any host mapping of ours can take them.
 *
 * Contract: vgpu_va_setup() runs once per connection (again after a fork
 * and a fresh cuInit, dropping the inherited reservations first), before
 * the first device allocation is recorded: it sends the worker this
 * process's mappings (VGPU_CU_VA_WINDOW; the worker keeps its driver out
 * of them) and reserves the free parts of the windows the worker answers
 * (PROT_NONE, MAP_NORESERVE, never over a mapping). From then on no host
 * mapping of this process can be placed inside a window, so a device
 * allocation there never collides with one (docs/memory.md). If the
 * worker gives no window or a reservation fails, one line on stderr says
 * so (not under VGPU_LOG=quiet) and allocations fall back to the
 * per-granule reservation and its retries (mem_space.c).
 * vgpu_va_reserved() says whether [a, a + n) lies inside one reserved
 * part, i.e. needs no reservation of its own. Thread-safe.
 */
#ifndef VGPU_GUEST_CUDA_LIB_VA_H
#define VGPU_GUEST_CUDA_LIB_VA_H

#include <stdbool.h>
#include <stdint.h>

void vgpu_va_setup(void);
bool vgpu_va_reserved(uint64_t a, uint64_t n);

#endif
