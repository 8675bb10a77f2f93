/* guest/cuda/graph_host.c - pageable host-to-device copies in graphs:
 * capture, and the bytes sent at each launch.
 *
 * Natively such a captured copy reads the host buffer each time the graph
 * runs. The worker captures it from a buffer of its own and tells, per
 * executable, which guest ranges its buffers stand for
 * (daemon/worker_graph_host.c). This file keeps that list per executable
 * (learnt when it is made or updated, dropped when it is destroyed) and
 * makes cuGraphLaunch of such an executable send the ranges' current
 * bytes first, so every replay copies what the program's memory holds
 * when it launches. Executables without ranges launch as before, without
 * a round trip.
 */
#include "graph.h"
#include "rpc.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

CUresult vgpu_gen_cuGraphLaunch(CUgraphExec e, CUstream s);
CUresult vgpu_gen_cuGraphExecDestroy(CUgraphExec e);

struct span {
	uint64_t addr, n;
};

struct hexec {
	uint64_t exec;
	uint32_t n;
	struct span *s;
};

static struct {
	pthread_mutex_t mu;
	struct hexec *v;
	size_t n, cap;
} H = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void drop_locked(uint64_t exec)
{
	for (size_t i = 0; i < H.n; i++)
		if (H.v[i].exec == exec) {
			free(H.v[i].s);
			H.v[i] = H.v[--H.n];
			return;
		}
}

CUresult vgpu_graph_host_capture(CUdeviceptr dst, const void *src, size_t n,
				 uint64_t stream)
{
	struct vgpu_cu_args a = {{VGPU_GH_CAPTURE, dst, stream,
				  (uint64_t)(uintptr_t)src, n}};
	return vgpu_cu_rpc(VGPU_CU_GRAPH_HOST, &a, true, "cuMemcpyHtoDAsync");
}

CUresult vgpu_graph_host_learn(uint64_t exec, uint64_t count)
{
	struct span *s = NULL;
	CUresult r = CUDA_SUCCESS;
	if (count > UINT32_MAX / sizeof(*s))
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (count && !(s = calloc(count, sizeof(*s))))
		return CUDA_ERROR_OUT_OF_MEMORY;
	for (uint64_t i = 0; i < count && !r; i++) {
		struct vgpu_cu_args a = {{VGPU_GH_RANGE, exec, i}};
		r = vgpu_cu_rpc(VGPU_CU_GRAPH_HOST, &a, true, "cuGraphLaunch");
		s[i] = (struct span){a.a[0], a.a[1]};
	}
	pthread_mutex_lock(&H.mu);
	drop_locked(exec);
	if (!r && count) {
		if (H.n == H.cap) {
			size_t cap = H.cap ? 2 * H.cap : 8;
			struct hexec *v = realloc(H.v, cap * sizeof(*v));
			if (v) {
				H.v = v;
				H.cap = cap;
			}
		}
		if (H.n < H.cap) {
			H.v[H.n++] = (struct hexec){exec, (uint32_t)count, s};
			s = NULL;
		} else {
			r = CUDA_ERROR_OUT_OF_MEMORY;
		}
	}
	pthread_mutex_unlock(&H.mu);
	free(s);
	return r;
}

/* A copy of exec's ranges (*n 0: it has none). */
static struct span *ranges_of(uint64_t exec, uint32_t *n)
{
	struct span *s = NULL;
	*n = 0;
	pthread_mutex_lock(&H.mu);
	for (size_t i = 0; i < H.n; i++)
		if (H.v[i].exec == exec &&
		    (s = malloc(H.v[i].n * sizeof(*s)))) {
			memcpy(s, H.v[i].s, H.v[i].n * sizeof(*s));
			*n = H.v[i].n;
		}
	pthread_mutex_unlock(&H.mu);
	return s;
}

VGPU_EXPORT CUresult cuGraphLaunch(CUgraphExec e, CUstream s)
{
	uint64_t exec = (uint64_t)(uintptr_t)e;
	uint32_t n;
	struct span *v = ranges_of(exec, &n);
	if (!n)
		return vgpu_gen_cuGraphLaunch(e, s);
	CUresult r = CUDA_SUCCESS;
	for (uint32_t i = 0; i < n && !r; i++) {
		struct vgpu_cu_xfer x = {exec, i};
		r = vgpu_cu_stream_out(VGPU_CU_GRAPH_HOST_FILL, &x,
				       (const void *)(uintptr_t)v[i].addr,
				       v[i].n);
	}
	free(v);
	if (r)
		return r;
	struct vgpu_cu_args a = {{VGPU_GH_LAUNCH, exec,
				  (uint64_t)(uintptr_t)s}};
	return vgpu_cu_rpc(VGPU_CU_GRAPH_HOST, &a, true, "cuGraphLaunch");
}

VGPU_EXPORT CUresult cuGraphExecDestroy(CUgraphExec e)
{
	pthread_mutex_lock(&H.mu);
	drop_locked((uint64_t)(uintptr_t)e);
	pthread_mutex_unlock(&H.mu);
	return vgpu_gen_cuGraphExecDestroy(e);
}
