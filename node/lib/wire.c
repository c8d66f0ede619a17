/*
 * wire: bounded binary encoding. See wire.h.
 */
#include "node/lib/wire.h"

static const uint8_t *
wire_take(struct wire_reader *r, size_t n)
{
	if (r->err || (size_t)(r->end - r->p) < n) {
		r->err = 1;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	return p;
}

uint8_t
wire_get_u8(struct wire_reader *r)
{
	const uint8_t *p = wire_take(r, 1);
	return p ? p[0] : 0;
}

uint16_t
wire_get_u16(struct wire_reader *r)
{
	const uint8_t *p = wire_take(r, 2);
	return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

uint32_t
wire_get_u32(struct wire_reader *r)
{
	const uint8_t *p = wire_take(r, 4);
	return p ? wire_rd32(p) : 0;
}

uint64_t
wire_get_u64(struct wire_reader *r)
{
	const uint8_t *p = wire_take(r, 8);
	return p ? wire_rd64(p) : 0;
}

const uint8_t *
wire_get_raw(struct wire_reader *r, size_t n)
{
	return wire_take(r, n);
}

const uint8_t *
wire_get_bytes(struct wire_reader *r, size_t max, uint32_t *len_r)
{
	uint32_t n = wire_get_u32(r);
	if (!r->err && n > max)
		r->err = 1;
	const uint8_t *p = wire_take(r, n);
	*len_r = p ? n : 0;
	return p;
}

const char *
wire_get_str(struct wire_reader *r, size_t max, uint16_t *len_r)
{
	uint16_t n = wire_get_u16(r);
	if (!r->err && n > max)
		r->err = 1;
	const uint8_t *p = wire_take(r, n);
	if (p && memchr(p, 0, n) != NULL) {
		r->err = 1;
		p = NULL;
	}
	*len_r = p ? n : 0;
	return (const char *)p;
}

int
wire_done(struct wire_reader *r)
{
	if (!r->err && r->p != r->end)
		r->err = 1;
	return r->err ? -1 : 0;
}

void
wire_put_raw(struct wire_writer *w, const void *p, size_t n)
{
	if (!w->err && nbuf_append(w->out, p, n) != 0)
		w->err = 1;
}

void
wire_put_u8(struct wire_writer *w, uint8_t v)
{
	wire_put_raw(w, &v, 1);
}

void
wire_put_u16(struct wire_writer *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	wire_put_raw(w, b, 2);
}

void
wire_put_u32(struct wire_writer *w, uint32_t v)
{
	uint8_t b[4];
	wire_be32(b, v);
	wire_put_raw(w, b, 4);
}

void
wire_put_u64(struct wire_writer *w, uint64_t v)
{
	uint8_t b[8];
	wire_be64(b, v);
	wire_put_raw(w, b, 8);
}

void
wire_put_bytes(struct wire_writer *w, const void *p, uint32_t n)
{
	wire_put_u32(w, n);
	wire_put_raw(w, p, n);
}

void
wire_put_str(struct wire_writer *w, const char *s, size_t n)
{
	if (n > UINT16_MAX) {
		w->err = 1;
		return;
	}
	wire_put_u16(w, (uint16_t)n);
	wire_put_raw(w, s, n);
}
