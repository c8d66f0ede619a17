/*
 * compress: a raw DEFLATE layer (RFC 1951, zlib windowBits -15) for a
 * byte stream in both directions, as IMAP COMPRESS=DEFLATE (RFC 4978)
 * wants; node/net is the only user of zlib. Like tls.h, nothing here does
 * I/O: the connection feeds compressed bytes in (compress_feed), pulls
 * plaintext out (compress_inflate), and pushes plaintext through the
 * compressor (compress_deflate, compress_flush) into an emit callback.
 *
 * Memory is bounded whatever the peer sends: compressed input waits in a
 * buffer of at most COMPRESS_IN_MAX + one read chunk, and inflate produces
 * only as much as the caller has room for; the rest stays pending in the
 * input buffer (a decompression bomb costs its compressed size, not its
 * expanded size). While idle (compress_idle) the deflate state is freed
 * after a sync flush (a new raw deflate stream continues the old one at a
 * byte-aligned block boundary, so the peer sees one valid stream), and the
 * inflate state is exchanged for a copy of the part of its window in use
 * when it stands at a block boundary.
 *
 * Owner: the connection (c->z); compress_free releases everything.
 */
#ifndef MAILNODE_COMPRESS_H
#define MAILNODE_COMPRESS_H

#include <stddef.h>

#include "node/lib/nbuf.h"

struct compress;

/* Compressed input buffered before inflating: reading stops above this. */
#define COMPRESS_IN_MAX (64 * 1024)

struct compress *compress_new(void);
void compress_free(struct compress **z);

/* Compressed bytes from the peer. Returns 0, or -1 when they do not fit
 * (the caller reads no more than compress_in_room allows). */
int compress_feed(struct compress *z, const void *p, size_t n);
/* Room left for compressed input, and compressed bytes not yet inflated. */
size_t compress_in_room(const struct compress *z);
size_t compress_in_pending(const struct compress *z);
/* Whether compress_inflate may produce bytes now (input waits, or the
 * last call stopped for want of room). */
int compress_inflate_pending(const struct compress *z);

/* Inflate into out, at most max bytes (and out's own room). Returns the
 * bytes added (0: nothing more can be made now), or COMPRESS_ERROR on a
 * corrupt stream or a stream the peer ended (further data is garbage):
 * the connection must go. */
#define COMPRESS_ERROR (-1)
long compress_inflate(struct compress *z, struct nbuf *out, size_t max);

/* Compress n bytes; compressed output goes to emit (0 or -1; -1 stops
 * and is returned). Output may be held back until compress_flush. */
typedef int (*compress_emit_fn)(void *ctx, const void *p, size_t n);
int compress_deflate(struct compress *z, const void *p, size_t n, compress_emit_fn emit, void *ctx);
/* Z_SYNC_FLUSH: everything given so far goes to emit, byte-aligned.
 * Nothing to do when nothing was given since the last flush. Returns 0
 * or -1 (emit's error, or out of memory). */
int compress_flush(struct compress *z, compress_emit_fn emit, void *ctx);
/* Whether plaintext was given since the last flush. */
int compress_unflushed(const struct compress *z);

/* Release what can be released while no data moves: the deflate state
 * (after a flush), the inflate state (at a block boundary, keeping the
 * window bytes in use), the empty input buffer. */
void compress_idle(struct compress *z);
/* Bytes this layer holds now (zlib states, window copy, buffers), for
 * tests and the report of an idle connection's cost. */
size_t compress_memory(const struct compress *z);
/* Totals for the logout line: plaintext and compressed bytes each way. */
void compress_stats(const struct compress *z, unsigned long long *in_plain,
                    unsigned long long *in_z, unsigned long long *out_plain,
                    unsigned long long *out_z);

#endif
