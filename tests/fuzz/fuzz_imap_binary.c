/*
 * Fuzz: BINARY decoding (RFC 3516) in the FETCH engine, on messages made
 * of the input. The first byte picks a partial window; the rest is the
 * message. For the parts 1, 2, 1.1 and 2.1, and the whole message,
 * invariants:
 *  - imap_fetch_msg answers 0, -1 or IMAP_FETCH_UNKNOWN_CTE, never more;
 *  - every decoded segment gives exactly its dlen bytes, the same bytes
 *    whatever the decoder's chunk (4 or 64 KiB);
 *  - the literal's length is what follows it, "~{n}" exactly when those
 *    bytes hold a NUL;
 *  - BINARY.SIZE is the length of the whole BINARY, and a partial window
 *    is the same slice of it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"
#include "node/mime/mime.h"
#include "protocols/imap/fetch.h"
#include "protocols/imap/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct imap_fetch_plan *
plan_of(struct arena *a, const char *items)
{
	struct imap_parser p;
	struct nbuf in;
	struct imap_cmd *cmd;
	struct imap_fetch_plan *plan = NULL;
	const char *error;
	imap_parser_init(&p, NULL);
	nbuf_init(&in, 4096);
	nbuf_printf(&in, "A FETCH 1 %s\r\n", items);
	if (imap_parser_next(&p, &in, &cmd) != IMAP_PARSE_DONE ||
	    imap_fetch_parse(a, &cmd->args[1], 0, 0, &plan, &error) != 0)
		abort();
	nbuf_deinit(&in);
	imap_parser_deinit(&p);
	return plan;
}

/* Run items; the response bytes (decoded with chunks of cap) in out.
 * Returns imap_fetch_msg's result. */
static int
run(struct arena *a, const char *items, const struct imap_fetch_msg *m, size_t cap,
    struct nbuf *out)
{
	struct imap_fetch_out o;
	unsigned char tmp[65536];
	imap_fetch_out_init(&o, a);
	int rc = imap_fetch_msg(plan_of(a, items), m, &o);
	if (rc != 0 && rc != -1 && rc != IMAP_FETCH_UNKNOWN_CTE)
		abort();
	if (rc != 0 && o.nsegs != 0)
		abort();
	for (size_t i = 0; rc == 0 && i < o.nsegs; i++) {
		const struct imap_fetch_seg *s = &o.segs[i];
		if (s->text != NULL) {
			nbuf_append(out, s->text, s->len);
			continue;
		}
		if (s->off > m->len || s->len > m->len - s->off)
			abort();
		if (s->cte == MIME_CTE_IDENTITY) {
			nbuf_append(out, m->bytes + s->off, s->len);
			continue;
		}
		struct imap_fetch_decoder d;
		size_t n, total = 0;
		imap_fetch_decoder_init(&d, s, m->bytes);
		while ((n = imap_fetch_decoder_next(&d, tmp, cap)) > 0) {
			if (n > cap)
				abort();
			nbuf_append(out, tmp, n);
			total += n;
		}
		if (d.left != 0 || total != s->dlen)
			abort();
	}
	imap_fetch_out_deinit(&o);
	return rc;
}

/* The string after "NAME " in a response: its bytes, or NULL for "". */
static const char *
literal_of(const struct nbuf *r, const char *name, size_t *len_r)
{
	const char *s = (const char *)nbuf_head(r), *end = s + nbuf_avail(r);
	const char *p = memmem(s, nbuf_avail(r), name, strlen(name));
	if (p == NULL)
		abort();
	p += strlen(name);
	if (end - p >= 3 && memcmp(p, " \"\"", 3) == 0) {
		*len_r = 0;
		return NULL;
	}
	int tilde = end - p > 2 && p[1] == '~';
	p += tilde ? 3 : 2;
	unsigned long long n = 0;
	while (p < end && *p >= '0' && *p <= '9')
		n = n * 10 + (unsigned long long)(*p++ - '0');
	if (end - p < 3 || memcmp(p, "}\r\n", 3) != 0)
		abort();
	p += 3;
	if (n > (unsigned long long)(end - p) || memcmp(end - 3, ")\r\n", 3) != 0 ||
	    (size_t)(end - 3 - p) != n)
		abort();
	if (tilde != (memchr(p, 0, (size_t)n) != NULL))
		abort();
	*len_r = (size_t)n;
	return p;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	unsigned off = data[0] % 32, len = 1 + data[0] / 32 * 7;
	const char *msg = (const char *)data + 1;
	size_t mlen = size - 1;
	struct mime_message *tree;
	if (mime_parse(msg, mlen, NULL, &tree) != 0)
		abort();
	struct store_msg rec = {.uid = 1, .size = mlen};
	struct imap_fetch_msg m = {.seq = 1, .rec = &rec, .tree = tree, .bytes = msg, .len = mlen};
	static const char *const specs[] = {"", "1", "2", "1.1", "2.1"};
	struct arena a;
	arena_init(&a, 1 << 24);
	for (size_t k = 0; k < sizeof(specs) / sizeof(specs[0]); k++) {
		char items[128], name[64];
		struct nbuf r4, rbig, rsize, rpart;
		nbuf_init(&r4, 1 << 20);
		nbuf_init(&rbig, 1 << 20);
		nbuf_init(&rsize, 4096);
		nbuf_init(&rpart, 1 << 20);
		snprintf(items, sizeof(items), "BINARY.PEEK[%s]", specs[k]);
		int rc = run(&a, items, &m, 4, &r4);
		if (run(&a, items, &m, 65536, &rbig) != rc)
			abort();
		if (nbuf_avail(&r4) != nbuf_avail(&rbig) ||
		    memcmp(nbuf_head(&r4), nbuf_head(&rbig), nbuf_avail(&r4)) != 0)
			abort();
		snprintf(items, sizeof(items), "BINARY.SIZE[%s]", specs[k]);
		if (run(&a, items, &m, 4096, &rsize) != rc)
			abort();
		snprintf(items, sizeof(items), "BINARY.PEEK[%s]<%u.%u>", specs[k], off, len);
		if (run(&a, items, &m, 4096, &rpart) != rc)
			abort();
		if (rc == 0) {
			size_t full, part;
			snprintf(name, sizeof(name), "BINARY[%s]", specs[k]);
			const char *f = literal_of(&r4, name, &full);
			snprintf(name, sizeof(name), "BINARY[%s]<%u>", specs[k], off);
			const char *p = literal_of(&rpart, name, &part);
			size_t want = off < full ? (len < full - off ? len : full - off) : 0;
			if (part != want || (want && memcmp(p, f + off, want) != 0))
				abort();
			char sz[96];
			snprintf(sz, sizeof(sz), "BINARY.SIZE[%s] %zu)", specs[k], full);
			if (memmem(nbuf_head(&rsize), nbuf_avail(&rsize), sz, strlen(sz)) == NULL)
				abort();
		}
		nbuf_deinit(&r4);
		nbuf_deinit(&rbig);
		nbuf_deinit(&rsize);
		nbuf_deinit(&rpart);
		arena_reset(&a);
	}
	arena_deinit(&a);
	mime_message_free(&tree);
	return 0;
}
