/*
 * Unit tests: message identifiers and References (mime_msgid.c), and the
 * cached tree's version 2 (mime_tree.c): IDs found among comments and
 * phrases, blanks removed, bad ones skipped, at the length limit and past
 * it; References normalised and bounded (MIME_REFS_MAX - 1, MIME_REFS_MAX,
 * MIME_REFS_MAX + 1 IDs: the first and the last ones kept); the parser
 * keeping the first References field of a message header only; trees with
 * References and a preview round-tripping byte for byte; version 1 trees
 * still decoding (and reading as "References unknown"); the in-place
 * summary agreeing with the decoder on the corpus.
 */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/nbuf.h"
#include "node/lib/util.h"
#include "node/mime/mime.h"

static char *
ids_of(const char *v)
{
	struct nbuf out, id;
	size_t pos = 0;
	int rc;
	nbuf_init(&out, 1 << 20);
	nbuf_init(&id, 1024);
	while ((rc = mime_msgid_next(v, strlen(v), &pos, &id)) == 1) {
		nbuf_printf(&out, "%s%.*s", nbuf_avail(&out) ? "|" : "", (int)nbuf_avail(&id),
		            (const char *)nbuf_head(&id));
		nbuf_reset(&id);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(pos, strlen(v));
	nbuf_puts(&out, "");
	char *r = xstrndup((const char *)nbuf_head(&out), nbuf_avail(&out));
	nbuf_deinit(&out);
	nbuf_deinit(&id);
	return r;
}

static void
check_ids(const char *v, const char *want)
{
	char *got = ids_of(v);
	if (strcmp(got, want) != 0)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", v, got, want);
	free(got);
}

static void
test_msgid(void **state)
{
	check_ids("<a@b>", "<a@b>");
	check_ids("  <a@b>  <c@d>", "<a@b>|<c@d>");
	check_ids("< a @ b\r\n >", "<a@b>");
	check_ids("(comment <x@y>) <a@b>", "<a@b>");
	check_ids("Joe's message of today <a@b>", "<a@b>");
	check_ids("\"quoted <x@y>\" <a@b>", "<a@b>");
	check_ids("<> <a@b>", "<a@b>");
	check_ids("<a<b@c>", "<b@c>");
	check_ids("<a@b", "");
	check_ids("no ids here", "");
	check_ids("", "");
	check_ids("<\"x y\"@z>", "<\"xy\"@z>");
	/* MIME_MSGID_MAX bytes with the brackets: kept; one more: skipped */
	char v[600];
	memset(v, 'x', sizeof(v));
	v[0] = '<';
	v[MIME_MSGID_MAX - 1] = '>';
	v[MIME_MSGID_MAX] = '\0';
	char *got = ids_of(v);
	assert_int_equal(strlen(got), MIME_MSGID_MAX);
	free(got);
	v[MIME_MSGID_MAX - 1] = 'x';
	v[MIME_MSGID_MAX] = '>';
	v[MIME_MSGID_MAX + 1] = '\0';
	check_ids(v, "");
	memcpy(v + MIME_MSGID_MAX + 1, " <ok@x>", 8);
	check_ids(v, "<ok@x>");
}

static char *
refs_of(int n)
{
	struct nbuf b;
	nbuf_init(&b, 1 << 20);
	for (int i = 1; i <= n; i++)
		nbuf_printf(&b, " <%d@r>\r\n", i);
	nbuf_puts(&b, "");
	char *r = xstrndup((const char *)nbuf_head(&b), nbuf_avail(&b));
	nbuf_deinit(&b);
	return r;
}

static char *
normalized(const char *v)
{
	struct nbuf out;
	nbuf_init(&out, 1 << 20);
	nbuf_puts(&out, "="); /* appended to what is there */
	assert_int_equal(mime_references_normalize(v, strlen(v), &out), 0);
	nbuf_puts(&out, "");
	char *r = xstrndup((const char *)nbuf_head(&out) + 1, nbuf_avail(&out) - 1);
	nbuf_deinit(&out);
	return r;
}

static void
test_references(void **state)
{
	char *r = normalized("<a@b>  (c) junk <c@d>");
	assert_string_equal(r, "<a@b> <c@d>");
	free(r);
	r = normalized("nothing");
	assert_string_equal(r, "");
	free(r);
	for (int n = MIME_REFS_MAX - 1; n <= MIME_REFS_MAX + 5; n++) {
		char *v = refs_of(n);
		r = normalized(v);
		/* the first, and the last MIME_REFS_MAX - 1 */
		int kept = n < MIME_REFS_MAX ? n : MIME_REFS_MAX, count = 1;
		for (const char *p = r; *p; p++)
			count += *p == ' ';
		assert_int_equal(count, kept);
		assert_int_equal(strncmp(r, "<1@r>", 5), 0);
		char last[32];
		snprintf(last, sizeof(last), " <%d@r>", n);
		assert_string_equal(r + strlen(r) - strlen(last), last);
		if (n > MIME_REFS_MAX) {
			char second[32];
			snprintf(second, sizeof(second), "<1@r> <%d@r> ", n - MIME_REFS_MAX + 2);
			assert_int_equal(strncmp(r, second, strlen(second)), 0);
		}
		free(r);
		free(v);
	}
}

static struct mime_message *
parse(const char *msg)
{
	struct mime_message *m;
	assert_int_equal(mime_parse(msg, strlen(msg), NULL, &m), 0);
	return m;
}

static void
test_parser_refs(void **state)
{
	struct mime_message *m = parse("References: <a@x>\r\n <b@x>\r\nReferences: <c@x>\r\n"
	                               "Content-Type: message/rfc822\r\n\r\n"
	                               "References: <inner@x>\r\n\r\nbody\r\n");
	assert_string_equal(m->root->envelope->references, "<a@x> <b@x>");
	/* an encapsulated message has its own */
	assert_string_equal(m->root->children->envelope->references, "<inner@x>");
	mime_message_free(&m);
	m = parse("References: junk\r\n\r\n");
	assert_null(m->root->envelope->references);
	mime_message_free(&m);
	/* a MIME part's References is not a message's */
	m = parse("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	          "References: <p@x>\r\n\r\nx\r\n--b--\r\n");
	assert_null(m->root->envelope->references);
	assert_null(m->root->children->envelope);
	mime_message_free(&m);
}

/* The version 1 form of a version 2 tree without extras or References:
 * the same bytes without the extras varint. */
static size_t
to_v1(const unsigned char *v2, size_t n, unsigned char *v1)
{
	size_t i = 3;
	for (int k = 0; k < 3; k++) /* size, nparts, flags */
		while (v2[i++] & 0x80)
			;
	assert_int_equal(v2[i], 0); /* no extras */
	memcpy(v1, v2, i);
	v1[2] = 1;
	memcpy(v1 + i, v2 + i + 1, n - i - 1);
	return n - 1;
}

static void
test_tree_v2(void **state)
{
	const char *msg = "From: a@b\r\nSubject: s\r\nMessage-ID: <m@x>\r\n"
	                  "References: <a@x> <b@x>\r\nIn-Reply-To: <b@x>\r\n\r\n"
	                  "Hello there,   preview   text.\r\n";
	struct mime_message *m = parse(msg), *d;
	struct nbuf t1, t2;
	struct mime_tree_summary sum;
	nbuf_init(&t1, 1 << 20);
	nbuf_init(&t2, 1 << 20);
	assert_null(m->preview);
	assert_int_equal(mime_message_cache_preview(m, msg, strlen(msg)), 0);
	assert_string_equal(m->preview, "Hello there, preview text.");
	assert_int_equal(mime_tree_encode(m, &t1), 0);
	assert_int_equal(((const unsigned char *)nbuf_head(&t1))[2], 2);
	assert_int_equal(mime_tree_decode(nbuf_head(&t1), nbuf_avail(&t1), &d), 0);
	assert_string_equal(d->preview, m->preview);
	assert_string_equal(d->root->envelope->references, "<a@x> <b@x>");
	assert_int_equal(mime_tree_encode(d, &t2), 0);
	assert_int_equal(nbuf_avail(&t1), nbuf_avail(&t2));
	assert_memory_equal(nbuf_head(&t1), nbuf_head(&t2), nbuf_avail(&t1));
	assert_int_equal(mime_tree_summary(nbuf_head(&t1), nbuf_avail(&t1), &sum), 0);
	assert_int_equal(sum.version, 2);
	assert_true(sum.has_references && sum.has_preview);
	assert_int_equal(sum.references.len, strlen("<a@x> <b@x>"));
	assert_memory_equal(sum.references.p, "<a@x> <b@x>", sum.references.len);
	assert_memory_equal(sum.preview.p, m->preview, sum.preview.len);
	assert_int_equal(sum.env[MIME_ENV_SUBJECT].len, 1);
	assert_memory_equal(sum.env[MIME_ENV_IN_REPLY_TO].p, "<b@x>", 5);
	assert_null(sum.env[MIME_ENV_DATE].p);
	assert_true(sum.size == strlen(msg));
	mime_message_free(&d);
	mime_message_free(&m);

	/* no text for a preview: "" is cached, and is not NIL */
	const char *pic = "Content-Type: image/png\r\n\r\nxx\r\n";
	m = parse(pic);
	assert_int_equal(mime_message_cache_preview(m, pic, strlen(pic)), 0);
	assert_string_equal(m->preview, "");
	nbuf_reset(&t1);
	assert_int_equal(mime_tree_encode(m, &t1), 0);
	assert_int_equal(mime_tree_summary(nbuf_head(&t1), nbuf_avail(&t1), &sum), 0);
	assert_true(sum.has_preview);
	assert_int_equal(sum.preview.len, 0);
	mime_message_free(&m);
	nbuf_deinit(&t1);
	nbuf_deinit(&t2);
}

static void
test_tree_v1(void **state)
{
	const char *msg = "From: a@b\r\nSubject: old\r\nIn-Reply-To: <p@x>\r\n\r\nbody\r\n";
	struct mime_message *m = parse(msg), *d;
	struct nbuf t2, t3;
	nbuf_init(&t2, 1 << 20);
	nbuf_init(&t3, 1 << 20);
	assert_int_equal(mime_tree_encode(m, &t2), 0);
	size_t n = nbuf_avail(&t2);
	unsigned char *v1 = xmalloc(n);
	size_t n1 = to_v1(nbuf_head(&t2), n, v1);
	assert_int_equal(mime_tree_decode(v1, n1, &d), 0);
	assert_null(d->preview);
	assert_null(d->root->envelope->references);
	assert_int_equal(mime_tree_encode(d, &t3), 0);
	assert_int_equal(nbuf_avail(&t3), n);
	assert_memory_equal(nbuf_head(&t3), nbuf_head(&t2), n);
	mime_message_free(&d);
	struct mime_tree_summary sum;
	assert_int_equal(mime_tree_summary(v1, n1, &sum), 0);
	assert_int_equal(sum.version, 1);
	assert_false(sum.has_references);
	assert_false(sum.has_preview);
	assert_memory_equal(sum.env[MIME_ENV_SUBJECT].p, "old", 3);
	/* version 1 has no References bit: a tree claiming it is refused */
	unsigned char *bad = xmalloc(n1);
	for (size_t i = 0; i < n1; i++)
		for (unsigned f = 0; f < 8; f++) {
			memcpy(bad, v1, n1);
			bad[i] ^= (unsigned char)(1u << f);
			struct mime_message *x;
			int rc = mime_tree_decode(bad, n1, &x);
			int rs = mime_tree_summary(bad, n1, &sum);
			if (rc == 0) {
				assert_int_equal(rs, 0);
				mime_message_free(&x);
			}
		}
	/* future versions, truncated and empty input */
	memcpy(bad, v1, n1);
	bad[2] = 3;
	assert_int_equal(mime_tree_decode(bad, n1, &d), -1);
	assert_int_equal(mime_tree_summary(bad, n1, &sum), -1);
	/* cut short: refused, or (cut after the root's envelope, which is all
	 * the summary reads) the same fields */
	struct mime_tree_summary full;
	assert_int_equal(mime_tree_summary(v1, n1, &full), 0);
	for (size_t cut = 0; cut < n1; cut++) {
		if (mime_tree_summary(v1, cut, &sum) != 0)
			continue;
		assert_true(cut > (size_t)(full.env[MIME_ENV_IN_REPLY_TO].p - (const char *)v1));
		assert_ptr_equal(sum.env[MIME_ENV_SUBJECT].p, full.env[MIME_ENV_SUBJECT].p);
	}
	free(bad);
	free(v1);
	mime_message_free(&d);
	mime_message_free(&m);
	nbuf_deinit(&t2);
	nbuf_deinit(&t3);
}

/* The summary agrees with the decoder on every corpus message. */
static void
test_summary_corpus(void **state)
{
	static const char *const corpus[] = {"plain",
	                                     "thunderbird_alternative",
	                                     "apple_mixed_attachment",
	                                     "outlook_nested",
	                                     "forward_rfc822",
	                                     "rfc2047_subjects",
	                                     "groups_addresses",
	                                     "digest",
	                                     "nested_1000",
	                                     "headers_10000",
	                                     "no_colon",
	                                     "nul_bytes",
	                                     "bare_lf",
	                                     "cr_only",
	                                     "bad_addresses",
	                                     "eight_bit_headers",
	                                     "header_only",
	                                     "empty"};
	for (size_t i = 0; i < ARRAY_SIZE(corpus); i++) {
		char *rel = xasprintf("mime/%s.eml", corpus[i]);
		size_t len;
		char *msg = test_data_read(rel, &len);
		struct mime_message *m, *d;
		assert_int_equal(mime_parse(msg, len, NULL, &m), 0);
		assert_int_equal(mime_message_cache_preview(m, msg, len), 0);
		struct nbuf t;
		nbuf_init(&t, 1 << 26);
		assert_int_equal(mime_tree_encode(m, &t), 0);
		assert_int_equal(mime_tree_decode(nbuf_head(&t), nbuf_avail(&t), &d), 0);
		struct mime_tree_summary sum;
		assert_int_equal(mime_tree_summary(nbuf_head(&t), nbuf_avail(&t), &sum), 0);
		for (unsigned k = 0; k < MIME_ENV_COUNT; k++) {
			const char *v = d->root->envelope->field[k];
			assert_true((v == NULL) == (sum.env[k].p == NULL));
			if (v != NULL) {
				assert_int_equal(strlen(v), sum.env[k].len);
				assert_memory_equal(v, sum.env[k].p, sum.env[k].len);
			}
		}
		assert_string_equal(d->preview, m->preview);
		mime_message_free(&m);
		mime_message_free(&d);
		nbuf_deinit(&t);
		free(msg);
		free(rel);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_msgid),       cmocka_unit_test(test_references),
	        cmocka_unit_test(test_parser_refs), cmocka_unit_test(test_tree_v2),
	        cmocka_unit_test(test_tree_v1),     cmocka_unit_test(test_summary_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
