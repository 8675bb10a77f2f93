/* tests/gpu/lib_va.c - device addresses are never host addresses of this
 * process, whatever it maps when (docs/memory.md, "Address spaces").
 *
 * A plain driver-API program (integration suite on the sim; natively and
 * through vgpu on the GPU by tests/gpu/run.sh), with the same
 * expectations both ways:
 *  va_window       after the first allocation, the address range the next
 *                  allocations come from is already reserved: a host
 *                  mapping asked for there (MAP_FIXED_NOREPLACE) just
 *                  past the allocation is refused with EEXIST. (Through
 *                  vgpu the guest once reserved only each allocation's
 *                  own 2 MiB, so the mapping was placed, and device
 *                  memory the worker later handed out there could not be:
 *                  "device range ... is taken in this process".)
 *  va_interleaved  host mappings of 64 MiB made between device
 *                  allocations of 64 MiB and 2 MiB: every device range
 *                  lies in an inaccessible (---p) mapping of this process
 *                  and overlaps no host mapping made.
 */
#define _GNU_SOURCE
#include "check.h"
#include <cuda.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define MIB (1ull << 20)
#define ROUNDS 16

/* Whether [p, p + n) lies in one inaccessible mapping of ours. */
static int inaccessible(uint64_t p, uint64_t n)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], perm[8];
	unsigned long lo, hi;
	int in = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) == 3 &&
		    p >= lo && p < hi) {
			in = p + n <= hi && !strcmp(perm, "---p");
			break;
		}
	if (f)
		fclose(f);
	return in;
}

static void window(void)
{
	struct check c = {.name = "va_window"};
	CUdeviceptr d = 0;
	if (EXPECT_OK(&c, cuMemAlloc(&d, 2 * MIB))) {
		uint64_t at = ((uint64_t)d + 4 * MIB) & ~(2 * MIB - 1);
		void *p = mmap((void *)(uintptr_t)at, 2 * MIB,
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			       -1, 0);
		if (p != MAP_FAILED) {
			check_fail(&c, "host mapping placed at %p, 4 MiB past "
				   "device memory 0x%llx", p,
				   (unsigned long long)d);
			munmap(p, 2 * MIB);
		} else if (errno != EEXIST) {
			check_fail(&c, "mmap at 0x%llx: errno %d",
				   (unsigned long long)at, errno);
		}
		EXPECT_OK(&c, cuMemFree(d));
	}
	check_end(&c);
}

static void interleaved(void)
{
	struct check c = {.name = "va_interleaved"};
	CUdeviceptr d[ROUNDS * 2] = {0};
	uint64_t size[ROUNDS * 2];
	void *h[ROUNDS];
	int nd = 0, nh = 0;
	for (int i = 0; i < ROUNDS && !c.bad; i++) {
		h[nh] = mmap(NULL, 64 * MIB, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (h[nh] == MAP_FAILED) {
			check_fail(&c, "host mmap errno %d", errno);
			break;
		}
		nh++;
		for (int k = 0; k < 2; k++) {
			size[nd] = k ? 2 * MIB : 64 * MIB;
			if (!EXPECT_OK(&c, cuMemAlloc(&d[nd], size[nd])))
				break;
			nd++;
		}
	}
	for (int i = 0; i < nd && !c.bad; i++) {
		if (!inaccessible(d[i], size[i]))
			check_fail(&c, "device 0x%llx+%llu is not in an "
				   "inaccessible mapping",
				   (unsigned long long)d[i],
				   (unsigned long long)size[i]);
		for (int j = 0; j < nh; j++)
			if (d[i] < (uintptr_t)h[j] + 64 * MIB &&
			    (uintptr_t)h[j] < d[i] + size[i])
				check_fail(&c, "device 0x%llx meets host %p",
					   (unsigned long long)d[i], h[j]);
	}
	while (nd)
		cuMemFree(d[--nd]);
	while (nh)
		munmap(h[--nh], 64 * MIB);
	check_end(&c);
}

int main(void)
{
	CUcontext ctx;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (cuInit(0) || cuDevicePrimaryCtxRetain(&ctx, 0) ||
	    cuCtxSetCurrent(ctx)) {
		printf("FAIL va_setup\n");
		return 1;
	}
	window();
	interleaved();
	cuDevicePrimaryCtxRelease(0);
	return check_summary("lib_va");
}
