/* ring/cuda_proto_stream.h - payloads of the stream area's hand-written
 * opcodes (0x30-0x3F in ring/cuda_proto.h): stream and context queries,
 * host callbacks, stream memory operations, launch variants, function
 * controls and occupancy.
 *
 * Contract: like cuda_proto.h, fixed-width types only and no CUDA header.
 * Calls whose arguments fit struct vgpu_cu_args carry a sub-operation in
 * a[0] and their arguments after it; the reply's a[] carries the results.
 * Enumerations of the driver (CUlimit, CUfunc_cache, ...) travel as their
 * numeric values and are checked by the driver itself.
 */
#ifndef VGPU_RING_CUDA_PROTO_STREAM_H
#define VGPU_RING_CUDA_PROTO_STREAM_H

#include "cuda_proto.h"

/* VGPU_CU_STREAM_CTL sub-operations: arguments -> results. */
enum vgpu_cu_sctl {
	VGPU_SCTL_PRIORITY_RANGE = 1, /* -> least, greatest */
	VGPU_SCTL_GET_LIMIT,          /* limit -> value */
	VGPU_SCTL_SET_LIMIT,          /* limit, value */
	VGPU_SCTL_GET_CACHE_CONFIG,   /* -> config */
	VGPU_SCTL_SET_CACHE_CONFIG,   /* config */
	VGPU_SCTL_GET_FLAGS,          /* -> flags */
	VGPU_SCTL_API_VERSION,        /* context id -> version */
	VGPU_SCTL_STREAM_ID,          /* stream -> id */
	VGPU_SCTL_CTX_ID,             /* context id -> the driver's id */
};

/* VGPU_CU_STREAM_ATTR: cuStreamGetAttribute (reply: the 64-byte value),
 * cuStreamSetAttribute, cuStreamCopyAttributes (from src). */
enum vgpu_cu_sattr_op {
	VGPU_SATTR_GET = 1,
	VGPU_SATTR_SET,
	VGPU_SATTR_COPY,
};
struct vgpu_cu_sattr {
	uint64_t stream;
	uint64_t src;     /* COPY: the stream copied from */
	uint32_t op;      /* enum vgpu_cu_sattr_op */
	uint32_t id;      /* CUstreamAttrID */
	uint8_t value[64]; /* CUstreamAttrValue's layout */
};

/* VGPU_CU_HOST_FUNC kinds. */
enum vgpu_cu_hostfn_kind {
	VGPU_HOSTFN_LAUNCH = 0,   /* cuLaunchHostFunc: fn(userData) */
	VGPU_HOSTFN_CALLBACK = 1, /* cuStreamAddCallback: told the status */
};

/* VGPU_CU_BATCH_MEMOP: a header, then count operations. */
struct vgpu_cu_memops {
	uint64_t stream;
	uint32_t count;
	uint32_t flags;
};

struct vgpu_cu_memop {
	uint32_t op;     /* CUstreamBatchMemOpType */
	uint32_t flags;  /* the operation's own flags */
	uint64_t addr;
	uint64_t value;
};

/* VGPU_CU_LAUNCH_EX (inline, no reply) and VGPU_CU_LAUNCH_BIG (the same
 * bytes streamed through the arena, answered): cuLaunchKernelEx,
 * cuLaunchCooperativeKernel, and launches with parameters larger than a
 * slot. The header, nattrs attributes (CUlaunchAttribute's layout: id,
 * padding, a 64-byte value), then l.param_bytes of parameters. */
#define VGPU_CU_MAX_LAUNCH_ATTRS 16
#define VGPU_CU_MAX_PARAM_BYTES 32764 /* the driver's limit (CUDA 12.1+) */
struct vgpu_cu_launch_ex {
	struct vgpu_cu_launch l;
	uint32_t nattrs;
	uint32_t pad;
};

/* VGPU_CU_LAUNCH_PART: a launch_ex message too large for one slot, in
 * consecutive parts from one guest thread, all without a reply; the
 * worker launches when the last byte arrives. */
struct vgpu_cu_part {
	uint32_t total;   /* bytes of the whole launch_ex message */
	uint32_t offset;  /* of this part's bytes, which follow */
};

struct vgpu_cu_lattr {
	uint32_t id;     /* CUlaunchAttributeID */
	uint32_t pad;
	uint8_t value[64];
};

/* VGPU_CU_FUNC_CTL sub-operations: a[1] is the function id. */
enum vgpu_cu_fctl {
	VGPU_FCTL_SET_ATTRIBUTE = 1, /* fn, attribute, value */
	VGPU_FCTL_SET_CACHE_CONFIG,  /* fn, config */
	VGPU_FCTL_GET_ATTRIBUTE,     /* fn, attribute -> value */
	VGPU_FCTL_GET_NAME,          /* fn -> the name, NUL-terminated, as
				      * the reply's payload (no args) */
	VGPU_FCTL_OCC_BLOCKS,        /* fn, block, dynsmem, flags -> blocks */
	VGPU_FCTL_OCC_DYN_SMEM,      /* fn, blocks, block size -> bytes */
	VGPU_FCTL_OCC_CLUSTERS,      /* fn, block x, y, z, shared,
				      * cluster x | y << 32, cluster z
				      * -> clusters */
	VGPU_FCTL_IS_LOADED,         /* fn -> CUfunctionLoadingState */
	VGPU_FCTL_LOAD,              /* fn */
	VGPU_FCTL_OCC_CLUSTER_SIZE,  /* fn, block x, y, z, shared -> size */
};

#endif
