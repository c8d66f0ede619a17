/*
 * mime_bodystructure: FETCH BODY and BODYSTRUCTURE (RFC 3501 §7.4.2,
 * RFC 9051 §7.5.2) from a part tree.
 *
 * Happy path, non-multipart: type subtype params id description encoding
 * size, then for MESSAGE/RFC822 the envelope, body and lines of the
 * encapsulated message, for TEXT types the lines; BODYSTRUCTURE adds md5,
 * disposition, language and location. Multipart: the children with no
 * space between them, the subtype, and for BODYSTRUCTURE params,
 * disposition, language, location.
 *
 * Conventions (those of the RFC 3501 examples): types, subtypes,
 * encodings, disposition types and parameter names upper-case; values as
 * in the message; a text part without a charset gets ("CHARSET"
 * "US-ASCII") (RFC 2045 §5.2); an RFC 2231 extended parameter is named
 * "NAME*" (RFC 9051 §7.5.2); languages always a list. A multipart with no
 * body parts (its boundary never seen) shows one empty text/plain part, as
 * the grammar needs at least one (Dovecot does the same).
 */
#include "node/mime/mime_int.h"

#include <string.h>

#include "node/lib/util.h"

#define MIME_EMPTY_PART "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0"

static int
mime_params_write(struct nbuf *out, const struct mime_param *params, unsigned n,
                  int default_charset)
{
	int rc;
	if (n == 0 && !default_charset)
		return nbuf_append(out, "NIL", 3);
	if ((rc = nbuf_append(out, "(", 1)) != 0)
		return rc;
	const char *sep = "";
	if (default_charset) {
		if ((rc = nbuf_puts(out, "\"CHARSET\" \"US-ASCII\"")) != 0)
			return rc;
		sep = " ";
	}
	for (unsigned i = 0; i < n; i++) {
		if ((rc = nbuf_puts(out, sep)) != 0 ||
		    (rc = mime__imap_upper(out, params[i].name, params[i].extended ? "*" : NULL)) !=
		            0 ||
		    (rc = nbuf_append(out, " ", 1)) != 0 ||
		    (rc = mime__imap_nstring(out, params[i].value)) != 0)
			return rc;
		sep = " ";
	}
	return nbuf_append(out, ")", 1);
}

/* SP disposition SP language SP location */
static int
mime_ext_tail_write(struct nbuf *out, const struct mime_part *p)
{
	int rc;
	if ((rc = nbuf_append(out, " ", 1)) != 0)
		return rc;
	if (p->disposition == NULL) {
		rc = nbuf_append(out, "NIL", 3);
	} else if ((rc = nbuf_append(out, "(", 1)) == 0 &&
	           (rc = mime__imap_upper(out, p->disposition, NULL)) == 0 &&
	           (rc = nbuf_append(out, " ", 1)) == 0 &&
	           (rc = mime_params_write(out, p->disp_params, p->ndisp_params, 0)) == 0) {
		rc = nbuf_append(out, ")", 1);
	}
	if (rc != 0 || (rc = nbuf_append(out, " ", 1)) != 0)
		return rc;
	if (p->nlanguages == 0) {
		rc = nbuf_append(out, "NIL", 3);
	} else {
		for (unsigned i = 0; i < p->nlanguages && rc == 0; i++)
			if ((rc = nbuf_append(out, i ? " " : "(", 1)) == 0)
				rc = mime__imap_nstring(out, p->languages[i]);
		if (rc == 0)
			rc = nbuf_append(out, ")", 1);
	}
	if (rc != 0 || (rc = nbuf_append(out, " ", 1)) != 0)
		return rc;
	return mime__imap_nstring(out, p->location);
}

static int mime_body_write(const struct mime_part *p, struct nbuf *out, int ext);

static int
mime_multipart_write(const struct mime_part *p, struct nbuf *out, int ext)
{
	int rc;
	if ((rc = nbuf_append(out, "(", 1)) != 0)
		return rc;
	if (p->children == NULL) {
		if ((rc = nbuf_puts(out, MIME_EMPTY_PART)) != 0 ||
		    (ext && (rc = nbuf_puts(out, " NIL NIL NIL NIL")) != 0) ||
		    (rc = nbuf_append(out, ")", 1)) != 0)
			return rc;
	}
	for (const struct mime_part *c = p->children; c != NULL; c = c->next)
		if ((rc = mime_body_write(c, out, ext)) != 0)
			return rc;
	if ((rc = nbuf_append(out, " ", 1)) != 0 || (rc = mime__imap_upper(out, p->subtype, NULL)))
		return rc;
	if (ext && ((rc = nbuf_append(out, " ", 1)) != 0 ||
	            (rc = mime_params_write(out, p->params, p->nparams, 0)) != 0 ||
	            (rc = mime_ext_tail_write(out, p)) != 0))
		return rc;
	return nbuf_append(out, ")", 1);
}

static int
mime_body_write(const struct mime_part *p, struct nbuf *out, int ext)
{
	int rc;
	if (p->flags & MIME_PART_MULTIPART)
		return mime_multipart_write(p, out, ext);
	int text = strcmp(p->type, "text") == 0;
	int charset = text && mime_param_get(p->params, p->nparams, "charset") == NULL;
	if ((rc = nbuf_append(out, "(", 1)) != 0 || (rc = mime__imap_upper(out, p->type, NULL)) ||
	    (rc = nbuf_append(out, " ", 1)) != 0 ||
	    (rc = mime__imap_upper(out, p->subtype, NULL)) != 0 ||
	    (rc = nbuf_append(out, " ", 1)) != 0 ||
	    (rc = mime_params_write(out, p->params, p->nparams, charset)) != 0 ||
	    (rc = nbuf_append(out, " ", 1)) != 0 || (rc = mime__imap_nstring(out, p->id)) != 0 ||
	    (rc = nbuf_append(out, " ", 1)) != 0 ||
	    (rc = mime__imap_nstring(out, p->description)) != 0 ||
	    (rc = nbuf_append(out, " ", 1)) != 0 ||
	    (rc = mime__imap_upper(out, p->encoding ? p->encoding : "7bit", NULL)) != 0 ||
	    (rc = nbuf_printf(out, " %zu", p->body.len)) != 0)
		return rc;
	if ((p->flags & MIME_PART_MESSAGE) && p->children != NULL) {
		const struct mime_part *c = p->children;
		if ((rc = nbuf_append(out, " ", 1)) != 0 ||
		    (rc = mime__envelope_write(c->envelope, out)) != 0 ||
		    (rc = nbuf_append(out, " ", 1)) != 0 ||
		    (rc = mime_body_write(c, out, ext)) != 0 ||
		    (rc = nbuf_printf(out, " %zu", p->lines)) != 0)
			return rc;
	} else if (text && (rc = nbuf_printf(out, " %zu", p->lines)) != 0) {
		return rc;
	}
	if (ext &&
	    ((rc = nbuf_append(out, " ", 1)) != 0 || (rc = mime__imap_nstring(out, p->md5)) != 0 ||
	     (rc = mime_ext_tail_write(out, p)) != 0))
		return rc;
	return nbuf_append(out, ")", 1);
}

int
mime_bodystructure_write(const struct mime_message *m, struct nbuf *out, int extended)
{
	return mime_body_write(m->root, out, extended);
}
