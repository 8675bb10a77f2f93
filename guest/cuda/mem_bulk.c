/* guest/cuda/mem_bulk.c - large pageable copies split across guest threads.
 *
 * Contract: vgpu_bulk_copy() moves len bytes between guest memory and the
 * device through the arena (op VGPU_CU_MEMCPY_HTOD or _DTOH). Below the
 * split size, or with one copy thread, it is one stream on one lane
 * (ring/stream.h: the guest fills chunk k+1 while the worker DMAs chunk
 * k). From the split size up it is cut into one part per copy thread
 * (4 KiB aligned), each streamed on its own lane by its own thread: the
 * caller takes parts too, persistent helper threads the rest, so the
 * guest's memcpy into (out of) the arena, the limit of the staged path,
 * runs on several cores, and the worker runs each thread's parts on its
 * own executor. The helpers start once the caller's earlier requests
 * have run (VGPU_CU_BULK_FENCE, one round trip), so a split copy keeps
 * its place in the caller's stream order. The call returns when every
 * part is done; the result is
 * the first failure. Only one split copy runs at a time (another large
 * copy meanwhile goes unsplit: the lanes are taken anyway).
 *
 * VGPU_COPY_THREADS (default 4, at most the lanes and the CPUs this
 * process may run on), VGPU_COPY_SPLIT (bytes, default 8 MiB) and
 * VGPU_CHUNK (bytes per arena chunk, at most half a lane; default 4 MiB,
 * less for a stream of under 32 MiB: vgpu_bulk_chunk) tune it; docs/bulk.md gives the measurements behind the defaults.
 * Helpers are not inherited by fork(): a child starts without any.
 */
#define _GNU_SOURCE
#include "mem_bulk.h"
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#define MAX_THREADS 16
#define PAGE 4096ull

struct part {
	struct vgpu_cu_xfer x;
	uint8_t *buf;
	uint64_t len;
};

static struct {
	pthread_mutex_t batch;  /* one split copy at a time */
	pthread_mutex_t mu;     /* the fields below */
	pthread_cond_t go, done;
	unsigned nhelpers;
	uint16_t op;
	bool out;
	CUcontext ctx; /* the caller's current context, made the helpers' */
	struct part parts[MAX_THREADS];
	unsigned nparts, next, left;
	CUresult result;
} B = {.batch = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER,
       .go = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static uint64_t env_u64(const char *name, uint64_t def, uint64_t lo,
			uint64_t hi)
{
	const char *s = getenv(name);
	char *end = NULL;
	unsigned long long v = s && *s ? strtoull(s, &end, 0) : def;
	return (end && *end) || v < lo || v > hi ? def : v;
}

/* The default: 4 MiB, but at least 8 chunks per stream down to 1 MiB, so
 * the first chunk's DMA (its drain, device to host) that nothing overlaps
 * is a small part of a mid-size copy (docs/bulk.md has the figures). */
#define CHUNK_MAX (4ull << 20)
#define CHUNK_MIN (1ull << 20)
#define CHUNKS_WANTED 8

uint64_t vgpu_bulk_chunk(uint64_t len)
{
	const char *set = getenv("VGPU_CHUNK");
	if (set && *set)
		return env_u64("VGPU_CHUNK", CHUNK_MAX, 64ull << 10,
			       1ull << 30) & ~(PAGE - 1);
	uint64_t c = len / CHUNKS_WANTED & ~(PAGE - 1);
	return c < CHUNK_MIN ? CHUNK_MIN : c > CHUNK_MAX ? CHUNK_MAX : c;
}

static unsigned threads_wanted(void)
{
	cpu_set_t set;
	unsigned t = (unsigned)env_u64("VGPU_COPY_THREADS", 4, 1, MAX_THREADS);
	unsigned lanes = vgpu_cu.conn.lanes.n;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    (unsigned)CPU_COUNT(&set) < t)
		t = (unsigned)CPU_COUNT(&set);
	return t < lanes ? t : lanes;
}

static CUresult run_part(uint16_t op, bool out, const struct part *p)
{
	return out ? vgpu_cu_stream_out(op, &p->x, p->buf, p->len)
		   : vgpu_cu_stream_in(op, &p->x, p->buf, p->len);
}

/* Take parts until none is left; under B.mu, which it drops while
 * copying. A helper first makes the caller's context its own (each guest
 * thread has its own current context, and so does its executor). */
static void drain_parts(bool helper)
{
	while (B.next < B.nparts) {
		struct part p = B.parts[B.next++];
		uint16_t op = B.op;
		bool out = B.out;
		CUcontext ctx = B.ctx;
		pthread_mutex_unlock(&B.mu);
		CUresult r = helper ? cuCtxSetCurrent(ctx) : CUDA_SUCCESS;
		if (!r)
			r = run_part(op, out, &p);
		pthread_mutex_lock(&B.mu);
		if (r && !B.result)
			B.result = r;
		if (--B.left == 0)
			pthread_cond_broadcast(&B.done);
	}
}

static void *helper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&B.mu);
	for (;;) {
		while (B.next >= B.nparts)
			pthread_cond_wait(&B.go, &B.mu);
		drain_parts(true);
	}
	return NULL;
}

static void child_after_fork(void)
{
	pthread_mutex_init(&B.batch, NULL);
	pthread_mutex_init(&B.mu, NULL);
	pthread_cond_init(&B.go, NULL);
	pthread_cond_init(&B.done, NULL);
	B.nhelpers = 0; /* the parent's threads are not ours */
	B.nparts = B.next = B.left = 0;
}

/* Under B.mu: at least n helpers, as many as can be started. */
static unsigned helpers(unsigned n)
{
	static bool atfork;
	if (!atfork && !pthread_atfork(NULL, NULL, child_after_fork))
		atfork = true;
	while (B.nhelpers < n) {
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		int rc = pthread_create(&t, &a, helper, NULL);
		pthread_attr_destroy(&a);
		if (rc)
			break;
		B.nhelpers++;
	}
	return B.nhelpers;
}

static CUresult split(uint16_t op, const struct vgpu_cu_xfer *x, uint8_t *buf,
		      uint64_t len, bool out, unsigned t)
{
	pthread_mutex_lock(&B.mu);
	unsigned h = helpers(t - 1);
	if (h + 1 < t)
		t = h + 1; /* fewer threads could be started */
	uint64_t part = (len / t + PAGE - 1) & ~(PAGE - 1);
	B.op = op;
	B.out = out;
	if (cuCtxGetCurrent(&B.ctx))
		B.ctx = NULL;
	B.result = CUDA_SUCCESS;
	B.nparts = B.next = 0;
	for (uint64_t off = 0; off < len; off += part) {
		uint64_t n = len - off < part ? len - off : part;
		B.parts[B.nparts++] = (struct part){
			{x->dev + off, x->stream}, buf + off, n};
	}
	B.left = B.nparts;
	pthread_cond_broadcast(&B.go);
	drain_parts(false);
	while (B.left)
		pthread_cond_wait(&B.done, &B.mu);
	CUresult r = B.result;
	B.nparts = B.next = 0;
	pthread_mutex_unlock(&B.mu);
	return r;
}

CUresult vgpu_bulk_copy(uint16_t op, const struct vgpu_cu_xfer *x, void *buf,
			uint64_t len, bool out)
{
	uint64_t min = env_u64("VGPU_COPY_SPLIT", 8ull << 20, PAGE, UINT64_MAX);
	unsigned t = len >= min ? threads_wanted() : 1;
	/* a capturing stream records the copy (guest/cuda/graph_host.c):
	 * helper threads' parts would run at once instead */
	CUstreamCaptureStatus cs = CU_STREAM_CAPTURE_STATUS_NONE;
	if (t > 1 && x->stream != VGPU_CU_NO_STREAM &&
	    (cuStreamIsCapturing((CUstream)(uintptr_t)x->stream, &cs) ||
	     cs != CU_STREAM_CAPTURE_STATUS_NONE))
		t = 1;
	if (t > 1 && x->dev + len >= x->dev &&
	    pthread_mutex_trylock(&B.batch) == 0) {
		/* the helpers' requests are not ordered after this thread's
		 * (each guest thread has its own executor): wait until this
		 * thread's earlier ones, async ones too, have run */
		CUresult r = vgpu_cu_call(VGPU_CU_BULK_FENCE, NULL, 0, NULL, 0,
					  true, "bulk fence");
		if (!r)
			r = split(op, x, buf, len, out, t);
		pthread_mutex_unlock(&B.batch);
		return r;
	}
	struct part p = {*x, buf, len};
	return run_part(op, out, &p);
}
