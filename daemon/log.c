/* daemon/log.c - leveled log lines on stderr. */
#include "log.h"
#include <stdarg.h>
#include <stdio.h>

static enum vgpud_log max_level = VGPUD_LOG_INFO;

void vlog_set_level(enum vgpud_log level)
{
	max_level = level;
}

void vlog(enum vgpud_log level, const char *fmt, ...)
{
	static const char *tag[] = {"error", "warn", "info", "debug"};
	if (level > max_level)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one fprintf per line: lines from threads never interleave */
	fprintf(stderr, "vgpud: %s: %s\n", tag[level], line);
}
