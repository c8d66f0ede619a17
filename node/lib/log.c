/*
 * log: structured one-line events on stderr. See log.h.
 *
 * The whole line is formatted into a stack buffer and written with one
 * write(2), so lines from the loop thread and pool threads never interleave.
 * Lines longer than the buffer are cut and end with "...".
 */
#include "node/lib/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static enum log_level log_level = LOG_INFO;
static const char *const log_names[] = {"debug", "info", "warn", "error"};

int
log_level_parse(const char *s, enum log_level *level_r)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*level_r = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*level_r = LOG_WARN;
		return 0;
	}
	return -1;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

int
log_enabled(enum log_level level)
{
	return level >= log_level;
}

void
log_vmsg(enum log_level level, const char *subsys, const char *fmt, va_list ap)
{
	if (level < log_level)
		return;
	char line[LOG_LINE_MAX];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s ",
	                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                 tm.tm_sec, (int)(tv.tv_usec / 1000), log_names[level], subsys);
	size_t head = (size_t)n;
	int m = vsnprintf(line + head, sizeof(line) - head - 1, fmt, ap);
	size_t len = head + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2) {
		len = sizeof(line) - 2;
		memcpy(line + len - 3, "...", 3);
	}
	for (size_t i = head; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			line[i] = '?';
	}
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

void
log_msg(enum log_level level, const char *subsys, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, subsys, fmt, ap);
	va_end(ap);
}
