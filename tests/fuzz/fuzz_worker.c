/* tests/fuzz/fuzz_worker.c - libFuzzer harness of the worker's opcode
 * handlers (daemon/worker_calls.c and the generated ones of ring/cuda.api).
 *
 * fuzz_host.c covers the ring's decoder; this harness starts where the
 * decoder ends: it hands the worker messages exactly as the ring would
 * deliver them (opcode in [1, VGPU_OP_LIMIT), flags within
 * VGPU_MSG_FLAGS_ALL, payload <= inline max, arena range inside the
 * channel's slice, a reply entry unless NOREPLY) and lets the input choose
 * everything else. One struct vworker lives in this process over the sim
 * backend, as worker_main.c's open_device() builds it but without exec:
 * cuInit, the primary context retained and current, a small region
 * formatted in memory with channel 0 claimed and accepted, and a
 * thread-less executor (vw_exec_standalone) so that vw_execute() runs
 * here, synchronously.
 *
 * Handle ids and device pointers in the messages are often VALID: the
 * harness reads each reply back from the entry the message named and keeps
 * the ids and pointers it returned (destroyed ones stay in the pools, so
 * use after destroy and double destroy happen), and the input picks from
 * them. The cubin comes from the seed corpus (make fuzz generates seeds
 * from build/tests/gpu/kernels.cubin), so modules load, functions and
 * globals resolve, and kernels launch with fuzzed parameters.
 *
 * Checked after every message (abort on a difference):
 *   - a message without NOREPLY is answered exactly once, and the ring
 *     accepted the answer (published: seq = pos + 2); a NOREPLY one never;
 *   - every result (replied, or kept as the pending async error) is a
 *     CUresult that cuda.h defines; a reply names no more arena bytes than
 *     the request lent;
 *   - the allocation table: non-global lengths sum to mem_in_use (and the
 *     ledger says the same), allocations do not overlap, and each one is
 *     live in the sim with that base and size (globals: inside a live one);
 *   - the handle table: each id sits at its index with a known kind, never
 *     resolves as another kind, and names an object live in the sim of the
 *     matching kind.
 * After each input the primary context is released to zero (the sim
 * resets: streams drained and closed, handles invalid, memory freed), the
 * harness checks the sim is empty (and its handle registry not growing),
 * and the worker's tables are cleared, so inputs are independent and
 * memory does not grow.
 *
 * Input format (bytes past the end read as 0): a sequence of messages,
 * at most MAX_MSGS, each
 *   u8 op      < 0xF0: OPS[op % NOPS] (hand-written 0x10-0x1A, then every
 *              generated op); else a random opcode from a u16
 *   u8 flags   bit 7 set: flags = bits 0-2; else the op's usual flags
 *   u8 reply   reply entry (mod nslots)
 *   u8 shape   bit 0: raw payload (u16 length, then bytes); else the op's
 *              structured payload, see build_*()
 *   then the op's fields, as read by build_*().
 *
 * Environment: FUZZ_WORKER_TRACE=1 prints every message and its result.
 */
#include "cuda_api_ops.h"
#include "daemon/devinfo.h"
#include "daemon/sim/sim.h"
#include "daemon/worker.h"
#include "guest/cuda/errors_table.h"
#include "ring/host.h"
#include <sanitizer/lsan_interface.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_MSGS 256
#define NSLOTS 16
#define SLOT_SIZE 1024   /* vgpud's (daemon/region_file.c) */
#define ARENA (64u << 10)
#define POOL 64
#define NFNS MAX_MSGS /* every function of an input: see build_launch */
#define NO_STREAM UINT64_MAX
#define SLEEP_MAX_NS 200000u /* vgpu_sleep_ns sleeps for real: cap it */
#define LEAK_EVERY 512 /* inputs between two leak checks, see run_leak_check */

#define FUZZ_NAME "fuzz_worker"
#define FUZZ_STEP "message"
#include "fuzz_common.h"

/* n bytes of input into dst; what the input lacks is zero. */
static void bytes(uint8_t *dst, size_t n)
{
	size_t k = n < in_n ? n : in_n;
	memcpy(dst, in_p, k);
	memset(dst + k, 0, n - k);
	in_p += k;
	in_n -= k;
}

/* ------------------------------------------------------------------ */
/* the reply hook: the linker routes vw_reply's call here (--wrap) */

int __real_vgpu_hchan_reply(struct vgpu_region *r, struct vgpu_hchan *h,
			    const struct vgpu_msg *m, int32_t result,
			    const void *data, uint32_t len, uint64_t arena_len);
int __wrap_vgpu_hchan_reply(struct vgpu_region *r, struct vgpu_hchan *h,
			    const struct vgpu_msg *m, int32_t result,
			    const void *data, uint32_t len, uint64_t arena_len);

static struct {
	unsigned calls;
	int rc;
	int32_t result;
	uint32_t len;
	uint64_t arena_len;
} rep;

int __wrap_vgpu_hchan_reply(struct vgpu_region *r, struct vgpu_hchan *h,
			    const struct vgpu_msg *m, int32_t result,
			    const void *data, uint32_t len, uint64_t arena_len)
{
	int rc = __real_vgpu_hchan_reply(r, h, m, result, data, len, arena_len);
	rep.calls++;
	rep.rc = rc;
	rep.result = result;
	rep.len = len;
	rep.arena_len = arena_len;
	return rc;
}

/* ------------------------------------------------------------------ */
/* the worker under test */

static struct vworker W;
static struct vw_exec *X;
static uint8_t *region_mem;
static struct vgpud_ledger ledger[1];
static uint32_t next_pos = VGPU_START_DEFAULT;

static uint32_t imax(void) { return vgpu_inline_max(&W.r); }
static uint8_t *arena(void) { return vgpu_arena(&W.r, 0); }

__attribute__((noreturn)) static void die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_worker: setup: %s failed (%d)\n", what, rc);
	exit(1);
}

/* Channel 0 claimed by a guest and accepted, as memregion_attach() and
 * vgpu_serve do it: W->srv.ch[0] is then active and replies go through. */
static void attach_channel(void)
{
	struct vgpu_chan_ctl *ctl = vgpu_ctl(&W.r, 0);
	struct vgpu_msg m;
	uint8_t buf[SLOT_SIZE];
	atomic_store(&ctl->claim, VGPU_CLAIM(1, (uint32_t)getpid()));
	ctl->abi = VGPU_ABI_MAX;
	atomic_store(&ctl->req_gen, 1);
	int ev = vgpu_hchan_poll(&W.r, &W.srv.ch[0], &m, buf);
	if (ev != VGPU_H_ATTACH)
		die("claim", ev);
	vgpu_hchan_accept(&W.r, &W.srv.ch[0], W.srv.start);
}

static void setup_region(void)
{
	struct vgpu_geom g = {.nchannels = 1, .nslots = NSLOTS,
			      .slot_size = SLOT_SIZE, .arena_per_chan = ARENA};
	int rc = vgpu_geom_layout(&g);
	if (rc)
		die("vgpu_geom_layout", rc);
	/* exactly sized: the arena slice ends where the allocation does */
	if (posix_memalign((void **)&region_mem, 4096, g.size))
		die("posix_memalign", -1);
	memset(region_mem, 0xA5, g.size);
	if ((rc = vgpu_region_format(&W.r, region_mem, g.size, &g, 0)))
		die("vgpu_region_format", rc);
	atomic_store(&vgpu_hdr(&W.r)->state, VGPU_REGION_READY);
	if ((rc = vgpu_serve_init(&W.srv, &W.r, NULL, &W)))
		die("vgpu_serve_init", rc);
	W.srv.owner = false;
	W.srv.count = 1;
	W.chan = 0;
	attach_channel();
}

/* The context the worker's requests run in; also after each reset. */
static void open_context(void)
{
	CUresult r = W.drv.cuDevicePrimaryCtxRetain(&W.ctx, W.dev);
	if (!r)
		r = W.drv.cuCtxSetCurrent(W.ctx);
	if (r)
		die("primary context", r);
	W.ctx_id = vw_handle_new(&W, VGPU_HK_CONTEXT, W.ctx);
	if (!W.ctx_id)
		die("context id", 0);
}

static void setup_worker(void)
{
	char err[256];
	/* the smallest device the sim allows: an allocation, copy or memset
	 * the input sizes can never take long */
	setenv("VGPU_SIM_MEMORY", "64M", 1);
	pthread_mutex_init(&W.mu, NULL);
	if (vgpu_backend_sim_open(&W.drv, err, sizeof(err))) {
		fprintf(stderr, "fuzz_worker: %s\n", err);
		exit(1);
	}
	CUresult r = W.drv.cuInit(0);
	if (!r)
		r = W.drv.cuDeviceGet(&W.dev, 0);
	if (!r)
		r = vgpu_devinfo_fill(&W.drv, W.dev, "fuzz", 0, &W.info);
	if (r)
		die("device", r);
	W.ledger = ledger;
	setup_region();
	open_context();
}

/* ------------------------------------------------------------------ */
/* what the worker gave out: ids, device ranges, functions */

struct range {
	uint64_t base, len;
};
struct fnrec {
	uint64_t id;
	bool sleeps; /* vgpu_sleep_ns: its argument is capped */
	struct vgpu_cu_fninfo fi;
};

static uint64_t ids[POOL];
static unsigned nids, ids_next;
static struct range ptrs[POOL];
static unsigned nptrs, ptrs_next;
static struct fnrec fns[NFNS];
static unsigned nfns;

static void add_id(uint64_t id)
{
	ids[ids_next++ % POOL] = id;
	if (nids < POOL)
		nids++;
}

static void add_ptr(uint64_t base, uint64_t len)
{
	ptrs[ptrs_next++ % POOL] = (struct range){base, len};
	if (nptrs < POOL)
		nptrs++;
}

/* Every function an input obtains is recorded (at most one per message),
 * so a launch of a valid function id always knows its layout: that is
 * what keeps vgpu_sleep_ns's argument capped. */
static void add_fn(const struct vgpu_cu_fninfo *fi, const char *name)
{
	CHECK(nfns < NFNS);
	struct fnrec *f = &fns[nfns++];
	f->id = fi->function;
	f->fi = *fi;
	f->sleeps = !strcmp(name, "vgpu_sleep_ns");
}

/* The newest record: a freed id's index may be reissued. */
static const struct fnrec *fn_of(uint64_t id)
{
	for (unsigned i = nfns; i-- > 0;)
		if (fns[i].id == id)
			return &fns[i];
	return NULL;
}

static int kind_of(uint64_t id)
{
	return (int)(id >> VGPU_CU_HKIND_SHIFT);
}

static bool is_kind(int k)
{
	return k >= VGPU_HK_CONTEXT && k <= VGPU_HK_MEM_POOL;
}

/* ------------------------------------------------------------------ */
/* value generators: mostly valid, sometimes near-valid, sometimes junk */

static const struct range *pick_ptr(void)
{
	uint8_t i = u8();
	return nptrs ? &ptrs[i % nptrs] : NULL;
}

/* A device address: inside, at the edges of, or outside an allocation. */
static uint64_t gen_dev(void)
{
	uint8_t mode = u8() % 8;
	if (mode == 5)
		return u64();
	if (mode == 6)
		return 0;
	const struct range *p = pick_ptr();
	/* no allocation yet: somewhere in the sim's reserved range */
	uint64_t base = p ? p->base : 0x7e8000000000ull + 256u * u16();
	uint64_t len = p ? p->len : 0;
	switch (mode) {
	case 0: case 1: case 2: return base + u8();
	case 3: return base + len - u8();
	case 4: return base + len + u8();
	default: return base - 1 - u8();
	}
}

static uint64_t gen_id(int want)
{
	uint8_t mode = u8() % 8, i = u8();
	if (mode < 4 && nids) {
		/* the i-th pooled id of the wanted kind, else any */
		for (unsigned k = 0; k < nids; k++) {
			uint64_t id = ids[(i + k) % nids];
			if (kind_of(id) == want)
				return id;
		}
		return ids[i % nids];
	}
	switch (mode) {
	case 4: return nids ? ids[i % nids] : 0;
	case 5: return u64();
	case 6: /* a real id with its kind and index changed */
		return ((nids ? ids[i % nids] : 0) & 0x00FFFFFFFFFFFF00ull) |
		       (uint64_t)(VGPU_HK_CONTEXT + i % 5) << VGPU_CU_HKIND_SHIFT |
		       u8();
	case 7: return W.ctx_id;
	default: return 0;
	}
}

/* A stream argument: a handle, a default stream, or none. */
static uint64_t gen_stream(void)
{
	static const uint64_t special[] = {
		0, (uint64_t)(uintptr_t)CU_STREAM_LEGACY,
		(uint64_t)(uintptr_t)CU_STREAM_PER_THREAD, NO_STREAM};
	uint8_t mode = u8();
	if (mode & 1)
		return special[(mode >> 1) % 4];
	return gen_id(VGPU_HK_STREAM);
}

/* An argument of a generated call, of whatever type: the input learns
 * which mode each opcode's arguments want. */
static uint64_t gen_arg(void)
{
	const struct range *p;
	switch (u8() % 10) {
	case 0: return u8();
	case 1: return u16();
	case 2: return u32();
	case 3: return u64();
	case 4: return gen_id(u8() % 2 ? VGPU_HK_STREAM : VGPU_HK_EVENT);
	case 5: return gen_id(VGPU_HK_CONTEXT + u8() % 5);
	case 6: return gen_dev();
	case 7: /* a size relative to an allocation's */
		p = pick_ptr();
		return p ? p->len + (int8_t)u8() : u16();
	case 8: return gen_stream();
	default: return (uint64_t)vgpu_f2u((float)(int8_t)u8() / 4);
	}
}

static uint64_t gen_off(void)
{
	switch (u8() % 4) {
	case 0: return 0;
	case 1: return u8();
	case 2: return u16();
	default: return u64();
	}
}

/* ------------------------------------------------------------------ */
/* message construction */

static const uint16_t HAND_OPS[] = {
	VGPU_CU_DEVICE_INFO,        VGPU_CU_CTX_RETAIN,
	VGPU_CU_MEMCPY_HTOD,        VGPU_CU_MEMCPY_DTOH,
	VGPU_CU_MODULE_LOAD,        VGPU_CU_MODULE_GET_FUNCTION,
	VGPU_CU_MODULE_GET_GLOBAL,  VGPU_CU_LAUNCH,
	VGPU_CU_MODULE_COMMIT,      VGPU_CU_MEMCPY_HTOD_INLINE,
	VGPU_CU_MEMCPY_DTOH_INLINE,
};
#define NHAND (sizeof(HAND_OPS) / sizeof(HAND_OPS[0]))
#define NGEN ((unsigned)(VGPU_CU_OP_GEN_END - VGPU_CU_OP_GEN_BASE))
#define NOPS (NHAND + NGEN)

static const struct vw_gen_entry *gen_entry(uint16_t op)
{
	for (const struct vw_gen_entry *e = vw_gen_table; e->fn; e++)
		if (e->op == op)
			return e;
	return NULL;
}

static const char *op_name(uint16_t op)
{
	static const char *const hand[] = {
		"DEVICE_INFO", "CTX_RETAIN", "MEMCPY_HTOD", "MEMCPY_DTOH",
		"MODULE_LOAD", "GET_FUNCTION", "GET_GLOBAL", "LAUNCH",
		"MODULE_COMMIT", "HTOD_INLINE", "DTOH_INLINE"};
	const struct vw_gen_entry *e = gen_entry(op);
	if (e)
		return e->name;
	if (op >= VGPU_CU_DEVICE_INFO && op <= VGPU_CU_MEMCPY_DTOH_INLINE)
		return hand[op - VGPU_CU_DEVICE_INFO];
	return "(unknown)";
}

/* What a well-behaved guest sets for op. */
static uint16_t usual_flags(uint16_t op)
{
	const struct vw_gen_entry *e = gen_entry(op);
	if (e)
		return e->sync ? 0 : VGPU_MSG_NOREPLY;
	switch (op) {
	case VGPU_CU_LAUNCH:
		return VGPU_MSG_NOREPLY;
	case VGPU_CU_DEVICE_INFO:
	case VGPU_CU_MEMCPY_HTOD:
	case VGPU_CU_MEMCPY_DTOH:
		return VGPU_MSG_ARENA;
	case VGPU_CU_MODULE_LOAD:
		return VGPU_MSG_ARENA | VGPU_MSG_MORE;
	default:
		return 0;
	}
}

struct req {
	struct vgpu_msg m;
	uint8_t pay[VGPU_MAX_SLOT_SIZE];
	char name[VGPU_CU_NAME_MAX]; /* GET_FUNCTION: the name asked for */
};

/* The arena range of m (inside the slice, as the ring guarantees) for a
 * transfer of about `want` bytes; fill: its contents come from the input. */
static void gen_arena(struct vgpu_msg *m, uint64_t want, bool fill)
{
	m->arena_off = m->arena_len = 0;
	if (!(m->flags & VGPU_MSG_ARENA))
		return;
	uint64_t off = 0, len;
	switch (u8() % 4) {
	case 0:
		len = want;
		break;
	case 1:
		off = u16() % (ARENA + 1);
		len = want;
		break;
	case 2: /* up to the end of the slice */
		off = u32() % (ARENA + 1);
		len = ARENA - off;
		break;
	default:
		off = u16() % (ARENA + 1);
		len = u16();
	}
	if (len > ARENA - off)
		len = ARENA - off;
	m->arena_off = off;
	m->arena_len = len;
	if (fill)
		bytes(arena() + off, len);
}

static void put(struct req *q, const void *p, size_t n)
{
	memcpy(q->pay + q->m.len, p, n);
	q->m.len += (uint32_t)n;
}

static void build_xfer(struct req *q)
{
	uint64_t x[2];
	x[0] = gen_dev(); /* in this order: initialisers are unsequenced */
	x[1] = gen_stream();
	put(q, x, sizeof(x));
}

static void build_device_info(struct req *q)
{
	uint64_t t = u8() % 4 ? u16() % (sizeof(W.info) + 64) : u64();
	q->m.tag = t;
	gen_arena(&q->m, t < sizeof(W.info) ? sizeof(W.info) - t : u16(), false);
}

static void build_memcpy_chunk(struct req *q, bool htod)
{
	build_xfer(q);
	q->m.tag = gen_off();
	gen_arena(&q->m, u16() % (ARENA + 1), htod);
}

static void build_inline(struct req *q, bool htod)
{
	build_xfer(q);
	if (htod) {
		uint32_t n = u16() % (imax() - 16 + 1);
		bytes(q->pay + q->m.len, n);
		q->m.len += n;
		return;
	}
	uint64_t n = u8() % 2 ? u16() % (imax() + 64) : u64();
	put(q, &n, sizeof(n));
}

/* Chunks of an image: the first (tag 0) says the total; later ones
 * continue where the executor's image stands, or anywhere. */
static void build_module_load(struct req *q)
{
	struct vw_exec_state *st = vw_exec_state(X);
	switch (u8() % 4) {
	case 0: q->m.total = u16(); break;
	case 1: q->m.total = u32() % (1u << 20); break;
	case 2: q->m.total = u64(); break;
	default: q->m.total = st->image_len;
	}
	switch (u8() % 4) {
	case 0: q->m.tag = 0; break;
	case 1: q->m.tag = st->image_got; break;
	case 2: q->m.tag = u64(); break;
	default: q->m.tag = st->image_got + u8();
	}
	uint64_t total = q->m.tag ? st->image_len : q->m.total;
	uint64_t left = total > q->m.tag ? total - q->m.tag : 0;
	gen_arena(&q->m, u8() % 4 ? left : u16(), true);
}

static void build_getfn(struct req *q)
{
	static const char *const names[] = {
		"vgpu_fill_u32", "vgpu_add_f32", "vgpu_saxpy",
		"vgpu_struct_arg", "vgpu_checksum", "vgpu_sleep_ns",
		"vgpu_fault", "vgpu_inc_counter", "vgpu_counter",
		"vgpu_words", "vgpu_scale", "", "vgpu_fill_u3"};
	struct vgpu_cu_getfn g;
	memset(&g, 0, sizeof(g));
	g.module = gen_id(VGPU_HK_MODULE);
	uint8_t mode = u8();
	if (mode < 0xE0) {
		snprintf(g.name, sizeof(g.name), "%s",
			 names[mode % (sizeof(names) / sizeof(names[0]))]);
	} else if (mode & 1) { /* a short name of the input's */
		bytes((uint8_t *)g.name, u8() % 64);
	} else { /* no terminator at all */
		memset(g.name, 'A', sizeof(g.name));
	}
	memcpy(q->name, g.name, sizeof(g.name));
	q->name[sizeof(q->name) - 1] = 0;
	put(q, &g, sizeof(g));
}

/* Grid and block sizes: small and valid, or invalid outright; never
 * huge and valid (the sim would run every thread of it). */
static uint32_t gen_dim(uint32_t small, uint32_t bad)
{
	uint8_t b = u8();
	if (b < 0xF0)
		return 1 + b % small;
	switch (b % 3) {
	case 0: return 0;
	case 1: return bad;
	default: return UINT32_MAX;
	}
}

static void build_params(struct req *q, const struct fnrec *f,
			 uint32_t nbytes)
{
	uint8_t *p = q->pay + q->m.len;
	memset(p, 0, nbytes);
	if (!f) {
		bytes(p, nbytes);
	} else {
		for (uint32_t i = 0; i < f->fi.nparams; i++) {
			uint32_t off = f->fi.offset[i], sz = f->fi.size[i];
			if (off + sz > nbytes)
				continue;
			uint64_t v;
			if (sz == 8)
				v = gen_dev(); /* pointers, or counts (raw) */
			else if (sz == 4)
				v = u8() % 2 ? u8() : u32();
			if (sz == 8 || sz == 4)
				memcpy(p + off, &v, sz);
			else
				bytes(p + off, sz);
		}
		if (f->sleeps && f->fi.nparams && f->fi.size[0] == 8 &&
		    f->fi.offset[0] + 8u <= nbytes) {
			uint64_t ns;
			memcpy(&ns, p + f->fi.offset[0], 8);
			ns %= SLEEP_MAX_NS;
			memcpy(p + f->fi.offset[0], &ns, 8);
		}
	}
	q->m.len += nbytes;
}

static void build_launch(struct req *q)
{
	struct vgpu_cu_launch L;
	memset(&L, 0, sizeof(L));
	L.function = gen_id(VGPU_HK_FUNCTION);
	L.stream = gen_stream();
	L.grid[0] = gen_dim(16, 0x80000000u);
	L.grid[1] = gen_dim(4, 65536);
	L.grid[2] = gen_dim(4, 65536);
	L.block[0] = gen_dim(32, 1025);
	L.block[1] = gen_dim(4, 1025);
	L.block[2] = gen_dim(4, 65);
	L.shared_bytes = u8() % 8 ? 0 : u32();
	const struct fnrec *f = fn_of(L.function);
	uint32_t room = imax() - (uint32_t)sizeof(L);
	uint32_t nbytes;
	uint8_t mode = u8() % 8;
	if (f && mode < 6)
		nbytes = f->fi.param_bytes;
	else if (f && mode == 6 && f->fi.param_bytes)
		nbytes = f->fi.param_bytes - 1;
	else
		nbytes = u16() % (room + 1);
	if (nbytes > room)
		nbytes = room;
	/* sometimes a param_bytes that disagrees with the payload */
	L.param_bytes = u8() % 8 ? nbytes : u32();
	put(q, &L, sizeof(L));
	/* a lying param_bytes never sneaks an unclamped sleep through */
	build_params(q, L.param_bytes == nbytes ? f : NULL, nbytes);
	if (L.param_bytes != nbytes && f && f->sleeps)
		q->m.len -= nbytes; /* keep the launch refused */
}

static void build_gen(struct req *q)
{
	struct vgpu_cu_args a;
	memset(&a, 0, sizeof(a));
	unsigned n = u8() % 9;
	for (unsigned i = 0; i < n; i++)
		a.a[i] = gen_arg();
	put(q, &a, sizeof(a));
}

static void build_raw(struct req *q)
{
	uint32_t n = u16() % (imax() + 1);
	bytes(q->pay, n);
	q->m.len = n;
	q->m.tag = u8() % 2 ? 0 : u64();
	q->m.total = u8() % 2 ? 0 : u64();
	uint64_t want = u16();
	bool fill = u8() & 1; /* after want: arguments are unsequenced */
	gen_arena(&q->m, want, fill);
}

static void build(struct req *q, uint16_t op, bool raw)
{
	if (raw) {
		build_raw(q);
		return;
	}
	switch (op) {
	case VGPU_CU_DEVICE_INFO: build_device_info(q); break;
	case VGPU_CU_CTX_RETAIN: break;
	case VGPU_CU_MEMCPY_HTOD: build_memcpy_chunk(q, true); break;
	case VGPU_CU_MEMCPY_DTOH: build_memcpy_chunk(q, false); break;
	case VGPU_CU_MODULE_LOAD: build_module_load(q); break;
	case VGPU_CU_MODULE_GET_FUNCTION:
	case VGPU_CU_MODULE_GET_GLOBAL: build_getfn(q); break;
	case VGPU_CU_LAUNCH: build_launch(q); break;
	case VGPU_CU_MODULE_COMMIT: break;
	case VGPU_CU_MEMCPY_HTOD_INLINE: build_inline(q, true); break;
	case VGPU_CU_MEMCPY_DTOH_INLINE: build_inline(q, false); break;
	default:
		if (gen_entry(op))
			build_gen(q);
		else
			build_raw(q);
	}
}

/* ------------------------------------------------------------------ */
/* invariants */

static bool valid_result(int32_t r)
{
	size_t a = 0, b = vgpu_cu_errors_len; /* sorted by code */
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (vgpu_cu_errors[m].code == r)
			return true;
		if (vgpu_cu_errors[m].code < r)
			a = m + 1;
		else
			b = m;
	}
	return false;
}

static void check_allocs(void)
{
	uint64_t sum = 0;
	sim_heap_rdlock();
	for (uint32_t i = 0; i < W.nallocs; i++) {
		const struct vw_alloc *a = &W.allocs[i];
		struct sim_span sp;
		bool live = sim_heap_find(a->base, a->len ? a->len : 1, &sp);
		if (a->mapped) {
			/* VMM mappings and IPC imports: not counted, usable
			 * in the sim only once access is set, joined there
			 * with their neighbours (tests/unit/test_vmm.c) */
		} else if (!a->global) {
			sum += a->len;
			CHECK(live && sp.base == a->base && sp.size == a->len,
			      "allocation %u [0x%llx, +%llu) is not the sim's", i,
			      (unsigned long long)a->base,
			      (unsigned long long)a->len);
			for (uint32_t j = 0; j < i; j++) {
				const struct vw_alloc *b = &W.allocs[j];
				CHECK(b->global || b->mapped ||
				      a->base >= b->base + b->len ||
				      b->base >= a->base + a->len,
				      "allocations %u and %u overlap", j, i);
			}
		} else {
			CHECK(live, "global %u [0x%llx, +%llu) is not live in "
			      "the sim", i, (unsigned long long)a->base,
			      (unsigned long long)a->len);
		}
	}
	sim_heap_unlock();
	sum += vw_vmm_bytes(&W); /* physical allocations: not in allocs */
	CHECK(sum == W.mem_in_use, "%llu vs %llu", (unsigned long long)sum,
	      (unsigned long long)W.mem_in_use);
	CHECK(atomic_load(&ledger[0].mem_in_use) == W.mem_in_use);
}

/* The sim object a worker handle's real pointer must name. */
static bool sim_live(int kind, void *real)
{
	static const enum sim_kind map[VGPU_HK_MEM_POOL - VGPU_HK_CONTEXT + 1] = {
		[VGPU_HK_MODULE - VGPU_HK_CONTEXT] = SIM_MODULE,
		[VGPU_HK_FUNCTION - VGPU_HK_CONTEXT] = SIM_FUNC,
		[VGPU_HK_STREAM - VGPU_HK_CONTEXT] = SIM_STREAM,
		[VGPU_HK_EVENT - VGPU_HK_CONTEXT] = SIM_EVENT,
		[VGPU_HK_GRAPH - VGPU_HK_CONTEXT] = SIM_GRAPH,
		[VGPU_HK_GRAPH_EXEC - VGPU_HK_CONTEXT] = SIM_GEXEC,
		[VGPU_HK_GRAPH_NODE - VGPU_HK_CONTEXT] = SIM_GNODE};
	if (kind == VGPU_HK_CONTEXT)
		return real == W.ctx;
	if (kind == VGPU_HK_MEM_POOL)
		return sim_pool_live(real);
	if (!map[kind - VGPU_HK_CONTEXT])
		return true; /* not a sim object: the area's own table checks */
	struct sim_obj *o = sim_obj_get(real, map[kind - VGPU_HK_CONTEXT]);
	sim_obj_put(o);
	return o != NULL;
}

static void check_handles(void)
{
	for (uint32_t i = 0; i < W.nhandles; i++) {
		const struct vw_handle *h = &W.handles[i];
		if (!h->id)
			continue;
		int k = kind_of(h->id);
		CHECK(is_kind(k) && (uint32_t)h->id == i + 1,
		      "handle %u has id 0x%llx", i, (unsigned long long)h->id);
		CHECK(vw_handle_entry(&W, k, h->id) == h);
		for (int o = VGPU_HK_CONTEXT; o <= VGPU_HK_MEM_POOL; o++)
			CHECK(o == k || !vw_handle_entry(&W, o, h->id),
			      "id 0x%llx resolves as kind 0x%x",
			      (unsigned long long)h->id, o);
		CHECK(k != VGPU_HK_FUNCTION || h->fn);
		CHECK(sim_live(k, h->real),
		      "id 0x%llx (kind 0x%x) names no live sim object",
		      (unsigned long long)h->id, k);
	}
}

static void check_tables(void)
{
	check_allocs();
	check_handles();
	CHECK(valid_result(W.async_err), "async_err %d", W.async_err);
}

/* ------------------------------------------------------------------ */
/* one message */

/* What the reply gave out, into the pools. */
static void harvest(const struct req *q, const struct vgpu_slot *rs)
{
	const uint8_t *pay = (const uint8_t *)rs + VGPU_MSG_HDR_SIZE;
	struct vgpu_cu_args out;
	if (rs->result != CUDA_SUCCESS)
		return;
	if (q->m.op == VGPU_CU_MODULE_GET_FUNCTION) {
		struct vgpu_cu_fninfo fi;
		CHECK(rs->len == sizeof(fi), "fninfo reply of %u bytes", rs->len);
		memcpy(&fi, pay, sizeof(fi));
		CHECK(kind_of(fi.function) == VGPU_HK_FUNCTION);
		CHECK(fi.nparams <= VGPU_CU_MAX_PARAMS);
		add_id(fi.function);
		add_fn(&fi, q->name);
		return;
	}
	if (rs->len != sizeof(out))
		return;
	memcpy(&out, pay, sizeof(out));
	if (q->m.op == VGPU_CU_MODULE_GET_GLOBAL) {
		add_ptr(out.a[0], out.a[1]);
		return;
	}
	for (int i = 0; i < 8; i++) {
		if (is_kind(kind_of(out.a[i])))
			add_id(out.a[i]);
		for (uint32_t j = 0; j < W.nallocs; j++)
			if (out.a[i] && W.allocs[j].base == out.a[i])
				add_ptr(out.a[i], W.allocs[j].len);
	}
}

static void execute(struct req *q)
{
	struct vgpu_msg *m = &q->m;
	/* the worker sees exactly len payload bytes, as from vw_exec_submit */
	uint8_t *data = malloc(m->len ? m->len : 1);
	CHECK(data);
	memcpy(data, q->pay, m->len);
	m->data = data;
	struct vgpu_slot *rs = NULL;
	if (!(m->flags & VGPU_MSG_NOREPLY)) {
		rs = vgpu_reply_at(&W.r, 0, m->reply);
		atomic_store(&rs->seq, m->pos); /* not yet published */
	}
	memset(&rep, 0, sizeof(rep));
	vw_execute(&W, X, m);
	free(data);
	m->data = NULL;
	if (!rs) {
		CHECK(rep.calls == 0, "NOREPLY %s answered", op_name(m->op));
		tracef("%s (0x%x) flags %u len %u: async, pending %d",
		       op_name(m->op), m->op, m->flags, m->len, W.async_err);
		return;
	}
	CHECK(rep.calls == 1, "%s answered %u times", op_name(m->op),
	      rep.calls);
	CHECK(rep.rc == VGPU_OK, "%s: the ring refused the reply (%d)",
	      op_name(m->op), rep.rc);
	CHECK(atomic_load(&rs->seq) == m->pos + 2);
	CHECK(valid_result(rs->result), "%s returned %d", op_name(m->op),
	      rs->result);
	CHECK(rep.arena_len <= m->arena_len, "%s: %llu arena bytes of %llu",
	      op_name(m->op), (unsigned long long)rep.arena_len,
	      (unsigned long long)m->arena_len);
	tracef("%s (0x%x) flags %u len %u arena %llu+%llu tag %llu: %d",
	       op_name(m->op), m->op, m->flags, m->len,
	       (unsigned long long)m->arena_off,
	       (unsigned long long)m->arena_len, (unsigned long long)m->tag,
	       rs->result);
	harvest(q, rs);
}

static void one_message(struct req *q)
{
	uint8_t sel = u8(), fl = u8(), reply = u8(), shape = u8();
	uint16_t op = sel < 0xF0 ? (uint16_t)(sel % NOPS < NHAND
					     ? HAND_OPS[sel % NOPS]
					     : VGPU_CU_OP_GEN_BASE + sel % NOPS - NHAND)
				 : (uint16_t)(1 + u16() % (VGPU_OP_LIMIT - 1));
	/* These wait by design for the guest (a host callback to run, a
	 * value to be written) that this harness never is: a wait here is
	 * no finding. test_stream_worker.c covers them. */
	if (op == VGPU_CU_CB_POLL || op == VGPU_CU_HOST_FUNC ||
	    op == VGPU_CU_BATCH_MEMOP)
		op = VGPU_CU_DEVICE_INFO;
	memset(&q->m, 0, sizeof(q->m));
	q->name[0] = 0;
	q->m.op = op;
	q->m.flags = fl & 0x80 ? fl & VGPU_MSG_FLAGS_ALL : usual_flags(op);
	q->m.tid = 1;
	q->m.pos = next_pos++;
	q->m.epoch = W.srv.ch[0].epoch;
	q->m.reply = q->m.flags & VGPU_MSG_NOREPLY ? VGPU_NO_REPLY
						   : reply % NSLOTS;
	build(q, op, shape & 1);
	execute(q);
	check_tables();
}

/* ------------------------------------------------------------------ */
/* between inputs */

static void check_sim_empty(void)
{
	size_t free_b, total;
	sim_heap_info(&free_b, &total);
	CHECK(free_b == total, "%zu bytes still allocated after the reset",
	      total - free_b);
	for (int k = SIM_STREAM; k <= SIM_FUNC; k++) {
		struct sim_obj **v;
		size_t n;
		CHECK(sim_obj_collect((enum sim_kind)k, &v, &n) == 0);
		for (size_t i = 0; i < n; i++)
			sim_obj_put(v[i]);
		free(v);
		CHECK(n == 0, "%zu objects of kind %d after the reset", n, k);
	}
	/* sized by what is live, not by all the handles ever made (an input
	 * makes at most a few thousand: a module's functions) */
	CHECK(sim_obj_slots() <= 65536, "registry of %zu slots",
	      sim_obj_slots());
}

/* Everything of the last input goes: the sim resets when the primary
 * context's last reference is released, and the worker forgets its
 * tables (a worker process would exit instead). */
static void reset_worker(void)
{
	W.drv.cuCtxSynchronize(); /* queued work done: a last look */
	check_tables();
	vw_exec_standalone_free(X);
	X = NULL;
	CUresult r = W.drv.cuDevicePrimaryCtxRelease_v2(W.dev);
	CHECK(r == CUDA_SUCCESS, "release: %d", r);
	check_sim_empty();
	for (uint32_t i = 0; i < W.nhandles; i++)
		free(W.handles[i].fn);
	W.nhandles = 0;
	W.nallocs = 0;
	vw_vmm_forget(&W);
	vw_graph_host_forget(&W);
	W.mem_in_use = 0;
	atomic_store(&ledger[0].mem_in_use, 0);
	W.async_err = CUDA_SUCCESS;
	open_context();
}

/* The sim frees streams and operations on its own threads, after an input
 * has returned, so libFuzzer's per-input leak check (run whenever an
 * input's mallocs outnumber its frees) rescanned the heap after almost
 * every input, at an eighth of the speed: make fuzz runs with
 * -detect_leaks=0 and the harness asks LeakSanitizer itself, now and then.
 * A leak is then reported some inputs late; rerun the corpus with
 * -detect_leaks=1 to find the input. */
static void run_leak_check(void)
{
	static unsigned n;
	if (++n % LEAK_EVERY == 0)
		CHECK(!__lsan_do_recoverable_leak_check(), "memory leaked");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *e = getenv("FUZZ_WORKER_TRACE");
	trace_on = e && *e && *e != '0';
	setup_worker();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct req q; /* 64 KiB: not on the stack */
	in_p = data;
	in_n = size;
	nids = ids_next = nptrs = ptrs_next = nfns = 0;
	memset(arena(), 0, ARENA);
	X = vw_exec_standalone(&W);
	CHECK(X);
	add_id(W.ctx_id);
	for (step_index = 0; in_n && step_index < MAX_MSGS; step_index++)
		one_message(&q);
	reset_worker();
	run_leak_check();
	return 0;
}
