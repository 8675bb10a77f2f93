/* daemon/worker_main.c - vgpud-worker: serve one guest process.
 *
 * Started (exec'd) by vgpud ahead of need. It loads the backend, creates
 * its context, maps the VM's region and prints "ready"; then it reads
 * "serve N" on stdin, attaches channel N and serves it until the guest
 * process releases or loses it, and exits. Its exit is how the context is
 * torn down: nothing of one guest process outlives it on the GPU.
 */
#define _GNU_SOURCE
#include "devinfo.h"
#include "worker.h"
#include "worker_bulk.h"
#include "worker_mem.h"
#include "worker_numa.h"
#include "worker_sched.h"
#include "../ring/wait.h"
#include "../ring/vminfo.h"
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct opts {
	const char *region, *vm, *backend, *driver;
	int gpus[VGPU_CU_MAX_DEVS]; /* host ordinals, the guest's order */
	uint32_t ngpus;
	bool list_gpus;
	int ledger_fd; /* -1: none (tests) */
	uint64_t memory_limit;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vgpud-worker --region PATH --vm NAME [--backend cuda|sim]\n"
		"                    [--driver PATH] [--gpus N[,N...]]\n"
		"                    [--memory-limit BYTES] [--ledger-fd FD]\n"
		"       vgpud-worker --list-gpus [--backend cuda|sim] [--driver PATH]\n"
		"\n"
		"Internal to vgpud, which starts it: serves one guest process's\n"
		"channel of the VM region PATH with its own CUDA contexts, one\n"
		"per GPU of --gpus (host ordinals; the guest's devices 0..n-1 in\n"
		"that order; --gpu N is --gpus N). After printing 'ready' it\n"
		"reads 'serve CHANNEL' on standard input. --list-gpus prints the\n"
		"host's GPUs, one line each: ORDINAL UUID BUSID BYTES NAME.\n");
}

/* "0,1": distinct host ordinals. */
static int parse_gpus(const char *s, struct opts *o)
{
	o->ngpus = 0;
	for (;;) {
		char *end;
		long v = strtol(s, &end, 10);
		if (end == s || v < 0 || v > 63 || o->ngpus == VGPU_CU_MAX_DEVS)
			return -1;
		for (uint32_t i = 0; i < o->ngpus; i++)
			if (o->gpus[i] == v)
				return -1;
		o->gpus[o->ngpus++] = (int)v;
		if (!*end)
			return 0;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"region", 1, 0, 'r'}, {"vm", 1, 0, 'v'}, {"backend", 1, 0, 'b'},
		{"driver", 1, 0, 'd'}, {"gpu", 1, 0, 'g'}, {"gpus", 1, 0, 'g'},
		{"list-gpus", 0, 0, 'L'},
		{"memory-limit", 1, 0, 'm'}, {"ledger-fd", 1, 0, 'l'},
		{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	*o = (struct opts){.backend = "cuda", .driver = "libcuda.so.1",
			   .ledger_fd = -1, .ngpus = 1};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r': o->region = optarg; break;
		case 'v': o->vm = optarg; break;
		case 'b': o->backend = optarg; break;
		case 'd': o->driver = optarg; break;
		case 'g':
			if (parse_gpus(optarg, o))
				return -1;
			break;
		case 'L': o->list_gpus = true; break;
		case 'm': o->memory_limit = strtoull(optarg, NULL, 0); break;
		case 'l': o->ledger_fd = atoi(optarg); break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	return o->list_gpus || (o->region && o->vm) ? 0 : -1;
}

static int map_region(struct vworker *W, const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		return -1;
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);
	close(fd);
	uint32_t abi;
	if (m == MAP_FAILED ||
	    vgpu_region_check(&W->r, m, (uint64_t)st.st_size, &abi))
		return -1;
	return 0;
}

/* The VM's ledger, shared with the supervisor: what this process uses,
 * and the VM's quota. Its size is the supervisor's word for the number of
 * channels; the region's header is the guest's to rewrite, so a header
 * that disagrees stops the worker rather than moving the quota counter
 * (a guest must not shrink its way out of its memory limit). */
static int map_ledger(struct vworker *W, int fd)
{
	struct stat st;
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) ||
	    (size_t)st.st_size != VGPUD_LEDGER_SIZE(W->r.g.nchannels)) {
		close(fd);
		return -1;
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	W->ledger = m;
	W->vmledger = vgpud_ledger_vm(W->ledger, W->r.g.nchannels);
	W->ipc = vgpud_ledger_ipc(W->ledger, W->r.g.nchannels);
	W->schedvm = vgpud_ledger_sched(W->ledger, W->r.g.nchannels, 0);
	return 0;
}

/* The first worker of a VM tells the supervisor the VM's identity. */
static void publish_ident(struct vworker *W)
{
	if (!W->ledger)
		return;
	struct vgpud_ledger_ident *id =
		vgpud_ledger_ident(W->ledger, W->r.g.nchannels);
	uint32_t want = VGPUD_IDENT_EMPTY;
	CUuuid u;
	size_t total;
	if (W->drv.cuDeviceGetUuid_v2(&u, W->dev) ||
	    W->drv.cuDeviceTotalMem_v2(&total, W->dev) ||
	    !atomic_compare_exchange_strong(&id->state, &want,
					    VGPUD_IDENT_WRITING))
		return;
	memcpy(id->phys_uuid, u.bytes, 16);
	id->phys_total = total;
	id->info = W->info;
	id->ngpus = W->ndev < VGPU_VMINFO_MAX_GPUS ? W->ndev
						   : VGPU_VMINFO_MAX_GPUS;
	for (uint32_t i = 0; i < id->ngpus; i++) {
		struct vgpu_vminfo_gpu *g = &id->gpus[i];
		memcpy(g->uuid, W->infos[i].uuid, 16);
		snprintf(g->pci_bus_id, sizeof(g->pci_bus_id), "%s",
			 W->infos[i].pci_bus_id);
		snprintf(g->name, sizeof(g->name), "%s", W->infos[i].name);
		g->total_mem = W->infos[i].total_mem;
		if (W->drv.cuDeviceTotalMem_v2(&total, W->devs[i]) == CUDA_SUCCESS)
			g->phys_total = total;
		g->peers = g->peer_atomics = 0;
		for (uint32_t j = 0; j < id->ngpus && j < 32; j++) {
			int can = 0, at = 0;
			if (j == i || W->drv.cuDeviceCanAccessPeer(
					      &can, W->devs[i], W->devs[j]) ||
			    !can)
				continue; /* the driver's answer (multigpu) */
			g->peers |= 1u << j;
			if (!W->drv.cuDeviceGetP2PAttribute(
				    &at,
				    CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED,
				    W->devs[i], W->devs[j]) && at)
				g->peer_atomics |= 1u << j;
		}
	}
	atomic_store(&id->state, VGPUD_IDENT_READY);
}

static int open_backend(struct vworker *W, const struct opts *o, char *err,
			size_t n)
{
	int rc = !strcmp(o->backend, "sim")
			 ? vgpu_backend_sim_open(&W->drv, err, n)
			 : vgpu_backend_cuda_open(&W->drv, o->driver, err, n);
	CUresult r = rc ? CUDA_SUCCESS : W->drv.cuInit(0);
	if (r)
		snprintf(err, n, "cuInit: CUresult %d", (int)r);
	return rc || r ? -1 : 0;
}

/* --list-gpus: what vgpud resolves its `gpus` entries against. */
static int list_gpus(struct vworker *W)
{
	int count = 0;
	if (W->drv.cuDeviceGetCount(&count))
		return 1;
	for (int i = 0; i < count; i++) {
		CUdevice d;
		CUuuid u;
		size_t total;
		char name[96] = "", bus[32] = "", us[VGPU_UUID_STR];
		if (W->drv.cuDeviceGet(&d, i) ||
		    W->drv.cuDeviceGetUuid_v2(&u, d) ||
		    W->drv.cuDeviceTotalMem_v2(&total, d) ||
		    W->drv.cuDeviceGetPCIBusId(bus, sizeof(bus), d) ||
		    W->drv.cuDeviceGetName(name, sizeof(name) - 1, d))
			return 1;
		vgpu_uuid_str((const uint8_t *)u.bytes, us);
		printf("%d %s %s %zu %s\n", i, us, bus, total, name);
	}
	return fflush(stdout) ? 1 : 0;
}

static int open_device(struct vworker *W, const struct opts *o, char *err,
		       size_t n)
{
	if (open_backend(W, o, err, n))
		return -1;
	int bad = o->gpus[0];
	/* device 0's context now: a guest must not wait for it; the others'
	 * when first used (vw_dev_ctx) */
	CUresult r = vw_devs_open(W, o->gpus, o->ngpus, o->vm, o->memory_limit,
				  &bad);
	if (!r)
		r = W->drv.cuCtxSetCurrent(W->ctx);
	if (r) {
		const char *s = NULL;
		W->drv.cuGetErrorString(r, &s);
		snprintf(err, n, "device %d: %s (CUresult %d)", bad,
			 s ? s : "unknown error", (int)r);
		return -1;
	}
	return 0;
}

/* The GPU's NUMA node, before the region's pages are faulted in by the
 * registration below and before any executor thread starts. */
static void bind_numa(struct vworker *W, const char *vm)
{
	char bus[32] = "", msg[160];
	int node = W->drv.cuDeviceGetPCIBusId(bus, sizeof(bus), W->dev)
			   ? -1
			   : vw_numa_node("/sys", bus);
	int rc = vw_numa_bind(node, msg, sizeof(msg));
	if (rc < 0 || getenv("VGPUD_WORKER_TIMES"))
		fprintf(stderr, "vgpud-worker[%s]: GPU %s: %s\n", vm, bus, msg);
}

/* Before "ready": a guest handed this worker never waits on it. */
static void register_bulk(struct vworker *W, const char *vm)
{
	uint64_t ns;
	CUresult r = vw_bulk_register(W, &ns);
	if (r)
		fprintf(stderr, "vgpud-worker[%s]: registering the region's "
			"arena and pinned pool failed (CUresult %d): copies "
			"through the arena run as pageable copies\n", vm, (int)r);
	else if (getenv("VGPUD_WORKER_TIMES"))
		fprintf(stderr, "vgpud-worker[%s]: registered %llu MiB of "
			"arena and pinned pool in %.2f ms\n", vm,
			(unsigned long long)(W->bulk_len >> 20), (double)ns / 1e6);
}

static int on_event(struct vgpu_serve *s, struct vgpu_hchan *h, int ev,
		    struct vgpu_msg *m)
{
	struct vworker *W = s->ctx;
	(void)h;
	switch (ev) {
	case VGPU_H_ATTACH:
		/* one guest process per worker: a later owner of the channel
		 * is the supervisor's to hand to a fresh worker */
		if (W->attached) {
			atomic_store(&s->stop, 1);
			return VGPU_SERVE_IGNORE;
		}
		W->attached = true;
		return VGPU_SERVE_ACCEPT;
	case VGPU_H_MSG:
		if (W->ledger) /* this worker's slot alone: no contention */
			atomic_fetch_add_explicit(&W->ledger[W->chan].calls, 1,
						  memory_order_relaxed);
		vw_exec_submit(W, m);
		return 0;
	case VGPU_H_BADMSG:
		vw_reply(W, m, CUDA_ERROR_INVALID_VALUE, NULL, 0, 0);
		return 0;
	default: /* DETACH, CORRUPT: this guest process is gone for us */
		atomic_store(&s->stop, 1);
		return 0;
	}
}

/* Nothing to do for a while: sleep until the supervisor says otherwise
 * (or a second passes: a missed ring costs at most that). */
static void park(struct vgpu_serve *s)
{
	struct vworker *W = s->ctx;
	struct vgpud_ledger *L = &W->ledger[W->chan];
	uint32_t seen = atomic_load(&L->wake);
	atomic_store(&L->parked, 1);
	vgpu_full_fence(); /* parked before the re-check: no lost wake-up */
	if (!vgpu_hchan_pending(&W->r, &W->srv.ch[W->chan])) {
		struct timespec ts = {1, 0};
		syscall(SYS_futex, (uint32_t *)&L->wake, FUTEX_WAIT, seen, &ts,
			NULL, 0);
	}
	atomic_store(&L->parked, 0);
}

static int serve(struct vworker *W, uint32_t chan)
{
	if (chan >= W->r.g.nchannels ||
	    vgpu_serve_init(&W->srv, &W->r, on_event, W))
		return -1;
	W->chan = chan;
	vw_mem_refresh_devinfo(W); /* the limit may have been reloaded */
	W->srv.first = chan;
	W->srv.count = 1;
	W->srv.owner = false;
	if (W->ledger) {
		W->srv.park = park;
		W->srv.park_after_ns = 200 * 1000000ull;
	}
	vgpu_serve_run(&W->srv);
	vw_sched_close(W); /* launches waiting for tokens go now */
	/* executors still blocked in the driver: leave now, without the
	 * driver's exit-time teardown that could wait on them */
	if (vw_exec_stop_all(W))
		_exit(0);
	vw_mem_pool_close(W); /* no executor left to copy through it */
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	if (parse(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	static struct vworker W;
	char err[512];
	pthread_mutex_init(&W.mu, NULL);
	if (o.list_gpus) {
		if (open_backend(&W, &o, err, sizeof(err))) {
			fprintf(stderr, "vgpud-worker: %s\n", err);
			return 1;
		}
		return list_gpus(&W);
	}
	if (open_device(&W, &o, err, sizeof(err)) ||
	    (map_region(&W, o.region) &&
	     snprintf(err, sizeof(err), "cannot map region %s", o.region))) {
		fprintf(stderr, "vgpud-worker[%s]: %s\n", o.vm, err);
		return 1;
	}
	if (map_ledger(&W, o.ledger_fd)) {
		fprintf(stderr, "vgpud-worker[%s]: the ledger does not match the "
			"region's %u channels\n", o.vm, W.r.g.nchannels);
		return 1;
	}
	W.region_path = o.region;
	publish_ident(&W);
	bind_numa(&W, o.vm);
	register_bulk(&W, o.vm);
	printf("ready\n");
	fflush(stdout);
	char line[64];
	unsigned chan;
	if (!fgets(line, sizeof(line), stdin) ||
	    sscanf(line, "serve %u", &chan) != 1)
		return 0; /* the supervisor let us go unused */
	if (serve(&W, chan)) {
		fprintf(stderr, "vgpud-worker[%s]: bad channel %u\n", o.vm, chan);
		return 1;
	}
	return 0;
}
