/* daemon/worker_numa.c - read the GPU's NUMA node, bind to it (libnuma). */
#define _GNU_SOURCE
#include "worker_numa.h"
#include <ctype.h>
#include <errno.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "00000000:3B:00.0" or "0000:3b:00.0" -> "0000:3b:00.0" */
static int sysfs_name(const char *busid, char *out, size_t n)
{
	const char *colon = strchr(busid, ':');
	if (!colon || colon - busid < 4 || strlen(busid) >= n)
		return -1;
	const char *p = colon - 4; /* the domain's last four digits */
	size_t i = 0;
	for (; *p && i + 1 < n; p++)
		out[i++] = (char)tolower((unsigned char)*p);
	out[i] = 0;
	for (size_t k = 0; k < i; k++)
		if (!isxdigit((unsigned char)out[k]) && !strchr(":.", out[k]))
			return -1; /* no path tricks */
	return 0;
}

int vw_numa_node(const char *sysfs, const char *busid)
{
	char name[32], path[512], buf[16];
	if (!busid || sysfs_name(busid, name, sizeof(name)))
		return -1;
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/numa_node", sysfs,
		 name);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char *ok = fgets(buf, sizeof(buf), f);
	fclose(f);
	char *end;
	long v = ok ? strtol(buf, &end, 10) : -1;
	if (!ok || end == buf || (*end && *end != '\n') || v < -1 || v > 4095)
		return -1;
	return (int)v;
}

int vw_numa_bind(int node, char *msg, size_t n)
{
	if (node < 0 || numa_available() < 0) {
		snprintf(msg, n, "no NUMA node for the GPU: threads and memory "
			 "left to the kernel's defaults");
		return 1;
	}
	if (node > numa_max_node()) {
		snprintf(msg, n, "the GPU's NUMA node %d is not online", node);
		return -1;
	}
	if (numa_run_on_node(node)) {
		snprintf(msg, n, "numa_run_on_node(%d): %s", node,
			 strerror(errno));
		return -1;
	}
	numa_set_preferred(node); /* preferred: a full node still allocates */
	snprintf(msg, n, "running on NUMA node %d, its memory preferred", node);
	return 0;
}
