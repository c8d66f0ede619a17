/*
 * util: allocation that cannot fail (an out-of-memory node aborts, the way
 * Postfix's mymalloc does: a half-served request is worse than a restart
 * that raft makes safe), clocks, and small string helpers.
 */
#ifndef MAILNODE_UTIL_H
#define MAILNODE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Report our own broken invariant and abort. Never for bad input. */
void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Milliseconds on the monotonic clock, and since the epoch. */
uint64_t now_mono_ms(void);
uint64_t now_wall_ms(void);
/* Microseconds on the monotonic clock, for latency measurements. */
uint64_t now_mono_us(void);

/* Case-insensitive ASCII comparisons, independent of the locale. */
int ascii_strcasecmp(const char *a, const char *b);
int ascii_strncasecmp(const char *a, const char *b, size_t n);
static inline int
ascii_tolower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}
static inline int
ascii_toupper(int c)
{
	return (c >= 'a' && c <= 'z') ? c - 32 : c;
}
/* Lower-case s in place. */
void ascii_lower(char *s);

/* Parse a decimal unsigned integer of the whole string, no sign, no
 * leading spaces, at most max. Returns 0, or -1. */
int parse_u64(const char *s, uint64_t max, uint64_t *v_r);
/* The same for n bytes (not NUL-terminated). */
int parse_u64n(const char *s, size_t n, uint64_t max, uint64_t *v_r);

/* Write all of buf to fd, retrying on EINTR. Returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t n);
/* Create directory and parents with mode. Returns 0 or -errno. */
int mkdir_p(const char *path, unsigned mode);
/* Files created in the directory from now on are overwritten in place
 * rather than copied on write (BTRFS: databases and logs that rewrite or
 * preallocate; their checksums go too). A no-op on other file systems. */
void dir_nocow(const char *path);
/* fsync a directory by path. Returns 0 or -errno. */
int fsync_dir(const char *path);

#endif
