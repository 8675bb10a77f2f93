/* daemon/sim/sim_ipc.c - CUDA IPC of device memory between sim processes.
 *
 * Contract: each sim process has its own device memory, so sharing it
 * needs a file: cuIpcGetMemHandle moves the allocation into a memfd (once;
 * sim_heap_export) and the handle names that file by (pid, fd, size); the
 * importer opens it through /proc/PID/fd (same user, as vgpud's workers
 * are) after checking it is still that memfd of that size, and maps it as
 * a new allocation, uncharged. As natively, a process's own handle is
 * refused (CUDA_ERROR_INVALID_CONTEXT), a handle opened twice returns the
 * same pointer with a reference count, and cuIpcCloseMemHandle unmaps at
 * the last close. Event IPC is CUDA_ERROR_NOT_SUPPORTED (the sim's events
 * live in one process; IPC_EVENT_SUPPORTED is 0).
 */
#define _GNU_SOURCE
#include "sim.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC 0x4350497069536756ull /* "VgSipIPC" */

struct sim_ipc_handle {
	uint64_t magic;
	int32_t pid, fd;
	uint64_t size;
	uint64_t base;     /* the exporter's address: one handle per allocation */
	uint8_t pad[32];
};
_Static_assert(sizeof(struct sim_ipc_handle) == sizeof(CUipcMemHandle),
	       "a CUipcMemHandle");

struct import {
	int32_t pid, fd;
	uint64_t base;
	CUdeviceptr p;
	uint32_t refs;
};

static const char import_owner; /* heap owner of imported allocations */

static struct {
	pthread_mutex_t mu;
	struct import *v;
	size_t n, cap;
} I = {.mu = PTHREAD_MUTEX_INITIALIZER};

CUresult sim_cuIpcGetMemHandle(CUipcMemHandle *handle, CUdeviceptr dptr)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	if (!handle)
		return CUDA_ERROR_INVALID_VALUE;
	struct sim_ipc_handle h = {.magic = MAGIC, .pid = (int32_t)getpid(),
				   .base = dptr};
	int fd;
	if ((rc = sim_heap_export(dptr, &fd, &h.size)))
		return rc;
	h.fd = fd;
	memcpy(handle, &h, sizeof(h));
	return CUDA_SUCCESS;
}

/* The exporter's memfd, if it is still the one the handle names. */
static int open_file(const struct sim_ipc_handle *h)
{
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)h->pid, (int)h->fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return -1;
	link[n] = 0;
	if (strncmp(link, "/memfd:vgpu-sim-ipc", 19))
		return -1; /* the exporter is gone, the number reused */
	int fd = open(path, O_RDWR | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) || (uint64_t)st.st_size != h->size)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static struct import *find(const struct sim_ipc_handle *h, CUdeviceptr p)
{
	for (size_t i = 0; i < I.n; i++)
		if (h ? I.v[i].pid == h->pid && I.v[i].fd == h->fd &&
			       I.v[i].base == h->base
		      : I.v[i].p == p)
			return &I.v[i];
	return NULL;
}

CUresult sim_cuIpcOpenMemHandle_v2(CUdeviceptr *dptr, CUipcMemHandle handle,
				   unsigned int flags)
{
	CUresult rc = sim_enter();
	if (rc)
		return rc;
	struct sim_ipc_handle h;
	memcpy(&h, &handle, sizeof(h));
	if (!dptr || h.magic != MAGIC ||
	    (flags & ~(unsigned)CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS))
		return CUDA_ERROR_INVALID_VALUE;
	if (h.pid == (int32_t)getpid())
		return CUDA_ERROR_INVALID_CONTEXT; /* one's own memory */
	pthread_mutex_lock(&I.mu);
	struct import *im = find(&h, 0);
	if (im) {
		im->refs++;
		*dptr = im->p;
		goto out;
	}
	if (I.n == I.cap) {
		size_t cap = I.cap ? I.cap * 2 : 8;
		struct import *v = realloc(I.v, cap * sizeof(*v));
		if (!v) {
			rc = CUDA_ERROR_OUT_OF_MEMORY;
			goto out;
		}
		I.v = v;
		I.cap = cap;
	}
	int fd = open_file(&h);
	CUdeviceptr p;
	if (fd < 0) {
		rc = CUDA_ERROR_INVALID_HANDLE;
	} else if (!(rc = sim_heap_import(fd, h.size, &import_owner, &p))) {
		I.v[I.n++] = (struct import){h.pid, h.fd, h.base, p, 1};
		*dptr = p;
	} else {
		close(fd);
	}
out:
	pthread_mutex_unlock(&I.mu);
	return rc;
}

CUresult sim_cuIpcCloseMemHandle(CUdeviceptr dptr)
{
	CUresult rc = sim_enter();
	if (rc && rc != sim_sticky())
		return rc;
	pthread_mutex_lock(&I.mu);
	struct import *im = find(NULL, dptr);
	bool last = im && --im->refs == 0;
	if (last)
		*im = I.v[--I.n];
	pthread_mutex_unlock(&I.mu);
	if (!im)
		return CUDA_ERROR_INVALID_VALUE;
	if (last) {
		sim_ctx_drain(); /* work using it finishes first */
		sim_heap_free(dptr, &import_owner);
	}
	return sim_sticky();
}

CUresult sim_cuIpcGetEventHandle(CUipcEventHandle *handle, CUevent event)
{
	(void)handle;
	(void)event;
	CUresult rc = sim_check_init();
	return rc ? rc : CUDA_ERROR_NOT_SUPPORTED;
}

CUresult sim_cuIpcOpenEventHandle(CUevent *event, CUipcEventHandle handle)
{
	(void)event;
	(void)handle;
	CUresult rc = sim_check_init();
	return rc ? rc : CUDA_ERROR_NOT_SUPPORTED;
}

void sim_ipc_reset(void)
{
	pthread_mutex_lock(&I.mu);
	I.n = 0; /* the heap unmaps the imports */
	pthread_mutex_unlock(&I.mu);
}
