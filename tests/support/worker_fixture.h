/* One worker for the request-handler unit tests: a struct vworker on the
 * sim backend serving one channel of a region in memory that a guest has
 * claimed and the worker accepted (as worker_main.c builds one), with a
 * standalone executor. Tests send it requests as the ring delivers them.
 *
 * Contract: vwf_up()/vwf_down() are a Criterion suite's .init/.fini (one
 * worker per test process); W and X are the fixture's, for the test bodies.
 * Helpers assert with Criterion (a reply missing is a test failure).
 * Only unit tests link this (it needs the daemon's library).
 */
#ifndef VGPU_TESTS_WORKER_FIXTURE_H
#define VGPU_TESTS_WORKER_FIXTURE_H

#include "../../daemon/worker.h"
#include <stdbool.h>
#include <stdint.h>

#define VWF_SLOT_SIZE 1024
#define VWF_ARENA (64u << 10)

/* What a NOREPLY request returns: the pending asynchronous error ... */
enum vwf_async {
	VWF_ASYNC_PEEK,   /* ... left pending (read without the lock) */
	VWF_ASYNC_TAKE,   /* ... taken (cleared, without the lock) */
	VWF_ASYNC_LOCKED, /* ... taken under the worker's lock
			   * (vw_take_async_err): other threads send too */
};

/* Set before vwf_up(); zero is the common case. */
struct vwf_opts {
	uint32_t nchannels;	     /* 0: 1 */
	uint32_t chan;		     /* the channel served (W.chan) */
	uint64_t pool;		     /* region pool_size */
	struct vgpud_ledger *ledger; /* W.ledger */
	bool no_ctx_id;		     /* leave W.ctx_id unset */
	bool cb_close;		     /* vwf_down: vw_cb_close first */
	bool graph_forget;	     /* vwf_down: vw_graph_host_forget */
	enum vwf_async async;
};

extern struct vwf_opts vwf_opts;
extern struct vworker W;
extern struct vw_exec *X;

void vwf_up(void);
void vwf_down(void);

/* The next ring position (each caller, any thread, gets its own). */
uint32_t vwf_pos(void);

/* Sends *m (op, flags, len, tag, arena_len, total set by the caller; pos,
 * tid, reply and epoch here) with a private copy of its len bytes of data;
 * returns the reply's result and up to outlen payload bytes into out, or
 * for NOREPLY the asynchronous error as vwf_opts.async says. */
int32_t vwf_send(struct vgpu_msg *m, const void *data, void *out,
		 uint32_t outlen);

/* One request: vwf_send of op/flags/len. request, call, W and X keep
 * the short names the test bodies use. */
int32_t request(uint16_t op, uint16_t flags, const void *data, uint32_t len,
		void *out, uint32_t outlen);

/* A generated call, by name (ring/cuda.api); a->a[] in, results out. */
int32_t call(const char *name, struct vgpu_cu_args *a);

/* Loads a module image (len bytes, PTX without its NUL) as the guest
 * sends one: through the arena (MODULE_LOAD), then MODULE_COMMIT; asserts
 * both succeed and returns the module's handle. */
uint64_t vwf_load_module(const char *image, uint32_t len);

#endif
