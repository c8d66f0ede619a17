/*
 * mime_msgid: message identifiers (RFC 5322 §3.6.4 msg-id, with the
 * obsolete forms of §4.5.4) as THREAD=REFERENCES reads them (RFC 5256 §3:
 * Message-ID, In-Reply-To, References).
 *
 * Happy path: "<a@b> (comment) <c@d>" yields "<a@b>", then "<c@d>": each
 * identifier is the text from '<' to the next '>' with blanks and line
 * breaks removed (obsolete CFWS around the '@' and folding), brackets kept,
 * so that the same identifier written two ways compares equal byte for
 * byte (RFC 5256 §3: comparisons are case-sensitive). Comments and phrases
 * between identifiers (In-Reply-To often carries "Joe's message of ...")
 * are skipped.
 *
 * The References field is kept in the cached tree (mime_tree.c) in a
 * normalised, bounded form: its valid identifiers joined by one blank, at
 * most MIME_REFS_MAX of them: when there are more, the first and the last
 * MIME_REFS_MAX - 1, which keeps the thread's root and the message's
 * nearest ancestors (RFC 5322 §3.6.4 suggests trimming the same way).
 *
 * Bad input: an identifier longer than MIME_MSGID_MAX, an empty "<>", a
 * '<' without its '>' and one with a NUL or a second '<' inside are not
 * valid identifiers and are skipped; the scan always advances, so it ends.
 */
#include "node/mime/mime_int.h"

#include <string.h>

#include "node/lib/util.h"

int
mime_msgid_next(const char *s, size_t len, size_t *pos, struct nbuf *out)
{
	size_t i = *pos;
	while (i < len) {
		if (s[i] == '(') {
			i = mime__comment(s, len, i, NULL);
			continue;
		}
		if (s[i] == '"') {
			i = mime__quoted(s, len, i, NULL);
			continue;
		}
		if (s[i] != '<') {
			i++;
			continue;
		}
		/* '<' ... '>' with blanks removed */
		char id[MIME_MSGID_MAX + 1];
		size_t n = 0, j = i + 1;
		int ok = 1;
		id[n++] = '<';
		for (; j < len && s[j] != '>'; j++) {
			char c = s[j];
			if (c == '<' || c == '\0') {
				ok = 0;
				break;
			}
			if (mime__is_lwsp((unsigned char)c))
				continue;
			if (n >= MIME_MSGID_MAX - 1) {
				ok = 0;
				continue;
			}
			id[n++] = c;
		}
		if (j >= len || s[j] != '>') {
			/* unterminated, or a '<' inside: go on from that '<' */
			i = j < len ? j : len;
			continue;
		}
		i = j + 1;
		if (!ok || n == 1)
			continue;
		id[n++] = '>';
		*pos = i;
		int rc = nbuf_append(out, id, n);
		return rc < 0 ? rc : 1;
	}
	*pos = len;
	return 0;
}

int
mime_references_normalize(const char *v, size_t len, struct nbuf *out)
{
	struct nbuf id;
	/* where each kept identifier starts in out, to drop the middle ones */
	size_t start = nbuf_avail(out), ends[MIME_REFS_MAX];
	unsigned n = 0;
	size_t pos = 0;
	int rc;
	nbuf_init(&id, MIME_MSGID_MAX + 1);
	while ((rc = mime_msgid_next(v, len, &pos, &id)) == 1) {
		if (n == MIME_REFS_MAX) {
			/* keep the first; drop the second; shift the rest down */
			unsigned char *base = (unsigned char *)nbuf_head(out) + start;
			size_t cut_lo = ends[0], cut_hi = ends[1];
			size_t total = nbuf_avail(out) - start;
			memmove(base + cut_lo, base + cut_hi, total - cut_hi);
			out->len -= cut_hi - cut_lo;
			for (unsigned k = 1; k + 1 < MIME_REFS_MAX; k++)
				ends[k] = ends[k + 1] - (cut_hi - cut_lo);
			n--;
		}
		if ((n > 0 && (rc = nbuf_append(out, " ", 1)) != 0) ||
		    (rc = nbuf_append(out, nbuf_head(&id), nbuf_avail(&id))) != 0)
			break;
		ends[n++] = nbuf_avail(out) - start;
		nbuf_reset(&id);
	}
	nbuf_deinit(&id);
	return rc < 0 ? rc : 0;
}

char *
mime__references_dup(struct arena *a, const char *v, size_t n)
{
	struct nbuf out;
	nbuf_init(&out, MIME_REFS_MAX * (MIME_MSGID_MAX + 1));
	char *p = NULL;
	if (mime_references_normalize(v, n, &out) == 0 && nbuf_avail(&out) > 0)
		p = mime__strndup(a, mime__nbuf_str(&out), nbuf_avail(&out));
	nbuf_deinit(&out);
	return p;
}
