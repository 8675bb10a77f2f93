/* daemon/vgpud.c - the host daemon's entry point. */
#define _GNU_SOURCE
#include "log.h"
#include "supervisor.h"
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct vgpud D;

static void usage(FILE *f)
{
	fprintf(f,
"Usage: vgpud [-c DIR] [--check]\n"
"\n"
"vgpud owns the host's NVIDIA GPU and serves it to virtual machines: each\n"
"VM's guest libraries (libcuda.so.1, libnvidia-ml.so.1 from the vgpu guest\n"
"package) reach it through a shared-memory region that QEMU maps into the\n"
"VM as an ivshmem-plain device. Every guest process gets its own worker\n"
"process and CUDA context on the host.\n"
"\n"
"Options:\n"
"  -c, --config DIR  read DIR/vgpud.conf and DIR/vms.d/*.conf\n"
"                    (default /etc/vgpud)\n"
"      --check       validate the configuration and exit (0: valid)\n"
"  -h, --help        this text\n"
"\n"
"Files:\n"
"  /etc/vgpud/vgpud.conf       backend (cuda|sim), driver, gpus (ordinals,\n"
"                              UUIDs or PCI bus ids; gpu = N for one),\n"
"                              sim_gpus, sim_peer, log_level,\n"
"                              control_socket, lease, metrics_listen\n"
"                              (Prometheus metrics over HTTP; off)\n"
"  /etc/vgpud/vms.d/NAME.conf  one VM: region, region_size, region_owner,\n"
"                              region_group, region_mode, channels, gpus\n"
"                              (indices into vgpud.conf's gpus, or any),\n"
"                              and the quotas memory_limit (per GPU),\n"
"                              compute_weight, compute_cap, max_processes\n"
"  Both are documented key by key in the installed examples\n"
"  (packaging/vgpud.conf, packaging/vm.conf.example).\n"
"\n"
"Signals: SIGTERM and SIGINT stop the daemon (guest processes then get\n"
"errors). SIGHUP re-reads the configuration and applies changed quotas\n"
"(memory_limit, compute_weight, compute_cap, max_processes), log_level\n"
"and lease to the running VMs without disturbing their work, as\n"
"`vgpuctl reload` does; anything else changed, or an invalid file, is\n"
"logged as an error naming file, line and reason, and the configuration\n"
"in force stays. Status: vgpuctl status, vgpuctl stats.\n"
"\n"
"Exit status: 0 stopped cleanly, 2 bad configuration, 1 other failure.\n");
}

static void on_stop(int sig)
{
	(void)sig;
	D.stop = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	D.reload = 1;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"config", 1, 0, 'c'},
					   {"check", 0, 0, 'k'},
					   {"help", 0, 0, 'h'},
					   {0, 0, 0, 0}};
	const char *dir = NULL;
	int c, check = 0;
	while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
		if (c == 'c')
			dir = optarg;
		else if (c == 'k')
			check = 1;
		else {
			usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	struct vgpud_cfgerr e;
	char msg[1024];
	if (vgpud_config_load(dir, &D.cfg, &e)) {
		vgpud_cfgerr_format(&e, msg, sizeof(msg));
		fprintf(stderr, "vgpud: %s\n", msg);
		return 2;
	}
	if (check) {
		printf("vgpud: configuration in %s is valid (%u VMs)\n",
		       D.cfg.dir, D.cfg.nvms);
		return 0;
	}
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	struct sigaction hup = {.sa_handler = on_hup};
	sigaction(SIGHUP, &hup, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (vgpud_start(&D, msg, sizeof(msg))) {
		VLOG_ERR("%s", msg);
		vgpud_shutdown(&D);
		return 1;
	}
	VLOG_INFO("started: backend %s, %u VMs, control socket %s",
		  D.cfg.backend == VGPUD_BACKEND_SIM ? "sim" : "cuda",
		  D.cfg.nvms, D.cfg.control_socket);
	vgpud_run(&D);
	vgpud_shutdown(&D);
	return 0;
}
