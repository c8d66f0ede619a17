/*
 * arena: bump allocation in chunks. See arena.h.
 */
#include "node/lib/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"

#define ARENA_CHUNK_MIN 4096
#define ARENA_ALIGN     16

struct arena_chunk {
	struct arena_chunk *next;
	size_t size; /* usable bytes after the header */
	size_t pos;
	max_align_t data[];
};

void
arena_init(struct arena *a, size_t limit)
{
	a->chunks = NULL;
	a->used = 0;
	a->limit = limit;
}

void
arena_deinit(struct arena *a)
{
	while (a->chunks) {
		struct arena_chunk *c = a->chunks;
		a->chunks = c->next;
		free(c);
	}
	a->used = 0;
}

void
arena_reset(struct arena *a)
{
	arena_deinit(a);
}

void *
arena_alloc(struct arena *a, size_t n)
{
	size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (need < n || (a->limit && (need > a->limit || a->used > a->limit - need)))
		return NULL;
	struct arena_chunk *c = a->chunks;
	if (c == NULL || c->size - c->pos < need) {
		size_t size = MAX((size_t)ARENA_CHUNK_MIN, need);
		if (c != NULL && c->size * 2 > size && c->size * 2 <= 1024 * 1024)
			size = c->size * 2;
		c = xmalloc(sizeof(*c) + size);
		c->size = size;
		c->pos = 0;
		c->next = a->chunks;
		a->chunks = c;
	}
	void *p = (char *)c->data + c->pos;
	c->pos += need;
	a->used += need;
	return p;
}

void *
arena_zalloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);
	if (p)
		memset(p, 0, n);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *p = arena_alloc(a, (size_t)n + 1);
	if (p == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
