/* tools/nvrtc_cache_probe/nvrtc_probe.c - compiles one small template
 * kernel with NVRTC N times in one process and prints, for each, the
 * time it took and an FNV-1a hash of the cubin: with a working compute
 * cache the 2nd..Nth are fast and the hashes all equal.
 * Usage: nvrtc_probe [N [-arch=sm_90a]]
 */
#include <nvrtc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *src =
	"template<int N> __global__ void k(float *x)\n"
	"{ int i = threadIdx.x; if (i < N) x[i] = x[i] * 2.0f + N; }\n";

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int once(int it, const char *arch)
{
	nvrtcProgram p;
	const char *opts[] = {arch};
	double t0 = now_ms();
	if (nvrtcCreateProgram(&p, src, "k.cu", 0, NULL, NULL) ||
	    nvrtcAddNameExpression(p, "k<7>"))
		return 1;
	nvrtcResult r = nvrtcCompileProgram(p, 1, opts);
	size_t n = 0;
	char *bin = NULL;
	if (!r && !(r = nvrtcGetCUBINSize(p, &n)) && (bin = malloc(n)))
		r = nvrtcGetCUBIN(p, bin);
	double t1 = now_ms();
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; bin && i < n; i++)
		h = (h ^ (unsigned char)bin[i]) * 0x100000001b3ull;
	printf("compile %d: rc %d cubin %zu bytes fnv %016llx %.1f ms\n", it,
	       r, n, (unsigned long long)h, t1 - t0);
	free(bin);
	nvrtcDestroyProgram(&p);
	return r != NVRTC_SUCCESS;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 5;
	const char *arch = argc > 2 ? argv[2] : "-arch=sm_90a";
	int bad = 0;
	for (int i = 0; i < n; i++)
		bad |= once(i, arch);
	return bad;
}
