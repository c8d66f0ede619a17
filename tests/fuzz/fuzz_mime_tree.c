/*
 * Fuzz target: mime_tree_decode on arbitrary bytes (a corrupt or hostile
 * cache entry). A tree that decodes must write ENVELOPE and BODYSTRUCTURE,
 * answer section lookups with ranges inside its size, decode text from a
 * buffer of that size, and encode back to the very same bytes (a version 1
 * tree: to a version 2 tree that decodes and encodes to itself). The
 * summary reader (mime_tree_summary) must agree with the decoder on every
 * input the decoder accepts, and never read out of bounds on any other.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/nbuf.h"
#include "node/mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

static int
text_cb(void *ctx, const struct mime_part *part, const char *text, size_t len)
{
	return ++*(unsigned *)ctx > 16;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_message *m;
	struct mime_tree_summary sum;
	int srec = mime_tree_summary(data, size, &sum);
	if (mime_tree_decode(data, size, &m) != 0) {
		CHECK(m == NULL);
		return 0;
	}
	CHECK(srec == 0 && sum.size == m->size);
	for (unsigned i = 0; i < MIME_ENV_COUNT; i++) {
		const char *f = m->root->envelope->field[i];
		CHECK((f == NULL) == (sum.env[i].p == NULL));
		CHECK(f == NULL || (strlen(f) == sum.env[i].len &&
		                    memcmp(f, sum.env[i].p, sum.env[i].len) == 0));
	}
	const char *refs = m->root->envelope->references;
	CHECK((refs == NULL) == (sum.references.p == NULL));
	CHECK(refs == NULL || strlen(refs) == sum.references.len);
	CHECK((m->preview != NULL) == sum.has_preview);
	struct nbuf out;
	nbuf_init(&out, 1 << 26);
	CHECK(mime_envelope_write(m, &out) == 0);
	CHECK(mime_bodystructure_write(m, &out, 0) == 0);
	CHECK(mime_bodystructure_write(m, &out, 1) == 0);
	nbuf_reset(&out);
	CHECK(mime_tree_encode(m, &out) == 0);
	if (data[2] == 2) {
		CHECK(nbuf_avail(&out) == size && memcmp(nbuf_head(&out), data, size) == 0);
	} else {
		struct mime_message *m2;
		struct nbuf out2;
		nbuf_init(&out2, 1 << 26);
		CHECK(mime_tree_decode(nbuf_head(&out), nbuf_avail(&out), &m2) == 0);
		CHECK(mime_tree_encode(m2, &out2) == 0);
		CHECK(nbuf_avail(&out2) == nbuf_avail(&out) &&
		      memcmp(nbuf_head(&out2), nbuf_head(&out), nbuf_avail(&out)) == 0);
		nbuf_deinit(&out2);
		mime_message_free(&m2);
	}

	static const char *const secs[] = {"",  "HEADER", "TEXT",   "1",     "1.MIME",  "1.HEADER",
	                                   "2", "1.1",    "2.TEXT", "1.2.1", "3.1.MIME"};
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		struct mime_range r;
		int rc = mime_section_find(m, secs[i], strlen(secs[i]), &r);
		CHECK(rc >= 0);
		if (rc == 1)
			CHECK(r.off <= m->size && r.len <= m->size - r.off);
	}
	if (m->size <= 1 << 16) {
		/* a message of the declared size, to read text from */
		char *msg = calloc(1, m->size + 1);
		unsigned chunks = 0;
		(void)mime_text_walk(m, msg, m->size, text_cb, &chunks);
		nbuf_reset(&out);
		(void)mime_preview(m, msg, m->size, &out);
		free(msg);
	}
	nbuf_deinit(&out);
	mime_message_free(&m);
	return 0;
}
