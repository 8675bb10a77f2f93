/* guest/nvml/init.c - nvmlInit*, nvmlShutdown, the snapshot of the block.
 *
 * Init maps the region read-only (guest/transport.h: VGPU_REGION or the
 * ivshmem BAR) and waits up to two seconds for the daemon to publish the
 * VM's identity (it does once the VM's first worker is up, normally
 * before any guest asks). NVML counts inits: each successful nvmlInit*
 * needs a matching nvmlShutdown, and the last one unmaps. A failure prints
 * one line saying why (unless VGPU_LOG=quiet) and returns what NVML
 * returns on a machine without that piece: DRIVER_NOT_LOADED for no
 * region or daemon, NO_PERMISSION when the device is not readable. */
#define _GNU_SOURCE
#include "internal.h"
#include "../transport.h"
#include <cuda.h> /* attribute numbers only */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IDENTITY_WAIT_MS 2000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned refs;
static struct vgpu_transport tr;
static const struct vgpu_vminfo *blk;
/* One handle per device the block can describe (the VM's GPUs). */
static struct nvmlDevice_st {
	uint64_t magic;
} devs[VGPU_VMINFO_MAX_GPUS];

nvmlDevice_t vn_handle_of(unsigned i)
{
	return &devs[i];
}

nvmlDevice_t vn_handle(void)
{
	return &devs[0];
}

int vn_index(nvmlDevice_t d)
{
	const struct nvmlDevice_st *p = d;
	if (p < devs || p >= devs + VGPU_VMINFO_MAX_GPUS)
		return -1;
	return (int)(p - devs);
}

unsigned vn_count(const struct vgpu_vminfo *s)
{
	return !vn_present(s) ? 0 : s->ngpus ? s->ngpus : 1;
}

/* Sensor groups: published for the VM's first GPU only. */
#define SENSORS (VGPU_VMI_UTIL | VGPU_VMI_CLOCKS | VGPU_VMI_TEMP |          \
		 VGPU_VMI_POWER | VGPU_VMI_FAN | VGPU_VMI_PSTATE |          \
		 VGPU_VMI_ECC | VGPU_VMI_MODES | VGPU_VMI_BAR1 |            \
		 VGPU_VMI_PROCS | VGPU_VMI_PCIE | VGPU_VMI_ENERGY |         \
		 VGPU_VMI_CLKREASON | VGPU_VMI_APPCLK)

void vn_select(struct vgpu_vminfo *s, unsigned i)
{
	if (!s->ngpus || i >= s->ngpus)
		return;
	const struct vgpu_vminfo_gpu *g = &s->gpus[i];
	unsigned dom, bus, dv, fn;
	memcpy(s->dev.uuid, g->uuid, 16);
	snprintf(s->dev.pci_bus_id, sizeof(s->dev.pci_bus_id), "%s",
		 g->pci_bus_id);
	snprintf(s->dev.name, sizeof(s->dev.name), "%s", g->name);
	if (sscanf(g->pci_bus_id, "%x:%x:%x.%x", &dom, &bus, &dv, &fn) == 4 &&
	    s->dev.nattrs > CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID) {
		s->dev.attrs[CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID] = (int32_t)dom;
		s->dev.attrs[CU_DEVICE_ATTRIBUTE_PCI_BUS_ID] = (int32_t)bus;
		s->dev.attrs[CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID] = (int32_t)dv;
	}
	s->dev.total_mem = g->total_mem;
	s->phys_total = g->phys_total;
	s->vm_used = g->vm_used;
	if (i == 0)
		return;
	/* no sensors for this GPU: its free memory is what the VM leaves */
	s->valid &= ~(uint64_t)SENSORS;
	s->phys_free = g->phys_total > g->vm_used ? g->phys_total - g->vm_used
						  : 0;
	s->nprocs = 0;
}

static void say(const char *msg)
{
	const char *v = getenv("VGPU_LOG");
	if (!v || strcmp(v, "quiet"))
		fprintf(stderr, "vgpu: nvmlInit: %s\n", msg);
}

static nvmlReturn_t map_region(void)
{
	char msg[512];
	int rc = vgpu_transport_open_ro(&tr, msg, sizeof(msg));
	if (rc) {
		say(msg);
		return rc == VGPU_E_PERM ? NVML_ERROR_NO_PERMISSION
					 : NVML_ERROR_DRIVER_NOT_LOADED;
	}
	blk = vgpu_info(&tr.r);
	if (!blk) {
		say("the region has no VM info block: update vgpud");
		vgpu_transport_close(&tr);
		return NVML_ERROR_DRIVER_NOT_LOADED;
	}
	return NVML_SUCCESS;
}

/* The daemon writes the block every 100 ms once it serves the region. */
static bool wait_identity(void)
{
	static struct vgpu_vminfo s;
	for (int ms = 0; ms < IDENTITY_WAIT_MS; ms += 10) {
		if (vgpu_vminfo_read(blk, &s) && vn_present(&s))
			return true;
		nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
	}
	return false;
}

static nvmlReturn_t init(void)
{
	pthread_mutex_lock(&mu);
	nvmlReturn_t r = NVML_SUCCESS;
	if (!refs) {
		r = map_region();
		if (!r && !wait_identity())
			/* no device yet: init succeeds with a count of 0, as on
			 * a host whose GPU is not ready; say why */
			say("vgpud has not described the GPU yet (is its "
			    "worker failing? see `vgpuctl status`)");
	}
	if (!r)
		refs++;
	pthread_mutex_unlock(&mu);
	return r;
}

VGPU_EXPORT nvmlReturn_t nvmlInit_v2(void)
{
	return init();
}

VGPU_EXPORT nvmlReturn_t nvmlInit(void)
{
	return init();
}

VGPU_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned flags)
{
	if (flags & ~(NVML_INIT_FLAG_NO_GPUS | NVML_INIT_FLAG_NO_ATTACH))
		return NVML_ERROR_INVALID_ARGUMENT;
	return init();
}

VGPU_EXPORT nvmlReturn_t nvmlShutdown(void)
{
	pthread_mutex_lock(&mu);
	nvmlReturn_t r = NVML_SUCCESS;
	if (!refs)
		r = NVML_ERROR_UNINITIALIZED;
	else if (!--refs) {
		vgpu_transport_close(&tr);
		blk = NULL;
	}
	pthread_mutex_unlock(&mu);
	return r;
}

nvmlReturn_t vn_snapshot(struct vgpu_vminfo *s)
{
	/* as with NVML, a query racing the last nvmlShutdown is the
	 * caller's bug; the atomic load keeps the common case well-defined */
	const struct vgpu_vminfo *b = __atomic_load_n(&blk, __ATOMIC_ACQUIRE);
	if (!b)
		return NVML_ERROR_UNINITIALIZED;
	if (!vgpu_vminfo_read(b, s))
		return NVML_ERROR_GPU_IS_LOST;
	return NVML_SUCCESS;
}

nvmlReturn_t vn_device(nvmlDevice_t d, struct vgpu_vminfo *s)
{
	nvmlReturn_t r = vn_snapshot(s);
	if (r)
		return r;
	int i = vn_index(d);
	if (i < 0)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (!vn_present(s))
		return NVML_ERROR_GPU_IS_LOST;
	if ((unsigned)i >= vn_count(s))
		return NVML_ERROR_INVALID_ARGUMENT;
	vn_select(s, (unsigned)i);
	return NVML_SUCCESS;
}

nvmlReturn_t vn_str(char *dst, unsigned len, const char *src)
{
	if (!dst)
		return NVML_ERROR_INVALID_ARGUMENT;
	size_t n = strlen(src);
	if (n + 1 > len)
		return NVML_ERROR_INSUFFICIENT_SIZE;
	memcpy(dst, src, n + 1);
	return NVML_SUCCESS;
}
