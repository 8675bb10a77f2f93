/* daemon/log.h - vgpud's log: one line per event on stderr (the journal
 * under systemd), with a level filter set from the configuration. */
#ifndef VGPU_DAEMON_LOG_H
#define VGPU_DAEMON_LOG_H

#include "config.h"

void vlog_set_level(enum vgpud_log level);
void vlog(enum vgpud_log level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define VLOG_ERR(...) vlog(VGPUD_LOG_ERROR, __VA_ARGS__)
#define VLOG_WARN(...) vlog(VGPUD_LOG_WARN, __VA_ARGS__)
#define VLOG_INFO(...) vlog(VGPUD_LOG_INFO, __VA_ARGS__)
#define VLOG_DEBUG(...) vlog(VGPUD_LOG_DEBUG, __VA_ARGS__)

#endif
