/*
 * Fuzz: the SEARCH engine. Each input is the argument text of a SEARCH
 * command; it goes through the IMAP parser, then imap_search_parse(), and
 * a program that is accepted is evaluated on fixed messages and records:
 * the answer must be 0 or 1, the same with the cached tree, without it and
 * with a decoded cached tree, and the record-only answer must agree when
 * it decides. An input starting with 0xff is a differential test of the
 * matcher instead: its next bytes pick a slice of the decoded text of a
 * 200 KB quoted-printable message (mixed scripts, so chunk and slice
 * boundaries fall inside characters' neighbourhoods); BODY with that slice,
 * case changed where the input says, must match.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"
#include "node/mime/mime.h"
#include "protocols/imap/parser.h"
#include "protocols/imap/search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const messages[] = {
        "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <pirard@example.be>\r\n"
        "To: =?KOI8-R?B?8MXU0s/X?= <petrov@example.ru>, b@example.com\r\n"
        "Cc: c@example.com\r\n"
        "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen?=\r\n"
        "Date: Tue, 1 Jul 2003 00:30:00 +0200\r\n"
        "X-Tuid: abc123\r\n"
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
        "\r\n"
        "--b\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "=C4=D6=DC hello world\r\n"
        "--b\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "zqPOv8+Gzq/OsSDOn86Uzp/OoyDOv860zr/PggoK\r\n"
        "--b--\r\n",
        "Subject: plain\r\n\r\nJust text.\r\n",
        "",
};

/* The differential message: built once. */
static char *big;
static size_t big_len;
static struct nbuf big_text;  /* its decoded text, parts joined */
static size_t big_part2;      /* where the second part's text starts */
static size_t big_chunks[64]; /* where each mime_text_walk chunk starts */
static size_t big_nchunks;

static int
collect_cb(void *ctx, const struct mime_part *part, const char *text, size_t len)
{
	static const struct mime_part *last;
	if (part != last && last != NULL)
		big_part2 = nbuf_avail(&big_text);
	last = part;
	if (big_nchunks < 64)
		big_chunks[big_nchunks++] = nbuf_avail(&big_text);
	nbuf_append(&big_text, text, len);
	return 0;
}

static void
big_init(void)
{
	static const char *const words[] = {"Stra\xc3\x9f\x65 ",
	                                    "\xce\xa3\xce\xbf\xcf\x86\xce\xaf\xce\xb1 ",
	                                    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 ",
	                                    "\xe5\xb1\xb1\xe7\x94\xb0 ",
	                                    "Quick brown fox ",
	                                    "\xc3\x84\xc3\x96\xc3\x9c ",
	                                    "K\xc4\xb0K\n"};
	struct nbuf b;
	nbuf_init(&b, 1 << 24);
	nbuf_puts(&b, "Subject: big\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n");
	for (int part = 0; part < 2; part++) {
		nbuf_puts(&b, "--x\r\nContent-Type: text/plain; charset=utf-8\r\n"
		              "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
		size_t col = 0;
		uint32_t x = 1 + (uint32_t)part;
		while (nbuf_avail(&b) < (size_t)(part + 1) * 100000) {
			/* words in a pseudo-random order: longer slices are unique,
			 * so a missed match cannot hide behind another copy */
			x = x * 1103515245u + 12345u;
			const char *w = words[(x >> 16) % 7];
			for (; *w; w++) {
				unsigned char c = (unsigned char)*w;
				char tmp[4];
				int n = c == '\n' ? 2 : (c >= 0x80 || c == '=') ? 3 : 1;
				if (col + (size_t)n > 75) {
					nbuf_puts(&b, "=\r\n");
					col = 0;
				}
				if (c == '\n') {
					nbuf_puts(&b, "\r\n");
					col = 0;
					continue;
				}
				if (n == 3)
					snprintf(tmp, sizeof(tmp), "=%02X", c);
				else
					tmp[0] = (char)c, tmp[1] = 0;
				nbuf_puts(&b, tmp);
				col += (size_t)n;
			}
		}
		nbuf_puts(&b, "\r\n");
	}
	nbuf_puts(&b, "--x--\r\n");
	big = (char *)nbuf_steal(&b, &big_len);
	struct mime_message *m;
	if (mime_parse(big, big_len, NULL, &m) != 0)
		abort();
	nbuf_init(&big_text, 1 << 24);
	mime_text_walk(m, big, big_len, collect_cb, NULL);
	mime_message_free(&m);
}

static void
differential(const uint8_t *data, size_t size)
{
	if (big == NULL)
		big_init();
	const char *t = (const char *)nbuf_head(&big_text);
	size_t tl = nbuf_avail(&big_text);
	size_t off = ((size_t)data[1] << 16 | (size_t)data[2] << 8 | data[3]) % tl;
	if (data[1] & 1) {
		/* just before where the matcher cuts a chunk into slices, the
		 * places an overlap mistake shows */
		size_t base = big_chunks[data[2] % big_nchunks] + 8192 * (size_t)(data[2] >> 5);
		off = (base > data[3] % 80 ? base - data[3] % 80 : 0) % tl;
	}
	size_t len = 1 + data[4] % 64;
	while (off > 0 && ((unsigned char)t[off] & 0xc0) == 0x80)
		off--;
	if (off + len > tl)
		len = tl - off;
	while (off + len < tl && ((unsigned char)t[off + len] & 0xc0) == 0x80)
		len++;
	/* never across the two parts */
	if (off < big_part2 && off + len > big_part2)
		len = big_part2 - off;
	if (len == 0)
		return;
	char needle[128];
	memcpy(needle, t + off, len);
	for (size_t i = 5; i < size && i - 5 < len; i++)
		if (data[i] & 1)
			needle[i - 5] = (char)ascii_toupper((unsigned char)needle[i - 5]);
	struct imap_arg args[3] = {{.type = IMAP_ARG_ATOM, .str = "BODY", .len = 4},
	                           {.type = IMAP_ARG_QUOTED, .str = needle, .len = len},
	                           {.type = IMAP_ARG_EOL}};
	struct arena a;
	struct imap_search *s;
	const char *error, *code;
	arena_init(&a, 1 << 20);
	if (imap_search_parse(&a, args, 2, &s, &error, &code) != 0)
		abort();
	struct store_msg rec = {.uid = 1, .size = big_len};
	struct imap_search_msg m = {.seq = 1, .rec = &rec, .bytes = big, .len = big_len};
	struct imap_search_ctx ctx = {.max_seq = 1, .max_uid = 1};
	if (imap_search_match(s, &ctx, &m) != 1)
		abort();
	arena_deinit(&a);
}

static void
run_program(const struct imap_search *s)
{
	struct cmd_str kw[2] = {{"$Junk", 5}, {"Work", 4}};
	struct imap_seqset saved;
	struct arena a;
	uint32_t uids[] = {3, 5};
	arena_init(&a, 0);
	if (imap_seqset_from_array(&a, uids, 2, &saved) != 0)
		abort();
	for (size_t k = 0; k < sizeof(messages) / sizeof(messages[0]); k++) {
		const char *msg = messages[k];
		size_t len = strlen(msg);
		struct mime_message *tree, *decoded = NULL;
		struct nbuf enc;
		if (mime_parse(msg, len, NULL, &tree) != 0)
			abort();
		nbuf_init(&enc, 1 << 24);
		if (mime_tree_encode(tree, &enc) != 0 ||
		    mime_tree_decode(nbuf_head(&enc), nbuf_avail(&enc), &decoded) != 0)
			abort();
		for (uint32_t r = 0; r < 4; r++) {
			struct store_msg rec = {.uid = 3 + r,
			                        .flags = (r * 11) & MSG_FLAGS_ALL,
			                        .keywords = r,
			                        .modseq = r,
			                        .internaldate = 1057017600 + (int64_t)r * 43200,
			                        .size = len};
			struct imap_search_msg m = {.seq = 1 + r,
			                            .rec = &rec,
			                            .keywords = kw,
			                            .nkeywords = 2,
			                            .recent = (int)(r & 1),
			                            .bytes = msg,
			                            .len = len};
			struct imap_search_ctx ctx = {
			        .max_seq = 4, .max_uid = 6, .saved = r & 2 ? &saved : NULL};
			const struct mime_message *trees[3] = {tree, NULL, decoded};
			int first = -2;
			for (int t = 0; t < 3; t++) {
				m.tree = trees[t];
				int v = imap_search_match(s, &ctx, &m);
				if (v != 0 && v != 1)
					abort();
				if (first != -2 && v != first)
					abort();
				first = v;
			}
			int pre = imap_search_match_record(s, &ctx, &m);
			if (pre != IMAP_SEARCH_UNDECIDED && pre != first)
				abort();
			/* a program that reads nothing always decides */
			if (pre == IMAP_SEARCH_UNDECIDED &&
			    !(imap_search_needs(s) & (SEARCH_NEED_HEADER | SEARCH_NEED_BODY)))
				abort();
			m.bytes = NULL;
			m.tree = NULL;
			int v = imap_search_match(s, &ctx, &m);
			if (pre != IMAP_SEARCH_UNDECIDED ? v != pre : v != -1)
				abort();
		}
		nbuf_deinit(&enc);
		mime_message_free(&decoded);
		mime_message_free(&tree);
	}
	arena_deinit(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16384)
		return 0;
	if (size >= 5 && data[0] == 0xff) {
		differential(data, size);
		return 0;
	}
	struct imap_parser p;
	struct imap_parser_limits lim;
	struct nbuf in;
	struct imap_cmd *cmd;
	imap_parser_limits_init(&lim, true);
	lim.depth_max = IMAP_DEPTH_HARD_MAX;
	imap_parser_init(&p, &lim);
	nbuf_init(&in, 32768);
	nbuf_puts(&in, "A1 SEARCH ");
	nbuf_append(&in, data, size);
	nbuf_puts(&in, "\r\n");
	int rc = imap_parser_next(&p, &in, &cmd);
	nbuf_deinit(&in);
	if (rc != IMAP_PARSE_DONE) {
		imap_parser_deinit(&p);
		return 0;
	}
	struct arena a;
	struct imap_search *s;
	const char *error = NULL, *code = NULL;
	arena_init(&a, 1 << 24);
	rc = imap_search_parse(&a, cmd->args, cmd->argc, &s, &error, &code);
	/* the program must not need the arguments any more: free them */
	imap_parser_deinit(&p);
	if (rc == 0)
		run_program(s);
	else if (error == NULL || strpbrk(error, "\r\n") != NULL)
		abort();
	arena_deinit(&a);
	return 0;
}
