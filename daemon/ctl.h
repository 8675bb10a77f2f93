/* daemon/ctl.h - vgpud's control socket (a UNIX stream socket).
 *
 * Contract: one request line per connection ("status", "stats",
 * "metrics", "reload"), one text answer, then the daemon closes; an answer
 * that begins "error:" is a failure. vgpuctl is the client. The socket is
 * created mode 0660 so root and the socket's group may query. */
#ifndef VGPU_DAEMON_CTL_H
#define VGPU_DAEMON_CTL_H

#include <stddef.h>

struct vgpud;

int vgpud_ctl_listen(const char *path, char *err, size_t errlen);
/* Answer every pending connection (never blocks the main loop long). */
void vgpud_ctl_serve(struct vgpud *d);
void vgpud_ctl_close(struct vgpud *d);

#endif
