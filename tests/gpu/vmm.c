/* tests/gpu/vmm.c - virtual memory management as programs use it.
 *
 * Usage: vmm KERNELS.cubin|.fatbin|.ptx
 *
 * Runs natively and through vgpu (tests/gpu/run.sh compares the "digest"
 * lines, which hold only data and sizes, never addresses or handles):
 *   vmm_attribute  the device reports VMM support (ggml requires it)
 *   vmm_map        reserve, create, map, set and get access, properties,
 *                  copies both ways and a kernel on mapped memory, retain,
 *                  unmap, release, free
 *   vmm_alias      one allocation mapped twice: both views share bytes
 *   vmm_grow       ggml's pool: a large reservation, chunks created, mapped
 *                  and released as it grows, kernels, memsets and copies
 *                  across chunk seams, one unmap of all chunks at the end
 *   vmm_errors     documented refusals: unaligned sizes, NULL outputs
 *   pool_attrs     pools: the attribute, default and current pools, a
 *                  created pool's attributes, setting the current pool
 *   pool_order     stream-ordered allocation: allocate, fill, checksum,
 *                  free on one stream, eight times over (each allocation
 *                  may reuse the last one's memory), results checked
 *   ipc            a second process (this program, exec'd) opens this
 *                  one's memory by cuIpcGetMemHandle and, where the device
 *                  reports IPC events, waits on this one's event recorded
 *                  after delayed work, reads, writes and closes; both
 *                  sides check and digest what they see
 *
 * Usage of the second process: vmm --ipc-child KERNELS MEMHEX [EVENTHEX]
 *
 * Across VMs (vgpu only; tests/integration/run.sh): vmm --ipc-export
 * KERNELS prints "handle HEX" for a fresh allocation and waits for a line
 * on stdin; vmm --ipc-refused KERNELS HEX, run in another VM, must get
 * CUDA_ERROR_INVALID_VALUE opening it.
 *
 * vmm --vgpu-hostile KERNELS (vgpu only: natively a foreign handle is a
 * value the driver may follow) forks before any CUDA call: the owner
 * publishes a physical allocation's handle, its reservation and mapping
 * and a pool; the intruder, with no reservation of its own, must be
 * refused each (INVALID_VALUE, or INVALID_HANDLE for the pool), and the
 * owner's mapping must still work afterwards.
 */
#define _GNU_SOURCE
#include "digest.h"
#include "check.h"
#include "file.h"
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static CUdevice dev;
static CUfunction f_fill, f_sum, f_sleep;
static size_t gran;

static CUmemAllocationProp prop(void)
{
	CUmemAllocationProp p;
	memset(&p, 0, sizeof(p));
	p.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	p.location.id = 0;
	return p;
}

static CUresult set_rw(CUdeviceptr p, size_t n)
{
	CUmemAccessDesc d;
	memset(&d, 0, sizeof(d));
	d.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	d.location.id = 0;
	d.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
	return cuMemSetAccess(p, n, &d, 1);
}

static CUresult fill(CUdeviceptr p, unsigned v, unsigned long long n)
{
	void *args[] = {&p, &v, &n};
	return cuLaunchKernel(f_fill, 64, 1, 1, 256, 1, 1, 0, NULL, args, NULL);
}

/* vgpu_checksum: sum of p[i] * (i + 1) over [p, p+n), on the device. */
static CUresult dsum(CUdeviceptr p, unsigned long long n, CUdeviceptr out,
		     unsigned long long *sum)
{
	void *args[] = {&p, &n, &out};
	CUresult r = cuMemsetD8(out, 0, 8);
	if (!r)
		r = cuLaunchKernel(f_sum, 32, 1, 1, 256, 1, 1, 0, NULL, args,
				   NULL);
	if (!r)
		r = cuMemcpyDtoH(sum, out, 8);
	return r;
}

static uint64_t byte_sum(const uint8_t *p, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += (uint64_t)p[i] * (i + 1);
	return s;
}

static void check_attribute(void)
{
	struct check c = {.name = "vmm_attribute"};
	int v = -1;
	size_t rec = 0;
	CUmemAllocationProp p = prop();
	if (EXPECT_OK(&c, cuDeviceGetAttribute(&v,
			CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED,
			dev)) && v != 1)
		check_fail(&c, "VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED = %d", v);
	if (EXPECT_OK(&c, cuMemGetAllocationGranularity(&gran, &p,
				CU_MEM_ALLOC_GRANULARITY_MINIMUM)) &&
	    EXPECT_OK(&c, cuMemGetAllocationGranularity(&rec, &p,
				CU_MEM_ALLOC_GRANULARITY_RECOMMENDED))) {
		if (!gran || gran & (gran - 1) || rec % gran)
			check_fail(&c, "granularity %zu, recommended %zu", gran,
				   rec);
		uint64_t g[2] = {gran, rec};
		digest("vmm_granularity", g, sizeof(g));
	}
	check_end(&c);
}

static void check_map(void)
{
	struct check c = {.name = "vmm_map"};
	size_t n = 2 * gran;
	CUdeviceptr va = 0, out = 0;
	CUmemGenericAllocationHandle h = 0, h2 = 0;
	CUmemAllocationProp p = prop(), q;
	CUmemLocation loc = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
	unsigned long long flags = 0, sum = 0;
	uint8_t *a = malloc(n), *b = malloc(n);
	for (size_t i = 0; i < n; i++)
		a[i] = (uint8_t)(i * 2654435761u >> 13);
	if (!a || !b || !gran) {
		check_fail(&c, "no memory or granularity");
		goto out;
	}
	if (!EXPECT_OK(&c, cuMemAddressReserve(&va, 4 * gran, 0, 0, 0)) ||
	    !EXPECT_OK(&c, cuMemCreate(&h, n, &p, 0)) ||
	    !EXPECT_OK(&c, cuMemMap(va + gran, n, 0, h, 0)) ||
	    !EXPECT_OK(&c, set_rw(va + gran, n)) ||
	    !EXPECT_OK(&c, cuMemGetAccess(&flags, &loc, va + gran)) ||
	    !EXPECT_OK(&c, cuMemGetAllocationPropertiesFromHandle(&q, h)) ||
	    !EXPECT_OK(&c, cuMemAlloc(&out, 8)))
		goto out;
	if (flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
		check_fail(&c, "access flags %llu", flags);
	if (q.type != p.type || q.location.type != p.location.type ||
	    q.location.id != 0)
		check_fail(&c, "properties: type %d location %d/%d", q.type,
			   q.location.type, q.location.id);
	if (EXPECT_OK(&c, cuMemcpyHtoD(va + gran, a, n)) &&
	    EXPECT_OK(&c, cuMemcpyDtoH(b, va + gran, n)) && memcmp(a, b, n))
		check_fail(&c, "mapped memory does not read back");
	if (EXPECT_OK(&c, dsum(va + gran, n, out, &sum)) &&
	    sum != byte_sum(a, n))
		check_fail(&c, "device checksum %llu, host %llu", sum,
			   (unsigned long long)byte_sum(a, n));
	if (EXPECT_OK(&c, fill(va + gran + 4096, 0x01020304u, 1000)) &&
	    EXPECT_OK(&c, cuMemcpyDtoH(b, va + gran, n)))
		digest("vmm_map", b, n);
	if (EXPECT_OK(&c, cuMemRetainAllocationHandle(&h2,
				(void *)(uintptr_t)(va + gran + n - 1))) &&
	    h2 != h)
		check_fail(&c, "retained handle differs from the mapped one");
	if (h2)
		EXPECT_OK(&c, cuMemRelease(h2));
	EXPECT_OK(&c, cuMemUnmap(va + gran, n));
	EXPECT_OK(&c, cuMemRelease(h));
	h = 0;
	EXPECT_OK(&c, cuMemAddressFree(va, 4 * gran));
	va = 0;
out:
	if (out)
		cuMemFree(out);
	free(a);
	free(b);
	check_end(&c);
}

static void check_alias(void)
{
	struct check c = {.name = "vmm_alias"};
	CUdeviceptr va = 0;
	CUmemGenericAllocationHandle h = 0;
	CUmemAllocationProp p = prop();
	uint32_t x[256], y[256];
	for (int i = 0; i < 256; i++)
		x[i] = 0x9e3779b9u * (uint32_t)i;
	if (EXPECT_OK(&c, cuMemAddressReserve(&va, 2 * gran, 0, 0, 0)) &&
	    EXPECT_OK(&c, cuMemCreate(&h, gran, &p, 0)) &&
	    EXPECT_OK(&c, cuMemMap(va, gran, 0, h, 0)) &&
	    EXPECT_OK(&c, cuMemMap(va + gran, gran, 0, h, 0)) &&
	    EXPECT_OK(&c, cuMemRelease(h)) && /* the mappings keep it */
	    EXPECT_OK(&c, set_rw(va, 2 * gran)) &&
	    EXPECT_OK(&c, cuMemcpyHtoD(va + 8192, x, sizeof(x))) &&
	    EXPECT_OK(&c, cuMemcpyDtoH(y, va + gran + 8192, sizeof(y))) &&
	    memcmp(x, y, sizeof(x)))
		check_fail(&c, "the second view does not see the first's bytes");
	if (va) {
		EXPECT_OK(&c, cuMemUnmap(va, gran));
		EXPECT_OK(&c, cuMemUnmap(va + gran, gran));
		EXPECT_OK(&c, cuMemAddressFree(va, 2 * gran));
	}
	check_end(&c);
}

/* ggml's CUDA pool (ggml_cuda_pool_vmm): reserve once, then per growth
 * cuMemCreate, cuMemMap at the end, cuMemRelease, cuMemSetAccess. */
static void check_grow(void)
{
	struct check c = {.name = "vmm_grow"};
	const size_t reserve = (size_t)32 << 30, chunks = 4;
	size_t size = 0;
	CUdeviceptr pool = 0, out = 0;
	CUmemAllocationProp p = prop();
	uint8_t *h = malloc(chunks * gran), *g = malloc(chunks * gran);
	if (!h || !g || !gran) {
		check_fail(&c, "no memory or granularity");
		goto out;
	}
	if (!EXPECT_OK(&c, cuMemAddressReserve(&pool, reserve, 0, 0, 0)) ||
	    !EXPECT_OK(&c, cuMemAlloc(&out, 8)))
		goto out;
	for (size_t k = 0; k < chunks && !c.bad; k++) {
		CUmemGenericAllocationHandle m;
		if (!EXPECT_OK(&c, cuMemCreate(&m, gran, &p, 0)))
			break;
		if (!EXPECT_OK(&c, cuMemMap(pool + size, gran, 0, m, 0))) {
			cuMemRelease(m);
			break;
		}
		EXPECT_OK(&c, cuMemRelease(m));
		EXPECT_OK(&c, set_rw(pool + size, gran));
		size += gran;
		/* the whole pool so far, across every seam */
		EXPECT_OK(&c, fill(pool, 0x11111111u * (unsigned)(k + 1),
				   size / 4));
	}
	if (c.bad)
		goto unmap;
	/* a memset, an upload and a device copy straddling seams */
	for (size_t i = 0; i < chunks * gran; i++)
		h[i] = (uint8_t)(i * 40503u >> 7);
	unsigned long long sum = 0;
	if (EXPECT_OK(&c, cuMemsetD32(pool + gran - 64, 0xa5a5a5a5u, 32)) &&
	    EXPECT_OK(&c, cuMemcpyHtoD(pool + 2 * gran - 1000, h, 5000)) &&
	    EXPECT_OK(&c, cuMemcpyDtoD(pool + 3 * gran - 3000,
				       pool + 2 * gran - 1000, 5000)) &&
	    EXPECT_OK(&c, cuMemcpyDtoH(g, pool, chunks * gran)) &&
	    EXPECT_OK(&c, dsum(pool, chunks * gran, out, &sum))) {
		if (memcmp(g + 2 * gran - 1000, h, 5000) ||
		    memcmp(g + 3 * gran - 3000, h, 5000))
			check_fail(&c, "copies across seams differ");
		if (sum != byte_sum(g, chunks * gran))
			check_fail(&c, "device checksum %llu, host %llu", sum,
				   (unsigned long long)byte_sum(g, chunks * gran));
		digest("vmm_grow", g, chunks * gran);
	}
unmap:
	if (size)
		EXPECT_OK(&c, cuMemUnmap(pool, size)); /* every chunk at once */
	if (pool)
		EXPECT_OK(&c, cuMemAddressFree(pool, reserve));
out:
	if (out)
		cuMemFree(out);
	free(h);
	free(g);
	check_end(&c);
}

static void check_errors(void)
{
	struct check c = {.name = "vmm_errors"};
	CUmemAllocationProp p = prop();
	CUmemGenericAllocationHandle h = 0;
	CUdeviceptr va = 0;
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuMemGetAllocationGranularity(NULL, &p,
					     CU_MEM_ALLOC_GRANULARITY_MINIMUM));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemCreate(&h, gran + 1, &p, 0));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemCreate(NULL, gran, &p, 0));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuMemAddressReserve(NULL, gran, 0, 0, 0));
	if (EXPECT_OK(&c, cuMemAddressReserve(&va, 2 * gran, 0, 0, 0)) &&
	    EXPECT_OK(&c, cuMemCreate(&h, gran, &p, 0))) {
		/* natively (H200, 580.159): a size that is not a multiple
		 * of the granularity is NOT_SUPPORTED, not INVALID_VALUE */
		EXPECT(&c, CUDA_ERROR_NOT_SUPPORTED,
		       cuMemMap(va, gran / 2, 0, h, 0));
		/* a misaligned address: not yet seen natively; it must fail,
		 * and the digest compares the code with the native one */
		CUresult r = cuMemMap(va + gran / 2, gran, 0, h, 0);
		if (r == CUDA_SUCCESS) {
			check_fail(&c, "mapped at a misaligned address");
			cuMemUnmap(va + gran / 2, gran);
		}
		printf("digest vmm_errors_misaligned_map %s\n", cu_name(r));
		EXPECT_OK(&c, cuMemRelease(h));
	}
	if (va)
		EXPECT_OK(&c, cuMemAddressFree(va, 2 * gran));
	check_end(&c);
}

static CUmemPoolProps pool_props(void)
{
	CUmemPoolProps p;
	memset(&p, 0, sizeof(p));
	p.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
	p.handleTypes = CU_MEM_HANDLE_TYPE_NONE;
	p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	p.location.id = 0;
	return p;
}

static void check_pool_attrs(void)
{
	struct check c = {.name = "pool_attrs"};
	CUmemPoolProps props = pool_props();
	CUmemoryPool def = NULL, cur = NULL, pool = NULL;
	CUdeviceptr d = 0;
	int v = -1, reuse = -1;
	cuuint64_t thr = 64ull << 20, got = 0, used = 0;
	if (EXPECT_OK(&c, cuDeviceGetAttribute(&v,
			CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, dev)) &&
	    v != 1)
		check_fail(&c, "MEMORY_POOLS_SUPPORTED = %d", v);
	if (!EXPECT_OK(&c, cuDeviceGetDefaultMemPool(&def, dev)) ||
	    !EXPECT_OK(&c, cuDeviceGetMemPool(&cur, dev)) ||
	    !EXPECT_OK(&c, cuMemPoolCreate(&pool, &props)))
		goto out;
	if (cur != def || pool == def)
		check_fail(&c, "current pool is not the default, or a new "
			   "pool is");
	int zero = 0;
	if (EXPECT_OK(&c, cuMemPoolSetAttribute(pool,
				CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &thr)) &&
	    EXPECT_OK(&c, cuMemPoolGetAttribute(pool,
				CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &got)) &&
	    got != thr)
		check_fail(&c, "release threshold %llu", (unsigned long long)got);
	if (EXPECT_OK(&c, cuMemPoolSetAttribute(pool,
				CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC, &zero)) &&
	    EXPECT_OK(&c, cuMemPoolGetAttribute(pool,
				CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC, &reuse)) &&
	    reuse != 0)
		check_fail(&c, "opportunistic reuse %d", reuse);
	/* the current pool serves cuMemAllocAsync */
	if (EXPECT_OK(&c, cuDeviceSetMemPool(dev, pool)) &&
	    EXPECT_OK(&c, cuDeviceGetMemPool(&cur, dev)) && cur != pool)
		check_fail(&c, "cuDeviceSetMemPool did not take");
	if (EXPECT_OK(&c, cuMemAllocAsync(&d, 3 << 20, NULL)) &&
	    EXPECT_OK(&c, cuStreamSynchronize(NULL)) &&
	    EXPECT_OK(&c, cuMemPoolGetAttribute(pool,
				CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used)) &&
	    used < (3u << 20))
		check_fail(&c, "pool uses %llu bytes, 3 MiB allocated",
			   (unsigned long long)used);
	if (d)
		EXPECT_OK(&c, cuMemFreeAsync(d, NULL));
	EXPECT_OK(&c, cuDeviceSetMemPool(dev, def));
	EXPECT_OK(&c, cuStreamSynchronize(NULL));
	EXPECT_OK(&c, cuMemPoolTrimTo(pool, 0));
out:
	if (pool)
		EXPECT_OK(&c, cuMemPoolDestroy(pool));
	check_end(&c);
}

/* Allocations live from their alloc to their free in stream order: each
 * round allocates, fills, checksums and frees on one stream, and the next
 * round may get the same memory back. */
static void check_pool_order(void)
{
	struct check c = {.name = "pool_order"};
	enum { ROUNDS = 8 };
	const unsigned long long n = 300000; /* u32 elements */
	CUmemPoolProps props = pool_props();
	CUmemoryPool pool = NULL;
	CUstream s = NULL;
	CUdeviceptr out = 0;
	unsigned long long sums[ROUNDS] = {0};
	if (!EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING)) ||
	    !EXPECT_OK(&c, cuMemPoolCreate(&pool, &props)) ||
	    !EXPECT_OK(&c, cuMemAlloc(&out, sizeof(sums))) ||
	    !EXPECT_OK(&c, cuMemsetD8Async(out, 0, sizeof(sums), s)))
		goto out;
	for (int i = 0; i < ROUNDS && !c.bad; i++) {
		CUdeviceptr p = 0, o = out + 8 * (unsigned)i;
		unsigned v = 0x01010101u * (unsigned)(i + 1);
		unsigned long long bytes = n * 4;
		void *fa[] = {&p, &v, (void *)&n}, *sa[] = {&p, &bytes, &o};
		CUresult r = i % 2 ? cuMemAllocFromPoolAsync(&p, n * 4, pool, s)
				   : cuMemAllocAsync(&p, n * 4, s);
		if (!EXPECT_OK(&c, r))
			break;
		EXPECT_OK(&c, cuLaunchKernel(f_fill, 64, 1, 1, 256, 1, 1, 0, s,
					     fa, NULL));
		EXPECT_OK(&c, cuLaunchKernel(f_sum, 32, 1, 1, 256, 1, 1, 0, s,
					     sa, NULL));
		EXPECT_OK(&c, cuMemFreeAsync(p, s));
	}
	if (EXPECT_OK(&c, cuStreamSynchronize(s)) &&
	    EXPECT_OK(&c, cuMemcpyDtoH(sums, out, sizeof(sums)))) {
		for (int i = 0; i < ROUNDS; i++) {
			/* every byte is i + 1: sum (i+1)(k+1) over k < 4n */
			unsigned long long m = 4 * n, want =
				(unsigned long long)(i + 1) * (m * (m + 1) / 2);
			if (sums[i] != want)
				check_fail(&c, "round %d: checksum %llu, want %llu",
					   i, sums[i], want);
		}
		digest("pool_order", sums, sizeof(sums));
	}
out:
	if (out)
		cuMemFree(out);
	if (pool)
		EXPECT_OK(&c, cuMemPoolDestroy(pool));
	if (s)
		cuStreamDestroy(s);
	check_end(&c);
}

static int setup(const char *path)
{
	struct check c = {.name = "setup"};
	void *image = read_file(path);
	CUcontext ctx;
	CUmodule mod;
	if (!image)
		check_fail(&c, "cannot read %s", path);
	else if (EXPECT_OK(&c, cuInit(0)) &&
		 EXPECT_OK(&c, cuDeviceGet(&dev, 0)) &&
		 EXPECT_OK(&c, cuDevicePrimaryCtxRetain(&ctx, dev)) &&
		 EXPECT_OK(&c, cuCtxSetCurrent(ctx)) &&
		 EXPECT_OK(&c, cuModuleLoadData(&mod, image)) &&
		 EXPECT_OK(&c, cuModuleGetFunction(&f_fill, mod,
						   "vgpu_fill_u32")) &&
		 EXPECT_OK(&c, cuModuleGetFunction(&f_sum, mod,
						   "vgpu_checksum")))
		EXPECT_OK(&c, cuModuleGetFunction(&f_sleep, mod,
						  "vgpu_sleep_ns"));
	free(image);
	check_end(&c);
	return !c.bad;
}

/* ---- IPC --------------------------------------------------------------- */

enum { IPC_N = 1 << 20, MARK = 0x5a, CHILD = 0x3c };

static uint8_t ipc_byte(size_t i)
{
	return (uint8_t)(i * 7 + 3);
}

static void to_hex(const void *p, size_t n, char *out)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static int from_hex(const char *s, void *p, size_t n)
{
	uint8_t *b = p;
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		b[i] = (uint8_t)v;
	}
	return 0;
}

static int ipc_events(void)
{
	int v = 0;
	cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED, dev);
	return v;
}

/* The exporter's side: its memory's first half holds ipc_byte(i); with
 * events, the second half gets MARK after 50 ms of device work, and the
 * event is recorded after that. The child must see both, then fills the
 * first quarter with CHILD. */
static void check_ipc(const char *self, const char *kernels)
{
	struct check c = {.name = "ipc"};
	CUdeviceptr d = 0;
	CUstream s = NULL;
	CUevent ev = NULL;
	CUipcMemHandle mh;
	CUipcEventHandle eh;
	char mhex[2 * sizeof(mh) + 1], ehex[2 * sizeof(eh) + 1];
	uint8_t *h = malloc(IPC_N);
	int events = ipc_events();
	if (!h || !EXPECT_OK(&c, cuMemAlloc(&d, IPC_N)) ||
	    !EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING)))
		goto out;
	for (size_t i = 0; i < IPC_N; i++)
		h[i] = i < IPC_N / 2 ? ipc_byte(i) : 0;
	if (!EXPECT_OK(&c, cuMemcpyHtoD(d, h, IPC_N)) ||
	    !EXPECT_OK(&c, cuIpcGetMemHandle(&mh, d)))
		goto out;
	to_hex(&mh, sizeof(mh), mhex);
	if (events) {
		unsigned long long ns = 50000000, n = IPC_N / 8;
		unsigned v = MARK * 0x01010101u;
		CUdeviceptr half = d + IPC_N / 2;
		void *sa[] = {&ns}, *fa[] = {&half, &v, &n};
		if (!EXPECT_OK(&c, cuEventCreate(&ev, CU_EVENT_INTERPROCESS |
						      CU_EVENT_DISABLE_TIMING)) ||
		    !EXPECT_OK(&c, cuLaunchKernel(f_sleep, 1, 1, 1, 1, 1, 1, 0,
						  s, sa, NULL)) ||
		    !EXPECT_OK(&c, cuLaunchKernel(f_fill, 64, 1, 1, 256, 1, 1,
						  0, s, fa, NULL)) ||
		    !EXPECT_OK(&c, cuEventRecord(ev, s)) ||
		    !EXPECT_OK(&c, cuIpcGetEventHandle(&eh, ev)))
			goto out;
		to_hex(&eh, sizeof(eh), ehex);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl(self, self, "--ipc-child", kernels, mhex,
		      events ? ehex : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st)) {
		check_fail(&c, "the importing process failed (status %d)", st);
		goto out;
	}
	if (EXPECT_OK(&c, cuStreamSynchronize(s)) &&
	    EXPECT_OK(&c, cuMemcpyDtoH(h, d, IPC_N))) {
		for (size_t i = 0; i < IPC_N / 2 && !c.bad; i++)
			if (h[i] != (i < IPC_N / 4 ? CHILD : ipc_byte(i)))
				check_fail(&c, "byte %zu is %u after the child",
					   i, h[i]);
		digest("ipc_parent", h, IPC_N);
	}
out:
	if (ev)
		cuEventDestroy(ev);
	if (s)
		cuStreamDestroy(s);
	if (d)
		cuMemFree(d);
	free(h);
	check_end(&c);
}

static int ipc_child(const char *mhex, const char *ehex)
{
	struct check c = {.name = "ipc_child"};
	CUipcMemHandle mh;
	CUipcEventHandle eh;
	CUdeviceptr p = 0, p2 = 0;
	CUevent ev = NULL;
	uint8_t *h = malloc(IPC_N);
	if (!h || from_hex(mhex, &mh, sizeof(mh)) ||
	    (ehex && from_hex(ehex, &eh, sizeof(eh)))) {
		check_fail(&c, "bad arguments");
		goto out;
	}
	if (!EXPECT_OK(&c, cuIpcOpenMemHandle(&p, mh,
				CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS)) ||
	    !EXPECT_OK(&c, cuIpcOpenMemHandle(&p2, mh,
				CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS)))
		goto out;
	if (p2 != p)
		check_fail(&c, "a second opening gave another pointer");
	EXPECT_OK(&c, cuIpcCloseMemHandle(p2));
	if (ehex && (!EXPECT_OK(&c, cuIpcOpenEventHandle(&ev, eh)) ||
		     !EXPECT_OK(&c, cuStreamWaitEvent(NULL, ev, 0))))
		goto close;
	if (!EXPECT_OK(&c, cuMemcpyDtoH(h, p, IPC_N)))
		goto close;
	for (size_t i = 0; i < IPC_N && !c.bad; i++) {
		uint8_t want = i < IPC_N / 2 ? ipc_byte(i) : ehex ? MARK : 0;
		if (h[i] != want)
			check_fail(&c, "byte %zu is %u, want %u", i, h[i], want);
	}
	digest(ehex ? "ipc_child_event" : "ipc_child", h, IPC_N);
	EXPECT_OK(&c, fill(p, CHILD * 0x01010101u, IPC_N / 16));
	EXPECT_OK(&c, cuCtxSynchronize());
close:
	if (ev)
		EXPECT_OK(&c, cuEventDestroy(ev));
	EXPECT_OK(&c, cuIpcCloseMemHandle(p));
out:
	free(h);
	check_end(&c);
	return check_summary("vmm --ipc-child");
}

static int ipc_export(void)
{
	struct check c = {.name = "ipc_export"};
	CUdeviceptr d;
	CUipcMemHandle h;
	char hex[2 * sizeof(h) + 1], line[16];
	if (EXPECT_OK(&c, cuMemAlloc(&d, 4096)) &&
	    EXPECT_OK(&c, cuIpcGetMemHandle(&h, d))) {
		to_hex(&h, sizeof(h), hex);
		printf("handle %s\n", hex);
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin)) /* held until told */
			check_fail(&c, "no go-ahead on stdin");
	}
	return c.bad ? 1 : 0;
}

static int ipc_refused(const char *hex)
{
	struct check c = {.name = "ipc_refused_across_vms"};
	CUipcMemHandle h;
	CUdeviceptr p;
	if (from_hex(hex, &h, sizeof(h)))
		check_fail(&c, "bad handle argument");
	else
		EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
		       cuIpcOpenMemHandle(&p, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
	check_end(&c);
	return check_summary("vmm --ipc-refused");
}

struct vmm_published {
	uint64_t handle, va, size, pool;
};

static void intruder(int from_owner, int to_owner)
{
	struct check c = {.name = "vgpu_hostile_intruder"};
	struct vmm_published pub;
	CUmemGenericAllocationHandle h = 0;
	unsigned long long fl;
	CUmemLocation loc = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
	CUmemAccessDesc d = {loc, CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
	cuuint64_t v = 0;
	char done = 1;
	if (read(from_owner, &pub, sizeof(pub)) != sizeof(pub)) {
		check_fail(&c, "no ids from the owner");
	} else {
		CUmemoryPool pool = (CUmemoryPool)(uintptr_t)pub.pool;
		EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
		       cuMemMap(pub.va, pub.size, 0, pub.handle, 0));
		EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemRelease(pub.handle));
		EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
		       cuMemRetainAllocationHandle(&h, (void *)(uintptr_t)pub.va));
		EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemUnmap(pub.va, pub.size));
		EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
		       cuMemSetAccess(pub.va, pub.size, &d, 1));
		EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
		       cuMemGetAccess(&fl, &loc, pub.va));
		EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
		       cuMemAddressFree(pub.va, pub.size));
		EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemsetD8(pub.va, 0, 1));
		EXPECT(&c, CUDA_ERROR_INVALID_HANDLE,
		       cuMemPoolGetAttribute(pool,
				CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &v));
		EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, cuMemPoolDestroy(pool));
	}
	check_end(&c);
	if (write(to_owner, &done, 1) != 1)
		perror("vmm: pipe");
}

static void owner(int to_intruder, int from_intruder)
{
	struct check c = {.name = "vgpu_hostile_owner"};
	CUmemAllocationProp p = prop();
	CUmemPoolProps pp = pool_props();
	CUmemGenericAllocationHandle h;
	CUmemoryPool pool;
	CUdeviceptr va;
	uint8_t x[64], y[64];
	char done;
	for (int i = 0; i < 64; i++)
		x[i] = (uint8_t)(200 - i);
	if (EXPECT_OK(&c, cuMemAddressReserve(&va, 2 * gran, 0, 0, 0)) &&
	    EXPECT_OK(&c, cuMemCreate(&h, gran, &p, 0)) &&
	    EXPECT_OK(&c, cuMemMap(va, gran, 0, h, 0)) &&
	    EXPECT_OK(&c, set_rw(va, gran)) &&
	    EXPECT_OK(&c, cuMemPoolCreate(&pool, &pp))) {
		struct vmm_published pub = {h, va, gran,
					    (uint64_t)(uintptr_t)pool};
		if (write(to_intruder, &pub, sizeof(pub)) != sizeof(pub) ||
		    read(from_intruder, &done, 1) != 1)
			check_fail(&c, "the intruder is gone");
		if (EXPECT_OK(&c, cuMemcpyHtoD(va + 100, x, sizeof(x))) &&
		    EXPECT_OK(&c, cuMemcpyDtoH(y, va + 100, sizeof(y))) &&
		    memcmp(x, y, sizeof(x)))
			check_fail(&c, "the mapping changed");
		EXPECT_OK(&c, cuMemPoolDestroy(pool));
		EXPECT_OK(&c, cuMemUnmap(va, gran));
		EXPECT_OK(&c, cuMemRelease(h));
		EXPECT_OK(&c, cuMemAddressFree(va, 2 * gran));
	}
	check_end(&c);
}

static int hostile(const char *kernels)
{
	int a[2], b[2];
	check_share();
	if (pipe(a) || pipe(b))
		return 1;
	fflush(stdout);
	pid_t pid = fork(); /* before CUDA: two independent guest processes */
	if (pid < 0)
		return 1;
	if (setup(kernels)) {
		size_t g = 0;
		CUmemAllocationProp p = prop();
		cuMemGetAllocationGranularity(&g, &p,
					      CU_MEM_ALLOC_GRANULARITY_MINIMUM);
		gran = g;
		if (pid == 0)
			intruder(a[0], b[1]);
		else
			owner(a[1], b[0]);
	}
	if (pid == 0)
		_exit(0);
	int st;
	waitpid(pid, &st, 0);
	return check_summary("vmm --vgpu-hostile");
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--vgpu-hostile")) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		return hostile(argv[2]);
	}
	if (argc >= 3 && (!strcmp(argv[1], "--ipc-export") ||
			  !strcmp(argv[1], "--ipc-refused"))) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		if (!setup(argv[2]))
			return 1;
		if (argv[1][6] == 'e')
			return ipc_export();
		return argc == 4 ? ipc_refused(argv[3]) : 2;
	}
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "--ipc-child")) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		if (!setup(argv[2]))
			return 1;
		return ipc_child(argv[3], argc == 5 ? argv[4] : NULL);
	}
	if (argc != 2) {
		fprintf(stderr, "usage: vmm KERNELS.cubin|.fatbin|.ptx\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (setup(argv[1])) {
		check_attribute();
		check_map();
		check_alias();
		check_grow();
		check_errors();
		check_pool_attrs();
		check_pool_order();
		check_ipc("/proc/self/exe", argv[1]);
	}
	return check_summary("vmm");
}
