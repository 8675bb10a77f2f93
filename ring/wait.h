/* ring/wait.h - how either side waits for the other: spin, yield, sleep.
 *
 * ivshmem-plain has no doorbell, so both sides poll. A waiter spins for
 * spin_ns (a reply usually lands within a few microseconds), then yields the
 * CPU until yield_ns has passed, then sleeps with an interval that doubles
 * from sleep_min_us to sleep_max_us. Worst-case added latency once asleep is
 * sleep_max_us plus the timer slack; idle CPU is one wake-up per
 * sleep_max_us. Where both sides share a kernel (a region file on the host)
 * the sleep is a futex wait that the other side cuts short with a wake, so
 * the latency bound no longer applies; the handshake is:
 *
 *   sleeper:  store need_wakeup=1; full fence; re-check condition; sleep
 *   producer: publish;              full fence; if need_wakeup: wake
 *
 * The two full fences make a lost wake-up impossible: either the sleeper's
 * re-check sees the publish, or the producer sees need_wakeup (Dekker).
 */
#ifndef VGPU_RING_WAIT_H
#define VGPU_RING_WAIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct vgpu_waitpolicy {
	uint32_t spin_ns;      /* busy-poll this long first */
	uint32_t yield_ns;     /* then sched_yield() until this long */
	uint32_t sleep_min_us; /* first sleep interval */
	uint32_t sleep_max_us; /* interval cap; 0 = futex waits never time out */
	bool futex;            /* sleeps are futex waits (same kernel only) */
};

/* Defaults: guest waiting for a reply; daemon idle scanner. */
extern const struct vgpu_waitpolicy vgpu_wait_guest;
extern const struct vgpu_waitpolicy vgpu_wait_host;

/* Environment overrides VGPU_SPIN_NS, VGPU_YIELD_NS, VGPU_SLEEP_MIN_US,
 * VGPU_SLEEP_MAX_US applied to a copy of base. */
void vgpu_wait_from_env(struct vgpu_waitpolicy *p,
			const struct vgpu_waitpolicy *base);

/* A wait in progress: call vgpu_wait_step() each time the condition is
 * still false. It spins, yields or sleeps as the elapsed time says. In the
 * sleep phase with futex set, it futex-waits on *word while it still holds
 * seen (the caller has already done the need_wakeup handshake). */
struct vgpu_waiter {
	const struct vgpu_waitpolicy *p;
	uint64_t t0_ns;
	uint32_t sleep_us;
	uint32_t iter;
	uint32_t phase; /* 0 spin, 1 yield, 2 sleep: updated by wait_step */
};

void vgpu_waiter_init(struct vgpu_waiter *w, const struct vgpu_waitpolicy *p);
/* True once vgpu_wait_step() has entered the sleep phase (callers do the
 * handshake there); reads no clock. */
bool vgpu_waiter_sleeping(const struct vgpu_waiter *w);
void vgpu_wait_step(struct vgpu_waiter *w, _Atomic uint32_t *word,
		    uint32_t seen);
uint64_t vgpu_waiter_elapsed_ns(const struct vgpu_waiter *w);

/* Wake every futex sleeper on word (no-op cost when nobody sleeps is the
 * caller's need_wakeup check). */
void vgpu_futex_wake(_Atomic uint32_t *word);

uint64_t vgpu_now_ns(void);

static inline void vgpu_full_fence(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}

/* Orders write-combining stores before the publishing store. */
static inline void vgpu_wc_fence(void)
{
	__asm__ __volatile__("sfence" ::: "memory");
}

static inline void vgpu_cpu_relax(void)
{
	__asm__ __volatile__("pause" ::: "memory");
}

#endif
