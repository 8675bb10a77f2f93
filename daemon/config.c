/* daemon/config.c - parse vgpud.conf and vms.d/NAME.conf (see config.h). */
#define _GNU_SOURCE
#include "config.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- value parsers ------------------------------------------------------ */

static int parse_u64(const char *s, uint64_t *out, char **end)
{
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, end, 10);
	if (errno)
		return -1;
	*out = v;
	return 0;
}

int vgpud_parse_size(const char *s, uint64_t *out, const char **why)
{
	static const struct { const char *suf; unsigned shift; } units[] = {
		{"", 0}, {"B", 0}, {"K", 10}, {"KB", 10}, {"KIB", 10},
		{"M", 20}, {"MB", 20}, {"MIB", 20}, {"G", 30}, {"GB", 30},
		{"GIB", 30}, {"T", 40}, {"TB", 40}, {"TIB", 40}};
	char *end;
	uint64_t v;
	*why = "expected a size such as 64M, 16G or 1073741824";
	if (parse_u64(s, &v, &end))
		return -1;
	char suf[8] = {0};
	for (int i = 0; end[i]; i++) {
		if (i >= 7)
			return -1;
		suf[i] = (char)toupper((unsigned char)end[i]);
	}
	for (unsigned i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(suf, units[i].suf))
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift)) {
			*why = "size too large";
			return -1;
		}
		*out = v << units[i].shift;
		return 0;
	}
	*why = "unknown size unit (use K, M, G or T: binary, 1K = 1024)";
	return -1;
}

int vgpud_parse_duration_ms(const char *s, uint64_t *out, const char **why)
{
	char *end;
	uint64_t v;
	*why = "expected a duration such as 500ms, 30s or 2m";
	if (parse_u64(s, &v, &end))
		return -1;
	uint64_t mul;
	if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "s") || !*end)
		mul = 1000;
	else if (!strcmp(end, "m"))
		mul = 60000;
	else
		return -1;
	if (v > UINT64_MAX / mul) {
		*why = "duration too large";
		return -1;
	}
	*out = v * mul;
	return 0;
}

static int parse_u32_range(const char *s, uint32_t lo, uint32_t hi,
			   uint32_t *out, const char **why)
{
	static char buf[96];
	char *end;
	uint64_t v;
	if (parse_u64(s, &v, &end) || *end || v < lo || v > hi) {
		snprintf(buf, sizeof(buf), "expected a whole number from %u to %u",
			 lo, hi);
		*why = buf;
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* ---- keys --------------------------------------------------------------- */

typedef int (*setter)(void *obj, const char *val, const char **why);

struct key {
	const char *name;
	setter set;
};

static int copy_str(char *dst, size_t cap, const char *val, const char **why)
{
	if (strlen(val) >= cap) {
		*why = "value too long";
		return -1;
	}
	strcpy(dst, val);
	return 0;
}

static int copy_path(char *dst, size_t cap, const char *val, const char **why)
{
	if (val[0] != '/') {
		*why = "expected an absolute path";
		return -1;
	}
	return copy_str(dst, cap, val, why);
}

static int set_backend(void *o, const char *v, const char **why)
{
	struct vgpud_config *c = o;
	if (!strcmp(v, "cuda"))
		c->backend = VGPUD_BACKEND_CUDA;
	else if (!strcmp(v, "sim"))
		c->backend = VGPUD_BACKEND_SIM;
	else {
		*why = "expected 'cuda' (the real GPU) or 'sim' (CPU test double)";
		return -1;
	}
	return 0;
}

static int set_driver(void *o, const char *v, const char **why)
{
	struct vgpud_config *c = o;
	return copy_path(c->driver, sizeof(c->driver), v, why);
}

/* The line being parsed, for keys that are checked again later (gpus:
 * resolved against the host's GPUs when vgpud starts). */
static int cur_line;

int vgpud_parse_gpu_spec(const char *s, struct vgpud_gpu_id *g,
			 const char **why)
{
	memset(g, 0, sizeof(*g));
	if (isdigit((unsigned char)*s) && !strpbrk(s, ":.")) {
		g->kind = VGPUD_GPU_ORD;
		return parse_u32_range(s, 0, 63, &g->ord, why);
	}
	if (!strncasecmp(s, "GPU-", 4)) {
		const char *p = s + 4;
		g->kind = VGPUD_GPU_UUID;
		*why = "expected a UUID such as "
		       "GPU-4b1c7a3e-0d2f-11ee-9a55-0242ac120002";
		for (int i = 0; i < 16; i++) {
			if (i == 4 || i == 6 || i == 8 || i == 10) {
				if (*p++ != '-')
					return -1;
			}
			unsigned b;
			if (!isxdigit((unsigned char)p[0]) ||
			    !isxdigit((unsigned char)p[1]) ||
			    sscanf(p, "%2x", &b) != 1)
				return -1;
			g->uuid[i] = (uint8_t)b;
			p += 2;
		}
		return *p ? -1 : 0;
	}
	g->kind = VGPUD_GPU_PCI;
	*why = "expected a device ordinal (0), a UUID (GPU-...) or a PCI bus "
	       "id ([DOMAIN:]BUS:DEVICE.FUNCTION, hex, e.g. 0000:3b:00.0)";
	unsigned d = 0, b, dv, f;
	int used = 0;
	bool full = sscanf(s, "%x:%x:%x.%x%n", &d, &b, &dv, &f, &used) == 4 &&
		    !s[used];
	if (!full) {
		used = 0;
		d = 0;
		if (sscanf(s, "%x:%x.%x%n", &b, &dv, &f, &used) != 3 || s[used])
			return -1;
	}
	/* sscanf's %x takes signs, spaces and 0x: a bus id has none */
	if (d > 0xffff || b > 0xff || dv > 0x1f || f > 7 ||
	    strpbrk(s, "-+ \txX"))
		return -1;
	g->pci[0] = d, g->pci[1] = b, g->pci[2] = dv, g->pci[3] = f;
	return 0;
}

/* "a,b,c" into at most max trimmed entries of cap bytes each. */
static int split_list(const char *v, char out[][VGPUD_GPU_SPEC], uint32_t max,
		      uint32_t *n, const char **why)
{
	*n = 0;
	for (const char *p = v;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		while (len && isspace((unsigned char)*p))
			p++, len--;
		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (!len) {
			*why = "empty entry in the list";
			return -1;
		}
		if (*n == max || len >= VGPUD_GPU_SPEC) {
			*why = *n == max ? "too many GPUs (at most 16)"
					 : "entry too long";
			return -1;
		}
		memcpy(out[*n], p, len);
		out[(*n)++][len] = 0;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static int set_gpus(void *o, const char *v, const char **why)
{
	struct vgpud_config *c = o;
	struct vgpud_gpu_id g;
	if (c->gpus_line) {
		*why = "the host's GPUs are set twice (gpu is the one-GPU "
		       "spelling of gpus: use one of them)";
		return -1;
	}
	if (split_list(v, c->gpu_spec, VGPUD_MAX_GPUS, &c->ngpu_specs, why))
		return -1;
	for (uint32_t i = 0; i < c->ngpu_specs; i++)
		if (vgpud_parse_gpu_spec(c->gpu_spec[i], &g, why))
			return -1;
	c->gpus_line = cur_line;
	return 0;
}

/* gpu = N: the one-element spelling of gpus, kept for old files. */
static int set_gpu(void *o, const char *v, const char **why)
{
	uint32_t n;
	if (parse_u32_range(v, 0, 63, &n, why))
		return -1;
	return set_gpus(o, v, why);
}

static int set_sim_gpus(void *o, const char *v, const char **why)
{
	return parse_u32_range(v, 1, VGPUD_MAX_GPUS,
			       &((struct vgpud_config *)o)->sim_gpus, why);
}

int vgpud_parse_peer(const char *s, uint32_t n, uint32_t m[VGPUD_MAX_GPUS],
		     const char **why)
{
	uint32_t all = n >= 32 ? ~0u : (1u << n) - 1;
	memset(m, 0, VGPUD_MAX_GPUS * sizeof(m[0]));
	if (!strcmp(s, "all") || !strcmp(s, "none")) {
		for (uint32_t i = 0; i < n && s[0] == 'a'; i++)
			m[i] = all & ~(1u << i);
		return 0;
	}
	*why = "expected all, none or pairs of GPUs that reach each other, "
	       "such as 0-1,2-3";
	for (const char *p = s; *p;) {
		unsigned a, b;
		int used = 0;
		if (sscanf(p, "%u-%u%n", &a, &b, &used) != 2 || !isdigit(
			(unsigned char)*p) || (p[used] && p[used] != ','))
			return -1;
		if (a >= n || b >= n || a == b) {
			*why = "a pair names a GPU the sim does not have (or "
			       "one GPU twice)";
			return -1;
		}
		m[a] |= 1u << b;
		m[b] |= 1u << a;
		p += used + (p[used] == ',');
	}
	return 0;
}

static int set_sim_peer(void *o, const char *v, const char **why)
{
	struct vgpud_config *c = o;
	uint32_t m[VGPUD_MAX_GPUS];
	/* checked against sim_gpus once the file is read (host_finish) */
	if (vgpud_parse_peer(v, VGPUD_MAX_GPUS, m, why))
		return -1;
	return copy_str(c->sim_peer, sizeof(c->sim_peer), v, why);
}

static int set_log(void *o, const char *v, const char **why)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++)
		if (!strcmp(v, names[i])) {
			((struct vgpud_config *)o)->log_level = (enum vgpud_log)i;
			return 0;
		}
	*why = "expected error, warn, info or debug";
	return -1;
}

static int set_socket(void *o, const char *v, const char **why)
{
	struct vgpud_config *c = o;
	if (strlen(v) >= 108) { /* sun_path */
		*why = "socket path longer than 107 bytes";
		return -1;
	}
	return copy_path(c->control_socket, sizeof(c->control_socket), v, why);
}

static int set_lease(void *o, const char *v, const char **why)
{
	uint64_t ms;
	if (vgpud_parse_duration_ms(v, &ms, why))
		return -1;
	/* guests beat once a second: a shorter lease reclaims live ones */
	if (ms < 3000) {
		*why = "lease must be at least 3s (guests beat once a second)";
		return -1;
	}
	((struct vgpud_config *)o)->lease_ms = ms;
	return 0;
}

/* none | [IPV4:]PORT; the address defaults to loopback: metrics name
 * every VM, so exposing them beyond the host is a choice to make. */
static int set_metrics(void *o, const char *v, const char **why)
{
	struct vgpud_config *c = o;
	const char *colon = strrchr(v, ':'), *port = colon ? colon + 1 : v;
	unsigned a[4];
	char tail;
	c->metrics_on = false;
	if (!strcmp(v, "none"))
		return 0;
	c->metrics_addr = 0x7f000001;
	if (colon) {
		if (colon - v > 15 ||
		    sscanf(v, "%3u.%3u.%3u.%3u%c", &a[0], &a[1], &a[2], &a[3],
			   &tail) != 5 || tail != ':' ||
		    (a[0] | a[1] | a[2] | a[3]) > 255) {
			*why = "expected none, PORT or IPV4:PORT (e.g. "
			       "127.0.0.1:9464)";
			return -1;
		}
		c->metrics_addr = a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
	}
	uint32_t p;
	if (parse_u32_range(port, 0, 65535, &p, why))
		return -1;
	c->metrics_port = (uint16_t)p;
	c->metrics_on = true;
	return 0;
}

/* sched_queue = 500us | 2ms: how much estimated GPU time a VM may have
 * queued (docs/scheduler.md); what a light VM's kernel may wait behind. */
/* A duration from 100us to 100ms (us), or 0 when zero_ok ("off"). */
static int parse_queue(const char *v, bool zero_ok, uint64_t *out)
{
	char *end;
	uint64_t n;
	if (zero_ok && (!strcmp(v, "off") || !strcmp(v, "0"))) {
		*out = 0;
		return 0;
	}
	if (parse_u64(v, &n, &end))
		return -1;
	if (!strcmp(end, "ms") && n <= 100)
		n *= 1000;
	else if (strcmp(end, "us"))
		return -1;
	if (n < 100 || n > 100000)
		return -1;
	*out = n;
	return 0;
}

static int set_sched_queue(void *o, const char *v, const char **why)
{
	*why = "expected a duration from 100us to 100ms, such as 500us or 2ms";
	return parse_queue(v, false,
			   &((struct vgpud_config *)o)->sched_queue_us);
}

/* sched_queue_ahead = off | 500us: the queue of a VM ahead of a
 * latency-bound one (docs/scheduler.md, "The light VM"). */
static int set_sched_queue_ahead(void *o, const char *v, const char **why)
{
	*why = "expected off or a duration from 100us to 100ms, such as 500us";
	return parse_queue(v, true,
			   &((struct vgpud_config *)o)->sched_queue_ahead_us);
}

static int set_scheduler(void *o, const char *v, const char **why)
{
	struct vgpud_config *c = o;
	if (!strcmp(v, "on") || !strcmp(v, "off")) {
		c->sched_on = !strcmp(v, "on");
		return 0;
	}
	*why = "expected on (fair share, weights, caps) or off (admit every "
	       "launch)";
	return -1;
}

static int set_sched_solo(void *o, const char *v, const char **why)
{
	struct vgpud_config *c = o;
	if (!strcmp(v, "on") || !strcmp(v, "off")) {
		c->sched_solo = !strcmp(v, "on");
		return 0;
	}
	*why = "expected on (a VM alone on its GPU runs unmetered) or off "
	       "(every launch metered)";
	return -1;
}

static const struct key host_keys[] = {
	{"backend", set_backend}, {"driver", set_driver}, {"gpu", set_gpu},
	{"log_level", set_log}, {"control_socket", set_socket},
	{"lease", set_lease}, {"metrics_listen", set_metrics},
	{"scheduler", set_scheduler}, {"sched_queue", set_sched_queue},
	{"sched_solo", set_sched_solo},
	{"sched_queue_ahead", set_sched_queue_ahead},
	{"gpus", set_gpus}, {"sim_gpus", set_sim_gpus},
	{"sim_peer", set_sim_peer}, {NULL, NULL}};

static int set_region(void *o, const char *v, const char **why)
{
	struct vgpud_vm *m = o;
	return copy_path(m->region, sizeof(m->region), v, why);
}

static int set_region_size(void *o, const char *v, const char **why)
{
	uint64_t b;
	if (vgpud_parse_size(v, &b, why))
		return -1;
	/* QEMU's ivshmem BAR must be a power of two */
	if (b < (1u << 20) || (b & (b - 1)) || b > (64ull << 30)) {
		*why = "region_size must be a power of two from 1M to 64G "
		       "(QEMU's ivshmem BAR is a power of two)";
		return -1;
	}
	((struct vgpud_vm *)o)->region_size = b;
	return 0;
}

static int set_owner(void *o, const char *v, const char **why)
{
	struct vgpud_vm *m = o;
	return copy_str(m->region_owner, sizeof(m->region_owner), v, why);
}

static int set_group(void *o, const char *v, const char **why)
{
	struct vgpud_vm *m = o;
	return copy_str(m->region_group, sizeof(m->region_group), v, why);
}

static int set_mode(void *o, const char *v, const char **why)
{
	char *end;
	unsigned long mode = strtoul(v, &end, 8);
	if (*v != '0' || *end || mode > 0777) {
		*why = "expected an octal mode such as 0660";
		return -1;
	}
	((struct vgpud_vm *)o)->region_mode = (uint32_t)mode;
	return 0;
}

static int set_hugepages(void *o, const char *v, const char **why)
{
	struct vgpud_vm *m = o;
	if (strcmp(v, "yes") && strcmp(v, "no")) {
		*why = "expected yes or no";
		return -1;
	}
	m->region_hugepages = !strcmp(v, "yes");
	return 0;
}

static int set_channels(void *o, const char *v, const char **why)
{
	return parse_u32_range(v, 1, 1024, &((struct vgpud_vm *)o)->channels,
			       why);
}

#define POOL_AUTO UINT64_MAX /* a quarter of the region */

static int set_pinned_pool(void *o, const char *v, const char **why)
{
	struct vgpud_vm *m = o;
	if (!strcmp(v, "none")) {
		m->pinned_pool = 0;
		return 0;
	}
	if (vgpud_parse_size(v, &m->pinned_pool, why))
		return -1;
	if (m->pinned_pool % 4096) {
		*why = "pinned_pool must be a multiple of 4K (whole pages)";
		return -1;
	}
	return 0;
}

static int set_memory_limit(void *o, const char *v, const char **why)
{
	struct vgpud_vm *m = o;
	if (!strcmp(v, "none")) {
		m->memory_limit = 0;
		return 0;
	}
	if (vgpud_parse_size(v, &m->memory_limit, why))
		return -1;
	if (m->memory_limit < (1u << 20)) {
		*why = "memory_limit below 1M leaves no room for a context; "
		       "use 'none' for no limit";
		return -1;
	}
	return 0;
}

static int set_weight(void *o, const char *v, const char **why)
{
	return parse_u32_range(v, 1, 10000,
			       &((struct vgpud_vm *)o)->compute_weight, why);
}

static int set_cap(void *o, const char *v, const char **why)
{
	struct vgpud_vm *m = o;
	if (!strcmp(v, "none")) {
		m->compute_cap = 0;
		return 0;
	}
	char buf[16];
	size_t n = strlen(v);
	if (n == 0 || n >= sizeof(buf) || v[n - 1] != '%') {
		*why = "expected a percentage such as 50% or 'none'";
		return -1;
	}
	memcpy(buf, v, n - 1);
	buf[n - 1] = 0;
	return parse_u32_range(buf, 1, 100, &m->compute_cap, why);
}

static int set_maxproc(void *o, const char *v, const char **why)
{
	return parse_u32_range(v, 1, 1024,
			       &((struct vgpud_vm *)o)->max_processes, why);
}

/* 0 | 0,1 | any: indices into the host's list, checked against its
 * length in vm_finish (the host file is read first). */
static int set_vm_gpus(void *o, const char *v, const char **why)
{
	struct vgpud_vm *m = o;
	char list[VGPUD_MAX_GPUS][VGPUD_GPU_SPEC];
	m->gpus_line = cur_line;
	if (!strcmp(v, "any")) {
		m->gpus_any = true;
		m->ngpus = 1;
		m->gpus[0] = 0; /* until vgpud_place */
		return 0;
	}
	if (split_list(v, list, VGPUD_MAX_GPUS, &m->ngpus, why))
		return -1;
	for (uint32_t i = 0; i < m->ngpus; i++) {
		uint32_t k;
		if (parse_u32_range(list[i], 0, VGPUD_MAX_GPUS - 1, &k, why)) {
			*why = "expected 'any' or indices into the host's gpus "
			       "list, such as 0 or 0,1";
			return -1;
		}
		for (uint32_t j = 0; j < i; j++)
			if (m->gpus[j] == k) {
				*why = "a GPU is listed twice";
				return -1;
			}
		m->gpus[i] = (uint8_t)k;
	}
	return 0;
}

static const struct key vm_keys[] = {
	{"region", set_region}, {"region_size", set_region_size},
	{"region_owner", set_owner}, {"region_group", set_group},
	{"region_mode", set_mode}, {"channels", set_channels},
	{"memory_limit", set_memory_limit}, {"compute_weight", set_weight},
	{"compute_cap", set_cap}, {"max_processes", set_maxproc},
	{"pinned_pool", set_pinned_pool},
	{"region_hugepages", set_hugepages}, {"gpus", set_vm_gpus},
	{NULL, NULL}};

/* ---- files -------------------------------------------------------------- */

static int fail(struct vgpud_cfgerr *e, const char *file, int line,
		const char *fmt, ...)
{
	va_list ap;
	snprintf(e->file, sizeof(e->file), "%s", file);
	e->line = line;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = 0;
	return s;
}

static void key_list(const struct key *keys, char *buf, size_t n)
{
	buf[0] = 0;
	for (const struct key *k = keys; k->name; k++)
		snprintf(buf + strlen(buf), n - strlen(buf), "%s%s",
			 k == keys ? "" : ", ", k->name);
}

static int parse_line(char *line, const struct key *keys, void *obj,
		      uint64_t *seen, const char *file, int lineno,
		      struct vgpud_cfgerr *e)
{
	char *hash = strchr(line, '#');
	if (hash && (hash == line || isspace((unsigned char)hash[-1])))
		*hash = 0;
	char *s = trim(line);
	if (!*s)
		return 0;
	char *eq = strchr(s, '=');
	if (!eq)
		return fail(e, file, lineno, "expected 'key = value', got '%s'",
			    s);
	*eq = 0;
	char *k = trim(s), *v = trim(eq + 1);
	int i = 0;
	for (; keys[i].name && strcmp(keys[i].name, k); i++)
		;
	if (!keys[i].name) {
		char known[512];
		key_list(keys, known, sizeof(known));
		return fail(e, file, lineno, "unknown key '%s' (known: %s)", k,
			    known);
	}
	if (*seen & (1ull << i))
		return fail(e, file, lineno, "'%s' is set twice", k);
	*seen |= 1ull << i;
	if (!*v)
		return fail(e, file, lineno, "'%s' has no value", k);
	const char *why = "bad value";
	cur_line = lineno;
	if (keys[i].set(obj, v, &why))
		return fail(e, file, lineno, "%s = %s: %s", k, v, why);
	return 0;
}

/* 1: file absent (allowed for vgpud.conf), 0 ok, -1 error. */
static int parse_file(const char *path, const struct key *keys, void *obj,
		      struct vgpud_cfgerr *e, bool may_be_absent)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && may_be_absent)
			return 1;
		return fail(e, path, 0, "cannot open: %s", strerror(errno));
	}
	char line[1024];
	uint64_t seen = 0;
	int lineno = 0, rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f))
			rc = fail(e, path, lineno, "line longer than %zu bytes",
				  sizeof(line) - 2);
		else
			rc = parse_line(line, keys, obj, &seen, path, lineno, e);
	}
	fclose(f);
	return rc;
}

static bool valid_vm_name(const char *n, size_t len)
{
	if (len == 0 || len >= VGPUD_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && !strchr("_.-", n[i]))
			return false;
	return n[0] != '.' && n[0] != '-';
}

static void vm_defaults(struct vgpud_vm *m, const char *name)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->region, sizeof(m->region), "/dev/shm/vgpu-%s", name);
	m->region_size = 256ull << 20;
	m->region_mode = 0660;
	m->channels = 16;
	m->compute_weight = 100;
	m->pinned_pool = POOL_AUTO;
	m->ngpus = 1; /* gpus = 0 */
}

/* Checks between keys, once the whole file is read. */
static int vm_finish(struct vgpud_vm *m, uint32_t nhost,
		     struct vgpud_cfgerr *e)
{
	for (uint32_t i = 0; i < m->ngpus; i++)
		if (m->gpus[i] >= nhost)
			return fail(e, m->file, m->gpus_line,
				    "gpus: %u is not an index into the host's "
				    "gpus list (vgpud.conf names %u GPU%s: "
				    "0..%u)", m->gpus[i], nhost,
				    nhost == 1 ? "" : "s", nhost - 1);
	if (m->max_processes == 0)
		m->max_processes = m->channels;
	if (m->max_processes > m->channels)
		return fail(e, m->file, 0,
			    "max_processes (%u) exceeds channels (%u): a guest "
			    "process needs a channel", m->max_processes,
			    m->channels);
	if (m->pinned_pool == POOL_AUTO)
		m->pinned_pool = (m->region_size / 4) & ~4095ull;
	/* the rings and every channel's arena (64K at least) come first */
	if (m->pinned_pool > m->region_size / 2)
		return fail(e, m->file, 0,
			    "pinned_pool (%llu) is more than half of "
			    "region_size (%llu): the channels' arenas need "
			    "the rest", (unsigned long long)m->pinned_pool,
			    (unsigned long long)m->region_size);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int conf_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return n > 5 && !strcmp(d->d_name + n - 5, ".conf");
}

static int load_vms(struct vgpud_config *c, struct vgpud_cfgerr *e)
{
	char dir[VGPUD_PATH_MAX + 8];
	snprintf(dir, sizeof(dir), "%s/vms.d", c->dir);
	struct dirent **ents;
	int n = scandir(dir, &ents, conf_filter, by_name);
	if (n < 0)
		return errno == ENOENT ? 0
				       : fail(e, dir, 0, "cannot read: %s",
					      strerror(errno));
	int rc = 0;
	for (int i = 0; i < n; i++) {
		const char *fn = ents[i]->d_name;
		size_t len = strlen(fn) - 5;
		char name[VGPUD_NAME_MAX] = "", path[2 * VGPUD_PATH_MAX + 16];
		snprintf(path, sizeof(path), "%s/%s", dir, fn);
		if (rc == 0 && !valid_vm_name(fn, len))
			rc = fail(e, path, 0,
				  "VM name '%.*s' must be 1-63 letters, digits, "
				  "'_', '.' or '-'", (int)len, fn);
		if (rc == 0 && c->nvms == VGPUD_MAX_VMS)
			rc = fail(e, path, 0, "more than %d VMs", VGPUD_MAX_VMS);
		if (rc == 0) {
			memcpy(name, fn, len);
			struct vgpud_vm *m = &c->vms[c->nvms];
			vm_defaults(m, name);
			snprintf(m->file, sizeof(m->file), "%s", path);
			rc = parse_file(path, vm_keys, m, e, false);
			if (rc == 0)
				rc = vm_finish(m, c->ngpu_specs, e);
			if (rc == 0)
				c->nvms++;
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

/* Two VMs on one region file would share (and corrupt) each other's rings. */
static int check_distinct_regions(const struct vgpud_config *c,
				  struct vgpud_cfgerr *e)
{
	for (uint32_t i = 0; i < c->nvms; i++)
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(c->vms[i].region, c->vms[j].region))
				return fail(e, c->vms[i].file, 0,
					    "region %s is already VM '%s''s",
					    c->vms[i].region, c->vms[j].name);
	return 0;
}

void vgpud_config_defaults(struct vgpud_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "%s", VGPUD_CONFIG_DIR);
	c->backend = VGPUD_BACKEND_CUDA;
	snprintf(c->driver, sizeof(c->driver), "%s",
		 "/usr/lib/x86_64-linux-gnu/libcuda.so.1");
	c->log_level = VGPUD_LOG_INFO;
	snprintf(c->control_socket, sizeof(c->control_socket), "%s",
		 "/run/vgpud/control.sock");
	c->lease_ms = 30000;
	c->sched_on = true; /* a lone VM runs unmetered (sched_solo): no cost */
	c->sched_queue_us = 2000;
	c->sched_solo = true;
	c->sched_queue_ahead_us = 0;
	c->ngpu_specs = 1; /* gpus = 0 */
	snprintf(c->gpu_spec[0], sizeof(c->gpu_spec[0]), "0");
	c->sim_gpus = 1;
	snprintf(c->sim_peer, sizeof(c->sim_peer), "all");
}

/* Checks between host keys, once vgpud.conf is read. */
static int host_finish(struct vgpud_config *c, struct vgpud_cfgerr *e)
{
	char f[VGPUD_PATH_MAX + 16];
	uint32_t m[VGPUD_MAX_GPUS];
	const char *why;
	snprintf(f, sizeof(f), "%s/vgpud.conf", c->dir);
	if (vgpud_parse_peer(c->sim_peer, c->sim_gpus, m, &why))
		return fail(e, f, 0, "sim_peer = %s: %s (sim_gpus = %u)",
			    c->sim_peer, why, c->sim_gpus);
	return 0;
}

int vgpud_config_load(const char *dir, struct vgpud_config *c,
		      struct vgpud_cfgerr *e)
{
	struct vgpud_config *tmp = malloc(sizeof(*tmp));
	if (!tmp)
		return fail(e, dir ? dir : VGPUD_CONFIG_DIR, 0, "out of memory");
	vgpud_config_defaults(tmp);
	if (dir && strlen(dir) >= sizeof(tmp->dir)) {
		free(tmp);
		return fail(e, dir, 0, "configuration directory path too long");
	}
	if (dir)
		snprintf(tmp->dir, sizeof(tmp->dir), "%s", dir);
	char path[VGPUD_PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/vgpud.conf", tmp->dir);
	int rc = parse_file(path, host_keys, tmp, e, true);
	if (rc >= 0)
		rc = host_finish(tmp, e);
	if (rc >= 0)
		rc = load_vms(tmp, e);
	if (rc == 0)
		rc = check_distinct_regions(tmp, e);
	if (rc == 0)
		*c = *tmp; /* all or nothing */
	free(tmp);
	return rc == 0 ? 0 : -1;
}

void vgpud_cfgerr_format(const struct vgpud_cfgerr *e, char *buf, size_t n)
{
	if (e->line)
		snprintf(buf, n, "%s:%d: %s", e->file, e->line, e->msg);
	else
		snprintf(buf, n, "%s: %s", e->file, e->msg);
}
