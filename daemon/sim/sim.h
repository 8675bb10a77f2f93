/* daemon/sim/sim.h - internals of the sim backend (a CPU test double of
 * the CUDA driver), shared by the files of daemon/sim. Nothing outside
 * daemon/sim includes it except the sim's own tests.
 *
 * Contract: the sim is one process-wide device, like libcuda: one device
 * (ordinal 0), one primary context, device memory that is host memory
 * behind synthetic device addresses, streams executed by worker threads
 * with random delays, modules parsed from real nvcc output, and kernels
 * implemented in C (sim_kernels.c). Every API function validates its
 * handles and pointers and returns the error the real driver would; no
 * input from a guest can crash the daemon through it. Each module's header
 * comment states its own part.
 */
#ifndef VGPU_DAEMON_SIM_H
#define VGPU_DAEMON_SIM_H

#include <cuda.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* One sim_<name> per entry of driver.def: sim.c fills the table from them,
 * so a missing implementation is a link error, not a NULL pointer. */
#define X(name, params) CUresult sim_##name params;
#include "../driver.def"
#undef X

#define SIM_DRIVER_VERSION 13000
#define SIM_CC_MAJOR 9
#define SIM_CC_MINOR 0
#define SIM_SM_VERSION 90          /* fatbin/ELF encoding of 9.0 */
#define SIM_MAX_THREADS 1024
#define SIM_MAX_BLOCK_X 1024
#define SIM_MAX_BLOCK_Y 1024
#define SIM_MAX_BLOCK_Z 64
#define SIM_MAX_GRID_X 2147483647u
#define SIM_MAX_GRID_YZ 65535u
#define SIM_SHARED_PER_BLOCK 49152 /* without the opt-in attribute */
#define SIM_REGS_PER_BLOCK 65536
#define SIM_MAX_PARAM_BYTES 32764  /* CUDA 12.1+ kernel parameter limit */
#define SIM_ALIGN 256              /* cuMemAlloc alignment */

/* ---- configuration and errors (sim.c, sim_errors.c) ------------------- */

#define SIM_MAX_DEVS 16
struct sim_config {
	uint64_t total_mem;  /* VGPU_SIM_MEMORY, each device's */
	uint64_t seed;       /* VGPU_SIM_SEED */
	int ndevs;           /* VGPU_SIM_GPUS (1..16, default 1) */
	uint32_t peer[SIM_MAX_DEVS]; /* VGPU_SIM_PEER: bit j of [i], i
				      * reaches j (sim_peer.c) */
};
extern struct sim_config sim_cfg;

/* Why the last failing call on this thread failed, in words ("" if no
 * detail): CUresult alone cannot say "no C implementation of kernel X". */
const char *vgpu_sim_last_error_detail(void);
void sim_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- handles (sim_handles.c) ------------------------------------------ */

enum sim_kind { SIM_STREAM = 1, SIM_EVENT, SIM_MODULE, SIM_FUNC };

/* First member of every object a handle names. refs counts the registry
 * (while the handle is valid) plus every operation still using it. */
struct sim_obj {
	enum sim_kind kind;
	atomic_int refs;
	void (*destroy)(struct sim_obj *o);
	const void *ctx; /* context current at init (sim_ctx_tag) */
};

void sim_obj_init(struct sim_obj *o, enum sim_kind k,
		  void (*destroy)(struct sim_obj *));
int sim_obj_register(struct sim_obj *o);          /* 0, or -1: no memory */
/* The object handle h names if it is live and of kind k, with a reference
 * taken; NULL otherwise. Never dereferences h. */
struct sim_obj *sim_obj_get(const void *h, enum sim_kind k);
void sim_obj_ref(struct sim_obj *o);
void sim_obj_put(struct sim_obj *o);
/* Invalidate o's handle and drop the registry's reference: false if it was
 * not registered (destroyed twice). */
bool sim_obj_unregister(struct sim_obj *o);
/* References to every live object of kind k (caller puts each and frees
 * the array); -1 if out of memory. */
int sim_obj_collect(enum sim_kind k, struct sim_obj ***out, size_t *n);
/* The registry's size in slots (tests: it follows the live objects). */
size_t sim_obj_slots(void);

/* ---- context (sim_ctx.c) ---------------------------------------------- */

struct sim_stream;

struct sim_ctx {
	pthread_mutex_t mu;          /* epoch, the stream list */
	int refs;                    /* retain count (sim_ctx.c's lock) */
	uint64_t epoch;              /* bumped by each reset */
	atomic_bool active;          /* refs > 0 */
	atomic_int sticky;           /* first kernel fault; 0 = none */
	struct sim_stream *streams;  /* every stream whose worker runs */
	struct sim_stream *legacy;   /* stream 0 / CU_STREAM_LEGACY */
};
extern struct sim_ctx sim_ctx;

/* Prologue of calls that need a current context: not initialised, no
 * current context, context released, or the sticky error. */
CUresult sim_enter(void);
/* Prologue of calls on explicit handles (they carry their context). */
CUresult sim_enter_handle(void);
CUresult sim_check_init(void);
/* Record a kernel fault: the context's first one sticks until reset. */
void sim_fault(CUresult e);
CUresult sim_sticky(void);
int sim_ctx_start(char *err, size_t errlen);      /* at open */
/* Wait until every stream has run everything queued so far. */
void sim_ctx_drain(void);

/* ---- device memory (sim_heap.c) --------------------------------------- */

/* A device range resolved to host memory, valid while the caller holds the
 * heap's read lock. */
struct sim_span {
	CUdeviceptr base;   /* the allocation containing the range */
	size_t size;
	uint8_t *host;      /* host address of base */
};

int sim_heap_start(uint64_t total, char *err, size_t errlen);
/* owner: NULL for cuMemAlloc, the module for its globals. */
CUresult sim_heap_alloc(size_t size, const void *owner, CUdeviceptr *out);
/* INVALID_VALUE unless p is the start of an allocation of owner. */
CUresult sim_heap_free(CUdeviceptr p, const void *owner);
void sim_heap_free_all(void);
void sim_heap_info(size_t *free, size_t *total);
void sim_heap_rdlock(void);
void sim_heap_unlock(void);
/* Allocation containing [p, p+n) (n >= 1), under the read lock. */
bool sim_heap_find(CUdeviceptr p, size_t n, struct sim_span *out);
/* Host address of [p, p+n) if one allocation holds it, under the lock. */
void *sim_heap_map(CUdeviceptr p, size_t n);
/* Whether host range [h, h+n) overlaps the reserved device range: such a
 * "host pointer" is a device pointer used by mistake. */
bool sim_heap_is_device_range(const void *h, size_t n);
/* API-time check of a device range: SUCCESS or INVALID_VALUE. */
CUresult sim_heap_check(CUdeviceptr p, size_t n);

/* ---- streams and operations (sim_stream.c, sim_queue.c) --------------- */

enum sim_op_kind {
	SIM_OP_NOP, SIM_OP_HTOD, SIM_OP_DTOH, SIM_OP_DTOD, SIM_OP_MEMSET,
	SIM_OP_LAUNCH, SIM_OP_RECORD, SIM_OP_WAIT,
	SIM_OP_RECT, /* 2D copy or memset: sim_mem2d.c */
	SIM_OP_FREE, /* cuMemFreeAsync: u.copy.dst (sim_pool.c) */
	SIM_OP_HOST, SIM_OP_MEMOP   /* sim_stream_ops.c */
};

/* "Stream s has completed its first seq operations." */
struct sim_dep {
	struct sim_stream *s;
	uint64_t seq;
};

struct sim_launch;
struct sim_event;

struct sim_op {
	struct sim_op *next;
	enum sim_op_kind kind;
	struct sim_dep *deps;       /* each holds a reference on its stream */
	size_t ndeps;
	struct sim_event *ev;       /* RECORD, WAIT: referenced */
	uint64_t ev_seq;
	union {
		struct {
			CUdeviceptr dst, src;
			void *hdst;
			const void *hsrc;
			size_t n;
		} copy;
		struct {
			CUdeviceptr dst;
			uint32_t val;
			unsigned elem;      /* 1 or 4 bytes */
			size_t count;
		} set;
		struct sim_launch *launch;
		struct sim_rect {
			CUdeviceptr dst, src; /* 0 where that side is host */
			void *hdst;
			const void *hsrc;     /* NULL for a memset */
			size_t dpitch, spitch, width, height;
			uint32_t val;         /* memset */
			unsigned elem;        /* memset: 1, 2 or 4 */
		} rect;
		struct {                    /* cuLaunchHostFunc, AddCallback */
			CUhostFn fn;
			CUstreamCallback cb;
			CUstream h;
			void *data;
		} host;
		struct {                    /* wait/write value, barriers */
			CUstreamBatchMemOpParams *ops;
			unsigned n;
		} memop;
	} u;
};

enum sim_stream_type { SIM_S_USER, SIM_S_LEGACY, SIM_S_PER_THREAD };

struct sim_stream {
	struct sim_obj obj;
	enum sim_stream_type type;
	bool blocking;              /* synchronises with the legacy stream */
	pthread_mutex_t mu;
	pthread_cond_t work;        /* worker: an operation arrived */
	pthread_cond_t idle;        /* waiters: done advanced */
	struct sim_op *head, *tail;
	uint64_t enq, done;         /* operations queued / completed */
	bool closing;               /* destroyed: exit once drained */
	uint64_t rng;               /* the worker's delay generator */
	uint64_t id;                /* cuStreamGetId: creation number */
	int priority;               /* clamped to the device's range */
	/* cuStreamSetAttribute's values by id, under mu (sim_stream_attr.c) */
	CUstreamAttrValue attr[CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN + 1];
	bool attr_set[CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN + 1];
	struct sim_stream *next, *prev; /* sim_ctx.streams, under sim_ctx.mu */
};

struct sim_op *sim_op_new(enum sim_op_kind k);
void sim_op_free(struct sim_op *op);
/* A stream with its worker running, linked into sim_ctx.streams; the
 * caller holds the one reference (NULL: no memory or thread). */
struct sim_stream *sim_stream_new(enum sim_stream_type type, bool blocking);
/* Close every per-thread stream (context reset). */
void sim_stream_close_per_thread(void);
/* Queue op on s after the legacy-stream dependencies the real driver
 * implies; the stream owns op from here. *seq (if given) is its number. */
CUresult sim_submit(struct sim_stream *s, struct sim_op *op, uint64_t *seq);
void sim_stream_wait(struct sim_stream *s, uint64_t seq);
bool sim_stream_idle(struct sim_stream *s);
/* Ask the worker to exit once drained (after the handle is gone). */
void sim_stream_close(struct sim_stream *s);
/* The stream h names (0, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD or a
 * handle), referenced; *s is set only on SUCCESS. */
CUresult sim_stream_resolve(CUstream h, struct sim_stream **s);
void sim_stream_put(struct sim_stream *s);
/* Operation execution, one function per kind's owner. */
void sim_mem_exec(struct sim_op *op);
void sim_launch_exec(struct sim_launch *l);
void sim_launch_free(struct sim_launch *l);
void sim_event_complete(struct sim_event *e, uint64_t seq);
void sim_event_wait_seq(struct sim_event *e, uint64_t seq);
void sim_event_put(struct sim_event *e);

/* ---- modules and images (sim_module.c, sim_image.c, sim_elf.c,
 *      sim_ptx.c) ------------------------------------------------------- */

struct sim_param {
	uint32_t offset, size;
};

/* A kernel as an image describes it. */
struct sim_kdesc {
	char *name;
	uint32_t nparams;
	struct sim_param *params;
	uint32_t argsize;           /* bytes of the parameter buffer */
	int nregs;                  /* 0: not stated */
	uint32_t shared;            /* static shared memory */
};

/* A __device__ / __constant__ variable; init points into the image or
 * to owned (the PTX parser's bytes) and is NULL for zero-initialised data.
 */
struct sim_gdesc {
	char *name;
	uint64_t size;
	const uint8_t *init;
	uint64_t init_len;
	uint8_t *owned;
};

struct sim_image {
	struct sim_kdesc *k;
	size_t nk;
	struct sim_gdesc *g;
	size_t ng;
	int binary_version;         /* 90: what runs is sm_90 code */
	int ptx_version;            /* virtual arch: 90 for compute_90 */
};

void sim_image_free(struct sim_image *im);
int sim_image_add_kernel(struct sim_image *im, struct sim_kdesc *k);
int sim_image_add_global(struct sim_image *im, struct sim_gdesc *g);
/* Parse whatever cuModuleLoadData accepts into im. */
CUresult sim_image_parse(const void *image, struct sim_image *im);
/* A cubin of at most len bytes (len: what the container says). */
CUresult sim_elf_parse(const uint8_t *p, size_t len, struct sim_image *im);
/* The bytes a bare cubin's headers say it spans, or 0 if it is not one. */
size_t sim_elf_extent(const uint8_t *p);
/* NUL-terminated PTX text. */
CUresult sim_ptx_parse(const char *text, struct sim_image *im);

struct sim_module;
struct sim_kimpl;

struct sim_func {
	struct sim_obj obj;
	struct sim_module *mod;     /* referenced */
	struct sim_kdesc d;
	const struct sim_kimpl *impl; /* NULL: no C implementation */
	int binary_version, ptx_version;
	/* cuFuncSetAttribute's values, by CUfunction_attribute; 0 = never
	 * set (sim_stream_func.c) */
	_Atomic int set[CU_FUNC_ATTRIBUTE_MAX];
	_Atomic bool is_set[CU_FUNC_ATTRIBUTE_MAX];
};

/* The device address of a module's global, 0 if it has none of that
 * name and size. */
CUdeviceptr sim_module_global(struct sim_module *m, const char *name,
			      uint64_t size);

/* ---- kernels (sim_launch.c, sim_kernels.c) ---------------------------- */

struct sim_dim3 {
	uint32_t x, y, z;
};

/* One launch in flight: what the C kernel sees. */
struct sim_launch {
	struct sim_func *f;         /* referenced */
	struct sim_dim3 grid, block;
	uint32_t shared;
	uint8_t *args;              /* copy of the parameter buffer */
	CUresult fault;             /* set by the first bad access */
	bool locked;                /* holds the heap's read lock */
};

/* A device pointer as a kernel uses it: bound on first access to the
 * allocation that contains it. */
struct sim_kptr {
	CUdeviceptr p;
	bool bound, valid;
	struct sim_span span;
};

/* Host address of element i (of sz bytes) of q, or NULL with the launch's
 * fault set (ILLEGAL_ADDRESS outside q's allocation, MISALIGNED_ADDRESS). */
void *sim_k_at(struct sim_launch *l, struct sim_kptr *q, int64_t i,
	       size_t sz);
/* Raw parameter i (the parser checked its size against the table). */
const void *sim_k_arg(const struct sim_launch *l, uint32_t i);
uint64_t sim_k_arg_u64(const struct sim_launch *l, uint32_t i);
uint32_t sim_k_arg_u32(const struct sim_launch *l, uint32_t i);

struct sim_thread {
	struct sim_dim3 block, thread;  /* blockIdx, threadIdx */
};
/* Run body once per GPU thread, block by block, until a fault. */
void sim_k_grid(struct sim_launch *l,
		void (*body)(struct sim_launch *, const struct sim_thread *,
			     void *),
		void *arg);

struct sim_kimpl {
	const char *name;
	uint32_t nparams;
	uint32_t sizes[8];
	const char *global;         /* a module global it needs, or NULL */
	uint64_t global_size;
	void (*run)(struct sim_launch *l);
};
/* The C kernel of that name whose parameters match d, or NULL. */
const struct sim_kimpl *sim_kernel_find(const struct sim_kdesc *d);

/* Areas added by the driver-API work, one sim_AREA.c each. */
/* -- mem -- */
/* Run a SIM_OP_RECT (sim_mem2d.c). */
void sim_rect_exec(struct sim_op *op);

/* -- stream -- */
/* Stream priorities: 0 (least) down to SIM_PRIO_GREATEST, as an H100. */
#define SIM_PRIO_LEAST 0
#define SIM_PRIO_GREATEST (-5)
/* Run a host-function or memory-op operation (sim_stream_ops.c); err is
 * the context's sticky error (a callback is told it; memory ops skip). */
void sim_stream_op_exec(struct sim_op *op, CUresult err);
void sim_stream_op_free(struct sim_op *op);
/* Blocks of f per SM at that block size and dynamic shared memory
 * (sim_stream_launch.c: the model is documented there), and the SM count. */
int sim_occupancy(const struct sim_func *f, int block, size_t dyn_shared);
int sim_sm_count(void);
/* The dynamic shared memory f may use per block (48 KiB less its static
 * shared memory, or what cuFuncSetAttribute opted it into). */
int sim_func_max_dyn_shared(const struct sim_func *f);

/* -- graph -- */
/* Stream capture (sim_capture.c), graphs and their nodes (sim_graph.c),
 * executable graphs (sim_gexec.c). One lock, sim_gmu, guards all of
 * their state: captures are rare and graphs small in the sim. */
#define SIM_GRAPH ((enum sim_kind)0x40)
#define SIM_GNODE ((enum sim_kind)0x41)
#define SIM_GEXEC ((enum sim_kind)0x42)
extern pthread_mutex_t sim_gmu;

struct sim_graph;

/* A node: its operation is a template (an op never queued; NULL for an
 * empty node) cloned at each launch. Edges point at dependencies. */
struct sim_gnode {
	struct sim_obj obj;         /* registry + the graph's reference */
	struct sim_graph *g;        /* NULL once the graph is destroyed */
	CUgraphNodeType type;
	struct sim_op *op;
	struct sim_gnode **deps;    /* not referenced: the graph holds all */
	size_t ndeps;
	void **kparams;             /* KernelNodeGetParams' pointers */
};

struct sim_graph {
	struct sim_obj obj;
	struct sim_gnode **nodes;   /* creation order, each referenced */
	size_t n, cap;
};

/* Under sim_gmu: a new registered graph with a reference for the caller
 * besides the registry's (NULL: no memory); a node of
 * type t owning op added after deps (SUCCESS, or op freed). */
struct sim_graph *sim_graph_new(void);
CUresult sim_graph_add(struct sim_graph *g, CUgraphNodeType t,
		       struct sim_op *op, struct sim_gnode *const *deps,
		       size_t ndeps, struct sim_gnode **out);
/* Under sim_gmu: invalidate g's handle and its nodes' (the registry's
 * references go; the caller's, if any, stays). */
void sim_graph_unregister(struct sim_graph *g);
/* A copy of template t (launch arguments, event reference), or NULL. */
struct sim_op *sim_op_clone(const struct sim_op *t);
/* A launch as cuLaunchKernel checks and copies it (sim_launch.c); f is
 * referenced by the caller and owned by the launch from SUCCESS on. */
struct sim_launch *sim_launch_prepare(struct sim_func *f, struct sim_dim3 g,
				      struct sim_dim3 b, unsigned shared,
				      void **params, void **extra,
				      CUresult *rc);

/* Hooks of the stream, event, memory and context calls into capture;
 * each costs one atomic load while nothing is being captured.
 * submit: op on s captured (true, *rc SUCCESS), refused (true, *rc the
 * capture error, op freed) or to be queued as usual (false). */
bool sim_capture_submit(struct sim_stream *s, struct sim_op *op,
			CUresult *rc);
/* Synchronising with or querying stream s / the context. */
CUresult sim_capture_sync(struct sim_stream *s);
CUresult sim_capture_ctx_sync(void);
/* A potentially unsafe call (allocation, free) under the thread's mode. */
CUresult sim_capture_unsafe(void);
/* cuEventRecord / cuStreamWaitEvent: handled by capture (true, *rc). */
bool sim_capture_record(struct sim_obj *e, struct sim_stream *s,
			CUresult *rc);
bool sim_capture_wait(struct sim_stream *s, struct sim_obj *e, CUresult *rc);
/* cuEventQuery / cuEventSynchronize: CAPTURED_EVENT or SUCCESS. */
CUresult sim_capture_event_check(struct sim_obj *e);
/* cuStreamDestroy: s leaves (or, as the origin, ends) its capture. */
void sim_capture_stream_gone(struct sim_stream *s);

/* -- vmm -- */
/* Virtual memory management (sim_vmm.c over sim_heap.c): reservations in
 * the top SIM_VMM_WINDOW bytes of the device range, physical allocations
 * in memfds mapped into each reservation's host shadow. */
#define SIM_VMM_WINDOW (256ull << 30)
#define SIM_VMM_GRANULARITY (2u << 20) /* an H100's, minimum = recommended */
CUresult sim_heap_charge(size_t n);
void sim_heap_uncharge(size_t n);
CUresult sim_heap_va_reserve(size_t size, size_t align, CUdeviceptr hint,
			     CUdeviceptr *out);
/* INVALID_VALUE unless exactly one reservation, with nothing mapped. */
CUresult sim_heap_va_free(CUdeviceptr p, size_t size);
/* Map fd's [off, off+size) at va, inside a reservation and over no other
 * mapping; no access until sim_heap_vaccess. */
CUresult sim_heap_vmap(CUdeviceptr va, size_t size, int fd, uint64_t off,
		       const void *owner);
/* Unmap whole mappings tiling [va, va+size); *owners (malloc'd, *n of
 * them) are theirs, for the caller to drop. */
CUresult sim_heap_vunmap(CUdeviceptr va, size_t size, const void ***owners,
			 size_t *n);
/* Read-write or no access for the whole mappings tiling [va, va+size). */
CUresult sim_heap_vaccess(CUdeviceptr va, size_t size, bool rw);
CUresult sim_heap_vquery(CUdeviceptr va, const void **owner, bool *rw);
/* IPC (sim_ipc.c): move the cuMemAlloc allocation based at p into a
 * memfd (its fd, kept by the heap, and size); map another process's file
 * fd (taken) as a new uncharged allocation of owner. */
CUresult sim_heap_export(CUdeviceptr p, int *fd, size_t *size);
CUresult sim_heap_import(int fd, size_t size, const void *owner,
			 CUdeviceptr *out);
/* The context's reset (sim_ctx.c): physical allocations, pools and IPC
 * imports go, as the heap's allocations and reservations do. */
void sim_vmm_reset(void);
void sim_pool_reset(void);
void sim_ipc_reset(void);
/* Stream-ordered allocation (sim_pool.c): a SIM_OP_FREE reaching the
 * head of its stream frees its allocation. */
void sim_pool_exec_free(struct sim_op *op);
bool sim_pool_live(CUmemoryPool pool); /* a live pool's handle (checks) */

/* -- lib -- */
/* The functions of module m, in image order (sim_module.c; valid while
 * the caller holds a reference on m). */
size_t sim_module_funcs(struct sim_module *m, struct sim_func *const **f);

/* -- ctx -- (sim_ctx.c, sim_ctx_user.c) */
/* The calling thread's current context (NULL: none), which tags objects
 * and allocations made; a non-primary context's destroy frees what it
 * tagged: objects (sim_ctx_user.c), allocations (sim_heap_free_ctx). */
const void *sim_ctx_tag(void);
bool sim_ctx_user_valid(const void *c);
void sim_heap_free_ctx(const void *ctx);
void sim_ctx_switch(const void *c); /* the thread's current context */
/* cuCtxGetId's answer: 1 for the primary context, then 2, 3... */
unsigned long long sim_ctx_id(const void *c);
void sim_ctx_free_tagged(const void *c);

/* -- multigpu -- (sim_peer.c; docs/multigpu.md)
 * VGPU_SIM_GPUS devices, each with its own primary context handle and its
 * own memory budget (VGPU_SIM_MEMORY each) but one shared context state
 * (heap address space, streams, sticky error): device d's primary is
 * sim_ctx for d == 0, else a token of sim_pctx. The reset runs when every
 * device's primary is released. */
extern const char sim_pctx[SIM_MAX_DEVS];
bool sim_ctx_valid(const void *c); /* primary of any device, or user */
int sim_ctx_dev(const void *c);     /* its device; -1: not a context */
int sim_cur_dev(void);              /* the current context's (0: none) */
int sim_ctx_user_dev(const void *c); /* a user context's device */
CUresult sim_check_dev(CUdevice dev); /* init, then INVALID_DEVICE */
void sim_peer_reset(void);          /* the reset: peer access off */
int sim_heap_dev_of(CUdeviceptr p); /* device of p's allocation; -1 */
/* A module belongs to the device of the context it was loaded in: the
 * sim's contexts share one state, but cuLaunchKernel refuses a function
 * of another device's module (INVALID_HANDLE), as a real driver refuses
 * another context's, so tests see a library used on the wrong GPU. */
int sim_module_dev(const struct sim_module *m);
/* -- pinned memory at its device address -- (sim_host.c)
 * The registered host range holding p, as a kernel reaches it (its device
 * address is its host address). */
bool sim_host_find(CUdeviceptr p, struct sim_span *out);

#endif
