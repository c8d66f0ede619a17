/*
 * mime_part: what one header field means for a part (RFC 2045 §5-§8,
 * RFC 2183, RFC 3282, RFC 2557, RFC 1864) and for the message's ENVELOPE
 * (RFC 3501 §7.4.2), plus part defaults and small part queries.
 *
 * Happy path: the parser hands every field of a part header here; the
 * first occurrence of each field we know is kept (duplicates are ignored,
 * as the RFCs allow at most one), MIME fields parsed, envelope fields
 * stored unfolded and raw.
 *
 * Bad input: an invalid Content-Type still counts as the part's
 * Content-Type and leaves the RFC 2045 §5.2 default (text/plain; in a
 * multipart/digest, message/rfc822, RFC 2046 §5.1.5); an invalid encoding
 * means 7bit; an invalid disposition is absent.
 */
#include "node/mime/mime_int.h"

#include <string.h>

#include "node/lib/util.h"

enum mime_field_id {
	MIME_FLD_CTYPE,
	MIME_FLD_CTE,
	MIME_FLD_ID,
	MIME_FLD_DESC,
	MIME_FLD_DISP,
	MIME_FLD_LANG,
	MIME_FLD_LOC,
	MIME_FLD_MD5,
	MIME_FLD_REFS,
	MIME_FLD_ENV, /* + enum mime_env_field */
};

/* Per-field "seen" marks kept in part->flags while the header is read. */
#define MIME_SEEN_SHIFT 8
#define MIME_SEEN_MASK  (0x1ffu << MIME_SEEN_SHIFT)

static const struct {
	const char *name;
	int id;
} mime_fields[] = {
        {"content-type", MIME_FLD_CTYPE},
        {"content-transfer-encoding", MIME_FLD_CTE},
        {"content-id", MIME_FLD_ID},
        {"content-description", MIME_FLD_DESC},
        {"content-disposition", MIME_FLD_DISP},
        {"content-language", MIME_FLD_LANG},
        {"content-location", MIME_FLD_LOC},
        {"content-md5", MIME_FLD_MD5},
        {"date", MIME_FLD_ENV + MIME_ENV_DATE},
        {"subject", MIME_FLD_ENV + MIME_ENV_SUBJECT},
        {"from", MIME_FLD_ENV + MIME_ENV_FROM},
        {"sender", MIME_FLD_ENV + MIME_ENV_SENDER},
        {"reply-to", MIME_FLD_ENV + MIME_ENV_REPLY_TO},
        {"to", MIME_FLD_ENV + MIME_ENV_TO},
        {"cc", MIME_FLD_ENV + MIME_ENV_CC},
        {"bcc", MIME_FLD_ENV + MIME_ENV_BCC},
        {"in-reply-to", MIME_FLD_ENV + MIME_ENV_IN_REPLY_TO},
        {"message-id", MIME_FLD_ENV + MIME_ENV_MESSAGE_ID},
        {"references", MIME_FLD_REFS},
};

static int
mime_field_lookup(const char *name, size_t nlen)
{
	for (size_t i = 0; i < ARRAY_SIZE(mime_fields); i++)
		if (strlen(mime_fields[i].name) == nlen &&
		    ascii_strncasecmp(name, mime_fields[i].name, nlen) == 0)
			return mime_fields[i].id;
	return -1;
}

void
mime__part_field(const struct mime__fctx *c, struct mime_part *p, struct mime_envelope *env,
                 const char *name, size_t nlen, const char *value, size_t vlen)
{
	int id = mime_field_lookup(name, nlen);
	if (id < 0)
		return;
	if (id >= MIME_FLD_ENV) {
		if (env != NULL && env->field[id - MIME_FLD_ENV] == NULL)
			env->field[id - MIME_FLD_ENV] = mime__unfold_dup(c->a, value, vlen);
		return;
	}
	if (id == MIME_FLD_REFS) {
		/* the first References field of a message header (RFC 5256 §3) */
		unsigned seen = 1u << (MIME_SEEN_SHIFT + (unsigned)id);
		if (env != NULL && !(p->flags & seen))
			env->references = mime__references_dup(c->a, value, vlen);
		p->flags |= seen;
		return;
	}
	unsigned seen = 1u << (MIME_SEEN_SHIFT + (unsigned)id);
	if (p->flags & seen)
		return;
	p->flags |= seen;
	struct mime__pctx pc = {c->a, c->lim->max_params, c->flags};
	const char *v = mime__unfold_dup(c->a, value, vlen);
	size_t n = strlen(v);
	switch ((enum mime_field_id)id) {
	case MIME_FLD_CTYPE:
		if (mime__ctype_parse(&pc, v, n, &p->type, &p->subtype, &p->params, &p->nparams) <
		    0)
			p->type = p->subtype = NULL;
		break;
	case MIME_FLD_CTE:
		p->encoding = mime__encoding_parse(c->a, v, n);
		break;
	case MIME_FLD_ID:
		p->id = v;
		break;
	case MIME_FLD_DESC:
		p->description = v;
		break;
	case MIME_FLD_DISP:
		if (mime__disposition_parse(&pc, v, n, &p->disposition, &p->disp_params,
		                            &p->ndisp_params) < 0)
			p->disposition = NULL;
		break;
	case MIME_FLD_LANG:
		mime__language_parse(&pc, v, n, &p->languages, &p->nlanguages);
		break;
	case MIME_FLD_LOC:
		p->location = v;
		break;
	case MIME_FLD_MD5:
		p->md5 = v;
		break;
	case MIME_FLD_REFS:
	case MIME_FLD_ENV:
		break;
	}
}

void
mime__part_defaults(struct mime_part *p, const struct mime_part *parent)
{
	p->flags &= ~MIME_SEEN_MASK;
	if (p->type != NULL)
		return;
	if (parent != NULL && (parent->flags & MIME_PART_MULTIPART) &&
	    strcmp(parent->subtype, "digest") == 0) {
		p->type = "message";
		p->subtype = "rfc822";
	} else {
		p->type = "text";
		p->subtype = "plain";
	}
	p->params = NULL;
	p->nparams = 0;
}

const char *
mime_param_get(const struct mime_param *params, unsigned n, const char *name)
{
	const char *plain = NULL;
	for (unsigned i = 0; i < n; i++) {
		if (ascii_strcasecmp(params[i].name, name) != 0)
			continue;
		if (params[i].extended)
			return params[i].value;
		if (plain == NULL)
			plain = params[i].value;
	}
	return plain;
}

const char *
mime_part_charset(const struct mime_part *p)
{
	const char *cs = mime_param_get(p->params, p->nparams, "charset");
	if (cs == NULL && strcmp(p->type, "text") == 0)
		cs = "us-ascii";
	return cs;
}

int
mime_part_is(const struct mime_part *p, const char *type, const char *subtype)
{
	return strcmp(p->type, type) == 0 && (subtype == NULL || strcmp(p->subtype, subtype) == 0);
}
