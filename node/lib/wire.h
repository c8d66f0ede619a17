/*
 * wire: bounded big-endian binary encoding, for commands, store records and
 * the cluster protocol.
 *
 * A wire_reader never reads past its end: every get checks the remaining
 * length, and the first failure sticks (r->err), so a decoder can read a
 * whole record and check once at the end. A wire_writer appends to an nbuf;
 * its first failure also sticks.
 */
#ifndef MAILNODE_WIRE_H
#define MAILNODE_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "node/lib/nbuf.h"

struct wire_reader {
	const uint8_t *p;
	const uint8_t *end;
	int err;
};

static inline void
wire_reader_init(struct wire_reader *r, const void *p, size_t n)
{
	r->p = p;
	r->end = (const uint8_t *)p + n;
	r->err = 0;
}

static inline size_t
wire_left(const struct wire_reader *r)
{
	return r->err ? 0 : (size_t)(r->end - r->p);
}

/* Each get returns the value (0 on failure) and sets r->err. */
uint8_t wire_get_u8(struct wire_reader *r);
uint16_t wire_get_u16(struct wire_reader *r);
uint32_t wire_get_u32(struct wire_reader *r);
uint64_t wire_get_u64(struct wire_reader *r);
/* n raw bytes; returns a pointer into the buffer or NULL. */
const uint8_t *wire_get_raw(struct wire_reader *r, size_t n);
/* A u32-length-prefixed byte string of at most max bytes. */
const uint8_t *wire_get_bytes(struct wire_reader *r, size_t max, uint32_t *len_r);
/* A u16-length-prefixed string of at most max bytes with no NUL byte. */
const char *wire_get_str(struct wire_reader *r, size_t max, uint16_t *len_r);
/* Fail unless every byte was consumed. Returns 0 or -1. */
int wire_done(struct wire_reader *r);

struct wire_writer {
	struct nbuf *out;
	int err;
};

static inline void
wire_writer_init(struct wire_writer *w, struct nbuf *out)
{
	w->out = out;
	w->err = 0;
}

void wire_put_u8(struct wire_writer *w, uint8_t v);
void wire_put_u16(struct wire_writer *w, uint16_t v);
void wire_put_u32(struct wire_writer *w, uint32_t v);
void wire_put_u64(struct wire_writer *w, uint64_t v);
void wire_put_raw(struct wire_writer *w, const void *p, size_t n);
void wire_put_bytes(struct wire_writer *w, const void *p, uint32_t n);
void wire_put_str(struct wire_writer *w, const char *s, size_t n);

/* Big-endian helpers for keys. */
static inline void
wire_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void
wire_be64(uint8_t *p, uint64_t v)
{
	wire_be32(p, (uint32_t)(v >> 32));
	wire_be32(p + 4, (uint32_t)v);
}
static inline uint32_t
wire_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t
wire_rd64(const uint8_t *p)
{
	return (uint64_t)wire_rd32(p) << 32 | wire_rd32(p + 4);
}

#endif
