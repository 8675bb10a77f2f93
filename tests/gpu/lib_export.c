/* tests/gpu/lib_export.c - the driver's private tables (cuGetExportTable)
 * as the CUDA runtime uses them.
 *
 * Usage: lib_export KERNELS.fatbin [--vectors]
 *
 * A plain driver-API program: natively it checks NVIDIA's driver, through
 * vgpu the guest library, with the same expectations:
 *  export_layout     the seven tables the runtime and cuBLAS require
 *                    exist with the real sizes in slot 0 (none for
 *                    context-local storage); unknown GUIDs are refused
 *  export_cudart     primary context (entry 2) and module loading from a
 *                    fatbin wrapper (1, 6) and a bare fatbin (8)
 *  export_cls        context-local storage: put, get, delete, and the
 *                    destructor running when the primary context's last
 *                    reference goes
 *  export_checks     CONTEXT_CHECKS entries 2 and 3
 *  export_cublas     entry 4 of 21318c60 (what cuBLAS calls) gives the
 *                    context's id, as cuCtxGetId, for the primary
 *                    context; 0 (and success) for NULL, as driver 580
 *  export_cublas_stream  entries 51 (a stream's object) and 39 (its id),
 *                    what cuBLAS calls without a workspace: 39 of 51's
 *                    object equals cuStreamGetId for the NULL, legacy,
 *                    per-thread and a created stream, the same object
 *                    for the same stream, a thread's own per-thread
 *                    stream, and the refusals measured on driver 580
 *  export_integrity  INTEGRITY_CHECK entry 1 equals the HMAC-MD2 the
 *                    runtime computes (guest/cuda/lib_integrity.c) over
 *                    the values this process sees, for several versions;
 *                    versions ending in 0 and 1 give the fixed values
 * --vectors prints each integrity computation's inputs and output as a
 * "vector" line: tests/data/integrity-vectors.txt holds the lines the
 * real driver gave (how: that file's header).
 */
#include "../../guest/cuda/lib_integrity.c"
#include "check.h"
#include "file.h"
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static const uint8_t G_CUDART[16] = {0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9};
static const uint8_t G_HOOKS[16] = {0xa0, 0x94, 0x79, 0x8c, 0x2e, 0x74, 0x2e, 0x74, 0x93, 0xf2, 0x08, 0x00, 0x20, 0x0c, 0x0a, 0x66};
static const uint8_t G_TLS[16] = {0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47, 0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc};
static const uint8_t G_CLS[16] = {0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11, 0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93};
static const uint8_t G_CHECKS[16] = {0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43, 0x92, 0xf6, 0xbb, 0xd5, 0x00, 0x6d, 0xfa, 0x7e};
static const uint8_t G_INTEGRITY[16] = {0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b, 0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2};
static const uint8_t G_CUBLAS[16] = {0x21, 0x31, 0x8c, 0x60, 0x97, 0x14, 0x32, 0x48, 0x8c, 0xa6, 0x41, 0xff, 0x73, 0x24, 0xc8, 0xf2};
static const uint8_t G_BOGUS[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

static const void *image;
static int vectors;

static const uintptr_t *table(const uint8_t g[16])
{
	CUuuid id;
	const void *t = NULL;
	memcpy(id.bytes, g, 16);
	return cuGetExportTable(&t, &id) == CUDA_SUCCESS ? t : NULL;
}

static void layout(void)
{
	struct check c = {.name = "export_layout"};
	struct { const uint8_t *g; uintptr_t size; const char *name; } want[] = {
		{G_CUDART, 0x68, "CUDART_INTERFACE"},
		{G_HOOKS, 0x38, "TOOLS_RUNTIME_CALLBACK_HOOKS"},
		{G_TLS, 0x18, "TOOLS_TLS"},
		{G_CHECKS, 0x78, "CONTEXT_CHECKS"},
		{G_INTEGRITY, 0x18, "INTEGRITY_CHECK"},
		{G_CUBLAS, 0x2e8, "21318c60"},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const uintptr_t *t = table(want[i].g);
		if (!t)
			check_fail(&c, "%s refused", want[i].name);
		else if (t[0] != want[i].size)
			check_fail(&c, "%s size %#lx, want %#lx", want[i].name,
				   (unsigned long)t[0], (unsigned long)want[i].size);
	}
	const uintptr_t *cls = table(G_CLS);
	if (!cls || cls[0] < 0x10000 || !cls[1] || !cls[2])
		check_fail(&c, "context-local storage: no functions in slots 0-2");
	CUuuid id;
	const void *t = (void *)1;
	memcpy(id.bytes, G_BOGUS, 16);
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuGetExportTable(&t, &id));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, cuGetExportTable(NULL, &id));
	check_end(&c);
}

typedef CUresult (*load1_fn)(CUmodule *, const void *);
typedef CUresult (*ctx2_fn)(CUcontext *, CUdevice);
typedef CUresult (*load6_fn)(CUmodule *, const void *, void *, void *, unsigned);
typedef CUresult (*load8_fn)(const void *, CUmodule *, void *, void *, unsigned);

struct wrapper {
	uint32_t magic, version;
	const void *data;
	const void *extra;
};

static void use_module(struct check *c, CUmodule m)
{
	CUfunction f;
	EXPECT_OK(c, cuModuleGetFunction(&f, m, "vgpu_add_f32"));
	EXPECT_OK(c, cuModuleUnload(m));
}

static void cudart(CUcontext primary)
{
	struct check c = {.name = "export_cudart"};
	const uintptr_t *t = table(G_CUDART);
	CUcontext ctx = NULL;
	CUmodule m;
	struct wrapper w = {0x466243B1u, 1, image, NULL};
	if (!t) {
		check_fail(&c, "no table");
		check_end(&c);
		return;
	}
	EXPECT_OK(&c, ((ctx2_fn)t[2])(&ctx, 0));
	if (ctx != primary)
		check_fail(&c, "entry 2 gave %p, the primary context is %p",
			   (void *)ctx, (void *)primary);
	if (EXPECT_OK(&c, ((load1_fn)t[1])(&m, &w)))
		use_module(&c, m);
	if (EXPECT_OK(&c, ((load6_fn)t[6])(&m, &w, NULL, NULL, 0)))
		use_module(&c, m);
	if (EXPECT_OK(&c, ((load8_fn)t[8])(image, &m, NULL, NULL, 0)))
		use_module(&c, m);
	check_end(&c);
}

typedef void (*cls_dtor)(CUcontext, void *, void *);
typedef CUresult (*cls_put_fn)(CUcontext, void *, void *, cls_dtor);
typedef CUresult (*cls_del_fn)(CUcontext, void *);
typedef CUresult (*cls_get_fn)(void **, CUcontext, void *);

static int dtor_calls;
static CUcontext dtor_ctx;
static void *dtor_key, *dtor_value;

static void dtor(CUcontext ctx, void *key, void *value)
{
	dtor_calls++;
	dtor_ctx = ctx;
	dtor_key = key;
	dtor_value = value;
}

static void cls(CUcontext primary)
{
	struct check c = {.name = "export_cls"};
	const uintptr_t *t = table(G_CLS);
	static int key1, key2, v1, v2;
	void *v = NULL;
	CUcontext again;
	if (!t) {
		check_fail(&c, "no table");
		check_end(&c);
		return;
	}
	cls_put_fn put = (cls_put_fn)t[0];
	cls_del_fn del = (cls_del_fn)t[1];
	cls_get_fn get = (cls_get_fn)t[2];
	EXPECT_OK(&c, put(NULL, &key1, &v1, NULL)); /* the current context */
	EXPECT_OK(&c, get(&v, primary, &key1));
	if (v != &v1)
		check_fail(&c, "get gave %p, put %p", v, (void *)&v1);
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, get(&v, primary, &key2));
	EXPECT_OK(&c, del(primary, &key1));
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, get(&v, NULL, &key1));
	EXPECT_OK(&c, put(primary, &key2, &v2, dtor));
	if (dtor_calls)
		check_fail(&c, "destructor ran early");
	/* the program's last reference: the context ends, the storage too */
	EXPECT_OK(&c, cuDevicePrimaryCtxRelease(0));
	if (dtor_calls != 1 || dtor_ctx != primary || dtor_key != &key2 ||
	    dtor_value != &v2)
		check_fail(&c, "destructor: %d calls, (%p, %p, %p)", dtor_calls,
			   (void *)dtor_ctx, dtor_key, dtor_value);
	EXPECT_OK(&c, cuDevicePrimaryCtxRetain(&again, 0));
	EXPECT_OK(&c, cuCtxSetCurrent(again));
	check_end(&c);
}

typedef CUresult (*check2_fn)(CUcontext, uint32_t *, void **);
typedef uint32_t (*check3_fn)(void);

static void checks(void)
{
	struct check c = {.name = "export_checks"};
	const uintptr_t *t = table(G_CHECKS);
	CUcontext ctx;
	uint32_t flags = 0xdead;
	void *out = NULL;
	if (!t) {
		check_fail(&c, "no table");
		check_end(&c);
		return;
	}
	EXPECT_OK(&c, cuCtxGetCurrent(&ctx));
	EXPECT_OK(&c, ((check2_fn)t[2])(ctx, &flags, &out));
	if (flags != 0)
		check_fail(&c, "entry 2 flags %#x", flags);
	if (((check3_fn)t[3])() != 0)
		check_fail(&c, "entry 3 not 0");
	check_end(&c);
}

typedef CUresult (*integrity_fn)(uint32_t, uint64_t, uint64_t *);

static void integrity(void)
{
	struct check c = {.name = "export_integrity"};
	const uintptr_t *t = table(G_INTEGRITY), *rt = table(G_CUDART);
	static const uint32_t versions[] = {13000, 13001, 13002, 12082, 13005,
					    12089, 13009};
	struct vgpu_integrity_dev devs[8];
	int n = 0, drv = 0;
	if (!t || !rt) {
		check_fail(&c, "no table");
		check_end(&c);
		return;
	}
	EXPECT_OK(&c, cuDriverGetVersion(&drv));
	EXPECT_OK(&c, cuDeviceGetCount(&n));
	for (int i = 0; i < n && i < 8; i++) {
		CUuuid u;
		EXPECT_OK(&c, cuDeviceGetUuid_v2(&u, i));
		memcpy(devs[i].uuid, u.bytes, 16);
		EXPECT_OK(&c, cuDeviceGetAttribute(&devs[i].pci_domain,
				CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, i));
		EXPECT_OK(&c, cuDeviceGetAttribute(&devs[i].pci_bus,
				CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, i));
		EXPECT_OK(&c, cuDeviceGetAttribute(&devs[i].pci_device,
				CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, i));
	}
	for (size_t v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
		uint64_t got[2] = {0, 0}, want[2];
		uint64_t secs = 1764000000ull + v * 7919;
		struct vgpu_integrity_in in = {
			(uint32_t)drv, versions[v], (uint32_t)getpid(),
			(uint32_t)pthread_self(), (uintptr_t)rt, (uintptr_t)t,
			t[1], secs};
		EXPECT_OK(&c, ((integrity_fn)t[1])(versions[v], secs, got));
		vgpu_integrity_hash(&in, devs, n < 8 ? n : 8, want);
		if (got[0] != want[0] || got[1] != want[1])
			check_fail(&c, "version %u: %016" PRIx64 "%016" PRIx64
				   ", computed %016" PRIx64 "%016" PRIx64,
				   versions[v], got[0], got[1], want[0], want[1]);
		if (!vectors)
			continue;
		printf("vector drv=%u version=%u pid=%u thread=%#x cudart=%#" PRIx64
		       " integrity=%#" PRIx64 " fn=%#" PRIx64 " secs=%" PRIu64
		       " ndev=%d", in.driver_version, in.version, in.pid,
		       in.thread, in.cudart_table, in.integrity_table, in.fn,
		       in.unix_seconds, n);
		for (int d = 0; d < n && d < 8; d++) {
			printf(" uuid=");
			for (int b = 0; b < 16; b++)
				printf("%02x", devs[d].uuid[b]);
			printf(" pci=%d:%d:%d", devs[d].pci_domain,
			       devs[d].pci_bus, devs[d].pci_device);
		}
		printf(" out=%016" PRIx64 ",%016" PRIx64 "\n", got[0], got[1]);
	}
	check_end(&c);
}

typedef CUresult (*ctx_id_fn)(CUcontext, unsigned long long *);

static void cublas_table(CUcontext primary)
{
	struct check c = {.name = "export_cublas"};
	const uintptr_t *t = table(G_CUBLAS);
	unsigned long long want = 0, got = 0, cur = 7;
	if (!t || !t[4]) {
		check_fail(&c, "21318c60 refused or entry 4 empty");
		check_end(&c);
		return;
	}
	ctx_id_fn e4 = (ctx_id_fn)t[4];
	EXPECT_OK(&c, cuCtxGetId(primary, &want));
	EXPECT_OK(&c, e4(primary, &got));
	CUresult rn = e4(NULL, &cur);
	printf("info cublas entry4(primary)=%llu entry4(NULL)=%llu rc=%d "
	       "cuCtxGetId=%llu\n", got, cur, (int)rn, want);
	if (got != want || !got)
		check_fail(&c, "entry 4 gave %llu, cuCtxGetId %llu", got, want);
	if (rn || cur != 0)
		check_fail(&c, "entry 4 on NULL: rc %d id %llu", (int)rn, cur);
	check_end(&c);
}

typedef CUresult (*sobj_fn)(CUcontext, CUstream, void **, int);
typedef CUresult (*sid_fn)(CUcontext, const void *, unsigned long long *);
static sobj_fn e51;
static sid_fn e39;

/* Entry 39 of entry 51's object for (ctx, s, ptds) against cuStreamGetId
 * of want (in the calling thread); the object through *obj. */
static void stream_case(struct check *c, const char *what, CUcontext ctx,
			CUstream s, int ptds, CUstream want, void **obj)
{
	unsigned long long id = 0, sid = 0;
	*obj = NULL;
	EXPECT_OK(c, cuStreamGetId(want, &sid));
	EXPECT_OK(c, e51(ctx, s, obj, ptds));
	EXPECT_OK(c, e39(ctx, *obj, &id));
	if (!*obj || id != sid)
		check_fail(c, "%s: object %p id %llu, cuStreamGetId %llu", what,
			   *obj, id, sid);
}

static void *stream_thread(void *arg)
{
	CUcontext ctx = arg;
	void **objs = calloc(2, sizeof(void *));
	struct check c = {.name = "export_cublas_stream thread"};
	if (!objs || cuCtxSetCurrent(ctx))
		return objs;
	stream_case(&c, "thread per-thread", ctx, NULL, 1,
		    CU_STREAM_PER_THREAD, &objs[0]);
	stream_case(&c, "thread legacy", ctx, NULL, 0, CU_STREAM_LEGACY,
		    &objs[1]);
	if (c.bad)
		objs[0] = objs[1] = NULL;
	return objs;
}

static void cublas_stream(CUcontext ctx)
{
	struct check c = {.name = "export_cublas_stream"};
	const uintptr_t *t = table(G_CUBLAS);
	void *nul, *legacy, *pt, *pt2, *sobj, *again, *o = NULL;
	void **th = NULL;
	unsigned long long id = 0;
	CUstream s = NULL;
	pthread_t tid;
	if (!t || !t[51] || !t[39]) {
		check_fail(&c, "21318c60 refused or entries empty");
		check_end(&c);
		return;
	}
	e51 = (sobj_fn)t[51];
	e39 = (sid_fn)t[39];
	stream_case(&c, "NULL", ctx, NULL, 0, CU_STREAM_LEGACY, &nul);
	stream_case(&c, "legacy", ctx, CU_STREAM_LEGACY, 1, CU_STREAM_LEGACY,
		    &legacy);
	stream_case(&c, "NULL ptds", ctx, NULL, 1, CU_STREAM_PER_THREAD, &pt);
	stream_case(&c, "per-thread", ctx, CU_STREAM_PER_THREAD, 0,
		    CU_STREAM_PER_THREAD, &pt2);
	EXPECT_OK(&c, cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	stream_case(&c, "created", NULL, s, 0, s, &sobj);
	EXPECT_OK(&c, e51(ctx, s, &again, 0));
	if (nul != legacy || pt != pt2 || again != sobj || nul == pt ||
	    sobj == nul || sobj == pt)
		check_fail(&c, "objects: NULL %p legacy %p per-thread %p %p "
			   "stream %p %p", nul, legacy, pt, pt2, sobj, again);
	if (pthread_create(&tid, NULL, stream_thread, ctx) ||
	    pthread_join(tid, (void **)&th) || !th || !th[0] ||
	    th[0] == pt || th[1] != nul)
		check_fail(&c, "another thread: per-thread %p legacy %p",
			   th ? th[0] : NULL, th ? th[1] : NULL);
	free(th);
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, e51(ctx, NULL, NULL, 0));
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE, e51(NULL, NULL, &o, 0));
	EXPECT(&c, CUDA_ERROR_INVALID_HANDLE,
	       e51(ctx, (CUstream)(intptr_t)-1, &o, 0));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, e39(ctx, NULL, &id));
	EXPECT(&c, CUDA_ERROR_INVALID_VALUE, e39(ctx, sobj, NULL));
	EXPECT_OK(&c, cuStreamDestroy(s));
	check_end(&c);
}

int main(int argc, char **argv)
{
	CUcontext ctx;
	if (argc < 2 || !(image = read_file(argv[1]))) {
		fprintf(stderr, "usage: lib_export KERNELS.fatbin [--vectors]\n");
		return 2;
	}
	vectors = argc > 2 && !strcmp(argv[2], "--vectors");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (cuInit(0) || cuDevicePrimaryCtxRetain(&ctx, 0) ||
	    cuCtxSetCurrent(ctx)) {
		printf("FAIL export_setup\n");
		return 1;
	}
	layout();
	cudart(ctx);
	checks();
	integrity();
	cublas_table(ctx);
	cublas_stream(ctx);
	cls(ctx); /* last: it ends the context once */
	return check_summary("lib_export");
}
