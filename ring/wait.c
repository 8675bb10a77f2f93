/* ring/wait.c - spin/yield/sleep waiting and the futex doorbell. */
#define _GNU_SOURCE
#include "wait.h"
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A guest waits for a reply: spin through the common few-microsecond
 * answer, yield through short kernels, then sleep at most 200 us so a long
 * synchronisation costs ~5k wake-ups/s and adds at most ~0.2 ms. */
const struct vgpu_waitpolicy vgpu_wait_guest = {
	.spin_ns = 20000, .yield_ns = 1000000,
	.sleep_min_us = 10, .sleep_max_us = 200, .futex = false,
};

/* The daemon's idle scanner: after 200 us of nothing it sleeps, doubling
 * from 50 us to 2 ms, so an idle VM costs ~500 short wake-ups/s whatever
 * its channel count (each ~20 us of CPU in a VM: ~1% of a core, where a
 * 1 ms cap measured ~2%), and the first request after idle waits at most
 * ~2 ms plus timer slack. A futex wake cuts that short where guests share
 * the daemon's kernel (region files on the host). */
const struct vgpu_waitpolicy vgpu_wait_host = {
	.spin_ns = 20000, .yield_ns = 200000,
	.sleep_min_us = 50, .sleep_max_us = 2000, .futex = false,
};

uint64_t vgpu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void env_u32(const char *name, uint32_t *v)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return;
	char *end;
	unsigned long x = strtoul(s, &end, 10);
	if (*end == 0 && x <= UINT32_MAX)
		*v = (uint32_t)x;
}

void vgpu_wait_from_env(struct vgpu_waitpolicy *p,
			const struct vgpu_waitpolicy *base)
{
	*p = *base;
	env_u32("VGPU_SPIN_NS", &p->spin_ns);
	env_u32("VGPU_YIELD_NS", &p->yield_ns);
	env_u32("VGPU_SLEEP_MIN_US", &p->sleep_min_us);
	env_u32("VGPU_SLEEP_MAX_US", &p->sleep_max_us);
	if (p->sleep_min_us == 0)
		p->sleep_min_us = 1;
	if (p->sleep_max_us && p->sleep_max_us < p->sleep_min_us)
		p->sleep_max_us = p->sleep_min_us;
}

void vgpu_waiter_init(struct vgpu_waiter *w, const struct vgpu_waitpolicy *p)
{
	w->p = p;
	w->t0_ns = vgpu_now_ns();
	w->sleep_us = p->sleep_min_us ? p->sleep_min_us : 1;
	w->iter = 0;
	w->phase = 0;
}

uint64_t vgpu_waiter_elapsed_ns(const struct vgpu_waiter *w)
{
	return vgpu_now_ns() - w->t0_ns;
}

bool vgpu_waiter_sleeping(const struct vgpu_waiter *w)
{
	return w->phase == 2;
}

static void futex_wait(_Atomic uint32_t *word, uint32_t seen, uint32_t us)
{
	struct timespec ts = {.tv_sec = us / 1000000,
			      .tv_nsec = (long)(us % 1000000) * 1000};
	/* Shared (not PRIVATE) futex: the word lives in a MAP_SHARED file
	 * mapping that other processes wait on too. */
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, seen,
		us ? &ts : NULL, NULL, 0);
}

void vgpu_futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL,
		0);
}

void vgpu_wait_step(struct vgpu_waiter *w, _Atomic uint32_t *word,
		    uint32_t seen)
{
	const struct vgpu_waitpolicy *p = w->p;
	/* Reading the clock costs ~20 ns; do it every 64 pauses only. */
	if (w->phase == 0 && (++w->iter & 63) != 0) {
		vgpu_cpu_relax();
		return;
	}
	if (w->phase < 2) {
		uint64_t el = vgpu_waiter_elapsed_ns(w);
		if (el < p->spin_ns) {
			vgpu_cpu_relax();
			return;
		}
		if (el < p->yield_ns) {
			w->phase = 1;
			sched_yield();
			return;
		}
		/* Entering the sleep phase: return once so the caller can do
		 * its wake-up handshake before the first sleep. */
		w->phase = 2;
		return;
	}
	if (p->futex && word) {
		futex_wait(word, seen, p->sleep_max_us ? w->sleep_us : 0);
	} else {
		struct timespec ts = {.tv_sec = w->sleep_us / 1000000,
				      .tv_nsec = (long)(w->sleep_us % 1000000) *
						 1000};
		nanosleep(&ts, NULL);
	}
	uint32_t cap = p->sleep_max_us ? p->sleep_max_us : 1000000;
	w->sleep_us = w->sleep_us * 2 > cap ? cap : w->sleep_us * 2;
}
