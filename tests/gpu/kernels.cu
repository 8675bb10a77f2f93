/* tests/gpu/kernels.cu - the test kernels, for a real GPU and for the sim.
 *
 * Contract: every kernel here is extern "C" (unmangled names) and has a C
 * twin in daemon/sim/sim_kernels.c with the same parameters and the same
 * result, so a test passes identically against the real driver and the
 * sim. The Makefile compiles this file three ways (cubin, fatbin, PTX) and
 * the sim's tests load each of them. Change both files together.
 */

struct vgpu_args {
	double scale;
	int n;
	char tag;
};

/* The counter vgpu_inc_counter bumps; read with cuModuleGetGlobal. */
__device__ unsigned long long vgpu_counter;
/* Initialised data (.nv.global.init in the cubin, an initialiser in the
 * PTX) and a __constant__ (.nv.constant3): no kernel uses them, the tests
 * read them with cuModuleGetGlobal to check loaders copy images' data. */
__device__ unsigned int vgpu_words[4] = {0x11, 0x22, 0x33, 0x44};
__constant__ float vgpu_scale = 1.5f;

extern "C" __global__ void vgpu_fill_u32(unsigned *p, unsigned v,
					 unsigned long long n)
{
	unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
	for (unsigned long long i = blockIdx.x * blockDim.x + threadIdx.x;
	     i < n; i += stride)
		p[i] = v;
}

extern "C" __global__ void vgpu_add_f32(const float *a, const float *b,
					float *c, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		c[i] = a[i] + b[i];
}

extern "C" __global__ void vgpu_saxpy(float a, const float *x, float *y,
				      int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		y[i] = a * x[i] + y[i];
}

/* y[i] = scale * i + tag, for i < n: every field of the by-value struct
 * reaches the result, so a wrong layout shows. */
extern "C" __global__ void vgpu_struct_arg(struct vgpu_args args, float *y)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < args.n)
		y[i] = (float)(args.scale * i + args.tag);
}

/* *out += sum of p[i] * (i + 1), mod 2^64 (the caller zeroes *out).
 * Integer arithmetic, so the GPU's summation order does not matter. */
extern "C" __global__ void vgpu_checksum(const unsigned char *p,
					 unsigned long long n,
					 unsigned long long *out)
{
	unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
	unsigned long long sum = 0;
	for (unsigned long long i = blockIdx.x * blockDim.x + threadIdx.x;
	     i < n; i += stride)
		sum += (unsigned long long)p[i] * (i + 1);
	atomicAdd(out, sum);
}

/* Spins for at least ns nanoseconds (per thread): for event timing. */
extern "C" __global__ void vgpu_sleep_ns(unsigned long long ns)
{
	unsigned long long start, now;
	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
	do
		asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
	while (now - start < ns);
}

/* Writes *p: with an invalid p, an illegal address (sticky). */
extern "C" __global__ void vgpu_fault(int *p)
{
	*p = 0x5a5a5a5a;
}

extern "C" __global__ void vgpu_inc_counter(void)
{
	atomicAdd(&vgpu_counter, 1ULL);
}

/* out[i] = p.w[i]: a 32000-byte parameter, near the driver's 32764-byte
 * limit (tests/gpu/streams.c: launches larger than a message slot). */
struct vgpu_big {
	unsigned w[8000];
};

extern "C" __global__ void vgpu_big_param(struct vgpu_big p, unsigned *out)
{
	for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < 8000;
	     i += gridDim.x * blockDim.x)
		out[i] = p.w[i];
}

/* b[i] = b[i] * 3 + (a[i] ^ i): with a and b pinned host memory passed by
 * their host pointers (tests/gpu/pinned_uva.c: unified addressing). */
extern "C" __global__ void vgpu_host_mix(const unsigned *a, unsigned *b,
					 unsigned long long n)
{
	for (unsigned long long i = blockIdx.x * blockDim.x + threadIdx.x;
	     i < n; i += (unsigned long long)gridDim.x * blockDim.x)
		b[i] = b[i] * 3u + (a[i] ^ (unsigned)i);
}
