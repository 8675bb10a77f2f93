/* The worker request-handler fixture (contract in worker_fixture.h). */
#define _GNU_SOURCE
#include "worker_fixture.h"
#include "../../daemon/devinfo.h"
#include "../../ring/host.h"
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vwf_opts vwf_opts;
struct vworker W;
struct vw_exec *X;
static void *mem;
static _Atomic uint32_t pos;

static void open_sim(void)
{
	char err[256] = "";
	cr_assert_eq(vgpu_backend_sim_open(&W.drv, err, sizeof(err)), 0, "%s",
		     err);
	pthread_mutex_init(&W.mu, NULL);
	cr_assert_eq(W.drv.cuInit(0), CUDA_SUCCESS);
	cr_assert_eq(vgpu_devinfo_fill(&W.drv, 0, "test", 0, &W.info), 0);
	cr_assert_eq(W.drv.cuDevicePrimaryCtxRetain(&W.ctx, 0), 0);
	cr_assert_eq(W.drv.cuCtxSetCurrent(W.ctx), 0);
	if (!vwf_opts.no_ctx_id)
		W.ctx_id = vw_handle_new(&W, VGPU_HK_CONTEXT, W.ctx);
	if (vwf_opts.ledger)
		W.ledger = vwf_opts.ledger;
}

/* The guest's side of attaching: claim the channel, then the worker
 * accepts it. */
static void attach(uint32_t c)
{
	struct vgpu_msg m;
	uint8_t buf[VWF_SLOT_SIZE];
	struct vgpu_chan_ctl *ctl = vgpu_ctl(&W.r, c);
	atomic_store(&ctl->claim, VGPU_CLAIM(1, (uint32_t)getpid()));
	ctl->abi = VGPU_ABI_MAX;
	atomic_store(&ctl->req_gen, 1);
	cr_assert_eq(vgpu_hchan_poll(&W.r, &W.srv.ch[c], &m, buf),
		     VGPU_H_ATTACH);
	vgpu_hchan_accept(&W.r, &W.srv.ch[c], VGPU_START_DEFAULT);
}

void vwf_up(void)
{
	open_sim();
	struct vgpu_geom g = {.nchannels = vwf_opts.nchannels ?
						   vwf_opts.nchannels : 1,
			      .nslots = 16, .slot_size = VWF_SLOT_SIZE,
			      .arena_per_chan = VWF_ARENA,
			      .pool_size = vwf_opts.pool};
	cr_assert_eq(vgpu_geom_layout(&g), 0);
	cr_assert_eq(posix_memalign(&mem, 4096, g.size), 0);
	cr_assert_eq(vgpu_region_format(&W.r, mem, g.size, &g, 0), 0);
	cr_assert_eq(vgpu_serve_init(&W.srv, &W.r, NULL, &W), 0);
	if (vwf_opts.chan)
		W.chan = vwf_opts.chan;
	attach(vwf_opts.chan);
	pos = VGPU_START_DEFAULT;
	X = vw_exec_standalone(&W);
	cr_assert_not_null(X);
}

void vwf_down(void)
{
	if (vwf_opts.cb_close)
		vw_cb_close(&W); /* releases any host function still waiting */
	vw_exec_standalone_free(X);
	if (vwf_opts.graph_forget)
		vw_graph_host_forget(&W);
	vgpu_serve_fini(&W.srv);
	free(mem);
}

uint32_t vwf_pos(void)
{
	return atomic_fetch_add(&pos, 1);
}

static int32_t async_err(void)
{
	CUresult r;
	switch (vwf_opts.async) {
	case VWF_ASYNC_LOCKED:
		return vw_take_async_err(&W, CUDA_SUCCESS);
	case VWF_ASYNC_TAKE:
		r = W.async_err;
		W.async_err = CUDA_SUCCESS;
		return r;
	default:
		return W.async_err;
	}
}

int32_t vwf_send(struct vgpu_msg *m, const void *data, void *out,
		 uint32_t outlen)
{
	uint32_t at = vwf_pos();
	m->pos = at;
	m->tid = 1;
	m->reply = at % 16;
	m->epoch = W.srv.ch[W.chan].epoch;
	uint8_t *copy = malloc(m->len ? m->len : 1);
	if (m->len) /* memcpy from NULL is undefined even for 0 bytes */
		memcpy(copy, data, m->len);
	m->data = copy;
	if (m->flags & VGPU_MSG_NOREPLY)
		m->reply = VGPU_NO_REPLY;
	vw_execute(&W, X, m);
	free(copy);
	m->data = NULL;
	if (m->flags & VGPU_MSG_NOREPLY)
		return async_err();
	struct vgpu_slot *s = vgpu_reply_at(&W.r, W.chan, m->reply);
	cr_assert_eq(atomic_load(&s->seq), m->pos + 2, "op 0x%x unanswered",
		     m->op);
	if (out)
		memcpy(out, (uint8_t *)s + VGPU_MSG_HDR_SIZE,
		       s->len < outlen ? s->len : outlen);
	return s->result;
}

int32_t request(uint16_t op, uint16_t flags, const void *data, uint32_t len,
		void *out, uint32_t outlen)
{
	struct vgpu_msg m = {.op = op, .flags = flags, .len = len};
	return vwf_send(&m, data, out, outlen);
}

int32_t call(const char *name, struct vgpu_cu_args *a)
{
	for (const struct vw_gen_entry *e = vw_gen_table; e->fn; e++)
		if (!strcmp(e->name, name))
			return request(e->op, e->sync ? 0 : VGPU_MSG_NOREPLY, a,
				       sizeof(*a), a, sizeof(*a));
	cr_assert_fail("%s is not in ring/cuda.api", name);
	return -1;
}

uint64_t vwf_load_module(const char *image, uint32_t len)
{
	uint32_t at = vwf_pos();
	struct vgpu_msg m = {.pos = at, .op = VGPU_CU_MODULE_LOAD,
			     .flags = VGPU_MSG_ARENA, .reply = at % 16,
			     .epoch = W.srv.ch[0].epoch,
			     .arena_len = len, .total = len};
	uint8_t none = 0;
	m.data = &none;
	memcpy(vgpu_arena(&W.r, 0), image, len);
	vw_execute(&W, X, &m);
	cr_assert_eq(vgpu_reply_at(&W.r, 0, m.reply)->result, CUDA_SUCCESS);
	struct vgpu_cu_args a = {{0}};
	cr_assert_eq(request(VGPU_CU_MODULE_COMMIT, 0, NULL, 0, &a, sizeof(a)),
		     CUDA_SUCCESS);
	return a.a[0];
}
