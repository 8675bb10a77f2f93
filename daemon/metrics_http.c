/* daemon/metrics_http.c - a minimal HTTP endpoint for Prometheus. */
#define _GNU_SOURCE
#include "metrics_http.h"
#include "log.h"
#include "stats.h"
#include "supervisor.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONN_MS 200 /* all the time one connection gets */

int vgpud_metrics_listen(struct vgpud *d, char *err, size_t n)
{
	d->metrics_fd = -1;
	if (!d->cfg.metrics_on)
		return 0;
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(d->cfg.metrics_port),
				.sin_addr.s_addr = htonl(d->cfg.metrics_addr)};
	socklen_t len = sizeof(a);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		char ip[INET_ADDRSTRLEN] = "?";
		struct in_addr in = {htonl(d->cfg.metrics_addr)};
		inet_ntop(AF_INET, &in, ip, sizeof(ip));
		snprintf(err, n, "metrics_listen %s:%u: %s (set metrics_listen "
			 "in vgpud.conf)", ip, d->cfg.metrics_port,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a.sin_addr, ip, sizeof(ip));
	VLOG_INFO("metrics on http://%s:%u/metrics", ip, ntohs(a.sin_port));
	d->metrics_fd = fd;
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Ready before the connection's deadline: a client that trickles bytes
 * in or out cannot keep the supervisor's loop here past it. */
static int wait_io(int fd, short ev, uint64_t deadline)
{
	uint64_t now = now_ms();
	struct pollfd p = {.fd = fd, .events = ev};
	return now < deadline && poll(&p, 1, (int)(deadline - now)) == 1 ? 0
									 : -1;
}

/* The request line, up to the first CR or LF. */
static int request(int c, char *buf, size_t n, uint64_t deadline)
{
	size_t got = 0;
	while (got < n - 1 && wait_io(c, POLLIN, deadline) == 0) {
		ssize_t k = read(c, buf + got, n - 1 - got);
		if (k <= 0)
			break;
		got += (size_t)k;
		buf[got] = 0;
		if (strpbrk(buf, "\r\n"))
			return 0;
	}
	return -1;
}

static void send_all(int c, const char *p, size_t len, uint64_t deadline)
{
	while (len && wait_io(c, POLLOUT, deadline) == 0) {
		ssize_t k = write(c, p, len);
		if (k <= 0)
			return;
		p += k;
		len -= (size_t)k;
	}
}

static void respond(int c, const char *status, const char *body,
		    uint64_t deadline)
{
	char head[256];
	int h = snprintf(head, sizeof(head),
			 "HTTP/1.0 %s\r\nContent-Type: text/plain; "
			 "version=0.0.4; charset=utf-8\r\nContent-Length: %zu"
			 "\r\nConnection: close\r\n\r\n", status, strlen(body));
	send_all(c, head, (size_t)h, deadline);
	send_all(c, body, strlen(body), deadline);
}

static void answer(struct vgpud *d, int c)
{
	static char body[1 << 18]; /* 256 VMs x 6 metrics fit */
	char req[1024];
	uint64_t deadline = now_ms() + CONN_MS;
	if (request(c, req, sizeof(req), deadline)) {
		respond(c, "400 Bad Request", "bad request\n", deadline);
		return;
	}
	if (!strncmp(req, "GET /metrics ", 13) || !strncmp(req, "GET / ", 6)) {
		vgpud_stats_prom(d, body, sizeof(body));
		respond(c, "200 OK", body, deadline);
	} else {
		respond(c, "404 Not Found", "try GET /metrics\n", deadline);
	}
}

void vgpud_metrics_serve(struct vgpud *d)
{
	int c;
	while (d->metrics_fd >= 0 &&
	       (c = accept4(d->metrics_fd, NULL, NULL,
			    SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		answer(d, c);
		close(c);
	}
}

void vgpud_metrics_close(struct vgpud *d)
{
	if (d->metrics_fd >= 0)
		close(d->metrics_fd);
	d->metrics_fd = -1;
}
