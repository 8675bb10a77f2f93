/* daemon/vgpuctl.c - ask a running vgpud about its VMs, or tell it to
 * re-read its configuration. One request per connection on vgpud's
 * control socket (daemon/ctl.h); the answer is printed as it comes. */
#define _GNU_SOURCE
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
"Usage: vgpuctl [-s SOCKET] COMMAND\n"
"\n"
"Query or control a running vgpud, the daemon that serves the host's GPU\n"
"to VMs, through its control socket.\n"
"\n"
"Commands:\n"
"  status   the host's GPUs and the VMs vgpud serves: each VM's GPUs\n"
"           (where gpus = any placed it), region, channels in use (guest\n"
"           process id, worker process id) and device memory in use of its\n"
"           memory_limit.\n"
"  stats    per VM: guest processes / channels, device memory charged to\n"
"           its quota and its memory_limit (M = MiB), allocations refused\n"
"           for the limit, CUDA calls per second over the last second and\n"
"           the last 10 seconds, and calls in all since vgpud started;\n"
"           the VM's share of the GPU over the last second and 10 seconds\n"
"           and the seconds its launches were held back by its share or\n"
"           cap (the scheduler's figures; 0 with scheduler = off, and\n"
"           GPU share 0 while a VM runs alone on its GPU, unmetered), and\n"
"           host<->device copies in GB/s over the last second and 10 s.\n"
"  metrics  the same figures in Prometheus text format (vgpu_vm_* metrics,\n"
"           label vm), for a collector that reads a file or a command;\n"
"           with metrics_listen set in vgpud.conf, vgpud also serves them\n"
"           at http://ADDR:PORT/metrics.\n"
"  reload   re-read the configuration (vgpud.conf and vms.d/NAME.conf in\n"
"           the directory vgpud was started with) and apply it to the\n"
"           running VMs without disturbing their work; the same as sending\n"
"           vgpud SIGHUP. What may change: the quotas memory_limit,\n"
"           compute_weight, compute_cap and max_processes, and log_level,\n"
"           lease, scheduler, sched_queue, sched_solo and\n"
"           sched_queue_ahead. A lowered memory_limit\n"
"           refuses new allocations while the VM uses more, and never\n"
"           frees live memory. What needs a restart of vgpud: adding or\n"
"           removing a VM, a VM's region, region_size, region_owner,\n"
"           region_group, region_mode, channels or gpus, and the backend,\n"
"           driver, gpus, sim_gpus, sim_peer, control_socket and\n"
"           metrics_listen. If\n"
"           anything is invalid or needs a restart, nothing is applied, and\n"
"           the error names the file, the line and the reason, as\n"
"           FILE:LINE: REASON; the configuration in force stays. On success\n"
"           it lists what changed.\n"
"\n"
"Options:\n"
"  -s SOCKET  vgpud's control socket (default /run/vgpud/control.sock, the\n"
"             control_socket of vgpud.conf)\n"
"  -h         this text\n"
"\n"
"Exit status: 0 done; 1 vgpud refused (reload: the configuration is\n"
"invalid or needs a restart) or could not be reached; 2 bad usage.\n"
"\n"
"Files: /etc/vgpud/vgpud.conf, /etc/vgpud/vms.d/NAME.conf (every key is\n"
"documented in the installed examples vgpud.conf and vm.conf.example).\n"
"See also: vgpud --help, docs/daemon.md, docs/scheduler.md.\n");
}

static const char *const commands[] = {"status", "stats", "metrics",
				       "reload"};

static int known(const char *cmd)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i]))
			return 1;
	return 0;
}

/* Send cmd, copy the answer to stdout; 1 if it says "error:". */
static int ask(int fd, const char *cmd)
{
	char req[32], buf[4096];
	int n = snprintf(req, sizeof(req), "%s\n", cmd), first = 1, bad = 0;
	if (write(fd, req, (size_t)n) != n)
		return 1;
	ssize_t k;
	while ((k = read(fd, buf, sizeof(buf))) > 0) {
		if (first && !strncmp(buf, "error:", k < 6 ? (size_t)k : 6))
			bad = 1;
		first = 0;
		fwrite(buf, 1, (size_t)k, bad ? stderr : stdout);
	}
	return bad || first;
}

int main(int argc, char **argv)
{
	const char *sock = "/run/vgpud/control.sock";
	int c;
	while ((c = getopt(argc, argv, "s:h")) != -1) {
		if (c == 's')
			sock = optarg;
		else {
			usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1 || !known(argv[optind])) {
		usage(stderr);
		return 2;
	}
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		fprintf(stderr, "vgpuctl: %s: %s (is vgpud running? "
			"systemctl status vgpud)\n", sock, strerror(errno));
		return 1;
	}
	int rc = ask(fd, argv[optind]);
	close(fd);
	return rc;
}
