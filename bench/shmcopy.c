/* bench/shmcopy.c - the guest's side of a staged copy: memcpy between
 * pageable memory and a MAP_SHARED /dev/shm mapping (the arena), by chunk
 * size and thread count, as JSON lines. The figures choose the bulk path's
 * chunk size and copy threads (docs/bulk.md).
 *
 * usage: shmcopy [--mib N] [--threads-max T] [--reps R]
 * Each line: {"metric":"shmcopy","dir":"to_shm"|"from_shm","chunk":B,
 * "threads":T,"gbps":X}: N MiB copied by T threads, each moving its share
 * chunk by chunk into (out of) its own part of a 2 x chunk staging window
 * of the mapping, best of R runs. A benchmark: it fails on errors only.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1ull << 20)

struct job {
	uint8_t *host, *shm;
	uint64_t len, chunk;
	int to_shm;
};

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Alternate between two halves of the window, as a lane does. */
static void *run(void *p)
{
	struct job *j = p;
	for (uint64_t o = 0, k = 0; o < j->len; o += j->chunk, k++) {
		uint64_t n = j->len - o < j->chunk ? j->len - o : j->chunk;
		uint8_t *w = j->shm + (k & 1) * j->chunk;
		if (j->to_shm)
			memcpy(w, j->host + o, n);
		else
			memcpy(j->host + o, w, n);
	}
	return NULL;
}

static double once(uint8_t *host, uint8_t *shm, uint64_t len, uint64_t chunk,
		   int threads, int to_shm)
{
	pthread_t th[64];
	struct job j[64];
	uint64_t part = len / (uint64_t)threads;
	double t0 = now();
	for (int i = 0; i < threads; i++) {
		j[i] = (struct job){host + (uint64_t)i * part,
				    shm + (uint64_t)i * 2 * chunk, part, chunk,
				    to_shm};
		if (pthread_create(&th[i], NULL, run, &j[i]))
			exit(1);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	return (double)(part * (uint64_t)threads) / (now() - t0) / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t mib = 512;
	int tmax = (int)sysconf(_SC_NPROCESSORS_ONLN), reps = 3;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--mib"))
			mib = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--threads-max"))
			tmax = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--reps"))
			reps = atoi(argv[i + 1]);
	}
	if (tmax < 1)
		tmax = 1;
	if (tmax > 64)
		tmax = 64;
	uint64_t len = mib * MIB, win = 64 * 2 * 8 * MIB;
	char path[64];
	snprintf(path, sizeof(path), "/dev/shm/vgpu-shmcopy-%d", (int)getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)win)) {
		perror(path);
		return 1;
	}
	uint8_t *shm = mmap(NULL, win, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	unlink(path);
	close(fd);
	uint8_t *host = malloc(len);
	if (shm == MAP_FAILED || !host)
		return 1;
	memset(host, 1, len);
	memset(shm, 2, win);
	static const uint64_t chunks[] = {64 << 10, 256 << 10, 1 << 20,
					  2 << 20, 4 << 20, 8 << 20};
	for (int to = 1; to >= 0; to--)
		for (int t = 1; t <= tmax; t *= 2)
			for (size_t c = 0; c < sizeof(chunks) / sizeof(*chunks); c++) {
				double best = 0;
				for (int r = 0; r < reps; r++) {
					double g = once(host, shm, len, chunks[c], t, to);
					best = g > best ? g : best;
				}
				printf("{\"metric\":\"shmcopy\",\"dir\":\"%s\",\"chunk\":%llu,"
				       "\"threads\":%d,\"gbps\":%.2f}\n",
				       to ? "to_shm" : "from_shm",
				       (unsigned long long)chunks[c], t, best);
				fflush(stdout);
			}
	return 0;
}
