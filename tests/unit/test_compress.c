/*
 * Unit tests: the raw DEFLATE layer (node/net/compress.h) for IMAP
 * COMPRESS=DEFLATE (RFC 4978): streams from zlib itself and from the
 * layer's own deflater inflated in every chunking (whole, one byte at a
 * time, every split in two) and with every output room; a decompression
 * bomb in bounded memory; corrupt input and data after a final block;
 * the idle release of both states keeping one valid stream each way; the
 * input bound at limit - 1, limit, limit + 1.
 */
#include "tests/unit/testutil.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "node/lib/nbuf.h"
#include "node/net/compress.h"

/* Raw deflate of text by zlib, with a sync flush every `every` bytes (0:
 * one flush at the end). */
static unsigned char *
zlib_deflate(const void *text, size_t len, size_t every, size_t *out_len)
{
	z_stream s;
	memset(&s, 0, sizeof(s));
	assert_int_equal(deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	size_t cap = len + len / 2 + 1024, o = 0, i = 0;
	unsigned char *out = malloc(cap);
	do {
		size_t n = every ? (len - i < every ? len - i : every) : len - i;
		s.next_in = (unsigned char *)text + i;
		s.avail_in = (uInt)n;
		i += n;
		do {
			s.next_out = out + o;
			s.avail_out = (uInt)(cap - o);
			assert_true(deflate(&s, Z_SYNC_FLUSH) != Z_STREAM_ERROR);
			o = cap - s.avail_out;
		} while (s.avail_out == 0);
	} while (i < len);
	deflateEnd(&s);
	*out_len = o;
	return out;
}

/* Raw inflate of a whole stream by zlib. */
static unsigned char *
zlib_inflate(const void *in, size_t len, size_t cap, size_t *out_len)
{
	z_stream s;
	memset(&s, 0, sizeof(s));
	assert_int_equal(inflateInit2(&s, -15), Z_OK);
	unsigned char *out = malloc(cap);
	s.next_in = (unsigned char *)in;
	s.avail_in = (uInt)len;
	s.next_out = out;
	s.avail_out = (uInt)cap;
	int rc = inflate(&s, Z_SYNC_FLUSH);
	assert_true(rc == Z_OK || rc == Z_BUF_ERROR);
	assert_int_equal(s.avail_in, 0);
	*out_len = cap - s.avail_out;
	inflateEnd(&s);
	return out;
}

static char *
sample_text(size_t len, unsigned seed)
{
	char *t = malloc(len + 1);
	static const char *const words[] = {"a1 FETCH ", "1:* ", "(FLAGS) ", "BODY.PEEK[] ",
	                                    "\r\n",      "UID ", "INBOX ",   "Subject: x "};
	size_t o = 0;
	while (o < len) {
		seed = seed * 1103515245u + 12345u;
		const char *w = words[(seed >> 16) % 8];
		size_t n = strlen(w);
		if (n > len - o)
			n = len - o;
		memcpy(t + o, w, n);
		o += n;
	}
	t[len] = '\0';
	return t;
}

/* Feed `in` in pieces of `chunk` bytes and inflate with rooms of `room`
 * bytes; return the plaintext in a fresh nbuf. */
static void
inflate_chunked(const unsigned char *in, size_t len, size_t chunk, size_t room, struct nbuf *out)
{
	struct compress *z = compress_new();
	struct nbuf part;
	size_t i = 0;
	nbuf_init(&part, room);
	for (;;) {
		if (i < len && compress_in_room(z) > 0) {
			size_t n = len - i < chunk ? len - i : chunk;
			assert_int_equal(compress_feed(z, in + i, n), 0);
			i += n;
		}
		long got;
		while ((got = compress_inflate(z, &part, room)) > 0) {
			assert_true((size_t)got <= room);
			assert_int_equal(nbuf_append(out, nbuf_head(&part), nbuf_avail(&part)), 0);
			nbuf_reset(&part);
		}
		assert_int_equal(got, 0);
		if (i == len && !compress_inflate_pending(z))
			break;
	}
	nbuf_deinit(&part);
	compress_free(&z);
	assert_null(z);
}

static void
test_zlib_stream_every_chunking(void **state)
{
	char *text = sample_text(3000, 7);
	size_t zlen;
	unsigned char *zs = zlib_deflate(text, 3000, 500, &zlen);
	static const size_t chunks[] = {1, 2, 3, 7, 64, 1000, 100000};
	static const size_t rooms[] = {1, 2, 5, 4096, 65536};
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		for (size_t r = 0; r < sizeof(rooms) / sizeof(rooms[0]); r++) {
			struct nbuf out;
			nbuf_init(&out, 1 << 20);
			inflate_chunked(zs, zlen, chunks[c], rooms[r], &out);
			assert_int_equal(nbuf_avail(&out), 3000);
			assert_memory_equal(nbuf_head(&out), text, 3000);
			nbuf_deinit(&out);
		}
	}
	/* every split in two */
	for (size_t split = 0; split <= zlen; split++) {
		struct compress *z = compress_new();
		struct nbuf out;
		nbuf_init(&out, 1 << 20);
		assert_int_equal(compress_feed(z, zs, split), 0);
		while (compress_inflate(z, &out, 4096) > 0)
			;
		assert_int_equal(compress_feed(z, zs + split, zlen - split), 0);
		while (compress_inflate(z, &out, 4096) > 0)
			;
		assert_int_equal(nbuf_avail(&out), 3000);
		assert_memory_equal(nbuf_head(&out), text, 3000);
		nbuf_deinit(&out);
		compress_free(&z);
	}
	free(zs);
	free(text);
}

struct sink {
	struct nbuf b;
};

static int
sink_emit(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;
	return nbuf_append(&s->b, p, n) == 0 ? 0 : -1;
}

static void
test_own_deflate_round_trip(void **state)
{
	char *text = sample_text(200000, 3);
	struct compress *z = compress_new();
	struct sink s;
	nbuf_init(&s.b, 1 << 22);
	/* written in odd pieces, flushed now and then */
	size_t i = 0, k = 0;
	while (i < 200000) {
		size_t n = 1 + (k * 37) % 5000;
		if (n > 200000 - i)
			n = 200000 - i;
		assert_int_equal(compress_deflate(z, text + i, n, sink_emit, &s), 0);
		assert_true(compress_unflushed(z));
		if (++k % 7 == 0)
			assert_int_equal(compress_flush(z, sink_emit, &s), 0);
		i += n;
	}
	assert_int_equal(compress_flush(z, sink_emit, &s), 0);
	assert_false(compress_unflushed(z));
	/* a flush with nothing new adds nothing */
	size_t before = nbuf_avail(&s.b);
	assert_int_equal(compress_flush(z, sink_emit, &s), 0);
	assert_int_equal(nbuf_avail(&s.b), before);
	assert_true(nbuf_avail(&s.b) < 200000 / 4);
	size_t plen;
	unsigned char *plain = zlib_inflate(nbuf_head(&s.b), nbuf_avail(&s.b), 300000, &plen);
	assert_int_equal(plen, 200000);
	assert_memory_equal(plain, text, 200000);
	/* and through the layer's own inflater, byte by byte */
	struct nbuf out;
	nbuf_init(&out, 1 << 20);
	inflate_chunked(nbuf_head(&s.b), nbuf_avail(&s.b), 1, 333, &out);
	assert_int_equal(nbuf_avail(&out), 200000);
	assert_memory_equal(nbuf_head(&out), text, 200000);
	nbuf_deinit(&out);
	free(plain);
	nbuf_deinit(&s.b);
	compress_free(&z);
	free(text);
}

static void
test_bomb_bounded(void **state)
{
	/* 64 MiB of zeros is about 64 KiB compressed */
	size_t len = 64u << 20;
	char *zeros = calloc(1, len);
	size_t zlen;
	unsigned char *zs = zlib_deflate(zeros, len, 0, &zlen);
	free(zeros);
	assert_true(zlen < COMPRESS_IN_MAX);
	struct compress *z = compress_new();
	assert_int_equal(compress_feed(z, zs, zlen), 0);
	struct nbuf out;
	nbuf_init(&out, 32 * 1024);
	size_t total = 0, peak = 0;
	long got;
	while ((got = compress_inflate(z, &out, 32 * 1024)) > 0) {
		assert_true(nbuf_avail(&out) <= 32 * 1024);
		size_t m = compress_memory(z);
		peak = m > peak ? m : peak;
		total += (size_t)got;
		nbuf_reset(&out); /* the reader consumed it */
	}
	assert_int_equal(got, 0);
	assert_int_equal(total, len);
	/* zlib's inflate state and window, and the compressed input */
	assert_true(peak < 256 * 1024);
	nbuf_deinit(&out);
	compress_free(&z);
	free(zs);
}

static void
test_corrupt_and_ended(void **state)
{
	struct nbuf out;
	nbuf_init(&out, 4096);
	struct compress *z = compress_new();
	/* block type 3 is reserved */
	static const unsigned char bad[] = {0x07, 'a', 'b', 'c'};
	assert_int_equal(compress_feed(z, bad, sizeof(bad)), 0);
	assert_int_equal(compress_inflate(z, &out, 4096), COMPRESS_ERROR);
	assert_int_equal(compress_inflate(z, &out, 4096), COMPRESS_ERROR);
	assert_false(compress_inflate_pending(z));
	compress_free(&z);

	/* a final block, then more bytes: the peer may not end the stream */
	z_stream s;
	memset(&s, 0, sizeof(s));
	unsigned char zs[256];
	assert_int_equal(deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	s.next_in = (unsigned char *)"a NOOP\r\n";
	s.avail_in = 8;
	s.next_out = zs;
	s.avail_out = sizeof(zs);
	assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
	size_t zlen = sizeof(zs) - s.avail_out;
	deflateEnd(&s);
	z = compress_new();
	assert_int_equal(compress_feed(z, zs, zlen), 0);
	assert_int_equal(compress_inflate(z, &out, 4096), 8);
	assert_memory_equal(nbuf_head(&out), "a NOOP\r\n", 8);
	assert_int_equal(compress_inflate(z, &out, 4096), 0);
	assert_int_equal(compress_feed(z, "x", 1), 0);
	assert_int_equal(compress_inflate(z, &out, 4096), COMPRESS_ERROR);
	compress_free(&z);
	nbuf_deinit(&out);
}

static void
test_input_limit(void **state)
{
	struct compress *z = compress_new();
	size_t room = compress_in_room(z);
	assert_true(room >= COMPRESS_IN_MAX);
	unsigned char *junk = calloc(1, room + 1);
	assert_int_equal(compress_feed(z, junk, room - 1), 0); /* limit - 1 */
	assert_int_equal(compress_feed(z, junk, 1), 0);        /* limit */
	assert_int_equal(compress_feed(z, junk, 1), -1);       /* limit + 1 */
	assert_int_equal(compress_in_pending(z), room);
	free(junk);
	compress_free(&z);
}

/* Idle release keeps one valid stream in each direction. */
static void
test_idle_release(void **state)
{
	char *text = sample_text(60000, 11);
	struct compress *z = compress_new();
	struct sink s;
	nbuf_init(&s.b, 1 << 20);
	size_t fresh = compress_memory(z);
	assert_int_equal(compress_deflate(z, text, 30000, sink_emit, &s), 0);
	size_t active = compress_memory(z);
	assert_true(active > fresh + 100000); /* the deflate state */
	compress_idle(z);                     /* unflushed: nothing released */
	assert_int_equal(compress_memory(z), active);
	assert_int_equal(compress_flush(z, sink_emit, &s), 0);
	compress_idle(z);
	assert_true(compress_memory(z) < fresh + 1024);
	/* a new deflater continues the stream */
	assert_int_equal(compress_deflate(z, text + 30000, 30000, sink_emit, &s), 0);
	assert_int_equal(compress_flush(z, sink_emit, &s), 0);
	size_t plen;
	unsigned char *plain = zlib_inflate(nbuf_head(&s.b), nbuf_avail(&s.b), 70000, &plen);
	assert_int_equal(plen, 60000);
	assert_memory_equal(plain, text, 60000);
	free(plain);
	compress_free(&z);
	nbuf_deinit(&s.b);

	/* inflate: one zlib stream whose second half refers back into the
	 * first; the inflater is released in between and restored */
	char *rep = malloc(8000);
	memcpy(rep, text, 4000);
	memcpy(rep + 4000, text, 4000);
	size_t zlen;
	unsigned char *zs = zlib_deflate(rep, 8000, 4000, &zlen);
	/* find the end of the first flush: inflate the prefix through zlib */
	z = compress_new();
	struct nbuf out;
	nbuf_init(&out, 1 << 20);
	size_t cut = 0;
	for (cut = 1; cut <= zlen; cut++) {
		size_t got;
		z_stream t;
		memset(&t, 0, sizeof(t));
		inflateInit2(&t, -15);
		unsigned char tmp[9000];
		t.next_in = zs;
		t.avail_in = (uInt)cut;
		t.next_out = tmp;
		t.avail_out = sizeof(tmp);
		inflate(&t, Z_SYNC_FLUSH);
		got = sizeof(tmp) - t.avail_out;
		int boundary = t.data_type == 128;
		inflateEnd(&t);
		if (got == 4000 && boundary)
			break;
	}
	assert_true(cut < zlen);
	assert_int_equal(compress_feed(z, zs, cut), 0);
	while (compress_inflate(z, &out, 65536) > 0)
		;
	assert_int_equal(nbuf_avail(&out), 4000);
	size_t busy = compress_memory(z);
	compress_idle(z);
	size_t idle = compress_memory(z);
	/* the 32 KiB window and 7 KiB state went; the 4000 bytes in use stay */
	assert_true(idle < busy);
	assert_true(idle < 4000 + 2048 + 1024);
	assert_int_equal(compress_feed(z, zs + cut, zlen - cut), 0);
	while (compress_inflate(z, &out, 65536) > 0)
		;
	assert_int_equal(nbuf_avail(&out), 8000);
	assert_memory_equal(nbuf_head(&out), rep, 8000);
	nbuf_deinit(&out);
	compress_free(&z);
	free(zs);
	free(rep);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_zlib_stream_every_chunking),
	        cmocka_unit_test(test_own_deflate_round_trip),
	        cmocka_unit_test(test_bomb_bounded),
	        cmocka_unit_test(test_corrupt_and_ended),
	        cmocka_unit_test(test_input_limit),
	        cmocka_unit_test(test_idle_release),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
