/* tests/ringpeer.c - serve a region file with the ring test peer.
 *
 * The host side of the real-VM test and of bench/ring: lays out the region
 * in PATH (created or resized to SIZE) and answers the test opcodes of
 * tests/support/peer.h until SIGTERM. Exit status 0 means every checked
 * message arrived intact and in order.
 */
#include "support/peer.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringpeer --region PATH [--size BYTES] [--channels N]\n"
		"                [--slots N] [--slot-size BYTES] [--lease-ms MS]\n"
		"\n"
		"Lay out a vgpu region in PATH and serve the ring test opcodes\n"
		"(null, echo, checked sequence, report, stream sink/source) until\n"
		"SIGTERM or SIGINT. PATH is created if absent and sized to BYTES\n"
		"(default 64 MiB; a QEMU ivshmem region must be a power of two).\n"
		"Exit status: 0 all checked messages intact, 1 corruption or\n"
		"reordering seen, 2 setup failed.\n");
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	uint64_t size = 64ull << 20;
	struct vgpu_geom g = {.nchannels = 8, .nslots = 64, .slot_size = 1024};
	struct peer_opts o = {0};
	static const struct option lo[] = {
		{"region", 1, 0, 'r'}, {"size", 1, 0, 's'},
		{"channels", 1, 0, 'c'}, {"slots", 1, 0, 'n'},
		{"slot-size", 1, 0, 'z'}, {"lease-ms", 1, 0, 'l'},
		{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "r:s:c:n:z:l:h", lo, NULL)) != -1) {
		switch (c) {
		case 'r': path = optarg; break;
		case 's': size = strtoull(optarg, NULL, 0); break;
		case 'c': g.nchannels = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'n': g.nslots = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'z': g.slot_size = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'l': o.lease_ms = strtoull(optarg, NULL, 0); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	int rc = vgpu_geom_fit(&g, size);
	if (rc) {
		fprintf(stderr, "ringpeer: %llu bytes cannot hold that geometry: %s\n",
			(unsigned long long)size, vgpu_strerror(rc));
		return 2;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		fprintf(stderr, "ringpeer: %s: %s\n", path, strerror(errno));
		return 2;
	}
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		fprintf(stderr, "ringpeer: mmap %s: %s\n", path, strerror(errno));
		return 2;
	}
	printf("ringpeer: serving %s: %u channels x %u slots of %u B, "
	       "%llu KiB arena each\n", path, g.nchannels, g.nslots,
	       g.slot_size, (unsigned long long)(g.arena_per_chan >> 10));
	fflush(stdout);
	return peer_serve(m, size, &g, &o);
}
