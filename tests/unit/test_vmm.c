/* The worker's VMM and pool handlers (daemon/worker_vmm*.c) over the sim,
 * message by message: ownership of reservations, mappings, handle and pool
 * ids, refusals of foreign or malformed requests with the driver's error
 * codes, the ledger's accounting of physical and pool memory, and the sim's
 * mapped memory as copies see it. The worker is built as in tests/unit/test_worker.c.
 */
#define _GNU_SOURCE
#include "../../daemon/devinfo.h"
#include "../../daemon/worker.h"
#include "../../ring/host.h"
#include "../support/worker_fixture.h"
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define G (2ull << 20) /* the sim's granularity */

static struct vgpud_ledger ledger[1];

/* The ledger accounts physical and pool memory. */
static void up(void)
{
	vwf_opts = (struct vwf_opts){.ledger = ledger};
	vwf_up();
}

TestSuite(vmm, .init = up, .fini = vwf_down);

/* One request without flags: the reply's result and payload. */
static int32_t vmm_req(uint16_t op, const void *data, uint32_t len, void *out,
		       uint32_t outlen)
{
	return request(op, 0, data, len, out, outlen);
}

static int32_t op(uint16_t code, struct vgpu_cu_args *a)
{
	return vmm_req(code, a, sizeof(*a), a, sizeof(*a));
}

static void put_prop(uint64_t *slots)
{
	CUmemAllocationProp p;
	memset(&p, 0, sizeof(p));
	p.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	memcpy(slots, &p, sizeof(p));
}

static uint64_t reserve(uint64_t size)
{
	struct vgpu_cu_args a = {{size}};
	cr_assert_eq(op(VGPU_CU_MEM_ADDRESS_RESERVE, &a), CUDA_SUCCESS);
	return a.a[0];
}

static uint64_t create(uint64_t size)
{
	struct vgpu_cu_args a = {{size, 0}};
	put_prop(&a.a[2]);
	cr_assert_eq(op(VGPU_CU_MEM_CREATE, &a), CUDA_SUCCESS);
	return a.a[0];
}

static int32_t map(uint64_t va, uint64_t size, uint64_t h)
{
	struct vgpu_cu_args a = {{va, size, 0, h, 0}};
	return op(VGPU_CU_MEM_MAP, &a);
}

static int32_t unmap(uint64_t va, uint64_t size)
{
	struct vgpu_cu_args a = {{va, size}};
	return op(VGPU_CU_MEM_UNMAP, &a);
}

static int32_t release(uint64_t h)
{
	struct vgpu_cu_args a = {{h}};
	return op(VGPU_CU_MEM_RELEASE, &a);
}

static int32_t set_access(uint64_t va, uint64_t size, uint64_t flags)
{
	CUmemLocation l = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
	uint64_t m[5] = {va, size, 1, 0, flags};
	memcpy(&m[3], &l, 8);
	return vmm_req(VGPU_CU_MEM_SET_ACCESS, m, sizeof(m), NULL, 0);
}

static int32_t htod(uint64_t dev, const void *p, uint32_t n)
{
	uint8_t buf[16 + 64];
	uint64_t x[2] = {dev, UINT64_MAX /* no stream */};
	memcpy(buf, x, sizeof(x));
	memcpy(buf + sizeof(x), p, n);
	return vmm_req(VGPU_CU_MEMCPY_HTOD_INLINE, buf, 16 + n, NULL, 0);
}

static int32_t dtoh(uint64_t dev, void *p, uint32_t n)
{
	uint64_t x[3] = {dev, UINT64_MAX, n};
	return vmm_req(VGPU_CU_MEMCPY_DTOH_INLINE, x, sizeof(x), p, n);
}

Test(vmm, a_mapped_range_is_the_callers_until_unmapped)
{
	uint64_t va = reserve(4 * G), h1 = create(G), h2 = create(G);
	cr_assert_eq(map(va, G, h1), CUDA_SUCCESS);
	cr_assert_eq(map(va + G, G, h2), CUDA_SUCCESS);
	cr_assert_eq(set_access(va, 2 * G, CU_MEM_ACCESS_FLAGS_PROT_READWRITE),
		     CUDA_SUCCESS);
	/* a copy across the seam of two mappings, as ggml's tensors lie */
	uint8_t in[32], out[32] = {0};
	for (int i = 0; i < 32; i++)
		in[i] = (uint8_t)(i * 37 + 1);
	cr_expect_eq(htod(va + G - 16, in, 32), CUDA_SUCCESS);
	cr_expect_eq(dtoh(va + G - 16, out, 32), CUDA_SUCCESS);
	cr_expect_arr_eq(in, out, 32);
	cr_expect_eq(vw_range(&W, va, 2 * G), CUDA_SUCCESS);
	cr_expect_eq(vw_range(&W, va, 2 * G + 1), CUDA_ERROR_INVALID_VALUE,
		     "reserved but unmapped is not a device range");
	/* cuMemFree of a mapping: refused before the driver sees it */
	struct vgpu_cu_args a = {{va}};
	for (const struct vw_gen_entry *e = vw_gen_table; e->fn; e++)
		if (!strcmp(e->name, "cuMemFree_v2"))
			cr_expect_eq(vmm_req(e->op, &a, sizeof(a), &a, sizeof(a)),
				     CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(unmap(va + G, G), CUDA_SUCCESS);
	cr_expect_eq(vw_range(&W, va + G, 1), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(htod(va + G - 16, in, 32), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(vw_range(&W, va, G), CUDA_SUCCESS);
	cr_expect_eq(unmap(va, G), CUDA_SUCCESS);
	cr_expect_eq(release(h1), CUDA_SUCCESS);
	cr_expect_eq(release(h2), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{va, 4 * G}};
	cr_expect_eq(op(VGPU_CU_MEM_ADDRESS_FREE, &a), CUDA_SUCCESS);
}

/* ggml releases each handle right after mapping it: the memory is still
 * in use, and counted, until its mapping goes. */
Test(vmm, physical_memory_is_counted_until_released_and_unmapped)
{
	uint64_t va = reserve(8 * G), h = create(2 * G);
	cr_expect_eq(W.mem_in_use, 2 * G);
	cr_expect_eq(atomic_load(&ledger[0].mem_in_use), 2 * G);
	cr_assert_eq(map(va, 2 * G, h), CUDA_SUCCESS);
	cr_assert_eq(release(h), CUDA_SUCCESS);
	cr_expect_eq(release(h), CUDA_ERROR_INVALID_VALUE, "released id");
	cr_expect_eq(W.mem_in_use, 2 * G, "mapped: still in use");
	/* retain names it again: the same allocation, counted once */
	struct vgpu_cu_args a = {{va + G + 5}};
	cr_assert_eq(op(VGPU_CU_MEM_RETAIN_HANDLE, &a), CUDA_SUCCESS);
	uint64_t again = a.a[0];
	cr_expect_eq(W.mem_in_use, 2 * G);
	cr_assert_eq(unmap(va, 2 * G), CUDA_SUCCESS);
	cr_expect_eq(W.mem_in_use, 2 * G, "a handle reference is left");
	cr_assert_eq(release(again), CUDA_SUCCESS);
	cr_expect_eq(W.mem_in_use, 0u);
	cr_expect_eq(atomic_load(&ledger[0].mem_in_use), 0u);
	size_t free_b, total;
	cr_expect_eq(W.drv.cuMemGetInfo_v2(&free_b, &total), CUDA_SUCCESS);
	cr_expect_eq(free_b, total, "the sim freed it too");
}

Test(vmm, foreign_and_stale_handle_ids_are_refused)
{
	uint64_t va = reserve(2 * G), h = create(G);
	uint64_t salt_mask = 0xffffffull << 32;
	uint64_t foreign = (h & ~salt_mask) | ((h + (1ull << 32)) & salt_mask);
	cr_expect_eq(map(va, G, foreign), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(release(foreign), CUDA_ERROR_INVALID_VALUE);
	struct vgpu_cu_args a = {{foreign}};
	cr_expect_eq(op(VGPU_CU_MEM_GET_PROP, &a), CUDA_ERROR_INVALID_VALUE);
	/* another kind's id, and the raw driver value */
	a = (struct vgpu_cu_args){{0}};
	cr_assert_eq(vmm_req(vw_gen_table[0].op, &a, sizeof(a), &a, sizeof(a)),
		     CUDA_SUCCESS); /* cuCtxSynchronize: nothing to see */
	cr_expect_eq(map(va, G, W.ctx_id), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(map(va, G, 1), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(map(va, G, 0), CUDA_ERROR_INVALID_VALUE);
	/* a freed slot's id does not name the next allocation there */
	cr_assert_eq(release(h), CUDA_SUCCESS);
	uint64_t h2 = create(G);
	cr_expect_neq(h2, h);
	cr_expect_eq(map(va, G, h), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(map(va, G, h2), CUDA_SUCCESS);
	/* properties come back with the guest's device ordinal */
	a = (struct vgpu_cu_args){{h2}};
	cr_assert_eq(op(VGPU_CU_MEM_GET_PROP, &a), CUDA_SUCCESS);
	CUmemAllocationProp p;
	memcpy(&p, a.a, sizeof(p));
	cr_expect_eq(p.type, CU_MEM_ALLOCATION_TYPE_PINNED);
	cr_expect_eq(p.location.type, CU_MEM_LOCATION_TYPE_DEVICE);
	cr_expect_eq(p.location.id, 0);
}

Test(vmm, ranges_outside_the_callers_reservations_are_refused)
{
	uint64_t va = reserve(2 * G), h = create(G);
	struct vgpu_cu_args a = {{256}};
	for (const struct vw_gen_entry *e = vw_gen_table; e->fn; e++)
		if (!strcmp(e->name, "cuMemAlloc_v2"))
			cr_assert_eq(vmm_req(e->op, &a, sizeof(a), &a,
					     sizeof(a)), CUDA_SUCCESS);
	uint64_t plain = a.a[0];
	cr_expect_eq(map(va + 2 * G, G, h), CUDA_ERROR_INVALID_VALUE, "past");
	cr_expect_eq(map(va + G, 2 * G, h), CUDA_ERROR_INVALID_VALUE, "across");
	cr_expect_eq(map(va - G, G, h), CUDA_ERROR_INVALID_VALUE, "before");
	cr_expect_eq(map(va + G, UINT64_MAX - G, h), CUDA_ERROR_INVALID_VALUE,
		     "wraps");
	cr_expect_eq(map(plain, G, h), CUDA_ERROR_INVALID_VALUE, "cuMemAlloc'd");
	/* natively: a size off the granularity is NOT_SUPPORTED */
	cr_expect_eq(map(va, G / 2, h), CUDA_ERROR_NOT_SUPPORTED, "unaligned");
	cr_expect_eq(unmap(va + 2 * G, G), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(unmap(va, G), CUDA_ERROR_INVALID_VALUE, "nothing mapped");
	cr_expect_eq(set_access(va + G, 2 * G,
				CU_MEM_ACCESS_FLAGS_PROT_READWRITE),
		     CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{va + G}};
	cr_expect_eq(op(VGPU_CU_MEM_RETAIN_HANDLE, &a), CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{plain + 8}};
	cr_expect_eq(op(VGPU_CU_MEM_RETAIN_HANDLE, &a), CUDA_ERROR_INVALID_VALUE);
	CUmemLocation l = {CU_MEM_LOCATION_TYPE_DEVICE, 0};
	a = (struct vgpu_cu_args){{va}};
	memcpy(&a.a[1], &l, 8);
	cr_expect_eq(op(VGPU_CU_MEM_GET_ACCESS, &a), CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{va + G, G}};
	cr_expect_eq(op(VGPU_CU_MEM_ADDRESS_FREE, &a), CUDA_ERROR_INVALID_VALUE,
		     "not the reservation's start and size");
	a = (struct vgpu_cu_args){{plain, 256}};
	cr_expect_eq(op(VGPU_CU_MEM_ADDRESS_FREE, &a), CUDA_ERROR_INVALID_VALUE);
	/* still intact */
	cr_expect_eq(map(va, G, h), CUDA_SUCCESS);
	cr_expect_eq(set_access(va, G, CU_MEM_ACCESS_FLAGS_PROT_READWRITE),
		     CUDA_SUCCESS);
	cr_expect_eq(vw_range(&W, va, G), CUDA_SUCCESS);
}

Test(vmm, malformed_requests_are_refused)
{
	uint64_t va = reserve(2 * G), h = create(G);
	cr_assert_eq(map(va, G, h), CUDA_SUCCESS);
	uint64_t short_msg[2] = {va, G};
	cr_expect_eq(vmm_req(VGPU_CU_MEM_MAP, short_msg, sizeof(short_msg), NULL,
			     0), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(vmm_req(VGPU_CU_MEM_SET_ACCESS, short_msg,
			     sizeof(short_msg), NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	uint64_t many[5] = {va, G, 1ull << 40, 0, 3};
	cr_expect_eq(vmm_req(VGPU_CU_MEM_SET_ACCESS, many, sizeof(many), NULL, 0),
		     CUDA_ERROR_INVALID_VALUE, "count beyond the message");
	uint64_t over[5] = {va, G, 2, 0, 3};
	cr_expect_eq(vmm_req(VGPU_CU_MEM_SET_ACCESS, over, sizeof(over), NULL, 0),
		     CUDA_ERROR_INVALID_VALUE);
	/* a guest pointer in the property is never the driver's to read */
	struct vgpu_cu_args a = {{G, 0}};
	CUmemAllocationProp p;
	memset(&p, 0, sizeof(p));
	p.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	p.win32HandleMetaData = (void *)0x1000;
	memcpy(&a.a[2], &p, sizeof(p));
	cr_expect_eq(op(VGPU_CU_MEM_CREATE, &a), CUDA_ERROR_INVALID_VALUE);
	/* other devices and host locations */
	p.win32HandleMetaData = NULL;
	p.location.id = 1;
	a = (struct vgpu_cu_args){{G, 0}};
	memcpy(&a.a[2], &p, sizeof(p));
	cr_expect_eq(op(VGPU_CU_MEM_CREATE, &a), CUDA_ERROR_INVALID_DEVICE);
	p.location.type = CU_MEM_LOCATION_TYPE_HOST;
	a = (struct vgpu_cu_args){{G, 0}};
	memcpy(&a.a[2], &p, sizeof(p));
	cr_expect_eq(op(VGPU_CU_MEM_CREATE, &a), CUDA_ERROR_NOT_SUPPORTED);
	cr_expect_eq(W.mem_in_use, G, "only the one allocation");
}

/* The sim directly: what the driver refuses. */
Test(vmm, sim_refuses_what_the_driver_refuses)
{
	CUmemAllocationProp p;
	memset(&p, 0, sizeof(p));
	p.type = CU_MEM_ALLOCATION_TYPE_PINNED;
	p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	CUmemGenericAllocationHandle h;
	CUdeviceptr va;
	size_t g = 0;
	cr_expect_eq(W.drv.cuMemGetAllocationGranularity(&g, &p,
			CU_MEM_ALLOC_GRANULARITY_MINIMUM), CUDA_SUCCESS);
	cr_expect_eq(g, G);
	cr_expect_eq(W.drv.cuMemCreate(&h, G + 4096, &p, 0),
		     CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(W.drv.cuMemCreate(&h, G, &p, 1), CUDA_ERROR_INVALID_VALUE);
	cr_assert_eq(W.drv.cuMemCreate(&h, G, &p, 0), CUDA_SUCCESS);
	cr_assert_eq(W.drv.cuMemAddressReserve(&va, 4 * G, 0, 0, 0),
		     CUDA_SUCCESS);
	cr_expect_eq(va % G, 0u);
	cr_expect_eq(W.drv.cuMemMap(va, G, G, h, 0), CUDA_ERROR_INVALID_VALUE,
		     "offset + size beyond the allocation");
	cr_assert_eq(W.drv.cuMemMap(va, G, 0, h, 0), CUDA_SUCCESS);
	cr_expect_eq(W.drv.cuMemMap(va, G, 0, h, 0), CUDA_ERROR_INVALID_VALUE,
		     "already mapped");
	uint8_t b = 7;
	cr_expect_eq(W.drv.cuMemcpyHtoD_v2(va, &b, 1), CUDA_ERROR_INVALID_VALUE,
		     "no access set yet");
	cr_expect_eq(W.drv.cuMemAddressFree(va, 4 * G), CUDA_ERROR_INVALID_VALUE,
		     "still mapped");
	cr_expect_eq(W.drv.cuMemUnmap(va, G / 2), CUDA_ERROR_INVALID_VALUE,
		     "part of a mapping");
	cr_expect_eq(W.drv.cuMemUnmap(va, G), CUDA_SUCCESS);
	cr_expect_eq(W.drv.cuMemRelease(h), CUDA_SUCCESS);
	cr_expect_eq(W.drv.cuMemRelease(h), CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(W.drv.cuMemAddressFree(va, 4 * G), CUDA_SUCCESS);
	cr_expect_eq(W.drv.cuMemAddressFree(va, 4 * G), CUDA_ERROR_INVALID_VALUE);
}

/* ---- memory pools ---------------------------------------------------- */

static int32_t gen_call(const char *name, struct vgpu_cu_args *a)
{
	for (const struct vw_gen_entry *e = vw_gen_table; e->fn; e++)
		if (!strcmp(e->name, name)) {
			uint16_t fl = e->sync ? 0 : VGPU_MSG_NOREPLY;
			uint32_t at = vwf_pos();
			struct vgpu_msg m = {.pos = at, .op = e->op, .flags = fl,
					     .tid = 1, .len = sizeof(*a),
					     .reply = fl ? VGPU_NO_REPLY : at % 16,
					     .epoch = W.srv.ch[0].epoch};
			struct vgpu_cu_args in = *a;
			m.data = (uint8_t *)&in;
			vw_execute(&W, X, &m);
			if (fl)
				return W.async_err;
			struct vgpu_slot *s = vgpu_reply_at(&W.r, 0, m.reply);
			memcpy(a, (uint8_t *)s + VGPU_MSG_HDR_SIZE, sizeof(*a));
			return s->result;
		}
	cr_assert_fail("%s is not in ring/cuda.api", name);
	return -1;
}

static int32_t pool_op(uint64_t o, uint64_t pool, uint64_t a2, uint64_t a3,
		       uint64_t *out)
{
	struct vgpu_cu_args a = {{o, pool, a2, a3}};
	int32_t r = op(VGPU_CU_MEM_POOL, &a);
	if (out)
		*out = a.a[0];
	return r;
}

static int32_t pool_create(CUmemPoolProps *p, uint64_t *id)
{
	struct vgpu_cu_args a = {{0}};
	int32_t r = vmm_req(VGPU_CU_MEM_POOL_CREATE, p, sizeof(*p), &a,
			    sizeof(a));
	*id = a.a[0];
	return r;
}

static CUmemPoolProps props(void)
{
	CUmemPoolProps p;
	memset(&p, 0, sizeof(p));
	p.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
	p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	return p;
}

Test(vmm, pools_are_named_by_the_workers_ids)
{
	uint64_t def, def2, cur, pool, got;
	cr_assert_eq(pool_op(VGPU_POOL_DEVICE_DEFAULT, 0, 0, 0, &def),
		     CUDA_SUCCESS);
	cr_assert_eq(pool_op(VGPU_POOL_DEVICE_DEFAULT, 0, 0, 0, &def2),
		     CUDA_SUCCESS);
	cr_expect_eq(def, def2, "one id for the default pool");
	cr_expect_eq(def >> VGPU_CU_HKIND_SHIFT, (uint64_t)VGPU_HK_MEM_POOL);
	cr_expect_eq(pool_op(VGPU_POOL_DEVICE_DEFAULT, 0, 1, 0, &got),
		     CUDA_ERROR_INVALID_DEVICE, "the guest has one device");
	CUmemPoolProps p = props();
	cr_assert_eq(pool_create(&p, &pool), CUDA_SUCCESS);
	cr_assert_eq(pool_op(VGPU_POOL_DEVICE_SET, pool, 0, 0, NULL),
		     CUDA_SUCCESS);
	cr_assert_eq(pool_op(VGPU_POOL_DEVICE_GET, 0, 0, 0, &cur), CUDA_SUCCESS);
	cr_expect_eq(cur, pool);
	/* attributes: round trip, read-only, unknown */
	cr_expect_eq(pool_op(VGPU_POOL_SET_ATTR, pool,
			     CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, 12345, NULL),
		     CUDA_SUCCESS);
	cr_expect_eq(pool_op(VGPU_POOL_GET_ATTR, pool,
			     CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, 0, &got),
		     CUDA_SUCCESS);
	cr_expect_eq(got, 12345u);
	cr_expect_eq(pool_op(VGPU_POOL_SET_ATTR, pool,
			     CU_MEMPOOL_ATTR_USED_MEM_CURRENT, 1, NULL),
		     CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(pool_op(VGPU_POOL_GET_ATTR, pool, 99, 0, &got),
		     CUDA_ERROR_INVALID_VALUE);
	/* foreign, other-kind and forged ids */
	uint64_t salt_mask = 0xffffffull << 32;
	uint64_t foreign = (pool & ~salt_mask) | ((pool + (1ull << 32)) & salt_mask);
	cr_expect_eq(pool_op(VGPU_POOL_GET_ATTR, foreign,
			     CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, 0, &got),
		     CUDA_ERROR_INVALID_HANDLE);
	cr_expect_eq(pool_op(VGPU_POOL_DESTROY, W.ctx_id, 0, 0, NULL),
		     CUDA_ERROR_INVALID_HANDLE);
	struct vgpu_cu_args a = {{4096, foreign, 0}};
	cr_expect_eq(gen_call("cuMemAllocFromPoolAsync", &a),
		     CUDA_ERROR_INVALID_HANDLE);
	/* the default pool cannot be destroyed and keeps its id */
	cr_expect_eq(pool_op(VGPU_POOL_DESTROY, def, 0, 0, NULL),
		     CUDA_ERROR_INVALID_VALUE);
	cr_expect_eq(pool_op(VGPU_POOL_DEVICE_SET, def, 0, 0, NULL),
		     CUDA_SUCCESS);
	cr_expect_eq(pool_op(VGPU_POOL_DESTROY, pool, 0, 0, NULL), CUDA_SUCCESS);
	cr_expect_eq(pool_op(VGPU_POOL_DESTROY, pool, 0, 0, NULL),
		     CUDA_ERROR_INVALID_HANDLE);
	a = (struct vgpu_cu_args){{4096, pool, 0}};
	cr_expect_eq(gen_call("cuMemAllocFromPoolAsync", &a),
		     CUDA_ERROR_INVALID_HANDLE);
}

Test(vmm, pool_properties_the_worker_refuses)
{
	uint64_t id;
	CUmemPoolProps p = props();
	p.handleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
	cr_expect_eq(pool_create(&p, &id), CUDA_ERROR_NOT_SUPPORTED,
		     "pools are not exportable");
	p = props();
	p.win32SecurityAttributes = (void *)0x1000;
	cr_expect_eq(pool_create(&p, &id), CUDA_ERROR_INVALID_VALUE);
	p = props();
	p.location.type = CU_MEM_LOCATION_TYPE_HOST;
	cr_expect_eq(pool_create(&p, &id), CUDA_ERROR_NOT_SUPPORTED);
	p = props();
	cr_expect_eq(vmm_req(VGPU_CU_MEM_POOL_CREATE, &p, sizeof(p) - 8, NULL,
			     0), CUDA_ERROR_INVALID_VALUE, "short");
	uint64_t a[3] = {VGPU_POOL_GET_ATTR, 0, 1};
	cr_expect_eq(vmm_req(VGPU_CU_MEM_POOL, a, sizeof(a), NULL, 0),
		     CUDA_ERROR_INVALID_VALUE, "short");
}

Test(vmm, stream_ordered_allocations_are_the_callers_and_counted)
{
	uint64_t pool;
	CUmemPoolProps p = props();
	cr_assert_eq(pool_create(&p, &pool), CUDA_SUCCESS);
	struct vgpu_cu_args a = {{1 << 20, 0}};
	cr_assert_eq(gen_call("cuMemAllocAsync", &a), CUDA_SUCCESS);
	uint64_t d1 = a.a[0];
	a = (struct vgpu_cu_args){{1 << 20, pool, 0}};
	cr_assert_eq(gen_call("cuMemAllocFromPoolAsync", &a), CUDA_SUCCESS);
	uint64_t d2 = a.a[0];
	cr_expect_eq(W.mem_in_use, 2u << 20);
	cr_expect_eq(vw_range(&W, d2, 1 << 20), CUDA_SUCCESS);
	uint64_t used = 0;
	cr_expect_eq(pool_op(VGPU_POOL_GET_ATTR, pool,
			     CU_MEMPOOL_ATTR_USED_MEM_CURRENT, 0, &used),
		     CUDA_SUCCESS);
	cr_expect_eq(used, 1u << 20);
	a = (struct vgpu_cu_args){{d1, 0}};
	cr_expect_eq(gen_call("cuMemFreeAsync", &a), CUDA_SUCCESS);
	a = (struct vgpu_cu_args){{d2, 0}};
	cr_expect_eq(gen_call("cuMemFreeAsync", &a), CUDA_SUCCESS);
	cr_expect_eq(W.mem_in_use, 0u);
	cr_expect_eq(vw_range(&W, d2, 1), CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{d2, 0}};
	cr_expect_eq(gen_call("cuMemFreeAsync", &a), CUDA_ERROR_INVALID_VALUE,
		     "freed twice: reported at once (async error)");
	W.async_err = CUDA_SUCCESS;
	a = (struct vgpu_cu_args){{0}};
	cr_expect_eq(gen_call("cuCtxSynchronize", &a), CUDA_SUCCESS);
	cr_expect_eq(pool_op(VGPU_POOL_GET_ATTR, pool,
			     CU_MEMPOOL_ATTR_USED_MEM_CURRENT, 0, &used),
		     CUDA_SUCCESS);
	cr_expect_eq(used, 0u, "the sim freed it when the stream got there");
}

/* ---- IPC ------------------------------------------------------------- */

static struct vgpud_ipc_slot vm_a[VGPUD_IPC_SLOTS], vm_b[VGPUD_IPC_SLOTS];

static uint64_t alloc(uint64_t n)
{
	struct vgpu_cu_args a = {{n}};
	cr_assert_eq(gen_call("cuMemAlloc_v2", &a), CUDA_SUCCESS);
	return a.a[0];
}

static int32_t ipc_get(uint64_t op_, uint64_t what,
		       struct vgpu_cu_ipc_handle *h)
{
	struct vgpu_cu_args a = {{op_, what}};
	int32_t r = op(VGPU_CU_IPC, &a);
	memcpy(h, &a, sizeof(*h));
	return r;
}

static int32_t ipc_open(uint32_t kind, const struct vgpu_cu_ipc_handle *h,
			uint64_t *out)
{
	struct vgpu_cu_ipc_open o = {.kind = kind, .h = *h};
	struct vgpu_cu_args a = {{0}};
	int32_t r = vmm_req(VGPU_CU_IPC_OPEN, &o, sizeof(o), &a, sizeof(a));
	*out = a.a[0];
	return r;
}

Test(vmm, ipc_handles_open_only_in_their_vm_and_only_as_issued)
{
	W.ipc = vm_a;
	uint64_t d = alloc(1 << 16), p;
	struct vgpu_cu_ipc_handle h, h2, bad;
	cr_assert_eq(ipc_get(VGPU_IPC_MEM_GET, d, &h), CUDA_SUCCESS);
	cr_expect_eq(h.magic, VGPU_CU_IPC_MAGIC);
	cr_expect_gt(h.nonce, 1u);
	cr_expect_eq(atomic_load(&vm_a[h.slot].nonce), h.nonce);
	cr_assert_eq(ipc_get(VGPU_IPC_MEM_GET, d, &h2), CUDA_SUCCESS);
	cr_expect_arr_eq(&h, &h2, sizeof(h), "one handle per allocation");
	/* found in this VM's table: the driver refuses a process's own
	 * memory, so the lookup got that far */
	cr_expect_eq(ipc_open(1, &h, &p), CUDA_ERROR_INVALID_CONTEXT);
	/* another VM's workers see another table */
	W.ipc = vm_b;
	cr_expect_eq(ipc_open(1, &h, &p), CUDA_ERROR_INVALID_VALUE);
	W.ipc = vm_a;
	bad = h;
	bad.nonce ^= 1;
	cr_expect_eq(ipc_open(1, &bad, &p), CUDA_ERROR_INVALID_VALUE, "nonce");
	bad = h;
	bad.slot = VGPUD_IPC_SLOTS;
	cr_expect_eq(ipc_open(1, &bad, &p), CUDA_ERROR_INVALID_VALUE, "slot");
	bad = h;
	bad.magic = 0;
	cr_expect_eq(ipc_open(1, &bad, &p), CUDA_ERROR_INVALID_VALUE, "magic");
	cr_expect_eq(ipc_open(2, &h, &p), CUDA_ERROR_INVALID_VALUE,
		     "memory handle opened as an event");
	cr_expect_eq(ipc_open(7, &h, &p), CUDA_ERROR_INVALID_VALUE);
	/* the exporter gone: the supervisor clears its slots */
	vgpud_ipc_forget(vm_a, (int32_t)getpid());
	cr_expect_eq(atomic_load(&vm_a[h.slot].nonce), 0u);
	cr_expect_eq(ipc_open(1, &h, &p), CUDA_ERROR_INVALID_VALUE);
	W.ipc = NULL;
	cr_expect_eq(ipc_get(VGPU_IPC_MEM_GET, d, &h), CUDA_ERROR_NOT_SUPPORTED,
		     "no VM table: no IPC");
}

Test(vmm, ipc_exports_only_the_callers_objects)
{
	W.ipc = vm_a;
	uint64_t d = alloc(4096), p;
	struct vgpu_cu_ipc_handle h;
	cr_expect_eq(ipc_get(VGPU_IPC_MEM_GET, d + 8192, &h),
		     CUDA_ERROR_INVALID_VALUE, "not the caller's memory");
	cr_expect_eq(ipc_get(VGPU_IPC_EVENT_GET, W.ctx_id, &h),
		     CUDA_ERROR_INVALID_HANDLE, "not an event");
	struct vgpu_cu_args a = {{0}};
	cr_assert_eq(gen_call("cuEventCreate", &a), CUDA_SUCCESS);
	cr_expect_eq(ipc_get(VGPU_IPC_EVENT_GET, a.a[0], &h),
		     CUDA_ERROR_NOT_SUPPORTED, "the sim has no IPC events");
	a = (struct vgpu_cu_args){{VGPU_IPC_MEM_CLOSE, d}};
	cr_expect_eq(op(VGPU_CU_IPC, &a), CUDA_ERROR_INVALID_VALUE,
		     "closing what was not opened");
	uint8_t shortmsg[16] = {0};
	cr_expect_eq(vmm_req(VGPU_CU_IPC_OPEN, shortmsg, sizeof(shortmsg), NULL,
			     0), CUDA_ERROR_INVALID_VALUE);
	a = (struct vgpu_cu_args){{99, d}};
	cr_expect_eq(op(VGPU_CU_IPC, &a), CUDA_ERROR_INVALID_VALUE);
	(void)p;
	/* the table is finite: a full one is OUT_OF_MEMORY, not a crash */
	int32_t r = CUDA_SUCCESS;
	for (int i = 0; i <= VGPUD_IPC_SLOTS && r == CUDA_SUCCESS; i++)
		r = ipc_get(VGPU_IPC_MEM_GET, alloc(256), &h);
	cr_expect_eq(r, CUDA_ERROR_OUT_OF_MEMORY);
	vgpud_ipc_forget(vm_a, (int32_t)getpid());
}

/* The sim's export moves an allocation into a memfd, keeping its bytes;
 * the import itself needs a second process (tests/gpu/vmm.c's ipc check,
 * run between two workers by tests/integration/run.sh). */
Test(vmm, sim_ipc_export_keeps_the_bytes_and_refuses_its_own_handle)
{
	uint64_t d = alloc(1 << 16);
	uint32_t v = 0x12345678, got = 0;
	cr_assert_eq(htod(d + 100, &v, 4), CUDA_SUCCESS);
	CUipcMemHandle h;
	cr_assert_eq(W.drv.cuIpcGetMemHandle(&h, d), CUDA_SUCCESS);
	cr_expect_eq(dtoh(d + 100, &got, 4), CUDA_SUCCESS);
	cr_expect_eq(got, v, "the move to the memfd kept the bytes");
	v = 0x9abcdef0;
	cr_expect_eq(htod(d + 100, &v, 4), CUDA_SUCCESS);
	cr_expect_eq(dtoh(d + 100, &got, 4), CUDA_SUCCESS);
	cr_expect_eq(got, v, "and it is still the allocation");
	cr_expect_eq(W.drv.cuIpcGetMemHandle(&h, d + 64),
		     CUDA_ERROR_INVALID_VALUE, "not an allocation's base");
	CUdeviceptr p;
	cr_expect_eq(W.drv.cuIpcOpenMemHandle_v2(&p, h, 1),
		     CUDA_ERROR_INVALID_CONTEXT);
	cr_expect_eq(W.drv.cuIpcCloseMemHandle(d), CUDA_ERROR_INVALID_VALUE);
	struct vgpu_cu_args a = {{d}};
	cr_expect_eq(gen_call("cuMemFree_v2", &a), CUDA_SUCCESS,
		     "an exported allocation frees normally");
	size_t free_b, total;
	cr_expect_eq(W.drv.cuMemGetInfo_v2(&free_b, &total), CUDA_SUCCESS);
	cr_expect_eq(free_b, total);
}

/* The context's last release frees everything the sim holds for it, VMM
 * and pools included (tests/fuzz/fuzz_worker.c resets between inputs). */
Test(vmm, sim_context_reset_frees_vmm_and_pool_memory)
{
	uint64_t va = reserve(4 * G), h = create(2 * G);
	cr_assert_eq(map(va, 2 * G, h), CUDA_SUCCESS);
	cr_assert_eq(set_access(va, 2 * G, CU_MEM_ACCESS_FLAGS_PROT_READWRITE),
		     CUDA_SUCCESS);
	struct vgpu_cu_args a = {{1 << 20, 0}};
	cr_assert_eq(gen_call("cuMemAllocAsync", &a), CUDA_SUCCESS);
	cr_assert_eq(W.drv.cuDevicePrimaryCtxRelease_v2(0), CUDA_SUCCESS);
	cr_assert_eq(W.drv.cuDevicePrimaryCtxRetain(&W.ctx, 0), CUDA_SUCCESS);
	cr_assert_eq(W.drv.cuCtxSetCurrent(W.ctx), CUDA_SUCCESS);
	size_t free_b, total;
	cr_expect_eq(W.drv.cuMemGetInfo_v2(&free_b, &total), CUDA_SUCCESS);
	cr_expect_eq(free_b, total);
	uint8_t b = 1;
	cr_expect_eq(W.drv.cuMemcpyHtoD_v2(va, &b, 1), CUDA_ERROR_INVALID_VALUE,
		     "the mapping is gone");
	vw_vmm_forget(&W);
	cr_expect_null(W.vmm);
	/* and the address range can be reserved afresh */
	CUdeviceptr again;
	cr_expect_eq(W.drv.cuMemAddressReserve(&again, 4 * G, 0, 0, 0),
		     CUDA_SUCCESS);
}

/* What the guest is told (daemon/devinfo.c's table over the sim's
 * values): VMM and pools as the device says, nothing exportable. */
Test(vmm, the_device_reports_what_vgpu_serves)
{
	const int32_t *at = W.info.attrs;
	cr_expect_eq(at[CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED],
		     1);
	cr_expect_eq(at[CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED], 1);
	cr_expect_eq(at[CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED], 0,
		     "the sim's own 0 passes through");
	cr_expect_eq(at[CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED],
		     0);
	cr_expect_eq(at[CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES], 0);
	cr_expect_eq(at[CU_DEVICE_ATTRIBUTE_HOST_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED],
		     0);
	cr_expect_eq(at[CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED], 0);
}
