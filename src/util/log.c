/* SPDX-License-Identifier: MIT */
/* Logging to stderr or syslog, with a level filter. */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <syslog.h>

enum log_level log_max_level = LOG_LVL_WARN;
static bool use_syslog;

void log_set_level(enum log_level l)
{
	log_max_level = l;
}

int log_level_parse(const char *s, enum log_level *ret)
{
	static const struct {
		const char *name;
		enum log_level l;
	} t[] = { { "error", LOG_LVL_ERROR }, { "warn", LOG_LVL_WARN },   { "warning", LOG_LVL_WARN },
		  { "info", LOG_LVL_INFO },   { "debug", LOG_LVL_DEBUG }, { "trace", LOG_LVL_DEBUG } };
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (strcmp(s, t[i].name) == 0) {
			*ret = t[i].l;
			return 0;
		}
	return -EINVAL;
}

void log_use_syslog(const char *ident)
{
	/* connect now: a sandboxed server can neither reach /dev/log nor make a socket later */
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	use_syslog = true;
}

void log_emit(enum log_level l, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(prio[l], fmt, ap);
	} else {
		char buf[1024];
		vsnprintf(buf, sizeof(buf), fmt, ap);
		fprintf(stderr, "boxshare: %s: %s\n", names[l], buf);
	}
	va_end(ap);
	errno = saved;
}
