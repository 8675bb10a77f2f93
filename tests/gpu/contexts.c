/* tests/gpu/contexts.c - non-primary contexts (cuCtxCreate, cuCtxDestroy):
 * natively and through vgpu, with the same expectations.
 *
 *  ctx_create    cuCtxCreate_v2/_v3/_v4 push the new context; flags and
 *                arguments refused with the native codes
 *  ctx_work      two created contexts, each with its module, memory and
 *                kernel launch, switched with cuCtxSetCurrent; digests
 *  ctx_threads   a thread pushes a created context, works, pops it; the
 *                other thread's current context is unchanged
 *  ctx_destroy   destroying the current context pops it; a destroyed
 *                context is no longer accepted by cuCtxPushCurrent...
 *  ctx_stale     (--vgpu only: the real driver may crash on them) every
 *                handle and pointer made in a destroyed context is refused
 *
 * Usage: contexts KERNELS.cubin [--vgpu]
 */
#include "check.h"
#include "file.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

/* CUDA 13's cuda.h declares only _v4; the driver exports all three */
CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev);
CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *params,
			int n, unsigned int flags, CUdevice dev);

#define N 4096
static void *image;

/* In the current context: load, fill N words with v, read them back. */
static uint32_t fill_sum(struct check *c, unsigned v, CUmodule *pm,
			 CUfunction *pf, CUdeviceptr *pp)
{
	static __thread unsigned host[N];
	unsigned long long n = N;
	uint32_t h = 2166136261u;
	void *args[] = {pp, &v, &n};
	if (!EXPECT_OK(c, cuModuleLoadData(pm, image)) ||
	    !EXPECT_OK(c, cuModuleGetFunction(pf, *pm, "vgpu_fill_u32")) ||
	    !EXPECT_OK(c, cuMemAlloc(pp, N * 4)) ||
	    !EXPECT_OK(c, cuLaunchKernel(*pf, 8, 1, 1, 128, 1, 1, 0, NULL,
					 args, NULL)) ||
	    !EXPECT_OK(c, cuMemcpyDtoH(host, *pp, N * 4)))
		return 0;
	for (int i = 0; i < N; i++)
		h = (h ^ host[i]) * 16777619u;
	return h;
}

static CUcontext a, b;

static void test_create(void)
{
	struct check c = {.name = "ctx_create"};
	CUcontext cur = NULL, x = NULL;
	unsigned ver = 0;
	CUdevice dev = -1;
	CUctxCreateParams p = {0};
	EXPECT_OK(&c, cuCtxCreate_v2(&a, CU_CTX_SCHED_AUTO, 0));
	EXPECT_OK(&c, cuCtxGetCurrent(&cur));
	if (cur != a)
		check_fail(&c, "created context is not current");
	EXPECT_OK(&c, cuCtxGetDevice(&dev));
	EXPECT_OK(&c, cuCtxGetApiVersion(a, &ver));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuCtxCreate_v2(NULL, 0, 0));
	EXPECT(&c, CUDA_ERROR_INVALID_DEVICE, cuCtxCreate_v2(&x, 0, 99));
	EXPECT_OK(&c, cuCtxCreate_v3(&b, NULL, 0, CU_CTX_SCHED_BLOCKING_SYNC, 0));
	EXPECT_OK(&c, cuCtxPopCurrent(&x));
	if (x != b)
		check_fail(&c, "pop gave another context than _v3 made");
	EXPECT_OK(&c, cuCtxCreate_v4(&x, &p, 0, 0));
	EXPECT_OK(&c, cuCtxDestroy(x));
	EXPECT_OK(&c, cuCtxGetCurrent(&cur));
	if (cur != a)
		check_fail(&c, "destroying the current context did not pop it");
	printf("digest create dev=%d version_nonzero=%d\n", dev, ver != 0);
	check_end(&c);
}

static CUdeviceptr pa, pb;
static CUmodule ma, mb;
static CUfunction fa, fb;

static void test_work(void)
{
	struct check c = {.name = "ctx_work"};
	CUcontext cur = NULL;
	EXPECT_OK(&c, cuCtxSetCurrent(a));
	uint32_t ha = fill_sum(&c, 0xa1a1a1a1u, &ma, &fa, &pa);
	EXPECT_OK(&c, cuCtxSetCurrent(b));
	uint32_t hb = fill_sum(&c, 0xb2b2b2b2u, &mb, &fb, &pb);
	EXPECT_OK(&c, cuCtxGetCurrent(&cur));
	if (cur != b)
		check_fail(&c, "current context is not b");
	EXPECT_OK(&c, cuCtxSynchronize());
	printf("digest work a=%08x b=%08x\n", ha, hb);
	check_end(&c);
}

struct in_thread {
	struct check c;
	uint32_t h;
};

static void *thread_main(void *arg)
{
	struct in_thread *t = arg;
	CUcontext cur = (CUcontext)1, x = NULL;
	CUmodule m;
	CUfunction f;
	CUdeviceptr p;
	EXPECT_OK(&t->c, cuCtxGetCurrent(&cur));
	if (cur)
		check_fail(&t->c, "a new thread has a current context");
	EXPECT_OK(&t->c, cuCtxPushCurrent(a));
	t->h = fill_sum(&t->c, 0xc3c3c3c3u, &m, &f, &p);
	EXPECT_OK(&t->c, cuMemFree(p));
	EXPECT_OK(&t->c, cuModuleUnload(m));
	EXPECT_OK(&t->c, cuCtxPopCurrent(&x));
	if (x != a)
		check_fail(&t->c, "popped another context");
	EXPECT(&t->c, CUDA_ERROR_INVALID_CONTEXT, cuCtxPopCurrent(&x));
	return NULL;
}

static void test_threads(void)
{
	struct in_thread t = {.c = {.name = "ctx_threads"}};
	pthread_t th;
	CUcontext cur = NULL;
	if (pthread_create(&th, NULL, thread_main, &t) == 0)
		pthread_join(th, NULL);
	else
		check_fail(&t.c, "pthread_create");
	EXPECT_OK(&t.c, cuCtxGetCurrent(&cur));
	if (cur != b)
		check_fail(&t.c, "this thread's context changed");
	printf("digest threads %08x\n", t.h);
	check_end(&t.c);
}

static CUstream sb;
static CUevent eb;

static void test_destroy(void)
{
	struct check c = {.name = "ctx_destroy"};
	CUcontext cur = NULL;
	CUcontext of = NULL;
	EXPECT_OK(&c, cuStreamCreate(&sb, CU_STREAM_NON_BLOCKING));
	EXPECT_OK(&c, cuEventCreate(&eb, 0));
	EXPECT_OK(&c, cuCtxSetCurrent(a));
	EXPECT_OK(&c, cuStreamGetCtx(sb, &of));
	if (of != b)
		check_fail(&c, "cuStreamGetCtx: not the stream's context");
	EXPECT_OK(&c, cuStreamGetCtx(NULL, &of));
	if (of != a)
		check_fail(&c, "cuStreamGetCtx(NULL): not the current context");
	EXPECT_OK(&c, cuCtxSetCurrent(a));
	EXPECT_OK(&c, cuCtxPushCurrent(b));
	EXPECT_OK(&c, cuCtxDestroy(b)); /* current: popped, a is again */
	EXPECT_OK(&c, cuCtxGetCurrent(&cur));
	if (cur != a)
		check_fail(&c, "destroyed current context not popped");
	/* a's objects live on */
	EXPECT_OK(&c, cuMemsetD32(pa, 7, N));
	EXPECT_OK(&c, cuCtxSynchronize());
	EXPECT_OK(&c, cuMemFree(pa));
	EXPECT_OK(&c, cuModuleUnload(ma));
	check_end(&c);
}

/* Natively these may crash inside the driver: vgpu only. */
static void test_stale(void)
{
	struct check c = {.name = "ctx_stale"};
	unsigned long long n = N;
	unsigned v = 1, ver;
	void *args[] = {&pb, &v, &n};
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, cuStreamSynchronize(sb));
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, cuEventQuery(eb));
	/* launches are asynchronous through vgpu: the worker's refusal
	 * comes with the next synchronising call */
	CUresult r = cuLaunchKernel(fb, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL);
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, r ? r : cuCtxSynchronize());
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, cuModuleUnload(mb));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemFree(pb));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuMemsetD32(pb, 0, N));
	EXPECT(&c, CUDA_ERROR_INVALID_CONTEXT, cuCtxPushCurrent(b));
	EXPECT(&c, CUDA_ERROR_INVALID_CONTEXT, cuCtxSetCurrent(b));
	EXPECT(&c, CUDA_ERROR_INVALID_CONTEXT, cuCtxGetApiVersion(b, &ver));
	EXPECT(&c, CUDA_ERROR_INVALID_CONTEXT, cuCtxDestroy(b));
	check_end(&c);
}

int main(int argc, char **argv)
{
	struct check c = {.name = "setup"};
	if (argc < 2) {
		fprintf(stderr, "usage: contexts KERNELS.cubin [--vgpu]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	image = read_file(argv[1]);
	if (!image)
		check_fail(&c, "cannot read %s", argv[1]);
	else
		EXPECT_OK(&c, cuInit(0));
	check_end(&c);
	if (!c.bad) {
		test_create();
		test_work();
		test_threads();
		test_destroy();
		if (argc > 2 && !strcmp(argv[2], "--vgpu"))
			test_stale();
		EXPECT_OK(&c, cuCtxDestroy(a));
	}
	free(image);
	return check_summary("contexts");
}
