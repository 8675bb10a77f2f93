/* tests/gpu/hostile.c - a guest process misusing handles and device
 * pointers, its own and another process's, through vgpu.
 *
 * Usage: hostile KERNELS.cubin|.fatbin|.ptx
 *
 * vgpu only (check names start with vgpu_): natively most of these calls
 * are undefined behaviour (a forged CUstream is a pointer the driver
 * follows), while vgpu promises an error for each, checked by the worker
 * against the caller's own tables. Nothing may crash the guest or its
 * worker, and after every misuse the process's correct work goes on
 * (still_works: an upload, a kernel, a download, checked).
 *
 * The program forks before any CUDA call into two guest processes: the
 * owner publishes its context, a 1 MiB allocation, a stream, an event and
 * a module through a pipe; the intruder creates its own objects in the
 * same order first (so a worker that handed out the same ids to every
 * process would resolve the owner's ids to the intruder's own objects),
 * then uses the owner's and must get CUDA_ERROR_INVALID_VALUE (pointers),
 * CUDA_ERROR_INVALID_HANDLE (handles) or CUDA_ERROR_INVALID_CONTEXT; the
 * owner then checks its data and objects are untouched. Meanwhile the
 * owner misuses its own: ranges just past or across an allocation's end,
 * lengths that overflow, cuMemFree inside an allocation and twice, handles
 * forged from integers, one kind of handle passed as another.
 */
#define _GNU_SOURCE
#include "check.h"
#include "file.h"
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
	XLEN = (1 << 20) + 1000, /* the owner's published allocation */
	SMALL = 1000,            /* not a multiple of 256: d + SMALL is no
				    allocation's start, on any allocator */
	SCRATCH = 4000,
	BIG = 256 << 10,         /* more than a slot: goes through the arena */
};

static CUcontext ctx;
static CUmodule mod;
static CUstream strm;
static CUevent ev;
static CUfunction f_fill;
static CUdeviceptr scratch;

/* What the owner shows the intruder. */
struct published {
	uint64_t ctx, ptr, len, stream, event, module;
};

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 2654435761u >> 11);
}

/* After a misuse: the process still uploads, computes and downloads. */
static void still_works(struct check *c)
{
	static unsigned round;
	unsigned v = 0xc0de0000u | ++round;
	unsigned long long n = SCRATCH / 4;
	static uint32_t h[SCRATCH / 4];
	void *args[] = {&scratch, &v, &n};
	memset(h, 0x33, sizeof(h));
	/* all on strm, which is non-blocking: nothing else orders them */
	if (!EXPECT_OK(c, cuMemcpyHtoDAsync(scratch, h, SCRATCH, strm)) ||
	    !EXPECT_OK(c, cuLaunchKernel(f_fill, 4, 1, 1, 128, 1, 1, 0, strm,
					 args, NULL)) ||
	    !EXPECT_OK(c, cuMemcpyDtoHAsync(h, scratch, SCRATCH, strm)) ||
	    !EXPECT_OK(c, cuStreamSynchronize(strm)))
		return;
	for (size_t i = 0; i < n; i++)
		if (h[i] != v) {
			check_fail(c, "work after the misuse: word %zu = %#x, "
				   "want %#x", i, h[i], v);
			return;
		}
}

/* An asynchronous call with a bad argument fails either at once or, as
 * vgpu reports asynchronous errors, at the next synchronising call. */
static int expect_async_(struct check *c, CUresult got, CUresult want,
			 const char *what, int line)
{
	if (got == CUDA_SUCCESS)
		got = cuCtxSynchronize();
	return expect_(c, got, want, what, line);
}
#define EXPECT_ASYNC(c, want, call)                                           \
	expect_async_((c), (call), (want), #call " (or the next sync)", __LINE__)

/* d's n bytes must all be `byte` (a refused call wrote nothing). */
static void expect_bytes(struct check *c, CUdeviceptr d, size_t n, int byte,
			 const char *what)
{
	uint8_t *h = malloc(n);
	if (h && EXPECT_OK(c, cuMemcpyDtoH(h, d, n)))
		for (size_t i = 0; i < n; i++)
			if (h[i] != byte) {
				check_fail(c, "%s: byte %zu = %#x, want %#x",
					   what, i, h[i], byte);
				break;
			}
	free(h);
}

static int setup(const char *path, const char *who)
{
	struct check c = {.name = who};
	void *image = read_file(path);
	CUdevice dev;
	if (!image)
		check_fail(&c, "cannot read %s", path);
	/* module, stream, event first and in this order in both processes:
	 * a worker issuing ids by table position gives both the same ids */
	else if (EXPECT_OK(&c, cuInit(0)) && EXPECT_OK(&c, cuDeviceGet(&dev, 0)) &&
		 EXPECT_OK(&c, cuDevicePrimaryCtxRetain(&ctx, dev)) &&
		 EXPECT_OK(&c, cuCtxSetCurrent(ctx)) &&
		 EXPECT_OK(&c, cuModuleLoadData(&mod, image)) &&
		 EXPECT_OK(&c, cuStreamCreate(&strm, CU_STREAM_NON_BLOCKING)) &&
		 EXPECT_OK(&c, cuEventCreate(&ev, 0)) &&
		 EXPECT_OK(&c, cuModuleGetFunction(&f_fill, mod, "vgpu_fill_u32")) &&
		 EXPECT_OK(&c, cuMemAlloc(&scratch, SCRATCH)))
		still_works(&c);
	free(image);
	check_end(&c);
	return !c.bad;
}

/* ---- the owner's misuse of its own objects ---------------------------- */

static void check_past_end(void)
{
	struct check c = {.name = "vgpu_past_end"};
	CUdeviceptr d, e;
	static uint8_t h[BIG];
	if (!EXPECT_OK(&c, cuMemAlloc(&d, SMALL)) ||
	    !EXPECT_OK(&c, cuMemAlloc(&e, BIG)) ||
	    !EXPECT_OK(&c, cuMemsetD8(d, 0x11, SMALL)) ||
	    !EXPECT_OK(&c, cuMemsetD8(e, 0x22, BIG))) {
		check_end(&c);
		return;
	}
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyHtoD(d + SMALL, h, 1));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyHtoD(d + SMALL - 4, h, 8));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoH(h, d + SMALL, 1));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoH(h, d + SMALL - 4, 8));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoD(d + SMALL, e, 1));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoD(e, d + SMALL, 1));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoD(e, d + 8, SMALL));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoD(d + 8, e, SMALL));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemsetD8(d + SMALL, 0, 1));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemsetD8(d + SMALL - 1, 0, 2));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemsetD32(d + SMALL - 4, 0, 2));
	EXPECT_ASYNC(&c, CUDA_ERROR_INVALID_VALUE,
		     cuMemsetD8Async(d + SMALL, 0, 1, strm));
	EXPECT_ASYNC(&c, CUDA_ERROR_INVALID_VALUE,
		     cuMemcpyHtoDAsync(d + SMALL, h, 1, strm));
	/* bulk copies (through the arena) that run over the end */
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyHtoD(e + 4096, h, BIG));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoH(h, e + 4096, BIG));
	expect_bytes(&c, d, SMALL, 0x11, "the allocation after the refusals");
	still_works(&c);
	EXPECT_OK(&c, cuMemFree(d));
	EXPECT_OK(&c, cuMemFree(e));
	check_end(&c);
}

/* Lengths whose byte count overflows 64 bits must not pass as small. */
static void check_overflow(void)
{
	struct check c = {.name = "vgpu_length_overflow"};
	CUdeviceptr d, e;
	if (!EXPECT_OK(&c, cuMemAlloc(&d, SMALL)) ||
	    !EXPECT_OK(&c, cuMemAlloc(&e, SMALL)) ||
	    !EXPECT_OK(&c, cuMemsetD8(d, 0x44, SMALL))) {
		check_end(&c);
		return;
	}
	/* N * 4 wraps to 4, then to 0 */
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuMemsetD32(d, 0, (SIZE_MAX / 4) + 2));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuMemsetD32(d, 0, (size_t)1 << 62));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemsetD8(d, 0, SIZE_MAX));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoD(e, d, SIZE_MAX));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE,
	       cuMemcpyDtoD(d + 8, e, (size_t)0 - 8));
	expect_bytes(&c, d, SMALL, 0x44, "the allocation after the refusals");
	still_works(&c);
	cuMemFree(d);
	cuMemFree(e);
	check_end(&c);
}

static void check_free(void)
{
	struct check c = {.name = "vgpu_free_inside_and_twice"};
	CUdeviceptr d;
	uint8_t h[SMALL] = {0};
	if (!EXPECT_OK(&c, cuMemAlloc(&d, SMALL))) {
		check_end(&c);
		return;
	}
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemFree(d + 256));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemFree(d + 1));
	/* still allocated after the refused frees */
	EXPECT_OK(&c, cuMemcpyHtoD(d, h, SMALL));
	still_works(&c);
	EXPECT_OK(&c, cuMemFree(d));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemFree(d));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyHtoD(d, h, 4));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemsetD8(d, 0, 4));
	still_works(&c);
	check_end(&c);
}

/* Every handle-taking call with value v, which is no handle of ours. */
static void misuse_handle(struct check *c, uintptr_t v)
{
	CUfunction f;
	CUdeviceptr g;
	size_t gs;
	float ms;
	uint8_t h[4] = {0};
	unsigned val = 1;
	unsigned long long n = 1;
	void *args[] = {&scratch, &val, &n};
	EXPECT(c, CUDA_ERROR_INVALID_HANDLE, cuStreamSynchronize((CUstream)v));
	EXPECT(c, CUDA_ERROR_INVALID_HANDLE, cuStreamQuery((CUstream)v));
	EXPECT(c, CUDA_ERROR_INVALID_HANDLE,
	       cuMemcpyHtoDAsync(scratch, h, 4, (CUstream)v));
	EXPECT(c, CUDA_ERROR_INVALID_HANDLE, cuEventSynchronize((CUevent)v));
	EXPECT(c, CUDA_ERROR_INVALID_HANDLE, cuEventQuery((CUevent)v));
	EXPECT(c, CUDA_ERROR_INVALID_HANDLE,
	       cuEventElapsedTime(&ms, (CUevent)v, ev));
	EXPECT(c, CUDA_ERROR_INVALID_HANDLE,
	       cuModuleGetFunction(&f, (CUmodule)v, "vgpu_fill_u32"));
	EXPECT(c, CUDA_ERROR_INVALID_HANDLE,
	       cuModuleGetGlobal(&g, &gs, (CUmodule)v, "vgpu_counter"));
	EXPECT_ASYNC(c, CUDA_ERROR_INVALID_HANDLE,
		     cuLaunchKernel(f_fill, 1, 1, 1, 1, 1, 1, 0, (CUstream)v,
				    args, NULL));
	EXPECT_ASYNC(c, CUDA_ERROR_INVALID_HANDLE,
		     cuEventRecord((CUevent)v, strm));
	EXPECT_ASYNC(c, CUDA_ERROR_INVALID_HANDLE,
		     cuStreamWaitEvent(strm, (CUevent)v, 0));
	EXPECT(c, CUDA_ERROR_INVALID_HANDLE, cuStreamDestroy((CUstream)v));
	EXPECT(c, CUDA_ERROR_INVALID_HANDLE, cuEventDestroy((CUevent)v));
	EXPECT(c, CUDA_ERROR_INVALID_HANDLE, cuModuleUnload((CUmodule)v));
}

/* Our own objects survived whatever was done with other values. */
static void own_objects_work(struct check *c)
{
	CUfunction f;
	EXPECT_OK(c, cuEventRecord(ev, strm));
	EXPECT_OK(c, cuStreamSynchronize(strm));
	EXPECT_OK(c, cuEventSynchronize(ev));
	EXPECT_OK(c, cuModuleGetFunction(&f, mod, "vgpu_fill_u32"));
	still_works(c);
}

static void check_forged(void)
{
	struct check c = {.name = "vgpu_forged_handles"};
	/* 0, 1 and 2 are the default streams, valid as CUstream */
	static const uintptr_t plain[] = {3, 4, 0x1234, 0xdeadbeef,
					  0x7fffffffffff, UINTPTR_MAX};
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		misuse_handle(&c, plain[i]);
	/* shaped like ids: a kind byte on top, a small index below */
	for (uintptr_t kind = 0xc1; kind <= 0xc5; kind++)
		for (uintptr_t i = 0; i < 8; i++)
			misuse_handle(&c, kind << 56 | i);
	for (uintptr_t i = 1; i < 8; i++)
		EXPECT(&c, CUDA_ERROR_INVALID_CONTEXT,
		       cuCtxSetCurrent((CUcontext)(0xc1ul << 56 | i)));
	own_objects_work(&c);
	check_end(&c);
}

static void check_kinds(void)
{
	struct check c = {.name = "vgpu_handle_kind_confusion"};
	CUfunction f;
	float ms;
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, cuEventSynchronize((CUevent)strm));
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, cuEventQuery((CUevent)strm));
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE,
	       cuEventElapsedTime(&ms, (CUevent)strm, ev));
	EXPECT_ASYNC(&c, CUDA_ERROR_INVALID_HANDLE,
		     cuEventRecord((CUevent)strm, strm));
	EXPECT_ASYNC(&c, CUDA_ERROR_INVALID_HANDLE,
		     cuStreamWaitEvent(strm, (CUevent)strm, 0));
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, cuEventDestroy((CUevent)strm));
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, cuStreamSynchronize((CUstream)ev));
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, cuStreamDestroy((CUstream)ev));
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, cuStreamSynchronize((CUstream)mod));
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, cuStreamSynchronize((CUstream)ctx));
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, cuModuleUnload((CUmodule)strm));
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE,
	       cuModuleGetFunction(&f, (CUmodule)ev, "vgpu_fill_u32"));
	EXPECT(&c, CUDA_ERROR_INVALID_CONTEXT, cuCtxSetCurrent((CUcontext)strm));
	own_objects_work(&c); /* the "destroys" above destroyed nothing */
	check_end(&c);
}

/* A CUfunction is a pointer into the guest library's memory: one that
 * points at something else is refused, not followed into the daemon. */
static void check_forged_function(void)
{
	struct check c = {.name = "vgpu_forged_function"};
	static uint64_t fake[64];
	int v;
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE,
	       cuLaunchKernel((CUfunction)fake, 1, 1, 1, 1, 1, 1, 0, strm, NULL,
			      NULL));
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE,
	       cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
				  (CUfunction)fake));
	still_works(&c);
	check_end(&c);
}

/* ---- two processes --------------------------------------------------- */

/* The intruder's copies disturb neither the owner's memory nor its own. */
static void foreign_pointer(const struct published *p)
{
	struct check c = {.name = "vgpu_foreign_pointer"};
	CUdeviceptr x = p->ptr, e;
	static uint8_t h[BIG];
	memset(h, 0x5c, sizeof(h));
	/* before any allocation of ours: no range can be ours */
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyHtoD(x, h, 64));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyHtoD(x + 4096, h, BIG));
	EXPECT_ASYNC(&c, CUDA_ERROR_INVALID_VALUE,
		     cuMemcpyHtoDAsync(x, h, 64, strm));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoH(h, x, 64));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoH(h, x + 4096, BIG));
	for (size_t i = 0; i < sizeof(h); i++)
		if (h[i] != 0x5c) {
			check_fail(&c, "a refused download wrote byte %zu", i);
			break;
		}
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoD(x, x + 4096, 64));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemsetD8(x, 0xee, 64));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemsetD32(x, 0xeeeeeeee, 16));
	EXPECT_ASYNC(&c, CUDA_ERROR_INVALID_VALUE,
		     cuMemsetD8Async(x, 0xee, 64, strm));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemFree(x));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemFree(x + 256));
	/* our own allocation beside it, at addresses the owner's is not at:
	 * separate address spaces hand out the same ones (the sim's always
	 * do), so an overlapping one is held and a spacer the size of the
	 * owner's pushes the next one past it; both are freed before the
	 * checks, so that again no range of ours covers the owner's */
	CUdeviceptr held[8];
	int nheld = 0;
	for (;;) {
		if (!EXPECT_OK(&c, cuMemAlloc(&e, 4096)))
			break;
		if (e + 4096 <= x || e >= x + p->len)
			break;
		if (nheld + 2 > 8) {
			check_fail(&c, "no allocation outside the owner's range");
			break;
		}
		held[nheld++] = e;
		if (!EXPECT_OK(&c, cuMemAlloc(&held[nheld++], p->len)))
			break;
	}
	while (nheld)
		EXPECT_OK(&c, cuMemFree(held[--nheld]));
	if (!c.bad && EXPECT_OK(&c, cuMemsetD8(e, 0x77, 4096))) {
		EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoD(e, x, 64));
		EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoD(x, e, 64));
		expect_bytes(&c, e, 4096, 0x77, "ours after a refused copy");
		EXPECT_OK(&c, cuMemFree(e));
	}
	still_works(&c);
	check_end(&c);
}

static void foreign_handles(const struct published *p)
{
	struct check c = {.name = "vgpu_foreign_handles"};
	CUcontext cur = NULL;
	misuse_handle(&c, (uintptr_t)p->stream);
	misuse_handle(&c, (uintptr_t)p->event);
	misuse_handle(&c, (uintptr_t)p->module);
	EXPECT(&c, CUDA_ERROR_INVALID_CONTEXT,
	       cuCtxSetCurrent((CUcontext)(uintptr_t)p->ctx));
	if (EXPECT_OK(&c, cuCtxGetCurrent(&cur)) && cur != ctx)
		check_fail(&c, "the current context changed");
	own_objects_work(&c); /* destroying theirs destroyed none of ours */
	check_end(&c);
}

static void intruder(const char *image, int rfd, int wfd)
{
	struct published p;
	if (setup(image, "vgpu_intruder_setup")) {
		ssize_t n = read(rfd, &p, sizeof(p));
		if (n != (ssize_t)sizeof(p) || !p.ptr) {
			check_report("vgpu_intruder_setup", 0,
				     "the owner published nothing");
		} else {
			foreign_pointer(&p);
			foreign_handles(&p);
		}
	}
	if (write(wfd, "d", 1) != 1)
		perror("hostile: intruder: write");
	exit(0); /* not _exit: whatever runs at exit runs */
}

/* The owner's allocation, filled; published once its data is there. */
static int publish(int wfd, CUdeviceptr *x)
{
	struct check c = {.name = "vgpu_owner_publish"};
	struct published p = {0};
	uint8_t *h = malloc(XLEN);
	for (size_t i = 0; h && i < XLEN; i++)
		h[i] = pattern(i);
	if (h && EXPECT_OK(&c, cuMemAlloc(x, XLEN)) &&
	    EXPECT_OK(&c, cuMemcpyHtoD(*x, h, XLEN)))
		p = (struct published){(uintptr_t)ctx, *x, XLEN,
				       (uintptr_t)strm, (uintptr_t)ev,
				       (uintptr_t)mod};
	free(h);
	if (write(wfd, &p, sizeof(p)) != (ssize_t)sizeof(p))
		check_fail(&c, "cannot write to the intruder");
	check_end(&c);
	return !c.bad;
}

static void owner_verify(CUdeviceptr x)
{
	struct check c = {.name = "vgpu_foreign_owner_unharmed"};
	uint8_t *h = malloc(XLEN);
	if (h && EXPECT_OK(&c, cuMemcpyDtoH(h, x, XLEN)))
		for (size_t i = 0; i < XLEN; i++)
			if (h[i] != pattern(i)) {
				check_fail(&c, "the owner's byte %zu changed", i);
				break;
			}
	free(h);
	own_objects_work(&c);
	check_end(&c);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: hostile KERNELS.cubin|.fatbin|.ptx\n");
		return 2;
	}
	check_share();
	int to_intruder[2], to_owner[2];
	if (pipe(to_intruder) || pipe(to_owner)) {
		perror("hostile: pipe");
		return 1;
	}
	pid_t pid = fork(); /* before CUDA: two independent guest processes */
	if (pid < 0) {
		perror("hostile: fork");
		return 1;
	}
	if (pid == 0) {
		close(to_intruder[1]);
		close(to_owner[0]);
		intruder(argv[1], to_intruder[0], to_owner[1]);
	}
	close(to_intruder[0]);
	close(to_owner[1]);
	CUdeviceptr x = 0;
	int ok = setup(argv[1], "vgpu_owner_setup") && publish(to_intruder[1], &x);
	close(to_intruder[1]); /* EOF for an intruder left waiting */
	if (ok) {
		check_past_end();
		check_overflow();
		check_free();
		check_forged();
		check_kinds();
		check_forged_function();
	}
	char done;
	int st = 0;
	if (read(to_owner[0], &done, 1) != 1)
		check_report("vgpu_intruder_finished", 0, "it ended early");
	if (ok)
		owner_verify(x);
	waitpid(pid, &st, 0);
	check_report("vgpu_intruder_exit", WIFEXITED(st) && !WEXITSTATUS(st),
		     "the intruder crashed or failed to exit");
	return check_summary("hostile");
}
