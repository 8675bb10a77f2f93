/* tests/gpu/check.h - result bookkeeping for the GPU test programs that
 * check expected CUresults (threads, hostile, forkinit).
 *
 * A check is a named group of expectations: every EXPECT records the
 * first mismatch (call text, result and wanted result by name), and
 * check_end() prints "ok NAME" or "FAIL NAME: why". The counters live in
 * a MAP_SHARED page once check_share() ran, so checks made by forked
 * children add to the same "PROG: N passed, N failed" line the parent
 * prints. Output is line buffered so that parent and child lines do not
 * interleave mid-line or repeat after fork(). */
#ifndef VGPU_TESTS_GPU_CHECK_H
#define VGPU_TESTS_GPU_CHECK_H

#include <cuda.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

struct check_counts {
	atomic_int passed, failed;
};

static struct check_counts check_local, *check_n = &check_local;

static inline void check_share(void)
{
	void *p = mmap(NULL, sizeof(struct check_counts),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		       0);
	if (p != MAP_FAILED)
		check_n = p; /* a fresh anonymous page is zeroed */
	setvbuf(stdout, NULL, _IOLBF, 0);
}

struct check {
	const char *name;
	int bad;
	char why[320];
};

static inline const char *cu_name(CUresult r)
{
	static __thread char buf[32];
	const char *s = NULL;
	if (cuGetErrorName(r, &s) == CUDA_SUCCESS && s)
		return s;
	snprintf(buf, sizeof(buf), "CUresult %d", (int)r);
	return buf;
}

/* Record a failure of c (the first one's reason is kept). */
__attribute__((format(printf, 2, 3))) static inline void
check_fail(struct check *c, const char *fmt, ...)
{
	if (c->bad++)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

static inline int expect_(struct check *c, CUresult got, CUresult want,
			  const char *what, int line)
{
	if (got == want)
		return 1;
	check_fail(c, "line %d: %s = %s, want %s", line, what, cu_name(got),
		   cu_name(want));
	return 0;
}

/* The call must return exactly want; evaluates to whether it did. */
#define EXPECT(c, want, call) expect_((c), (call), (want), #call, __LINE__)
#define EXPECT_OK(c, call) EXPECT(c, CUDA_SUCCESS, call)

static inline void check_report(const char *name, int ok, const char *why)
{
	if (ok) {
		atomic_fetch_add(&check_n->passed, 1);
		printf("ok %s\n", name);
	} else {
		atomic_fetch_add(&check_n->failed, 1);
		printf("FAIL %s: %s\n", name, why);
	}
}

static inline void check_end(struct check *c)
{
	check_report(c->name, !c->bad, c->why);
}

/* The last line: "PROG: N passed, N failed"; the exit status. */
static inline int check_summary(const char *prog)
{
	int p = atomic_load(&check_n->passed), f = atomic_load(&check_n->failed);
	printf("%s: %d passed, %d failed\n", prog, p, f);
	return f || !p ? 1 : 0;
}

#endif
