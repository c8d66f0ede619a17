/*
 * Fuzz target: mime_tree_decode on arbitrary bytes (a corrupt or hostile
 * cache entry). A tree that decodes must write ENVELOPE and BODYSTRUCTURE,
 * answer section lookups with ranges inside its size, decode text from a
 * buffer of that size, and encode back to the very same bytes.
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
	if (mime_tree_decode(data, size, &m) != 0) {
		CHECK(m == NULL);
		return 0;
	}
	struct nbuf out;
	nbuf_init(&out, 1 << 26);
	CHECK(mime_envelope_write(m, &out) == 0);
	CHECK(mime_bodystructure_write(m, &out, 0) == 0);
	CHECK(mime_bodystructure_write(m, &out, 1) == 0);
	nbuf_reset(&out);
	CHECK(mime_tree_encode(m, &out) == 0);
	CHECK(nbuf_avail(&out) == size && memcmp(nbuf_head(&out), data, size) == 0);

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
