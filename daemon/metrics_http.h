/* daemon/metrics_http.h - Prometheus metrics over HTTP (metrics_listen).
 *
 * Contract: when vgpud.conf sets metrics_listen, vgpud listens there (TCP,
 * IPv4) and answers GET /metrics (and GET /) with the text `vgpuctl
 * metrics` prints, Prometheus exposition format 0.0.4; anything else gets
 * 404, a malformed request 400. HTTP/1.0 style: one request per
 * connection, then close. The supervisor's loop serves pending
 * connections each tick; each connection gets 200 ms in all to send its
 * request and take the answer, so no client can stall the loop longer.
 */
#ifndef VGPU_DAEMON_METRICS_HTTP_H
#define VGPU_DAEMON_METRICS_HTTP_H

#include <stddef.h>

struct vgpud;

/* Listen as d->cfg says (or do nothing when off): 0, or -1 with err. */
int vgpud_metrics_listen(struct vgpud *d, char *err, size_t n);
void vgpud_metrics_serve(struct vgpud *d);
void vgpud_metrics_close(struct vgpud *d);

#endif
