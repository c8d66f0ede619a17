/*
 * arena: per-command memory. Allocations are bump-pointer from chunks;
 * arena_reset frees everything at once (after each command), keeping the
 * first chunk only if it is small, so an idle session holds nothing.
 * Owner: whoever embeds it; arena_deinit frees every chunk.
 */
#ifndef MAILNODE_ARENA_H
#define MAILNODE_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *chunks;
	size_t used;  /* bytes handed out since the last reset */
	size_t limit; /* most bytes it may hand out (0: no limit) */
};

void arena_init(struct arena *a, size_t limit);
void arena_deinit(struct arena *a);
/* Free everything allocated since init or the last reset. */
void arena_reset(struct arena *a);
/* n bytes aligned for any type, or NULL when the limit would be passed
 * (a bad-input condition the caller reports; never aborts). */
void *arena_alloc(struct arena *a, size_t n);
void *arena_zalloc(struct arena *a, size_t n);
/* Copy n bytes and add a NUL. NULL at the limit. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
