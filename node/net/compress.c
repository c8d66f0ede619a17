/*
 * compress: raw DEFLATE in both directions over zlib. See compress.h.
 *
 * Happy path: compressed bytes wait in z->in; compress_inflate runs
 * inflate(Z_SYNC_FLUSH) from there into the caller's buffer, never past
 * the room it was given, and consumes what zlib took. Output goes through
 * deflate(Z_NO_FLUSH) as it is written and deflate(Z_SYNC_FLUSH) when the
 * connection flushes at the end of a response burst (RFC 4978 §4), so the
 * peer can decode everything it has received.
 *
 * Failure modes: a corrupt stream (Z_DATA_ERROR), data after a final block
 * (the peer may not end the stream, RFC 4978 §3 compresses "all commands"
 * that follow), or an allocation failure inside zlib: COMPRESS_ERROR, and
 * the connection closes. Nothing here aborts on input.
 *
 * Idle release: deflate's state (window, hash chains: about 260 KiB with
 * windowBits 15 and memLevel 8) is freed after a sync flush and made anew
 * on the next write; the new stream starts at a byte-aligned block
 * boundary, which the peer's inflater reads as more blocks of the stream
 * it knows. Inflate's state (7 KiB plus a 32 KiB window) is freed only at
 * a block boundary with no bits held (after the peer's sync flush: the
 * empty stored block) and all input used, keeping a copy of the window
 * bytes in use (inflateGetDictionary), which a new raw inflater gets back
 * with inflateSetDictionary before its first input.
 */
#include "node/net/compress.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "node/lib/util.h"

#define COMPRESS_WBITS    15 /* RFC 1951 window: 32 KiB */
#define COMPRESS_MEMLEVEL 8
#define COMPRESS_LEVEL    Z_DEFAULT_COMPRESSION
/* One read chunk may arrive while up to COMPRESS_IN_MAX is pending. */
#define COMPRESS_IN_SLACK  (64 * 1024)
#define COMPRESS_OUT_CHUNK 16384

struct compress {
	z_stream inf, def;
	bool inf_on, def_on; /* the zlib states exist */
	bool inf_more;       /* the last inflate filled its output: more may come */
	bool inf_ended;      /* the peer ended its stream */
	bool unflushed;      /* plaintext given since the last flush */
	bool failed;
	unsigned char *dict; /* the inflate window kept while inf is released */
	size_t dictlen;
	struct nbuf in; /* compressed input */
	size_t mem;     /* bytes zlib holds through compress_alloc */
	unsigned long long in_plain, in_z, out_plain, out_z;
};

/* zlib's allocations, counted so that compress_memory is exact. */
static voidpf
compress_alloc(voidpf opaque, uInt items, uInt size)
{
	struct compress *z = opaque;
	if (size != 0 && items > (SIZE_MAX - sizeof(size_t)) / size)
		return Z_NULL;
	size_t n = (size_t)items * size;
	size_t *p = malloc(sizeof(size_t) + n);
	if (p == NULL)
		return Z_NULL;
	*p = n;
	z->mem += n;
	return p + 1;
}

static void
compress_release(voidpf opaque, voidpf address)
{
	struct compress *z = opaque;
	if (address == NULL)
		return;
	size_t *p = (size_t *)address - 1;
	z->mem -= *p;
	free(p);
}

struct compress *
compress_new(void)
{
	struct compress *z = xcalloc(1, sizeof(*z));
	nbuf_init(&z->in, COMPRESS_IN_MAX + COMPRESS_IN_SLACK);
	return z;
}

void
compress_free(struct compress **zp)
{
	struct compress *z = *zp;
	if (z == NULL)
		return;
	if (z->inf_on)
		inflateEnd(&z->inf);
	if (z->def_on)
		deflateEnd(&z->def);
	free(z->dict);
	nbuf_deinit(&z->in);
	free(z);
	*zp = NULL;
}

int
compress_feed(struct compress *z, const void *p, size_t n)
{
	if (nbuf_append(&z->in, p, n) != 0)
		return -1;
	z->in_z += n;
	return 0;
}

size_t
compress_in_room(const struct compress *z)
{
	return nbuf_room(&z->in);
}

size_t
compress_in_pending(const struct compress *z)
{
	return nbuf_avail(&z->in);
}

int
compress_inflate_pending(const struct compress *z)
{
	return !z->failed && (nbuf_avail(&z->in) > 0 || z->inf_more);
}

/* A new inflater, with the window kept while the last one was released. */
static int
compress_inflate_on(struct compress *z)
{
	memset(&z->inf, 0, sizeof(z->inf));
	z->inf.zalloc = compress_alloc;
	z->inf.zfree = compress_release;
	z->inf.opaque = z;
	if (inflateInit2(&z->inf, -COMPRESS_WBITS) != Z_OK)
		return -1;
	z->inf_on = true;
	if (z->dict != NULL) {
		/* raw inflate takes a dictionary at any time (zlib.h) */
		int rc = inflateSetDictionary(&z->inf, z->dict, (uInt)z->dictlen);
		free(z->dict);
		z->dict = NULL;
		z->dictlen = 0;
		if (rc != Z_OK)
			return -1;
	}
	return 0;
}

long
compress_inflate(struct compress *z, struct nbuf *out, size_t max)
{
	if (z->failed)
		return COMPRESS_ERROR;
	if (nbuf_avail(&z->in) == 0 && !z->inf_more)
		return 0;
	if (z->inf_ended) {
		z->failed = true; /* bytes after the final block */
		return COMPRESS_ERROR;
	}
	size_t room = MIN(MIN(max, nbuf_room(out)), (size_t)UINT32_MAX);
	if (room == 0)
		return 0;
	if (!z->inf_on && compress_inflate_on(z) != 0) {
		z->failed = true;
		return COMPRESS_ERROR;
	}
	unsigned char *dst = nbuf_reserve(out, room);
	if (dst == NULL)
		return 0;
	size_t have = MIN(nbuf_avail(&z->in), (size_t)UINT32_MAX);
	z->inf.next_in = nbuf_head(&z->in);
	z->inf.avail_in = (uInt)have;
	z->inf.next_out = dst;
	z->inf.avail_out = (uInt)room;
	int rc = inflate(&z->inf, Z_SYNC_FLUSH);
	size_t used = have - z->inf.avail_in, made = room - z->inf.avail_out;
	nbuf_consume(&z->in, used);
	nbuf_commit(out, made);
	z->in_plain += made;
	z->inf_more = z->inf.avail_out == 0;
	switch (rc) {
	case Z_OK:
	case Z_BUF_ERROR: /* no progress possible: wait for input or room */
		return (long)made;
	case Z_STREAM_END:
		z->inf_ended = true;
		z->inf_more = false;
		if (nbuf_avail(&z->in) > 0) {
			z->failed = true;
			return COMPRESS_ERROR;
		}
		return (long)made;
	default: /* Z_DATA_ERROR, Z_NEED_DICT, Z_MEM_ERROR, Z_STREAM_ERROR */
		z->failed = true;
		return COMPRESS_ERROR;
	}
}

static int
compress_deflate_on(struct compress *z)
{
	memset(&z->def, 0, sizeof(z->def));
	z->def.zalloc = compress_alloc;
	z->def.zfree = compress_release;
	z->def.opaque = z;
	if (deflateInit2(&z->def, COMPRESS_LEVEL, Z_DEFLATED, -COMPRESS_WBITS, COMPRESS_MEMLEVEL,
	                 Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	z->def_on = true;
	return 0;
}

/* Run deflate over what next_in holds with flush; output to emit. */
static int
compress_run(struct compress *z, int flush, compress_emit_fn emit, void *ctx)
{
	unsigned char buf[COMPRESS_OUT_CHUNK];
	do {
		z->def.next_out = buf;
		z->def.avail_out = sizeof(buf);
		int rc = deflate(&z->def, flush);
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			z->failed = true;
			return -1;
		}
		size_t n = sizeof(buf) - z->def.avail_out;
		if (n > 0) {
			z->out_z += n;
			if (emit(ctx, buf, n) != 0)
				return -1;
		}
	} while (z->def.avail_in > 0 || z->def.avail_out == 0);
	return 0;
}

int
compress_deflate(struct compress *z, const void *p, size_t n, compress_emit_fn emit, void *ctx)
{
	if (z->failed)
		return -1;
	if (!z->def_on && compress_deflate_on(z) != 0) {
		z->failed = true;
		return -1;
	}
	const unsigned char *s = p;
	while (n > 0) {
		size_t chunk = MIN(n, (size_t)1 << 30);
		z->def.next_in = (unsigned char *)s;
		z->def.avail_in = (uInt)chunk;
		z->unflushed = true;
		if (compress_run(z, Z_NO_FLUSH, emit, ctx) != 0)
			return -1;
		z->out_plain += chunk;
		s += chunk;
		n -= chunk;
	}
	return 0;
}

int
compress_flush(struct compress *z, compress_emit_fn emit, void *ctx)
{
	if (z->failed)
		return -1;
	if (!z->def_on || !z->unflushed)
		return 0;
	z->def.next_in = NULL;
	z->def.avail_in = 0;
	if (compress_run(z, Z_SYNC_FLUSH, emit, ctx) != 0)
		return -1;
	z->unflushed = false;
	return 0;
}

int
compress_unflushed(const struct compress *z)
{
	return z->unflushed;
}

void
compress_idle(struct compress *z)
{
	if (z->failed)
		return;
	if (z->def_on && !z->unflushed) {
		deflateEnd(&z->def);
		z->def_on = false;
	}
	/* data_type 128 exactly: at a block header (mode TYPE), no bits held,
	 * not in the last block, not inside a stored block or a match */
	if (z->inf_on && nbuf_avail(&z->in) == 0 && !z->inf_more && !z->inf_ended &&
	    z->inf.data_type == 128) {
		uInt len = 0;
		unsigned char *dict = NULL;
		if (inflateGetDictionary(&z->inf, Z_NULL, &len) != Z_OK)
			return;
		if (len > 0) {
			dict = malloc(len);
			if (dict == NULL || inflateGetDictionary(&z->inf, dict, &len) != Z_OK) {
				free(dict);
				return;
			}
		}
		inflateEnd(&z->inf);
		z->inf_on = false;
		z->dict = dict;
		z->dictlen = len;
	}
	if (nbuf_avail(&z->in) == 0)
		nbuf_deinit(&z->in);
}

size_t
compress_memory(const struct compress *z)
{
	return sizeof(*z) + z->mem + z->dictlen + z->in.cap;
}

void
compress_stats(const struct compress *z, unsigned long long *in_plain, unsigned long long *in_z,
               unsigned long long *out_plain, unsigned long long *out_z)
{
	*in_plain = z->in_plain;
	*in_z = z->in_z;
	*out_plain = z->out_plain;
	*out_z = z->out_z;
}
