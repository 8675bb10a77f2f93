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
	/* Hand-written opcodes by area (daemon/worker_AREA.c):
	 * 0x20-0x2F mem, 0x30-0x3F stream, 0x40-0x4F graph, 0x50-0x5F vmm,
	 * 0x60-0x6F lib. */
	/* -- mem -- */

	/* -- stream -- */

	/* -- graph -- */

	/* -- vmm -- */

	/* -- lib -- */
	VGPU_CU_LIB_FUNC_COUNT = 0x60, /* args a[0] module -> a[0] count */
	VGPU_CU_LIB_FUNC_NAME = 0x61,  /* args a[0] module, a[1] index
					* -> NUL-terminated name */
	VGPU_CU_LIB_FUNC_ATTR = 0x62,  /* args a[0] function, a[1] attribute
					* -> a[0] value */
	VGPU_CU_LIB_FUNC_SET_ATTR = 0x63, /* args a[0] function,
					   * a[1] attribute, a[2] value */
	VGPU_CU_LIB_GET_FUNCTION = 0x64, /* args a[0] module; the name is
					  * what MODULE_LOAD staged (names of
					  * VGPU_CU_NAME_MAX bytes or more)
					  * -> struct vgpu_cu_fninfo */
	VGPU_CU_LIB_GET_GLOBAL = 0x65,   /* the same for a global
					  * -> args a[0] address, a[1] bytes */

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
};

struct vgpu_cu_args {
	uint64_t a[8]; /* request: in-arguments; reply: out-arguments */
};

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
