/* tests/gpu/torch_order.c - the call order between threads that PyTorch
 * relies on, and the empty graph capture it makes. A plain driver-API
 * program: natively it checks NVIDIA's driver, through vgpu the guest
 * library and the worker (on the sim in the integration suite, on the
 * real driver on a GPU), with the same expectations:
 *  order_handoff  thread A queues LAUNCHES kernels on the legacy stream,
 *                 each filling a buffer with its own number, without
 *                 waiting, then hands over (pthread_join) to thread B,
 *                 whose synchronous cuMemcpyDtoH on the legacy stream must
 *                 see the last fill: work queued before the hand-over
 *                 comes first (PyTorch's autograd thread, which runs the
 *                 backward pass the main thread's forward pass queued).
 *                 ROUNDS times, A and B changing roles.
 *  order_pingpong two threads take turns (a mutex and a turn counter)
 *                 queueing, on one stream, a fill with the turn's number;
 *                 the buffer must end with the last turn's.
 *  empty_capture  a capture with nothing in it gives a graph whose node
 *                 count is 0 (cuGraphGetNodes(g, NULL, &n)): PyTorch's
 *                 cudagraph trees make one to keep their memory pool.
 * Usage: torch_order KERNELS.cubin|.fatbin|.ptx
 */
#include "check.h"
#include "file.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

enum {
	LAUNCHES = 2000, /* enough to keep a lagging executor busy for ms */
	ROUNDS = 4,
	WORDS = 1 << 16,
	TURNS = 400,
};

static CUcontext ctx;
static CUfunction f_fill;
static CUdeviceptr buf;

struct arg {
	struct check *c;
	unsigned first; /* fill values first .. first + LAUNCHES - 1 */
	unsigned got;
};

static void *queue_fills(void *p)
{
	struct arg *a = p;
	unsigned long long n = WORDS;
	EXPECT_OK(a->c, cuCtxSetCurrent(ctx));
	for (unsigned i = 0; i < LAUNCHES && !a->c->bad; i++) {
		unsigned v = a->first + i;
		void *args[] = {&buf, &v, &n};
		EXPECT_OK(a->c, cuLaunchKernel(f_fill, 64, 1, 1, 256, 1, 1, 0,
					       NULL, args, NULL));
	}
	return NULL;
}

static void *read_back(void *p)
{
	struct arg *a = p;
	unsigned last[2];
	EXPECT_OK(a->c, cuCtxSetCurrent(ctx));
	/* the first and the last word: a fill is a whole grid */
	EXPECT_OK(a->c, cuMemcpyDtoH(&last[0], buf, 4));
	EXPECT_OK(a->c, cuMemcpyDtoH(&last[1], buf + (WORDS - 1) * 4, 4));
	a->got = last[0] == last[1] ? last[0] : 0;
	return NULL;
}

static void order_handoff(void)
{
	struct check c = {.name = "order_handoff"};
	for (unsigned r = 0; r < ROUNDS && !c.bad; r++) {
		struct arg a = {&c, 1 + r * LAUNCHES, 0};
		pthread_t t;
		/* roles change: the reader of one round queues the next */
		if (pthread_create(&t, NULL, queue_fills, &a) ||
		    pthread_join(t, NULL) ||
		    pthread_create(&t, NULL, read_back, &a) ||
		    pthread_join(t, NULL)) {
			check_fail(&c, "pthread");
			break;
		}
		unsigned want = a.first + LAUNCHES - 1;
		if (!c.bad && a.got != want)
			check_fail(&c, "round %u: read %u, the last fill queued "
				   "before the hand-over was %u", r, a.got, want);
	}
	check_end(&c);
}

struct turns {
	struct check *c;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned turn;
	CUstream s;
	CUfunction f;
};

struct player {
	struct turns *t;
	unsigned me;
};

/* Turn k (from 0) fills the buffer with k + 1. */
static void *play(void *p)
{
	struct player *pl = p;
	struct turns *t = pl->t;
	unsigned long long n = WORDS;
	EXPECT_OK(t->c, cuCtxSetCurrent(ctx));
	for (;;) {
		pthread_mutex_lock(&t->mu);
		while (t->turn < TURNS && t->turn % 2 != pl->me)
			pthread_cond_wait(&t->cv, &t->mu);
		if (t->turn >= TURNS) {
			pthread_mutex_unlock(&t->mu);
			return NULL;
		}
		unsigned v = t->turn + 1;
		void *args[] = {&buf, &v, &n};
		EXPECT_OK(t->c, cuLaunchKernel(t->f, 64, 1, 1, 256, 1, 1, 0,
					       t->s, args, NULL));
		t->turn++;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
	}
}

static void order_pingpong(void)
{
	struct check c = {.name = "order_pingpong"};
	struct turns t = {.c = &c, .f = f_fill};
	pthread_mutex_init(&t.mu, NULL);
	pthread_cond_init(&t.cv, NULL);
	struct player p[2] = {{&t, 0}, {&t, 1}};
	pthread_t th[2];
	unsigned got[2] = {0, 0};
	if (EXPECT_OK(&c, cuStreamCreate(&t.s, CU_STREAM_NON_BLOCKING))) {
		if (pthread_create(&th[0], NULL, play, &p[0]) ||
		    pthread_create(&th[1], NULL, play, &p[1])) {
			check_fail(&c, "pthread");
		} else {
			pthread_join(th[0], NULL);
			pthread_join(th[1], NULL);
		}
		EXPECT_OK(&c, cuStreamSynchronize(t.s));
		EXPECT_OK(&c, cuMemcpyDtoH(&got[0], buf, 4));
		EXPECT_OK(&c, cuMemcpyDtoH(&got[1], buf + (WORDS - 1) * 4, 4));
		if (!c.bad && (got[0] != TURNS || got[1] != TURNS))
			check_fail(&c, "the buffer holds %u/%u, the last turn "
				   "wrote %u", got[0], got[1], TURNS);
		EXPECT_OK(&c, cuStreamDestroy(t.s));
	}
	check_end(&c);
}

static void empty_capture(void)
{
	struct check c = {.name = "empty_capture"};
	CUstream s;
	CUgraph g = NULL;
	size_t n = 99;
	if (EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING))) {
		if (EXPECT_OK(&c, cuStreamBeginCapture(
				      s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)) &&
		    EXPECT_OK(&c, cuStreamEndCapture(s, &g))) {
			if (!g)
				check_fail(&c, "no graph");
			else if (EXPECT_OK(&c, cuGraphGetNodes(g, NULL, &n)) &&
				 n != 0)
				check_fail(&c, "%zu nodes in an empty graph", n);
			if (g)
				EXPECT_OK(&c, cuGraphDestroy(g));
		}
		EXPECT_OK(&c, cuStreamDestroy(s));
	}
	check_end(&c);
}

static int setup(const char *path)
{
	struct check c = {.name = "setup"};
	void *image = read_file(path);
	CUdevice dev;
	CUmodule mod;
	if (!image)
		check_fail(&c, "cannot read %s", path);
	else if (EXPECT_OK(&c, cuInit(0)) &&
		 EXPECT_OK(&c, cuDeviceGet(&dev, 0)) &&
		 EXPECT_OK(&c, cuDevicePrimaryCtxRetain(&ctx, dev)) &&
		 EXPECT_OK(&c, cuCtxSetCurrent(ctx)) &&
		 EXPECT_OK(&c, cuModuleLoadData(&mod, image)) &&
		 EXPECT_OK(&c, cuModuleGetFunction(&f_fill, mod, "vgpu_fill_u32")))
		EXPECT_OK(&c, cuMemAlloc(&buf, WORDS * 4));
	free(image);
	check_end(&c);
	return !c.bad;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: torch_order KERNELS.cubin|.fatbin|.ptx\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (setup(argv[1])) {
		order_handoff();
		order_pingpong();
		empty_capture();
	}
	return check_summary("torch_order");
}
