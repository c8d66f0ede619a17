/*
 * Unit tests: node/mime on the corpus in tests/data/mime: ENVELOPE, BODY
 * and BODYSTRUCTURE against the .expected files (literals' CRLF written as
 * <CRLF>), the cached tree's round trip and its rejection of corrupt
 * bytes, and every parser limit at limit-1, limit and limit+1.
 */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/nbuf.h"
#include "node/lib/util.h"
#include "node/mime/mime.h"

static char *
read_data(const char *name, const char *ext, size_t *len_r)
{
	char *rel = xasprintf("mime/%s%s", name, ext);
	char *data = test_data_read(rel, len_r);
	free(rel);
	return data;
}

/* The output with CRLF shown as <CRLF>, as in the .expected files. */
static char *
show(struct nbuf *o)
{
	struct nbuf s;
	nbuf_init(&s, 1 << 28);
	const char *p = (const char *)nbuf_head(o);
	for (size_t i = 0, n = nbuf_avail(o); i < n; i++) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') {
			assert_int_equal(nbuf_puts(&s, "<CRLF>"), 0);
			i++;
		} else {
			assert_int_equal(nbuf_append(&s, &p[i], 1), 0);
		}
	}
	assert_int_equal(nbuf_append(&s, "", 1), 0);
	size_t len;
	nbuf_reset(o);
	return (char *)nbuf_steal(&s, &len);
}

/* "ENVELOPE ...\nBODYSTRUCTURE ...\nBODY ...\n" for a tree. */
static char *
describe(const struct mime_message *m)
{
	struct nbuf o;
	nbuf_init(&o, 1 << 28);
	assert_int_equal(mime_envelope_write(m, &o), 0);
	char *env = show(&o);
	assert_int_equal(mime_bodystructure_write(m, &o, 1), 0);
	char *bs = show(&o);
	assert_int_equal(mime_bodystructure_write(m, &o, 0), 0);
	char *body = show(&o);
	char *all = xasprintf("ENVELOPE %s\nBODYSTRUCTURE %s\nBODY %s\n", env, bs, body);
	free(env);
	free(bs);
	free(body);
	nbuf_deinit(&o);
	return all;
}

static void
test_corpus_expected(void **state)
{
	for (size_t i = 0; i < test_mime_corpus_n; i++) {
		size_t len, elen;
		char *msg = read_data(test_mime_corpus[i], ".eml", &len);
		char *exp = read_data(test_mime_corpus[i], ".expected", &elen);
		struct mime_message *m;
		assert_int_equal(mime_parse(msg, len, NULL, &m), 0);
		char *got = describe(m);
		if (strcmp(got, exp) != 0)
			fail_msg("%s:\n got: %s\nwant: %s", test_mime_corpus[i], got, exp);
		free(got);
		free(exp);
		mime_message_free(&m);
		assert_null(m);
		free(msg);
	}
}

/* Every numeric section (bounded) answers the same in both trees. */
static void
same_sections(const struct mime_message *a, const struct mime_message *b, char *sec, size_t n,
              unsigned depth)
{
	static const char *const suffixes[] = {"", ".HEADER", ".TEXT", ".MIME"};
	for (unsigned i = 1; i <= 12; i++) {
		size_t sn = n + (size_t)sprintf(sec + n, "%s%u", n ? "." : "", i);
		int found = 0;
		for (size_t s = 0; s < ARRAY_SIZE(suffixes); s++) {
			char full[256];
			struct mime_range ra, rb;
			snprintf(full, sizeof(full), "%s%s", sec, suffixes[s]);
			int x = mime_section_find(a, full, strlen(full), &ra);
			assert_int_equal(x, mime_section_find(b, full, strlen(full), &rb));
			if (x == 1) {
				assert_int_equal(ra.off, rb.off);
				assert_int_equal(ra.len, rb.len);
			}
			found |= s == 0 && x == 1;
		}
		sec[sn] = '\0';
		if (!found)
			break;
		if (depth < 40)
			same_sections(a, b, sec, sn, depth + 1);
		sec[n] = '\0';
	}
}

static void
test_tree_round_trip(void **state)
{
	for (size_t i = 0; i < test_mime_corpus_n; i++) {
		size_t len;
		char *msg = read_data(test_mime_corpus[i], ".eml", &len);
		struct mime_message *m, *d;
		struct nbuf t1, t2;
		nbuf_init(&t1, 1 << 24);
		nbuf_init(&t2, 1 << 24);
		assert_int_equal(mime_parse(msg, len, NULL, &m), 0);
		assert_int_equal(mime_tree_encode(m, &t1), 0);
		assert_int_equal(mime_tree_decode(nbuf_head(&t1), nbuf_avail(&t1), &d), 0);
		char *a = describe(m), *b = describe(d);
		assert_string_equal(a, b);
		char sec[256] = "";
		same_sections(m, d, sec, 0, 0);
		assert_int_equal(d->size, len);
		assert_int_equal(d->nparts, m->nparts);
		assert_int_equal(mime_tree_encode(d, &t2), 0);
		assert_int_equal(nbuf_avail(&t1), nbuf_avail(&t2));
		assert_memory_equal(nbuf_head(&t1), nbuf_head(&t2), nbuf_avail(&t1));
		if (strcmp(test_mime_corpus[i], "plain") == 0)
			assert_true(nbuf_avail(&t1) < 400); /* well under 1 KB */
		free(a);
		free(b);
		mime_message_free(&m);
		mime_message_free(&d);
		nbuf_deinit(&t1);
		nbuf_deinit(&t2);
		free(msg);
	}
}

/* A decoded tree must be safe to use whatever it says. */
static void
use_tree(const struct mime_message *d)
{
	struct nbuf o;
	struct mime_range r;
	nbuf_init(&o, 1 << 24);
	assert_int_equal(mime_envelope_write(d, &o), 0);
	assert_int_equal(mime_bodystructure_write(d, &o, 1), 0);
	static const char *const secs[] = {"",       "HEADER", "TEXT",     "1",    "2",
	                                   "1.MIME", "2.1",    "2.HEADER", "1.1.1"};
	for (size_t i = 0; i < ARRAY_SIZE(secs); i++)
		if (mime_section_find(d, secs[i], strlen(secs[i]), &r) == 1) {
			assert_true(r.off <= d->size);
			assert_true(r.len <= d->size - r.off);
		}
	nbuf_deinit(&o);
}

static void
test_tree_corrupt(void **state)
{
	static const char *const which[] = {"forward_rfc822", "rfc2231_filenames",
	                                    "groups_addresses", "digest"};
	for (size_t w = 0; w < ARRAY_SIZE(which); w++) {
		size_t len;
		char *msg = read_data(which[w], ".eml", &len);
		struct mime_message *m, *d;
		struct nbuf t;
		nbuf_init(&t, 1 << 24);
		assert_int_equal(mime_parse(msg, len, NULL, &m), 0);
		assert_int_equal(mime_tree_encode(m, &t), 0);
		size_t tn = nbuf_avail(&t);
		unsigned char *copy = xmalloc(tn);
		memcpy(copy, nbuf_head(&t), tn);
		for (size_t cut = 0; cut < tn; cut++) {
			unsigned char *p = xmalloc(cut ? cut : 1); /* exact size, for ASan */
			memcpy(p, copy, cut);
			assert_int_equal(mime_tree_decode(p, cut, &d), -1);
			assert_null(d);
			free(p);
		}
		unsigned seed = 12345;
		for (size_t pos = 0; pos < tn; pos++) {
			static const unsigned char flips[] = {0x01, 0x80, 0xff, 0x7f, 0x40};
			for (size_t f = 0; f < ARRAY_SIZE(flips) + 2; f++) {
				unsigned char *p = xmalloc(tn);
				memcpy(p, copy, tn);
				seed = seed * 1103515245 + 12345;
				p[pos] ^= f < ARRAY_SIZE(flips) ? flips[f]
				                                : (unsigned char)(seed >> 16);
				if (mime_tree_decode(p, tn, &d) == 0) {
					use_tree(d);
					mime_message_free(&d);
				}
				free(p);
			}
		}
		assert_int_equal(mime_tree_decode("MT\x02", 3, &d), -1);
		assert_int_equal(mime_tree_decode("", 0, &d), -1);
		free(copy);
		nbuf_deinit(&t);
		mime_message_free(&m);
		free(msg);
	}
}

static struct mime_message *
parse_with(const char *msg, const struct mime_limits *lim)
{
	struct mime_message *m;
	assert_int_equal(mime_parse(msg, strlen(msg), lim, &m), 0);
	return m;
}

/* message/rfc822 nested n levels, the innermost text/plain. */
static char *
nested_messages(unsigned n)
{
	struct nbuf b;
	nbuf_init(&b, 1 << 20);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(
		        nbuf_printf(&b, "Subject: level %u\r\nContent-Type: message/rfc822\r\n\r\n",
		                    i),
		        0);
	assert_int_equal(nbuf_puts(&b, "Subject: inner\r\n\r\ntext\r\n"), 0);
	assert_int_equal(nbuf_append(&b, "", 1), 0);
	size_t len;
	return (char *)nbuf_steal(&b, &len);
}

static void
test_limit_depth(void **state)
{
	struct mime_limits lim = mime_limits_default();
	lim.max_depth = 6;
	for (unsigned n = 5; n <= 7; n++) { /* parts at depth n */
		char *msg = nested_messages(n);
		struct mime_message *m = parse_with(msg, &lim);
		const struct mime_part *p = m->root;
		unsigned depth = 0;
		while (p->children != NULL) {
			p = p->children;
			depth++;
		}
		if (n <= lim.max_depth) {
			assert_int_equal(depth, n);
			assert_true(mime_part_is(p, "text", "plain"));
			assert_false(m->flags & MIME_F_DEPTH_LIMIT);
		} else {
			assert_int_equal(depth, lim.max_depth);
			assert_true(mime_part_is(p, "application", "octet-stream"));
			assert_true(m->flags & MIME_F_DEPTH_LIMIT);
		}
		mime_message_free(&m);
		free(msg);
	}
}

/* A multipart with n text parts: n + 1 parts in all. */
static char *
many_parts(unsigned n)
{
	struct nbuf b;
	nbuf_init(&b, 1 << 20);
	assert_int_equal(nbuf_puts(&b, "Content-Type: multipart/mixed; boundary=x\r\n\r\n"), 0);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(nbuf_printf(&b, "--x\r\n\r\npart %u\r\n", i), 0);
	assert_int_equal(nbuf_puts(&b, "--x--\r\n"), 0);
	assert_int_equal(nbuf_append(&b, "", 1), 0);
	size_t len;
	return (char *)nbuf_steal(&b, &len);
}

static void
test_limit_parts(void **state)
{
	struct mime_limits lim = mime_limits_default();
	lim.max_parts = 10;
	for (unsigned n = 8; n <= 10; n++) { /* n + 1 parts: limit-1, limit, limit+1 */
		char *msg = many_parts(n);
		struct mime_message *m = parse_with(msg, &lim);
		struct mime_range r;
		unsigned want = MIN(n, lim.max_parts - 1);
		assert_int_equal(m->root->nchildren, want);
		assert_int_equal(m->nparts, want + 1);
		assert_int_equal(!!(m->flags & MIME_F_PART_LIMIT), n + 1 > lim.max_parts);
		char sec[16];
		snprintf(sec, sizeof(sec), "%u", want);
		assert_int_equal(mime_section_find(m, sec, strlen(sec), &r), 1);
		assert_int_equal(r.len, strlen("part ") + (want - 1 >= 10 ? 2 : 1));
		snprintf(sec, sizeof(sec), "%u", want + 1);
		assert_int_equal(mime_section_find(m, sec, strlen(sec), &r), 0);
		mime_message_free(&m);
		free(msg);
	}
	/* the default: 2000 parts */
	char *msg = many_parts(2100);
	struct mime_message *m = parse_with(msg, NULL);
	assert_int_equal(m->nparts, 2000);
	mime_message_free(&m);
	free(msg);
}

/* Content-Type as field number pos (from 1) of the root header. */
static char *
ctype_at(unsigned pos)
{
	struct nbuf b;
	nbuf_init(&b, 1 << 20);
	for (unsigned i = 1; i < pos; i++)
		assert_int_equal(nbuf_printf(&b, "X-F%u: v\r\n", i), 0);
	assert_int_equal(nbuf_puts(&b, "Content-Type: text/html\r\n\r\nbody\r\n"), 0);
	assert_int_equal(nbuf_append(&b, "", 1), 0);
	size_t len;
	return (char *)nbuf_steal(&b, &len);
}

static void
test_limit_header_fields(void **state)
{
	struct mime_limits lim = mime_limits_default();
	lim.max_header_fields = 50;
	for (unsigned pos = 49; pos <= 51; pos++) {
		char *msg = ctype_at(pos);
		struct mime_message *m = parse_with(msg, &lim);
		assert_string_equal(m->root->subtype, pos <= 50 ? "html" : "plain");
		assert_int_equal(!!(m->flags & MIME_F_FIELD_LIMIT), pos > 50);
		/* the header still ends at its blank line */
		assert_int_equal(m->root->body.len, 6);
		mime_message_free(&m);
		free(msg);
	}
}

static void
test_limit_header_line(void **state)
{
	struct mime_limits lim = mime_limits_default();
	const char *prefix = "Content-Type: text/html; x=";
	lim.max_header_line = 100;
	for (size_t total = 99; total <= 101; total++) { /* field bytes without CRLF */
		struct nbuf b;
		nbuf_init(&b, 4096);
		assert_int_equal(nbuf_puts(&b, prefix), 0);
		while (nbuf_avail(&b) < total)
			assert_int_equal(nbuf_append(&b, "a", 1), 0);
		assert_int_equal(nbuf_puts(&b, "\r\n\r\nbody"), 0);
		assert_int_equal(nbuf_append(&b, "", 1), 0);
		struct mime_message *m = parse_with((const char *)nbuf_head(&b), &lim);
		assert_string_equal(m->root->subtype, total <= 100 ? "html" : "plain");
		assert_int_equal(!!(m->flags & MIME_F_LINE_LIMIT), total > 100);
		mime_message_free(&m);
		nbuf_deinit(&b);
	}
}

static void
test_limit_params(void **state)
{
	struct mime_limits lim = mime_limits_default();
	lim.max_params = 4;
	for (unsigned n = 3; n <= 5; n++) {
		struct nbuf b;
		nbuf_init(&b, 4096);
		assert_int_equal(nbuf_puts(&b, "Content-Type: text/plain"), 0);
		for (unsigned i = 0; i < n; i++)
			assert_int_equal(nbuf_printf(&b, "; p%u=v%u", i, i), 0);
		assert_int_equal(nbuf_puts(&b, "\r\n\r\nx"), 0);
		assert_int_equal(nbuf_append(&b, "", 1), 0);
		struct mime_message *m = parse_with((const char *)nbuf_head(&b), &lim);
		assert_int_equal(m->root->nparams, MIN(n, 4u));
		assert_int_equal(!!(m->flags & MIME_F_PARAM_LIMIT), n > 4);
		mime_message_free(&m);
		nbuf_deinit(&b);
	}
}

static void
test_nbuf_full(void **state)
{
	size_t len;
	char *msg = read_data("outlook_nested", ".eml", &len);
	struct mime_message *m;
	assert_int_equal(mime_parse(msg, len, NULL, &m), 0);
	for (size_t max = 0; max < 1200; max += 7) {
		struct nbuf o;
		nbuf_init(&o, max);
		int rc = mime_bodystructure_write(m, &o, 1);
		assert_true(rc == -ENOBUFS || (rc == 0 && nbuf_avail(&o) <= max));
		nbuf_reset(&o);
		rc = mime_envelope_write(m, &o);
		assert_true(rc == -ENOBUFS || (rc == 0 && nbuf_avail(&o) <= max));
		nbuf_deinit(&o);
	}
	mime_message_free(&m);
	free(msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_corpus_expected),
	        cmocka_unit_test(test_tree_round_trip),
	        cmocka_unit_test(test_tree_corrupt),
	        cmocka_unit_test(test_limit_depth),
	        cmocka_unit_test(test_limit_parts),
	        cmocka_unit_test(test_limit_header_fields),
	        cmocka_unit_test(test_limit_header_line),
	        cmocka_unit_test(test_limit_params),
	        cmocka_unit_test(test_nbuf_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
