/*
 * nbuf: bounded byte buffers. See nbuf.h.
 *
 * Growth doubles from 256 bytes up to the limit; consumed bytes are moved
 * out only when appending would otherwise need to grow (lazy compaction).
 */
#include "node/lib/nbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUF_MIN_CAP 256

unsigned char nbuf_empty[1];

void
nbuf_init(struct nbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
nbuf_deinit(struct nbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->pos = b->len = b->cap = 0;
}

static int
nbuf_make_room(struct nbuf *b, size_t n)
{
	size_t avail = nbuf_avail(b);
	if (n > b->max - avail)
		return -ENOBUFS;
	if (b->len + n <= b->cap)
		return 0;
	if (b->pos > 0 && avail + n <= b->cap) {
		memmove(b->data, b->data + b->pos, avail);
		b->len = avail;
		b->pos = 0;
		return 0;
	}
	size_t want = avail + n, cap = b->cap ? b->cap : NBUF_MIN_CAP;
	while (cap < want)
		cap *= 2;
	if (cap > b->max && want <= b->max)
		cap = b->max < NBUF_MIN_CAP ? NBUF_MIN_CAP : b->max;
	unsigned char *d = malloc(cap);
	if (d == NULL)
		return -ENOMEM;
	if (avail > 0)
		memcpy(d, b->data + b->pos, avail);
	free(b->data);
	b->data = d;
	b->cap = cap;
	b->len = avail;
	b->pos = 0;
	return 0;
}

int
nbuf_append(struct nbuf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	int rc = nbuf_make_room(b, n);
	if (rc != 0)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
nbuf_puts(struct nbuf *b, const char *s)
{
	return nbuf_append(b, s, strlen(s));
}

int
nbuf_vprintf(struct nbuf *b, const char *fmt, va_list ap)
{
	char small[256];
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof(small))
		return nbuf_append(b, small, (size_t)n);
	unsigned char *dst = nbuf_reserve(b, (size_t)n + 1);
	if (dst == NULL)
		return nbuf_room(b) < (size_t)n + 1 ? -ENOBUFS : -ENOMEM;
	vsnprintf((char *)dst, (size_t)n + 1, fmt, ap);
	nbuf_commit(b, (size_t)n);
	return 0;
}

int
nbuf_printf(struct nbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = nbuf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

unsigned char *
nbuf_reserve(struct nbuf *b, size_t n)
{
	if (nbuf_make_room(b, n) != 0)
		return NULL;
	return b->data ? b->data + b->len : nbuf_empty;
}

void
nbuf_commit(struct nbuf *b, size_t n)
{
	b->len += n;
}

void
nbuf_consume(struct nbuf *b, size_t n)
{
	b->pos += n;
	if (b->pos >= b->len)
		b->pos = b->len = 0;
}

void
nbuf_reset(struct nbuf *b)
{
	b->pos = b->len = 0;
}

void
nbuf_shrink(struct nbuf *b)
{
	size_t avail = nbuf_avail(b);
	if (avail == 0) {
		nbuf_deinit(b);
		return;
	}
	if (b->cap <= NBUF_MIN_CAP || avail > b->cap / 4)
		return;
	unsigned char *d = malloc(avail);
	if (d == NULL)
		return;
	memcpy(d, b->data + b->pos, avail);
	free(b->data);
	b->data = d;
	b->cap = b->len = avail;
	b->pos = 0;
}

unsigned char *
nbuf_steal(struct nbuf *b, size_t *len_r)
{
	unsigned char *d = b->data;
	if (b->pos > 0 && b->len > b->pos)
		memmove(d, d + b->pos, b->len - b->pos);
	*len_r = b->len - b->pos;
	b->data = NULL;
	b->pos = b->len = b->cap = 0;
	return d;
}

long
nbuf_find_lf(const struct nbuf *b)
{
	if (nbuf_avail(b) == 0)
		return -1;
	const unsigned char *p = memchr(nbuf_head(b), '\n', nbuf_avail(b));
	return p ? (long)(p - nbuf_head(b)) : -1;
}
