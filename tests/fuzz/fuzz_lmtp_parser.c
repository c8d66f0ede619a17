/*
 * Fuzz the LMTP command-line parser with arbitrary lines.
 *
 * Input: a command line (no CRLF; at most LMTP_LINE_MAX bytes are used,
 * as the session would). The line goes through the verb split and, by its
 * verb, the MAIL, RCPT or BDAT parser; the first byte's low bit also runs
 * RCPT with SMTPUTF8. Invariants checked: arguments stay inside the line,
 * parsed addresses are NUL-terminated within LMTP_PATH_MAX and hold no
 * control characters or '<' '>' outside quotes, refusals come with a
 * 5xx reply, and BDAT sizes respect LMTP_BDAT_SIZE_MAX.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/lmtp/lmtp_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_address(const char *a)
{
	size_t n = strnlen(a, LMTP_PATH_MAX + 1);
	if (n > LMTP_PATH_MAX)
		abort();
	int quoted = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];
		if (c == '"' && (i == 0 || a[i - 1] != '\\'))
			quoted = !quoted;
		if (c < 32 || c == 127)
			abort();
		if (!quoted && (c == '<' || c == '>' || c == ' '))
			abort();
	}
}

static void
check_reply(int rc, const char *reply)
{
	if (rc == 0)
		return;
	if (rc != -1 || reply == NULL || reply[0] != '5' || strlen(reply) < 9)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > LMTP_LINE_MAX)
		size = LMTP_LINE_MAX;
	/* A private copy, so that ASan catches reads past the line. */
	char *line = malloc(size ? size : 1);
	memcpy(line, data, size);
	enum lmtp_verb verb;
	const char *arg;
	size_t alen;
	lmtp_parse_verb(line, size, &verb, &arg, &alen);
	if (arg < line || arg + alen > line + size)
		abort();
	const char *reply = NULL;
	int rc;
	switch (verb) {
	case LMTP_V_MAIL: {
		struct lmtp_mail m;
		rc = lmtp_parse_mail(arg, alen, &m, &reply);
		check_reply(rc, reply);
		if (rc == 0)
			check_address(m.address);
		break;
	}
	case LMTP_V_RCPT: {
		struct lmtp_rcpt r;
		rc = lmtp_parse_rcpt(arg, alen, size > 0 && (data[0] & 1), &r, &reply);
		check_reply(rc, reply);
		if (rc == 0)
			check_address(r.address);
		break;
	}
	case LMTP_V_BDAT: {
		uint64_t n;
		int last;
		if (lmtp_parse_bdat(arg, alen, &n, &last) == 0 &&
		    (n > LMTP_BDAT_SIZE_MAX || (last != 0 && last != 1)))
			abort();
		break;
	}
	default: {
		/* Anything else: run every parser on the whole line anyway. */
		struct lmtp_mail m;
		struct lmtp_rcpt r;
		uint64_t n;
		int last;
		check_reply(lmtp_parse_mail(line, size, &m, &reply), reply);
		check_reply(lmtp_parse_rcpt(line, size, 1, &r, &reply), reply);
		lmtp_parse_bdat(line, size, &n, &last);
		break;
	}
	}
	free(line);
	return 0;
}
