/* ring/guest.c - guest side of a channel (see guest.h for the protocol). */
#define _GNU_SOURCE
#include "guest.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

uint64_t vgpu_self_pidns(void)
{
	struct stat st;
	if (stat("/proc/self/ns/pid", &st) != 0)
		return 0;
	return (uint64_t)st.st_ino;
}

uint64_t vgpu_proc_start(uint32_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* comm may hold spaces or ')': fields restart after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	unsigned long long start = 0;
	/* field 3 is state; starttime is field 22, i.e. the 20th after ')' */
	if (sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d "
		   "%*d %*d %*d %*d %*d %llu",
		   &start) != 1)
		return 0;
	return start;
}

bool vgpu_owner_dead(uint32_t pid, uint64_t pidns, uint64_t start)
{
	if (pid == 0)
		return true;
	/* Another pid namespace (another container): we cannot see it, so
	 * only the daemon's lease may reclaim. */
	if (pidns == 0 || pidns != vgpu_self_pidns())
		return false;
	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return true;
	/* pid reused by a newer process? start 0 = owner not yet written */
	uint64_t now = vgpu_proc_start(pid);
	return start != 0 && now != 0 && now != start;
}

/* Reply entries are process-local bookkeeping: a bitmap of free entries
 * under a mutex; an operation takes all it needs in one go. */
struct vgpu_replies {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint32_t n, nfree;
	uint64_t free[VGPU_MAX_SLOTS / 64]; /* bit set = free */
};

static struct vgpu_replies *replies_new(uint32_t n)
{
	struct vgpu_replies *rp = calloc(1, sizeof(*rp));
	if (!rp)
		return NULL;
	pthread_mutex_init(&rp->mu, NULL);
	pthread_cond_init(&rp->cv, NULL);
	rp->n = rp->nfree = n;
	for (uint32_t i = 0; i < n; i++)
		rp->free[i / 64] |= 1ull << (i % 64);
	return rp;
}

static void replies_free(struct vgpu_replies *rp)
{
	if (!rp)
		return;
	pthread_mutex_destroy(&rp->mu);
	pthread_cond_destroy(&rp->cv);
	free(rp);
}

void vgpu_replies_get(struct vgpu_gchan *c, uint32_t n, uint32_t *idx)
{
	struct vgpu_replies *rp = c->rp;
	pthread_mutex_lock(&rp->mu);
	while (rp->nfree < n)
		pthread_cond_wait(&rp->cv, &rp->mu);
	for (uint32_t k = 0, w = 0; k < n; w++) {
		while (rp->free[w] && k < n) {
			uint32_t b = (uint32_t)__builtin_ctzll(rp->free[w]);
			rp->free[w] &= ~(1ull << b);
			idx[k++] = w * 64 + b;
		}
	}
	rp->nfree -= n;
	pthread_mutex_unlock(&rp->mu);
}

void vgpu_replies_put(struct vgpu_gchan *c, uint32_t n, const uint32_t *idx)
{
	struct vgpu_replies *rp = c->rp;
	pthread_mutex_lock(&rp->mu);
	for (uint32_t k = 0; k < n; k++)
		rp->free[idx[k] / 64] |= 1ull << (idx[k] % 64);
	rp->nfree += n;
	pthread_cond_broadcast(&rp->cv);
	pthread_mutex_unlock(&rp->mu);
}

static uint32_t gettid_u32(void)
{
	return (uint32_t)syscall(SYS_gettid);
}

static void ring_doorbell(struct vgpu_gchan *c);

static int try_claim_one(struct vgpu_gchan *c, uint32_t i, uint32_t pid)
{
	struct vgpu_chan_ctl *ctl = vgpu_ctl(c->r, i);
	uint64_t old = atomic_load_explicit(&ctl->claim, memory_order_acquire);
	uint32_t opid = VGPU_CLAIM_PID(old);
	/* An owner is judged by the identity it published for its own
	 * generation only: between its CAS and its req_gen the fields still
	 * describe the previous owner, and "pid reused" would be a false
	 * verdict that lets two claimants share the channel (found by the
	 * integration test: four processes starting at once). An owner that
	 * died in that window is left to the daemon's lease. */
	if (opid != 0 &&
	    (atomic_load_explicit(&ctl->req_gen, memory_order_acquire) !=
		     VGPU_CLAIM_GEN(old) ||
	     !vgpu_owner_dead(opid, ctl->owner_pidns, ctl->owner_start)))
		return VGPU_E_NOCHAN;
	uint32_t gen = VGPU_CLAIM_GEN(old) + 1;
	if (gen == 0)
		gen = 1; /* 0 means "never served" to the daemon */
	if (!atomic_compare_exchange_strong(&ctl->claim, &old,
					    VGPU_CLAIM(gen, pid)))
		return VGPU_E_NOCHAN;
	ctl->owner_pidns = vgpu_self_pidns();
	ctl->owner_start = vgpu_proc_start(pid);
	ctl->abi = c->abi;
	ctl->guest_tid0 = gettid_u32();
	atomic_store_explicit(&ctl->req_gen, gen, memory_order_release);
	c->ctl = ctl;
	c->idx = i;
	c->gen = gen;
	c->pid = pid;
	ring_doorbell(c); /* a sleeping daemon must see the claim */
	return VGPU_OK;
}

static int region_alive(const struct vgpu_region *r)
{
	uint32_t st = atomic_load_explicit(&vgpu_hdr(r)->state,
					   memory_order_acquire);
	return st == VGPU_REGION_READY ? VGPU_OK : VGPU_E_NOTREADY;
}

static int status_err(uint32_t st)
{
	switch (st) {
	case VGPU_CHAN_OK:
		return VGPU_OK;
	case VGPU_CHAN_ABI_MISMATCH:
		return VGPU_E_ABI;
	case VGPU_CHAN_REFUSED:
		return VGPU_E_REFUSED;
	default:
		return VGPU_E_LOST;
	}
}

/* Tracks the daemon heartbeat across a long wait. */
struct stallwatch {
	uint64_t beat;
	uint64_t since_ns;
	uint64_t next_check_ns;
};

static void stall_init(struct stallwatch *s, const struct vgpu_region *r)
{
	s->beat = atomic_load(&vgpu_hdr(r)->heartbeat);
	s->since_ns = vgpu_now_ns();
	s->next_check_ns = s->since_ns + 50000000ull;
}

/* Has the heartbeat been silent for stall_ms? Cheap unless 50 ms have
 * passed since the last look. */
static int stall_heartbeat(struct stallwatch *s, const struct vgpu_gchan *c)
{
	uint64_t now = vgpu_now_ns();
	if (now < s->next_check_ns)
		return VGPU_OK;
	s->next_check_ns = now + 50000000ull;
	uint64_t b = atomic_load(&vgpu_hdr(c->r)->heartbeat);
	if (b != s->beat) {
		s->beat = b;
		s->since_ns = now;
		return VGPU_OK;
	}
	return now - s->since_ns > (uint64_t)c->stall_ms * 1000000ull
		       ? VGPU_E_DAEMON
		       : VGPU_OK;
}

/* Channel still ours and the daemon alive (for waits on requests). */
static int stall_check(struct stallwatch *s, const struct vgpu_gchan *c)
{
	if (vgpu_now_ns() < s->next_check_ns)
		return VGPU_OK;
	int rc = vgpu_gchan_check(c);
	return rc ? rc : stall_heartbeat(s, c);
}

static int wait_ready(struct vgpu_gchan *c)
{
	struct vgpu_waiter w;
	struct stallwatch sw;
	vgpu_waiter_init(&w, &c->wait);
	stall_init(&sw, c->r);
	for (;;) {
		uint32_t rg = atomic_load_explicit(&c->ctl->ready_gen,
						   memory_order_acquire);
		if (rg == c->gen)
			return status_err(atomic_load(&c->ctl->status));
		/* a killed daemon leaves the region READY: its silent
		 * heartbeat tells that apart from a slow one */
		if (stall_heartbeat(&sw, c) == VGPU_E_DAEMON)
			return VGPU_E_DAEMON;
		if (vgpu_waiter_elapsed_ns(&w) >
		    (uint64_t)c->ready_timeout_ms * 1000000ull)
			return VGPU_E_TIMEOUT;
		vgpu_wait_step(&w, NULL, 0);
	}
}

int vgpu_gchan_claim(struct vgpu_gchan *c, struct vgpu_region *r,
		     const struct vgpu_claim_opts *o)
{
	memset(c, 0, sizeof(*c));
	c->r = r;
	c->abi = o->abi;
	c->wc = o->wc;
	c->futex = o->futex;
	c->wait = o->wait ? *o->wait : vgpu_wait_guest;
	c->wait.futex = o->futex;
	c->ready_timeout_ms = o->ready_timeout_ms ? o->ready_timeout_ms : 5000;
	c->stall_ms = o->stall_ms ? o->stall_ms : 3000;
	int rc = region_alive(r);
	if (rc)
		return rc;
	/* entries we cannot ask for (r->g.nslots is trusted geometry) */
	c->rp = replies_new(r->g.nslots);
	if (!c->rp)
		return VGPU_E_INVAL;
	uint32_t pid = (uint32_t)getpid();
	for (uint32_t i = 0; i < r->g.nchannels; i++) {
		if (try_claim_one(c, i, pid) != VGPU_OK)
			continue;
		rc = wait_ready(c);
		if (rc)
			vgpu_gchan_release(c);
		return rc;
	}
	replies_free(c->rp);
	c->rp = NULL;
	return VGPU_E_NOCHAN;
}

int vgpu_gchan_release(struct vgpu_gchan *c)
{
	if (!c->ctl || c->pid != (uint32_t)getpid())
		return VGPU_E_FORKED;
	uint64_t mine = VGPU_CLAIM(c->gen, c->pid);
	bool ok = atomic_compare_exchange_strong(&c->ctl->claim, &mine,
						 VGPU_CLAIM(c->gen, 0));
	ring_doorbell(c); /* let the daemon tear down promptly */
	c->ctl = NULL;
	replies_free(c->rp);
	c->rp = NULL;
	return ok ? VGPU_OK : VGPU_E_LOST;
}

void vgpu_gchan_abandon(struct vgpu_gchan *c)
{
	if (!c->ctl || c->pid != (uint32_t)getpid())
		return;
	uint64_t mine = VGPU_CLAIM(c->gen, c->pid);
	atomic_compare_exchange_strong(&c->ctl->claim, &mine,
				       VGPU_CLAIM(c->gen, 0));
	ring_doorbell(c);
}

int vgpu_gchan_check(const struct vgpu_gchan *c)
{
	if (!c->ctl)
		return VGPU_E_LOST;
	if (c->pid != (uint32_t)getpid())
		return VGPU_E_FORKED;
	if (atomic_load_explicit(&c->ctl->claim, memory_order_acquire) !=
	    VGPU_CLAIM(c->gen, c->pid))
		return VGPU_E_LOST;
	int rc = region_alive(c->r);
	if (rc)
		return VGPU_E_DAEMON;
	if (atomic_load(&c->ctl->ready_gen) != c->gen)
		return VGPU_E_LOST;
	return status_err(atomic_load(&c->ctl->status));
}

void vgpu_gchan_beat(struct vgpu_gchan *c)
{
	if (c->ctl && c->pid == (uint32_t)getpid())
		atomic_fetch_add_explicit(&c->ctl->guest_beat, 1,
					  memory_order_relaxed);
}

static void ring_doorbell(struct vgpu_gchan *c)
{
	vgpu_full_fence();
	if (!atomic_load_explicit(&c->ctl->need_wakeup, memory_order_relaxed))
		return;
	struct vgpu_region_hdr *h = vgpu_hdr(c->r);
	atomic_fetch_add(&h->doorbell, 1);
	if (c->futex)
		vgpu_futex_wake(&h->doorbell);
}

static int wait_slot_free(struct vgpu_gchan *c, struct vgpu_slot *s,
			  uint32_t pos)
{
	struct vgpu_waiter w;
	struct stallwatch sw;
	struct vgpu_waitpolicy p = c->wait;
	p.futex = false; /* the daemon frees slots without a wake-up */
	vgpu_waiter_init(&w, &p);
	stall_init(&sw, c->r);
	while (atomic_load_explicit(&s->seq, memory_order_acquire) != pos) {
		int rc = stall_check(&sw, c);
		if (rc)
			return rc;
		vgpu_wait_step(&w, NULL, 0);
	}
	return VGPU_OK;
}

int vgpu_gchan_submit(struct vgpu_gchan *c, const struct vgpu_req *q,
		      uint32_t reply, uint32_t *pos_out)
{
	if (c->pid != (uint32_t)getpid())
		return VGPU_E_FORKED;
	if (!c->ctl)
		return VGPU_E_LOST;
	if (q->len > vgpu_inline_max(c->r))
		return VGPU_E_LEN;
	if (q->op == 0 || q->op >= VGPU_OP_LIMIT)
		return VGPU_E_OPCODE;
	uint32_t pos = atomic_fetch_add_explicit(&c->ctl->prod, 1,
						 memory_order_relaxed);
	struct vgpu_slot *s = vgpu_slot_at(c->r, c->idx, pos);
	int rc = wait_slot_free(c, s, pos);
	if (rc)
		return rc;
	s->pos = pos;
	s->gen = c->gen;
	s->opcode = q->op;
	s->flags = q->flags;
	s->tid = q->tid ? q->tid : gettid_u32();
	s->len = q->len;
	s->result = 0;
	s->reply = (q->flags & VGPU_MSG_NOREPLY) ? 0 : reply;
	s->arena_off = q->arena_off;
	s->arena_len = q->arena_len;
	s->tag = q->tag;
	s->total = q->total;
	if (q->len)
		memcpy((uint8_t *)s + VGPU_MSG_HDR_SIZE, q->data, q->len);
	if (c->wc)
		vgpu_wc_fence();
	atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
	ring_doorbell(c);
	if (pos_out)
		*pos_out = pos;
	return VGPU_OK;
}

/* Sleep on the slot word; the daemon wakes us if resp_waiters is set. */
static void futex_sleep(struct vgpu_gchan *c, struct vgpu_waiter *w,
			struct vgpu_slot *s, uint32_t want)
{
	atomic_fetch_add(&c->ctl->resp_waiters, 1);
	vgpu_full_fence();
	uint32_t seen = atomic_load_explicit(&s->seq, memory_order_acquire);
	if (seen != want)
		vgpu_wait_step(w, &s->seq, seen);
	atomic_fetch_sub(&c->ctl->resp_waiters, 1);
}

int vgpu_gchan_wait(struct vgpu_gchan *c, uint32_t pos, uint32_t reply,
		    struct vgpu_resp *p)
{
	if (c->pid != (uint32_t)getpid())
		return VGPU_E_FORKED;
	struct vgpu_slot *s = vgpu_reply_at(c->r, c->idx, reply);
	uint32_t want = pos + 2;
	struct vgpu_waiter w;
	struct stallwatch sw;
	vgpu_waiter_init(&w, &c->wait);
	stall_init(&sw, c->r);
	while (atomic_load_explicit(&s->seq, memory_order_acquire) != want) {
		int rc = stall_check(&sw, c);
		if (rc)
			return rc;
		if (c->futex && vgpu_waiter_sleeping(&w))
			futex_sleep(c, &w, s, want);
		else
			vgpu_wait_step(&w, NULL, 0);
	}
	uint32_t len = s->len, max = vgpu_inline_max(c->r);
	if (len > max)
		len = max;
	int rc = VGPU_OK;
	if (p) {
		p->result = s->result;
		p->len = len;
		p->arena_len = s->arena_len;
		p->tag = s->tag;
		uint32_t n = len;
		if (n > p->cap) {
			n = p->cap;
			rc = VGPU_E_TRUNC;
		}
		if (n)
			memcpy(p->data, (uint8_t *)s + VGPU_MSG_HDR_SIZE, n);
	}
	return rc;
}

int vgpu_gchan_call(struct vgpu_gchan *c, const struct vgpu_req *q,
		    struct vgpu_resp *p)
{
	uint32_t pos, reply = 0;
	if (q->flags & VGPU_MSG_NOREPLY)
		return vgpu_gchan_submit(c, q, 0, &pos);
	if (c->pid != (uint32_t)getpid())
		return VGPU_E_FORKED;
	if (!c->rp)
		return VGPU_E_LOST;
	vgpu_replies_get(c, 1, &reply);
	int rc = vgpu_gchan_submit(c, q, reply, &pos);
	if (rc == VGPU_OK)
		rc = vgpu_gchan_wait(c, pos, reply, p);
	vgpu_replies_put(c, 1, &reply);
	return rc;
}
