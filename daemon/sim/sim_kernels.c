/* daemon/sim/sim_kernels.c - C twins of the kernels of tests/gpu/kernels.cu.
 *
 * Contract: each kernel here computes exactly what its CUDA source does,
 * and goes through the grid the way the GPU would: once per thread
 * (blockIdx/threadIdx from sim_k_grid), with the same index arithmetic
 * (32-bit unsigned blockIdx.x * blockDim.x + threadIdx.x, converted as the
 * CUDA source converts it), the same floating-point operations (nvcc
 * contracts a * x + y into one fused multiply-add: fmaf/fma here, so
 * results are bit-identical), and atomics as atomics (streams run
 * concurrently). Every access goes through sim_k_at, so a bad pointer is a
 * sticky illegal address, never a host crash. A kernel is used only for a
 * module kernel of the same name whose parameter sizes match the table
 * (the sizes nvcc 13 gives: tests/unit/test_sim.c quotes the readelf
 * evidence), so an unrelated kernel that shares a name is refused, not
 * misread. Change tests/gpu/kernels.cu and this file together.
 */
#include "sim.h"
#include <math.h>
#include <string.h>
#include <time.h>

/* blockIdx.x * blockDim.x + threadIdx.x, in 32-bit unsigned like CUDA. */
static uint32_t gidx(const struct sim_launch *l, const struct sim_thread *t)
{
	return t->block.x * l->block.x + t->thread.x;
}

static uint64_t gstride(const struct sim_launch *l)
{
	return (uint64_t)l->grid.x * l->block.x;
}

static struct sim_kptr ptr_arg(const struct sim_launch *l, uint32_t i)
{
	return (struct sim_kptr){.p = sim_k_arg_u64(l, i)};
}

/* ---- vgpu_fill_u32(unsigned *p, unsigned v, unsigned long long n) ------ */

struct fill {
	struct sim_kptr p;
	uint32_t v;
	uint64_t n;
};

static void fill_thread(struct sim_launch *l, const struct sim_thread *t,
			void *arg)
{
	struct fill *a = arg;
	for (uint64_t i = gidx(l, t); i < a->n; i += gstride(l)) {
		uint32_t *p = sim_k_at(l, &a->p, (int64_t)i, 4);
		if (!p)
			return;
		*p = a->v;
	}
}

static void fill_u32(struct sim_launch *l)
{
	struct fill a = {ptr_arg(l, 0), sim_k_arg_u32(l, 1), sim_k_arg_u64(l, 2)};
	sim_k_grid(l, fill_thread, &a);
}

/* ---- vgpu_add_f32(const float *a, const float *b, float *c, int n) ----- */
/* ---- vgpu_saxpy(float a, const float *x, float *y, int n) -------------- */

struct vec {
	struct sim_kptr a, b, c;
	float s;
	int32_t n;
};

static void add_thread(struct sim_launch *l, const struct sim_thread *t,
		       void *arg)
{
	struct vec *v = arg;
	int32_t i = (int32_t)gidx(l, t);
	if (i >= v->n)
		return;
	float *a = sim_k_at(l, &v->a, i, 4), *b = sim_k_at(l, &v->b, i, 4);
	float *c = a && b ? sim_k_at(l, &v->c, i, 4) : NULL;
	if (c)
		*c = *a + *b;
}

static void add_f32(struct sim_launch *l)
{
	struct vec v = {.a = ptr_arg(l, 0), .b = ptr_arg(l, 1),
			.c = ptr_arg(l, 2), .n = (int32_t)sim_k_arg_u32(l, 3)};
	sim_k_grid(l, add_thread, &v);
}

static void saxpy_thread(struct sim_launch *l, const struct sim_thread *t,
			 void *arg)
{
	struct vec *v = arg;
	int32_t i = (int32_t)gidx(l, t);
	if (i >= v->n)
		return;
	float *x = sim_k_at(l, &v->a, i, 4);
	float *y = x ? sim_k_at(l, &v->b, i, 4) : NULL;
	if (y)
		*y = fmaf(v->s, *x, *y);
}

static void saxpy(struct sim_launch *l)
{
	struct vec v = {.a = ptr_arg(l, 1), .b = ptr_arg(l, 2),
			.n = (int32_t)sim_k_arg_u32(l, 3)};
	memcpy(&v.s, sim_k_arg(l, 0), 4);
	sim_k_grid(l, saxpy_thread, &v);
}

/* ---- vgpu_struct_arg(struct vgpu_args {double scale; int n; char tag;}
 *      args, float *y): the struct is 16 bytes, fields at 0, 8 and 12 ---- */

struct sarg {
	double scale;
	int32_t n;
	int8_t tag;
	struct sim_kptr y;
};

static void struct_thread(struct sim_launch *l, const struct sim_thread *t,
			  void *arg)
{
	struct sarg *s = arg;
	int32_t i = (int32_t)gidx(l, t);
	if (i >= s->n)
		return;
	float *y = sim_k_at(l, &s->y, i, 4);
	if (y)
		*y = (float)fma(s->scale, (double)i, (double)s->tag);
}

static void struct_arg(struct sim_launch *l)
{
	const uint8_t *p = sim_k_arg(l, 0);
	struct sarg s = {.y = ptr_arg(l, 1)};
	memcpy(&s.scale, p, 8);
	memcpy(&s.n, p + 8, 4);
	memcpy(&s.tag, p + 12, 1);
	sim_k_grid(l, struct_thread, &s);
}

/* ---- vgpu_checksum(const unsigned char *p, unsigned long long n,
 *      unsigned long long *out): *out += sum p[i] * (i + 1) ------------- */

struct sum {
	struct sim_kptr p, out;
	uint64_t n;
};

static void sum_thread(struct sim_launch *l, const struct sim_thread *t,
		       void *arg)
{
	struct sum *s = arg;
	uint64_t acc = 0;
	for (uint64_t i = gidx(l, t); i < s->n; i += gstride(l)) {
		const uint8_t *b = sim_k_at(l, &s->p, (int64_t)i, 1);
		if (!b)
			return;
		acc += (uint64_t)*b * (i + 1);
	}
	uint64_t *out = sim_k_at(l, &s->out, 0, 8);
	if (out)
		__atomic_fetch_add(out, acc, __ATOMIC_RELAXED);
}

static void checksum(struct sim_launch *l)
{
	struct sum s = {ptr_arg(l, 0), ptr_arg(l, 2), sim_k_arg_u64(l, 1)};
	sim_k_grid(l, sum_thread, &s);
}

/* ---- vgpu_sleep_ns(unsigned long long ns) ------------------------------ */

/* Every GPU thread spins for ns at the same time; the sim's one thread
 * sleeps once, which takes the same wall time. */
static void sleep_ns(struct sim_launch *l)
{
	uint64_t ns = sim_k_arg_u64(l, 0);
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += (time_t)(ns / 1000000000u);
	t.tv_nsec += (long)(ns % 1000000000u);
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL))
		;
}

/* ---- vgpu_fault(int *p) ------------------------------------------------ */

static void fault_thread(struct sim_launch *l, const struct sim_thread *t,
			 void *arg)
{
	(void)t;
	int32_t *p = sim_k_at(l, arg, 0, 4);
	if (p)
		*p = 0x5a5a5a5a;
}

static void fault(struct sim_launch *l)
{
	struct sim_kptr p = ptr_arg(l, 0);
	sim_k_grid(l, fault_thread, &p);
}

/* ---- vgpu_inc_counter(void): atomicAdd(&vgpu_counter, 1) --------------- */

static void inc_thread(struct sim_launch *l, const struct sim_thread *t,
		       void *arg)
{
	(void)t;
	uint64_t *c = sim_k_at(l, arg, 0, 8);
	if (c)
		__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static void inc_counter(struct sim_launch *l)
{
	struct sim_kptr c = {.p = sim_module_global(l->f->mod, "vgpu_counter", 8)};
	sim_k_grid(l, inc_thread, &c);
}

/* ---- vgpu_big_param(struct vgpu_big p, unsigned *out): 32000 bytes ---- */

#define BIG_WORDS 8000u

static void big_thread(struct sim_launch *l, const struct sim_thread *t,
		       void *arg)
{
	struct sim_kptr *out = arg;
	const uint8_t *w = sim_k_arg(l, 0);
	for (uint32_t i = gidx(l, t); i < BIG_WORDS;
	     i += l->grid.x * l->block.x) {
		uint32_t *o = sim_k_at(l, out, i, 4);
		if (!o)
			return;
		memcpy(o, w + 4 * (size_t)i, 4);
	}
}

static void big_param(struct sim_launch *l)
{
	struct sim_kptr out = ptr_arg(l, 1);
	sim_k_grid(l, big_thread, &out);
}

/* ---- vgpu_host_mix(const unsigned *a, unsigned *b, unsigned long long n)
 * b[i] = b[i] * 3 + (a[i] ^ i), grid-stride in 64 bits ------------------ */

struct mix {
	struct sim_kptr a, b;
	uint64_t n;
};

static void mix_thread(struct sim_launch *l, const struct sim_thread *t,
		       void *arg)
{
	struct mix *m = arg;
	for (uint64_t i = gidx(l, t); i < m->n; i += gstride(l)) {
		uint32_t *a = sim_k_at(l, &m->a, (int64_t)i, 4);
		uint32_t *b = sim_k_at(l, &m->b, (int64_t)i, 4);
		if (!a || !b)
			return;
		*b = *b * 3u + (*a ^ (uint32_t)i);
	}
}

static void host_mix(struct sim_launch *l)
{
	struct mix m = {ptr_arg(l, 0), ptr_arg(l, 1), sim_k_arg_u64(l, 2)};
	sim_k_grid(l, mix_thread, &m);
}

static const struct sim_kimpl kernels[] = {
	{"vgpu_fill_u32", 3, {8, 4, 8}, NULL, 0, fill_u32},
	{"vgpu_add_f32", 4, {8, 8, 8, 4}, NULL, 0, add_f32},
	{"vgpu_saxpy", 4, {4, 8, 8, 4}, NULL, 0, saxpy},
	{"vgpu_struct_arg", 2, {16, 8}, NULL, 0, struct_arg},
	{"vgpu_checksum", 3, {8, 8, 8}, NULL, 0, checksum},
	{"vgpu_sleep_ns", 1, {8}, NULL, 0, sleep_ns},
	{"vgpu_fault", 1, {8}, NULL, 0, fault},
	{"vgpu_inc_counter", 0, {0}, "vgpu_counter", 8, inc_counter},
	{"vgpu_big_param", 2, {BIG_WORDS * 4, 8}, NULL, 0, big_param},
	{"vgpu_host_mix", 3, {8, 8, 8}, NULL, 0, host_mix},
};

const struct sim_kimpl *sim_kernel_find(const struct sim_kdesc *d)
{
	for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++) {
		const struct sim_kimpl *k = &kernels[i];
		if (strcmp(k->name, d->name) || k->nparams != d->nparams)
			continue;
		bool same = true;
		for (uint32_t j = 0; j < k->nparams; j++)
			same = same && k->sizes[j] == d->params[j].size;
		return same ? k : NULL;
	}
	return NULL;
}
