/*
 * log: one line per event on stderr:
 *
 *   2026-11-28T10:00:00.123Z info imap event=login user=a@b.test peer=127.0.0.1:4711
 *
 * The level, then the subsystem, then key=value fields written by the
 * caller. Control characters in the formatted line (an attacker's CR/LF in
 * a user name, say) are replaced, so one event is always one line.
 */
#ifndef MAILNODE_LOG_H
#define MAILNODE_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Parse "debug", "info", "warn" or "error". Returns 0, or -1 if unknown. */
int log_level_parse(const char *s, enum log_level *level_r);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *subsys, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level level, const char *subsys, const char *fmt, va_list ap);

#define log_debug(sub, ...)                                                                        \
	do {                                                                                       \
		if (log_enabled(LOG_DEBUG))                                                        \
			log_msg(LOG_DEBUG, sub, __VA_ARGS__);                                      \
	} while (0)
#define log_info(sub, ...)  log_msg(LOG_INFO, sub, __VA_ARGS__)
#define log_warn(sub, ...)  log_msg(LOG_WARN, sub, __VA_ARGS__)
#define log_error(sub, ...) log_msg(LOG_ERROR, sub, __VA_ARGS__)

#endif
