/* tests/gpu/threads.c - several threads of one process using the GPU at
 * once, and one thread's synchronous wait not holding up the others.
 *
 * Usage: threads KERNELS.cubin|.fatbin|.ptx
 *
 * A plain driver-API program (runs natively and through vgpu):
 *  threads_concurrent      8 threads share the primary context; each, in a
 *                          loop, allocates, uploads its own data, runs
 *                          vgpu_add_f32 or vgpu_fill_u32 on its own stream,
 *                          downloads and checks every element, frees.
 *  threads_sleeper_waited  one more thread launches vgpu_sleep_ns(1 s) on
 *                          its own stream and blocks in cuStreamSynchronize,
 *                          which must really take about that second...
 *  threads_not_blocked_by_sync  ...while the 8 threads, started once the
 *                          sleep kernel is queued, each complete a fixed
 *                          amount of the same work (a few ms of it), all
 *                          before that cuStreamSynchronize returns.
 * All streams are non-blocking, so on a real GPU nothing orders the
 * threads' work behind the sleep kernel; only a remoting layer that runs a
 * process's calls one at a time would. Buffers of the timed phase are freed
 * after it: cuMemFree may wait for the whole device.
 */
#include "check.h"
#include "file.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

enum {
	NTHREADS = 8,
	LOOPS = 24,       /* iterations per thread, untimed phase */
	TIMED_LOOPS = 8,  /* iterations per thread while the sleeper waits */
	N = 3000,         /* elements; each thread and iteration adds a bit */
};
#define SLEEP_NS 1000000000ull

static CUcontext ctx;
static CUfunction f_add, f_fill, f_sleep;
static pthread_barrier_t start;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

struct worker {
	int id;
	int loops;
	int keep;       /* keep buffers until the end (timed phase) */
	CUstream s;
	CUdeviceptr held[TIMED_LOOPS * 3];
	int nheld;
	double t_done;  /* when its last check passed */
	struct check c;
};

/* c = a + b on the thread's stream; every element checked. Values are
 * small integers, so the sums are exact everywhere. */
static int add_once(struct worker *w, int it, CUdeviceptr *d)
{
	int n = N + w->id * 37 + it;
	size_t bytes = (size_t)n * sizeof(float);
	float *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes);
	int ok = a && b && c;
	for (int i = 0; ok && i < n; i++) {
		a[i] = (float)(w->id * 100000 + it * 1000 + i % 997);
		b[i] = (float)(i % 251);
		c[i] = -1.0f;
	}
	void *args[] = {&d[0], &d[1], &d[2], &n};
	ok = ok && EXPECT_OK(&w->c, cuMemAlloc(&d[0], bytes)) &&
	     EXPECT_OK(&w->c, cuMemAlloc(&d[1], bytes)) &&
	     EXPECT_OK(&w->c, cuMemAlloc(&d[2], bytes)) &&
	     EXPECT_OK(&w->c, cuMemcpyHtoDAsync(d[0], a, bytes, w->s)) &&
	     EXPECT_OK(&w->c, cuMemcpyHtoDAsync(d[1], b, bytes, w->s)) &&
	     EXPECT_OK(&w->c, cuLaunchKernel(f_add, (n + 255) / 256, 1, 1, 256,
					     1, 1, 0, w->s, args, NULL)) &&
	     EXPECT_OK(&w->c, cuMemcpyDtoHAsync(c, d[2], bytes, w->s)) &&
	     EXPECT_OK(&w->c, cuStreamSynchronize(w->s));
	for (int i = 0; ok && i < n; i++)
		if (c[i] != a[i] + b[i]) {
			check_fail(&w->c, "thread %d iteration %d: c[%d] = %g, "
				   "want %g", w->id, it, i, (double)c[i],
				   (double)(a[i] + b[i]));
			ok = 0;
		}
	free(a);
	free(b);
	free(c);
	return ok;
}

/* p[i] = a value unique to this thread and iteration, every element. */
static int fill_once(struct worker *w, int it, CUdeviceptr *d)
{
	unsigned long long n = (unsigned long long)(N + w->id * 53 + it);
	unsigned v = 0x5a000000u | (unsigned)w->id << 16 | (unsigned)it;
	uint32_t *h = calloc(n, 4);
	void *args[] = {&d[0], &v, &n};
	int ok = h && EXPECT_OK(&w->c, cuMemAlloc(&d[0], n * 4)) &&
		 EXPECT_OK(&w->c, cuLaunchKernel(f_fill, 8, 1, 1, 128, 1, 1, 0,
						 w->s, args, NULL)) &&
		 EXPECT_OK(&w->c, cuMemcpyDtoHAsync(h, d[0], n * 4, w->s)) &&
		 EXPECT_OK(&w->c, cuStreamSynchronize(w->s));
	for (unsigned long long i = 0; ok && i < n; i++)
		if (h[i] != v) {
			check_fail(&w->c, "thread %d iteration %d: p[%llu] = "
				   "%#x, want %#x", w->id, it, i, h[i], v);
			ok = 0;
		}
	free(h);
	return ok;
}

static int iterate(struct worker *w, int it)
{
	CUdeviceptr d[3] = {0, 0, 0};
	int nd = it % 3 == 2 ? 1 : 3;
	int ok = nd == 1 ? fill_once(w, it, d) : add_once(w, it, d);
	for (int k = 0; k < nd; k++) {
		if (!d[k])
			continue;
		if (w->keep)
			w->held[w->nheld++] = d[k];
		else if (!EXPECT_OK(&w->c, cuMemFree(d[k])))
			ok = 0;
	}
	return ok;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	CUcontext cur = NULL;
	if (EXPECT_OK(&w->c, cuCtxSetCurrent(ctx)) &&
	    EXPECT_OK(&w->c, cuCtxGetCurrent(&cur)) && cur != ctx)
		check_fail(&w->c, "thread %d: another context is current",
			   w->id);
	int ok = !w->c.bad &&
		 EXPECT_OK(&w->c, cuStreamCreate(&w->s, CU_STREAM_NON_BLOCKING));
	pthread_barrier_wait(&start);
	for (int it = 0; ok && it < w->loops; it++)
		ok = iterate(w, it);
	w->t_done = now_s();
	return NULL;
}

struct sleeper {
	double t_queued, t_returned;
	CUresult r;
	struct check c;
};

/* Queue the sleep kernel, let the workers go, then wait for it. */
static void *sleeper_main(void *arg)
{
	struct sleeper *sl = arg;
	CUstream s = NULL;
	unsigned long long ns = SLEEP_NS;
	void *args[] = {&ns};
	int ok = EXPECT_OK(&sl->c, cuCtxSetCurrent(ctx)) &&
		 EXPECT_OK(&sl->c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING)) &&
		 EXPECT_OK(&sl->c, cuLaunchKernel(f_sleep, 1, 1, 1, 1, 1, 1, 0,
						  s, args, NULL));
	sl->t_queued = now_s();
	pthread_barrier_wait(&start); /* released even on failure: no hang */
	if (ok) {
		sl->r = cuStreamSynchronize(s);
		sl->t_returned = now_s();
		EXPECT_OK(&sl->c, sl->r);
	}
	if (s)
		cuStreamDestroy(s);
	return NULL;
}

/* Start NTHREADS workers (and the sleeper, if given) together. */
static void run(struct worker *w, int loops, int keep, struct sleeper *sl)
{
	pthread_t th[NTHREADS + 1];
	pthread_barrier_init(&start, NULL, NTHREADS + (sl ? 1 : 0));
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){.id = i, .loops = loops, .keep = keep,
				       .c = {.name = "worker"}};
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	if (sl)
		pthread_create(&th[NTHREADS], NULL, sleeper_main, sl);
	for (int i = 0; i < NTHREADS + (sl ? 1 : 0); i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < NTHREADS; i++) {
		for (int k = 0; k < w[i].nheld; k++)
			cuMemFree(w[i].held[k]);
		if (w[i].s)
			cuStreamDestroy(w[i].s);
	}
}

/* The first worker failure, if any, becomes c's. */
static void merge(struct check *c, const struct worker *w)
{
	for (int i = 0; i < NTHREADS; i++)
		if (w[i].c.bad)
			check_fail(c, "%s", w[i].c.why);
}

static void check_concurrent(void)
{
	struct worker w[NTHREADS];
	struct check c = {.name = "threads_concurrent"};
	run(w, LOOPS, 0, NULL);
	merge(&c, w);
	check_end(&c);
}

static void check_not_blocked(void)
{
	struct worker w[NTHREADS];
	struct sleeper sl = {.c = {.name = "threads_sleeper_waited"}};
	struct check c = {.name = "threads_not_blocked_by_sync"};
	run(w, TIMED_LOOPS, 1, &sl);
	double waited = sl.t_returned - sl.t_queued, last = 0;
	for (int i = 0; i < NTHREADS; i++)
		if (w[i].t_done - sl.t_queued > last)
			last = w[i].t_done - sl.t_queued;
	printf("threads: sleeper's cuStreamSynchronize returned after %.0f ms; "
	       "the %d threads' %d iterations each were done after %.0f ms\n",
	       waited * 1e3, NTHREADS, TIMED_LOOPS, last * 1e3);
	/* not less than most of the second, or the next check proves nothing */
	if (!sl.c.bad && waited < 0.8 * (double)SLEEP_NS * 1e-9)
		check_fail(&sl.c, "cuStreamSynchronize returned after %.0f ms, "
			   "before the %llu ms kernel could end", waited * 1e3,
			   SLEEP_NS / 1000000);
	check_end(&sl.c);
	merge(&c, w);
	if (!c.bad && !sl.c.bad && last >= waited)
		check_fail(&c, "the threads finished %.0f ms after the sleeper's "
			   "sync returned: they waited behind it",
			   (last - waited) * 1e3);
	check_end(&c);
}

static int setup(const char *path)
{
	struct check c = {.name = "setup"};
	void *image = read_file(path);
	CUdevice dev;
	CUmodule mod;
	if (!image) {
		check_fail(&c, "cannot read %s", path);
	} else if (EXPECT_OK(&c, cuInit(0)) &&
		   EXPECT_OK(&c, cuDeviceGet(&dev, 0)) &&
		   EXPECT_OK(&c, cuDevicePrimaryCtxRetain(&ctx, dev)) &&
		   EXPECT_OK(&c, cuCtxSetCurrent(ctx)) &&
		   EXPECT_OK(&c, cuModuleLoadData(&mod, image)) &&
		   EXPECT_OK(&c, cuModuleGetFunction(&f_add, mod, "vgpu_add_f32")) &&
		   EXPECT_OK(&c, cuModuleGetFunction(&f_fill, mod, "vgpu_fill_u32")))
		EXPECT_OK(&c, cuModuleGetFunction(&f_sleep, mod, "vgpu_sleep_ns"));
	free(image);
	check_end(&c);
	return !c.bad;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: threads KERNELS.cubin|.fatbin|.ptx\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (setup(argv[1])) {
		check_concurrent();
		check_not_blocked();
	}
	return check_summary("threads");
}
