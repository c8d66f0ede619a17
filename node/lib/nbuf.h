/*
 * nbuf: the one bounded, binary-safe byte buffer of every connection.
 *
 * Bytes live in data[pos..len). Appending past max unconsumed bytes fails
 * (it never grows silently); consuming advances pos; storage is compacted
 * lazily and released when empty, so an idle connection holds no buffer.
 * Owner: whoever embeds the struct; nbuf_deinit() frees the storage.
 */
#ifndef MAILNODE_NBUF_H
#define MAILNODE_NBUF_H

#include <stdarg.h>
#include <stddef.h>

struct nbuf {
	unsigned char *data;
	size_t pos; /* first unconsumed byte */
	size_t len; /* end of stored bytes */
	size_t cap; /* allocated size of data */
	size_t max; /* most unconsumed bytes allowed */
};

/* Initialise an empty buffer that will hold at most max bytes. */
void nbuf_init(struct nbuf *b, size_t max);
/* Free the storage; the buffer is empty (and still usable) afterwards. */
void nbuf_deinit(struct nbuf *b);

static inline size_t
nbuf_avail(const struct nbuf *b)
{
	return b->len - b->pos;
}

extern unsigned char nbuf_empty[1];

/* The first unconsumed byte (a valid, empty location when nothing is
 * stored, so that pointer arithmetic on it is always defined). */
static inline unsigned char *
nbuf_head(const struct nbuf *b)
{
	return b->data ? b->data + b->pos : nbuf_empty;
}

/* Room left before max is reached. */
static inline size_t
nbuf_room(const struct nbuf *b)
{
	return b->max - nbuf_avail(b);
}

/* Append n bytes. Returns 0, or -ENOBUFS when max would be exceeded
 * (nothing is appended then), -ENOMEM on allocation failure. */
int nbuf_append(struct nbuf *b, const void *p, size_t n);
/* Append a string (without its NUL). */
int nbuf_puts(struct nbuf *b, const char *s);
/* Append formatted text; same errors as nbuf_append. */
int nbuf_printf(struct nbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int nbuf_vprintf(struct nbuf *b, const char *fmt, va_list ap);

/* Make room for n more bytes and return where to write them, or NULL
 * (limit or memory); then nbuf_commit() what was written. */
unsigned char *nbuf_reserve(struct nbuf *b, size_t n);
void nbuf_commit(struct nbuf *b, size_t n);

/* Drop n consumed bytes from the front. n <= nbuf_avail(). */
void nbuf_consume(struct nbuf *b, size_t n);
/* Drop everything. Storage is kept until nbuf_shrink(). */
void nbuf_reset(struct nbuf *b);
/* Release storage when empty, or trim it to what is held. */
void nbuf_shrink(struct nbuf *b);
/* Take the storage out of the buffer (the caller frees it with free());
 * the buffer becomes empty. *len_r is the number of bytes from the start. */
unsigned char *nbuf_steal(struct nbuf *b, size_t *len_r);

/* Find the first "\n" in the unconsumed bytes; returns its offset from the
 * head, or -1. */
long nbuf_find_lf(const struct nbuf *b);

#endif
