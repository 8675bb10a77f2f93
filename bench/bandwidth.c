/* bench/bandwidth.c - host<->device bandwidth, one JSON line per figure.
 *
 * Usage: bandwidth MODE [--max BYTES[K|M|G]] [--cpus N] [--model-mib N]
 *                       [--reg-dir DIR]... [--reg no] [--min BYTES]
 *                       [--dir h2d|d2h] [--mem pinned|pageable]
 * (--reg no skips the registration figures; --min, --dir and --mem time
 * only part of the copy table: tuning runs, docs/bulk.md)
 *
 * Linked with -lcuda like any CUDA program: run natively and with vgpu's
 * libcuda.so.1 first in the loader path, in the same session on the same
 * card (bench/bandwidth.sh does both), and compare; MODE is only echoed.
 * The process first restricts itself to N CPUs (default 4: a VM's
 * vCPUs), so every thread it and the library start runs there.
 *
 * Lines ("bench":"bandwidth", "mode":MODE, "cpus":N and):
 *   "metric":"copy", "dir":"h2d"|"d2h", "mem":"pinned"|"pageable",
 *     "bytes":B, "gbps":X  -- best of several synchronous copies, sizes
 *     4 KiB .. max by 4x; pageable buffers are malloc'd and touched first
 *     (warm: no page faults in the timed copies)
 *   "metric":"register", "dir":DIR, "bytes":B, "ms":X, "h2d_gbps":X
 *     -- cuMemHostRegister of a MAP_SHARED file in DIR (/dev/shm, or a
 *     hugetlbfs mount), and a copy from it (what a worker does with the
 *     region); "error" instead when the driver refuses
 *   "metric":"model_upload", "cache":"warm"|"cold", "bytes":B, "gbps":X
 *     -- a file of tensors (64 MiB each) in $TMPDIR read through mmap and
 *     copied to the GPU tensor by tensor; cold: its pages dropped from the
 *     page cache first (posix_fadvise DONTNEED), warm: read once before
 * A benchmark, not a test: it fails only if a call fails.
 */
#define _GNU_SOURCE
#include <cuda.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1ull << 20)

static const char *mode;
static int cpus = 4;
/* --min, --dir, --mem: a part of the table, for tuning runs */
static size_t min_bytes = 4096;
static const char *only_dir = "", *only_mem = "";

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#define CK(call)                                                              \
	do {                                                                  \
		CUresult r_ = (call);                                         \
		if (r_) {                                                     \
			fprintf(stderr, "bandwidth: %s = %d\n", #call, r_);   \
			exit(1);                                              \
		}                                                             \
	} while (0)

static void head(void)
{
	printf("{\"bench\":\"bandwidth\",\"mode\":\"%s\",\"cpus\":%d,", mode,
	       cpus);
}

static void limit_cpus(int n)
{
	cpu_set_t have, want;
	CPU_ZERO(&want);
	if (sched_getaffinity(0, sizeof(have), &have))
		return;
	int k = 0;
	for (int c = 0; c < CPU_SETSIZE && k < n; c++)
		if (CPU_ISSET(c, &have)) {
			CPU_SET(c, &want);
			k++;
		}
	sched_setaffinity(0, sizeof(want), &want);
	cpus = k;
}

static double best_copy(CUdeviceptr d, void *h, size_t n, int h2d)
{
	int reps = n <= 4 * MIB ? 20 : n <= 256 * MIB ? 5 : 3;
	double best = 0;
	for (int r = 0; r < reps; r++) {
		double t0 = now();
		CK(h2d ? cuMemcpyHtoD(d, h, n) : cuMemcpyDtoH(h, d, n));
		double g = (double)n / (now() - t0) / 1e9;
		best = g > best ? g : best;
	}
	return best;
}

static void copies(size_t max)
{
	CUdeviceptr d;
	void *pinned = NULL, *pageable = malloc(max);
	CK(cuMemAlloc(&d, max));
	if (!pageable)
		exit(1);
	memset(pageable, 1, max);
	CUresult pr = strcmp(only_mem, "pageable")
			      ? cuMemHostAlloc(&pinned, max, 0)
			      : CUDA_ERROR_NOT_PERMITTED; /* not asked for */
	for (size_t n = 4096; n <= max; n *= 4)
		for (int h2d = 1; h2d >= 0; h2d--)
			for (int pin = 1; pin >= 0; pin--) {
				if ((pin && pr) || n < min_bytes ||
				    (*only_dir && strcmp(only_dir, h2d ? "h2d" : "d2h")) ||
				    (*only_mem && strcmp(only_mem, pin ? "pinned" : "pageable")))
					continue;
				double g = best_copy(d, pin ? pinned : pageable,
						     n, h2d);
				head();
				printf("\"metric\":\"copy\",\"dir\":\"%s\",\"mem\":"
				       "\"%s\",\"bytes\":%zu,\"gbps\":%.2f}\n",
				       h2d ? "h2d" : "d2h",
				       pin ? "pinned" : "pageable", n, g);
				fflush(stdout);
			}
	if (pr && pr != CUDA_ERROR_NOT_PERMITTED) {
		head();
		printf("\"metric\":\"copy\",\"mem\":\"pinned\",\"bytes\":%zu,"
		       "\"error\":%d}\n", max, (int)pr);
	} else if (!pr) {
		cuMemFreeHost(pinned);
	}
	free(pageable);
	cuMemFree(d);
}

static void registration(const char *dir, size_t n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/vgpu-bw-%d", dir, (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	void *m = MAP_FAILED;
	if (fd >= 0 && ftruncate(fd, (off_t)n) == 0)
		m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd >= 0)
		close(fd);
	unlink(path);
	head();
	if (m == MAP_FAILED) {
		printf("\"metric\":\"register\",\"dir\":\"%s\",\"bytes\":%zu,"
		       "\"error\":\"cannot map a file there\"}\n", dir, n);
		return;
	}
	double t0 = now();
	CUresult r = cuMemHostRegister(m, n, CU_MEMHOSTREGISTER_PORTABLE |
						      CU_MEMHOSTREGISTER_DEVICEMAP);
	double ms = (now() - t0) * 1e3;
	if (r) {
		printf("\"metric\":\"register\",\"dir\":\"%s\",\"bytes\":%zu,"
		       "\"error\":%d}\n", dir, n, (int)r);
	} else {
		CUdeviceptr d;
		CK(cuMemAlloc(&d, n));
		double g = best_copy(d, m, n, 1);
		printf("\"metric\":\"register\",\"dir\":\"%s\",\"bytes\":%zu,"
		       "\"ms\":%.2f,\"h2d_gbps\":%.2f}\n", dir, n, ms, g);
		cuMemFree(d);
		cuMemHostUnregister(m);
	}
	munmap(m, n);
}

static void upload(int fd, size_t n, const char *cache)
{
	const size_t tensor = 64 * MIB;
	uint8_t *m = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
	CUdeviceptr d;
	if (m == MAP_FAILED)
		exit(1);
	CK(cuMemAlloc(&d, n));
	double t0 = now();
	for (size_t o = 0; o < n; o += tensor)
		CK(cuMemcpyHtoD(d + o, m + o, n - o < tensor ? n - o : tensor));
	double g = (double)n / (now() - t0) / 1e9;
	head();
	printf("\"metric\":\"model_upload\",\"cache\":\"%s\",\"bytes\":%zu,"
	       "\"gbps\":%.2f}\n", cache, n, g);
	fflush(stdout);
	cuMemFree(d);
	munmap(m, n);
}

static void model(size_t mib)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[512];
	size_t n = mib * MIB;
	snprintf(path, sizeof(path), "%s/vgpu-model-%d.bin", tmp, (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	uint8_t *buf = malloc(64 * MIB);
	if (fd < 0 || !buf)
		exit(1);
	unlink(path);
	for (size_t i = 0; i < 64 * MIB; i++)
		buf[i] = (uint8_t)(i * 131);
	for (size_t o = 0; o < n; o += 64 * MIB)
		if (write(fd, buf, 64 * MIB) != (ssize_t)(64 * MIB))
			exit(1);
	free(buf);
	fdatasync(fd); /* clean pages: DONTNEED can drop them */
	posix_fadvise(fd, 0, (off_t)n, POSIX_FADV_DONTNEED);
	upload(fd, n, "cold");
	upload(fd, n, "warm");
	close(fd);
}

static size_t parse_size(const char *s)
{
	char *end;
	size_t v = strtoull(s, &end, 0);
	return *end == 'K' ? v << 10 : *end == 'M' ? v << 20
		: *end == 'G' ? v << 30 : v;
}

int main(int argc, char **argv)
{
	size_t max = 256 * MIB, model_mib = 0;
	const char *dirs[8] = {"/dev/shm"};
	int ndirs = 1;
	bool reg = true;
	if (argc < 2) {
		fprintf(stderr, "usage: bandwidth MODE [--max BYTES] [--cpus N] "
			"[--model-mib N] [--reg-dir DIR]... [--reg no]\n"
			"                 [--min BYTES] [--dir h2d|d2h] "
			"[--mem pinned|pageable]\n");
		return 2;
	}
	mode = argv[1];
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--max"))
			max = parse_size(argv[i + 1]);
		else if (!strcmp(argv[i], "--cpus"))
			cpus = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--model-mib"))
			model_mib = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--reg-dir") && ndirs < 8)
			dirs[ndirs++] = argv[i + 1];
		else if (!strcmp(argv[i], "--reg"))
			reg = strcmp(argv[i + 1], "no") != 0;
		else if (!strcmp(argv[i], "--min"))
			min_bytes = parse_size(argv[i + 1]);
		else if (!strcmp(argv[i], "--dir"))
			only_dir = argv[i + 1];
		else if (!strcmp(argv[i], "--mem"))
			only_mem = argv[i + 1];
	}
	limit_cpus(cpus);
	CUdevice dev;
	CUcontext ctx;
	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	copies(max);
	for (int i = 0; reg && i < ndirs; i++)
		for (size_t n = 256 * MIB; n <= 1024 * MIB && n <= 4 * max; n *= 4)
			registration(dirs[i], n);
	if (model_mib)
		model(model_mib);
	return 0;
}
