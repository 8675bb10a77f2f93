/* daemon/vgpuctl.c - ask a running vgpud about its VMs. */
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
"Usage: vgpuctl [-s SOCKET] status\n"
"\n"
"  status     list the VMs vgpud serves, each VM's channels in use (guest\n"
"             process id, worker process id) and device memory in use\n"
"  -s SOCKET  vgpud's control socket (default /run/vgpud/control.sock,\n"
"             the control_socket of vgpud.conf)\n");
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
	if (optind != argc - 1 || strcmp(argv[optind], "status")) {
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
	if (write(fd, "status\n", 7) != 7)
		return 1;
	char buf[4096];
	ssize_t k;
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)k, stdout);
	close(fd);
	return 0;
}
