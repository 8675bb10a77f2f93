/* daemon/ctl.c - accept and answer control connections. */
#define _GNU_SOURCE
#include "ctl.h"
#include "reload.h"
#include "supervisor.h"
#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int vgpud_ctl_listen(const char *path, char *err, size_t n)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char dir[sizeof(a.sun_path)];
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	mkdir(dirname(dir), 0755); /* /run/vgpud on first start */
	unlink(path);              /* a stale socket from a crashed daemon */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    chmod(path, 0660) || listen(fd, 8)) {
		snprintf(err, n, "control socket %s: %s (set control_socket in "
			 "vgpud.conf)", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void answer(struct vgpud *d, int c)
{
	char req[64] = "";
	struct pollfd p = {.fd = c, .events = POLLIN};
	ssize_t k = poll(&p, 1, 200) == 1 ? read(c, req, sizeof(req) - 1) : 0;
	static char out[1 << 18]; /* metrics of 256 VMs fit */
	if (k > 0 && !strncmp(req, "status", 6)) {
		vgpud_status(d, out, sizeof(out));
	} else if (k > 0 && !strncmp(req, "stats", 5)) {
		vgpud_stats(d, out, sizeof(out));
	} else if (k > 0 && !strncmp(req, "metrics", 7)) {
		vgpud_stats_prom(d, out, sizeof(out));
	} else if (k > 0 && !strncmp(req, "reload", 6)) {
		/* the first word says how it went (vgpuctl's exit status) */
		static char msg[1 << 15];
		int rc = vgpud_reload(d, msg, sizeof(msg));
		snprintf(out, sizeof(out), rc ? "error: %s\n" : "ok: %s", msg);
	} else {
		snprintf(out, sizeof(out),
			 "error: unknown request (try: status, stats, metrics, reload)\n");
	}
	/* a client that stops reading gets what fits in 200 ms, no more:
	 * the daemon's loop must not wait on it */
	size_t len = strlen(out), done = 0;
	struct pollfd o = {.fd = c, .events = POLLOUT};
	while (done < len && poll(&o, 1, 200) == 1) {
		ssize_t w = write(c, out + done, len - done);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
}

void vgpud_ctl_serve(struct vgpud *d)
{
	int c;
	while (d->ctl_fd >= 0 &&
	       (c = accept4(d->ctl_fd, NULL, NULL,
			    SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		answer(d, c);
		close(c);
	}
}

void vgpud_ctl_close(struct vgpud *d)
{
	if (d->ctl_fd < 0)
		return;
	close(d->ctl_fd);
	unlink(d->cfg.control_socket);
	d->ctl_fd = -1;
}
