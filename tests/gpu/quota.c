/* tests/gpu/quota.c - a VM's memory_limit across two of its processes,
 * and its max_processes.
 *
 * Usage: quota LIMIT_MIB   (run as a guest of a VM whose memory_limit is
 *                           LIMIT_MIB MiB and that has nothing allocated)
 *        quota one-process (a VM with max_processes = 1 and no process)
 *
 * one-process: this process gets a context; a child forked after that
 * calls cuInit, which fails with CUDA_ERROR_NO_DEVICE (vgpud refuses its
 * channel: second_process_refused), while the first keeps working
 * (first_process_unaffected).
 *
 * Forks before touching CUDA, so parent and child are two guest processes
 * of the VM with a channel, a worker and a context each. The child takes
 * 5/8 of the limit and holds it; then, in the parent:
 *   over_quota_across_processes  another 5/8: CUDA_ERROR_OUT_OF_MEMORY
 *   under_quota_fits             1/4: success
 *   mem_get_info_relative        cuMemGetInfo: total = the limit, free =
 *                                the limit less both processes' 7/8
 *   quota_freed_on_exit          the child exits without freeing: its
 *                                5/8 comes back to the VM once vgpud has
 *                                reclaimed its channel and reaped its
 *                                worker (retried up to 40 s: the guest
 *                                library does not release its channel at
 *                                exit, so that waits for the channel's
 *                                lease, 3 s in tests/integration, 30 s by
 *                                default)
 * Not for tests/gpu/run.sh: natively there is no quota to hit.
 */
#define _GNU_SOURCE
#include "check.h"
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB (1ull << 20)

static int ctx_up(CUcontext *ctx)
{
	CUdevice dev;
	return cuInit(0) || cuDeviceGet(&dev, 0) ||
	       cuDevicePrimaryCtxRetain(ctx, dev) || cuCtxSetCurrent(*ctx);
}

static int child(int go, int done, size_t bytes)
{
	CUcontext ctx;
	CUdeviceptr p;
	char c = 'x';
	if (ctx_up(&ctx) || cuMemAlloc(&p, bytes))
		c = 'e';
	if (write(done, &c, 1) != 1 || read(go, &c, 1) != 1)
		return 1;
	return 0; /* exits holding p: vgpud must give it back */
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static int one_process(void)
{
	CUcontext ctx;
	CUdeviceptr p;
	check_share();
	struct check k = {.name = "second_process_refused"};
	if (ctx_up(&ctx))
		check_fail(&k, "the first process got no context");
	pid_t pid = fork();
	if (pid == 0) {
		EXPECT(&k, CUDA_ERROR_NO_DEVICE, cuInit(0));
		check_end(&k);
		exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	k = (struct check){.name = "first_process_unaffected"};
	EXPECT_OK(&k, cuMemAlloc(&p, 1 << 20));
	EXPECT_OK(&k, cuMemFree(p));
	check_end(&k);
	return check_summary("quota one-process");
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "one-process"))
		return one_process();
	if (argc != 2 || atoll(argv[1]) <= 0) {
		fprintf(stderr, "usage: quota LIMIT_MIB | one-process\n");
		return 2;
	}
	size_t limit = (size_t)atoll(argv[1]) * MiB;
	size_t big = limit / 8 * 5, small = limit / 4;
	int to_child[2], from_child[2];
	check_share();
	if (pipe(to_child) || pipe(from_child))
		return 2;
	pid_t pid = fork();
	if (pid == 0)
		_exit(child(to_child[0], from_child[1], big));
	char c = 0;
	CUcontext ctx;
	CUdeviceptr a = 0, b = 0;
	struct check k = {.name = "child_holds_5_8"};
	if (read(from_child[0], &c, 1) != 1 || c != 'x')
		check_fail(&k, "the child could not allocate (%c)", c);
	check_end(&k);

	k = (struct check){.name = "over_quota_across_processes"};
	if (ctx_up(&ctx))
		check_fail(&k, "no context");
	EXPECT(&k, CUDA_ERROR_OUT_OF_MEMORY, cuMemAlloc(&a, big));
	check_end(&k);

	k = (struct check){.name = "under_quota_fits"};
	EXPECT_OK(&k, cuMemAlloc(&b, small));
	check_end(&k);

	k = (struct check){.name = "mem_get_info_relative"};
	size_t fr = 0, total = 0;
	EXPECT_OK(&k, cuMemGetInfo(&fr, &total));
	if (total != limit || fr != limit - big - small)
		check_fail(&k, "free %zu total %zu, want %zu of %zu", fr, total,
			   limit - big - small, limit);
	check_end(&k);

	k = (struct check){.name = "quota_freed_on_exit"};
	int st = 0;
	if (write(to_child[1], "g", 1) != 1 || waitpid(pid, &st, 0) != pid ||
	    !WIFEXITED(st) || WEXITSTATUS(st))
		check_fail(&k, "the child failed (status %d)", st);
	CUresult r = CUDA_ERROR_OUT_OF_MEMORY;
	for (int i = 0; i < 800 && r == CUDA_ERROR_OUT_OF_MEMORY; i++) {
		r = cuMemAlloc(&a, big);
		if (r == CUDA_ERROR_OUT_OF_MEMORY)
			sleep_ms(50); /* the lease, then the reaping */
	}
	EXPECT_OK(&k, r);
	check_end(&k);
	cuMemFree(a);
	cuMemFree(b);
	return check_summary("quota");
}
