/*
 * Fuzz target: node/mime on arbitrary messages. Parses, writes ENVELOPE and
 * BODY/BODYSTRUCTURE, encodes and decodes the tree and requires identical
 * output and ranges from the decoded tree, walks section numbers, runs the
 * text decoder (every chunk bounded and valid UTF-8), PREVIEW (also as the
 * tree caches it: valid UTF-8) and the header helpers, and checks the
 * References the tree keeps (bounded, "<...>" IDs only). Any difference
 * aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"
#include "node/mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

static int
utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char b = p[i];
		size_t k = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 0;
		if (k == 0 || i + k > n)
			return 0;
		for (size_t j = 1; j < k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
		i += k;
	}
	return 1;
}

static int
text_cb(void *ctx, const struct mime_part *part, const char *text, size_t len)
{
	CHECK(len > 0 && len <= MIME_TEXT_CHUNK);
	CHECK(utf8_valid((const unsigned char *)text, len));
	return ++*(unsigned *)ctx > 64; /* bound the work per input */
}

static void
write_all(const struct mime_message *m, struct nbuf *out)
{
	nbuf_reset(out);
	CHECK(mime_envelope_write(m, out) == 0);
	CHECK(nbuf_append(out, "|", 1) == 0);
	CHECK(mime_bodystructure_write(m, out, 0) == 0);
	CHECK(nbuf_append(out, "|", 1) == 0);
	CHECK(mime_bodystructure_write(m, out, 1) == 0);
}

/* Look up every numeric section below prefix (depth-first, bounded) in
 * both trees and require the same answers. */
static void
walk_sections(const struct mime_message *a, const struct mime_message *b, char *sec, size_t n,
              unsigned depth, unsigned *budget)
{
	static const char *const suffixes[] = {"", ".HEADER", ".TEXT", ".MIME"};
	for (unsigned i = 1; i <= 40 && *budget > 0; i++) {
		int k = snprintf(sec + n, 64, "%s%u", n ? "." : "", i);
		size_t sn = n + (size_t)k;
		int found = 0;
		for (size_t s = 0; s < 4; s++) {
			char full[400];
			struct mime_range ra, rb;
			int l = snprintf(full, sizeof(full), "%.*s%s", (int)sn, sec, suffixes[s]);
			int x = mime_section_find(a, full, (size_t)l, &ra);
			int y = mime_section_find(b, full, (size_t)l, &rb);
			(*budget)--;
			CHECK(x == y && x >= 0);
			if (x == 1) {
				CHECK(ra.off == rb.off && ra.len == rb.len);
				CHECK(ra.off <= a->size && ra.len <= a->size - ra.off);
			}
			if (s == 0)
				found = x;
		}
		if (!found)
			break;
		if (depth < 8)
			walk_sections(a, b, sec, sn, depth + 1, budget);
	}
}

static void
header_helpers(const char *msg, const struct mime_message *m)
{
	struct nbuf v, o;
	struct arena a;
	nbuf_init(&v, 1 << 22);
	nbuf_init(&o, 1 << 24);
	arena_init(&a, 1 << 24);
	if (mime_header_get(msg, &m->root->header, "Subject", 0, &v) == 1) {
		int reply;
		CHECK(mime_base_subject((const char *)nbuf_head(&v), nbuf_avail(&v), &o, &reply) ==
		      0);
		CHECK(utf8_valid(nbuf_head(&o), nbuf_avail(&o)));
	}
	nbuf_reset(&v);
	if (mime_header_get(msg, &m->root->header, "Date", 0, &v) == 1) {
		time_t t;
		int tz;
		(void)mime_date_parse((const char *)nbuf_head(&v), nbuf_avail(&v), &t, &tz);
	}
	nbuf_reset(&v);
	if (mime_header_get(msg, &m->root->header, "From", 0, &v) == 1) {
		const struct mime_address *ad;
		if (mime_address_first((const char *)nbuf_head(&v), nbuf_avail(&v), &a, &ad) == 1)
			CHECK(mime_address_display(ad, &o) == 0);
	}
	static const char *const fields[] = {"From", "Subject", "Content-Type"};
	CHECK(mime_header_fields_write(msg, &m->root->header, fields, 3, 0, &o) == 0);
	CHECK(mime_header_fields_write(msg, &m->root->header, fields, 3, 1, &o) == 0);
	unsigned chunks = 0;
	(void)mime_header_text(msg, &m->root->header, text_cb, &chunks);
	arena_deinit(&a);
	nbuf_deinit(&v);
	nbuf_deinit(&o);
}

static void
check_refs(const char *r)
{
	if (r == NULL)
		return;
	size_t ids = 0;
	while (*r) {
		size_t n = strcspn(r, " ");
		CHECK(n >= 3 && n <= MIME_MSGID_MAX && r[0] == '<' && r[n - 1] == '>');
		CHECK(memchr(r + 1, '<', n - 1) == NULL);
		ids++;
		r += n;
		if (*r == ' ')
			r++;
	}
	CHECK(ids >= 1 && ids <= MIME_REFS_MAX);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	struct mime_limits lim = mime_limits_default();
	struct mime_message *m, *d;
	struct nbuf a, b, tree, tree2;
	lim.max_parts = 300;
	if (mime_parse(msg, size, &lim, &m) != 0)
		abort();
	/* what delivery caches with the tree: the preview; and References
	 * bounded and made of "<...>" IDs only */
	CHECK(mime_message_cache_preview(m, msg, size) == 0);
	CHECK(m->preview != NULL &&
	      utf8_valid((const unsigned char *)m->preview, strlen(m->preview)));
	check_refs(m->root->envelope->references);
	nbuf_init(&a, 1 << 26);
	nbuf_init(&b, 1 << 26);
	nbuf_init(&tree, 1 << 26);
	nbuf_init(&tree2, 1 << 26);
	write_all(m, &a);
	CHECK(mime_tree_encode(m, &tree) == 0);
	CHECK(mime_tree_decode(nbuf_head(&tree), nbuf_avail(&tree), &d) == 0);
	write_all(d, &b);
	CHECK(nbuf_avail(&a) == nbuf_avail(&b) &&
	      memcmp(nbuf_head(&a), nbuf_head(&b), nbuf_avail(&a)) == 0);
	CHECK(mime_tree_encode(d, &tree2) == 0);
	CHECK(nbuf_avail(&tree) == nbuf_avail(&tree2) &&
	      memcmp(nbuf_head(&tree), nbuf_head(&tree2), nbuf_avail(&tree)) == 0);

	char sec[400];
	unsigned budget = 2000;
	walk_sections(m, d, sec, 0, 0, &budget);
	struct mime_range r1, r2;
	CHECK(mime_section_find(m, "HEADER", 6, &r1) == 1 &&
	      mime_section_find(d, "HEADER", 6, &r2) == 1);
	CHECK(r1.off == r2.off && r1.len == r2.len);

	unsigned chunks = 0;
	(void)mime_text_walk(d, msg, size, text_cb, &chunks);
	nbuf_reset(&a);
	CHECK(mime_preview(m, msg, size, &a) >= 0);
	CHECK(utf8_valid(nbuf_head(&a), nbuf_avail(&a)));
	header_helpers(msg, m);

	mime_message_free(&m);
	mime_message_free(&d);
	nbuf_deinit(&a);
	nbuf_deinit(&b);
	nbuf_deinit(&tree);
	nbuf_deinit(&tree2);
	return 0;
}
