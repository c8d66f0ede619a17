/*
 * catenate: the message data an IMAP URL names (RFC 5092 §5), for the URL
 * parts of CATENATE (RFC 4469 §3, §5) and for URLFETCH (RFC 4467 §7).
 *
 * Happy path: the URL is parsed (imapurl.h); it must name a message of
 * the session's own user ("/INBOX;UIDVALIDITY=v/;UID=u/;SECTION=1.2", or
 * "imap://user@host/..." with that user), or carry a valid URLAUTH
 * (urlauth.c decides whose mailbox it opens, RFC 4467 §3); the mailbox,
 * its UIDVALIDITY when given and the message are looked up in one short
 * read transaction; the body file is mapped, the MIME tree taken from the
 * cache (or parsed), and the section (as BODY.PEEK[section]: part
 * numbers, HEADER, TEXT, MIME, HEADER.FIELDS[.NOT] (names)) and partial
 * range cut out. The bytes go to the caller's sink a piece at a time (for
 * CATENATE: msgin, a temporary file; nothing is held in memory but
 * HEADER.FIELDS' selected lines).
 *
 * Failure modes: a URL that does not parse, names another user's mailbox
 * without a valid URLAUTH, a mailbox or message that does not exist (or
 * an expunged one), a UIDVALIDITY that changed, a section that names no
 * part -> BADURL (RFC 4469 §5); a body this node does not hold yet ->
 * UNAVAILABLE; the result over the size limit -> TOOBIG.
 * XXX RFC 4469 §5: the copy runs on the loop (page-cache reads and
 * writes), bounded by limits.message_size per message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/mime/mime.h"
#include "node/msgin.h"
#include "node/store/store.h"
#include "protocols/imap/append.h"
#include "protocols/imap/imapurl.h"
#include "protocols/imap/mutf7.h"

#define URL_FIELDS_MAX 256

/* HEADER.FIELDS[.NOT] (names) of spec at the end of section s: the
 * names into fields (a copy in a), their count; 0: no field list; -1: bad. */
static int
url_fields(struct arena *a, const char *s, size_t *speclen_r, const char **fields, int *not_r)
{
	const char *sp = strchr(s, ' ');
	size_t speclen = sp ? (size_t)(sp - s) : strlen(s);
	*speclen_r = speclen;
	*not_r = speclen >= 17 && ascii_strncasecmp(s + speclen - 17, "HEADER.FIELDS.NOT", 17) == 0;
	int fieldsform = *not_r || (speclen >= 13 &&
	                            ascii_strncasecmp(s + speclen - 13, "HEADER.FIELDS", 13) == 0);
	if (!fieldsform)
		return sp == NULL ? 0 : -1;
	if (sp == NULL || sp[1] != '(')
		return -1;
	char *list = arena_strndup(a, sp + 2, strlen(sp + 2));
	size_t n = list ? strlen(list) : 0;
	if (list == NULL || n == 0 || list[n - 1] != ')')
		return -1;
	list[n - 1] = '\0';
	int count = 0;
	for (char *tok = strtok(list, " "); tok != NULL; tok = strtok(NULL, " ")) {
		for (const char *c = tok; *c; c++)
			if ((unsigned char)*c < 33 || (unsigned char)*c > 126 || *c == ':')
				return -1;
		if (count == URL_FIELDS_MAX)
			return -1;
		fields[count++] = tok;
	}
	return count > 0 ? count : -1;
}

int
imap__url_section(struct arena *a, const struct imap_url *u, const char *bytes, size_t len,
                  const struct mime_message *tree, struct nbuf *hdr, const char **data_r,
                  size_t *size_r)
{
	struct mime_range r = {0, len};
	const char *fields[URL_FIELDS_MAX];
	int nfields = 0, not = 0;
	if (u->section != NULL) {
		size_t speclen;
		if ((nfields = url_fields(a, u->section, &speclen, fields, &not )) < 0 ||
		    tree == NULL || mime_section_find(tree, u->section, speclen, &r) != 1 ||
		    r.off > len || r.len > len - r.off)
			return -1;
		if (nfields > 0 &&
		    mime_header_fields_write(bytes, &r, fields, (size_t)nfields, not, hdr) != 0)
			return -1;
	}
	const char *data = nfields > 0 ? (const char *)nbuf_head(hdr) : bytes + r.off;
	size_t total = nfields > 0 ? nbuf_avail(hdr) : r.len, start = 0, end = total;
	if (u->has_partial) {
		start = (size_t)MIN(u->partial_off, (uint64_t)total);
		end = u->partial_len ? (size_t)MIN(u->partial_off + u->partial_len, (uint64_t)total)
		                     : total;
	}
	*data_r = data + start;
	*size_r = end - start;
	return 0;
}

int
imap__url_open(struct imap_session *s, const struct imap_url *u, uint32_t owner,
               struct imap_url_msg *m, enum imap_code *code_r, const char **error_r)
{
	struct store_txn *t;
	struct store_mailbox mb;
	struct store_msg rec;
	char name[SCHEMA_NAME_MAX + 1];
	memset(m, 0, sizeof(*m));
	*code_r = IMAP_CODE_BADURL;
	size_t n;
	if (imap_mailbox_name_from_wire(u->mailbox, strlen(u->mailbox), true, 0, name, sizeof(name),
	                                &n, error_r) != 0)
		return -1;
	if (store_read_begin(imap__store(), &t) != 0) {
		*code_r = IMAP_CODE_UNAVAILABLE;
		*error_r = "Cannot read the mailbox now";
		return -1;
	}
	int rc = store_mailbox_get(t, owner, name, &mb);
	if (rc == 1 && u->uidvalidity != 0 && u->uidvalidity != mb.uidvalidity)
		rc = 0;
	if (rc == 1)
		rc = store_msg_get(t, mb.id, u->uid, &rec);
	struct store_body b;
	if (rc == 1 && store_body_get(t, rec.hash, &b) == 1 && b.metalen > 0 &&
	    mime_tree_decode(b.meta, b.metalen, &m->tree) != 0)
		m->tree = NULL;
	store_read_end(&t);
	if (rc <= 0) {
		if (rc < 0)
			*code_r = IMAP_CODE_UNAVAILABLE;
		*error_r = rc < 0 ? "Cannot read the mailbox now" : "No such message";
		mime_message_free(&m->tree);
		return -1;
	}
	int fd = store_body_open(imap__store(), rec.hash);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0 || (uint64_t)sb.st_size < rec.size) {
		if (fd >= 0)
			close(fd);
		mime_message_free(&m->tree);
		*code_r = IMAP_CODE_UNAVAILABLE;
		*error_r = "The message cannot be read now, try again";
		return -1;
	}
	m->len = (size_t)rec.size;
	if (m->len > 0) {
		void *p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			close(fd);
			mime_message_free(&m->tree);
			*code_r = IMAP_CODE_UNAVAILABLE;
			*error_r = "The message cannot be read now";
			return -1;
		}
		m->bytes = p;
	}
	close(fd);
	if (m->tree == NULL && u->section != NULL &&
	    mime_parse(m->bytes ? m->bytes : "", m->len, NULL, &m->tree) != 0) {
		imap__url_close(m);
		*code_r = IMAP_CODE_UNAVAILABLE;
		*error_r = "The message cannot be read now";
		return -1;
	}
	return 0;
}

void
imap__url_close(struct imap_url_msg *m)
{
	if (m->bytes != NULL)
		munmap(m->bytes, m->len);
	m->bytes = NULL;
	mime_message_free(&m->tree);
}

int
imap__url_owner(struct imap_session *s, const struct imap_url *u, const char *url, size_t len,
                uint32_t *owner_r, const char **error_r)
{
	if (u->access != NULL)
		return imap__urlauth_verify(s, u, url, len, owner_r, error_r);
	if (!u->absolute ||
	    (u->user != NULL && s->user != NULL && ascii_strcasecmp(u->user, s->user) == 0)) {
		*owner_r = s->user_id;
		return 1;
	}
	*error_r = "The URL names another user's mailbox";
	return 0;
}

static void
keep_badurl(struct imap_session *s, const char *url, size_t len)
{
	struct imap_append *a = imap__append_get(s);
	free(a->badurl);
	a->badurl = xstrndup(url, MIN(len, (size_t)IMAP_URL_MAX));
}

int
imap__catenate_url(struct imap_session *s, struct msgin *in, const char *url, size_t len,
                   enum imap_code *code_r, const char **error_r)
{
	struct imap_url u;
	struct imap_url_msg m;
	uint32_t owner;
	struct arena *a = imap__arena(s);
	*code_r = IMAP_CODE_BADURL;
	if (imap_url_parse(a, url, len, &u, error_r) != 0 ||
	    imap__url_owner(s, &u, url, len, &owner, error_r) != 1) {
		keep_badurl(s, url, len);
		return -1;
	}
	if (imap__url_open(s, &u, owner, &m, code_r, error_r) != 0) {
		if (*code_r == IMAP_CODE_BADURL)
			keep_badurl(s, url, len);
		return -1;
	}
	const char *data;
	size_t size;
	struct nbuf hdr;
	nbuf_init(&hdr, m.len + 4);
	int rc =
	        imap__url_section(a, &u, m.bytes ? m.bytes : "", m.len, m.tree, &hdr, &data, &size);
	if (rc != 0) {
		nbuf_deinit(&hdr);
		imap__url_close(&m);
		*error_r = "The URL names no part of the message";
		keep_badurl(s, url, len);
		return -1;
	}
	for (size_t o = 0; rc == 0 && o < size; o += MIN(size - o, (size_t)1 << 20))
		rc = msgin_write(in, data + o, MIN(size - o, (size_t)1 << 20));
	nbuf_deinit(&hdr);
	imap__url_close(&m);
	if (rc != 0) {
		*code_r = msgin_too_big(in) ? IMAP_CODE_TOOBIG : IMAP_CODE_SERVERBUG;
		*error_r = msgin_too_big(in) ? "Message too large (see APPENDLIMIT)"
		                             : "Cannot store the message";
		return -1;
	}
	return 0;
}
