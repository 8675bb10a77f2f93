/* guest/nvml/memory.c - memory, BAR1 and the processes using the GPU.
 *
 * The VM's view: total is its memory quota (the physical size if it has
 * none), the value cuDeviceTotalMem gives in the same guest; free is what
 * it could still allocate, min(quota - VM's use, physical free), which is
 * what Ollama sizes model layers from. Processes are this VM's guest
 * processes with their guest pids; other VMs' are not visible. */
#define _GNU_SOURCE
#include "internal.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void vn_memory(const struct vgpu_vminfo *s, unsigned long long *total,
	       unsigned long long *free, unsigned long long *used,
	       unsigned long long *reserved)
{
	uint64_t t = s->dev.total_mem;
	uint64_t u = s->vm_used < t ? s->vm_used : t;
	uint64_t f = t - u;
	if (f > s->phys_free)
		f = s->phys_free;
	*total = t, *free = f, *used = u;
	*reserved = t - u - f;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d,
						  nvmlMemory_t *m)
{
	struct vgpu_vminfo s;
	unsigned long long reserved;
	nvmlReturn_t r = vn_device(d, &s);
	if (!r)
		r = vn_need(&s, VGPU_VMI_MEMORY);
	if (r)
		return r;
	if (!m)
		return NVML_ERROR_INVALID_ARGUMENT;
	vn_memory(&s, &m->total, &m->free, &m->used, &reserved);
	m->used += reserved; /* v1: used is total - free */
	return NVML_SUCCESS;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d,
						     nvmlMemory_v2_t *m)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(d, &s);
	if (!r)
		r = vn_need(&s, VGPU_VMI_MEMORY);
	if (r)
		return r;
	if (!m)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (m->version != nvmlMemory_v2)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	vn_memory(&s, &m->total, &m->free, &m->used, &m->reserved);
	return NVML_SUCCESS;
}

VGPU_EXPORT nvmlReturn_t nvmlDeviceGetBAR1MemoryInfo(nvmlDevice_t d,
						      nvmlBAR1Memory_t *b)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(d, &s);
	if (!r)
		r = vn_need(&s, VGPU_VMI_BAR1);
	if (r)
		return r;
	if (!b)
		return NVML_ERROR_INVALID_ARGUMENT;
	uint64_t used = s.bar1_used < s.bar1_total ? s.bar1_used : s.bar1_total;
	b->bar1Total = s.bar1_total;
	b->bar1Used = used;
	b->bar1Free = s.bar1_total - used;
	return NVML_SUCCESS;
}

/* Fill up to *count entries of elem bytes via put(); NVML's protocol: a
 * short array gets INSUFFICIENT_SIZE with *count set to what is needed
 * (a NULL array with *count 0 is how callers ask). */
typedef void (*put_fn)(void *entry, const struct vgpu_vminfo_proc *p);

static nvmlReturn_t processes(nvmlDevice_t d, unsigned *count, void *infos,
			      size_t elem, put_fn put, bool compute)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_device(d, &s);
	if (r)
		return r;
	if (!count)
		return NVML_ERROR_INVALID_ARGUMENT;
	unsigned n = compute && (s.valid & VGPU_VMI_PROCS) ? s.nprocs : 0;
	if (*count < n) {
		*count = n;
		return NVML_ERROR_INSUFFICIENT_SIZE;
	}
	if (n && !infos)
		return NVML_ERROR_INVALID_ARGUMENT;
	for (unsigned i = 0; i < n; i++)
		put((char *)infos + i * elem, &s.procs[i]);
	*count = n;
	return NVML_SUCCESS;
}

static void put_v1(void *e, const struct vgpu_vminfo_proc *p)
{
	*(nvmlProcessInfo_v1_t *)e = (nvmlProcessInfo_v1_t){
		.pid = p->pid, .usedGpuMemory = p->used_mem};
}

static void put_v2(void *e, const struct vgpu_vminfo_proc *p)
{
	*(nvmlProcessInfo_v2_t *)e = (nvmlProcessInfo_v2_t){
		.pid = p->pid, .usedGpuMemory = p->used_mem,
		.gpuInstanceId = NVML_INSTANCE_NOT_AVAILABLE,
		.computeInstanceId = NVML_INSTANCE_NOT_AVAILABLE};
}

static void put_detail(void *e, const struct vgpu_vminfo_proc *p)
{
	*(nvmlProcessDetail_v1_t *)e = (nvmlProcessDetail_v1_t){
		.pid = p->pid, .usedGpuMemory = p->used_mem,
		.gpuInstanceId = NVML_INSTANCE_NOT_AVAILABLE,
		.computeInstanceId = NVML_INSTANCE_NOT_AVAILABLE};
}

/* Every guest process is a compute process; none draws graphics and
 * none runs under MPS. */
#define PROCS(name, type, put, compute)                                      \
	VGPU_EXPORT nvmlReturn_t name(nvmlDevice_t d, unsigned *count,       \
				      type *infos)                           \
	{                                                                    \
		return processes(d, count, infos, sizeof(type), put,         \
				 compute);                                   \
	}
PROCS(nvmlDeviceGetComputeRunningProcesses, nvmlProcessInfo_v1_t, put_v1, true)
PROCS(nvmlDeviceGetComputeRunningProcesses_v2, nvmlProcessInfo_v2_t, put_v2, true)
PROCS(nvmlDeviceGetComputeRunningProcesses_v3, nvmlProcessInfo_t, put_v2, true)
PROCS(nvmlDeviceGetGraphicsRunningProcesses, nvmlProcessInfo_v1_t, put_v1, false)
PROCS(nvmlDeviceGetGraphicsRunningProcesses_v2, nvmlProcessInfo_v2_t, put_v2, false)
PROCS(nvmlDeviceGetGraphicsRunningProcesses_v3, nvmlProcessInfo_t, put_v2, false)
PROCS(nvmlDeviceGetMPSComputeRunningProcesses, nvmlProcessInfo_v1_t, put_v1, false)
PROCS(nvmlDeviceGetMPSComputeRunningProcesses_v2, nvmlProcessInfo_v2_t, put_v2, false)
PROCS(nvmlDeviceGetMPSComputeRunningProcesses_v3, nvmlProcessInfo_t, put_v2, false)

VGPU_EXPORT nvmlReturn_t
nvmlDeviceGetRunningProcessDetailList(nvmlDevice_t d,
				      nvmlProcessDetailList_v1_t *l)
{
	if (!l)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (l->version != nvmlProcessDetailList_v1)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	if (l->mode > NVML_PROCESS_MODE_MPS)
		return NVML_ERROR_INVALID_ARGUMENT;
	return processes(d, &l->numProcArrayEntries, l->procArray,
			 sizeof(nvmlProcessDetail_v1_t), put_detail,
			 l->mode == NVML_PROCESS_MODE_COMPUTE);
}

/* The guest's own /proc: the processes named are the guest's. */
VGPU_EXPORT nvmlReturn_t nvmlSystemGetProcessName(unsigned pid, char *name,
						   unsigned len)
{
	struct vgpu_vminfo s;
	nvmlReturn_t r = vn_snapshot(&s);
	if (r)
		return r;
	if (!name || !len)
		return NVML_ERROR_INVALID_ARGUMENT;
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NVML_ERROR_NOT_FOUND;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return NVML_ERROR_NOT_FOUND;
	buf[n] = 0; /* the program path: argv[0] */
	snprintf(name, len, "%s", buf);
	return NVML_SUCCESS;
}
