/*
 * mime_tree: the binary form of a part tree that node/store caches per
 * message, so that FETCH ENVELOPE, BODYSTRUCTURE, BODY[1.2] and PREVIEW,
 * and SORT and THREAD, need no reparse and no read of the message file.
 *
 * Format (version 2), all integers LEB128 varints in their shortest form,
 * strings a varint length and bytes (never NUL):
 *   "MT" 0x02, size, nparts, message flags, extras (bit 0: a preview
 *   follows), [preview], then the parts in pre-order:
 *   flags (MIME_PART_* and which optional fields follow), header.off,
 *   header.len, body.len (the body starts where the header ends), lines,
 *   type, subtype, [id] [description] [encoding] [md5] [location]
 *   [disposition] [params] [disposition params] [languages] [envelope:
 *   a bitmap of present fields (bit MIME_ENV_COUNT: References), then
 *   those], nchildren, children.
 * Version 1 (still decoded: trees cached before) has neither the extras
 * nor the References bit; encoding always writes version 2.
 *
 * Why References lives here rather than in a separate "sort keys" record:
 * SORT and THREAD need the Date, Subject, From, To, Cc, Message-ID and
 * In-Reply-To of every message, and the root's envelope already holds
 * them raw; References was the one field missing. Keeping it in the tree
 * adds one optional string to a record that is already written at
 * delivery, replicated with the append and read with one lookup, instead
 * of a second record, a second lookup and a store schema change. It is
 * bounded: normalised message IDs only, at most MIME_REFS_MAX of them of
 * MIME_MSGID_MAX bytes (mime_msgid.c); a typical reply adds under 200
 * bytes. The preview (at most MIME_PREVIEW_CHARS characters) makes FETCH
 * PREVIEW (LAZY) answerable from the tree. mime_tree_summary() reads the
 * root's envelope and these extras in place, without building the tree,
 * which is what SORT and THREAD do for every message of a mailbox.
 * A plain text message takes about 100 bytes plus its envelope strings.
 *
 * Decoding trusts nothing: every varint is bounded, every count is checked
 * against the bytes left before anything is allocated, ranges must lie in
 * the declared size and children inside their parent's body in order, an
 * encapsulated message must fill its part's body, the structural flags
 * must agree with the types, depth and part count are capped, and no byte
 * may be left over. Any failure is -1 and frees everything. The encoding of
 * version 2 is canonical, so encode(decode(x)) == x for every version 2 x
 * that decodes; a version 1 x encodes to the version 2 form of the same
 * tree.
 */
#include "node/mime/mime_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"

#define MIME_TREE_VERSION 2
/* Message-level extras (version 2). */
#define MT_X_PREVIEW 0x1u
#define MT_X_ALL     0x1u
/* The envelope bitmap's References bit (version 2). */
#define MT_ENV_REFS (1u << MIME_ENV_COUNT)

/* Part field bits in the encoded flags (above MIME_PART_*). */
#define MT_ENVELOPE (1u << 2)
#define MT_ID       (1u << 3)
#define MT_DESC     (1u << 4)
#define MT_ENC      (1u << 5)
#define MT_MD5      (1u << 6)
#define MT_LOC      (1u << 7)
#define MT_DISP     (1u << 8)
#define MT_PARAMS   (1u << 9)
#define MT_DPARAMS  (1u << 10)
#define MT_LANGS    (1u << 11)
#define MT_ALL      ((1u << 12) - 1)
#define MT_MFLAGS   0xffu

static int
mt_put(struct nbuf *out, uint64_t v)
{
	unsigned char b[10];
	size_t n = 0;
	do {
		b[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	return nbuf_append(out, b, n);
}

static int
mt_put_str(struct nbuf *out, const char *s)
{
	size_t n = strlen(s);
	int rc = mt_put(out, n);
	return rc ? rc : nbuf_append(out, s, n);
}

static int
mt_put_params(struct nbuf *out, const struct mime_param *p, unsigned n)
{
	int rc = mt_put(out, n);
	for (unsigned i = 0; i < n && rc == 0; i++)
		if ((rc = mt_put(out, p[i].extended ? 1 : 0)) == 0 &&
		    (rc = mt_put_str(out, p[i].name)) == 0)
			rc = mt_put_str(out, p[i].value);
	return rc;
}

static int
mt_encode_part(const struct mime_part *p, struct nbuf *out)
{
	const char *opt[] = {p->id,  p->description, p->encoding,
	                     p->md5, p->location,    p->disposition};
	unsigned f = p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE);
	for (unsigned i = 0; i < ARRAY_SIZE(opt); i++)
		if (opt[i] != NULL)
			f |= MT_ID << i;
	f |= p->envelope ? MT_ENVELOPE : 0;
	f |= p->nparams ? MT_PARAMS : 0;
	f |= p->ndisp_params ? MT_DPARAMS : 0;
	f |= p->nlanguages ? MT_LANGS : 0;
	int rc;
	if ((rc = mt_put(out, f)) != 0 || (rc = mt_put(out, p->header.off)) != 0 ||
	    (rc = mt_put(out, p->header.len)) != 0 || (rc = mt_put(out, p->body.len)) != 0 ||
	    (rc = mt_put(out, p->lines)) != 0 || (rc = mt_put_str(out, p->type)) != 0 ||
	    (rc = mt_put_str(out, p->subtype)) != 0)
		return rc;
	for (unsigned i = 0; i < ARRAY_SIZE(opt); i++)
		if (opt[i] != NULL && (rc = mt_put_str(out, opt[i])) != 0)
			return rc;
	if ((p->nparams && (rc = mt_put_params(out, p->params, p->nparams)) != 0) ||
	    (p->ndisp_params && (rc = mt_put_params(out, p->disp_params, p->ndisp_params)) != 0))
		return rc;
	if (p->nlanguages) {
		if ((rc = mt_put(out, p->nlanguages)) != 0)
			return rc;
		for (unsigned i = 0; i < p->nlanguages; i++)
			if ((rc = mt_put_str(out, p->languages[i])) != 0)
				return rc;
	}
	if (p->envelope) {
		unsigned bits = 0;
		for (unsigned i = 0; i < MIME_ENV_COUNT; i++)
			bits |= p->envelope->field[i] ? 1u << i : 0;
		bits |= p->envelope->references ? MT_ENV_REFS : 0;
		if ((rc = mt_put(out, bits)) != 0)
			return rc;
		for (unsigned i = 0; i < MIME_ENV_COUNT; i++)
			if (p->envelope->field[i] && (rc = mt_put_str(out, p->envelope->field[i])))
				return rc;
		if (p->envelope->references && (rc = mt_put_str(out, p->envelope->references)))
			return rc;
	}
	if ((rc = mt_put(out, p->nchildren)) != 0)
		return rc;
	for (const struct mime_part *c = p->children; c != NULL; c = c->next)
		if ((rc = mt_encode_part(c, out)) != 0)
			return rc;
	return 0;
}

int
mime_tree_encode(const struct mime_message *m, struct nbuf *out)
{
	int rc;
	if ((rc = nbuf_append(out, "MT\x02", 3)) != 0 || (rc = mt_put(out, m->size)) != 0 ||
	    (rc = mt_put(out, m->nparts)) != 0 || (rc = mt_put(out, m->flags)) != 0 ||
	    (rc = mt_put(out, m->preview ? MT_X_PREVIEW : 0)) != 0 ||
	    (m->preview && (rc = mt_put_str(out, m->preview)) != 0))
		return rc;
	return mt_encode_part(m->root, out);
}

struct mt_reader {
	const unsigned char *p;
	size_t len, pos;
	unsigned version;
	struct mime_message *m;
	unsigned nparts; /* declared */
	unsigned seen;   /* decoded so far */
};

static int
mt_get(struct mt_reader *r, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->pos >= r->len)
			return -1;
		unsigned char b = r->p[r->pos++];
		if (shift == 63 && b > 1)
			return -1;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (b == 0 && shift > 0)
				return -1; /* not the shortest form */
			if (v > max)
				return -1;
			*v_r = v;
			return 0;
		}
	}
	return -1;
}

static int
mt_get_size(struct mt_reader *r, size_t *v_r)
{
	uint64_t v;
	if (mt_get(r, MIME_MESSAGE_MAX, &v) < 0)
		return -1;
	*v_r = (size_t)v;
	return 0;
}

static const char *
mt_get_str(struct mt_reader *r)
{
	uint64_t n;
	if (mt_get(r, MIME_MESSAGE_MAX, &n) < 0 || n > r->len - r->pos)
		return NULL;
	const char *s = (const char *)r->p + r->pos;
	if (memchr(s, '\0', n) != NULL)
		return NULL;
	r->pos += n;
	char *d = mime__zalloc(&r->m->arena, n + 1);
	memcpy(d, s, n);
	return d;
}

static int
mt_get_params(struct mt_reader *r, const struct mime_param **params_r, unsigned *n_r)
{
	uint64_t n, ext;
	if (mt_get(r, (r->len - r->pos) / 3, &n) < 0 || n == 0)
		return -1;
	struct mime_param *p = mime__zalloc(&r->m->arena, sizeof(*p) * n);
	for (uint64_t i = 0; i < n; i++) {
		if (mt_get(r, 1, &ext) < 0 || (p[i].name = mt_get_str(r)) == NULL ||
		    (p[i].value = mt_get_str(r)) == NULL)
			return -1;
		p[i].extended = (int)ext;
	}
	*params_r = p;
	*n_r = (unsigned)n;
	return 0;
}

/* Fields of one part, up to and including nchildren. */
static int
mt_decode_fields(struct mt_reader *r, struct mime_part *p, uint64_t *nchildren_r)
{
	uint64_t f, v;
	size_t hoff, hlen, blen;
	if (mt_get(r, MT_ALL, &f) < 0 || mt_get_size(r, &hoff) < 0 || mt_get_size(r, &hlen) < 0 ||
	    mt_get_size(r, &blen) < 0 || mt_get(r, MIME_MESSAGE_MAX, &v) < 0)
		return -1;
	size_t size = r->m->size;
	if (hoff > size || hlen > size - hoff || blen > size - hoff - hlen || v > blen)
		return -1;
	p->flags = (unsigned)f & (MIME_PART_MULTIPART | MIME_PART_MESSAGE);
	p->header.off = hoff;
	p->header.len = hlen;
	p->body.off = hoff + hlen;
	p->body.len = blen;
	p->lines = (size_t)v;
	if ((p->type = mt_get_str(r)) == NULL || (p->subtype = mt_get_str(r)) == NULL ||
	    p->type[0] == '\0' || p->subtype[0] == '\0')
		return -1;
	const char **opt[] = {&p->id,  &p->description, &p->encoding,
	                      &p->md5, &p->location,    &p->disposition};
	for (unsigned i = 0; i < ARRAY_SIZE(opt); i++)
		if ((f & (MT_ID << i)) && (*opt[i] = mt_get_str(r)) == NULL)
			return -1;
	if ((f & MT_PARAMS) && mt_get_params(r, &p->params, &p->nparams) < 0)
		return -1;
	if ((f & MT_DPARAMS) && mt_get_params(r, &p->disp_params, &p->ndisp_params) < 0)
		return -1;
	if (f & MT_LANGS) {
		if (mt_get(r, r->len - r->pos, &v) < 0 || v == 0)
			return -1;
		const char **l = mime__zalloc(&r->m->arena, sizeof(*l) * v);
		for (uint64_t i = 0; i < v; i++)
			if ((l[i] = mt_get_str(r)) == NULL)
				return -1;
		p->languages = l;
		p->nlanguages = (unsigned)v;
	}
	if (f & MT_ENVELOPE) {
		struct mime_envelope *env = mime__zalloc(&r->m->arena, sizeof(*env));
		if (mt_get(r, r->version >= 2 ? (MT_ENV_REFS << 1) - 1 : MT_ENV_REFS - 1, &v) < 0)
			return -1;
		for (unsigned i = 0; i < MIME_ENV_COUNT; i++)
			if ((v & (1u << i)) && (env->field[i] = mt_get_str(r)) == NULL)
				return -1;
		if ((v & MT_ENV_REFS) && (env->references = mt_get_str(r)) == NULL)
			return -1;
		p->envelope = env;
	}
	return mt_get(r, r->nparts, nchildren_r);
}

/* The structural rules the parser guarantees. */
static int
mt_check_part(const struct mime_part *p, uint64_t nchildren)
{
	int multi = strcmp(p->type, "multipart") == 0;
	int msg = strcmp(p->type, "message") == 0 &&
	          (strcmp(p->subtype, "rfc822") == 0 || strcmp(p->subtype, "global") == 0);
	const char *e = p->encoding;
	if (multi != !!(p->flags & MIME_PART_MULTIPART) || msg != !!(p->flags & MIME_PART_MESSAGE))
		return -1;
	if (msg && (nchildren != 1 || (e != NULL && strcmp(e, "7bit") != 0 &&
	                               strcmp(e, "8bit") != 0 && strcmp(e, "binary") != 0)))
		return -1;
	if (!multi && !msg && nchildren != 0)
		return -1;
	return 0;
}

static int
mt_decode_part(struct mt_reader *r, struct mime_part *parent, struct mime_part **p_r,
               unsigned depth)
{
	uint64_t nchildren;
	if (depth > MIME_DEPTH_HARD_MAX || r->seen >= r->nparts)
		return -1;
	r->seen++;
	struct mime_part *p = mime__zalloc(&r->m->arena, sizeof(*p));
	p->parent = parent;
	if (mt_decode_fields(r, p, &nchildren) < 0 || mt_check_part(p, nchildren) < 0)
		return -1;
	int wants_env = parent == NULL || (parent->flags & MIME_PART_MESSAGE);
	if (wants_env != (p->envelope != NULL))
		return -1;
	if (parent == NULL && p->header.off != 0)
		return -1;
	size_t lo = p->body.off, hi = p->body.off + p->body.len;
	struct mime_part **link = &p->children;
	for (uint64_t i = 0; i < nchildren; i++) {
		struct mime_part *c;
		if (mt_decode_part(r, p, &c, depth + 1) < 0)
			return -1;
		size_t cend = c->body.off + c->body.len;
		if (c->header.off < lo || cend > hi)
			return -1;
		if ((p->flags & MIME_PART_MESSAGE) && (c->header.off != lo || cend != hi))
			return -1;
		lo = cend;
		*link = c;
		link = &c->next;
		p->nchildren++;
	}
	*p_r = p;
	return 0;
}

int
mime_tree_decode(const void *buf, size_t len, struct mime_message **m_r)
{
	struct mt_reader r = {.p = buf, .len = len};
	uint64_t nparts, mflags;
	*m_r = NULL;
	if (len < 3 || memcmp(buf, "MT", 2) != 0 || r.p[2] < 1 || r.p[2] > MIME_TREE_VERSION)
		return -1;
	r.version = r.p[2];
	r.pos = 3;
	struct mime_message *m = xcalloc(1, sizeof(*m));
	arena_init(&m->arena, 0);
	r.m = m;
	if (mt_get_size(&r, &m->size) < 0 || mt_get(&r, MIME_PARTS_HARD_MAX, &nparts) < 0 ||
	    nparts == 0 || nparts > len || mt_get(&r, MT_MFLAGS, &mflags) < 0)
		goto err_after_message;
	if (r.version >= 2) {
		uint64_t extras;
		if (mt_get(&r, MT_X_ALL, &extras) < 0 ||
		    ((extras & MT_X_PREVIEW) && (m->preview = mt_get_str(&r)) == NULL))
			goto err_after_message;
	}
	r.nparts = (unsigned)nparts;
	m->nparts = r.nparts;
	m->flags = (unsigned)mflags;
	if (mt_decode_part(&r, NULL, &m->root, 0) < 0 || r.seen != r.nparts || r.pos != r.len)
		goto err_after_message;
	*m_r = m;
	return 0;
err_after_message:
	mime_message_free(&m);
	return -1;
}

/* --- the summary: the root's envelope and the extras, read in place ------ */

/* Skip a string; the ones returned (s_r) are checked for NUL bytes like
 * the decoder's, the others only for their bounds: SORT reads a summary
 * of every message, and a scan of each string skipped was a sixth of it. */
static int
mt_skip_str(struct mt_reader *r, struct mime_tree_str *s_r)
{
	uint64_t n;
	if (mt_get(r, MIME_MESSAGE_MAX, &n) < 0 || n > r->len - r->pos)
		return -1;
	const char *s = (const char *)r->p + r->pos;
	r->pos += n;
	if (s_r != NULL) {
		if (memchr(s, '\0', n) != NULL)
			return -1;
		s_r->p = s;
		s_r->len = (size_t)n;
	}
	return 0;
}

static int
mt_skip_params(struct mt_reader *r)
{
	uint64_t n, ext;
	if (mt_get(r, (r->len - r->pos) / 3, &n) < 0 || n == 0)
		return -1;
	for (uint64_t i = 0; i < n; i++)
		if (mt_get(r, 1, &ext) < 0 || mt_skip_str(r, NULL) < 0 || mt_skip_str(r, NULL) < 0)
			return -1;
	return 0;
}

int
mime_tree_summary(const void *buf, size_t len, struct mime_tree_summary *s_r)
{
	struct mt_reader r = {.p = buf, .len = len};
	uint64_t v, f;
	size_t hoff, hlen, blen;
	memset(s_r, 0, sizeof(*s_r));
	if (len < 3 || memcmp(buf, "MT", 2) != 0 || r.p[2] < 1 || r.p[2] > MIME_TREE_VERSION)
		return -1;
	r.version = r.p[2];
	r.pos = 3;
	s_r->version = r.version;
	if (mt_get_size(&r, &s_r->size) < 0 || mt_get(&r, MIME_PARTS_HARD_MAX, &v) < 0 || v == 0 ||
	    v > len || mt_get(&r, MT_MFLAGS, &v) < 0)
		return -1;
	if (r.version >= 2) {
		s_r->has_references = 1;
		if (mt_get(&r, MT_X_ALL, &v) < 0)
			return -1;
		if (v & MT_X_PREVIEW) {
			/* the longest string here, and SORT does not read it: its
			 * bounds only (a NUL in it is the reader's to mind) */
			size_t at = r.pos;
			if (mt_skip_str(&r, NULL) < 0)
				return -1;
			uint64_t n;
			r.pos = at;
			(void)mt_get(&r, MIME_MESSAGE_MAX, &n);
			s_r->preview = (struct mime_tree_str){(const char *)r.p + r.pos, (size_t)n};
			r.pos += (size_t)n;
			s_r->has_preview = 1;
		}
	}
	/* the root part, up to its envelope */
	if (mt_get(&r, MT_ALL, &f) < 0 || mt_get_size(&r, &hoff) < 0 ||
	    mt_get_size(&r, &hlen) < 0 || mt_get_size(&r, &blen) < 0 ||
	    mt_get(&r, MIME_MESSAGE_MAX, &v) < 0)
		return -1;
	if (hoff != 0 || hlen > s_r->size || blen > s_r->size - hlen || v > blen ||
	    !(f & MT_ENVELOPE))
		return -1;
	uint64_t tl, sl;
	if (mt_get(&r, MIME_MESSAGE_MAX, &tl) < 0 || tl == 0 || tl > r.len - r.pos)
		return -1;
	r.pos += tl;
	if (mt_get(&r, MIME_MESSAGE_MAX, &sl) < 0 || sl == 0 || sl > r.len - r.pos)
		return -1;
	r.pos += sl;
	for (unsigned i = 0; i < 6; i++)
		if ((f & (MT_ID << i)) && mt_skip_str(&r, NULL) < 0)
			return -1;
	if (((f & MT_PARAMS) && mt_skip_params(&r) < 0) ||
	    ((f & MT_DPARAMS) && mt_skip_params(&r) < 0))
		return -1;
	if (f & MT_LANGS) {
		if (mt_get(&r, r.len - r.pos, &v) < 0 || v == 0)
			return -1;
		for (uint64_t i = 0; i < v; i++)
			if (mt_skip_str(&r, NULL) < 0)
				return -1;
	}
	if (mt_get(&r, r.version >= 2 ? (MT_ENV_REFS << 1) - 1 : MT_ENV_REFS - 1, &v) < 0)
		return -1;
	for (unsigned i = 0; i < MIME_ENV_COUNT; i++)
		if ((v & (1u << i)) && mt_skip_str(&r, &s_r->env[i]) < 0)
			return -1;
	if ((v & MT_ENV_REFS) && mt_skip_str(&r, &s_r->references) < 0)
		return -1;
	return 0;
}

int
mime_message_cache_preview(struct mime_message *m, const char *msg, size_t len)
{
	struct nbuf b;
	nbuf_init(&b, 4 * MIME_PREVIEW_CHARS + 16);
	int rc = mime_preview(m, msg, len, &b);
	if (rc >= 0) {
		/* a C string in the tree: NUL characters go (not to 0x80, which
		 * would not be UTF-8) */
		const char *t = mime__nbuf_str(&b);
		size_t n = rc == 1 ? nbuf_avail(&b) : 0, k = 0;
		char *p = mime__zalloc(&m->arena, n + 1);
		for (size_t i = 0; i < n; i++)
			if (t[i] != '\0')
				p[k++] = t[i];
		p[k] = '\0';
		m->preview = p;
	}
	nbuf_deinit(&b);
	return rc < 0 ? rc : 0;
}
