/* guest/cuda/lib_va.c - reserving the worker's device address windows
 * (contract in lib_va.h). */
#define _GNU_SOURCE
#include "lib_va.h"
#include "../../ring/va_maps.h"
#include "rpc.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Mappings read to build the list sent: beyond it the last range absorbs
 * the rest (a longer range kept out of the worker's driver). */
#define OWN_MAX 8192

static struct {
	pthread_mutex_t mu;
	uint64_t conn;             /* the connection set up for, or 0 */
	struct vgpu_va_range *v;   /* reserved parts, sorted */
	size_t n, cap;
} V = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void child_after_fork(void)
{
	pthread_mutex_init(&V.mu, NULL);
}

static bool quiet(void)
{
	const char *l = getenv("VGPU_LOG");
	return l && !strcmp(l, "quiet");
}

static void note(uint64_t lo, uint64_t hi, void *arg)
{
	(void)arg;
	if (V.n == V.cap) {
		size_t c = V.cap ? V.cap * 2 : 16;
		struct vgpu_va_range *v = realloc(V.v, c * sizeof(*v));
		if (!v) { /* still reserved, just not known: harmless */
			return;
		}
		V.v = v;
		V.cap = c;
	}
	size_t i = V.n;
	while (i > 0 && V.v[i - 1].lo > lo) {
		V.v[i] = V.v[i - 1];
		i--;
	}
	V.v[i].lo = lo;
	V.v[i].hi = hi;
	V.n++;
}

/* A fresh connection: what a forked child inherited is its parent's. */
static void forget(void)
{
	for (size_t i = 0; i < V.n; i++)
		munmap((void *)(uintptr_t)V.v[i].lo, V.v[i].hi - V.v[i].lo);
	V.n = 0;
}

static CUresult ask(struct vgpu_cu_va *win)
{
	struct vgpu_cu_va *own = calloc(1, sizeof(*own));
	struct vgpu_va_range *m = malloc(OWN_MAX * sizeof(*m));
	CUresult r = CUDA_ERROR_OUT_OF_MEMORY;
	int n = m ? vgpu_maps_read(m, OWN_MAX) : -1;
	if (own && n >= 0) {
		n = vgpu_maps_merge(m, n, VGPU_CU_VA_MAX);
		own->n = (uint32_t)n;
		for (int i = 0; i < n; i++) {
			own->r[i].lo = m[i].lo;
			own->r[i].hi = m[i].hi;
		}
		r = vgpu_cu_call(VGPU_CU_VA_WINDOW, own, sizeof(*own), win,
				 sizeof(*win), true, "va_window");
	}
	free(m);
	free(own);
	return r;
}

static void reserve_windows(const struct vgpu_cu_va *win)
{
	for (uint32_t i = 0; i < win->n && i < VGPU_CU_VA_MAX; i++) {
		uint64_t lo = win->r[i].lo, hi = win->r[i].hi;
		if (lo >= hi || hi > VGPU_VA_LIMIT)
			continue;
		int err = vgpu_maps_reserve_free(lo, hi, note, NULL);
		if (err && !quiet())
			fprintf(stderr, "vgpu: cannot reserve the device address "
				"window 0x%lx-0x%lx in this process (%s): device "
				"memory there may be refused where this process "
				"maps host memory first\n", (unsigned long)lo,
				(unsigned long)hi, strerror(err));
	}
}

void vgpu_va_setup(void)
{
	static bool atfork;
	uint64_t c = vgpu_cu_conn_id();
	struct vgpu_cu_va win;
	pthread_mutex_lock(&V.mu);
	if (!atfork && !pthread_atfork(NULL, NULL, child_after_fork))
		atfork = true;
	if (V.conn == c || vgpu_cu_ready()) {
		pthread_mutex_unlock(&V.mu);
		return;
	}
	forget();
	V.conn = c;
	memset(&win, 0, sizeof(win));
	CUresult r = ask(&win);
	if (!r)
		reserve_windows(&win);
	if ((r || !win.n) && !quiet())
		fprintf(stderr, "vgpu: the worker named no device address "
			"window (%d): device allocations are reserved one by "
			"one\n", (int)r);
	pthread_mutex_unlock(&V.mu);
}

bool vgpu_va_reserved(uint64_t a, uint64_t n)
{
	bool in = false;
	uint64_t end;
	if (__builtin_add_overflow(a, n, &end))
		return false;
	pthread_mutex_lock(&V.mu);
	if (V.conn == vgpu_cu_conn_id()) {
		size_t lo = 0, hi = V.n; /* last part starting at or below a */
		while (lo < hi) {
			size_t m = lo + (hi - lo) / 2;
			if (V.v[m].lo <= a)
				lo = m + 1;
			else
				hi = m;
		}
		in = lo > 0 && end <= V.v[lo - 1].hi;
	}
	pthread_mutex_unlock(&V.mu);
	return in;
}
