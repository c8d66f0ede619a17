/*
 * Fuzz: THREAD (both algorithms) and SORT over messages the input
 * describes. Each input line is a message: "id|references|in-reply-to|
 * subject|date" (fields may be missing or hold anything: hostile IDs,
 * loops, self-references, duplicates, encoded words). Each line becomes a
 * header that goes through the MIME parser, the cached tree and its
 * in-place summary, and imap_sort_keys(), as SORT and THREAD see it. The
 * thread lists must be well formed (balanced, no empty list, blanks only
 * inside lists) and show every message exactly once; References keeps at
 * most MIME_REFS_MAX IDs; every sort key must give a permutation, in
 * order for SUBJECT and DATE.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"
#include "node/mime/mime.h"
#include "protocols/imap/parser.h"
#include "protocols/imap/sort.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

#define MAXMSG 256

/* Every id 1..n exactly once; parentheses balanced; no "()". */
static void
check_threads(const char *s, size_t len, size_t n)
{
	unsigned char seen[MAXMSG + 1] = {0};
	int depth = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '(') {
			CHECK(i + 1 < len && s[i + 1] != ')');
			depth++;
		} else if (c == ')') {
			CHECK(--depth >= 0);
		} else if (c >= '1' && c <= '9') {
			unsigned v = 0;
			while (i < len && s[i] >= '0' && s[i] <= '9')
				v = v * 10 + (unsigned)(s[i++] - '0');
			i--;
			CHECK(v >= 1 && v <= n && !seen[v]);
			seen[v] = 1;
		} else {
			CHECK(c == ' ' && depth > 0);
		}
	}
	CHECK(depth == 0);
	for (size_t v = 1; v <= n; v++)
		CHECK(seen[v]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16384)
		return 0;
	struct imap_sort_msg msgs[MAXMSG];
	struct arena a, scratch;
	size_t n = 0, pos = 0;
	arena_init(&a, 1 << 24);
	arena_init(&scratch, 0);
	while (pos < size && n < MAXMSG) {
		const char *line = (const char *)data + pos;
		const char *end = memchr(line, '\n', size - pos);
		size_t ll = end ? (size_t)(end - line) : size - pos;
		pos += ll + 1;
		/* the fields of the line */
		const char *f[5] = {"", "", "", "", ""};
		size_t fl[5] = {0};
		size_t k = 0, start = 0;
		for (size_t i = 0; i <= ll && k < 5; i++) {
			if (i == ll || line[i] == '|') {
				f[k] = line + start;
				fl[k++] = i - start;
				start = i + 1;
			}
		}
		struct nbuf h;
		nbuf_init(&h, 1 << 16);
		static const char *const names[] = {"Message-ID", "References", "In-Reply-To",
		                                    "Subject", "Date"};
		for (size_t i = 0; i < k; i++) {
			if (fl[i] == 0)
				continue;
			nbuf_printf(&h, "%s: ", names[i]);
			for (size_t j = 0; j < fl[i]; j++) /* no line breaks inside */
				nbuf_append(&h, f[i][j] == '\r' ? " " : &f[i][j], 1);
			nbuf_puts(&h, "\r\n");
		}
		nbuf_puts(&h, "\r\nbody\r\n");
		struct mime_message *m;
		struct imap_sort_msg *sm = &msgs[n];
		const char *hb = nbuf_avail(&h) ? (const char *)nbuf_head(&h) : "";
		CHECK(mime_parse(hb, nbuf_avail(&h), NULL, &m) == 0);
		memset(sm, 0, sizeof(*sm));
		sm->seq = sm->id = (uint32_t)(n + 1);
		sm->arrival = (int64_t)(n * 7 % 5);
		sm->size = nbuf_avail(&h);
		struct nbuf enc;
		struct mime_tree_summary sum;
		struct imap_sort_fields fields;
		nbuf_init(&enc, 1 << 20);
		CHECK(mime_tree_encode(m, &enc) == 0);
		CHECK(mime_tree_summary(nbuf_head(&enc), nbuf_avail(&enc), &sum) == 0);
		memcpy(fields.env, sum.env, sizeof(fields.env));
		fields.refs = sum.references;
		if (sum.references.p != NULL) {
			/* at most MIME_REFS_MAX IDs */
			size_t ids = 1;
			for (size_t i = 0; i < sum.references.len; i++)
				ids += sum.references.p[i] == ' ';
			CHECK(ids <= MIME_REFS_MAX);
		}
		CHECK(imap_sort_keys(&a, &scratch, 0xff, &fields, sm) == 0);
		nbuf_deinit(&enc);
		mime_message_free(&m);
		nbuf_deinit(&h);
		n++;
	}
	for (int alg = 0; alg < 2; alg++) {
		struct nbuf o;
		nbuf_init(&o, 1 << 24);
		CHECK(imap_thread_run((enum imap_thread_alg)alg, msgs, n, &o) == 0);
		check_threads(nbuf_avail(&o) ? (const char *)nbuf_head(&o) : "", nbuf_avail(&o), n);
		nbuf_deinit(&o);
	}
	static const uint8_t keys[] = {SORT_K_ARRIVAL, SORT_K_CC,          SORT_K_DATE,
	                               SORT_K_FROM,    SORT_K_SIZE,        SORT_K_SUBJECT,
	                               SORT_K_TO,      SORT_K_DISPLAYFROM, SORT_K_DISPLAYTO};
	uint32_t order[MAXMSG];
	for (size_t k = 0; k < sizeof(keys); k++) {
		struct imap_sort_program p = {.n = 1};
		p.key[0] = keys[k];
		p.reverse[0] = (uint8_t)(k & 1);
		imap_sort_run(&p, msgs, n, order);
		unsigned char seen[MAXMSG] = {0};
		for (size_t i = 0; i < n; i++) {
			CHECK(order[i] < n && !seen[order[i]]);
			seen[order[i]] = 1;
		}
		for (size_t i = 1; i < n; i++) {
			const struct imap_sort_msg *x = &msgs[order[i - 1]], *y = &msgs[order[i]];
			if (keys[k] == SORT_K_SUBJECT) {
				int c = strcmp(x->subject, y->subject);
				CHECK(p.reverse[0] ? c >= 0 : c <= 0);
			} else if (keys[k] == SORT_K_DATE) {
				CHECK(p.reverse[0] ? x->date >= y->date : x->date <= y->date);
			}
		}
	}
	arena_deinit(&a);
	arena_deinit(&scratch);
	return 0;
}
