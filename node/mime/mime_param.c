/*
 * mime_param: Content-Type, Content-Disposition, Content-Language and
 * Content-Transfer-Encoding values (RFC 2045 §5.1 and §6.1, RFC 2183,
 * RFC 3282), with RFC 2231 parameter continuations and charsets.
 *
 * Happy path: `type/subtype; a=b; c="d"` gives lower-case names and the
 * values with quoting undone. RFC 2231: `n*0=..; n*1=..` are joined as "n";
 * when any section is extended (`n*`, `n*0*`) the octets are percent-decoded,
 * joined, converted once from the charset of section 0 to UTF-8, and the
 * parameter is marked extended (RFC 9051 §7.5.2 names it "n*").
 *
 * Bad input: a value that is not type/subtype is reported (-1) so the part
 * falls back to text/plain as RFC 2045 §5.2 recommends; parameters without
 * '=' and stray bytes are skipped; unquoted values end at blanks, ';', '"'
 * or '('; continuations with a gap end at the gap (and without section 0
 * are dropped); only max_params parameters are kept.
 */
#include "node/mime/mime_int.h"

#include <string.h>

#include "node/lib/util.h"

struct mime_raw_param {
	const char *base; /* lower-case name without RFC 2231 suffixes */
	const char *value;
	size_t vlen;
	int section; /* -1: not a continuation */
	int ext;
	int used;
};

/* Split "name", "name*", "name*N" or "name*N*". */
static void
mime_param_split(struct arena *a, const char *name, size_t n, struct mime_raw_param *r)
{
	const char *star = memchr(name, '*', n);
	r->section = -1;
	r->ext = 0;
	if (star != NULL) {
		size_t b = (size_t)(star - name), i = b + 1, digits = 0;
		unsigned sec = 0;
		while (i < n && name[i] >= '0' && name[i] <= '9' && digits < 4) {
			sec = sec * 10 + (unsigned)(name[i] - '0');
			i++;
			digits++;
		}
		int ext = 1; /* "name*": the star itself */
		if (digits > 0) {
			ext = i < n && name[i] == '*';
			i += (size_t)ext;
		}
		int zero_lead = digits > 1 && name[b + 1] == '0';
		if (b > 0 && i == n && !zero_lead) {
			r->base = mime__strndup_lower(a, name, b);
			r->section = digits > 0 ? (int)sec : -1;
			r->ext = ext;
			return;
		}
	}
	r->base = mime__strndup_lower(a, name, n);
}

static int
mime_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = ascii_tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decode v into out; NUL octets are dropped. */
static void
mime_pct_decode(const char *v, size_t n, struct nbuf *out)
{
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		int h, l;
		if (c == '%' && i + 2 < n && (h = mime_hex(v[i + 1])) >= 0 &&
		    (l = mime_hex(v[i + 2])) >= 0) {
			c = (char)(h << 4 | l);
			i += 2;
		}
		if (c != '\0')
			(void)nbuf_append(out, &c, 1);
	}
}

/* Join the continuation sections of r[first].base (marking them used) into a
 * parameter. Returns 0, or -1 when there is no section 0. */
static int
mime_param_join(const struct mime__pctx *c, struct mime_raw_param *r, unsigned nr, unsigned first,
                struct mime_param *p)
{
	const char *base = r[first].base;
	int any_ext = 0;
	for (unsigned j = first; j < nr; j++)
		if (r[j].section >= 0 && strcmp(r[j].base, base) == 0) {
			r[j].used = 1;
			any_ext |= r[j].ext;
		}
	struct nbuf raw, utf8;
	nbuf_init(&raw, SIZE_MAX / 2);
	nbuf_init(&utf8, SIZE_MAX / 2);
	const char *charset = "";
	size_t cslen = 0;
	unsigned sec = 0;
	for (;; sec++) {
		unsigned j;
		for (j = first; j < nr; j++)
			if (r[j].section == (int)sec && strcmp(r[j].base, base) == 0)
				break;
		if (j == nr)
			break;
		const char *v = r[j].value;
		size_t vn = r[j].vlen;
		if (!r[j].ext) {
			(void)nbuf_append(&raw, v, vn);
			continue;
		}
		if (sec == 0) {
			/* charset'language'octets */
			const char *q1 = memchr(v, '\'', vn);
			const char *q2 =
			        q1 ? memchr(q1 + 1, '\'', vn - (size_t)(q1 + 1 - v)) : NULL;
			if (q2 != NULL) {
				charset = v;
				cslen = (size_t)(q1 - v);
				vn -= (size_t)(q2 + 1 - v);
				v = q2 + 1;
			}
		}
		mime_pct_decode(v, vn, &raw);
	}
	int rc = -1;
	if (sec > 0) {
		p->name = base;
		p->extended = any_ext;
		if (any_ext) {
			(void)mime__conv_nbuf(charset, cslen, mime__nbuf_str(&raw),
			                      nbuf_avail(&raw), &utf8);
			p->value = mime__strndup(c->a, mime__nbuf_str(&utf8), nbuf_avail(&utf8));
		} else {
			p->value = mime__strndup(c->a, mime__nbuf_str(&raw), nbuf_avail(&raw));
		}
		rc = 0;
	}
	nbuf_deinit(&raw);
	nbuf_deinit(&utf8);
	return rc;
}

static int
mime_param_dup(const struct mime_param *out, unsigned n, const char *base, int ext)
{
	for (unsigned k = 0; k < n; k++)
		if (out[k].extended == ext && strcmp(out[k].name, base) == 0)
			return 1;
	return 0;
}

/* Parameters after the main value: *(";" attribute "=" value). */
static void
mime_params_parse(const struct mime__pctx *c, const char *v, size_t n, size_t i,
                  const struct mime_param **params_r, unsigned *nparams_r)
{
	unsigned cap = c->max_params, nr = 0;
	struct mime_raw_param *r = NULL;
	struct nbuf tmp;
	nbuf_init(&tmp, n + 1);
	*params_r = NULL;
	*nparams_r = 0;
	for (;;) {
		i = mime__skip_cfws(v, n, i);
		while (i < n && v[i] == ';')
			i = mime__skip_cfws(v, n, i + 1);
		if (i >= n)
			break;
		size_t ns = i, ne = mime__token_end(v, n, i);
		if (ne == ns) {
			i++; /* a stray byte */
			continue;
		}
		i = mime__skip_cfws(v, n, ne);
		if (i >= n || v[i] != '=')
			continue; /* an attribute without a value */
		i = mime__skip_cfws(v, n, i + 1);
		const char *val;
		size_t vlen;
		if (i < n && v[i] == '"') {
			nbuf_reset(&tmp);
			i = mime__quoted(v, n, i, &tmp);
			val = mime__nbuf_str(&tmp);
			vlen = nbuf_avail(&tmp);
		} else {
			size_t vs = i;
			while (i < n && v[i] != ';' && !mime__is_lwsp((unsigned char)v[i]) &&
			       v[i] != '"' && v[i] != '(')
				i++;
			val = v + vs;
			vlen = i - vs;
		}
		if (nr == cap) {
			*c->flags |= MIME_F_PARAM_LIMIT;
			continue;
		}
		if (r == NULL)
			r = mime__zalloc(c->a, sizeof(*r) * cap);
		mime_param_split(c->a, v + ns, ne - ns, &r[nr]);
		r[nr].value = mime__strndup(c->a, val, vlen);
		r[nr].vlen = vlen;
		nr++;
	}
	nbuf_deinit(&tmp);
	if (nr == 0)
		return;

	struct mime_param *out = mime__zalloc(c->a, sizeof(*out) * nr);
	unsigned no = 0;
	for (unsigned j = 0; j < nr; j++) {
		struct mime_raw_param *p = &r[j];
		if (p->used)
			continue;
		if (p->section >= 0) {
			struct mime_param joined;
			if (mime_param_join(c, r, nr, j, &joined) == 0 &&
			    !mime_param_dup(out, no, joined.name, joined.extended))
				out[no++] = joined;
			continue;
		}
		if (mime_param_dup(out, no, p->base, p->ext))
			continue;
		out[no].name = p->base;
		out[no].extended = p->ext;
		if (p->ext) {
			p->section = 0;
			(void)mime_param_join(c, p, 1, 0, &out[no]);
			out[no].extended = 1;
		} else {
			out[no].value = p->value;
		}
		no++;
	}
	*params_r = out;
	*nparams_r = no;
}

int
mime__ctype_parse(const struct mime__pctx *c, const char *v, size_t n, const char **type_r,
                  const char **subtype_r, const struct mime_param **params_r, unsigned *nparams_r)
{
	size_t i = mime__skip_cfws(v, n, 0);
	size_t te = mime__token_end(v, n, i);
	if (te == i)
		return -1;
	size_t j = mime__skip_cfws(v, n, te);
	if (j >= n || v[j] != '/')
		return -1;
	j = mime__skip_cfws(v, n, j + 1);
	size_t se = mime__token_end(v, n, j);
	if (se == j)
		return -1;
	*type_r = mime__strndup_lower(c->a, v + i, te - i);
	*subtype_r = mime__strndup_lower(c->a, v + j, se - j);
	mime_params_parse(c, v, n, se, params_r, nparams_r);
	return 0;
}

int
mime__disposition_parse(const struct mime__pctx *c, const char *v, size_t n, const char **type_r,
                        const struct mime_param **params_r, unsigned *nparams_r)
{
	size_t i = mime__skip_cfws(v, n, 0);
	size_t te = mime__token_end(v, n, i);
	if (te == i)
		return -1;
	*type_r = mime__strndup_lower(c->a, v + i, te - i);
	mime_params_parse(c, v, n, te, params_r, nparams_r);
	return 0;
}

void
mime__language_parse(const struct mime__pctx *c, const char *v, size_t n,
                     const char *const **langs_r, unsigned *n_r)
{
	const char **langs = NULL;
	unsigned nl = 0;
	size_t i = 0;
	for (;;) {
		i = mime__skip_cfws(v, n, i);
		while (i < n && v[i] == ',')
			i = mime__skip_cfws(v, n, i + 1);
		if (i >= n)
			break;
		size_t e = mime__token_end(v, n, i);
		if (e == i) {
			i++;
			continue;
		}
		if (nl == c->max_params) {
			*c->flags |= MIME_F_PARAM_LIMIT;
			break;
		}
		if (langs == NULL)
			langs = mime__zalloc(c->a, sizeof(*langs) * c->max_params);
		langs[nl++] = mime__strndup(c->a, v + i, e - i);
		i = e;
	}
	*langs_r = langs;
	*n_r = nl;
}

const char *
mime__encoding_parse(struct arena *a, const char *v, size_t n)
{
	size_t i = mime__skip_cfws(v, n, 0);
	size_t e = mime__token_end(v, n, i);
	return e == i ? NULL : mime__strndup_lower(a, v + i, e - i);
}
