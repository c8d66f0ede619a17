/*
 * Fuzz: the inflate side of the DEFLATE layer (node/net/compress.h) that
 * IMAP COMPRESS=DEFLATE feeds with untrusted bytes. The first two bytes
 * pick the input chunk size and the output room; the rest is the peer's
 * stream. Invariants:
 *  - no call ever produces more than the room it was given, and the
 *    layer's memory stays bounded (state, window, the bounded input);
 *  - after COMPRESS_ERROR every later call fails too;
 *  - whatever was inflated, deflated again by the layer and inflated by a
 *    second instance, comes back byte for byte (also across an idle
 *    release of both sides).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/nbuf.h"
#include "node/net/compress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_OUT_MAX (4u << 20)
#define FUZZ_MEM_MAX (512u * 1024)

static int
emit(void *ctx, const void *p, size_t n)
{
	return nbuf_append(ctx, p, n) == 0 ? 0 : -1;
}

static void
round_trip(const unsigned char *plain, size_t len)
{
	struct compress *a = compress_new(), *b = compress_new();
	struct nbuf wire, back;
	nbuf_init(&wire, FUZZ_OUT_MAX + 65536);
	nbuf_init(&back, FUZZ_OUT_MAX);
	size_t half = len / 2;
	if (compress_deflate(a, plain, half, emit, &wire) != 0 ||
	    compress_flush(a, emit, &wire) != 0)
		abort();
	compress_idle(a);
	if (compress_deflate(a, plain + half, len - half, emit, &wire) != 0 ||
	    compress_flush(a, emit, &wire) != 0)
		abort();
	const unsigned char *w = nbuf_head(&wire);
	size_t wl = nbuf_avail(&wire), i = 0;
	while (i < wl || compress_inflate_pending(b)) {
		size_t n = wl - i < 4096 ? wl - i : 4096;
		if (n > compress_in_room(b))
			n = compress_in_room(b);
		if (n > 0 && compress_feed(b, w + i, n) != 0)
			abort();
		i += n;
		long got;
		while ((got = compress_inflate(b, &back, 8192)) > 0)
			;
		if (got < 0)
			abort();
		compress_idle(b);
	}
	if (nbuf_avail(&back) != len || (len && memcmp(nbuf_head(&back), plain, len) != 0))
		abort();
	nbuf_deinit(&wire);
	nbuf_deinit(&back);
	compress_free(&a);
	compress_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t chunk = 1 + data[0] * 37u, room = 1 + data[1] * 129u;
	data += 2;
	size -= 2;
	struct compress *z = compress_new();
	struct nbuf out, part;
	nbuf_init(&out, FUZZ_OUT_MAX);
	nbuf_init(&part, room);
	size_t i = 0;
	int failed = 0;
	while (!failed && nbuf_avail(&out) < FUZZ_OUT_MAX - room) {
		if (i < size) {
			size_t n = size - i < chunk ? size - i : chunk;
			if (n > compress_in_room(z))
				n = compress_in_room(z);
			if (compress_feed(z, data + i, n) != 0)
				abort();
			i += n;
		}
		long got = compress_inflate(z, &part, room);
		if (got == COMPRESS_ERROR) {
			failed = 1;
			if (compress_inflate(z, &part, room) != COMPRESS_ERROR)
				abort();
			break;
		}
		if ((size_t)got > room || nbuf_avail(&part) > room)
			abort();
		if (compress_memory(z) > FUZZ_MEM_MAX)
			abort();
		nbuf_append(&out, nbuf_head(&part), nbuf_avail(&part));
		nbuf_reset(&part);
		if (got == 0 && i == size)
			break;
		if (got == 0 && (i & 3) == 0)
			compress_idle(z);
	}
	if (nbuf_avail(&out) > 0)
		round_trip(nbuf_head(&out), nbuf_avail(&out) < 65536 ? nbuf_avail(&out) : 65536);
	nbuf_deinit(&out);
	nbuf_deinit(&part);
	compress_free(&z);
	return 0;
}
