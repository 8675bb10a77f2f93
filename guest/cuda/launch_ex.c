/* guest/cuda/launch_ex.c - launch checks, cuLaunchKernelEx,
 * cuLaunchCooperativeKernel, and launches whose parameters exceed a
 * message slot.
 *
 * Contract: configuration errors come back at once, as natively, from the
 * device's limits (cached at cuInit) and the function's (cached at lookup):
 * a zero or too large dimension, more threads than the device allows, or
 * more shared memory than the function may use is CUDA_ERROR_INVALID_VALUE;
 * more threads than the function's registers allow is
 * CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES. Launch attributes are checked here
 * against the set the worker forwards (cooperative, cluster dimension,
 * priority and the other scheduling hints: see docs/streams.md); an
 * attribute naming an object (events, an access window) is
 * CUDA_ERROR_NOT_SUPPORTED, an unknown one CUDA_ERROR_INVALID_VALUE. A
 * launch that fits one message is sent without a round trip
 * (VGPU_CU_LAUNCH_EX); one with parameters up to the driver's 32 KiB
 * limit goes as consecutive parts, also without a round trip
 * (VGPU_CU_LAUNCH_PART). A cooperative launch streams through the arena
 * (VGPU_CU_LAUNCH_BIG) and waits for the driver's answer: only the driver
 * knows CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE. A cluster that does not tile the grid is
 * CUDA_ERROR_INVALID_CLUSTER_SIZE at once.
 */
#include "function.h"
#include "../../ring/cuda_proto_stream.h"
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(CUlaunchAttribute) == sizeof(struct vgpu_cu_lattr),
	       "CUlaunchAttribute's layout changed");

static int dev_attr(CUdevice_attribute a)
{
	return (unsigned)a < vgpu_cu.info.nattrs ? vgpu_cu.info.attrs[a] : 0;
}

CUresult vgpu_launch_check(const struct vgpu_fn *f, const unsigned g[3],
			   const unsigned b[3], unsigned shared)
{
	static const CUdevice_attribute gmax[3] = {
		CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X,
		CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y,
		CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z};
	static const CUdevice_attribute bmax[3] = {
		CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X,
		CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y,
		CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z};
	for (int i = 0; i < 3; i++)
		if (!g[i] || !b[i] || g[i] > (unsigned)dev_attr(gmax[i]) ||
		    b[i] > (unsigned)dev_attr(bmax[i]))
			return CUDA_ERROR_INVALID_VALUE;
	uint64_t threads = (uint64_t)b[0] * b[1] * b[2];
	if (threads > (uint64_t)dev_attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK))
		return CUDA_ERROR_INVALID_VALUE;
	if (f->info.max_threads_per_block > 0 &&
	    threads > (uint64_t)f->info.max_threads_per_block)
		return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
	/* static + dynamic within the default 48 KiB, or within what
	 * cuFuncSetAttribute opted the function into */
	int64_t st = f->info.shared_size_bytes > 0 ? f->info.shared_size_bytes : 0;
	int64_t dyn_max = atomic_load(&((struct vgpu_fn *)f)->max_dyn_shared_set) - 1;
	if (dyn_max < 0)
		dyn_max = dev_attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK) - st;
	if ((int64_t)shared > dyn_max)
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

/* A cluster must tile the grid (the driver's check; sizes beyond what the
 * function allows it answers itself). */
static CUresult check_cluster(const struct vgpu_cu_launch *L,
			      const CUlaunchAttribute *a)
{
	unsigned d[3] = {a->value.clusterDim.x, a->value.clusterDim.y,
			 a->value.clusterDim.z};
	for (int i = 0; i < 3; i++)
		if (!d[i] || L->grid[i] % d[i])
			return CUDA_ERROR_INVALID_CLUSTER_SIZE;
	return CUDA_SUCCESS;
}

/* The attributes the worker forwards; the rest refused as the comment
 * at the top says. */
static CUresult check_attr(const struct vgpu_cu_launch *L,
			   const CUlaunchAttribute *a)
{
	switch (a->id) {
	case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
		return check_cluster(L, a);
	case CU_LAUNCH_ATTRIBUTE_IGNORE:
	case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
	case CU_LAUNCH_ATTRIBUTE_PRIORITY:
	case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
	case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
	case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
	case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
	case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
	case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
	case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
	case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING:
		return CUDA_SUCCESS;
	case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
	case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT:
	case CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT:
	case CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE:
		return vgpu_unsupported_attr("cuLaunchKernelEx", (int)a->id);
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
}

/* A launch message larger than a slot, as parts without a reply: no
 * round trip, whatever the size (VGPU_CU_LAUNCH_PART). */
static CUresult send_parts(const uint8_t *msg, size_t len)
{
	uint8_t part[VGPU_MAX_SLOT_SIZE];
	struct vgpu_cu_part h = {.total = (uint32_t)len};
	size_t cap = vgpu_inline_max(&vgpu_cu.conn.t.r) - sizeof(h);
	CUresult r = CUDA_SUCCESS;
	for (size_t off = 0; off < len && !r; off += cap) {
		size_t n = len - off < cap ? len - off : cap;
		h.offset = (uint32_t)off;
		memcpy(part, &h, sizeof(h));
		memcpy(part + sizeof(h), msg + off, n);
		r = vgpu_cu_call(VGPU_CU_LAUNCH_PART, part,
				 (uint32_t)(sizeof(h) + n), NULL, 0, false,
				 "cuLaunchKernel (parts)");
	}
	return r;
}

CUresult vgpu_launch_ex_send(const struct vgpu_fn *f,
			     const struct vgpu_cu_launch *L, const void *attrs,
			     unsigned n, void **params, void **extra)
{
	if (n > VGPU_CU_MAX_LAUNCH_ATTRS)
		return CUDA_ERROR_INVALID_VALUE;
	const CUlaunchAttribute *at = attrs;
	bool coop = false;
	for (unsigned i = 0; i < n; i++) {
		CUresult r = check_attr(L, &at[i]);
		if (r)
			return r;
		coop |= at[i].id == CU_LAUNCH_ATTRIBUTE_COOPERATIVE &&
			at[i].value.cooperative;
	}
	struct vgpu_cu_launch_ex h = {.l = *L, .nattrs = n};
	size_t head = sizeof(h) + n * sizeof(struct vgpu_cu_lattr);
	size_t cap = head + VGPU_CU_MAX_PARAM_BYTES;
	uint8_t *msg = malloc(cap);
	if (!msg)
		return CUDA_ERROR_OUT_OF_MEMORY;
	CUresult r = vgpu_launch_pack(f, params, extra, msg + head,
				      VGPU_CU_MAX_PARAM_BYTES, &h.l.param_bytes);
	size_t len = head + h.l.param_bytes;
	if (!r) {
		memcpy(msg, &h, sizeof(h));
		if (n)
			memcpy(msg + sizeof(h), attrs, n * sizeof(*at));
		/* a cooperative grid too large for the device is only known
		 * to the driver: wait for its answer, as natively */
		if (!coop && len <= vgpu_inline_max(&vgpu_cu.conn.t.r)) {
			r = vgpu_cu_call(VGPU_CU_LAUNCH_EX, msg, (uint32_t)len,
					 NULL, 0, false, "cuLaunchKernelEx");
		} else if (!coop) {
			r = send_parts(msg, len);
		} else {
			struct vgpu_cu_xfer x = {0, VGPU_CU_NO_STREAM};
			r = vgpu_cu_stream_out(VGPU_CU_LAUNCH_BIG, &x, msg, len);
		}
	}
	free(msg);
	return r;
}

static CUresult launch_config(const CUlaunchConfig *c, CUfunction fn,
			      void **params, void **extra)
{
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	const struct vgpu_fn *f = vgpu_fn_of(fn);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (!c || (params && extra) || (c->numAttrs && !c->attrs))
		return CUDA_ERROR_INVALID_VALUE;
	struct vgpu_cu_launch L = {
		.function = f->info.function,
		.stream = (uint64_t)(uintptr_t)c->hStream,
		.grid = {c->gridDimX, c->gridDimY, c->gridDimZ},
		.block = {c->blockDimX, c->blockDimY, c->blockDimZ},
		.shared_bytes = c->sharedMemBytes};
	if ((r = vgpu_launch_check(f, L.grid, L.block, L.shared_bytes)))
		return r;
	return vgpu_launch_ex_send(f, &L, c->attrs, c->numAttrs, params,
				   extra);
}

VGPU_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *c, CUfunction f,
				      void **params, void **extra)
{
	return launch_config(c, f, params, extra);
}

VGPU_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *c,
					   CUfunction f, void **params,
					   void **extra)
{
	if (!c || c->hStream)
		return launch_config(c, f, params, extra);
	CUlaunchConfig pt = *c;
	pt.hStream = CU_STREAM_PER_THREAD;
	return launch_config(&pt, f, params, extra);
}

static CUresult cooperative(CUfunction f, unsigned gx, unsigned gy,
			    unsigned gz, unsigned bx, unsigned by, unsigned bz,
			    unsigned shared, CUstream s, void **params)
{
	CUlaunchAttribute a;
	memset(&a, 0, sizeof(a));
	a.id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
	a.value.cooperative = 1;
	CUlaunchConfig c = {gx, gy, gz, bx, by, bz, shared, s, &a, 1};
	return launch_config(&c, f, params, NULL);
}

VGPU_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned gx,
					       unsigned gy, unsigned gz,
					       unsigned bx, unsigned by,
					       unsigned bz, unsigned shared,
					       CUstream s, void **params)
{
	return cooperative(f, gx, gy, gz, bx, by, bz, shared, s, params);
}

VGPU_EXPORT CUresult cuLaunchCooperativeKernel_ptsz(
	CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
	unsigned by, unsigned bz, unsigned shared, CUstream s, void **params)
{
	return cooperative(f, gx, gy, gz, bx, by, bz, shared,
			   s ? s : CU_STREAM_PER_THREAD, params);
}
