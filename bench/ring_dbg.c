#define _GNU_SOURCE
/* bench/ring.c - ring latency, throughput and idle-cost figures, as JSON.
 *
 * A benchmark, not a test: it fails on errors only (a ring call failing,
 * the peer reporting corrupt traffic), never on speed. Every figure comes
 * from two processes, as in production: tests/support/peer.c, forked as the
 * daemon's stand-in, serves a region file in /dev/shm, and this process
 * connects to it the way a guest library does (guest/conn.h). usage() says
 * what each output line means.
 */
#include "guest/conn.h"
#include <stdlib.h>
#include "tests/support/peer.h"
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define GIB (1ull << 30)
#define MIB (1ull << 20)
/* Stream buffers beyond this wrap around: a longer logical stream keeps
 * the same cost per byte (the buffer is far larger than any cache) without
 * asking for that much memory. */
#define BUF_CAP GIB

/* ------------------------------------------------------------------ */
/* options */

struct opts {
	double seconds;        /* each timed round-trip/throughput metric */
	uint64_t out_bytes;    /* stream_out logical length */
	uint64_t in_bytes;     /* stream_in_source logical length */
	uint64_t chunk;        /* stream chunk; 0: half a lane */
	double settle_s;       /* idle_cpu: time for the peer to fall asleep */
	double window_s;       /* idle_cpu: measurement window */
	uint32_t idle_samples; /* idle_latency samples per doorbell kind */
	uint32_t idle_gap_ms;  /* idle_latency: quiet time before each one */
	uint32_t threads;      /* rtt_shared: guest threads on one channel */
	bool quick, nopin;
};

static void usage(FILE *f)
{
	fputs(
"NAME\n"
"    ring - vgpu shared-memory ring benchmark (JSON lines)\n"
"\n"
"SYNOPSIS\n"
"    build/bench/ring [--quick] [--seconds S] [--threads N]\n"
"                     [--stream-bytes N] [--stream-in-bytes N] [--chunk N]\n"
"                     [--settle S] [--idle-seconds S]\n"
"                     [--idle-samples N] [--idle-gap-ms MS] [--no-pin]\n"
"\n"
"DESCRIPTION\n"
"    Forks the ring test peer (tests/support/peer.c, the daemon's stand-in)\n"
"    serving a region file in /dev/shm, connects to it as a guest library\n"
"    does (VGPU_REGION, guest/conn.h) and measures the ring between the two\n"
"    processes. The client and the peer are pinned to different physical\n"
"    cores where the CPU affinity mask allows it.\n"
"\n"
"    It is a benchmark, not a test: it never fails because of speed, only\n"
"    because a ring call failed or the peer saw corrupt traffic. A full run\n"
"    takes about 3*S + 2*(settle + idle window) + 2*samples*gap seconds plus\n"
"    the streams: some 20 s with the defaults; --quick about 3 s.\n"
"\n"
"OUTPUT\n"
"    One JSON object per line on stdout. Every object has \"bench\":\"ring\"\n"
"    and \"metric\"; units are part of the key names (_us, _ns, _s,\n"
"    _per_s, _bytes, gb_per_s = 1e9 bytes/s). Measurement lines also carry\n"
"    the wait policies in effect (ring/wait.h): \"wait_guest\" of the client\n"
"    and \"wait_host\" of the peer, and the region geometry.\n"
"\n"
"    host              nproc, allowed CPUs, CPU model, kernel, compiler,\n"
"                      whether sanitizers are on (figures then mean\n"
"                      little), the CPUs chosen (-1: not pinned).\n"
"    rtt               null request (OP_NULL, reply awaited) from one\n"
"                      thread: p50/p99/p99.9/max latency, requests/s.\n"
"    rtt_shared        the same from N threads sharing one channel:\n"
"                      per-request percentiles, aggregate requests/s.\n"
"    oneway            OP_NULL with VGPU_MSG_NOREPLY in a burst, closed by\n"
"                      one awaited request: messages/s delivered.\n"
"    stream_out        vgpu_stream_out of a pageable buffer through one\n"
"                      arena lane, the peer answering each chunk with\n"
"                      OP_NULL: the guest's copy into the arena plus the\n"
"                      ring, in GB/s, with the chunk size.\n"
"    stream_in_source  vgpu_stream_in with OP_SOURCE: the peer generates\n"
"                      every byte (gen_bytes), so this is bounded by that\n"
"                      generator and is not a ring bandwidth figure.\n"
"    idle_latency      first null round trip after an idle gap, twice:\n"
"                      doorbell \"futex\" (a region file: the guest wakes\n"
"                      the sleeping peer) and \"none\" (as a VM guest sees\n"
"                      it: the peer notices only when its sleep times out).\n"
"    idle_cpu          CPU use of the idle peer with 1 and with 64 claimed\n"
"                      but silent channels: utime+stime from /proc/PID/stat\n"
"                      in percent of one core, the same from\n"
"                      /proc/PID/schedstat (ns resolution) and wake-ups/s.\n"
"\n"
"OPTIONS\n"
"    -q, --quick            short run for CI smoke tests; later options\n"
"                           still override its values.\n"
"    -s, --seconds S        length of rtt, rtt_shared and oneway\n"
"                           (default 2; --quick 0.2).\n"
"    -t, --threads N        threads of rtt_shared, 1..64 (default 4).\n"
"        --stream-bytes N   logical bytes of stream_out (default 1G;\n"
"                           --quick 64M). Suffixes K, M, G are binary.\n"
"        --stream-in-bytes N\n"
"                           logical bytes of stream_in_source (default\n"
"                           256M; --quick 16M).\n"
"        --chunk N          stream chunk size (default: half a lane, the\n"
"                           largest; smaller values are honoured).\n"
"        --settle S         idle_cpu: wait before measuring (default 1).\n"
"        --idle-seconds S   idle_cpu window (default 3; --quick 0.5).\n"
"        --idle-samples N   idle_latency samples (default 20; --quick 5).\n"
"        --idle-gap-ms MS   idle time before each sample (default 50),\n"
"                           plus a random 0..4 peer sleep intervals.\n"
"        --no-pin           do not pin the client or the peer.\n"
"    -h, --help             this text.\n"
"\n"
"ENVIRONMENT\n"
"    VGPU_SPIN_NS, VGPU_YIELD_NS, VGPU_SLEEP_MIN_US, VGPU_SLEEP_MAX_US\n"
"        override the client's wait policy (reported in wait_guest).\n"
"    VGPU_LANES\n"
"        arena lanes per channel (default 4): sets the lane and the\n"
"        largest chunk size.\n"
"    VGPU_REGION is set by the benchmark itself to the peer's file.\n"
"\n"
"EXIT STATUS\n"
"    0  every measurement completed without error.\n"
"    1  a ring call failed or the peer reported corrupt messages.\n"
"    2  bad usage, or the peer could not be started.\n"
"\n"
"EXAMPLES\n"
"    make bench\n"
"    build/bench/ring --quick | jq -c '{metric, p50_us, gb_per_s}'\n",
		f);
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	int sh = 0;
	switch (*end) {
	case 'k': case 'K': sh = 10; end++; break;
	case 'm': case 'M': sh = 20; end++; break;
	case 'g': case 'G': sh = 30; end++; break;
	}
	if (errno || end == s || *end || *s == '-' || v == 0 ||
	    v > (UINT64_MAX >> sh))
		return -1;
	*out = (uint64_t)v << sh;
	return 0;
}

static int parse_secs(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !(v > 0 && v <= 600))
		return -1;
	*out = v;
	return 0;
}

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Options left at 0 get the full or the quick default, so that --quick
 * and explicit values combine in any order. */
static void opts_defaults(struct opts *o)
{
	bool q = o->quick;
	if (!o->seconds)
		o->seconds = q ? 0.2 : 2.0;
	if (!o->out_bytes)
		o->out_bytes = q ? 64 * MIB : GIB;
	if (!o->in_bytes)
		o->in_bytes = q ? 16 * MIB : 256 * MIB;
	if (!o->settle_s)
		o->settle_s = q ? 0.2 : 1.0;
	if (!o->window_s)
		o->window_s = q ? 0.5 : 3.0;
	if (!o->idle_samples)
		o->idle_samples = q ? 5 : 20;
	if (!o->idle_gap_ms)
		o->idle_gap_ms = 50;
	if (!o->threads)
		o->threads = 4;
}

static int opt_value(struct opts *o, int c, const char *a)
{
	switch (c) {
	case 's': return parse_secs(a, &o->seconds);
	case 't': return parse_u32(a, 1, MAX_THREADS, &o->threads);
	case 'O': return parse_size(a, &o->out_bytes);
	case 'I': return parse_size(a, &o->in_bytes);
	case 'C': return parse_size(a, &o->chunk);
	case 'S': return parse_secs(a, &o->settle_s);
	case 'W': return parse_secs(a, &o->window_s);
	case 'N': return parse_u32(a, 1, 100000, &o->idle_samples);
	case 'G': return parse_u32(a, 1, 10000, &o->idle_gap_ms);
	}
	return -1;
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"quick", 0, 0, 'q'},        {"seconds", 1, 0, 's'},
		{"threads", 1, 0, 't'},      {"stream-bytes", 1, 0, 'O'},
		{"stream-in-bytes", 1, 0, 'I'}, {"chunk", 1, 0, 'C'},
		{"settle", 1, 0, 'S'},       {"idle-seconds", 1, 0, 'W'},
		{"idle-samples", 1, 0, 'N'}, {"idle-gap-ms", 1, 0, 'G'},
		{"no-pin", 0, 0, 'P'},       {"help", 0, 0, 'h'},
		{0, 0, 0, 0}};
	int c;
	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "qs:t:h", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == 'q' || c == 'P') {
			if (c == 'q')
				o->quick = true;
			else
				o->nopin = true;
			continue;
		}
		if (c == '?' || opt_value(o, c, optarg) != 0) {
			if (c != '?')
				fprintf(stderr, "ring: bad value '%s'\n",
					optarg);
			fprintf(stderr, "Try 'ring --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ring: unexpected argument '%s'\n"
			"Try 'ring --help'.\n", argv[optind]);
		return 2;
	}
	if (o->chunk && o->chunk < 4096) {
		fprintf(stderr, "ring: --chunk must be at least 4K\n");
		return 2;
	}
	opts_defaults(o);
	return -1;
}

/* ------------------------------------------------------------------ */
/* JSON lines: one object built in a buffer, written with one fputs so
 * that a line is never torn. */

struct jline {
	char b[4096];
	size_t n;
};

static void jput(struct jline *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(l->b + l->n, sizeof(l->b) - l->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		l->n += (size_t)k < sizeof(l->b) - l->n
				? (size_t)k
				: sizeof(l->b) - l->n - 1;
}

static void jesc(struct jline *l, const char *s)
{
	jput(l, "\"");
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			jput(l, "\\%c", ch);
		else if (ch < 0x20)
			jput(l, "\\u%04x", ch);
		else
			jput(l, "%c", ch);
	}
	jput(l, "\"");
}

static void jbegin(struct jline *l, const char *metric)
{
	l->n = 0;
	jput(l, "{\"bench\":\"ring\",\"metric\":\"%s\"", metric);
}

static void jstr(struct jline *l, const char *k, const char *v)
{
	jput(l, ",\"%s\":", k);
	jesc(l, v);
}

static void ju64(struct jline *l, const char *k, uint64_t v)
{
	jput(l, ",\"%s\":%llu", k, (unsigned long long)v);
}

static void jint(struct jline *l, const char *k, long long v)
{
	jput(l, ",\"%s\":%lld", k, v);
}

static void jdbl(struct jline *l, const char *k, double v, int decimals)
{
	jput(l, ",\"%s\":%.*f", k, decimals, v);
}

static void jbool(struct jline *l, const char *k, bool v)
{
	jput(l, ",\"%s\":%s", k, v ? "true" : "false");
}

static void jints(struct jline *l, const char *k, const int *v, int n)
{
	jput(l, ",\"%s\":[", k);
	for (int i = 0; i < n; i++)
		jput(l, "%s%d", i ? "," : "", v[i]);
	jput(l, "]");
}

static void jwait(struct jline *l, const char *k,
		  const struct vgpu_waitpolicy *p)
{
	jput(l, ",\"%s\":{\"spin_ns\":%u,\"yield_ns\":%u,\"sleep_min_us\":%u,"
		"\"sleep_max_us\":%u,\"futex\":%s}", k, p->spin_ns,
	     p->yield_ns, p->sleep_min_us, p->sleep_max_us,
	     p->futex ? "true" : "false");
}

static void jgeom(struct jline *l, const struct vgpu_geom *g)
{
	jput(l, ",\"region\":{\"channels\":%u,\"slots\":%u,\"slot_bytes\":%u,"
		"\"arena_per_channel_bytes\":%llu}", g->nchannels, g->nslots,
	     g->slot_size, (unsigned long long)g->arena_per_chan);
}

static void jend(struct jline *l)
{
	jput(l, "}\n");
	fputs(l->b, stdout);
	fflush(stdout); /* a line per metric as it completes, even piped */
}

/* ------------------------------------------------------------------ */
/* latency samples */

struct lat {
	uint32_t *ns; /* 4.29 s max per sample is plenty for a round trip */
	size_t n, cap;
};

static int lat_init(struct lat *L, size_t cap)
{
	/* Large and lazily faulted: untouched capacity costs no memory. */
	L->ns = malloc(cap * sizeof(*L->ns));
	L->n = 0;
	L->cap = L->ns ? cap : 0;
	if (!L->ns)
		fprintf(stderr, "ring: out of memory for %zu samples\n", cap);
	return L->ns ? 0 : VGPU_E_INVAL;
}

static void lat_add(struct lat *L, uint64_t ns)
{
	if (L->n < L->cap)
		L->ns[L->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples, in microseconds. */
static double lat_pct_us(const struct lat *L, double p)
{
	if (!L->n)
		return 0;
	double r = p * (double)L->n;
	size_t k = (size_t)r;
	if ((double)k < r)
		k++;
	if (k == 0)
		k = 1;
	return L->ns[k - 1] / 1000.0;
}

static void jlat(struct jline *l, struct lat *L, bool tails)
{
	qsort(L->ns, L->n, sizeof(*L->ns), cmp_u32);
	ju64(l, "samples", L->n);
	jdbl(l, "p50_us", lat_pct_us(L, 0.50), 3);
	if (tails) {
		jdbl(l, "p99_us", lat_pct_us(L, 0.99), 3);
		jdbl(l, "p999_us", lat_pct_us(L, 0.999), 3);
	}
	jdbl(l, "max_us", lat_pct_us(L, 1.0), 3);
}

/* Room for every sample a run of secs could take at 2 per microsecond,
 * faster than any cross-core round trip. */
static size_t lat_cap(double secs)
{
	return (size_t)(secs * 2e6) + 4096;
}

/* ------------------------------------------------------------------ */
/* CPU placement */

struct place {
	int nallowed;
	int client, peer;          /* -1: not pinned */
	int workers[MAX_THREADS];  /* CPUs for rtt_shared, reused cyclically */
	int nworkers;
};

/* Parse a kernel CPU list ("0-3,8,10-11"). */
static void cpulist_parse(const char *s, cpu_set_t *set)
{
	CPU_ZERO(set);
	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;
		if (end == s)
			return;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		for (long i = a; i <= b && i < CPU_SETSIZE; i++)
			if (i >= 0)
				CPU_SET((int)i, set);
		s = *end == ',' ? end + 1 : end;
		if (*s == '\n' || !*s)
			return;
	}
}

/* Hyperthread siblings of cpu (itself included): two siblings share a
 * core's caches and pipeline, which would flatter the round trip. */
static void siblings(int cpu, cpu_set_t *set)
{
	char path[128], buf[256] = "";
	snprintf(path, sizeof(path),
		 "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list",
		 cpu);
	FILE *f = fopen(path, "re");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	cpulist_parse(buf, set);
	CPU_SET(cpu, set);
}

/* First allowed CPU, other than avoid, on another core than avoid (or
 * merely another CPU if every allowed CPU shares avoid's core). */
static int other_core(const cpu_set_t *allowed, int avoid)
{
	cpu_set_t sib;
	int any = -1;
	siblings(avoid, &sib);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, allowed) || c == avoid)
			continue;
		if (!CPU_ISSET(c, &sib))
			return c;
		if (any < 0)
			any = c;
	}
	return any;
}

/* Worker CPUs: one per core, never on the peer's core; the client's CPU
 * first. With too few cores they are reused cyclically. */
static void pick_workers(struct place *pl, const cpu_set_t *allowed,
			 uint32_t want)
{
	cpu_set_t used;
	siblings(pl->peer, &used);
	pl->nworkers = 0;
	for (int c = pl->client; pl->nworkers < (int)want && c < CPU_SETSIZE;
	     c++) {
		if (!CPU_ISSET(c, allowed) || CPU_ISSET(c, &used))
			continue;
		cpu_set_t sib;
		siblings(c, &sib);
		CPU_OR(&used, &used, &sib);
		pl->workers[pl->nworkers++] = c;
	}
	if (!pl->nworkers)
		pl->workers[pl->nworkers++] = pl->client;
}

static void place_init(struct place *pl, uint32_t threads, bool nopin)
{
	cpu_set_t allowed;
	memset(pl, 0, sizeof(*pl));
	pl->client = pl->peer = -1;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return;
	pl->nallowed = CPU_COUNT(&allowed);
	if (nopin || pl->nallowed < 2)
		return;
	for (int c = 0; c < CPU_SETSIZE && pl->client < 0; c++)
		if (CPU_ISSET(c, &allowed))
			pl->client = c;
	pl->peer = other_core(&allowed, pl->client);
	pick_workers(pl, &allowed, threads);
}

/* Pins the calling thread (Linux affinity is per thread). */
static int pin_cpu(int cpu)
{
	if (cpu < 0)
		return 0;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == 0)
		return 0;
	fprintf(stderr, "ring: cannot pin to CPU %d: %s\n", cpu,
		strerror(errno));
	return VGPU_E_INVAL;
}

/* ------------------------------------------------------------------ */
/* host line */

static void cpu_model(char *out, size_t len)
{
	char line[512];
	snprintf(out, len, "unknown");
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) != 0 || !colon)
			continue;
		colon += 1 + (colon[1] == ' ');
		colon[strcspn(colon, "\n")] = 0;
		snprintf(out, len, "%s", colon);
		break;
	}
	fclose(f);
}

static bool sanitized(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
	return true;
#else
	return false;
#endif
#else
	return false;
#endif
}

static void emit_host(const struct opts *o, const struct place *pl)
{
	struct jline l;
	struct utsname u;
	char model[256];
	cpu_model(model, sizeof(model));
	if (uname(&u) != 0)
		snprintf(u.release, sizeof(u.release), "unknown");
	jbegin(&l, "host");
	jint(&l, "nproc", sysconf(_SC_NPROCESSORS_ONLN));
	jint(&l, "cpus_allowed", pl->nallowed);
	jstr(&l, "cpu_model", model);
	jstr(&l, "kernel", u.release);
#if defined(__clang__)
	jstr(&l, "compiler", __VERSION__); /* "Clang x.y.z ..." */
#else
	jstr(&l, "compiler", "gcc " __VERSION__);
#endif
	jbool(&l, "sanitized", sanitized()); /* figures then mean little */
	jbool(&l, "pinned", pl->client >= 0);
	jint(&l, "client_cpu", pl->client);
	jint(&l, "peer_cpu", pl->peer);
	jbool(&l, "quick", o->quick);
	jdbl(&l, "seconds_per_metric", o->seconds, 3);
	jend(&l);
}

/* ------------------------------------------------------------------ */
/* peer process */

/* The live peer, for the signal handler: an interrupted run must not
 * leave a spinning process or a region file behind. */
static volatile pid_t g_peer_pid;
static char g_peer_path[128];

static void on_signal(int sig)
{
	if (g_peer_pid > 0)
		kill(g_peer_pid, SIGTERM);
	if (g_peer_path[0])
		unlink(g_peer_path);
	_exit(128 + sig);
}

static void install_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static int start_peer(struct peer *p, const struct vgpu_geom *g, int cpu)
{
	struct peer_opts po = {.cpu = cpu >= 0 ? cpu + 1 : 0};
	memset(p, 0, sizeof(*p));
	int rc = peer_start(p, g, &po);
	if (rc == 0) {
		memcpy(g_peer_path, p->path, sizeof(g_peer_path));
		g_peer_pid = p->pid;
		return 0;
	}
	fprintf(stderr, "ring: cannot start the peer on %s: %s\n", p->path,
		strerror(errno));
	if (p->pid > 0) /* forked but never READY: don't leave it running */
		peer_stop(p);
	else
		unlink(p->path);
	return -1;
}

/* Returns the peer's exit status: 0 = it saw no corrupt message. */
static int stop_peer(struct peer *p)
{
	g_peer_pid = 0;
	int st = peer_stop(p);
	g_peer_path[0] = 0;
	if (st)
		fprintf(stderr, "ring: the peer exited with status %d\n", st);
	return st;
}

/* ------------------------------------------------------------------ */
/* helpers on a channel */

struct ctx {
	const struct opts *o;
	const struct place *pl;
	struct peer peer;
	struct vgpu_geom geom;
	struct vgpu_conn conn;
	struct vgpu_waitpolicy host_wait;
};

static uint64_t secs_ns(double s)
{
	return (uint64_t)(s * 1e9);
}

/* x per second; a zero-length window (clock trouble) gives 0, since
 * JSON has no infinity. */
static double per_s(double x, double secs)
{
	return secs > 0 ? x / secs : 0;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
			      .tv_nsec = (long)(ns % 1000000000ull)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int result_err(int32_t result)
{
	return result == 0 ? 0 : result < 0 ? result : VGPU_E_REMOTE;
}

static int null_call(struct vgpu_gchan *c)
{
	struct vgpu_req q = {.op = OP_NULL};
	struct vgpu_resp p = {0};
	int rc = vgpu_gchan_call(c, &q, &p);
	return rc ? rc : result_err(p.result);
}

static int warm_up(struct vgpu_gchan *c, int n)
{
	int rc = 0;
	for (int i = 0; i < n && !rc; i++)
		rc = null_call(c);
	return rc;
}

static int get_stats(struct vgpu_gchan *c, struct peer_stats *st)
{
	struct vgpu_req q = {.op = OP_STATS};
	struct vgpu_resp p = {.data = st, .cap = sizeof(*st)};
	int rc = vgpu_gchan_call(c, &q, &p);
	return rc ? rc : result_err(p.result);
}

/* Times null round trips until deadline or until L is full. */
static int rtt_loop(struct vgpu_gchan *c, struct lat *L, uint64_t deadline)
{
	while (L->n < L->cap) {
		uint64_t t0 = vgpu_now_ns();
		int rc = null_call(c);
		uint64_t t1 = vgpu_now_ns();
		if (rc)
			return rc;
		lat_add(L, t1 - t0);
		if (t1 >= deadline)
			break;
	}
	return 0;
}

/* The fields every measurement line carries. */
static void jcommon(struct jline *l, const struct ctx *x,
		    const struct vgpu_waitpolicy *guest)
{
	jwait(l, "wait_guest", guest);
	jwait(l, "wait_host", &x->host_wait);
	jgeom(l, &x->geom);
}

/* ------------------------------------------------------------------ */
/* metric: rtt */

static int bench_rtt(struct ctx *x)
{
	struct lat L;
	int rc = warm_up(&x->conn.ch, 1000);
	if (rc || (rc = lat_init(&L, lat_cap(x->o->seconds))))
		return rc;
	uint64_t t0 = vgpu_now_ns();
	rc = rtt_loop(&x->conn.ch, &L, t0 + secs_ns(x->o->seconds));
	double el = (double)(vgpu_now_ns() - t0) / 1e9;
	if (!rc) {
		struct jline l;
		jbegin(&l, "rtt");
		jint(&l, "threads", 1);
		jints(&l, "client_cpus", &x->pl->client, 1);
		jint(&l, "peer_cpu", x->pl->peer);
		jdbl(&l, "seconds", el, 3);
		jdbl(&l, "requests_per_s", per_s((double)L.n, el), 0);
		jlat(&l, &L, true);
		jcommon(&l, x, &x->conn.ch.wait);
		jend(&l);
	}
	free(L.ns);
	return rc;
}

/* ------------------------------------------------------------------ */
/* metric: rtt_shared */

/* Start line of the workers: each reports ready once warm, then waits
 * for the main thread to publish the common deadline (0: not yet). A gate
 * rather than a barrier, so that a thread that failed to start cannot
 * leave the others waiting forever. */
struct gate {
	_Atomic uint32_t ready;
	_Atomic uint64_t deadline;
};

struct worker {
	struct vgpu_gchan *ch;
	struct gate *g;
	int cpu;
	int rc;
	struct lat L;
	uint64_t end_ns;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t deadline;
	w->rc = pin_cpu(w->cpu);
	if (!w->rc)
		w->rc = warm_up(w->ch, 200);
	atomic_fetch_add(&w->g->ready, 1);
	while (!(deadline = atomic_load(&w->g->deadline)))
		sched_yield(); /* threads may share a CPU with the main one */
	if (!w->rc)
		w->rc = rtt_loop(w->ch, &w->L, deadline);
	w->end_ns = vgpu_now_ns();
	return NULL;
}

/* All threads' samples in one set, for per-request percentiles. */
static int merge_lats(struct worker *w, uint32_t n, struct lat *all)
{
	size_t total = 0;
	for (uint32_t i = 0; i < n; i++)
		total += w[i].L.n;
	int rc = lat_init(all, total ? total : 1);
	for (uint32_t i = 0; i < n && !rc; i++) {
		memcpy(all->ns + all->n, w[i].L.ns, w[i].L.n * sizeof(uint32_t));
		all->n += w[i].L.n;
	}
	return rc;
}

static void emit_shared(struct ctx *x, struct worker *w, uint32_t n,
			struct lat *all, double el)
{
	struct jline l;
	int cpus[MAX_THREADS];
	for (uint32_t i = 0; i < n; i++)
		cpus[i] = w[i].cpu;
	jbegin(&l, "rtt_shared");
	jint(&l, "threads", n);
	jints(&l, "client_cpus", cpus, (int)n);
	jint(&l, "peer_cpu", x->pl->peer);
	jdbl(&l, "seconds", el, 3);
	jdbl(&l, "requests_per_s", per_s((double)all->n, el), 0);
	jlat(&l, all, true);
	jcommon(&l, x, &x->conn.ch.wait);
	jend(&l);
}

static int init_workers(struct ctx *x, struct worker *w, uint32_t n,
			struct gate *g)
{
	int rc = 0;
	for (uint32_t i = 0; i < n && !rc; i++) {
		w[i] = (struct worker){.ch = &x->conn.ch, .g = g, .cpu = -1};
		if (x->pl->nworkers)
			w[i].cpu = x->pl->workers[i % x->pl->nworkers];
		rc = lat_init(&w[i].L, lat_cap(x->o->seconds));
	}
	return rc;
}

static int run_workers(struct ctx *x, struct worker *w, uint32_t n,
		       double *el)
{
	pthread_t tid[MAX_THREADS];
	struct gate g = {0};
	uint32_t started = 0;
	int rc = init_workers(x, w, n, &g);
	for (; started < n && !rc; started++)
		if (pthread_create(&tid[started], NULL, worker_main,
				   &w[started]) != 0) {
			fprintf(stderr, "ring: cannot start thread %u\n",
				started);
			rc = VGPU_E_INVAL;
			break;
		}
	while (atomic_load(&g.ready) < started)
		sched_yield();
	uint64_t t0 = vgpu_now_ns(), end = t0;
	/* On failure a deadline in the past lets the started ones finish. */
	atomic_store(&g.deadline, rc ? 1 : t0 + secs_ns(x->o->seconds));
	for (uint32_t i = 0; i < started; i++) {
		pthread_join(tid[i], NULL);
		rc = rc ? rc : w[i].rc;
		end = w[i].end_ns > end ? w[i].end_ns : end;
	}
	*el = (double)(end - t0) / 1e9;
	return rc;
}

static int bench_rtt_shared(struct ctx *x)
{
	uint32_t n = x->o->threads;
	struct worker *w = calloc(n, sizeof(*w));
	struct lat all = {0};
	double el = 0;
	if (!w)
		return VGPU_E_INVAL;
	int rc = run_workers(x, w, n, &el);
	if (!rc)
		rc = merge_lats(w, n, &all);
	if (!rc)
		emit_shared(x, w, n, &all, el);
	for (uint32_t i = 0; i < n; i++)
		free(w[i].L.ns);
	free(all.ns);
	free(w);
	return rc;
}

/* ------------------------------------------------------------------ */
/* metric: oneway */

/* NOREPLY messages until the deadline; returns how many were sent. */
static int burst(struct vgpu_gchan *c, uint64_t deadline, uint64_t *sent)
{
	struct vgpu_req q = {.op = OP_NULL, .flags = VGPU_MSG_NOREPLY};
	*sent = 0;
	for (;;) {
		/* The clock every 256 messages: a message costs ~100 ns. */
		for (int i = 0; i < 256; i++) {
			int rc = vgpu_gchan_call(c, &q, NULL);
			if (rc)
				return rc;
		}
		*sent += 256;
		if (vgpu_now_ns() >= deadline)
			return 0;
	}
}

static int bench_oneway(struct ctx *x)
{
	struct vgpu_gchan *c = &x->conn.ch;
	struct peer_stats s0, s1;
	uint64_t sent = 0;
	int rc = get_stats(c, &s0);
	uint64_t t0 = vgpu_now_ns();
	if (!rc)
		rc = burst(c, t0 + secs_ns(x->o->seconds), &sent);
	/* One awaited request: the ring is in order, so when it is answered
	 * every message before it has been consumed. */
	if (!rc)
		rc = null_call(c);
	double el = (double)(vgpu_now_ns() - t0) / 1e9;
	if (!rc)
		rc = get_stats(c, &s1);
	/* The peer counts the burst, the closing null and the 2nd STATS. */
	if (!rc && (s1.executed - s0.executed != sent + 2 || s1.bad != s0.bad)) {
		fprintf(stderr, "ring: oneway: sent %llu, peer executed %llu, "
			"bad %llu\n", (unsigned long long)sent,
			(unsigned long long)(s1.executed - s0.executed - 2),
			(unsigned long long)(s1.bad - s0.bad));
		rc = VGPU_E_LOST;
	}
	if (!rc) {
		struct jline l;
		jbegin(&l, "oneway");
		ju64(&l, "messages", sent);
		jdbl(&l, "seconds", el, 3);
		jdbl(&l, "msgs_per_s", per_s((double)sent, el), 0);
		jcommon(&l, x, &c->wait);
		jend(&l);
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* metrics: stream_out, stream_in_source */

struct wrapbuf {
	uint8_t *p;
	uint64_t len;
};

/* fill/drain over a buffer shorter than the stream: offset modulo len. */
static int fill_wrap(void *ctx, void *dst, uint64_t off, uint64_t n)
{
	struct wrapbuf *w = ctx;
	for (uint8_t *d = dst; n;) {
		uint64_t at = off % w->len, k = w->len - at < n ? w->len - at : n;
		memcpy(d, w->p + at, k);
		d += k, off += k, n -= k;
	}
	return 0;
}

static int drain_wrap(void *ctx, const void *src, uint64_t off, uint64_t n)
{
	struct wrapbuf *w = ctx;
	for (const uint8_t *s = src; n;) {
		uint64_t at = off % w->len, k = w->len - at < n ? w->len - at : n;
		memcpy(w->p + at, s, k);
		s += k, off += k, n -= k;
	}
	return 0;
}

/* A pageable buffer, faulted in first: a CUDA program's buffers are
 * resident, and first-touch faults are not the ring's cost. */
static int buf_alloc(struct wrapbuf *w, uint64_t total)
{
	w->len = total < BUF_CAP ? total : BUF_CAP;
	w->p = malloc(w->len);
	if (!w->p) {
		fprintf(stderr, "ring: out of memory for a %llu-byte buffer\n",
			(unsigned long long)w->len);
		return VGPU_E_INVAL;
	}
	memset(w->p, 0x5a, w->len);
	return 0;
}

/* The chunk vgpu_stream_* will use (stream.c's chunk_len, not exported):
 * half the lane, 64-byte aligned, or the requested one if smaller. */
static uint64_t chunk_used(const struct vgpu_stream *st)
{
	uint64_t half = (st->lane->len / 2) & ~63ull;
	return st->chunk && st->chunk < half ? st->chunk : half;
}

static void emit_stream(struct ctx *x, const char *metric,
			const struct vgpu_stream *st, const struct wrapbuf *w,
			double el, const char *note)
{
	struct jline l;
	jbegin(&l, metric);
	ju64(&l, "bytes", st->total);
	ju64(&l, "chunk_bytes", chunk_used(st));
	ju64(&l, "lane_bytes", st->lane->len);
	ju64(&l, "buffer_bytes", w->len);
	jdbl(&l, "seconds", el, 3);
	jdbl(&l, "gb_per_s", per_s((double)st->total / 1e9, el), 3);
	jcommon(&l, x, &x->conn.ch.wait);
	jstr(&l, "note", note);
	jend(&l);
}

/* One timed stream; a short untimed one first faults the lane's arena
 * pages in, which only the first transfer ever pays. */
static int timed_stream(struct vgpu_stream *st, bool out, struct wrapbuf *w,
			double *el)
{
	int32_t res = 0;
	uint64_t total = st->total;
	bool fits = total <= w->len;
	vgpu_fill_fn fill = fits ? vgpu_fill_memcpy : fill_wrap;
	vgpu_drain_fn drain = fits ? vgpu_drain_memcpy : drain_wrap;
	void *ctx = fits ? (void *)w->p : (void *)w;
	st->total = total < st->lane->len ? total : st->lane->len;
	int rc = out ? vgpu_stream_out(st, fill, ctx, &res)
		     : vgpu_stream_in(st, drain, ctx, &res);
	st->total = total;
	uint64_t t0 = vgpu_now_ns();
	if (!rc && !res)
		rc = out ? vgpu_stream_out(st, fill, ctx, &res)
			 : vgpu_stream_in(st, drain, ctx, &res);
	*el = (double)(vgpu_now_ns() - t0) / 1e9;
	return rc ? rc : result_err(res);
}

static int bench_stream(struct ctx *x, bool out)
{
	static const uint64_t seed = 0x5eed;
	struct vgpu_lane ln;
	struct wrapbuf w;
	double el = 0;
	uint64_t total = out ? x->o->out_bytes : x->o->in_bytes;
	int rc = buf_alloc(&w, total);
	if (rc)
		return rc;
	vgpu_lane_get(&x->conn.lanes, &ln);
	struct vgpu_stream st = {.c = &x->conn.ch, .lane = &ln,
				 .op = out ? OP_NULL : OP_SOURCE,
				 .arg = out ? NULL : &seed,
				 .arglen = out ? 0 : 8, .total = total,
				 .chunk = x->o->chunk};
	rc = timed_stream(&st, out, &w, &el);
	vgpu_lane_put(&x->conn.lanes, &ln);
	if (!rc && out)
		emit_stream(x, "stream_out", &st, &w, el,
			    "guest memcpy from a pageable buffer into the "
			    "arena plus one OP_NULL round trip per chunk, two "
			    "chunks in flight; the peer does not read the data");
	else if (!rc)
		emit_stream(x, "stream_in_source", &st, &w, el,
			    "OP_SOURCE: the peer generates every byte with "
			    "gen_bytes (splitmix64 per 8 bytes) and the guest "
			    "copies it out; bounded by that generator, not a "
			    "ring bandwidth figure");
	free(w.p);
	return rc;
}

static int bench_stream_out(struct ctx *x)
{
	return bench_stream(x, true);
}

static int bench_stream_in(struct ctx *x)
{
	return bench_stream(x, false);
}

/* ------------------------------------------------------------------ */
/* metric: idle_latency */

/* Each gap starts right after the previous request, when the peer's
 * spin-yield-sleep sequence restarts, so equal gaps would always land at
 * the same phase of its sleep timer and every sample would read the same
 * residual sleep. A random extra of up to 4 sleep intervals spreads the
 * phase uniformly. */
static uint64_t gap_ns(const struct ctx *x, uint64_t *rng)
{
	uint64_t span = 4000ull * (x->host_wait.sleep_max_us
					   ? x->host_wait.sleep_max_us
					   : 1000);
	*rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
	return x->o->idle_gap_ms * 1000000ull + (*rng >> 33) % span;
}

static int idle_samples(struct ctx *x, struct vgpu_gchan *c, struct lat *L)
{
	uint64_t rng = vgpu_now_ns();
	int rc = warm_up(c, 10);
	for (uint32_t i = 0; i < x->o->idle_samples && !rc; i++) {
		sleep_ns(gap_ns(x, &rng));
		uint64_t t0 = vgpu_now_ns();
		rc = null_call(c);
		lat_add(L, vgpu_now_ns() - t0);
		if (getenv("DBG")) fprintf(stderr, "S %s %llu\n", c->futex ? "futex" : "none", (unsigned long long)(vgpu_now_ns() - t0)/1000);
	}
	return rc;
}

static int idle_latency(struct ctx *x, struct vgpu_gchan *c,
			const char *doorbell, const char *note)
{
	struct lat L;
	int rc = lat_init(&L, x->o->idle_samples);
	if (!rc)
		rc = idle_samples(x, c, &L);
	if (!rc) {
		struct jline l;
		jbegin(&l, "idle_latency");
		jstr(&l, "doorbell", doorbell);
		ju64(&l, "idle_ms", x->o->idle_gap_ms);
		jlat(&l, &L, false);
		jcommon(&l, x, &c->wait);
		jstr(&l, "note", note);
		jend(&l);
	}
	free(L.ns);
	return rc;
}

/* A second channel on the same mapping, claimed as a VM guest would:
 * futex doorbells off (it cannot wake a futex in the host kernel). */
static int claim_nofutex(struct vgpu_gchan *c, struct vgpu_transport *t)
{
	struct vgpu_waitpolicy wp;
	vgpu_wait_from_env(&wp, &vgpu_wait_guest);
	struct vgpu_claim_opts co = {.abi = t->abi, .futex = false,
				     .wait = &wp};
	return vgpu_gchan_claim(c, &t->r, &co);
}

static int bench_idle_latency(struct ctx *x)
{
	struct vgpu_gchan vm;
	int rc = idle_latency(
		x, &x->conn.ch, "futex",
		"first null round trip after the idle gap; the peer sleeps in "
		"FUTEX_WAIT on the region doorbell and the guest's submit "
		"wakes it (same kernel: region file), so this is a futex "
		"wake-up, not the sleep interval");
	if (rc)
		return rc;
	rc = claim_nofutex(&vm, &x->conn.t);
	if (rc)
		return rc;
	rc = idle_latency(
		x, &vm, "none",
		"as a VM guest sees it: futex doorbells off (a VM cannot wake "
		"a host futex), so the sleeping peer finds the request only "
		"when its current sleep times out: bounded by "
		"wait_host.sleep_max_us plus timer slack, p50 about half "
		"(each gap is lengthened by a random 0..4 sleep intervals so "
		"that samples are not phase-locked to the peer's timer)");
	int r2 = vgpu_gchan_release(&vm);
	return rc ? rc : r2;
}

/* ------------------------------------------------------------------ */
/* metric: idle_cpu */

struct cpustat {
	uint64_t ticks;  /* utime + stime, clock ticks */
	uint64_t run_ns; /* schedstat: time on a CPU */
	uint64_t runs;   /* schedstat: times scheduled in */
	bool sched;      /* schedstat readable */
};

static int read_cpustat(pid_t pid, struct cpustat *cs)
{
	char path[64], buf[1024];
	unsigned long long ut, st, run, wait, n;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	size_t len = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[len] = 0;
	/* comm may hold spaces: count fields after the last ')'; utime and
	 * stime are fields 14 and 15, the 12th and 13th after it. */
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu", &ut, &st) != 2)
		return VGPU_E_IO;
	cs->ticks = ut + st;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "re");
	cs->sched = f && fscanf(f, "%llu %llu %llu", &run, &wait, &n) == 3;
	if (f)
		fclose(f);
	cs->run_ns = cs->sched ? run : 0;
	cs->runs = cs->sched ? n : 0;
	return 0;
}

static int measure_idle(struct ctx *x, uint32_t claimed,
			const struct vgpu_waitpolicy *guest, const char *note)
{
	struct cpustat a, b;
	sleep_ns(secs_ns(x->o->settle_s));
	uint64_t t0 = vgpu_now_ns();
	int rc = read_cpustat(x->peer.pid, &a);
	sleep_ns(secs_ns(x->o->window_s));
	uint64_t t1 = vgpu_now_ns();
	if (!rc)
		rc = read_cpustat(x->peer.pid, &b);
	if (rc)
		return rc;
	double el = (double)(t1 - t0) / 1e9;
	struct jline l;
	jbegin(&l, "idle_cpu");
	ju64(&l, "claimed_channels", claimed);
	jdbl(&l, "settle_s", x->o->settle_s, 3);
	jdbl(&l, "window_s", el, 3);
	jdbl(&l, "cpu_percent",
	     per_s((double)(b.ticks - a.ticks) * 100 /
			   (double)sysconf(_SC_CLK_TCK), el), 3);
	if (a.sched && b.sched) {
		jdbl(&l, "cpu_percent_schedstat",
		     per_s((double)(b.run_ns - a.run_ns) / 1e7, el), 3);
		jdbl(&l, "wakeups_per_s", per_s((double)(b.runs - a.runs), el),
		     0);
	}
	jcommon(&l, x, guest);
	jstr(&l, "note", note);
	jend(&l);
	return 0;
}

/* Claim channels until n are held, each checked with one round trip. */
static int claim_upto(struct vgpu_gchan *ch, uint32_t *held, uint32_t n,
		      struct vgpu_transport *t)
{
	/* The options vgpu_conn_open() would use on this mapping. */
	struct vgpu_waitpolicy wp;
	vgpu_wait_from_env(&wp, &vgpu_wait_guest);
	struct vgpu_claim_opts co = {.abi = t->abi, .wait = &wp,
				     .futex = t->kind == VGPU_MAP_FILE};
	for (; *held < n; (*held)++) {
		int rc = vgpu_gchan_claim(&ch[*held], &t->r, &co);
		if (rc == 0)
			rc = null_call(&ch[*held]);
		if (rc)
			return rc;
	}
	return 0;
}

static int idle_cpu_run(struct ctx *x, struct vgpu_gchan *ch, uint32_t *held)
{
	static const char note[] =
		"utime+stime of the peer process (1 tick = 1/CLK_TCK s) and "
		"schedstat run time, percent of one core, over the window; "
		"channels are claimed but silent";
	uint32_t counts[2] = {1, x->geom.nchannels};
	int rc = 0;
	for (int i = 0; i < 2 && !rc; i++) {
		rc = claim_upto(ch, held, counts[i], &x->conn.t);
		if (!rc)
			rc = measure_idle(x, *held, &ch[0].wait, note);
	}
	return rc;
}

static int bench_idle_cpu(const struct opts *o, const struct place *pl)
{
	struct ctx x = {.o = o, .pl = pl,
			.geom = {.nchannels = 64, .nslots = 64,
				 .slot_size = 1024, .arena_per_chan = 64 << 10}};
	struct vgpu_gchan *ch = calloc(x.geom.nchannels, sizeof(*ch));
	char msg[512];
	uint32_t held = 0;
	x.host_wait = vgpu_wait_host;
	x.host_wait.futex = true; /* as vgpu_serve_init() sets it */
	if (!ch || start_peer(&x.peer, &x.geom, pl->peer)) {
		free(ch);
		return 2;
	}
	setenv("VGPU_REGION", x.peer.path, 1);
	int rc = vgpu_transport_open(&x.conn.t, msg, sizeof(msg));
	if (rc)
		fprintf(stderr, "ring: %s\n", msg);
	else
		rc = idle_cpu_run(&x, ch, &held);
	while (held)
		vgpu_gchan_release(&ch[--held]);
	vgpu_transport_close(&x.conn.t);
	if (rc)
		fprintf(stderr, "ring: idle_cpu: %s: %s\n", vgpu_errname(rc),
			vgpu_strerror(rc));
	int st = stop_peer(&x.peer);
	free(ch);
	return rc || st ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* the main peer: every metric but idle_cpu */

static const struct step {
	const char *name;
	int (*fn)(struct ctx *x);
} steps[] = {
	{"rtt", bench_rtt},
	{"rtt_shared", bench_rtt_shared},
	{"oneway", bench_oneway},
	{"stream_out", bench_stream_out},
	{"stream_in_source", bench_stream_in},
	{"idle_latency", bench_idle_latency},
};

static int run_steps(struct ctx *x)
{
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int rc = steps[i].fn(x);
		if (rc) {
			fprintf(stderr, "ring: %s: %s: %s\n", steps[i].name,
				vgpu_errname(rc), vgpu_strerror(rc));
			return 1;
		}
	}
	return 0;
}

static int bench_main_peer(const struct opts *o, const struct place *pl)
{
	/* ringpeer's default geometry, with an 8 MiB arena per channel:
	 * 4 lanes of 2 MiB, so 1 MiB chunks. */
	struct ctx x = {.o = o, .pl = pl,
			.geom = {.nchannels = 8, .nslots = 64,
				 .slot_size = 1024, .arena_per_chan = 8 * MIB}};
	char msg[512];
	x.host_wait = vgpu_wait_host;
	x.host_wait.futex = true; /* as vgpu_serve_init() sets it */
	if (start_peer(&x.peer, &x.geom, pl->peer))
		return 2;
	setenv("VGPU_REGION", x.peer.path, 1);
	int rc = vgpu_conn_open(&x.conn, msg, sizeof(msg));
	if (rc)
		fprintf(stderr, "ring: %s\n", msg);
	else {
		rc = run_steps(&x);
		vgpu_conn_close(&x.conn);
	}
	int st = stop_peer(&x.peer);
	return rc || st ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct place pl;
	int rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	place_init(&pl, o.threads, o.nopin);
	install_signals();
	/* Pinned before the connection exists, so that its keeper thread
	 * inherits the client's CPU and never lands on the peer's. */
	if (pin_cpu(pl.client))
		return 2;
	emit_host(&o, &pl);
	rc = bench_main_peer(&o, &pl);
	if (!rc)
		rc = bench_idle_cpu(&o, &pl);
	return rc;
}
