/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>
#include <syslog.h>

#include "macros.h"

/* Logging for the boundary (cli/, container/). Library modules don't log except at debug level.
 * Messages go to stderr; when stderr is a journal stream the level prefix is understood by journald.
 * log_*_errno() return -abs(error) so callers can "return log_error_errno(r, ...);". %m in the
 * format prints strerror(error). */

void log_set_max_level(int level);
int log_get_max_level(void);
void log_parse_environment(void);        /* CBOX_LOG_LEVEL=debug|info|notice|warning|err */
void log_set_prefix(const char *prefix); /* e.g. "cbox" → "cbox: message"; NULL for none */

int log_internal(int level, int error, const char *file, int line, const char *func, const char *fmt, ...)
        _printf_(6, 7);

#define log_full_errno(level, error, ...)                                                                   \
        __extension__({                                                                                     \
                int _l = (level), _e = (error);                                                             \
                _l <= log_get_max_level() ? log_internal(_l, _e, __FILE__, __LINE__, __func__, __VA_ARGS__) \
                                          : -abs(_e);                                                       \
        })
#define log_full(level, ...) (void) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_notice_errno(e, ...) log_full_errno(LOG_NOTICE, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
