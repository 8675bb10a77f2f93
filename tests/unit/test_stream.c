/* Bulk payloads through the arena: a 4 GiB logical payload streamed both
 * ways through a 1 MiB slice byte-exact, edge sizes, and several lanes in
 * use by several threads at once. VGPU_STREAM_BYTES overrides 4 GiB. */
#define _GNU_SOURCE
#include "../support/client.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static struct peer P;
static struct vgpu_conn C;
static const struct vgpu_geom G = {.nchannels = 2, .nslots = 16,
				   .slot_size = 256, .arena_per_chan = 1 << 20};

static void up(void)
{
	struct peer_opts o = {0};
	cr_assert_eq(peer_start(&P, &G, &o), 0);
	cr_assert_eq(client_connect(&C, P.path), VGPU_OK);
}
static void down(void)
{
	vgpu_conn_close(&C);
	cr_expect_eq(peer_stop(&P), 0, "peer saw a corrupt chunk");
}
TestSuite(stream, .init = up, .fini = down, .timeout = 300);

struct gen {
	uint64_t seed;
	uint64_t bytes;  /* drained so far */
	uint64_t bad;
	uint8_t *tmp;
	uint64_t tmplen;
};

static int fill_gen(void *ctx, void *dst, uint64_t off, uint64_t n)
{
	gen_bytes(((struct gen *)ctx)->seed, off, dst, n);
	return 0;
}

static int drain_check(void *ctx, const void *src, uint64_t off, uint64_t n)
{
	struct gen *g = ctx;
	if (n > g->tmplen) {
		free(g->tmp);
		g->tmp = malloc(n);
		g->tmplen = n;
	}
	gen_bytes(g->seed, off, g->tmp, n);
	if (off != g->bytes || memcmp(g->tmp, src, n) != 0)
		g->bad++;
	g->bytes += n;
	return 0;
}

static void roundtrip(struct vgpu_lanes *lanes, uint64_t total, uint64_t seed,
		      uint64_t chunk)
{
	struct vgpu_lane ln;
	struct gen g = {.seed = seed};
	int32_t res = 1;
	vgpu_lane_get(lanes, &ln);
	struct vgpu_stream st = {.c = &C.ch, .lane = &ln, .op = OP_SINK,
				 .arg = &seed, .arglen = 8, .total = total,
				 .chunk = chunk};
	cr_assert_eq(vgpu_stream_out(&st, fill_gen, &g, &res), VGPU_OK);
	cr_assert_eq(res, 0, "peer rejected a chunk of a %llu-byte stream",
		     (unsigned long long)total);
	st.op = OP_SOURCE;
	cr_assert_eq(vgpu_stream_in(&st, drain_check, &g, &res), VGPU_OK);
	cr_assert_eq(res, 0);
	cr_assert_eq(g.bytes, total);
	cr_assert_eq(g.bad, 0, "%llu corrupt chunks", (unsigned long long)g.bad);
	vgpu_lane_put(lanes, &ln);
	free(g.tmp);
}

Test(stream, four_gib_through_one_mib)
{
	const char *s = getenv("VGPU_STREAM_BYTES");
	uint64_t total = s ? strtoull(s, NULL, 0) : 4ull << 30;
	struct vgpu_lanes one;
	/* one lane: the whole 1 MiB slice, two 512 KiB halves */
	cr_assert_eq(vgpu_lanes_init(&one, G.arena_per_chan, 1), VGPU_OK);
	roundtrip(&one, total + 3, 42, 0); /* odd tail */
	vgpu_lanes_fini(&one);
}

Test(stream, edge_sizes)
{
	uint64_t half = (C.lanes.lane_len / 2) & ~63ull;
	uint64_t sizes[] = {0, 1, 7, 63, 64, 65, 4095, half - 1, half,
			    half + 1, 2 * half, 2 * half + 1, 3 * half + 17};
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		roundtrip(&C.lanes, sizes[i], 1000 + i, 0);
	/* an explicit small chunk size is honoured */
	roundtrip(&C.lanes, 100000, 7, 4096);
}

static void *lane_thread(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg;
	for (int k = 0; k < 4; k++)
		roundtrip(&C.lanes, (3u << 20) + seed * 101, seed * 10 + (uint64_t)k, 0);
	return NULL;
}

Test(stream, threads_on_separate_lanes)
{
	enum { NT = 6 }; /* more threads than lanes: some wait for a lane */
	pthread_t th[NT];
	for (uintptr_t i = 0; i < NT; i++)
		pthread_create(&th[i], NULL, lane_thread, (void *)(i + 1));
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
}

Test(stream, lanes_split_the_slice)
{
	struct vgpu_lanes l;
	cr_assert_eq(vgpu_lanes_init(&l, 1 << 20, 4), VGPU_OK);
	struct vgpu_lane a[4];
	for (int i = 0; i < 4; i++) {
		vgpu_lane_get(&l, &a[i]);
		cr_expect_eq(a[i].len, 256 * 1024);
		cr_expect_leq(a[i].off + a[i].len, 1 << 20);
		for (int j = 0; j < i; j++)
			cr_expect(a[i].off + a[i].len <= a[j].off ||
				  a[j].off + a[j].len <= a[i].off, "overlap");
	}
	for (int i = 0; i < 4; i++)
		vgpu_lane_put(&l, &a[i]);
	vgpu_lanes_fini(&l);
	cr_expect_eq(vgpu_lanes_init(&l, 4096, 1), VGPU_E_INVAL);
	cr_expect_eq(vgpu_lanes_init(&l, 1 << 20, 33), VGPU_E_INVAL);
}
