/* tests/support/peer.c - the ring test server (see peer.h). */
#define _GNU_SOURCE
#include "peer.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t fnv1a64(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void gen_bytes(uint64_t seed, uint64_t off, uint8_t *dst, uint64_t n)
{
	uint64_t i = 0;
	while (i < n && ((off + i) & 7)) {
		dst[i] = (uint8_t)(splitmix(seed ^ ((off + i) >> 3)) >>
				   (((off + i) & 7) * 8));
		i++;
	}
	for (; i + 8 <= n; i += 8) {
		uint64_t w = splitmix(seed ^ ((off + i) >> 3));
		memcpy(dst + i, &w, 8);
	}
	for (; i < n; i++)
		dst[i] = (uint8_t)(splitmix(seed ^ ((off + i) >> 3)) >>
				   (((off + i) & 7) * 8));
}

#define MAX_TIDS 512

struct tidrec {
	uint32_t tid;
	uint64_t next, received, errors;
	uint64_t sink_next; /* streams are ordered per thread */
};

struct chstate {
	struct tidrec tids[MAX_TIDS];
	struct peer_stats st;
	uint8_t *scratch; /* chunk-sized buffer for SINK comparisons */
	uint64_t scratch_len;
};

struct peerctx {
	struct chstate *ch;
	uint64_t errors; /* across all channels, all generations */
};

static struct tidrec *tidrec(struct chstate *c, uint32_t tid)
{
	uint32_t h = (tid * 2654435761u) % MAX_TIDS;
	for (uint32_t k = 0; k < MAX_TIDS; k++) {
		struct tidrec *r = &c->tids[(h + k) % MAX_TIDS];
		if (r->tid == tid)
			return r;
		if (r->tid == 0) {
			r->tid = tid;
			return r;
		}
	}
	return NULL;
}

static int32_t do_check(struct peerctx *px, struct chstate *c,
			const struct vgpu_msg *m)
{
	struct check_msg cm;
	struct tidrec *t = tidrec(c, m->tid);
	if (!t || m->len < sizeof(cm))
		goto bad;
	memcpy(&cm, m->data, sizeof(cm));
	if (cm.len > m->len - sizeof(cm) ||
	    fnv1a64(m->data + sizeof(cm), cm.len) != cm.checksum ||
	    cm.seq != t->next) {
		t->errors++;
		goto bad;
	}
	t->next++;
	t->received++;
	return 0;
bad:
	px->errors++;
	return -1;
}

static int32_t do_sink(struct peerctx *px, struct vgpu_serve *s,
		       struct chstate *c, const struct vgpu_msg *m)
{
	uint64_t seed;
	struct tidrec *t = tidrec(c, m->tid);
	if (!t || m->len < 8 || !(m->flags & VGPU_MSG_ARENA) ||
	    m->tag != t->sink_next)
		goto bad;
	memcpy(&seed, m->data, 8);
	if (m->arena_len > c->scratch_len) {
		free(c->scratch);
		c->scratch = malloc(m->arena_len);
		c->scratch_len = c->scratch ? m->arena_len : 0;
		if (!c->scratch)
			goto bad;
	}
	gen_bytes(seed, m->tag, c->scratch, m->arena_len);
	if (m->arena_len && memcmp(vgpu_arena(s->r, (uint32_t)(c - px->ch)) + m->arena_off,
		   c->scratch, m->arena_len) != 0)
		goto bad;
	t->sink_next = (m->flags & VGPU_MSG_MORE) ? m->tag + m->arena_len : 0;
	return 0;
bad:
	px->errors++;
	if (t)
		t->sink_next = 0;
	return -1;
}

static int handle(struct vgpu_serve *s, struct vgpu_hchan *h, int ev,
		  struct vgpu_msg *m)
{
	struct peerctx *px = s->ctx;
	struct chstate *c = &px->ch[h->idx];
	if (ev == VGPU_H_ATTACH) {
		uint64_t att = c->st.attaches;
		free(c->scratch);
		memset(c, 0, sizeof(*c));
		c->st.attaches = att + 1;
		c->st.gen = h->gen;
		c->st.start = s->start;
		return 0;
	}
	if (ev == VGPU_H_BADMSG) {
		c->st.bad++;
		if (!(m->flags & VGPU_MSG_NOREPLY))
			vgpu_hchan_reply(s->r, h, m, m->err, NULL, 0, 0);
		return 0;
	}
	if (ev != VGPU_H_MSG)
		return 0;
	c->st.executed++;
	int32_t res = 0;
	const void *out = NULL;
	uint32_t outlen = 0;
	uint64_t arena_len = 0;
	struct report rep;
	switch (m->op) {
	case OP_NULL:
		break;
	case OP_ECHO:
		out = m->data;
		outlen = m->len;
		break;
	case OP_CHECK:
		res = do_check(px, c, m);
		break;
	case OP_REPORT: {
		uint32_t tid = 0;
		if (m->len >= 4)
			memcpy(&tid, m->data, 4);
		struct tidrec *t = tidrec(c, tid);
		rep = (struct report){t ? t->received : 0, t ? t->errors : 0};
		out = &rep;
		outlen = sizeof(rep);
		break;
	}
	case OP_SINK:
		res = do_sink(px, s, c, m);
		break;
	case OP_SOURCE: {
		uint64_t seed = 0;
		if (m->len >= 8)
			memcpy(&seed, m->data, 8);
		gen_bytes(seed, m->tag, vgpu_arena(s->r, h->idx) + m->arena_off,
			  m->arena_len);
		arena_len = m->arena_len;
		break;
	}
	case OP_STATS:
		out = &c->st;
		outlen = sizeof(c->st);
		break;
	case OP_SLEEP: {
		uint32_t us = 0;
		if (m->len >= 4)
			memcpy(&us, m->data, 4);
		usleep(us);
		break;
	}
	default:
		res = VGPU_E_OPCODE;
	}
	if (!(m->flags & VGPU_MSG_NOREPLY))
		vgpu_hchan_reply(s->r, h, m, res, out, outlen, arena_len);
	return 0;
}

static struct vgpu_serve *g_serve;

static void on_term(int sig)
{
	(void)sig;
	if (g_serve)
		atomic_store(&g_serve->stop, 1);
}

/* Benchmarks pin the peer away from the client so that round trips cross
 * cores, as they do between a VM's vCPU and the daemon. */
static int pin_self(int cpu)
{
	cpu_set_t set;
	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

int peer_serve(void *base, uint64_t len, const struct vgpu_geom *g,
	       const struct peer_opts *o)
{
	struct vgpu_region r;
	struct vgpu_serve s;
	struct peerctx px = {0};
	if (o->cpu > 0 && pin_self(o->cpu - 1) != 0) {
		fprintf(stderr, "peer: cannot pin to CPU %d: %s\n", o->cpu - 1,
			strerror(errno));
		return 2;
	}
	if (vgpu_region_format(&r, base, len, g, VGPU_F_DOORBELL_FUTEX))
		return 2;
	px.ch = calloc(g->nchannels, sizeof(*px.ch));
	if (!px.ch || vgpu_serve_init(&s, &r, handle, &px))
		return 2;
	s.lease_ns = o->lease_ms * 1000000ull;
	if (o->start)
		s.start = o->start;
	if (o->spin_ns || o->yield_ns) {
		s.wait.spin_ns = o->spin_ns;
		s.wait.yield_ns = o->yield_ns;
	}
	if (o->sleep_max_us)
		s.wait.sleep_max_us = o->sleep_max_us;
	if (o->infinite_sleep) { /* every idle moment is a futex sleep */
		s.wait.spin_ns = s.wait.yield_ns = 0;
		s.wait.sleep_max_us = 0;
	}
	g_serve = &s;
	struct sigaction sa = {.sa_handler = on_term};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	vgpu_serve_run(&s);
	atomic_store(&vgpu_hdr(&r)->state, VGPU_REGION_STOPPED);
	g_serve = NULL;
	for (uint32_t i = 0; i < g->nchannels; i++)
		free(px.ch[i].scratch);
	free(px.ch);
	vgpu_serve_fini(&s);
	if (px.errors)
		fprintf(stderr, "peer: %llu corrupt or out-of-order messages\n",
			(unsigned long long)px.errors);
	return px.errors ? 1 : 0;
}

int peer_start(struct peer *p, const struct vgpu_geom *gin,
	       const struct peer_opts *o)
{
	struct vgpu_geom g = *gin;
	if (vgpu_geom_layout(&g))
		return -1;
	snprintf(p->path, sizeof(p->path), "/dev/shm/vgpu-test-%d-XXXXXX",
		 (int)getpid());
	int fd = mkstemp(p->path);
	if (fd < 0 || ftruncate(fd, (off_t)g.size) != 0)
		return -1;
	void *m = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	pid_t parent = getpid();
	p->pid = fork();
	if (p->pid < 0) {
		p->pid = 0;
		munmap(m, g.size);
		return -1;
	}
	if (p->pid == 0) {
		/* never outlive the test that started us */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(3);
		_exit(peer_serve(m, g.size, &g, o));
	}
	/* Wait for READY so clients never race the format. */
	struct vgpu_region_hdr *h = m;
	for (int i = 0; i < 10000; i++) {
		if (atomic_load(&h->state) == VGPU_REGION_READY &&
		    h->magic == VGPU_REGION_MAGIC)
			break;
		if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
			p->pid = 0; /* it died during setup */
			break;
		}
		usleep(1000);
	}
	int ok = atomic_load(&h->state) == VGPU_REGION_READY;
	munmap(m, g.size);
	return ok ? 0 : -1;
}

int peer_stop(struct peer *p)
{
	int st = 0;
	if (p->pid <= 0) {
		unlink(p->path);
		return -1;
	}
	kill(p->pid, SIGTERM);
	waitpid(p->pid, &st, 0);
	unlink(p->path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
