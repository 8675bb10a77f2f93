/* tests/gpu/multigpu.c - a driver-API program with two GPUs or more.
 *
 * Usage: multigpu KERNELS.cubin|.fatbin|.ptx [--peer I-J,...|none]
 *                 [--quota MIB]
 *        multigpu --list
 *        multigpu --throughput SECONDS KERNELS [MIB]
 *
 * Runs unchanged natively and in a vgpu guest (tests/gpu/multigpu.sh,
 * tests/integration/run.sh). It enumerates the devices and checks that
 * each has its own UUID and PCI bus id and that cuDeviceGetByPCIBusId
 * finds it, and that its memory's pointer attributes name it and its
 * primary context; prints "peer I J 0|1" for every pair (with --peer, the pairs
 * listed must be exactly those that can reach each other); on devices 0
 * and 1 it fills a buffer on each with a kernel, copies between the GPUs
 * three ways (cuMemcpyPeer, cuMemcpyDtoD across devices, through the
 * host, and cuMemcpyPeerAsync on a stream), runs a checksum kernel on
 * each over what it received, and checks every byte. Peer access is
 * enabled where the devices say it is possible (twice: the second is
 * ALREADY_ENABLED) and refused as UNSUPPORTED where not. Results that
 * must be bit-identical natively and through vgpu are "digest NAME HEX".
 * --quota MIB (a VM whose memory_limit is MIB): the limit holds on each
 * GPU by itself: cuMemGetInfo reports it as each device's total, and
 * three quarters of it fit on device 0 and again on device 1, but not
 * twice on one (CUDA_ERROR_OUT_OF_MEMORY).
 * --list prints only "devices N" and "device I UUID BUSID" lines (the
 * integration suite's CUDA_VISIBLE_DEVICES cases), or "cuInit ERROR".
 * --throughput fills a buffer of MIB (default 1024) on device 0 with the kernel for about
 * SECONDS and prints "throughput GBPS" (bytes written per second):
 * tests/gpu/multigpu.sh compares two VMs alone and at once with it.
 * Last line "multigpu: N passed, N failed"; exit 0 only if none failed.
 */
#include "digest.h"
#include "check.h"
#include "file.h"
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define N (1u << 20) /* words per buffer */

static void uuid_str(const CUuuid *u, char out[48])
{
	const unsigned char *b = (const unsigned char *)u->bytes;
	int o = sprintf(out, "GPU-");
	for (int i = 0; i < 16; i++)
		o += sprintf(out + o, "%s%02x",
			     i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "",
			     b[i]);
}

static int list(void)
{
	int n = 0;
	CUresult r = cuInit(0);
	if (r) {
		printf("cuInit %s\n", cu_name(r));
		return 0;
	}
	cuDeviceGetCount(&n);
	printf("devices %d\n", n);
	for (int d = 0; d < n; d++) {
		CUuuid u;
		char s[48], bus[32] = "";
		cuDeviceGetUuid(&u, d);
		cuDeviceGetPCIBusId(bus, sizeof(bus), d);
		uuid_str(&u, s);
		printf("device %d %s %s\n", d, s, bus);
	}
	return 0;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int throughput(double seconds, const char *path, unsigned mib)
{
	void *image = read_file(path);
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	CUdeviceptr p;
	unsigned long long n = (unsigned long long)mib << 18; /* words */
	unsigned v = 7;
	void *args[] = {&p, &v, &n};
	CUresult r = image ? cuInit(0) : CUDA_ERROR_FILE_NOT_FOUND;
	if (!r)
		r = cuDevicePrimaryCtxRetain(&ctx, 0);
	if (!r)
		r = cuCtxSetCurrent(ctx);
	if (!r)
		r = cuModuleLoadData(&mod, image);
	if (!r)
		r = cuModuleGetFunction(&f, mod, "vgpu_fill_u32");
	if (!r)
		r = cuMemAlloc(&p, n * 4);
	double t0 = now_s(), t = t0;
	unsigned long long launches = 0;
	while (!r && t - t0 < seconds) {
		for (int i = 0; i < 20 && !r; i++, launches++)
			r = cuLaunchKernel(f, 1024, 1, 1, 512, 1, 1, 0, NULL,
					   args, NULL);
		if (!r)
			r = cuCtxSynchronize();
		t = now_s();
	}
	if (r) {
		printf("throughput failed: %s\n", cu_name(r));
		return 1;
	}
	printf("throughput %.1f\n", (double)launches * n * 4 / (t - t0) / 1e9);
	return 0;
}

static void identities(int n)
{
	struct check c = {.name = "identities"};
	char uu[16][48], bus[16][32];
	for (int d = 0; d < n && d < 16; d++) {
		CUuuid u;
		CUdevice got = -1;
		size_t total = 0;
		EXPECT_OK(&c, cuDeviceGetUuid(&u, d));
		EXPECT_OK(&c, cuDeviceGetPCIBusId(bus[d], sizeof(bus[d]), d));
		EXPECT_OK(&c, cuDeviceTotalMem(&total, d));
		EXPECT_OK(&c, cuDeviceGetByPCIBusId(&got, bus[d]));
		uuid_str(&u, uu[d]);
		printf("device %d %s %s %zu MiB\n", d, uu[d], bus[d],
		       total >> 20);
		if (got != d)
			check_fail(&c, "bus id %s found device %d, not %d",
				   bus[d], got, d);
		for (int e = 0; e < d; e++)
			if (!strcmp(uu[d], uu[e]) || !strcmp(bus[d], bus[e]))
				check_fail(&c, "devices %d and %d share an "
					   "identity", e, d);
	}
	CUdevice x;
	EXPECT(&c, CUDA_ERROR_INVALID_DEVICE, cuDeviceGet(&x, n));
	check_end(&c);
}

/* Every pair's answer; with want (pairs "I-J,..."), exactly those. */
static int peers(int n, const char *want, int *can01)
{
	struct check c = {.name = "peer_answers"};
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			int can = -1, attr = -1;
			EXPECT_OK(&c, cuDeviceCanAccessPeer(&can, i, j));
			if (i == j) {
				if (can != 0)
					check_fail(&c, "device %d its own peer",
						   i);
				continue;
			}
			EXPECT_OK(&c, cuDeviceGetP2PAttribute(
				&attr, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED,
				i, j));
			printf("peer %d %d %d\n", i, j, can);
			if (attr != can)
				check_fail(&c, "%d->%d: can %d, attribute %d",
					   i, j, can, attr);
			char a[32], b[32];
			snprintf(a, sizeof(a), "%d-%d", i, j);
			snprintf(b, sizeof(b), "%d-%d", j, i);
			int listed = want && (strstr(want, a) || strstr(want, b));
			if (want && listed != can)
				check_fail(&c, "%d->%d: can %d, want %d", i, j,
					   can, listed);
			if (i == 0 && j == 1)
				*can01 = can;
		}
	check_end(&c);
	return 0;
}

struct gpu {
	CUcontext ctx;
	CUmodule mod;
	CUfunction fill, sum;
	CUdeviceptr a, b; /* a: filled here; b: received from the other */
	CUstream s;
};

static CUresult setup(struct gpu *g, int dev, const void *image)
{
	CUresult r = cuDevicePrimaryCtxRetain(&g->ctx, dev);
	if (!r)
		r = cuCtxSetCurrent(g->ctx);
	if (!r)
		r = cuModuleLoadData(&g->mod, image);
	if (!r)
		r = cuModuleGetFunction(&g->fill, g->mod, "vgpu_fill_u32");
	if (!r)
		r = cuModuleGetFunction(&g->sum, g->mod, "vgpu_checksum");
	if (!r)
		r = cuMemAlloc(&g->a, N * 4);
	if (!r)
		r = cuMemAlloc(&g->b, N * 4);
	if (!r)
		r = cuStreamCreate(&g->s, CU_STREAM_NON_BLOCKING);
	return r;
}

static CUresult fill(struct gpu *g, CUdeviceptr p, unsigned v)
{
	unsigned long long n = N;
	void *args[] = {&p, &v, &n};
	CUresult r = cuCtxSetCurrent(g->ctx);
	if (!r)
		r = cuLaunchKernel(g->fill, 256, 1, 1, 256, 1, 1, 0, NULL, args,
				   NULL);
	return r ? r : cuCtxSynchronize();
}

static CUresult checksum(struct gpu *g, CUdeviceptr p, uint64_t *out)
{
	CUdeviceptr o;
	unsigned long long n = N * 4ull;
	CUresult r = cuCtxSetCurrent(g->ctx);
	if (!r)
		r = cuMemAlloc(&o, 8);
	if (r)
		return r;
	void *args[] = {&p, &n, &o};
	r = cuMemsetD8(o, 0, 8);
	if (!r)
		r = cuLaunchKernel(g->sum, 64, 1, 1, 256, 1, 1, 0, NULL, args,
				   NULL);
	if (!r)
		r = cuMemcpyDtoH(out, o, 8);
	cuMemFree(o);
	return r;
}

static uint64_t host_checksum(const uint32_t *w)
{
	const unsigned char *p = (const unsigned char *)w;
	uint64_t s = 0;
	for (uint64_t i = 0; i < N * 4ull; i++)
		s += (uint64_t)p[i] * (i + 1);
	return s;
}

/* The bytes at p (device of g) are all word v. */
static void expect_words(struct check *c, struct gpu *g, CUdeviceptr p,
			 unsigned v, const char *what, uint32_t *h)
{
	if (!EXPECT_OK(c, cuCtxSetCurrent(g->ctx)) ||
	    !EXPECT_OK(c, cuMemcpyDtoH(h, p, N * 4)))
		return;
	for (uint32_t i = 0; i < N; i++)
		if (h[i] != v) {
			check_fail(c, "%s: word %u is %08x, want %08x", what, i,
				   h[i], v);
			return;
		}
	printf("digest %s %016llx\n", what,
	       (unsigned long long)fnv(h, N * 4));
}

static void peer_access(struct gpu *g, int can)
{
	struct check c = {.name = "peer_access"};
	CUdevice d = -1;
	EXPECT_OK(&c, cuCtxSetCurrent(g[0].ctx));
	EXPECT_OK(&c, cuCtxGetDevice(&d));
	if (d != 0)
		check_fail(&c, "device 0's context is on device %d", d);
	if (can) {
		EXPECT_OK(&c, cuCtxEnablePeerAccess(g[1].ctx, 0));
		EXPECT(&c, CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED,
		       cuCtxEnablePeerAccess(g[1].ctx, 0));
	} else {
		EXPECT(&c, CUDA_ERROR_PEER_ACCESS_UNSUPPORTED,
		       cuCtxEnablePeerAccess(g[1].ctx, 0));
	}
	EXPECT_OK(&c, cuCtxSetCurrent(g[1].ctx));
	EXPECT_OK(&c, cuCtxGetDevice(&d));
	if (d != 1)
		check_fail(&c, "device 1's context is on device %d", d);
	check_end(&c);
}

static void copies(struct gpu *g)
{
	struct check c = {.name = "copies_between_gpus"};
	uint32_t *h = malloc(N * 4);
	uint64_t sum = 0;
	if (!h)
		return;
	/* each GPU fills its own buffer with its kernel */
	EXPECT_OK(&c, fill(&g[0], g[0].a, 0xa0a00000u));
	EXPECT_OK(&c, fill(&g[1], g[1].a, 0xb1b10001u));
	expect_words(&c, &g[0], g[0].a, 0xa0a00000u, "fill_gpu0", h);
	expect_words(&c, &g[1], g[1].a, 0xb1b10001u, "fill_gpu1", h);
	/* 0 -> 1 by cuMemcpyPeer, 1 -> 0 by a plain DtoD across devices */
	EXPECT_OK(&c, cuMemcpyPeer(g[1].b, g[1].ctx, g[0].a, g[0].ctx, N * 4));
	EXPECT_OK(&c, cuCtxSetCurrent(g[0].ctx));
	EXPECT_OK(&c, cuMemcpyDtoD(g[0].b, g[1].a, N * 4));
	expect_words(&c, &g[1], g[1].b, 0xa0a00000u, "peer_0_to_1", h);
	expect_words(&c, &g[0], g[0].b, 0xb1b10001u, "dtod_1_to_0", h);
	/* a kernel on each over what it received */
	EXPECT_OK(&c, checksum(&g[1], g[1].b, &sum));
	for (uint32_t i = 0; i < N; i++)
		h[i] = 0xa0a00000u;
	if (sum != host_checksum(h))
		check_fail(&c, "GPU 1's checksum %llx", (unsigned long long)sum);
	printf("digest checksum_gpu1 %016llx\n", (unsigned long long)sum);
	EXPECT_OK(&c, checksum(&g[0], g[0].b, &sum));
	for (uint32_t i = 0; i < N; i++)
		h[i] = 0xb1b10001u;
	if (sum != host_checksum(h))
		check_fail(&c, "GPU 0's checksum %llx", (unsigned long long)sum);
	printf("digest checksum_gpu0 %016llx\n", (unsigned long long)sum);
	/* through the host: GPU 0 -> host -> GPU 1 */
	EXPECT_OK(&c, fill(&g[0], g[0].a, 0xc2c20002u));
	EXPECT_OK(&c, cuMemcpyDtoH(h, g[0].a, N * 4));
	EXPECT_OK(&c, cuCtxSetCurrent(g[1].ctx));
	EXPECT_OK(&c, cuMemcpyHtoD(g[1].b, h, N * 4));
	expect_words(&c, &g[1], g[1].b, 0xc2c20002u, "host_0_to_1", h);
	/* asynchronously, on GPU 1's stream */
	EXPECT_OK(&c, fill(&g[1], g[1].a, 0xd3d30003u));
	EXPECT_OK(&c, cuCtxSetCurrent(g[1].ctx));
	EXPECT_OK(&c, cuMemcpyPeerAsync(g[0].b, g[0].ctx, g[1].a, g[1].ctx,
					N * 4, g[1].s));
	EXPECT_OK(&c, cuStreamSynchronize(g[1].s));
	expect_words(&c, &g[0], g[0].b, 0xd3d30003u, "peer_async_1_to_0", h);
	free(h);
	check_end(&c);
}

static void per_gpu_quota(struct gpu *g, size_t mib)
{
	struct check c = {.name = "per_gpu_quota"};
	size_t lim = mib << 20, part = lim / 4 * 3, fr, tot;
	CUdeviceptr p0 = 0, p1 = 0, x = 0;
	for (int d = 0; d < 2; d++) {
		EXPECT_OK(&c, cuCtxSetCurrent(g[d].ctx));
		EXPECT_OK(&c, cuMemGetInfo(&fr, &tot));
		if (tot != lim)
			check_fail(&c, "device %d: total %zu, want %zu", d, tot,
				   lim);
	}
	EXPECT_OK(&c, cuCtxSetCurrent(g[0].ctx));
	EXPECT_OK(&c, cuMemAlloc(&p0, part));
	EXPECT(&c, CUDA_ERROR_OUT_OF_MEMORY, cuMemAlloc(&x, part));
	EXPECT_OK(&c, cuCtxSetCurrent(g[1].ctx));
	EXPECT_OK(&c, cuMemGetInfo(&fr, &tot));
	if (fr < part)
		check_fail(&c, "device 1 lost room to device 0: free %zu", fr);
	EXPECT_OK(&c, cuMemAlloc(&p1, part));
	EXPECT(&c, CUDA_ERROR_OUT_OF_MEMORY, cuMemAlloc(&x, part));
	/* freed on device 0 from device 1's context: device 0's room back */
	EXPECT_OK(&c, cuMemFree(p0));
	EXPECT_OK(&c, cuCtxSetCurrent(g[0].ctx));
	EXPECT_OK(&c, cuMemAlloc(&p0, part));
	EXPECT_OK(&c, cuMemFree(p0));
	EXPECT_OK(&c, cuMemFree(p1));
	check_end(&c);
}

static void wrong_device(int n)
{
	struct check c = {.name = "wrong_device"};
	CUcontext x;
	int can;
	EXPECT(&c, CUDA_ERROR_INVALID_DEVICE, cuCtxCreate(&x, NULL, 0, n));
	EXPECT(&c, CUDA_ERROR_INVALID_DEVICE, cuDevicePrimaryCtxRetain(&x, n));
	EXPECT(&c, CUDA_ERROR_INVALID_DEVICE, cuDeviceCanAccessPeer(&can, 0, n));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuDeviceGetByPCIBusId((CUdevice *)&can, "not a bus id"));
	check_end(&c);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "--list"))
		return list();
	if (argc >= 4 && !strcmp(argv[1], "--throughput"))
		return throughput(atof(argv[2]), argv[3],
				  argc >= 5 ? (unsigned)atoi(argv[4]) : 1024);
	if (argc < 2) {
		fprintf(stderr, "usage: multigpu KERNELS [--peer I-J,...] | "
			"multigpu --list\n");
		return 2;
	}
	const char *want = NULL;
	size_t quota = 0;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--peer"))
			want = argv[i + 1];
		else if (!strcmp(argv[i], "--quota"))
			quota = strtoull(argv[i + 1], NULL, 10);
	}
	void *image = read_file(argv[1]);
	int n = 0, can01 = 0;
	struct check c = {.name = "init"};
	EXPECT_OK(&c, cuInit(0));
	EXPECT_OK(&c, cuDeviceGetCount(&n));
	printf("devices %d\n", n);
	if (!image)
		check_fail(&c, "cannot read %s", argv[1]);
	if (n < 2)
		check_fail(&c, "%d device(s): this test needs two", n);
	check_end(&c);
	if (c.bad)
		return check_summary("multigpu");
	identities(n);
	peers(n, want, &can01);
	struct gpu g[2] = {0};
	struct check s = {.name = "contexts_modules_memory"};
	EXPECT_OK(&s, setup(&g[0], 0, image));
	EXPECT_OK(&s, setup(&g[1], 1, image));
	if (g[0].ctx == g[1].ctx)
		check_fail(&s, "devices 0 and 1 share a primary context");
	for (int d = 0; d < 2 && !s.bad; d++) {
		int ord = -1;
		CUcontext owner = NULL;
		EXPECT_OK(&s, cuPointerGetAttribute(
			&ord, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, g[d].a));
		EXPECT_OK(&s, cuPointerGetAttribute(
			&owner, CU_POINTER_ATTRIBUTE_CONTEXT, g[d].b));
		if (ord != d || owner != g[d].ctx)
			check_fail(&s, "device %d's memory: ordinal %d, %s "
				   "context", d, ord,
				   owner == g[d].ctx ? "its" : "another");
	}
	check_end(&s);
	if (!s.bad) {
		peer_access(g, can01);
		copies(g);
		if (quota)
			per_gpu_quota(g, quota);
	}
	wrong_device(n);
	return check_summary("multigpu");
}
