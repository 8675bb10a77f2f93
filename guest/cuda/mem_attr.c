/* guest/cuda/mem_attr.c - cuPointerGetAttribute(s), answered in the guest
 * from the address-space table (mem_space.h).
 *
 * A pointer is device memory (an allocation or a module global), pinned
 * host memory (a block of the region's pool, by its guest address or its
 * device alias), a registered host range, or unknown. Device memory the
 * guest did not allocate itself (globals it never looked up, other areas'
 * memory) is asked of the worker, which answers only for the caller's own
 * ranges. Unknown pointers are plain host memory: cuPointerGetAttribute
 * answers CUDA_ERROR_INVALID_VALUE and cuPointerGetAttributes NULL/0
 * values with CUDA_SUCCESS, as the driver does. Attributes vgpu does not
 * model (P2P tokens, IPC and RDMA capabilities, access flags, pools) are
 * CUDA_ERROR_NOT_SUPPORTED.
 */
#include "mem_space.h"
#include "rpc.h"
#include <string.h>

struct ptr_info {
	bool known;
	bool via_dev;           /* a host block named by its device alias */
	struct vgpu_space e;
	uint64_t dev, host;     /* the queried byte's device / host address */
};

static CUresult info_of(CUdeviceptr p, struct ptr_info *o)
{
	memset(o, 0, sizeof(*o));
	if (vgpu_space_find(p, 1, &o->e)) {
		o->known = true;
		if (o->e.kind == VGPU_SPACE_DEVICE) {
			o->dev = p;
		} else {
			o->host = p;
			o->dev = o->e.dev ? o->e.dev + (p - o->e.base) : 0;
		}
		return CUDA_SUCCESS;
	}
	if (vgpu_space_find_dev(p, &o->e)) {
		o->known = o->via_dev = true;
		o->dev = p;
		o->host = o->e.base + (p - o->e.dev);
		return CUDA_SUCCESS;
	}
	/* the worker knows the caller's other device ranges (globals) */
	struct vgpu_cu_args a = {{p}};
	CUresult r = vgpu_cu_rpc(VGPU_CU_MEM_RANGE, &a, true,
				 "cuPointerGetAttribute");
	if (r == CUDA_ERROR_NOT_FOUND)
		return CUDA_SUCCESS; /* host memory the driver never saw */
	if (r)
		return r;
	o->known = true;
	o->e = (struct vgpu_space){.base = a.a[0], .size = a.a[1],
				   .dev = a.a[0], .kind = VGPU_SPACE_DEVICE,
				   .id = a.a[0]};
	o->dev = p;
	return CUDA_SUCCESS;
}

static void put(void *data, const void *v, size_t n)
{
	memcpy(data, v, n);
}

/* One attribute of a known pointer; strict: attributes that do not apply
 * are errors (cuPointerGetAttribute), else their NULL value is written. */
static CUresult attr(const struct ptr_info *p, CUpointer_attribute a,
		     void *data, bool strict)
{
	bool dev = p->e.kind == VGPU_SPACE_DEVICE;
	switch (a) {
	case CU_POINTER_ATTRIBUTE_CONTEXT: {
		CUcontext c = (CUcontext)(uintptr_t)vgpu_cu.ctx_id;
		if (dev)
			vgpu_cu_primary_ctx_of(vgpu_cu_ptr_dev(p->dev), &c);
		put(data, &c, sizeof(c));
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: {
		unsigned t = dev ? CU_MEMORYTYPE_DEVICE : CU_MEMORYTYPE_HOST;
		put(data, &t, sizeof(t));
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: {
		CUdeviceptr d = p->dev;
		if (!d && strict) /* registered without a device mapping */
			return CUDA_ERROR_INVALID_VALUE;
		put(data, &d, sizeof(d));
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_HOST_POINTER: {
		void *h = (void *)(uintptr_t)p->host;
		if (dev && strict) /* device memory has no host address */
			return CUDA_ERROR_INVALID_VALUE;
		put(data, &h, sizeof(h));
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_BUFFER_ID: {
		unsigned long long id = p->e.id;
		put(data, &id, sizeof(id));
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_IS_MANAGED: {
		unsigned v = 0; /* vgpu has no managed memory */
		put(data, &v, sizeof(v));
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: {
		int v = dev ? vgpu_cu_ptr_dev(p->dev) : 0;
		put(data, &v, sizeof(v));
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: {
		/* in the address space the pointer was given in */
		CUdeviceptr b = p->via_dev ? p->e.dev : p->e.base;
		put(data, &b, sizeof(b));
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_RANGE_SIZE: {
		size_t n = p->e.size;
		put(data, &n, sizeof(n));
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_MAPPED: {
		unsigned v = 1;
		put(data, &v, sizeof(v));
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
	case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
	case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE:
	case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE: {
		unsigned v = 0; /* none of these is offered by vgpu */
		put(data, &v, sizeof(v));
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS: {
		unsigned v = CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE;
		put(data, &v, sizeof(v));
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: {
		CUmemoryPool none = NULL;
		if (p->e.async) /* from a pool vgpu does not expose */
			return CUDA_ERROR_NOT_SUPPORTED;
		put(data, &none, sizeof(none));
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR: {
		/* without VMM an allocation is its own mapping */
		CUdeviceptr b = p->via_dev ? p->e.dev : p->e.base;
		put(data, &b, sizeof(b));
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_MAPPING_SIZE: {
		size_t n = p->e.size;
		put(data, &n, sizeof(n));
		return CUDA_SUCCESS;
	}
	case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID: {
		unsigned long long id = p->e.id;
		put(data, &id, sizeof(id));
		return CUDA_SUCCESS;
	}
	default: /* P2P tokens, allowed handle types */
		return CUDA_ERROR_NOT_SUPPORTED;
	}
}

/* The NULL value of an attribute for memory the driver does not know. */
static CUresult unknown_attr(CUpointer_attribute a, void *data)
{
	static const struct ptr_info none;
	unsigned zero = 0;
	switch (a) {
	case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
	case CU_POINTER_ATTRIBUTE_MAPPED:
	case CU_POINTER_ATTRIBUTE_IS_MANAGED:
	case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
		put(data, &zero, sizeof(zero));
		return CUDA_SUCCESS;
	case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: {
		int v = -2; /* the driver's "no device" for host memory */
		put(data, &v, sizeof(v));
		return CUDA_SUCCESS;
	}
	default:
		return attr(&none, a, data, false);
	}
}

VGPU_EXPORT CUresult cuPointerGetAttribute(void *data,
					   CUpointer_attribute a,
					   CUdeviceptr p)
{
	struct ptr_info pi;
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!data)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = info_of(p, &pi)))
		return r;
	if (!pi.known)
		return CUDA_ERROR_INVALID_VALUE;
	return attr(&pi, a, data, true);
}

VGPU_EXPORT CUresult cuPointerGetAttributes(unsigned n,
					    CUpointer_attribute *attrs,
					    void **data, CUdeviceptr p)
{
	struct ptr_info pi;
	CUresult r = vgpu_cu_ready();
	if (r)
		return r;
	if (!attrs || !data)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = info_of(p, &pi)))
		return r;
	for (unsigned i = 0; i < n; i++) {
		if (!data[i])
			return CUDA_ERROR_INVALID_VALUE;
		r = pi.known ? attr(&pi, attrs[i], data[i], false)
			     : unknown_attr(attrs[i], data[i]);
		if (r)
			return r;
	}
	return CUDA_SUCCESS;
}
