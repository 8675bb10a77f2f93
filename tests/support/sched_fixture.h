/* A supervisor's scheduling state without a daemon, for the scan's unit
 * tests: two VMs ("vm0", "vm1"), weight 100, `channels` channels each,
 * each with a ledger of its own, scheduler on.
 *
 * Contract: schedfix_init() fills *d and led[2] (asserting with
 * Criterion) and leaves vgpud_sched_open() to the caller, so that it can
 * set GPUs, queues or weights first; schedfix_fini() closes the
 * scheduler and frees what init took. schedfix_busy() writes what a
 * worker writes when its channel's slot turns busy or idle at t;
 * schedfix_tokens() is what a VM's slot may still admit (limit less
 * admitted). Only unit tests link this.
 */
#ifndef VGPU_TESTS_SCHED_FIXTURE_H
#define VGPU_TESTS_SCHED_FIXTURE_H

#include "../../daemon/supervisor.h"

void schedfix_init(struct vgpud *d, void *led[2], uint32_t channels);
void schedfix_fini(struct vgpud *d, void *led[2]);
void schedfix_busy(struct vgpud_sched_chan *c, bool busy, uint64_t t);
uint64_t schedfix_tokens(struct vgpud_sched_vm *s);

#endif
