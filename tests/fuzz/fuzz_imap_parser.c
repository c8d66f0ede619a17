/*
 * Fuzz: the IMAP command parser. Each input is a client's byte stream,
 * run under small limits and under the defaults, whole and split in
 * chunks of 1, 3 and 61 bytes: every split must give the same
 * transcript (commands, continuation requests, errors, streamed literal
 * data). IDLE and AUTHENTICATE switch to raw line mode as a session does.
 * Sequence-set atoms of FETCH/STORE/COPY are parsed too and checked
 * (sorted, disjoint, format and parse again gives the same set).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/nbuf.h"
#include "node/lib/util.h"
#include "protocols/imap/parser.h"
#include "protocols/imap/seqset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	struct nbuf *log;
	struct nbuf data; /* logged at END only: after an error it is void */
	uint64_t got;
};

static int
fuzz_sink(void *ctx, enum imap_literal_event ev, const struct imap_literal_info *info,
          const unsigned char *data, size_t len, const char **error_r)
{
	struct sink *s = ctx;
	switch (ev) {
	case IMAP_LITERAL_BEGIN:
		nbuf_printf(s->log, "BEGIN %llu %d%d%d\n", (unsigned long long)info->size,
		            info->nonsync, info->literal8, info->must_stream);
		s->got = 0;
		nbuf_reset(&s->data);
		if (info->size % 13 == 5) {
			*error_r = "refused";
			return -1;
		}
		return info->must_stream || info->index % 2 ? IMAP_LITERAL_STREAM
		                                            : IMAP_LITERAL_INLINE;
	case IMAP_LITERAL_DATA:
		if (len == 0 || s->got + len > info->size)
			abort();
		if (nbuf_append(&s->data, data, len) != 0)
			abort();
		s->got += len;
		if (info->size % 7 == 3 && s->got >= 40) {
			*error_r = "disk full";
			return -1;
		}
		return 0;
	case IMAP_LITERAL_END:
		if (s->got != info->size || nbuf_avail(&s->data) != s->got)
			abort();
		nbuf_append(s->log, nbuf_head(&s->data), nbuf_avail(&s->data));
		nbuf_puts(s->log, "\nEND\n");
		return 0;
	}
	abort();
}

/* Walk the tree: every array ends with EOL where count says. */
static void
check_args(const struct imap_arg *args, size_t count, unsigned depth)
{
	if (depth > IMAP_DEPTH_HARD_MAX + 1)
		abort();
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];
		if (a->type == IMAP_ARG_EOL)
			abort();
		if ((a->type == IMAP_ARG_LIST || a->section))
			check_args(a->list, a->count, depth + 1);
		if (a->type == IMAP_ARG_ATOM && !a->section && a->len == 0)
			abort();
		if (a->str && strlen(a->str) > a->len)
			abort();
	}
	if (args[count].type != IMAP_ARG_EOL)
		abort();
}

static void
check_seqset(struct imap_parser *p, const struct imap_arg *a)
{
	const char *s, *error;
	struct imap_seqset set, again;
	struct nbuf out;
	if (!imap_arg_get_atom(a, &s))
		return;
	if (imap_seqset_parse(imap_parser_arena(p), s, a->len, 64, &set, &error) != 0)
		return;
	for (size_t i = 0; i < set.count; i++) {
		if (set.ranges[i].lo > set.ranges[i].hi || set.ranges[i].lo == 0)
			abort();
		if (i > 0 && set.ranges[i].lo <= (uint64_t)set.ranges[i - 1].hi + 1)
			abort();
		if (!imap_seqset_contains(&set, set.ranges[i].lo) ||
		    !imap_seqset_contains(&set, set.ranges[i].hi))
			abort();
	}
	nbuf_init(&out, 1 << 20);
	if (imap_seqset_format(&set, &out) != 0)
		abort();
	if (imap_seqset_parse(imap_parser_arena(p), (char *)nbuf_head(&out), nbuf_avail(&out), 64,
	                      &again, &error) != 0 ||
	    again.count != set.count || again.saved != set.saved ||
	    (set.count && memcmp(again.ranges, set.ranges, set.count * sizeof(*set.ranges))))
		abort();
	nbuf_deinit(&out);
	imap_seqset_resolve(&set, 100);
	imap_seqset_clip(&set, 100);
	if (imap_seqset_max(&set) > 100 || imap_seqset_count(&set) > 100)
		abort();
}

static void
log_cmd(struct imap_parser *p, struct imap_cmd *cmd, struct nbuf *log)
{
	nbuf_printf(log, "OK %s %d %s %zu ", cmd->tag, cmd->uid, cmd->name, cmd->argc);
	check_args(cmd->args, cmd->argc, 0);
	if (imap_args_format(cmd->args, IMAP_ARGS_FORMAT_LITERALS, log) != 0)
		abort();
	nbuf_puts(log, "\n");
	if (cmd->argc > 0 && (strcmp(cmd->name, "FETCH") == 0 || strcmp(cmd->name, "STORE") == 0 ||
	                      strcmp(cmd->name, "COPY") == 0))
		check_seqset(p, &cmd->args[0]);
}

/* One run; returns the transcript in log. */
static void
run(const struct imap_parser_limits *lim, const uint8_t *data, size_t size, size_t chunk,
    struct nbuf *log)
{
	struct imap_parser p;
	struct nbuf in;
	struct sink s = {.log = log};
	nbuf_init(&s.data, 1 << 28);
	imap_parser_init(&p, lim);
	imap_parser_set_sink(&p, fuzz_sink, &s);
	nbuf_init(&in, size + 1);
	size_t off = 0;
	int lines = 0; /* > 0: raw lines to read; -1: until "DONE" */
	for (;;) {
		size_t n = MIN(chunk, size - off);
		if (nbuf_append(&in, data + off, n) != 0)
			abort();
		off += n;
		for (;;) {
			int rc;
			struct imap_cmd *cmd = NULL;
			if (lines != 0) {
				const char *line;
				size_t len;
				rc = imap_parser_read_line(&p, &in, &line, &len);
				if (rc == IMAP_PARSE_DONE) {
					if (strlen(line) != len)
						abort();
					nbuf_printf(log, "LINE %s\n", line);
					if (lines > 0 || ascii_strcasecmp(line, "DONE") == 0)
						lines = lines > 0 ? lines - 1 : 0;
					continue;
				}
			} else {
				rc = imap_parser_next(&p, &in, &cmd);
			}
			if (rc == IMAP_PARSE_MORE) {
				if (nbuf_avail(&in) != 0)
					abort();
				break;
			}
			if (rc == IMAP_PARSE_CONTINUE) {
				nbuf_puts(log, "+\n");
				continue;
			}
			if (rc == IMAP_PARSE_DONE) {
				log_cmd(&p, cmd, log);
				if (strcmp(cmd->name, "IDLE") == 0)
					lines = -1;
				else if (strcmp(cmd->name, "AUTHENTICATE") == 0)
					lines = 1;
				continue;
			}
			if (rc != IMAP_PARSE_ERROR)
				abort();
			const struct imap_parser_error *e = imap_parser_error(&p);
			if (e->text == NULL || strpbrk(e->text, "\r\n"))
				abort();
			nbuf_printf(log, "ERR %d %s %d %s\n", e->code, e->tag ? e->tag : "*",
			            e->fatal, e->text);
			if (e->fatal)
				goto out;
			if (lines > 0)
				lines--;
		}
		if (off == size)
			break;
	}
	nbuf_printf(log, "END %d\n", imap_parser_in_command(&p));
out:
	nbuf_deinit(&s.data);
	nbuf_deinit(&in);
	imap_parser_deinit(&p);
}

static void
compare(const struct imap_parser_limits *lim, const uint8_t *data, size_t size)
{
	static const size_t chunks[] = {1, 3, 61};
	struct nbuf whole, part;
	nbuf_init(&whole, 1 << 26);
	run(lim, data, size, size + 1, &whole);
	for (size_t i = 0; i < ARRAY_SIZE(chunks); i++) {
		nbuf_init(&part, 1 << 26);
		run(lim, data, size, chunks[i], &part);
		if (nbuf_avail(&whole) != nbuf_avail(&part) ||
		    memcmp(nbuf_head(&whole), nbuf_head(&part), nbuf_avail(&part)) != 0) {
			fprintf(stderr, "chunk %zu differs:\n--- whole\n%.*s\n--- chunked\n%.*s\n",
			        chunks[i], (int)nbuf_avail(&whole), nbuf_head(&whole),
			        (int)nbuf_avail(&part), nbuf_head(&part));
			abort();
		}
		nbuf_deinit(&part);
	}
	nbuf_deinit(&whole);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits small, def;
	imap_parser_limits_init(&def, true);
	imap_parser_limits_init(&small, false);
	small.line_max = 200;
	small.tag_max = 8;
	small.depth_max = 4;
	small.argc_max = 32;
	small.literal_count_max = 4;
	small.literal_max = 64;
	small.append_literal_max = 256;
	small.literal_total_max = 300;
	small.nonsync_max = 48;
	small.literal_skip_max = 128;
	small.inline_max = 16;
	small.arena_max = 6000;
	compare(&small, data, size);
	compare(&def, data, size);
	return 0;
}
