/* The worker with several GPUs (daemon/worker_multigpu.c) over the sim's
 * two devices, which cannot reach each other (sim_peer = none): device
 * count, primary contexts per device, peer answers and refusals, contexts
 * created per device, the CUDA_VISIBLE_DEVICES map, and malformed
 * requests answered with an error.
 */
#define _GNU_SOURCE
#include "../../daemon/worker.h"
#include "../../ring/host.h"
#include "../support/worker_fixture.h"
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void up(void)
{
	setenv("VGPU_SIM_GPUS", "2", 1);
	setenv("VGPU_SIM_PEER", "none", 1);
	vwf_opts = (struct vwf_opts){.async = VWF_ASYNC_TAKE};
	vwf_up();
	int host[2] = {0, 1}, bad;
	cr_assert_eq(vw_devs_open(&W, host, 2, "vm", 0, &bad), CUDA_SUCCESS);
}

TestSuite(mgpu_worker, .init = up, .fini = vwf_down);

static int32_t mgpu(uint64_t op, uint64_t a1, uint64_t a2, uint64_t a3,
		    uint64_t *out)
{
	struct vgpu_cu_args a = {{op, a1, a2, a3}};
	int32_t r = request(VGPU_CU_MGPU, 0, &a, sizeof(a), &a, sizeof(a));
	if (out)
		*out = a.a[0];
	return r;
}

static void make_current(uint64_t ctx)
{
	struct vgpu_cu_args a = {{ctx}};
	cr_assert_eq(request(VGPU_CU_CTX_CURRENT, VGPU_MSG_NOREPLY, &a,
			     sizeof(a), NULL, 0), CUDA_SUCCESS);
}

Test(mgpu_worker, devices_and_their_contexts)
{
	uint64_t n, c0, c1, again;
	cr_assert_eq(mgpu(VGPU_MGPU_COUNT, 0, 0, 0, &n), CUDA_SUCCESS);
	cr_expect_eq(n, 2);
	cr_assert_eq(mgpu(VGPU_MGPU_RETAIN, 0, 0, 0, &c0), CUDA_SUCCESS);
	cr_expect_eq(c0, W.ctx_id, "device 0's is the start-up context");
	cr_assert_eq(mgpu(VGPU_MGPU_RETAIN, 1, 0, 0, &c1), CUDA_SUCCESS);
	cr_expect_eq(c1 >> VGPU_CU_HKIND_SHIFT, VGPU_HK_CONTEXT);
	cr_expect_neq(c1, c0);
	cr_assert_eq(mgpu(VGPU_MGPU_RETAIN, 1, 0, 0, &again), CUDA_SUCCESS);
	cr_expect_eq(again, c1, "retained once, the same id after");
	cr_expect_eq(mgpu(VGPU_MGPU_RETAIN, 2, 0, 0, NULL),
		     CUDA_ERROR_INVALID_DEVICE);
	cr_expect_eq(mgpu(VGPU_MGPU_RETAIN, UINT64_MAX, 0, 0, NULL),
		     CUDA_ERROR_INVALID_DEVICE);
	/* a device's primary context is not cuCtxDestroy's */
	struct vgpu_cu_args d = {{c1}};
	cr_expect_eq(request(VGPU_CU_CTX_DESTROY, 0, &d, sizeof(d), &d,
			     sizeof(d)), CUDA_ERROR_INVALID_CONTEXT);
	/* contexts created on a device; none on a device the VM lacks */
	struct vgpu_cu_args c = {{0, 1}};
	cr_expect_eq(request(VGPU_CU_CTX_CREATE, 0, &c, sizeof(c), &c,
			     sizeof(c)), CUDA_SUCCESS);
	c = (struct vgpu_cu_args){{0, 2}};
	cr_expect_eq(request(VGPU_CU_CTX_CREATE, 0, &c, sizeof(c), &c,
			     sizeof(c)), CUDA_ERROR_INVALID_DEVICE);
	make_current(c1);
	cr_expect_eq(vw_cur_dev(&W), 1);
	make_current(c0);
	cr_expect_eq(vw_cur_dev(&W), 0);
}

Test(mgpu_worker, peers_answered_by_the_driver)
{
	uint64_t v = 7, c1;
	cr_assert_eq(mgpu(VGPU_MGPU_CAN_PEER, 0, 1, 0, &v), CUDA_SUCCESS);
	cr_expect_eq(v, 0, "sim_peer = none");
	cr_expect_eq(mgpu(VGPU_MGPU_CAN_PEER, 0, 2, 0, NULL),
		     CUDA_ERROR_INVALID_DEVICE);
	cr_assert_eq(mgpu(VGPU_MGPU_P2P_ATTR,
			  CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, 1, 0, &v),
		     CUDA_SUCCESS);
	cr_expect_eq(v, 0);
	cr_expect_eq(mgpu(VGPU_MGPU_P2P_ATTR, 1ull << 40, 1, 0, NULL),
		     CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(mgpu(VGPU_MGPU_P2P_ATTR, 99, 1, 0, NULL),
		     CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(mgpu(VGPU_MGPU_RETAIN, 1, 0, 0, &c1), CUDA_SUCCESS);
	make_current(W.ctx_id);
	cr_expect_eq(mgpu(VGPU_MGPU_ENABLE, c1, 0, 0, NULL),
		     CUDA_ERROR_PEER_ACCESS_UNSUPPORTED);
	cr_expect_eq(mgpu(VGPU_MGPU_ENABLE, c1, 1ull << 33, 0, NULL),
		     CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(mgpu(VGPU_MGPU_DISABLE, c1, 0, 0, NULL),
		     CUDA_ERROR_PEER_ACCESS_NOT_ENABLED);
	cr_expect_eq(mgpu(VGPU_MGPU_ENABLE, 0x1234, 0, 0, NULL),
		     CUDA_ERROR_INVALID_CONTEXT, "not a context of ours");
	cr_expect_eq(mgpu(VGPU_MGPU_ENABLE, 0, 0, 0, NULL),
		     CUDA_ERROR_INVALID_CONTEXT);
}

Test(mgpu_worker, visible_devices_map)
{
	struct vgpu_cu_args a = {{VGPU_MGPU_VISIBLE, 2}};
	uint8_t *b = (uint8_t *)&a.a[2];
	uint64_t c1, c0, n;
	cr_assert_eq(mgpu(VGPU_MGPU_RETAIN, 1, 0, 0, &c1), CUDA_SUCCESS);
	b[0] = 1, b[1] = 1; /* a repeat */
	cr_expect_eq(request(VGPU_CU_MGPU, 0, &a, sizeof(a), &a, sizeof(a)),
		     CUDA_ERROR_INVALID_DEVICE);
	a = (struct vgpu_cu_args){{VGPU_MGPU_VISIBLE, 1}};
	b[0] = 2; /* not the VM's */
	cr_expect_eq(request(VGPU_CU_MGPU, 0, &a, sizeof(a), &a, sizeof(a)),
		     CUDA_ERROR_INVALID_DEVICE);
	a = (struct vgpu_cu_args){{VGPU_MGPU_VISIBLE, 3}};
	cr_expect_eq(request(VGPU_CU_MGPU, 0, &a, sizeof(a), &a, sizeof(a)),
		     CUDA_ERROR_INVALID_VALUE, "more than the VM has");
	a = (struct vgpu_cu_args){{VGPU_MGPU_VISIBLE, 1}};
	b[0] = 1; /* CUDA_VISIBLE_DEVICES=1 */
	cr_assert_eq(request(VGPU_CU_MGPU, 0, &a, sizeof(a), &a, sizeof(a)),
		     CUDA_SUCCESS);
	cr_assert_eq(mgpu(VGPU_MGPU_COUNT, 0, 0, 0, &n), CUDA_SUCCESS);
	cr_expect_eq(n, 1);
	cr_assert_eq(mgpu(VGPU_MGPU_RETAIN, 0, 0, 0, &c0), CUDA_SUCCESS);
	cr_expect_eq(c0, c1, "the process's device 0 is the VM's device 1");
	cr_expect_eq(W.ctx_id, c1);
	cr_expect_eq(vw_dev_host(&W, 0), 1);
	cr_expect_eq(vw_dev_host(&W, 1), -1);
	cr_expect_str_eq(vw_dev_info(&W, 0)->pci_bus_id, "0000:02:00.0");
	cr_expect_str_eq(vw_dev_info(&W, VGPU_CU_DEVINFO_VM | 0)->pci_bus_id,
			 "0000:01:00.0");
	cr_expect_null(vw_dev_info(&W, 1));
	b[0] = 0; /* once only */
	cr_expect_eq(request(VGPU_CU_MGPU, 0, &a, sizeof(a), &a, sizeof(a)),
		     CUDA_ERROR_INVALID_VALUE);
}

Test(mgpu_worker, malformed_requests)
{
	uint64_t small = VGPU_MGPU_COUNT;
	uint64_t out[8];
	cr_expect_eq(request(VGPU_CU_MGPU, 0, &small, sizeof(small), out,
			     sizeof(out)), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(mgpu(0, 0, 0, 0, NULL), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(mgpu(UINT64_MAX, 0, 0, 0, NULL), CUDA_ERROR_INVALID_VALUE);
}
