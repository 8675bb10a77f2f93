/* ring/stream.c - double-buffered bulk transfer through arena lanes. */
#include "stream.h"
#include <string.h>

int vgpu_lanes_init(struct vgpu_lanes *l, uint64_t slice_len, uint32_t n)
{
	if (n == 0 || n > 32 || slice_len < 8192)
		return VGPU_E_INVAL;
	while (slice_len / n < 8192) /* fewer, usable lanes on a small slice */
		n--;
	l->lane_len = (slice_len / n) & ~4095ull;
	l->n = n;
	l->busy = 0;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	return VGPU_OK;
}

void vgpu_lanes_fini(struct vgpu_lanes *l)
{
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
}

void vgpu_lane_get(struct vgpu_lanes *l, struct vgpu_lane *out)
{
	uint32_t all = l->n == 32 ? ~0u : (1u << l->n) - 1;
	pthread_mutex_lock(&l->mu);
	while ((l->busy & all) == all)
		pthread_cond_wait(&l->cv, &l->mu);
	uint32_t id = (uint32_t)__builtin_ctz(~l->busy & all);
	l->busy |= 1u << id;
	pthread_mutex_unlock(&l->mu);
	out->id = id;
	out->off = (uint64_t)id * l->lane_len;
	out->len = l->lane_len;
}

void vgpu_lane_put(struct vgpu_lanes *l, const struct vgpu_lane *ln)
{
	pthread_mutex_lock(&l->mu);
	l->busy &= ~(1u << ln->id);
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

int vgpu_fill_memcpy(void *ctx, void *dst, uint64_t off, uint64_t n)
{
	memcpy(dst, (const uint8_t *)ctx + off, n);
	return 0;
}

int vgpu_drain_memcpy(void *ctx, const void *src, uint64_t off, uint64_t n)
{
	memcpy((uint8_t *)ctx + off, src, n);
	return 0;
}

static uint64_t chunk_len(const struct vgpu_stream *st)
{
	uint64_t half = (st->lane->len / 2) & ~63ull;
	return st->chunk && st->chunk < half ? st->chunk : half;
}

static int send_chunk(const struct vgpu_stream *st, const uint32_t *rep,
		      uint32_t b, uint64_t off, uint64_t n, uint32_t *pos)
{
	struct vgpu_req q = {
		.op = st->op,
		.flags = VGPU_MSG_ARENA |
			 (off + n < st->total ? VGPU_MSG_MORE : 0),
		.data = st->arg,
		.len = st->arglen,
		.arena_off = st->lane->off + b * chunk_len(st),
		.arena_len = n,
		.tag = off,
		.total = st->total,
	};
	return vgpu_gchan_submit(st->c, &q, rep[b], pos);
}

static int reap(const struct vgpu_stream *st, uint32_t reply, uint32_t pos,
		int32_t *result, uint64_t *got)
{
	struct vgpu_resp p = {0};
	int rc = vgpu_gchan_wait(st->c, pos, reply, &p);
	if (rc)
		return rc;
	if (p.result && !*result)
		*result = p.result;
	if (got)
		*got = p.arena_len;
	return VGPU_OK;
}

static uint8_t *half_ptr(const struct vgpu_stream *st, uint32_t b)
{
	return vgpu_arena(st->c->r, st->c->idx) + st->lane->off +
	       b * chunk_len(st);
}

int vgpu_stream_out(const struct vgpu_stream *st, vgpu_fill_fn fill,
		    void *ctx, int32_t *result)
{
	uint64_t cl = chunk_len(st), off = 0;
	uint32_t pend[2], rep[2];
	bool busy[2] = {false, false};
	int rc = VGPU_OK;
	*result = 0;
	if (cl == 0)
		return VGPU_E_INVAL;
	vgpu_replies_get(st->c, 2, rep); /* both at once: no hold-and-wait */
	for (uint32_t k = 0; rc == VGPU_OK && (off < st->total || k == 0);
	     k++) {
		uint32_t b = k & 1;
		if (busy[b]) {
			busy[b] = false;
			rc = reap(st, rep[b], pend[b], result, NULL);
			if (rc)
				break;
		}
		uint64_t n = st->total - off < cl ? st->total - off : cl;
		if (n && fill(ctx, half_ptr(st, b), off, n) != 0) {
			rc = VGPU_E_INVAL;
			break;
		}
		rc = send_chunk(st, rep, b, off, n, &pend[b]);
		busy[b] = rc == VGPU_OK;
		off += n;
	}
	/* Always reap what is in flight: the slots must be freed. */
	for (uint32_t b = 0; b < 2; b++)
		if (busy[b]) {
			int r2 = reap(st, rep[b], pend[b], result, NULL);
			rc = rc ? rc : r2;
		}
	vgpu_replies_put(st->c, 2, rep);
	return rc;
}

int vgpu_stream_in(const struct vgpu_stream *st, vgpu_drain_fn drain,
		   void *ctx, int32_t *result)
{
	uint64_t cl = chunk_len(st), sent = 0;
	uint64_t offs[2], lens[2];
	uint32_t pend[2], rep[2];
	bool busy[2] = {false, false};
	int rc = VGPU_OK;
	*result = 0;
	if (cl == 0)
		return VGPU_E_INVAL;
	vgpu_replies_get(st->c, 2, rep);
	/* Two requests in flight; drain one half while the other fills. */
	for (uint32_t b = 0; b < 2 && sent < st->total && rc == 0; b++) {
		lens[b] = st->total - sent < cl ? st->total - sent : cl;
		offs[b] = sent;
		rc = send_chunk(st, rep, b, sent, lens[b], &pend[b]);
		busy[b] = rc == VGPU_OK;
		sent += lens[b];
	}
	for (uint32_t k = 0; rc == VGPU_OK && (busy[0] || busy[1]); k++) {
		uint32_t b = k & 1;
		uint64_t got = 0;
		busy[b] = false;
		rc = reap(st, rep[b], pend[b], result, &got);
		if (rc)
			break;
		if (*result == 0 && got != lens[b])
			*result = VGPU_E_LEN;
		if (*result == 0 && drain(ctx, half_ptr(st, b), offs[b], got))
			rc = VGPU_E_INVAL;
		if (rc || *result || sent >= st->total)
			continue;
		lens[b] = st->total - sent < cl ? st->total - sent : cl;
		offs[b] = sent;
		rc = send_chunk(st, rep, b, sent, lens[b], &pend[b]);
		busy[b] = rc == VGPU_OK;
		sent += lens[b];
	}
	for (uint32_t b = 0; b < 2; b++)
		if (busy[b]) {
			int r2 = reap(st, rep[b], pend[b], result, NULL);
			rc = rc ? rc : r2;
		}
	vgpu_replies_put(st->c, 2, rep);
	return rc;
}
