/*
 * fetch_parse: FETCH data items to a plan (RFC 3501 §6.4.5 and §9
 * fetch-att; RFC 9051 §6.4.5; CHANGEDSINCE and MODSEQ of RFC 7162 §3.1.4
 * and §3.1.5, VANISHED §3.2.6; SAVEDATE RFC 8514 §4; PREVIEW RFC 8970 §3;
 * EMAILID and THREADID RFC 8474 §5).
 *
 * Happy path: "(UID FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)"
 * arrives as the IMAP parser's argument tree; each item becomes an entry
 * of the plan with what the response needs (tree, file, flags), and a
 * section item also gets its response name ("BODY[HEADER.FIELDS (From
 * To)]") and the section text mime_section_find() takes. The plan lives in
 * the caller's arena and is read-only afterwards.
 *
 * Failure modes (BAD, with a text saying what): no items, an empty list,
 * a macro (ALL, FAST, FULL) inside a list, an unknown item, "[" after an
 * item that takes no section, a section that is not RFC 3501 §9
 * section-spec (part numbers with leading zeros, MIME without a part,
 * HEADER.FIELDS without its list, anything after TEXT), header field
 * names that are not RFC 5322 field names, partial size 0, more than the
 * *_MAX limits of fetch_int.h, unknown modifiers, CHANGEDSINCE 0 or above
 * 2^63-1 (RFC 7162 §7 mod-sequence-value), VANISHED without CHANGEDSINCE,
 * in a FETCH that is not UID FETCH or before ENABLE QRESYNC (§3.2.6).
 * BINARY, BINARY.PEEK and BINARY.SIZE (RFC 3516 §4.1) take part numbers
 * only (fetch_binary.c checks them); BINARY.SIZE takes no partial.
 */
#include "protocols/imap/fetch_int.h"

#include <string.h>

#include "node/lib/util.h"

struct fetch_parser {
	struct arena *a;
	struct imap_fetch_plan *plan;
	const char *error;
};

static int
fetch_fail(struct fetch_parser *p, const char *error)
{
	if (p->error == NULL)
		p->error = error;
	return -1;
}

static struct imap__fetch_item *
fetch_item_new(struct fetch_parser *p, enum imap__fetch_kind kind)
{
	struct imap_fetch_plan *plan = p->plan;
	if (plan->nitems == IMAP_FETCH_ITEMS_MAX || plan->nitems == plan->cap) {
		fetch_fail(p, "Too many fetch items");
		return NULL;
	}
	struct imap__fetch_item *it = &plan->items[plan->nitems++];
	memset(it, 0, sizeof(*it));
	it->kind = (uint8_t)kind;
	switch (kind) {
	case FETCH_K_UID:
		plan->has_uid = 1;
		break;
	case FETCH_K_FLAGS:
		plan->has_flags = 1;
		plan->needs |= FETCH_NEED_FLAGS;
		break;
	case FETCH_K_MODSEQ:
		plan->has_modseq = 1;
		plan->needs |= FETCH_ENABLES_CONDSTORE;
		break;
	case FETCH_K_ENVELOPE:
	case FETCH_K_BODY:
	case FETCH_K_BODYSTRUCTURE:
		plan->needs |= FETCH_NEED_TREE;
		break;
	case FETCH_K_PREVIEW:
		/* the cached tree carries the preview; the file only without
		 * LAZY (fetch_att), for messages cached before it did */
		plan->needs |= FETCH_NEED_TREE;
		break;
	default:
		break;
	}
	return it;
}

/* A header field name of a HEADER.FIELDS list: astring, RFC 5322 ftext. */
static int
fetch_field_name(struct fetch_parser *p, const struct imap_arg *arg, const char **name_r)
{
	const char *s;
	size_t len;
	if (arg->section || !imap_arg_get_astring(arg, &s, &len))
		return fetch_fail(p, "Invalid header field name");
	if (len == 0 || len > IMAP_FETCH_FIELD_MAX)
		return fetch_fail(p, "Invalid header field name");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126 || s[i] == ':')
			return fetch_fail(p, "Invalid header field name");
	/* the plan outlives nothing it points to: a copy */
	if ((*name_r = arena_strndup(p->a, s, len)) == NULL)
		return fetch_fail(p, "Fetch items too large");
	return 0;
}

/* A field name as the response echoes it: an atom when it is one. */
static int
fetch_field_echo(struct nbuf *b, const char *s)
{
	if (strpbrk(s, "(){%*\"\\]") == NULL)
		return nbuf_puts(b, s);
	int rc = nbuf_puts(b, "\"");
	for (; rc == 0 && *s; s++) {
		if (*s == '"' || *s == '\\')
			rc = nbuf_puts(b, "\\");
		if (rc == 0)
			rc = nbuf_append(b, s, 1);
	}
	return rc ? rc : nbuf_puts(b, "\"");
}

static const struct {
	const char *kw;
	uint8_t sec;
} fetch_suffixes[] = {
        {"HEADER", FETCH_SEC_HEADER},
        {"HEADER.FIELDS", FETCH_SEC_FIELDS},
        {"HEADER.FIELDS.NOT", FETCH_SEC_FIELDS_NOT},
        {"TEXT", FETCH_SEC_TEXT},
        {"MIME", FETCH_SEC_MIME},
};

/* section-spec (RFC 3501 §9): [part numbers "."] [msgtext], or MIME. */
static int
fetch_section_spec(struct fetch_parser *p, const char *s, size_t len, struct imap__fetch_item *it)
{
	size_t i = 0, nnums = 0;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		uint64_t v = 0;
		if (s[i] == '0')
			return fetch_fail(p, "Invalid section part number");
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			v = v * 10 + (uint64_t)(s[i++] - '0');
			if (v > UINT32_MAX)
				return fetch_fail(p, "Invalid section part number");
		}
		if (++nnums > IMAP_FETCH_PARTS_MAX)
			return fetch_fail(p, "Section nested too deeply");
		if (i == len)
			break;
		if (s[i] != '.' || i + 1 == len)
			return fetch_fail(p, "Invalid section");
		i++;
	}
	it->sec = FETCH_SEC_PART;
	if (i == len)
		return 0;
	for (size_t k = 0; k < ARRAY_SIZE(fetch_suffixes); k++) {
		if (strlen(fetch_suffixes[k].kw) == len - i &&
		    ascii_strncasecmp(s + i, fetch_suffixes[k].kw, len - i) == 0) {
			if (fetch_suffixes[k].sec == FETCH_SEC_MIME && nnums == 0)
				return fetch_fail(p, "MIME needs a part number");
			it->sec = fetch_suffixes[k].sec;
			return 0;
		}
	}
	return fetch_fail(p, "Invalid section");
}

/* BODY[...] / BODY.PEEK[...]: its spec, field names and response name. */
static int
fetch_section(struct fetch_parser *p, const struct imap_arg *arg, int peek)
{
	const struct imap_arg *l = arg->list;
	struct imap__fetch_item *it = fetch_item_new(p, FETCH_K_SECTION);
	if (it == NULL)
		return -1;
	it->peek = (uint8_t)peek;
	it->sec = FETCH_SEC_ALL;
	const char *spec = "";
	size_t speclen = 0;
	if (arg->count > 0) {
		if (l[0].type != IMAP_ARG_ATOM || l[0].section)
			return fetch_fail(p, "Invalid section");
		spec = l[0].str;
		speclen = l[0].len;
		if (fetch_section_spec(p, spec, speclen, it) != 0)
			return -1;
	}
	int fields = it->sec == FETCH_SEC_FIELDS || it->sec == FETCH_SEC_FIELDS_NOT;
	if (arg->count != (fields ? 2u : speclen > 0 ? 1u : 0u))
		return fetch_fail(p, fields ? "HEADER.FIELDS needs one list of field names"
		                            : "Invalid section");
	if (fields) {
		if (l[1].type != IMAP_ARG_LIST || l[1].count == 0)
			return fetch_fail(p, "HEADER.FIELDS needs one list of field names");
		if (l[1].count > IMAP_FETCH_FIELDS_MAX)
			return fetch_fail(p, "Too many header field names");
		const char **names = arena_alloc(p->a, l[1].count * sizeof(*names));
		if (names == NULL)
			return fetch_fail(p, "Fetch items too large");
		for (size_t i = 0; i < l[1].count; i++)
			if (fetch_field_name(p, &l[1].list[i], &names[i]) != 0)
				return -1;
		it->fields = names;
		it->nfields = l[1].count;
	}
	/* the response name: BODY[SPEC (names)] */
	struct nbuf b;
	nbuf_init(&b, 64 + IMAP_FETCH_FIELDS_MAX * (2 * IMAP_FETCH_FIELD_MAX + 3));
	int rc = nbuf_puts(&b, "BODY[");
	for (size_t i = 0; rc == 0 && i < speclen; i++) {
		char c = (char)ascii_toupper((unsigned char)spec[i]);
		rc = nbuf_append(&b, &c, 1);
	}
	for (size_t i = 0; rc == 0 && i < it->nfields; i++) {
		rc = nbuf_puts(&b, i == 0 ? " (" : " ");
		if (rc == 0)
			rc = fetch_field_echo(&b, it->fields[i]);
	}
	if (rc == 0 && it->nfields > 0)
		rc = nbuf_puts(&b, ")");
	if (rc == 0)
		rc = nbuf_puts(&b, "]");
	char *name =
	        rc == 0 ? arena_strndup(p->a, (const char *)nbuf_head(&b), nbuf_avail(&b)) : NULL;
	nbuf_deinit(&b);
	if (name == NULL)
		return fetch_fail(p, "Fetch items too large");
	it->name = name;
	it->name_len = strlen(name);
	/* mime_section_find() wants the spec: "5" from "BODY[5" */
	it->spec = name + 5;
	it->spec_len = speclen;
	if (arg->has_partial) {
		if (arg->partial_size == 0)
			return fetch_fail(p, "Partial fetch size must not be 0");
		it->partial = 1;
		it->off = arg->partial_offset;
		it->size = arg->partial_size;
	}
	p->plan->needs |= FETCH_NEED_FILE;
	if (it->sec != FETCH_SEC_ALL)
		p->plan->needs |= FETCH_NEED_TREE;
	if (!peek)
		p->plan->needs |= FETCH_SETS_SEEN | FETCH_NEED_FLAGS;
	return 0;
}

/* BINARY[...], BINARY.PEEK[...], BINARY.SIZE[...] (RFC 3516 §4.1). */
static int
fetch_binary(struct fetch_parser *p, const struct imap_arg *arg)
{
	const char *error = NULL;
	struct imap__fetch_item *it = fetch_item_new(p, FETCH_K_BINARY);
	if (it == NULL)
		return -1;
	if (imap__fetch_binary_item(p->a, arg, it, &error) != 0)
		return fetch_fail(p, error);
	p->plan->needs |= FETCH_NEED_FILE;
	if (it->spec_len > 0)
		p->plan->needs |= FETCH_NEED_TREE;
	if (it->kind == FETCH_K_BINARY && !it->peek)
		p->plan->needs |= FETCH_SETS_SEEN | FETCH_NEED_FLAGS;
	return 0;
}

static const struct {
	const char *name;
	uint8_t kind;
	uint8_t sec; /* RFC822 forms */
	uint8_t peek;
} fetch_atoms[] = {
        {"UID", FETCH_K_UID, 0, 0},
        {"FLAGS", FETCH_K_FLAGS, 0, 0},
        {"INTERNALDATE", FETCH_K_INTERNALDATE, 0, 0},
        {"RFC822.SIZE", FETCH_K_SIZE, 0, 0},
        {"ENVELOPE", FETCH_K_ENVELOPE, 0, 0},
        {"BODY", FETCH_K_BODY, 0, 0},
        {"BODYSTRUCTURE", FETCH_K_BODYSTRUCTURE, 0, 0},
        {"MODSEQ", FETCH_K_MODSEQ, 0, 0},
        {"SAVEDATE", FETCH_K_SAVEDATE, 0, 0},
        {"PREVIEW", FETCH_K_PREVIEW, 0, 0},
        {"EMAILID", FETCH_K_EMAILID, 0, 0},
        {"THREADID", FETCH_K_THREADID, 0, 0},
        {"RFC822", FETCH_K_SECTION, FETCH_SEC_ALL, 0},
        {"RFC822.HEADER", FETCH_K_SECTION, FETCH_SEC_HEADER, 1},
        {"RFC822.TEXT", FETCH_K_SECTION, FETCH_SEC_TEXT, 0},
};

/* "(LAZY)" after PREVIEW (RFC 8970 §3): 1 when arg is one, else 0. */
static int
fetch_preview_mods(const struct imap_arg *arg)
{
	if (arg == NULL || arg->type != IMAP_ARG_LIST || arg->count == 0)
		return 0;
	for (size_t i = 0; i < arg->count; i++)
		if (!imap_arg_atom_equals(&arg->list[i], "LAZY"))
			return 0;
	return 1;
}

/* One fetch-att at args[*i]; a PREVIEW's "(LAZY)" is taken with it. */
static int
fetch_att(struct fetch_parser *p, const struct imap_arg *args, size_t *i)
{
	const struct imap_arg *arg = &args[(*i)++];
	if (arg->type != IMAP_ARG_ATOM)
		return fetch_fail(p, "Invalid fetch item");
	if (arg->section) {
		if (ascii_strcasecmp(arg->str, "BODY") == 0)
			return fetch_section(p, arg, 0);
		if (ascii_strcasecmp(arg->str, "BODY.PEEK") == 0)
			return fetch_section(p, arg, 1);
		return fetch_binary(p, arg);
	}
	if (strchr(arg->str, '[') != NULL)
		return fetch_fail(p, "Section on a fetch item that takes none");
	for (size_t k = 0; k < ARRAY_SIZE(fetch_atoms); k++) {
		if (ascii_strcasecmp(arg->str, fetch_atoms[k].name) != 0)
			continue;
		struct imap__fetch_item *it = fetch_item_new(p, fetch_atoms[k].kind);
		if (it == NULL)
			return -1;
		if (it->kind == FETCH_K_PREVIEW) {
			if (args[*i].type != IMAP_ARG_EOL && fetch_preview_mods(&args[*i])) {
				it->peek = 1; /* LAZY */
				(*i)++;
			} else {
				p->plan->needs |= FETCH_NEED_FILE;
			}
		}
		if (it->kind != FETCH_K_SECTION)
			return 0;
		it->sec = fetch_atoms[k].sec;
		it->peek = fetch_atoms[k].peek;
		it->name = fetch_atoms[k].name;
		it->name_len = strlen(it->name);
		it->spec = it->sec == FETCH_SEC_ALL      ? ""
		           : it->sec == FETCH_SEC_HEADER ? "HEADER"
		                                         : "TEXT";
		it->spec_len = strlen(it->spec);
		p->plan->needs |= FETCH_NEED_FILE;
		if (it->sec != FETCH_SEC_ALL)
			p->plan->needs |= FETCH_NEED_TREE;
		if (!it->peek)
			p->plan->needs |= FETCH_SETS_SEEN | FETCH_NEED_FLAGS;
		return 0;
	}
	if (ascii_strcasecmp(arg->str, "BODY.PEEK") == 0)
		return fetch_fail(p, "BODY.PEEK needs a section");
	if (ascii_strcasecmp(arg->str, "BINARY") == 0 ||
	    ascii_strcasecmp(arg->str, "BINARY.PEEK") == 0 ||
	    ascii_strcasecmp(arg->str, "BINARY.SIZE") == 0)
		return fetch_fail(p, "BINARY needs a section");
	return fetch_fail(p, "Unknown fetch item");
}

/* Modifiers (RFC 4466 §2.4): "(CHANGEDSINCE n)". */
static int
fetch_modifiers(struct fetch_parser *p, const struct imap_arg *list, size_t count)
{
	struct imap_fetch_plan *plan = p->plan;
	if (count == 0)
		return fetch_fail(p, "Empty fetch modifier list");
	for (size_t i = 0; i < count; i++) {
		if (imap_arg_atom_equals(&list[i], "CHANGEDSINCE")) {
			/* mod-sequence-value: 1 .. 2^63-1 */
			if (plan->changedsince_set || i + 1 == count ||
			    !imap_arg_get_number(&list[i + 1], INT64_MAX, &plan->changedsince) ||
			    plan->changedsince == 0)
				return fetch_fail(p, "Invalid CHANGEDSINCE");
			plan->changedsince_set = 1;
			plan->needs |= FETCH_ENABLES_CONDSTORE;
			i++;
		} else if (imap_arg_atom_equals(&list[i], "VANISHED")) {
			if (!(plan->enabled & IMAP_FETCH_QRESYNC))
				return fetch_fail(p,
				                  "VANISHED needs QRESYNC, which is not enabled");
			if (!plan->uid)
				return fetch_fail(p, "VANISHED is for UID FETCH only");
			if (plan->vanished)
				return fetch_fail(p, "Invalid VANISHED");
			plan->vanished = 1;
		} else {
			return fetch_fail(p, "Unknown fetch modifier");
		}
	}
	if (plan->vanished && !plan->changedsince_set)
		return fetch_fail(p, "VANISHED needs CHANGEDSINCE");
	return 0;
}

static const struct {
	const char *name;
	uint8_t kinds[5];
	size_t n;
} fetch_macros[] = {
        {"ALL", {FETCH_K_FLAGS, FETCH_K_INTERNALDATE, FETCH_K_SIZE, FETCH_K_ENVELOPE}, 4},
        {"FAST", {FETCH_K_FLAGS, FETCH_K_INTERNALDATE, FETCH_K_SIZE}, 3},
        {"FULL",
         {FETCH_K_FLAGS, FETCH_K_INTERNALDATE, FETCH_K_SIZE, FETCH_K_ENVELOPE, FETCH_K_BODY},
         5},
};

static int
fetch_items(struct fetch_parser *p, const struct imap_arg *args, size_t *i)
{
	const struct imap_arg *arg = &args[*i];
	if (arg->type == IMAP_ARG_EOL)
		return fetch_fail(p, "Missing fetch items");
	if (arg->type == IMAP_ARG_LIST) {
		(*i)++;
		if (arg->count == 0)
			return fetch_fail(p, "Empty fetch item list");
		for (size_t k = 0; k < ARRAY_SIZE(fetch_macros); k++)
			for (size_t j = 0; j < arg->count; j++)
				if (imap_arg_atom_equals(&arg->list[j], fetch_macros[k].name))
					return fetch_fail(p, "Fetch macros must be used alone");
		size_t j = 0;
		while (j < arg->count)
			if (fetch_att(p, arg->list, &j) != 0)
				return -1;
		return 0;
	}
	for (size_t k = 0; k < ARRAY_SIZE(fetch_macros); k++) {
		if (imap_arg_atom_equals(arg, fetch_macros[k].name)) {
			(*i)++;
			for (size_t j = 0; j < fetch_macros[k].n; j++)
				if (fetch_item_new(p, fetch_macros[k].kinds[j]) == NULL)
					return -1;
			return 0;
		}
	}
	return fetch_att(p, args, i);
}

int
imap_fetch_parse(struct arena *a, const struct imap_arg *args, int uid, unsigned enabled,
                 struct imap_fetch_plan **plan_r, const char **error_r)
{
	struct fetch_parser p = {.a = a};
	/* a list's items, or a macro's (at most 5), or one */
	size_t cap = args[0].type == IMAP_ARG_LIST
	                     ? MIN(args[0].count, (size_t)IMAP_FETCH_ITEMS_MAX + 1)
	                     : 5;
	struct imap_fetch_plan *plan = arena_zalloc(a, sizeof(*plan));
	if (plan == NULL ||
	    (plan->items = arena_alloc(a, MAX(cap, (size_t)1) * sizeof(*plan->items))) == NULL) {
		*error_r = "Fetch items too large";
		return -1;
	}
	p.plan = plan;
	plan->cap = cap;
	plan->uid = !!uid;
	plan->enabled = enabled;
	size_t i = 0;
	if (fetch_items(&p, args, &i) != 0)
		goto err_after_plan;
	if (args[i].type == IMAP_ARG_LIST) {
		if (fetch_modifiers(&p, args[i].list, args[i].count) != 0)
			goto err_after_plan;
		i++;
	}
	if (args[i].type != IMAP_ARG_EOL) {
		fetch_fail(&p, "Unexpected argument after fetch items");
		goto err_after_plan;
	}
	*plan_r = plan;
	return 0;

err_after_plan:
	*error_r = p.error;
	return -1;
}

unsigned
imap_fetch_needs(const struct imap_fetch_plan *plan)
{
	return plan->needs;
}

int
imap_fetch_changedsince(const struct imap_fetch_plan *plan, uint64_t *modseq_r, int *vanished_r)
{
	*modseq_r = plan->changedsince_set ? plan->changedsince : 0;
	*vanished_r = plan->vanished;
	return plan->changedsince_set;
}
