/*
 * mime_envelope: the FETCH ENVELOPE structure (RFC 3501 §7.4.2, RFC 9051
 * §7.5.2) and the IMAP string forms every writer of node/mime uses.
 *
 * Happy path: "(" date subject from sender reply-to to cc bcc in-reply-to
 * message-id ")" with the raw unfolded values (encoded words left alone)
 * and address lists parsed by mime_address. Sender and Reply-To fall back
 * to From when absent or empty, as §7.4.2 says; a group is written as the
 * (NIL NIL "name" NIL) ... (NIL NIL NIL NIL) pair.
 *
 * Strings are quoted when every byte is 7-bit, not CR, LF or NUL (§4.3);
 * anything else (8-bit text, say) becomes a literal {n}. NUL never occurs:
 * the tree maps it to 0x80 and so does the literal writer.
 */
#include "node/mime/mime_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"

static int
mime_quotable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0 || c >= 0x80 || c == '\r' || c == '\n')
			return 0;
	}
	return 1;
}

int
mime__imap_string(struct nbuf *out, const char *s, size_t n)
{
	int rc;
	if (mime_quotable(s, n)) {
		if ((rc = nbuf_append(out, "\"", 1)) != 0)
			return rc;
		size_t run = 0;
		for (size_t i = 0; i < n; i++) {
			if (s[i] != '"' && s[i] != '\\')
				continue;
			if ((rc = nbuf_append(out, s + run, i - run)) != 0 ||
			    (rc = nbuf_append(out, "\\", 1)) != 0)
				return rc;
			run = i;
		}
		if ((rc = nbuf_append(out, s + run, n - run)) != 0)
			return rc;
		return nbuf_append(out, "\"", 1);
	}
	if ((rc = nbuf_printf(out, "{%zu}\r\n", n)) != 0)
		return rc;
	if (memchr(s, '\0', n) == NULL)
		return nbuf_append(out, s, n);
	unsigned char *o = nbuf_reserve(out, n);
	if (o == NULL)
		return -ENOBUFS;
	for (size_t i = 0; i < n; i++)
		o[i] = s[i] ? (unsigned char)s[i] : 0x80;
	nbuf_commit(out, n);
	return 0;
}

int
mime__imap_nstring(struct nbuf *out, const char *s)
{
	if (s == NULL)
		return nbuf_append(out, "NIL", 3);
	return mime__imap_string(out, s, strlen(s));
}

int
mime__imap_upper(struct nbuf *out, const char *s, const char *suffix)
{
	size_t n = strlen(s), sn = suffix ? strlen(suffix) : 0;
	char small[128] = {0};
	char *u = n + sn <= sizeof(small) ? small : xmalloc(n + sn);
	for (size_t i = 0; i < n; i++)
		u[i] = (char)ascii_toupper((unsigned char)s[i]);
	if (sn > 0)
		memcpy(u + n, suffix, sn);
	int rc = mime__imap_string(out, u, n + sn);
	if (u != small)
		free(u);
	return rc;
}

static int
mime_addr_write(const struct mime_address *list, struct nbuf *out)
{
	int rc;
	if (list == NULL)
		return nbuf_append(out, "NIL", 3);
	if ((rc = nbuf_append(out, "(", 1)) != 0)
		return rc;
	for (const struct mime_address *a = list; a != NULL; a = a->next) {
		if ((rc = nbuf_append(out, "(", 1)) != 0 ||
		    (rc = mime__imap_nstring(out, a->name)) != 0 ||
		    (rc = nbuf_append(out, " ", 1)) != 0 ||
		    (rc = mime__imap_nstring(out, a->route)) != 0 ||
		    (rc = nbuf_append(out, " ", 1)) != 0 ||
		    (rc = mime__imap_nstring(out, a->mailbox)) != 0 ||
		    (rc = nbuf_append(out, " ", 1)) != 0 ||
		    (rc = mime__imap_nstring(out, a->host)) != 0 ||
		    (rc = nbuf_append(out, ")", 1)) != 0)
			return rc;
	}
	return nbuf_append(out, ")", 1);
}

static int
mime_env_addrs(const struct mime_envelope *env, enum mime_env_field f, struct arena *a,
               struct mime_address **list_r)
{
	const char *v = env->field[f];
	*list_r = NULL;
	return v ? mime_address_parse(v, strlen(v), a, list_r) : 0;
}

int
mime__envelope_write(const struct mime_envelope *env, struct nbuf *out)
{
	struct arena a;
	struct mime_address *addr[MIME_ENV_COUNT] = {NULL};
	int rc = 0;
	arena_init(&a, 0);
	for (int f = MIME_ENV_FROM; f <= MIME_ENV_BCC && rc == 0; f++)
		rc = mime_env_addrs(env, (enum mime_env_field)f, &a, &addr[f]);
	if (rc != 0)
		goto err_after_arena;
	if (addr[MIME_ENV_SENDER] == NULL)
		addr[MIME_ENV_SENDER] = addr[MIME_ENV_FROM];
	if (addr[MIME_ENV_REPLY_TO] == NULL)
		addr[MIME_ENV_REPLY_TO] = addr[MIME_ENV_FROM];
	if ((rc = nbuf_append(out, "(", 1)) != 0 ||
	    (rc = mime__imap_nstring(out, env->field[MIME_ENV_DATE])) != 0 ||
	    (rc = nbuf_append(out, " ", 1)) != 0 ||
	    (rc = mime__imap_nstring(out, env->field[MIME_ENV_SUBJECT])) != 0)
		goto err_after_arena;
	for (int f = MIME_ENV_FROM; f <= MIME_ENV_BCC; f++)
		if ((rc = nbuf_append(out, " ", 1)) != 0 ||
		    (rc = mime_addr_write(addr[f], out)) != 0)
			goto err_after_arena;
	if ((rc = nbuf_append(out, " ", 1)) != 0 ||
	    (rc = mime__imap_nstring(out, env->field[MIME_ENV_IN_REPLY_TO])) != 0 ||
	    (rc = nbuf_append(out, " ", 1)) != 0 ||
	    (rc = mime__imap_nstring(out, env->field[MIME_ENV_MESSAGE_ID])) != 0)
		goto err_after_arena;
	rc = nbuf_append(out, ")", 1);
err_after_arena:
	arena_deinit(&a);
	return rc;
}

int
mime_part_envelope_write(const struct mime_part *p, struct nbuf *out)
{
	if (p->envelope == NULL)
		return -EINVAL;
	return mime__envelope_write(p->envelope, out);
}

int
mime_envelope_write(const struct mime_message *m, struct nbuf *out)
{
	return mime_part_envelope_write(m->root, out);
}
