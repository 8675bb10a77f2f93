/* ring/cuda_proto.h - the CUDA driver protocol on top of the ring.
 *
 * Contract: every CUDA call a guest remotes is one ring message whose
 * opcode is listed here. Calls described in ring/cuda.api use the generic
 * argument block (struct vgpu_cu_args, all scalars widened to 64 bits) and
 * get generated opcodes from VGPU_CU_OP_GEN_BASE up; the hand-written
 * calls below have their own payloads. A reply's result field carries the
 * CUresult. Fixed-width types only: this header includes no CUDA header,
 * so ring/ stays CUDA-free and both sides agree on every byte.
 */
#ifndef VGPU_RING_CUDA_PROTO_H
#define VGPU_RING_CUDA_PROTO_H

#include <stdint.h>

enum vgpu_cu_op {
	VGPU_CU_DEVICE_INFO = 0x10,   /* stream in: struct vgpu_cu_devinfo */
	VGPU_CU_CTX_RETAIN = 0x11,    /* -> args.a[0] = context id */
	VGPU_CU_MEMCPY_HTOD = 0x12,   /* stream out, arg: u64 dst */
	VGPU_CU_MEMCPY_DTOH = 0x13,   /* stream in, arg: u64 src */
	VGPU_CU_MODULE_LOAD = 0x14,   /* stream out, arg: u64 image size */
	VGPU_CU_MODULE_GET_FUNCTION = 0x15, /* struct vgpu_cu_getfn */
	VGPU_CU_MODULE_GET_GLOBAL = 0x16,   /* struct vgpu_cu_getfn */
	VGPU_CU_LAUNCH = 0x17,        /* struct vgpu_cu_launch + params */
	VGPU_CU_MODULE_COMMIT = 0x18, /* load what MODULE_LOAD streamed:
				       * -> args.a[0] = module id */
	VGPU_CU_MEMCPY_HTOD_INLINE = 0x19, /* u64 dst, u64 stream, data */
	VGPU_CU_MEMCPY_DTOH_INLINE = 0x1A, /* u64 src, u64 stream, u64 len
					    * -> data */
	/* -- ctx -- (daemon/worker_ctx.c) */
	VGPU_CU_CTX_CREATE = 0x1B,    /* args: a[0] flags, a[1] device
				       * -> a[0] context id;
				       * the sender's current one is kept */
	VGPU_CU_CTX_DESTROY = 0x1C,   /* args: a[0] context id (not the
				       * primary): its handles go with it */
	VGPU_CU_CTX_OF_STREAM = 0x1D, /* args: a[0] stream id -> a[0] the
				       * context it was created in */
	/* Hand-written opcodes by area (daemon/worker_AREA.c):
	 * 0x20-0x2F mem, 0x30-0x3F stream, 0x40-0x4F graph, 0x50-0x5F vmm,
	 * 0x60-0x6F lib. */
	/* -- mem -- */
	VGPU_CU_MEMSET_2D = 0x20,     /* struct vgpu_cu_memset */
	VGPU_CU_RECT_DTOD = 0x21,     /* struct vgpu_cu_rect */
	VGPU_CU_RECT_HTOD = 0x22,     /* stream out, arg struct vgpu_cu_rect */
	VGPU_CU_RECT_DTOH = 0x23,     /* stream in, arg struct vgpu_cu_rect */
	VGPU_CU_MEM_ALLOC_PITCH = 0x24, /* args: width, height, elem
					 * -> a[0] ptr, a[1] pitch */
	VGPU_CU_MEM_RANGE = 0x25,     /* args: ptr -> a[0] base, a[1] size */
	VGPU_CU_POOL_OPEN = 0x26,     /* args (optional): a[0] n <= 7, a[1..n]
				       * candidate addresses (docs/memory.md)
				       * -> a[0] device address of this
				       * channel's pool slice, a[1] its size */
	VGPU_CU_POOL_COPY = 0x27,     /* struct vgpu_cu_poolcopy */
	/* -- bulk (0x28-0x2F) -- */
	VGPU_CU_BULK_FENCE = 0x28,    /* no payload: answered once the
				       * sending thread's earlier requests
				       * have run (a split copy's helper
				       * threads start after it) */

	/* -- stream -- (payloads: ring/cuda_proto_stream.h) */
	VGPU_CU_STREAM_CTL = 0x30,    /* args: a[0] enum vgpu_cu_sctl, ... */
	VGPU_CU_HOST_FUNC = 0x31,     /* args: stream, token, kind, flags */
	VGPU_CU_CB_POLL = 0x32,       /* args: a[0] token done (0: none)
				       * -> a[0] token due, a[1] status */
	VGPU_CU_BATCH_MEMOP = 0x33,   /* struct vgpu_cu_memops + ops */
	VGPU_CU_LAUNCH_EX = 0x34,     /* struct vgpu_cu_launch_ex + params */
	VGPU_CU_FUNC_CTL = 0x35,      /* args: a[0] enum vgpu_cu_fctl, ... */
	VGPU_CU_LAUNCH_BIG = 0x36,    /* stream out: a launch_ex message */
	VGPU_CU_CTX_CURRENT = 0x37,   /* args: a[0] context id, 0 = none:
				       * the sending thread's current one */
	VGPU_CU_LAUNCH_PART = 0x38,   /* struct vgpu_cu_part + bytes of a
				       * launch_ex message, no reply */
	VGPU_CU_STREAM_ATTR = 0x39,   /* struct vgpu_cu_sattr -> value */

	/* -- graph -- */
	/* generic args unless a struct is named; a[] below means args.a */
	VGPU_CU_CAPTURE_BEGIN = 0x40, /* a: stream, mode */
	VGPU_CU_CAPTURE_END = 0x41,   /* a: stream -> a[0] graph id, or 0 */
	VGPU_CU_CAPTURE_INFO = 0x42,  /* a: stream, first, is_capturing_only
				       * -> struct vgpu_cu_ids: a[0] status,
				       * a[1] capture id, a[2] graph, deps */
	VGPU_CU_CAPTURE_MODE = 0x43,  /* a: mode -> a[0] previous mode */
	VGPU_CU_GRAPH_ADD_NODE = 0x44, /* struct vgpu_cu_gnode + deps +
					* kernel parameters -> a[0] node */
	VGPU_CU_GRAPH_ADD_DEPS = 0x45, /* a[0] graph, a[1] n, then n from
					* ids and n to ids */
	VGPU_CU_GRAPH_LIST = 0x46,    /* a: graph (node), what, first
				       * -> struct vgpu_cu_ids */
	VGPU_CU_KNODE_GET = 0x47,     /* a: node -> struct vgpu_cu_knode +
				       * parameters */
	VGPU_CU_KNODE_SET = 0x48,     /* struct vgpu_cu_knode + parameters */
	VGPU_CU_NODE_TYPE = 0x49,     /* a: node -> a[0] CUgraphNodeType */
	VGPU_CU_GRAPH_INSTANTIATE = 0x4A, /* a: graph, flags, upload stream,
					   * with_params -> a[0] exec,
					   * a[1] result, a[2] error node */
	VGPU_CU_EXEC_UPDATE = 0x4B,   /* a: exec, graph -> a[0] result,
				       * a[1] error node, a[2] error from */
	VGPU_CU_FUNC_INFO = 0x4C,     /* a: function id -> vgpu_cu_fninfo */
	VGPU_CU_GRAPH_DESTROY = 0x4D, /* a: graph */
	VGPU_CU_GRAPH_HOST = 0x4E,    /* a0 enum vgpu_gh, then: CAPTURE a1 dst,
				       * a2 stream, a3 guest source, a4 n;
				       * RANGE a1 exec, a2 index -> a0 guest
				       * source, a1 n; LAUNCH a1 exec,
				       * a2 stream */
	VGPU_CU_GRAPH_HOST_FILL = 0x4F, /* bulk out, xfer {exec, range index}:
					 * the range's bytes at each offset */

	/* -- vmm -- */
	/* Argument blocks (struct vgpu_cu_args). A CUmemAllocationProp
	 * travels as its 32 bytes in four slots, a CUmemLocation as its 8
	 * in one; device ordinals are the guest's (its one device is 0). */
	VGPU_CU_MEM_GET_GRANULARITY = 0x50, /* a0 option, a1-4 prop -> a0 */
	VGPU_CU_MEM_ADDRESS_RESERVE = 0x51, /* a0 size, a1 alignment,
					     * a2 addr, a3 flags -> a0 ptr */
	VGPU_CU_MEM_ADDRESS_FREE = 0x52,    /* a0 ptr, a1 size */
	VGPU_CU_MEM_CREATE = 0x53,          /* a0 size, a1 flags, a2-5 prop
					     * -> a0 handle id */
	VGPU_CU_MEM_RELEASE = 0x54,         /* a0 handle id */
	VGPU_CU_MEM_MAP = 0x55,             /* a0 ptr, a1 size, a2 offset,
					     * a3 handle id, a4 flags */
	VGPU_CU_MEM_UNMAP = 0x56,           /* a0 ptr, a1 size */
	VGPU_CU_MEM_SET_ACCESS = 0x57,      /* u64 ptr, size, count, then
					     * count x {u64 location,
					     * u64 flags} */
	VGPU_CU_MEM_GET_ACCESS = 0x58,      /* a0 ptr, a1 location -> a0 */
	VGPU_CU_MEM_GET_PROP = 0x59,        /* a0 handle id -> a0-3 prop */
	VGPU_CU_MEM_RETAIN_HANDLE = 0x5A,   /* a0 address -> a0 handle id */
	VGPU_CU_MEM_POOL_CREATE = 0x5B,     /* CUmemPoolProps's bytes
					     * -> a0 pool id */
	VGPU_CU_MEM_POOL = 0x5C,            /* a0 enum vgpu_cu_pool_op, a1 pool
					     * id, a2.. by op -> a0 */
	VGPU_CU_IPC_OPEN = 0x5D,            /* struct vgpu_cu_ipc_open
					     * -> a0 device pointer / event id */
	VGPU_CU_IPC = 0x5E,                 /* a0 enum vgpu_cu_ipc_op, a1
					     * pointer or event id -> the
					     * handle (64 bytes) */

	/* -- lib -- */
	VGPU_CU_LIB_FUNC_COUNT = 0x60, /* args a[0] module -> a[0] count */
	VGPU_CU_LIB_FUNC_NAME = 0x61,  /* args a[0] module, a[1] index
					* -> NUL-terminated name */
	/* 0x62, 0x63: retired (function attributes are VGPU_CU_FUNC_CTL's) */
	VGPU_CU_LIB_GET_FUNCTION = 0x64, /* args a[0] module; the name is
					  * what MODULE_LOAD staged (names of
					  * VGPU_CU_NAME_MAX bytes or more)
					  * -> struct vgpu_cu_fninfo */
	VGPU_CU_LIB_GET_GLOBAL = 0x65,   /* the same for a global
					  * -> args a[0] address, a[1] bytes */

	/* -- cublas -- (daemon/worker_cublas.c) */
	VGPU_CU_SM_LAYOUT = 0x66,     /* no payload -> struct
				       * vgpu_cu_smlayout: export table
				       * 1734dc26's entry 4, run by the
				       * worker's driver in the sender's
				       * current context */
	VGPU_CU_VA_WINDOW = 0x67,     /* struct vgpu_cu_va (the guest's own
				       * mappings, for the worker to keep its
				       * driver out of) -> struct vgpu_cu_va
				       * (where the worker's driver puts
				       * device memory; docs/memory.md) */

	/* -- torch -- */
	VGPU_CU_TENSORMAP_TILED = 0x68, /* struct vgpu_cu_tmap -> the
					 * CUtensorMap (128 bytes) */
	VGPU_CU_ORDER_AFTER = 0x69,     /* struct vgpu_cu_order: answered
					 * once the named guest threads' earlier
					 * requests have run (guest/cuda/torch_order.c) */

	/* -- multigpu -- (daemon/worker_multigpu.c; docs/multigpu.md)
	 * Device ordinals are the guest process's (0..n-1, after
	 * CUDA_VISIBLE_DEVICES); DEVICE_INFO's xfer.dev names the device (0
	 * for older guests), or with VGPU_CU_DEVINFO_VM set the VM's device
	 * of that index (what CUDA_VISIBLE_DEVICES is matched against). */
	VGPU_CU_MGPU = 0x70,          /* args a0 enum vgpu_cu_mgpu_op, a1..
				       * by op -> a0 */

	VGPU_CU_OP_GEN_BASE = 0x100,  /* generated from ring/cuda.api */
};

/* Handle ids carry their kind in the top byte, so a CUstream passed where
 * a CUevent is expected fails the check instead of aliasing. */
#define VGPU_CU_HKIND_SHIFT 56
enum vgpu_cu_hkind {
	VGPU_HK_CONTEXT = 0xC1,
	VGPU_HK_MODULE = 0xC2,
	VGPU_HK_FUNCTION = 0xC3,
	VGPU_HK_STREAM = 0xC4,
	VGPU_HK_EVENT = 0xC5,
	VGPU_HK_GRAPH = 0xC6,
	VGPU_HK_GRAPH_EXEC = 0xC7,
	VGPU_HK_GRAPH_NODE = 0xC8,
	VGPU_HK_MEM_HANDLE = 0xC9,  /* VMM physical allocation */
	VGPU_HK_LIBRARY = 0xCA,
	VGPU_HK_KERNEL = 0xCB,
	VGPU_HK_MEM_POOL = 0xCC,    /* stream-ordered allocator pool */
};

struct vgpu_cu_args {
	uint64_t a[8]; /* request: in-arguments; reply: out-arguments */
};

#define VGPU_CU_DEVINFO_VM (1ull << 63)
/* VGPU_CU_MGPU's operations; a1.. as listed. */
enum vgpu_cu_mgpu_op {
	VGPU_MGPU_COUNT = 1,      /* -> a0 the VM's devices */
	VGPU_MGPU_RETAIN = 2,     /* a1 device -> a0 its primary context id */
	VGPU_MGPU_CAN_PEER = 3,   /* a1 device, a2 peer -> a0 0/1 */
	VGPU_MGPU_P2P_ATTR = 4,   /* a1 attribute, a2 src, a3 dst -> a0 */
	VGPU_MGPU_ENABLE = 5,     /* a1 peer context id, a2 flags */
	VGPU_MGPU_DISABLE = 6,    /* a1 peer context id */
	VGPU_MGPU_VISIBLE = 8,    /* a1 n, a2-a3 n VM device indices, one
				   * byte each (CUDA_VISIBLE_DEVICES); only
				   * as the process's first call after
				   * DEVICE_INFO */
	VGPU_MGPU_PTR_DEV = 9,    /* a1 device pointer of the process's
				   * -> a0 its device */
};
/* MODULE_COMMIT's a0 (0 from older guests): the image is a library's
 * (cuLibraryLoadData). A worker serving several GPUs keeps it and loads
 * it again in another device's primary context the first time a kernel
 * or global of it is used there (daemon/worker_multigpu_lib.c). */
#define VGPU_CU_COMMIT_LIBRARY 1ull

/* VGPU_CU_MEM_POOL's operations; a2.. as listed. */
enum vgpu_cu_pool_op {
	VGPU_POOL_DESTROY = 1,
	VGPU_POOL_SET_ATTR,     /* a2 attribute, a3 value (int or u64) */
	VGPU_POOL_GET_ATTR,     /* a2 attribute -> a0 value */
	VGPU_POOL_SET_ACCESS,   /* a2 count (<= 2), a3/a4, a5/a6 location and
				 * flags of each descriptor */
	VGPU_POOL_GET_ACCESS,   /* a2 location -> a0 flags */
	VGPU_POOL_DEVICE_DEFAULT, /* a2 device -> a0 pool id */
	VGPU_POOL_DEVICE_GET,   /* a2 device -> a0 pool id */
	VGPU_POOL_DEVICE_SET,   /* a2 device, a1 pool id */
};
#define VGPU_CU_MAX_POOL_ACCESS 2

/* Bytes of a CUmemPool_attribute's value: the REUSE_* ones (1-3) are int,
 * the thresholds and counters (4-8) cuuint64_t; 0: no such attribute. */
static inline unsigned vgpu_cu_pool_attr_size(uint64_t attr)
{
	return attr >= 1 && attr <= 3 ? 4 : attr >= 4 && attr <= 8 ? 8 : 0;
}

/* CUDA IPC: what the guest's 64-byte CUipcMemHandle/CUipcEventHandle
 * holds. The driver's handle never leaves the daemon: it is in the VM's
 * IPC table (daemon/ledger.h) under slot, guarded by a random nonce. */
#define VGPU_CU_IPC_MAGIC 0x50494776u /* "vGIP" */
struct vgpu_cu_ipc_handle {
	uint32_t magic;
	uint32_t kind;    /* 1 memory, 2 event */
	uint32_t slot;
	uint32_t zero;
	uint64_t nonce;
	uint8_t pad[40];
};
enum vgpu_cu_ipc_op {
	VGPU_IPC_MEM_GET = 1,   /* a1 device pointer */
	VGPU_IPC_EVENT_GET,     /* a1 event id */
	VGPU_IPC_MEM_CLOSE,     /* a1 device pointer from IPC_OPEN */
};
struct vgpu_cu_ipc_open {
	uint32_t kind;    /* 1 memory, 2 event */
	uint32_t flags;   /* cuIpcOpenMemHandle's */
	struct vgpu_cu_ipc_handle h;
};

/* cuMemSetAccess: descriptors one request carries at most (the real
 * driver has no limit; a guest has one device to describe). */
#define VGPU_CU_MAX_ACCESS_DESCS 32

#define VGPU_CU_MAX_DEVS 16 /* devices one VM gets (docs/multigpu.md) */
#define VGPU_CU_NAME_MAX 256
#define VGPU_CU_MAX_ATTRS 160
#define VGPU_CU_ATTR_INVALID INT32_MIN
#define VGPU_CU_MAX_PARAMS 128 /* fninfo must fit a reply slot */

/* The device as this VM sees it: the daemon's virtual identity. */
struct vgpu_cu_devinfo {
	char name[VGPU_CU_NAME_MAX];
	uint8_t uuid[16];        /* per-VM, stable */
	char pci_bus_id[32];     /* as the guest is told */
	uint64_t total_mem;      /* the VM's quota, else physical */
	int32_t driver_version;  /* host driver's CUDA version */
	uint32_t nattrs;
	int32_t attrs[VGPU_CU_MAX_ATTRS]; /* by CUdevice_attribute */
};

struct vgpu_cu_getfn {
	uint64_t module;               /* id */
	char name[VGPU_CU_NAME_MAX];   /* NUL-terminated */
};

/* Reply to GET_FUNCTION: what the guest needs to marshal and check a
 * launch without asking again. */
struct vgpu_cu_fninfo {
	uint64_t function;             /* id */
	uint32_t nparams;
	uint32_t param_bytes;          /* end of the last parameter */
	int32_t max_threads_per_block;
	int32_t shared_size_bytes;
	uint16_t offset[VGPU_CU_MAX_PARAMS];
	uint16_t size[VGPU_CU_MAX_PARAMS];
};

struct vgpu_cu_launch {
	uint64_t function;
	uint64_t stream;
	uint32_t grid[3];
	uint32_t block[3];
	uint32_t shared_bytes;
	uint32_t param_bytes;          /* followed by the packed parameters */
};

/* -- mem -- */
/* A rectangle of height x depth rows of width bytes, each side addressed
 * as start + y * pitch + z * pitch * rows (rows: the side's slice height).
 * Host sides travel packed through the arena (pitch = width); their
 * address fields are ignored. */
struct vgpu_cu_rect {
	uint64_t dst, src;          /* device addresses of the first byte */
	uint64_t dpitch, spitch;
	uint64_t drows, srows;      /* rows per slice; used when depth > 1 */
	uint64_t width, height, depth;
	uint64_t stream;            /* id, 0 (legacy) or per-thread; a request
				     * sent with a reply is synchronous */
};

/* cuMemsetD8/16/32 and their 2D forms: height rows of width elements. */
struct vgpu_cu_memset {
	uint64_t dst, pitch, width, height;
	uint64_t stream;            /* as in struct vgpu_cu_rect */
	uint32_t value, elem;       /* elem: 1, 2 or 4 bytes */
};

/* A copy between device memory and the channel's pinned pool slice: no
 * staging, and asynchronous when sent without a reply. */
struct vgpu_cu_poolcopy {
	uint64_t dev;               /* device address */
	uint64_t off, len;          /* bytes in the channel's pool slice */
	uint64_t stream;            /* id; VGPU_CU_NO_STREAM: the driver's
				     * synchronous copy */
	uint64_t htod;              /* 1: pool to device, 0: device to pool */
};

/* ---- graphs (guest/cuda/graph_*.c, daemon/worker_graph.c) ---- */

/* A list answer, paged: items [first, first + n) of total. */
struct vgpu_cu_ids {
	uint64_t a[4];   /* call-specific scalars */
	uint64_t total;  /* items the object has */
	uint64_t n;      /* items in this reply */
	uint64_t id[];   /* GET_EDGES: pairs (from, to) */
};
enum vgpu_cu_glist {
	VGPU_GL_NODES, VGPU_GL_ROOTS, VGPU_GL_EDGES, /* of a graph */
	VGPU_GL_DEPS, VGPU_GL_DEPENDENTS             /* of a node */
};
enum vgpu_gh { /* VGPU_CU_GRAPH_HOST's a0 */
	VGPU_GH_CAPTURE = 1, VGPU_GH_RANGE, VGPU_GH_LAUNCH
};

/* A node to add: deps[ndeps] ids follow, then (kernel) param_bytes. */
struct vgpu_cu_gnode {
	uint64_t graph;
	uint32_t type;    /* CUgraphNodeType */
	uint32_t ndeps;
	union {
		struct {          /* KERNEL */
			uint64_t function;
			uint32_t grid[3], block[3];
			uint32_t shared_bytes, param_bytes;
		} k;
		struct {          /* MEMCPY: device to device, 3D */
			uint64_t src, dst;     /* base addresses */
			uint64_t src_x, src_y, src_z, src_pitch, src_height;
			uint64_t dst_x, dst_y, dst_z, dst_pitch, dst_height;
			uint64_t width, height, depth;
		} cp;
		struct {          /* MEMSET */
			uint64_t dst, pitch, width, height;
			uint32_t value, elem;
		} set;
		uint64_t event;   /* EVENT_RECORD, WAIT_EVENT */
	} u;
};

/* A kernel node's parameters; param_bytes of packed parameters follow. */
struct vgpu_cu_knode {
	uint64_t exec;      /* KNODE_SET: 0 = the graph's node */
	uint64_t node;
	uint64_t graph;     /* KNODE_GET: the node's graph */
	uint64_t function;
	uint32_t grid[3], block[3];
	uint32_t shared_bytes, param_bytes;
};

/* cuTensorMapEncodeTiled's arguments (torch area): arrays are rank long,
 * strides rank - 1; the rest of each array is zero. */
#define VGPU_CU_TMAP_RANK_MAX 5
struct vgpu_cu_tmap {
	uint64_t address;
	uint64_t dim[VGPU_CU_TMAP_RANK_MAX];
	uint64_t stride[VGPU_CU_TMAP_RANK_MAX - 1];
	uint32_t box[VGPU_CU_TMAP_RANK_MAX];
	uint32_t elem_stride[VGPU_CU_TMAP_RANK_MAX];
	uint32_t dtype, rank, interleave, swizzle, l2, oob;
};

/* Export table 1734dc26 entry 4's two arrays (cublas area), len bytes
 * each (at most VGPU_CU_SM_LAYOUT_MAX; 66 on the 132-SM H100: one byte
 * per TPC, its GPC and its index in the GPC). */
#define VGPU_CU_SM_LAYOUT_MAX 256
struct vgpu_cu_smlayout {
	uint32_t len;
	uint32_t pad;
	uint8_t gpc[VGPU_CU_SM_LAYOUT_MAX];
	uint8_t index[VGPU_CU_SM_LAYOUT_MAX];
};

/* VGPU_CU_VA_WINDOW: address ranges [lo, hi), page-aligned, below 2^47,
 * hi > lo. The request lists the guest process's mappings (merged to at
 * most VGPU_CU_VA_MAX); the worker reserves the free parts of them in its
 * own address space once per process (the rest of the list is refused
 * with CUDA_ERROR_INVALID_VALUE, as are more than VGPU_CU_VA_TOTAL bytes
 * in all) and answers the ranges its driver gives device memory from. */
#define VGPU_CU_VA_MAX 32
#define VGPU_CU_VA_TOTAL (16ull << 40)
struct vgpu_cu_va {
	uint32_t n;
	uint32_t pad;
	struct {
		uint64_t lo, hi;
	} r[VGPU_CU_VA_MAX];
};

/* VGPU_CU_ORDER_AFTER (torch area): the sender's executor waits until
 * each named thread's executor has run every request queued before this
 * one, or is running a synchronous one (its guest thread is waiting for
 * it); then the answer. The payload is 4 + 4 * n bytes, n in 1..MAX. */
#define VGPU_CU_ORDER_MAX 16
struct vgpu_cu_order {
	uint32_t n;
	uint32_t tid[VGPU_CU_ORDER_MAX];
};

/* Floats travel as their bit pattern in a 64-bit argument slot. */
static inline uint64_t vgpu_f2u(float f)
{
	uint32_t u;
	__builtin_memcpy(&u, &f, 4);
	return u;
}

static inline float vgpu_u2f(uint64_t v)
{
	uint32_t u = (uint32_t)v;
	float f;
	__builtin_memcpy(&f, &u, 4);
	return f;
}

#endif
