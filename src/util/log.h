/* SPDX-License-Identifier: MIT */
/* Logging. Library code logs at debug level at most; only cli/ and the daemon's main speak to users. */
#pragma once

#include "macros.h"

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

extern enum log_level log_max_level;

void log_set_level(enum log_level l);
/* Parse "error|warn|info|debug" (virtiofsd's "warning" too); -EINVAL if unknown. */
int log_level_parse(const char *s, enum log_level *ret);
/* Send logs to syslog instead of stderr (for a daemon without a terminal). */
void log_use_syslog(const char *ident);
void log_emit(enum log_level l, const char *fmt, ...) _printf_(2, 3);

#define log_at(l, ...)                                                                                           \
	do {                                                                                                     \
		if (_unlikely_((l) <= log_max_level))                                                            \
			log_emit((l), __VA_ARGS__);                                                              \
	} while (0)
#define log_debug(...) log_at(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_at(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_LVL_ERROR, __VA_ARGS__)
