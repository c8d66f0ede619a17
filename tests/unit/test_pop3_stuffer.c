/*
 * Unit tests: byte-stuffing of RETR/TOP bodies, fed whole, one byte at a
 * time and in odd chunks (the result must not depend on where the file
 * reads split the body), with output buffers at the minimum size.
 */
#include "tests/unit/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "protocols/pop3/pop3_stuffer.h"

/* Encode body in chunks of `chunk` bytes into outcap-sized output pieces;
 * return the whole response (NUL-terminated; bodies here have no NUL). */
static char *
stuff(const char *body, size_t chunk, size_t outcap, int top, uint64_t lines)
{
	struct pop3_stuffer st;
	size_t n = strlen(body), cap = 2 * n + 16, len = 0;
	char *res = malloc(cap);
	uint8_t *out = malloc(outcap);
	pop3_stuffer_init(&st, top, lines);
	for (size_t off = 0; off < n && !pop3_stuffer_done(&st);) {
		size_t k = n - off < chunk ? n - off : chunk;
		const uint8_t *p = (const uint8_t *)body + off;
		size_t left = k;
		while (left > 0) {
			size_t used;
			size_t w = pop3_stuffer_encode(&st, p, left, out, outcap, &used);
			assert_true(w <= outcap);
			assert_true(used <= left);
			assert_true(w > 0 || used > 0 || pop3_stuffer_done(&st));
			memcpy(res + len, out, w);
			len += w;
			p += used;
			left -= used;
		}
		off += k;
	}
	uint8_t tail[POP3_STUFFER_FINISH_MAX];
	size_t t = pop3_stuffer_finish(&st, tail);
	assert_true(t <= POP3_STUFFER_FINISH_MAX);
	memcpy(res + len, tail, t);
	res[len + t] = '\0';
	free(out);
	return res;
}

/* Same result whole, byte by byte, in chunks of 3 and 7, and with a
 * two-byte output buffer. */
static void
check(const char *body, int top, uint64_t lines, const char *want)
{
	static const size_t chunks[] = {1, 2, 3, 7, 4096};
	static const size_t caps[] = {2, 3, 5, 65536};
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		for (size_t j = 0; j < sizeof(caps) / sizeof(caps[0]); j++) {
			char *got = stuff(body, chunks[i], caps[j], top, lines);
			assert_string_equal(got, want);
			free(got);
		}
	}
}

static void
test_plain(void **state)
{
	check("Subject: x\r\n\r\nhello\r\n", 0, 0, "Subject: x\r\n\r\nhello\r\n.\r\n");
	/* No final CRLF: one is added before the terminator. */
	check("Subject: x\r\n\r\nhello", 0, 0, "Subject: x\r\n\r\nhello\r\n.\r\n");
	check("", 0, 0, ".\r\n");
	check("\r\n", 0, 0, "\r\n.\r\n");
}

static void
test_dots(void **state)
{
	check(".\r\n", 0, 0, "..\r\n.\r\n");
	check("a\r\n.\r\n..x\r\n.y\r\nz.\r\n", 0, 0, "a\r\n..\r\n...x\r\n..y\r\nz.\r\n.\r\n");
	/* Only at the beginning of a line. */
	check("a.b\r\n", 0, 0, "a.b\r\n.\r\n");
	/* A body that is only a dot line without CRLF. */
	check(".", 0, 0, "..\r\n.\r\n");
	/* The terminator sequence inside a body cannot end the response. */
	check("x\r\n.\r\ny\r\n", 0, 0, "x\r\n..\r\ny\r\n.\r\n");
}

static void
test_line_endings(void **state)
{
	/* Bare LF becomes CRLF; a bare CR inside a line is kept. */
	check("a\nb\n", 0, 0, "a\r\nb\r\n.\r\n");
	check("a\n.b\n", 0, 0, "a\r\n..b\r\n.\r\n");
	check("a\rb\r\n", 0, 0, "a\rb\r\n.\r\n");
	/* A body ending in CR gets its LF. */
	check("a\r", 0, 0, "a\r\n.\r\n");
	/* "\r." is not a line start. */
	check("a\r.b\r\n", 0, 0, "a\r.b\r\n.\r\n");
}

static void
test_top(void **state)
{
	const char *msg = "From: a\r\nSubject: s\r\n\r\nl1\r\n.l2\r\nl3\r\n";
	check(msg, 1, 0, "From: a\r\nSubject: s\r\n\r\n.\r\n");
	check(msg, 1, 1, "From: a\r\nSubject: s\r\n\r\nl1\r\n.\r\n");
	check(msg, 1, 2, "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\n.\r\n");
	check(msg, 1, 3, "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	check(msg, 1, 4, "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	check(msg, 1, UINT64_MAX, "From: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	/* Header only: all of it. */
	check("From: a\r\nSubject: s\r\n", 1, 0, "From: a\r\nSubject: s\r\n.\r\n");
	/* LF-only message. */
	check("From: a\n\nb1\nb2\n", 1, 1, "From: a\r\n\r\nb1\r\n.\r\n");
	/* Last body line without CRLF. */
	check("H: v\r\n\r\nonly", 1, 5, "H: v\r\n\r\nonly\r\n.\r\n");
	/* Empty message. */
	check("", 1, 3, ".\r\n");
}

static void
test_large(void **state)
{
	/* 1 MiB of lines that all start with dots, in odd chunks. */
	size_t lines = 1 << 16, n = lines * 16;
	char *body = malloc(n + 1), *want = malloc(n + lines + 4);
	size_t w = 0;
	for (size_t i = 0; i < lines; i++) {
		memcpy(body + i * 16, ".abcdefghijklm\r\n", 16);
		memcpy(want + w, "..abcdefghijklm\r\n", 17);
		w += 17;
	}
	body[n] = '\0';
	memcpy(want + w, ".\r\n", 4);
	char *got = stuff(body, 65536 - 1, 16384, 0, 0);
	assert_string_equal(got, want);
	free(got);
	got = stuff(body, 65536, 2, 1, 0); /* no blank line: all header */
	assert_string_equal(got, want);
	free(got);
	free(body);
	free(want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_plain),        cmocka_unit_test(test_dots),
	        cmocka_unit_test(test_line_endings), cmocka_unit_test(test_top),
	        cmocka_unit_test(test_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
