/* daemon/sim/sim_vmm.c - virtual memory management: physical allocations,
 * reservations, mappings, access.
 *
 * Contract: cuMemCreate makes a physical allocation (a memfd of its size,
 * charged to the device's memory) named by a handle; cuMemMap maps it into
 * a reservation (sim_heap.c keeps reservations and mappings), and
 * cuMemSetAccess makes a mapping usable by copies and kernels. As
 * natively, a handle counts cuMemCreate plus each cuMemRetainAllocationHandle
 * less each cuMemRelease; the memory goes when no handle reference and no
 * mapping is left. Granularity is an H100's 2 MiB; sizes, offsets and
 * mapped addresses must be multiples of it. What the sim does not model
 * answers CUDA_ERROR_NOT_SUPPORTED: host locations, read-only access,
 * handle types other than POSIX fds (which are accepted, as the GPU
 * accepts them, but never exported: the device attributes say so).
 */
#define _GNU_SOURCE
#include "sim.h"
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct phys {
	int fd;
	size_t size;
	uint32_t gen;     /* in the handle: a freed slot's old handle fails */
	uint32_t hrefs;   /* create + retains - releases; 0: handle invalid */
	uint32_t maps;
	CUmemAllocationProp prop;
};

static struct {
	pthread_mutex_t mu;
	struct phys **v;
	size_t n;
	uint32_t gen;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER};

static CUmemGenericAllocationHandle handle_of(size_t i)
{
	return (uint64_t)P.v[i]->gen << 32 | (i + 1);
}

/* The live handle's allocation, under P.mu. */
static struct phys *lookup(CUmemGenericAllocationHandle h)
{
	uint64_t i = (h & 0xffffffffu) - 1;
	if (i >= P.n || !P.v[i] || P.v[i]->gen != h >> 32 || !P.v[i]->hrefs)
		return NULL;
	return P.v[i];
}

/* Under P.mu: free p once nothing holds it. */
static void settle(struct phys *p)
{
	if (p->hrefs || p->maps)
		return;
	for (size_t i = 0; i < P.n; i++)
		if (P.v[i] == p)
			P.v[i] = NULL;
	close(p->fd);
	sim_heap_uncharge(p->size);
	free(p);
}

static bool device_loc(const CUmemLocation *l)
{
	return l->type == CU_MEM_LOCATION_TYPE_DEVICE && l->id == 0;
}

static CUresult check_prop(const CUmemAllocationProp *prop)
{
	if (!prop || prop->type != CU_MEM_ALLOCATION_TYPE_PINNED)
		return CUDA_ERROR_INVALID_VALUE;
	if (prop->location.type == CU_MEM_LOCATION_TYPE_HOST ||
	    prop->location.type == CU_MEM_LOCATION_TYPE_HOST_NUMA ||
	    prop->location.type == CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT)
		return CUDA_ERROR_NOT_SUPPORTED;
	if (!device_loc(&prop->location))
		return CUDA_ERROR_INVALID_DEVICE;
	if (prop->requestedHandleTypes & ~CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
		return CUDA_ERROR_NOT_SUPPORTED;
	return CUDA_SUCCESS;
}

static bool gran_multiple(uint64_t x)
{
	return x % SIM_VMM_GRANULARITY == 0;
}

CUresult sim_cuMemGetAllocationGranularity(size_t *granularity,
					   const CUmemAllocationProp *prop,
					   CUmemAllocationGranularity_flags option)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (!granularity || !prop ||
	    (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM &&
	     option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED))
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = check_prop(prop)))
		return rc;
	*granularity = SIM_VMM_GRANULARITY;
	return CUDA_SUCCESS;
}

/* Under P.mu: a slot for p. */
static int slot_for(struct phys *p, size_t *at)
{
	size_t i = 0;
	while (i < P.n && P.v[i])
		i++;
	if (i == P.n) {
		struct phys **v = realloc(P.v, (P.n + 16) * sizeof(*v));
		if (!v)
			return -1;
		for (size_t k = P.n; k < P.n + 16; k++)
			v[k] = NULL;
		P.v = v;
		P.n += 16;
	}
	p->gen = ++P.gen;
	P.v[i] = p;
	*at = i;
	return 0;
}

CUresult sim_cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
			 const CUmemAllocationProp *prop,
			 unsigned long long flags)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!handle || !prop || flags || size == 0 || !gran_multiple(size))
		return CUDA_ERROR_INVALID_VALUE;
	if ((rc = check_prop(prop)) || (rc = sim_heap_charge(size)))
		return rc;
	struct phys *p = calloc(1, sizeof(*p));
	int fd = memfd_create("vgpu-sim-vmm", MFD_CLOEXEC);
	if (!p || fd < 0 || ftruncate(fd, (off_t)size)) {
		free(p);
		if (fd >= 0)
			close(fd);
		sim_heap_uncharge(size);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*p = (struct phys){.fd = fd, .size = size, .hrefs = 1, .prop = *prop};
	p->prop.win32HandleMetaData = NULL;
	size_t i;
	pthread_mutex_lock(&P.mu);
	if (slot_for(p, &i)) {
		pthread_mutex_unlock(&P.mu);
		close(fd);
		free(p);
		sim_heap_uncharge(size);
		return CUDA_ERROR_OUT_OF_MEMORY;
	}
	*handle = handle_of(i);
	pthread_mutex_unlock(&P.mu);
	return CUDA_SUCCESS;
}

CUresult sim_cuMemRelease(CUmemGenericAllocationHandle handle)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	pthread_mutex_lock(&P.mu);
	struct phys *p = lookup(handle);
	if (p) {
		p->hrefs--;
		settle(p);
	}
	pthread_mutex_unlock(&P.mu);
	return p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult sim_cuMemAddressReserve(CUdeviceptr *ptr, size_t size,
				 size_t alignment, CUdeviceptr addr,
				 unsigned long long flags)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	long page = sysconf(_SC_PAGESIZE);
	if (!ptr || size == 0 || flags || size % (size_t)page ||
	    addr % (uint64_t)page || (alignment & (alignment - 1)))
		return CUDA_ERROR_INVALID_VALUE;
	if (alignment < SIM_VMM_GRANULARITY)
		alignment = SIM_VMM_GRANULARITY;
	return sim_heap_va_reserve(size, alignment, addr, ptr);
}

CUresult sim_cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
	CUresult rc = sim_check_init();
	return rc ? rc : sim_heap_va_free(ptr, size);
}

CUresult sim_cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
		      CUmemGenericAllocationHandle handle,
		      unsigned long long flags)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (flags || size == 0 || !gran_multiple(ptr) || !gran_multiple(offset))
		return CUDA_ERROR_INVALID_VALUE;
	if (!gran_multiple(size)) /* as natively (H200, driver 580) */
		return CUDA_ERROR_NOT_SUPPORTED;
	pthread_mutex_lock(&P.mu);
	struct phys *p = lookup(handle);
	if (!p || offset > p->size || size > p->size - offset)
		rc = CUDA_ERROR_INVALID_VALUE;
	else if (!(rc = sim_heap_vmap(ptr, size, p->fd, offset, p)))
		p->maps++;
	pthread_mutex_unlock(&P.mu);
	return rc;
}

CUresult sim_cuMemUnmap(CUdeviceptr ptr, size_t size)
{
	CUresult rc = sim_enter();
	if (rc && rc != sim_sticky())
		return rc;
	sim_ctx_drain(); /* natively synchronous: work using it is done */
	const void **owners;
	size_t n;
	if ((rc = sim_heap_vunmap(ptr, size, &owners, &n)))
		return rc;
	pthread_mutex_lock(&P.mu);
	for (size_t i = 0; i < n; i++) {
		struct phys *p = (struct phys *)owners[i];
		p->maps--;
		settle(p);
	}
	pthread_mutex_unlock(&P.mu);
	free(owners);
	return sim_sticky();
}

CUresult sim_cuMemSetAccess(CUdeviceptr ptr, size_t size,
			    const CUmemAccessDesc *desc, size_t count)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!desc || count == 0)
		return CUDA_ERROR_INVALID_VALUE;
	bool rw = false;
	for (size_t i = 0; i < count; i++) {
		if (!device_loc(&desc[i].location))
			return CUDA_ERROR_INVALID_DEVICE;
		if (desc[i].flags == CU_MEM_ACCESS_FLAGS_PROT_READ)
			return CUDA_ERROR_NOT_SUPPORTED;
		if (desc[i].flags != CU_MEM_ACCESS_FLAGS_PROT_NONE &&
		    desc[i].flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
			return CUDA_ERROR_INVALID_VALUE;
		rw = desc[i].flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	}
	sim_ctx_drain(); /* natively synchronous */
	return sim_heap_vaccess(ptr, size, rw);
}

CUresult sim_cuMemGetAccess(unsigned long long *flags,
			    const CUmemLocation *location, CUdeviceptr ptr)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (!flags || !location)
		return CUDA_ERROR_INVALID_VALUE;
	if (!device_loc(location))
		return CUDA_ERROR_INVALID_DEVICE;
	const void *owner;
	bool rw;
	if ((rc = sim_heap_vquery(ptr, &owner, &rw)))
		return rc;
	*flags = rw ? CU_MEM_ACCESS_FLAGS_PROT_READWRITE
		    : CU_MEM_ACCESS_FLAGS_PROT_NONE;
	return CUDA_SUCCESS;
}

CUresult sim_cuMemGetAllocationPropertiesFromHandle(
	CUmemAllocationProp *prop, CUmemGenericAllocationHandle handle)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	if (!prop)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&P.mu);
	struct phys *p = lookup(handle);
	if (p)
		*prop = p->prop;
	pthread_mutex_unlock(&P.mu);
	return p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult sim_cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle,
					 void *addr)
{
	CUresult rc = sim_check_init();
	if (rc)
		return rc;
	const void *owner;
	bool rw;
	if (!handle || sim_heap_vquery((CUdeviceptr)(uintptr_t)addr, &owner, &rw))
		return CUDA_ERROR_INVALID_VALUE;
	rc = CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&P.mu);
	/* by slot, not through owner: it may have gone meanwhile */
	for (size_t i = 0; i < P.n; i++)
		if (P.v[i] && P.v[i] == owner) {
			P.v[i]->hrefs++;
			*handle = handle_of(i);
			rc = CUDA_SUCCESS;
		}
	pthread_mutex_unlock(&P.mu);
	return rc;
}

void sim_vmm_reset(void)
{
	pthread_mutex_lock(&P.mu);
	for (size_t i = 0; i < P.n; i++)
		if (P.v[i]) {
			close(P.v[i]->fd); /* the heap unmaps its mappings */
			free(P.v[i]);
			P.v[i] = NULL;
		}
	pthread_mutex_unlock(&P.mu);
}
