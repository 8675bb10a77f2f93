/* tests/gpu/nvrtc_cache.c - NVRTC's compute cache through vgpu's table
 * da9151d3 (guest/cuda/export_nvrtc_cache.c), as a guest process.
 *
 * Compiles one template kernel with NVRTC (dlopen'd: libnvrtc.so.13) into
 * a fresh CUDA_CACHE_PATH and checks: the first compile stores two
 * entries (PTX and cubin) and the cubin entry's data is the cubin; a
 * second compile answers from the store (the entry's last byte, flipped
 * here, comes back in the cubin: no timing involved); with the byte put
 * back, compiles 3..5 give the first cubin again. Prints each compile's
 * time for information. Exit 0 when all hold; without libnvrtc it says
 * "skipped" and exits 0.
 */
#include <cuda.h>
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct _nvrtcProgram *prog_t;
static int (*create)(prog_t *, const char *, const char *, int,
		     const char *const *, const char *const *);
static int (*compile)(prog_t, int, const char *const *);
static int (*name_expr)(prog_t, const char *);
static int (*bin_size)(prog_t, size_t *);
static int (*get_bin)(prog_t, char *);
static int (*destroy)(prog_t *);

static const char *src =
	"template<int N> __global__ void k(float *x)\n"
	"{ int i = threadIdx.x; if (i < N) x[i] = x[i] * 2.0f + N; }\n";
static int failed;

static void expect(int ok, const char *what)
{
	printf("%s %s\n", ok ? "ok" : "FAIL", what);
	failed += !ok;
}

static int load_nvrtc(void)
{
	const char *names[] = {"libnvrtc.so.13", "/usr/local/cuda/lib64/libnvrtc.so.13",
			       "libnvrtc.so"};
	void *h = NULL;
	for (int i = 0; i < 3 && !h; i++)
		h = dlopen(names[i], RTLD_NOW);
	if (!h)
		return -1;
	*(void **)&create = dlsym(h, "nvrtcCreateProgram");
	*(void **)&compile = dlsym(h, "nvrtcCompileProgram");
	*(void **)&name_expr = dlsym(h, "nvrtcAddNameExpression");
	*(void **)&bin_size = dlsym(h, "nvrtcGetCUBINSize");
	*(void **)&get_bin = dlsym(h, "nvrtcGetCUBIN");
	*(void **)&destroy = dlsym(h, "nvrtcDestroyProgram");
	return create && compile && name_expr && bin_size && get_bin &&
			       destroy ? 0 : -1;
}

/* One compile: the cubin (malloc'd, *n bytes) or NULL. */
static char *build(int it, size_t *n)
{
	prog_t p;
	const char *opts[] = {"-arch=sm_90a"};
	struct timespec a, b;
	char *bin = NULL;
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (create(&p, src, "k.cu", 0, NULL, NULL))
		return NULL;
	if (!name_expr(p, "k<7>") && !compile(p, 1, opts) &&
	    !bin_size(p, n) && (bin = malloc(*n)) && get_bin(p, bin)) {
		free(bin);
		bin = NULL;
	}
	destroy(&p);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("compile %d: %zu bytes, %.1f ms\n", it, bin ? *n : 0,
	       (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
	return bin;
}

/* The store's entries; *cubin_at: the one whose data is bin. */
static int entries(const char *dir, const char *bin, size_t n,
		   char *cubin_at, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int count = 0;
	*cubin_at = 0;
	while (d && (e = readdir(d))) {
		char path[1024];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		count++;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		char *tail = malloc(n);
		if (f && tail && !stat(path, &st) && st.st_size > (off_t)n &&
		    !fseek(f, st.st_size - (off_t)n, SEEK_SET) &&
		    fread(tail, 1, n, f) == n && !memcmp(tail, bin, n))
			snprintf(cubin_at, cap, "%s", path);
		free(tail);
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return count;
}

static void flip_last(const char *path)
{
	FILE *f = fopen(path, "r+b");
	int c;
	if (!f || fseek(f, -1, SEEK_END) || (c = fgetc(f)) == EOF ||
	    fseek(f, -1, SEEK_END) || fputc(c ^ 0xff, f) == EOF)
		expect(0, "flip the stored cubin's last byte");
	if (f)
		fclose(f);
}

int main(void)
{
	char root[] = "/tmp/vgpu-nvrtc-cache-XXXXXX", dir[128], at[1024];
	size_t n0 = 0, n;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (load_nvrtc()) {
		puts("nvrtc_cache: skipped (no libnvrtc.so.13)");
		return 0;
	}
	if (!mkdtemp(root) || cuInit(0)) {
		puts("FAIL setup (mkdtemp or cuInit)");
		return 1;
	}
	setenv("CUDA_CACHE_PATH", root, 1);
	unsetenv("CUDA_CACHE_DISABLE");
	snprintf(dir, sizeof(dir), "%s/vgpu-nvrtc", root);
	char *first = build(0, &n0);
	expect(first != NULL, "first compile");
	if (!first)
		return 1;
	expect(entries(dir, first, n0, at, sizeof(at)) == 2,
	       "two entries stored (PTX, cubin)");
	expect(at[0] != 0, "an entry holds the cubin byte for byte");
	if (at[0]) {
		flip_last(at);
		char *hit = build(1, &n);
		first[n0 - 1] ^= 0xff;
		expect(hit && n == n0 && !memcmp(hit, first, n0),
		       "second compile is the stored entry (a hit)");
		first[n0 - 1] ^= 0xff;
		flip_last(at);
		free(hit);
	}
	for (int i = 2; i < 5; i++) {
		char *again = build(i, &n);
		expect(again && n == n0 && !memcmp(again, first, n0),
		       "compile again: the first cubin");
		free(again);
	}
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd))
		expect(0, "remove the scratch cache");
	free(first);
	printf("nvrtc_cache: %s\n", failed ? "FAILED" : "passed");
	return failed != 0;
}
