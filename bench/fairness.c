/* bench/fairness.c - GPU shares between VMs, measured by the kernels.
 *
 *   fairness run --image FILE --secs S [--ms K] [--depth D] [--gap-ms G]
 *                [--start-at T] --out FILE
 *     One guest process: loops the fair_spin kernel (bench/fairness.cu,
 *     K ms of its own GPU time each, default 1) for S seconds with D
 *     launches in flight (default 4), or, with --gap-ms, one at a time,
 *     synchronised, G ms apart (a light, latency-bound VM). Writes one
 *     line per kernel, "k START END RAN" (%globaltimer ns: the kernel's
 *     own stamps), and per synchronised launch "l NS" (launch to
 *     synchronise, host clock). --start-at T: once set up, wait until T
 *     (CLOCK_REALTIME seconds) before the first launch, so that processes
 *     whose start-up the daemon serialises still run the same S seconds.
 *   fairness report --case NAME --sched on|off [--warm-s W]
 *                VM:WEIGHT:FILE[,FILE...] ...
 *     Each VM's share of the window in which every process ran (its first
 *     W seconds left out, default 1), from the kernels' RAN alone: the
 *     scheduler's own accounting is never read. One JSON line on stdout
 *     (shares, weighted share error, Jain's index over share/weight,
 *     latency p50/p99 of VMs that measured it) and a table row on stderr.
 */
#define _GNU_SOURCE
#include <cuda.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CK(x)                                                               \
	do {                                                                \
		CUresult r_ = (x);                                          \
		if (r_ != CUDA_SUCCESS) {                                   \
			fprintf(stderr, "fairness: %s: CUresult %d\n", #x,  \
				(int)r_);                                   \
			exit(1);                                            \
		}                                                           \
	} while (0)

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Sleep until t, CLOCK_REALTIME seconds (0 or past: at once). */
static void wait_until(double t)
{
	struct timespec w = {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)};
	if (t > 0)
		while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &w, NULL))
			;
}

static const char *opt(int argc, char **argv, const char *name,
		       const char *def)
{
	for (int i = 0; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return def;
}

static int run(int argc, char **argv)
{
	const char *image = opt(argc, argv, "--image", NULL);
	const char *outp = opt(argc, argv, "--out", NULL);
	double secs = atof(opt(argc, argv, "--secs", "5"));
	double ms = atof(opt(argc, argv, "--ms", "1"));
	double gap = atof(opt(argc, argv, "--gap-ms", "0"));
	int depth = atoi(opt(argc, argv, "--depth", "4"));
	double start_at = atof(opt(argc, argv, "--start-at", "0"));
	if (!image || !outp || depth < 1 || depth > 64 || ms <= 0) {
		fprintf(stderr, "fairness run: --image and --out needed\n");
		return 2;
	}
	FILE *out = fopen(outp, "w");
	if (!out)
		return 1;
	CUdevice dev;
	CUcontext ctx;
	CUmodule mod;
	CUfunction fn;
	CUstream s;
	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuModuleLoad(&mod, image));
	CK(cuModuleGetFunction(&fn, mod, "fair_spin"));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	size_t cap = (size_t)(secs * 1000 / ms) + 1024;
	CUdeviceptr st;
	CK(cuMemAlloc(&st, cap * 24));
	CUevent ev[64];
	for (int i = 0; i < depth; i++)
		CK(cuEventCreate(&ev[i], CU_EVENT_DISABLE_TIMING));
	double *lat = calloc(cap, sizeof(*lat));
	unsigned long long ns = (unsigned long long)(ms * 1e6);
	wait_until(start_at);
	double t0 = now_s();
	size_t n = 0;
	while (n < cap && now_s() - t0 < secs) {
		CUdeviceptr p = st + n * 24;
		void *args[] = {&ns, &p};
		if (gap > 0) {
			double a = now_s();
			CK(cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, s, args, NULL));
			CK(cuStreamSynchronize(s));
			lat[n] = now_s() - a;
			struct timespec g = {0, (long)(gap * 1e6)};
			nanosleep(&g, NULL);
		} else {
			if (n >= (size_t)depth)
				CK(cuEventSynchronize(ev[n % depth]));
			CK(cuLaunchKernel(fn, 1, 1, 1, 1, 1, 1, 0, s, args, NULL));
			CK(cuEventRecord(ev[n % depth], s));
		}
		n++;
	}
	CK(cuStreamSynchronize(s));
	unsigned long long *h = malloc(n * 24);
	CK(cuMemcpyDtoH(h, st, n * 24));
	for (size_t i = 0; i < n; i++)
		fprintf(out, "k %llu %llu %llu\n", h[3 * i], h[3 * i + 1],
			h[3 * i + 2]);
	for (size_t i = 0; gap > 0 && i < n; i++)
		fprintf(out, "l %.0f %llu\n", lat[i] * 1e9, h[3 * i]);
	fclose(out);
	return 0;
}

struct kern {
	unsigned long long s, e, ran;
};

struct proc {
	struct kern *k;
	size_t n;
	double *lat;      /* latencies, ns */
	unsigned long long *lat_at; /* the kernel's start */
	size_t nl;
};

struct vm {
	char name[32];
	double weight;
	struct proc p[16];
	int np;
	double ran, share;
};

static int load(const char *path, struct proc *p)
{
	FILE *f = fopen(path, "r");
	char line[128];
	size_t cap = 0, lcap = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		struct kern k;
		double l;
		unsigned long long at;
		if (sscanf(line, "k %llu %llu %llu", &k.s, &k.e, &k.ran) == 3) {
			if (p->n == cap) {
				cap = cap ? 2 * cap : 4096;
				p->k = realloc(p->k, cap * sizeof(k));
			}
			p->k[p->n++] = k;
		} else if (sscanf(line, "l %lf %llu", &l, &at) == 2) {
			if (p->nl == lcap) {
				lcap = lcap ? 2 * lcap : 4096;
				p->lat = realloc(p->lat, lcap * sizeof(l));
				p->lat_at = realloc(p->lat_at, lcap * sizeof(at));
			}
			p->lat_at[p->nl] = at;
			p->lat[p->nl++] = l;
		}
	}
	fclose(f);
	return p->n ? 0 : -1;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* ran of k inside [a, b], pro rata if it straddles an edge */
static double inside(const struct kern *k, double a, double b)
{
	double s = (double)k->s, e = (double)k->e;
	if (e <= a || s >= b)
		return 0;
	if (s >= a && e <= b)
		return (double)k->ran;
	double lo = s > a ? s : a, hi = e < b ? e : b;
	return e > s ? (double)k->ran * (hi - lo) / (e - s) : 0;
}

static int report(int argc, char **argv)
{
	const char *name = opt(argc, argv, "--case", "case");
	const char *sched = opt(argc, argv, "--sched", "?");
	double warm = atof(opt(argc, argv, "--warm-s", "1"));
	struct vm vms[16];
	int nv = 0;
	for (int i = 1; i < argc && nv < 16; i++) {
		if (argv[i][0] == '-' && argv[i][1] == '-') {
			i++;
			continue;
		}
		char *spec = strdup(argv[i]);
		char *nm = strtok(spec, ":"), *w = strtok(NULL, ":"),
		     *files = strtok(NULL, "");
		if (!nm || !w || !files)
			continue;
		struct vm *v = &vms[nv++];
		memset(v, 0, sizeof(*v));
		snprintf(v->name, sizeof(v->name), "%s", nm);
		v->weight = atof(w);
		for (char *f = strtok(files, ","); f && v->np < 16;
		     f = strtok(NULL, ","))
			if (load(f, &v->p[v->np]) == 0)
				v->np++;
			else
				fprintf(stderr, "fairness: %s: no kernels\n", f);
	}
	/* the window every process was running in, less the warm-up */
	double a = 0, b = 1e300;
	for (int i = 0; i < nv; i++)
		for (int j = 0; j < vms[i].np; j++) {
			struct proc *p = &vms[i].p[j];
			if ((double)p->k[0].s > a)
				a = (double)p->k[0].s;
			if ((double)p->k[p->n - 1].e < b)
				b = (double)p->k[p->n - 1].e;
		}
	a += warm * 1e9;
	if (!nv || b <= a) {
		fprintf(stderr, "fairness: no common window\n");
		return 1;
	}
	double tot = 0, wsum = 0, err = 0, busy = 0;
	double x[16], w[16];
	for (int i = 0; i < nv; i++) {
		for (int j = 0; j < vms[i].np; j++)
			for (size_t k = 0; k < vms[i].p[j].n; k++)
				vms[i].ran += inside(&vms[i].p[j].k[k], a, b);
		vms[i].share = vms[i].ran / (b - a);
		tot += vms[i].ran;
		wsum += vms[i].weight;
	}
	busy = tot / (b - a);
	double sum = 0, sq = 0;
	for (int i = 0; i < nv; i++) {
		double rel = tot > 0 ? vms[i].ran / tot : 0; /* of GPU busy */
		double want = vms[i].weight / wsum;
		if (fabs(rel - want) > err)
			err = fabs(rel - want);
		x[i] = rel;
		w[i] = vms[i].weight;
		sum += x[i] / w[i];
		sq += (x[i] / w[i]) * (x[i] / w[i]);
	}
	double jain = sq > 0 ? sum * sum / (nv * sq) : 1;
	printf("{\"case\":\"%s\",\"scheduler\":\"%s\",\"window_s\":%.3f,"
	       "\"gpu_busy\":%.4f,\"jain\":%.4f,\"max_share_error\":%.4f,"
	       "\"vms\":[", name, sched, (b - a) / 1e9, busy, jain, err);
	fprintf(stderr, "%-10s sched=%-3s busy=%5.1f%% jain=%.4f err=%5.2f%% ",
		name, sched, 100 * busy, jain, 100 * err);
	for (int i = 0; i < nv; i++) {
		struct vm *v = &vms[i];
		printf("%s{\"vm\":\"%s\",\"weight\":%g,\"procs\":%d,"
		       "\"share\":%.4f,\"of_busy\":%.4f", i ? "," : "",
		       v->name, v->weight, v->np, v->share,
		       tot > 0 ? v->ran / tot : 0);
		fprintf(stderr, " %s=%.1f%%", v->name,
			tot > 0 ? 100 * v->ran / tot : 0);
		/* latencies of launches that started in the window */
		size_t nl = 0, cap = 0;
		double *l = NULL;
		for (int j = 0; j < v->np; j++)
			cap += v->p[j].nl;
		l = cap ? malloc(cap * sizeof(*l)) : NULL;
		for (int j = 0; j < v->np; j++)
			for (size_t k = 0; k < v->p[j].nl; k++)
				if ((double)v->p[j].lat_at[k] >= a &&
				    (double)v->p[j].lat_at[k] <= b)
					l[nl++] = v->p[j].lat[k];
		if (nl) {
			qsort(l, nl, sizeof(*l), cmp_d);
			double p50 = l[nl / 2] / 1e6,
			       p99 = l[(size_t)((double)(nl - 1) * 0.99)] / 1e6;
			printf(",\"launches\":%zu,\"lat_p50_ms\":%.3f,"
			       "\"lat_p99_ms\":%.3f", nl, p50, p99);
			fprintf(stderr, " (p50 %.3f ms p99 %.3f ms, n=%zu)", p50,
				p99, nl);
		}
		free(l);
		printf("}");
	}
	printf("]}\n");
	fprintf(stderr, "\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "run"))
		return run(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "report"))
		return report(argc - 1, argv + 1);
	fprintf(stderr, "usage: fairness run|report ... (see bench/fairness.c)\n");
	return 2;
}
