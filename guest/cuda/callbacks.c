/* guest/cuda/callbacks.c - the completion thread and its token table
 * (contract in callbacks.h).
 *
 * The thread long-polls the worker (VGPU_CU_CB_POLL: a synchronous call
 * answered when a host function is due); each poll carries the token of
 * the call it has just run, so one round trip both releases the finished
 * call and waits for the next. It ends when the worker answers with an
 * error (closing, or the connection is gone). Signals are blocked in it:
 * the program's handlers run on the program's threads, as with the
 * driver's own threads.
 */
#include "callbacks.h"
#include "torch_order.h"
#include "rpc.h"
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

struct rec {
	struct rec *next;
	uint64_t token;
	vgpu_cb_fn fn;
	void *arg;
	bool once;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct rec *recs;
static uint64_t next_token = 1;
static bool running; /* the completion thread exists */
static bool atfork_set;
static __thread bool in_cb;

bool vgpu_cb_in_callback(void)
{
	return in_cb;
}

/* The child has the forking thread only: no completion thread, and the
 * parent's tokens mean nothing to the child's own worker. */
static void child_after_fork(void)
{
	pthread_mutex_init(&mu, NULL);
	recs = NULL; /* the parent's records are left behind, not freed */
	running = false;
}

/* Takes the record of token out if it runs once; a copy either way. */
static bool take(uint64_t token, struct rec *out)
{
	bool found = false;
	pthread_mutex_lock(&mu);
	for (struct rec **p = &recs; *p; p = &(*p)->next)
		if ((*p)->token == token) {
			struct rec *r = *p;
			*out = *r;
			if (r->once) {
				*p = r->next;
				free(r);
			}
			found = true;
			break;
		}
	pthread_mutex_unlock(&mu);
	return found;
}

static void *completion_main(void *unused)
{
	(void)unused;
	uint64_t done = 0;
	vgpu_cu_order_exempt();
	for (;;) {
		struct vgpu_cu_args a = {{done}};
		if (vgpu_cu_rpc(VGPU_CU_CB_POLL, &a, true, "host callback"))
			break;
		struct rec r;
		done = a.a[0];
		if (take(done, &r)) {
			in_cb = true;
			r.fn(r.arg, (CUresult)a.a[1]);
			in_cb = false;
		}
	}
	pthread_mutex_lock(&mu);
	running = false;
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* Under mu. */
static CUresult start_thread(void)
{
	if (running)
		return CUDA_SUCCESS;
	if (!atfork_set && !pthread_atfork(NULL, NULL, child_after_fork))
		atfork_set = true;
	pthread_attr_t at;
	pthread_t t;
	sigset_t all, old;
	sigfillset(&all);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&t, &at, completion_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	if (rc)
		return CUDA_ERROR_OUT_OF_MEMORY;
	running = true;
	return CUDA_SUCCESS;
}

CUresult vgpu_cb_register(vgpu_cb_fn fn, void *arg, bool once,
			  uint64_t *token)
{
	struct rec *r = malloc(sizeof(*r));
	if (!r)
		return CUDA_ERROR_OUT_OF_MEMORY;
	pthread_mutex_lock(&mu);
	CUresult res = start_thread();
	if (!res) {
		*r = (struct rec){recs, next_token++, fn, arg, once};
		recs = r;
		*token = r->token;
	}
	pthread_mutex_unlock(&mu);
	if (res)
		free(r);
	return res;
}

void vgpu_cb_forget(uint64_t token)
{
	pthread_mutex_lock(&mu);
	for (struct rec **p = &recs; *p; p = &(*p)->next)
		if ((*p)->token == token) {
			struct rec *r = *p;
			*p = r->next;
			free(r);
			break;
		}
	pthread_mutex_unlock(&mu);
}
