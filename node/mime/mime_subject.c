/*
 * mime_subject: the RFC 5256 §2.1 base subject, for SORT SUBJECT and
 * THREAD=ORDEREDSUBJECT / REFERENCES.
 *
 * Steps, as numbered in §2.1: (1) decode encoded words to UTF-8, turn tabs
 * and line breaks into spaces and runs of spaces into one; (2) strip
 * trailing "(fwd)" and blanks; (3) strip leading subj-leaders (blanks,
 * "[blob]"s followed by "re:", "fw:", "fwd:", optionally "re[blob]:");
 * (4) strip a leading "[blob]" unless nothing would remain; (5) repeat 3-4;
 * (6) unwrap "[fwd: ... ]" and go back to 2. Keywords match without case.
 *
 * XXX RFC 5256 §5: BLOBCHAR excludes 8-bit characters; like Dovecot we let
 * any character but '[' and ']' into a blob, so "[Süd] Re: x" gives "x".
 */
#include "node/mime/mime_int.h"

#include <string.h>

#include "node/lib/util.h"

struct mime_subj {
	const char *s;
	size_t start, end;
	int reply;
};

/* subj-blob at i: "[" *BLOBCHAR "]" *WSP. Returns the index after, or i. */
static size_t
mime_subj_blob(const struct mime_subj *b, size_t i)
{
	if (i >= b->end || b->s[i] != '[')
		return i;
	size_t j = i + 1;
	while (j < b->end && b->s[j] != '[' && b->s[j] != ']')
		j++;
	if (j >= b->end || b->s[j] != ']')
		return i;
	for (j++; j < b->end && b->s[j] == ' ';)
		j++;
	return j;
}

static int
mime_subj_kw(const struct mime_subj *b, size_t i, const char *kw)
{
	size_t n = strlen(kw);
	return b->end - i >= n && ascii_strncasecmp(b->s + i, kw, n) == 0;
}

/* Step 3: one subj-leader at the start. Returns 1 if removed. */
static int
mime_subj_leader(struct mime_subj *b)
{
	if (b->start < b->end && b->s[b->start] == ' ') {
		b->start++;
		return 1;
	}
	size_t i = b->start, j;
	while ((j = mime_subj_blob(b, i)) != i)
		i = j;
	if (mime_subj_kw(b, i, "re"))
		i += 2;
	else if (mime_subj_kw(b, i, "fwd"))
		i += 3;
	else if (mime_subj_kw(b, i, "fw"))
		i += 2;
	else
		return 0;
	while (i < b->end && b->s[i] == ' ')
		i++;
	i = mime_subj_blob(b, i);
	if (i >= b->end || b->s[i] != ':')
		return 0;
	b->start = i + 1;
	b->reply = 1;
	return 1;
}

/* Step 4: a leading blob, when a non-empty subj-base remains. */
static int
mime_subj_blob_prefix(struct mime_subj *b)
{
	size_t j = mime_subj_blob(b, b->start);
	if (j == b->start)
		return 0;
	for (size_t k = j; k < b->end; k++)
		if (b->s[k] != ' ') {
			b->start = j;
			return 1;
		}
	return 0;
}

static void
mime_subj_trailers(struct mime_subj *b)
{
	for (;;) {
		if (b->end > b->start && b->s[b->end - 1] == ' ') {
			b->end--;
		} else if (b->end - b->start >= 5 &&
		           ascii_strncasecmp(b->s + b->end - 5, "(fwd)", 5) == 0) {
			b->end -= 5;
			b->reply = 1;
		} else {
			return;
		}
	}
}

int
mime_base_subject(const char *s, size_t len, struct nbuf *out, int *reply_r)
{
	struct nbuf dec;
	nbuf_init(&dec, 4 * len + 16);
	int rc = mime_decode_words(s, len, &dec);
	if (rc != 0)
		goto err_after_dec;
	/* step 1: blanks */
	char *t = (char *)(dec.data ? dec.data + dec.pos : NULL);
	size_t n = 0, dn = nbuf_avail(&dec);
	for (size_t i = 0; i < dn; i++) {
		char c = t[i];
		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (c == ' ' && n > 0 && t[n - 1] == ' ')
			continue;
		t[n++] = c;
	}
	struct mime_subj b = {t ? t : "", 0, n, 0};
	for (;;) {
		mime_subj_trailers(&b);
		int changed;
		do {
			changed = 0;
			while (mime_subj_leader(&b))
				changed = 1;
			changed |= mime_subj_blob_prefix(&b);
		} while (changed);
		if (b.end - b.start >= 6 && mime_subj_kw(&b, b.start, "[fwd:") &&
		    b.s[b.end - 1] == ']') {
			b.start += 5;
			b.end--;
			b.reply = 1;
			continue;
		}
		break;
	}
	rc = nbuf_append(out, b.s + b.start, b.end - b.start);
	if (reply_r != NULL)
		*reply_r = b.reply;
err_after_dec:
	nbuf_deinit(&dec);
	return rc;
}
