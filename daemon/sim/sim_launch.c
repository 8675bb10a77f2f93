/* daemon/sim/sim_launch.c - cuLaunchKernel, and what C kernels run on.
 *
 * Contract: a launch is checked as the driver checks it: the function
 * handle (INVALID_HANDLE), grid and block dimensions against the device
 * limits and dynamic shared memory against the 48 KiB default or the
 * function's opt-in (INVALID_VALUE), registers per block (LAUNCH_OUT_OF_RESOURCES), and
 * exactly one of kernelParams (one pointer per parameter, sizes from the
 * image's layout) or extra (CU_LAUNCH_PARAM_BUFFER_POINTER/SIZE/END, the
 * size at least the parameter buffer's). The arguments are copied at the
 * call, as the driver does, so the caller may reuse them at once. A kernel
 * with no C implementation is CUDA_ERROR_NOT_SUPPORTED (detail: "sim has
 * no C implementation of kernel X") - the sim does not pretend it ran.
 * When the launch runs, every memory access of the C kernel goes through
 * sim_k_at, which checks it against the allocation its pointer was in
 * (device memory, or registered host memory: sim_host.c): a
 * bad pointer or an overrun stops the kernel with a sticky
 * CUDA_ERROR_ILLEGAL_ADDRESS (MISALIGNED_ADDRESS for a misaligned access)
 * instead of touching host memory. Kernels hold the heap's read lock from
 * their first access to their end, so memory cannot go under them.
 */
#include "sim.h"
#include <stdlib.h>
#include <string.h>

static CUresult check_dims(const struct sim_func *f, struct sim_dim3 g,
			   struct sim_dim3 b, unsigned shared)
{
	uint64_t threads = (uint64_t)b.x * b.y * b.z;
	if (!g.x || !g.y || !g.z || !threads || g.x > SIM_MAX_GRID_X ||
	    g.y > SIM_MAX_GRID_YZ || g.z > SIM_MAX_GRID_YZ ||
	    b.x > SIM_MAX_BLOCK_X || b.y > SIM_MAX_BLOCK_Y ||
	    b.z > SIM_MAX_BLOCK_Z || threads > SIM_MAX_THREADS)
		return CUDA_ERROR_INVALID_VALUE;
	if (shared > (unsigned)sim_func_max_dyn_shared(f))
		return CUDA_ERROR_INVALID_VALUE;
	/* registers are allocated per warp, per thread in multiples of 8 */
	uint64_t regs = (uint64_t)((f->d.nregs ? f->d.nregs : 32) + 7) / 8 * 8;
	if (regs * ((threads + 31) / 32 * 32) > SIM_REGS_PER_BLOCK)
		return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
	return CUDA_SUCCESS;
}

/* The parameter buffer from CU_LAUNCH_PARAM_* pairs. */
static CUresult from_extra(const struct sim_func *f, void **extra,
			   uint8_t *buf)
{
	const void *ptr = NULL;
	const size_t *size = NULL;
	for (int i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
		if (i >= 64)
			return CUDA_ERROR_INVALID_VALUE; /* no END */
		if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER)
			ptr = extra[i + 1];
		else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE)
			size = extra[i + 1];
		else
			return CUDA_ERROR_INVALID_VALUE;
	}
	if (!f->d.argsize && !ptr && !size)
		return CUDA_SUCCESS;
	if (!ptr || !size || !*size)
		return CUDA_ERROR_INVALID_VALUE;
	/* A buffer shorter than the parameters is taken, as the driver takes
	 * it (NCCL passes only the bytes of its 4 KiB argument struct it
	 * filled in); buf is zeroed, so the rest reads as zeros. */
	memcpy(buf, ptr, *size < f->d.argsize ? *size : f->d.argsize);
	return CUDA_SUCCESS;
}

static CUresult marshal(const struct sim_func *f, void **params, void **extra,
			uint8_t *buf)
{
	if (params && extra)
		return CUDA_ERROR_INVALID_VALUE;
	if (extra)
		return from_extra(f, extra, buf);
	if (!params)
		return f->d.nparams ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
	for (uint32_t i = 0; i < f->d.nparams; i++) {
		if (!params[i])
			return CUDA_ERROR_INVALID_VALUE;
		memcpy(buf + f->d.params[i].offset, params[i],
		       f->d.params[i].size);
	}
	return CUDA_SUCCESS;
}

/* Everything but the stream: a launch ready to queue, or NULL (graph
 * nodes use it too: sim.h). */
struct sim_launch *sim_launch_prepare(struct sim_func *f, struct sim_dim3 g,
				      struct sim_dim3 b, unsigned shared,
				      void **params, void **extra,
				      CUresult *rc)
{
	if ((*rc = check_dims(f, g, b, shared)))
		return NULL;
	if (!f->impl) {
		sim_detail("sim has no C implementation of kernel %s",
			   f->d.name);
		*rc = CUDA_ERROR_NOT_SUPPORTED;
		return NULL;
	}
	struct sim_launch *l = calloc(1, sizeof(*l));
	uint8_t *args = calloc(1, f->d.argsize + 1);
	*rc = l && args ? marshal(f, params, extra, args) :
			  CUDA_ERROR_OUT_OF_MEMORY;
	if (*rc) {
		free(l);
		free(args);
		return NULL;
	}
	*l = (struct sim_launch){.f = f, .grid = g, .block = b,
				 .shared = shared, .args = args};
	return l;
}

CUresult sim_cuLaunchKernel(CUfunction hf, unsigned int gx, unsigned int gy,
			    unsigned int gz, unsigned int bx, unsigned int by,
			    unsigned int bz, unsigned int sharedMemBytes,
			    CUstream hs, void **kernelParams, void **extra)
{
	struct sim_stream *s;
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	struct sim_func *f = (struct sim_func *)sim_obj_get(hf, SIM_FUNC);
	if (!f)
		return CUDA_ERROR_INVALID_HANDLE;
	if (f->mod && sim_module_dev(f->mod) != sim_cur_dev()) {
		sim_obj_put(&f->obj); /* another GPU's module (multigpu) */
		return CUDA_ERROR_INVALID_HANDLE;
	}
	struct sim_launch *l = sim_launch_prepare(
		f, (struct sim_dim3){gx, gy, gz}, (struct sim_dim3){bx, by, bz},
		sharedMemBytes, kernelParams, extra, &rc);
	struct sim_op *op = l ? sim_op_new(SIM_OP_LAUNCH) : NULL;
	if (l && !op)
		rc = CUDA_ERROR_OUT_OF_MEMORY;
	if (!rc)
		rc = sim_stream_resolve(hs, &s);
	if (rc) {
		free(op);
		if (l)
			sim_launch_free(l); /* puts f */
		else
			sim_obj_put(&f->obj);
		return rc;
	}
	op->u.launch = l; /* the launch owns the reference on f */
	rc = sim_submit(s, op, NULL);
	sim_stream_put(s);
	return rc;
}

void sim_launch_free(struct sim_launch *l)
{
	sim_obj_put(&l->f->obj);
	free(l->args);
	free(l);
}

void sim_launch_exec(struct sim_launch *l)
{
	l->f->impl->run(l);
	if (l->locked)
		sim_heap_unlock();
	l->locked = false;
	if (l->fault)
		sim_fault(l->fault);
}

void *sim_k_at(struct sim_launch *l, struct sim_kptr *q, int64_t i,
	       size_t sz)
{
	if (l->fault)
		return NULL;
	if (!l->locked) {
		sim_heap_rdlock();
		l->locked = true;
	}
	if (!q->bound) {
		q->bound = true;
		q->valid = sim_heap_find(q->p, 1, &q->span) ||
			   sim_host_find(q->p, &q->span);
	}
	uint64_t a = q->p + (uint64_t)i * sz; /* wraps like the GPU's */
	if (!q->valid || a < q->span.base || a - q->span.base > q->span.size ||
	    sz > q->span.size - (a - q->span.base)) {
		l->fault = CUDA_ERROR_ILLEGAL_ADDRESS;
		return NULL;
	}
	if (a % sz) {
		l->fault = CUDA_ERROR_MISALIGNED_ADDRESS;
		return NULL;
	}
	return q->span.host + (a - q->span.base);
}

const void *sim_k_arg(const struct sim_launch *l, uint32_t i)
{
	return l->args + l->f->d.params[i].offset;
}

uint64_t sim_k_arg_u64(const struct sim_launch *l, uint32_t i)
{
	uint64_t v;
	memcpy(&v, sim_k_arg(l, i), 8);
	return v;
}

uint32_t sim_k_arg_u32(const struct sim_launch *l, uint32_t i)
{
	uint32_t v;
	memcpy(&v, sim_k_arg(l, i), 4);
	return v;
}

static struct sim_dim3 unflatten(uint64_t i, struct sim_dim3 d)
{
	return (struct sim_dim3){(uint32_t)(i % d.x), (uint32_t)(i / d.x % d.y),
				 (uint32_t)(i / d.x / d.y)};
}

/* Block by block in x, y, z order, each block's threads likewise. */
void sim_k_grid(struct sim_launch *l,
		void (*body)(struct sim_launch *, const struct sim_thread *,
			     void *),
		void *arg)
{
	uint64_t blocks = (uint64_t)l->grid.x * l->grid.y * l->grid.z;
	uint64_t threads = (uint64_t)l->block.x * l->block.y * l->block.z;
	struct sim_thread t;
	for (uint64_t b = 0; b < blocks; b++) {
		t.block = unflatten(b, l->grid);
		for (uint64_t i = 0; i < threads; i++) {
			t.thread = unflatten(i, l->block);
			body(l, &t, arg);
			if (l->fault)
				return;
		}
	}
}
