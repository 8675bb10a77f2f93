/* daemon/worker.h - one vgpud worker: one guest process, one CUDA context.
 *
 * Contract: a worker is its own process (exec'd by the supervisor, never
 * forked from one that initialised CUDA), so a kernel fault or a crash
 * costs only the guest process it serves. It starts idle with its context
 * already created, is told which channel to serve, attaches it, and exits
 * when the guest process releases or loses the channel. Requests are
 * executed on one thread per guest thread (struct vw_exec), so one guest
 * thread's synchronous wait never blocks another's work, and each guest
 * thread's requests run in the order it sent them.
 *
 * Every handle and device pointer a request names is checked against this
 * worker's tables before use: handles are ids it issued (kind in the top
 * byte), pointers must lie inside allocations it made or globals of
 * modules it loaded. The tables need no RCU: one worker serves one guest
 * process, and a mutex orders its few executor threads.
 */
#ifndef VGPU_DAEMON_WORKER_H
#define VGPU_DAEMON_WORKER_H

#include "../ring/cuda_proto.h"
#include "../ring/serve.h"
#include "backend.h"
#include "ledger.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct vw_handle {
	uint64_t id;  /* 0 = free slot */
	void *real;
	struct vgpu_cu_fninfo *fn; /* functions: parameter layout */
	uint64_t module; /* owner: a function's module, a node's graph;
			  * they go with it */
	uint64_t ctx; /* the context current when it was made (0: none):
		       * cuCtxDestroy sweeps it (worker_ctx.c) */
};

struct vw_alloc {
	CUdeviceptr base;
	uint64_t len;
	bool global; /* a module's __device__ variable: not freeable */
	uint64_t module; /* globals: the module's id; they go with it */
	bool mapped; /* a VMM mapping (worker_vmm.c): not freeable, not
		      * counted (its physical allocation is) */
	uint64_t ctx; /* the context current when it was made, as above */
	uint32_t dev; /* the VM device charged for it (vw_cur_dev) */
};

struct vw_exec;

struct vworker {
	struct vgpu_driver drv;
	struct vgpu_region r;
	struct vgpu_serve srv;
	uint32_t chan;
	CUdevice dev;   /* devs[0] */
	CUcontext ctx;  /* pctx[0] */
	uint64_t ctx_id;
	struct vgpu_cu_devinfo info; /* infos[0] */
	/* The VM's GPUs (daemon/worker_multigpu.c), by VM index: host device
	 * devs[v], its identity, its primary context (retained when first
	 * asked for, kept while the worker lives). The guest process's
	 * device i is VM device map[i] (CUDA_VISIBLE_DEVICES), 0 <= i < nvis;
	 * dev, ctx, ctx_id and info are its device 0's. ndev 0: a worker set
	 * up by hand (tests) with the one device dev. */
	uint32_t ndev, nvis;
	uint8_t map[VGPU_CU_MAX_DEVS];
	CUdevice devs[VGPU_CU_MAX_DEVS];
	CUcontext pctx[VGPU_CU_MAX_DEVS];
	uint64_t pctx_id[VGPU_CU_MAX_DEVS];
	struct vgpu_cu_devinfo infos[VGPU_CU_MAX_DEVS];
	pthread_mutex_t mu; /* tables, async_err, replies */
	struct vw_handle *handles;
	uint32_t nhandles, hcap;
	struct vw_alloc *allocs;
	uint32_t nallocs, acap;
	uint64_t mem_in_use; /* bytes charged (vw_mem_charge), all paths */
	uint64_t mem_gpu[VGPU_CU_MAX_DEVS]; /* the same by VM device */
	struct vgpud_ledger *ledger; /* the VM's, shared with vgpud; or NULL */
	struct vgpud_vm_ledger *vmledger; /* its VM-wide part; or NULL */
	struct vgpud_ipc_slot *ipc;  /* the VM's IPC table (ledger.h); or NULL */
	CUresult async_err; /* first failure of an async call, not yet told */
	struct vw_exec *execs;
	uint8_t *bulk_base; /* arena + pool registered at start-up
			     * (worker_bulk.h); NULL: not registered */
	uint64_t bulk_len;
	struct vw_vmm *vmm; /* worker_vmm.c's tables, made on first use */
	uint64_t next_id;
	bool attached; /* served its one guest process already */
	CUdeviceptr pool_dev; /* the channel's pinned pool slice as the
			       * device sees it; 0: not registered yet */
	uint8_t *pool_host; /* the slice where the driver has it registered:
			     * pool_alias, else the region's own bytes */
	uint8_t *pool_alias; /* the slice at an address the guest chose
			      * (worker_alias.h); NULL: none */
	const char *region_path; /* the region file; NULL: none (tests) */
	struct vw_cb_hub *cb; /* host callbacks in flight (worker_stream_cb.c) */
	struct vw_ghosts *ghosts; /* captured host ranges (worker_graph_host.c) */
	_Atomic uint32_t captures; /* stream captures begun and not ended:
				    * while any, no copy runs inline on the
				    * serving thread (worker_exec.c) */
	struct vw_sched *sched; /* launches in flight (worker_sched.c) */
	struct vgpud_sched_vm *schedvm; /* the VM's tokens (ledger.h); NULL:
					 * no scheduler (tests, fuzzing) */
	struct vw_mlib *mlib; /* libraries per GPU (worker_multigpu_lib.c) */
};

typedef CUresult (*vw_gen_fn)(struct vworker *W, const struct vgpu_cu_args *in,
			      struct vgpu_cu_args *out);
struct vw_gen_entry {
	uint16_t op;
	bool sync;
	const char *name;
	vw_gen_fn fn;
};
extern const struct vw_gen_entry vw_gen_table[]; /* generated */

/* tables (daemon/worker_tables.c) */
CUresult vw_handle_get(struct vworker *W, int kind, uint64_t id, void **real);
/* The entry itself: it moves when another executor grows the table, so
 * only a single-threaded caller (tests) may keep it; others copy. */
struct vw_handle *vw_handle_entry(struct vworker *W, int kind, uint64_t id);
uint64_t vw_handle_new(struct vworker *W, int kind, void *real);
/* Graph objects the driver hands out again: one id per real object,
 * owned by owner (a graph for its nodes, a stream for the graph it is
 * capturing into): deleting the owner forgets them. */
uint64_t vw_handle_intern(struct vworker *W, int kind, void *real,
			  uint64_t owner);
uint64_t vw_handle_id_of(struct vworker *W, int kind, const void *real);
uint64_t vw_handle_owner(struct vworker *W, int kind, uint64_t id);
void vw_handle_set_owner(struct vworker *W, int kind, uint64_t id,
			 uint64_t owner);
void vw_handle_forget_owned(struct vworker *W, uint64_t owner);
void vw_handle_del(struct vworker *W, int kind, uint64_t id);
/* Functions: a new id owning fi (0: out of memory, or module gone), and a
 * lookup that copies the layout. */
/* A function's parameter layout and the limits the guest checks launches
 * against (daemon/worker_calls.c): modules and libraries record the same. */
CUresult vw_fn_layout(struct vworker *W, CUfunction f,
		      struct vgpu_cu_fninfo *fi);
uint64_t vw_function_new(struct vworker *W, CUfunction f,
			 struct vgpu_cu_fninfo *fi, uint64_t module);
CUresult vw_function(struct vworker *W, uint64_t id, CUfunction *f,
		     struct vgpu_cu_fninfo *fi);
CUresult vw_stream(struct vworker *W, uint64_t id, CUstream *s);
CUresult vw_range(struct vworker *W, CUdeviceptr p, uint64_t len);
/* Records an allocation already charged (vw_mem_charge); vw_alloc_del
 * forgets it and uncharges it. */
CUresult vw_alloc_add(struct vworker *W, CUdeviceptr p, uint64_t len);
CUresult vw_alloc_global(struct vworker *W, CUdeviceptr p, uint64_t len,
			 uint64_t module);
CUresult vw_alloc_check(struct vworker *W, CUdeviceptr p);
void vw_alloc_del(struct vworker *W, CUdeviceptr p);
/* VMM mappings and IPC imports: caller's ranges for vw_range (adjacent
 * ones join, as the GPU's address space does) until unmapped or closed;
 * cuMemFree refuses them and they are not counted as this process's. */
CUresult vw_alloc_mapped(struct vworker *W, CUdeviceptr p, uint64_t len);
void vw_alloc_unmapped(struct vworker *W, CUdeviceptr p);
/* Memory quota (daemon/worker_quota.c): THE single entry point for every
 * allocation path that takes device memory (cuMemAlloc*, pitch, async and
 * pool allocations, VMM cuMemCreate, graph memory nodes, ...):
 *   r = vw_mem_charge(W, bytes);          before the driver is called
 *   if (r) return r;                      CUDA_ERROR_OUT_OF_MEMORY: over the
 *                                         VM's memory_limit, all processes
 *   r = W->drv.cuMemXxx(...);
 *   if (r) vw_mem_uncharge(W, bytes);     the driver failed: give it back
 * and on free vw_mem_uncharge(W, bytes) (vw_alloc_del does it for ranges
 * recorded with vw_alloc_add). Whatever is still charged when the worker
 * exits is uncharged by the supervisor. Charge what the driver really
 * takes (e.g. the granularity-rounded size of cuMemCreate). */
CUresult vw_mem_charge(struct vworker *W, uint64_t bytes);
void vw_mem_uncharge(struct vworker *W, uint64_t bytes);
/* The quota is per (VM, GPU): memory_limit applies to each of the VM's
 * GPUs. Charges go to the GPU of the calling executor's current context
 * (vw_cur_dev); vw_mem_uncharge gives back to that GPU too, and
 * vw_mem_uncharge_dev to a named one (recorded allocations: the GPU they
 * were charged to). */
void vw_mem_uncharge_dev(struct vworker *W, uint32_t dev, uint64_t bytes);
/* cuMemGetInfo's figures made quota-relative: total = min(limit, total),
 * free = min(limit - used, free), for the current context's GPU.
 * Unchanged without a limit. */
void vw_mem_info(struct vworker *W, size_t *free_b, size_t *total_b);
/* The device's total memory as the guest sees it, under the current
 * limit (a reload may have changed it since the worker started). */
void vw_mem_refresh_devinfo(struct vworker *W);

/* Non-primary contexts (daemon/worker_ctx.c). vw_ctx_tag: the context
 * current on the calling executor thread, which tags every handle and
 * allocation it then makes; vw_ctx_tagged: that tag. vw_ctx_sweep forgets
 * every handle and allocation tagged ctx (and what they own), uncharging
 * the allocations: the driver freed them with the context. */
bool vw_ctx_execute(struct vworker *W, struct vw_exec *x,
		    const struct vgpu_msg *m);
void vw_ctx_tag(uint64_t ctx);
uint64_t vw_ctx_tagged(void);
void vw_ctx_sweep(struct vworker *W, uint64_t ctx);
/* The tag of handle id of kind (0: none); INVALID_HANDLE if unknown. */
CUresult vw_handle_ctx(struct vworker *W, int kind, uint64_t id,
		       uint64_t *ctx);

/* Several GPUs per VM (daemon/worker_multigpu.c). Ordinals named "guest"
 * are the guest process's (after CUDA_VISIBLE_DEVICES). vw_dev_ctx: guest
 * device i's primary context (retained and given a handle id on first
 * use; vw_dev_ctx_id). vw_dev_info: its identity (NULL: no such device).
 * vw_devinfo_place: the guest's PCI address of VM device v (bus v+1) into
 * its attributes and bus id. vw_dev_host and vw_dev_guest translate
 * ordinals (-1: not the process's). vw_cur_dev: the VM device of the
 * executor thread's current context (0 if none): the quota's key. */
CUresult vw_dev_ctx(struct vworker *W, uint32_t i, CUcontext *ctx);
/* At start-up: the VM's GPUs are host ordinals host[0..n-1]; fills devs,
 * infos (the VM's identity, memory capped by limit), the identity map,
 * and device 0's primary context as W->ctx / ctx_id. *bad: the ordinal
 * that failed. */
CUresult vw_devs_open(struct vworker *W, const int *host, uint32_t n,
		      const char *vm, uint64_t limit, int *bad);
const struct vgpu_cu_devinfo *vw_dev_info(struct vworker *W, uint64_t i);
void vw_devinfo_place(struct vgpu_cu_devinfo *info, uint32_t i);
int vw_dev_host(struct vworker *W, int64_t guest);
int vw_dev_guest(struct vworker *W, CUdevice host);
uint32_t vw_cur_dev(struct vworker *W);
uint64_t vw_dev_ctx_id(struct vworker *W, uint32_t i); /* 0: not yet */
bool vw_multigpu_execute(struct vworker *W, struct vw_exec *x,
			 const struct vgpu_msg *m);
/* Libraries on several GPUs (daemon/worker_multigpu_lib.c): keep takes
 * the image of library module `module` (a worker with ndev > 1 only);
 * vw_mlib_function and vw_mlib_module turn the home function (id) or
 * module of a library into its counterpart on the current primary
 * context's device, loading the image there on first use (unchanged for
 * other modules); vw_mlib_fn_id: the function id behind such a
 * counterpart (0: none); forget: the module was unloaded; count: its
 * copies loaded on other devices (tests). */
void vw_mlib_keep(struct vworker *W, uint64_t module, uint8_t *image);
CUresult vw_mlib_function(struct vworker *W, uint64_t id, uint64_t module,
			  CUfunction *f);
CUresult vw_mlib_module(struct vworker *W, uint64_t module, CUmodule *mod);
uint64_t vw_mlib_fn_id(struct vworker *W, CUfunction f);
void vw_mlib_forget(struct vworker *W, uint64_t module);
uint32_t vw_mlib_count(struct vworker *W, uint64_t module);

/* requests (daemon/worker_calls.c): run m, reply unless NOREPLY */
void vw_execute(struct vworker *W, struct vw_exec *x, const struct vgpu_msg *m);

/* Areas of the driver API, one file each (daemon/worker_AREA.c): each
 * handles the hand-written opcodes of its range in ring/cuda_proto.h and
 * returns true, or false for an opcode not its own. */
bool vw_mem_execute(struct vworker *W, struct vw_exec *x,
			const struct vgpu_msg *m); /* copies in every direction, 2D/3D, memset, host memory, pointer attributes */
/* A request short and thread-neutral enough for the serving thread to
 * run itself when its guest thread's executor is idle (worker_exec.c). */
bool vw_mem_inline_ok(const struct vgpu_msg *m);
bool vw_stream_execute(struct vworker *W, struct vw_exec *x,
			const struct vgpu_msg *m); /* streams, priorities, host callbacks, stream memory ops, launch variants, occupancy, contexts */
bool vw_graph_execute(struct vworker *W, struct vw_exec *x,
			const struct vgpu_msg *m); /* stream capture and graphs */
/* Before a copy through a staging buffer on stream s: SUCCESS, or the
 * error that refuses it because s is capturing: a graph must never replay
 * a reused staging buffer. A device-to-host copy's capture is then
 * invalidated; a host-to-device one's is not: the guest asks again with
 * VGPU_CU_GRAPH_HOST (worker_graph_host.c), which captures it. */
CUresult vw_graph_staged_copy_ok(struct vworker *W, CUstream s, bool htod);
/* Pageable host-to-device copies in graphs (daemon/worker_graph_host.c):
 * the opcodes VGPU_CU_GRAPH_HOST and _FILL (true), else false; a capture
 * ended (ok: into graph; else its ranges go); a graph destroyed; exec
 * made from or updated to graph (returns its number of host ranges);
 * exec destroyed; all forgotten (the fuzz harness's reset). */
bool vw_graph_host_execute(struct vworker *W, const struct vgpu_msg *m);
void vw_graph_host_capture_end(struct vworker *W, uint64_t capture,
			       CUgraph graph, bool ok);
void vw_graph_host_graph_gone(struct vworker *W, CUgraph graph);
uint64_t vw_graph_host_bind(struct vworker *W, uint64_t exec, CUgraph graph,
			    CUresult *rc);
void vw_graph_host_exec_gone(struct vworker *W, uint64_t exec);
void vw_graph_host_forget(struct vworker *W);
size_t vw_graph_host_count(struct vworker *W); /* ranges kept (tests) */
bool vw_vmm_execute(struct vworker *W, struct vw_exec *x,
			const struct vgpu_msg *m); /* virtual memory management and IPC */
/* Drop the VMM area's tables, not the driver's objects (the fuzz harness
 * resets a worker in place; a worker process exits instead). */
void vw_vmm_forget(struct vworker *W);
/* Bytes of VMM physical allocations counted in mem_in_use (checks). */
uint64_t vw_vmm_bytes(struct vworker *W);
bool vw_lib_execute(struct vworker *W, struct vw_exec *x,
			const struct vgpu_msg *m); /* libraries and kernels (cuLibrary, cuKernel), export tables */
/* torch area: TMA descriptors (daemon/worker_torch.c). */
bool vw_torch_execute(struct vworker *W, struct vw_exec *x,
		      const struct vgpu_msg *m);
/* cublas area: export table 1734dc26's SM layout (daemon/worker_cublas.c). */
bool vw_cublas_execute(struct vworker *W, struct vw_exec *x,
		       const struct vgpu_msg *m);
/* lib area: where device memory comes from (daemon/worker_lib_va.c). */
bool vw_va_execute(struct vworker *W, struct vw_exec *x,
		   const struct vgpu_msg *m);

/* Host callbacks (daemon/worker_stream_cb.c). vw_cb_run blocks the
 * calling driver thread until the guest has run callback `token` (told
 * `status`) and said so, or the worker is closing; a host function body
 * for any area (graph host nodes too). vw_cb_close releases every waiter
 * for good: called before the executors are stopped. */
void vw_cb_run(struct vworker *W, uint64_t token, CUresult status);
/* Host functions run at every graph launch: the driver's fn is
 * vw_cb_persistent_fn, its argument the guest's token (bind W first). */
void vw_cb_persist_bind(struct vworker *W);
void vw_cb_persistent_fn(void *token);
void vw_cb_close(struct vworker *W);

/* executors (daemon/worker_exec.c) */
int vw_exec_submit(struct vworker *W, const struct vgpu_msg *m);
/* Stop and join every executor; the number that stayed blocked in the
 * driver past a grace period (abandoned: the caller must exit). */
int vw_exec_stop_all(struct vworker *W);
/* A thread-less executor for callers that run vw_execute() themselves
 * (tests and fuzzing only); free releases any image it was assembling. */
struct vw_exec *vw_exec_standalone(struct vworker *W);
void vw_exec_standalone_free(struct vw_exec *x);

/* per-executor state the bulk calls need (module images in flight) */
struct vw_exec_state {
	uint8_t *image;
	uint64_t image_len, image_got;
};
struct vw_exec_state *vw_exec_state(struct vw_exec *x);

/* r, or the first asynchronous failure not yet told if r is SUCCESS: what
 * a synchronising call answers. */
CUresult vw_take_async_err(struct vworker *W, CUresult r);
void vw_reply(struct vworker *W, const struct vgpu_msg *m, CUresult r,
	      const void *data, uint32_t len, uint64_t arena_len);

#endif
