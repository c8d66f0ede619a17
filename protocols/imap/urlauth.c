/*
 * urlauth: URLAUTH (RFC 4467): GENURLAUTH (§7.1) and RESETKEY (§7.2), the
 * INTERNAL mechanism, and the check that a URLAUTH-authorized URL grants
 * this session access (URLFETCH §7.3, in cmd_urlfetch.c; CATENATE's URL
 * parts, RFC 4469 §3).
 *
 * The mailbox access key (§3): 32 random bytes per mailbox, made by the
 * node that first needs it and stored through the replicated log (one
 * CMD_URLAUTH_KEY: apply() keeps a key that exists, so two sessions that
 * ask at once both read back the one that won). The INTERNAL token is
 * HMAC-SHA-256 of the rump URL (everything up to the end of the access
 * identifier, as the client wrote it) under the key of the mailbox the URL
 * names, in lower-case hex: 256 bits, above §6's 128. Keys never appear in
 * a log line or a response; the dump shows their digest.
 *
 * Happy path: "GENURLAUTH imap://joe@host/INBOX/;UID=20/;SECTION=1.2;
 * URLAUTH=user+fred INTERNAL" -> the mailbox's key (made first if need
 * be) -> "* GENURLAUTH imap://...;URLAUTH=user+fred:INTERNAL:91354a47...".
 * RESETKEY removes the keys of one mailbox (or all of the user's): every
 * URL made with them fails from then on; a new key is made on demand.
 *
 * Access (§3): "anonymous" and "authuser" any authenticated session,
 * "user+X" the session of user X, "submit+X" a session whose user is
 * listed in the cluster configuration key imap.urlauth_submit (space or
 * comma separated): the submission server acting for X. An ;EXPIRE= in the
 * past fails (§6).
 *
 * Failure modes: a URL that is no rump URL of this user's own mailbox ->
 * NO [BADURL url]; a mechanism other than INTERNAL -> NO; no quorum -> NO
 * [UNAVAILABLE]; RESETKEY of a mailbox that does not exist -> NO
 * [NONEXISTENT].
 * XXX RFC 4467 §7.1: GENURLAUTH does not check that the message exists
 * (it may be expunged later anyway); URLFETCH answers NIL then.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/crypto.h"
#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/node.h"
#include "node/store/store.h"
#include "protocols/imap/append.h"
#include "protocols/imap/imapurl.h"
#include "protocols/imap/mutf7.h"
#include "replication/repl.h"

#define URLAUTH_TOKEN_HEX (2 * SHA256_LEN)
#define URLAUTH_ITEMS_MAX 100

struct genurlauth_item {
	const char *url; /* the rump URL, as sent */
	size_t len;
	uint32_t mailbox_id;
};

struct genurlauth_op {
	struct genurlauth_item *v;
	size_t n;
};

/* The token of a rump URL under key, as hex. */
static void
urlauth_token(const uint8_t key[CMD_URLAUTH_KEY_LEN], const char *rump, size_t len,
              char hex[URLAUTH_TOKEN_HEX + 1])
{
	uint8_t mac[SHA256_LEN];
	hmac_sha256(key, CMD_URLAUTH_KEY_LEN, rump, len, mac);
	hex_encode(mac, sizeof(mac), hex);
	explicit_bzero(mac, sizeof(mac));
}

/* The mailbox a URL names in user's store. 1 with its record, 0 none,
 * -1 error. */
static int
urlauth_mailbox(struct store_txn *t, uint32_t user, const struct imap_url *u,
                struct store_mailbox *m)
{
	char name[SCHEMA_NAME_MAX + 1];
	const char *err;
	size_t n;
	if (imap_mailbox_name_from_wire(u->mailbox, strlen(u->mailbox), true, 0, name, sizeof(name),
	                                &n, &err) != 0)
		return 0;
	int rc = store_mailbox_get(t, user, name, m);
	if (rc == 1 && u->uidvalidity != 0 && u->uidvalidity != m->uidvalidity)
		return 0;
	return rc;
}

/* Whether the session's user is a submission entity (imap.urlauth_submit). */
static int
urlauth_submitter(struct imap_session *s, struct store_txn *t)
{
	char list[1024];
	if (s->user == NULL || store_config_get(t, "imap.urlauth_submit", list, sizeof(list)) != 1)
		return 0;
	size_t ul = strlen(s->user);
	for (char *p = list; *p;) {
		p += strspn(p, " ,");
		size_t n = strcspn(p, " ,");
		if (n == ul && ascii_strncasecmp(p, s->user, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

static int
urlauth_access(struct imap_session *s, struct store_txn *t, const char *access)
{
	if (s->user == NULL)
		return 0;
	if (ascii_strcasecmp(access, "anonymous") == 0 || ascii_strcasecmp(access, "authuser") == 0)
		return 1;
	if (ascii_strncasecmp(access, "user+", 5) == 0)
		return ascii_strcasecmp(access + 5, s->user) == 0;
	if (ascii_strncasecmp(access, "submit+", 7) == 0)
		return urlauth_submitter(s, t);
	return 0;
}

int
imap__urlauth_verify(struct imap_session *s, const struct imap_url *u, const char *url, size_t len,
                     uint32_t *owner_r, const char **error_r)
{
	struct store_txn *t;
	struct store_user user;
	struct store_mailbox m;
	uint8_t key[CMD_URLAUTH_KEY_LEN], want[SHA256_LEN], got[SHA256_LEN];
	*error_r = "URLAUTH does not grant access";
	if (!u->absolute || u->user == NULL || u->mechanism == NULL || u->token == NULL ||
	    ascii_strcasecmp(u->mechanism, "INTERNAL") != 0 ||
	    strlen(u->token) != URLAUTH_TOKEN_HEX ||
	    hex_decode(u->token, URLAUTH_TOKEN_HEX, got, sizeof(got)) != 0)
		return 0;
	if (u->has_expire && u->expire <= (int64_t)(now_wall_ms() / 1000)) {
		*error_r = "URLAUTH expired";
		return 0;
	}
	if (store_read_begin(imap__store(), &t) != 0)
		return 0;
	int ok = urlauth_access(s, t, u->access) && store_user_get(t, u->user, &user) == 1 &&
	         urlauth_mailbox(t, user.id, u, &m) == 1 &&
	         store_urlauth_key_get(t, user.id, m.id, key) == 1;
	store_read_end(&t);
	/* The MAC is computed whether or not the user, mailbox and key
	 * exist, so that the time taken does not tell which. */
	if (!ok)
		memset(key, 0, sizeof(key));
	hmac_sha256(key, sizeof(key), url, u->rump_len, want);
	ok = ok && ct_equal(want, got, sizeof(want));
	explicit_bzero(key, sizeof(key));
	explicit_bzero(want, sizeof(want));
	if (!ok)
		return 0;
	*owner_r = user.id;
	return 1;
}

static void
genurlauth_badurl(struct imap_session *s, const char *url, size_t len, const char *text)
{
	struct imap_append *a = imap__append_get(s);
	free(a->badurl);
	a->badurl = xstrndup(url, MIN(len, (size_t)IMAP_URL_MAX));
	imap__append_no(s, IMAP_CODE_BADURL, text);
}

/* Every key exists now: the tokens and the response. */
static void
genurlauth_reply(struct imap_session *s)
{
	struct genurlauth_op *op = s->op;
	struct store_txn *t;
	struct nbuf line;
	if (store_read_begin(imap__store(), &t) != 0) {
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
		return;
	}
	nbuf_init(&line, URLAUTH_ITEMS_MAX * (IMAP_URL_MAX + 128));
	nbuf_puts(&line, "* GENURLAUTH");
	for (size_t i = 0; i < op->n; i++) {
		const struct genurlauth_item *it = &op->v[i];
		uint8_t key[CMD_URLAUTH_KEY_LEN];
		char hex[URLAUTH_TOKEN_HEX + 1], *full;
		if (store_urlauth_key_get(t, s->user_id, it->mailbox_id, key) != 1) {
			store_read_end(&t);
			nbuf_deinit(&line);
			imap__no(s, IMAP_CODE_UNAVAILABLE, "The mailbox changed, try again");
			return;
		}
		urlauth_token(key, it->url, it->len, hex);
		explicit_bzero(key, sizeof(key));
		size_t flen = it->len + sizeof(":INTERNAL:") - 1 + URLAUTH_TOKEN_HEX;
		full = arena_alloc(imap__arena(s), flen + 1);
		if (full == NULL) {
			store_read_end(&t);
			nbuf_deinit(&line);
			imap__no(s, IMAP_CODE_LIMIT, "Too many URLs");
			return;
		}
		snprintf(full, flen + 1, "%.*s:INTERNAL:%s", (int)it->len, it->url, hex);
		nbuf_puts(&line, " ");
		imap__string_write(full, flen, &line);
	}
	store_read_end(&t);
	nbuf_puts(&line, "\r\n");
	imap__write(s, nbuf_head(&line), nbuf_avail(&line));
	nbuf_deinit(&line);
	imap__ok(s, IMAP_CODE_NONE, "GENURLAUTH completed");
}

static void
genurlauth_keys_done(struct imap_session *s, int status, struct cmd_results *rs)
{
	if (status != REPL_OK) {
		imap__submit_failed(s, status);
		return;
	}
	for (uint32_t i = 0; i < rs->n; i++) {
		if (rs->r[i].status != CMD_OK && rs->r[i].status != CMD_EEXISTS) {
			cmd_results_free(&rs);
			imap__no(s, IMAP_CODE_NONEXISTENT, "The mailbox went away meanwhile");
			return;
		}
	}
	cmd_results_free(&rs);
	genurlauth_reply(s);
}

/* Keys for the mailboxes that lack one, in one batch. Returns 1
 * submitted, 0 none needed, -1 error (answered). */
static int
genurlauth_keys(struct imap_session *s, struct genurlauth_op *op, struct store_txn *t)
{
	struct node *n = node_get();
	struct cmd_batch b;
	size_t added = 0;
	cmd_batch_init(&b, n ? n->cfg->node_id : 0, 0);
	for (size_t i = 0; i < op->n; i++) {
		uint8_t key[CMD_URLAUTH_KEY_LEN];
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			dup = op->v[k].mailbox_id == op->v[i].mailbox_id;
		int rc = dup ? 1 : store_urlauth_key_get(t, s->user_id, op->v[i].mailbox_id, key);
		if (rc < 0 || (rc == 0 && random_bytes(key, sizeof(key)) != 0)) {
			cmd_batch_deinit(&b);
			imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot make a key now");
			return -1;
		}
		if (rc == 1)
			continue;
		struct cmd c = {.type = CMD_URLAUTH_KEY,
		                .user_id = s->user_id,
		                .mailbox_id = op->v[i].mailbox_id,
		                .mode = URLAUTH_KEY_ADD,
		                .blob = {(const char *)key, sizeof(key)}};
		rc = cmd_batch_add(&b, &c);
		explicit_bzero(key, sizeof(key));
		if (rc != 0) {
			cmd_batch_deinit(&b);
			imap__no(s, IMAP_CODE_LIMIT, "Too many mailboxes");
			return -1;
		}
		added++;
	}
	if (added > 0)
		imap__submit(s, &b, genurlauth_keys_done);
	/* the batch's copy of the keys goes with it */
	if (b.buf.data != NULL)
		explicit_bzero(b.buf.data, b.buf.cap);
	cmd_batch_deinit(&b);
	return added > 0;
}

void
imap__cmd_genurlauth(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct arena *a = imap__arena(s);
	struct genurlauth_op *op = arena_zalloc(a, sizeof(*op));
	if (op == NULL || cmd->argc < 2 || cmd->argc % 2 != 0 ||
	    cmd->argc / 2 > URLAUTH_ITEMS_MAX ||
	    (op->v = arena_zalloc(a, cmd->argc / 2 * sizeof(*op->v))) == NULL) {
		imap__bad(s, "GENURLAUTH takes pairs of a URL and a mechanism");
		return;
	}
	struct store_txn *t;
	if (store_read_begin(imap__store(), &t) != 0) {
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
		return;
	}
	for (size_t i = 0; i < cmd->argc; i += 2) {
		const char *url, *mech, *err;
		size_t len;
		struct imap_url u;
		struct store_mailbox m;
		if (!imap_arg_get_astring(&cmd->args[i], &url, &len) ||
		    !imap_arg_get_atom(&cmd->args[i + 1], &mech)) {
			store_read_end(&t);
			imap__bad(s, "GENURLAUTH takes pairs of a URL and a mechanism");
			return;
		}
		if (ascii_strcasecmp(mech, "INTERNAL") != 0) {
			store_read_end(&t);
			imap__no(s, IMAP_CODE_NONE, "Unsupported URLAUTH mechanism");
			return;
		}
		const char *why = NULL;
		if (imap_url_parse(a, url, len, &u, &err) != 0)
			why = err;
		else if (u.access == NULL || u.mechanism != NULL || u.rump_len != len)
			why = "Not a rump URLAUTH URL";
		else if (!u.absolute || u.user == NULL || s->user == NULL ||
		         ascii_strcasecmp(u.user, s->user) != 0)
			why = "The URL must name this user";
		else if (urlauth_mailbox(t, s->user_id, &u, &m) != 1)
			why = "No such mailbox";
		if (why != NULL) {
			store_read_end(&t);
			genurlauth_badurl(s, url, len, why);
			return;
		}
		op->v[op->n++] = (struct genurlauth_item){url, len, m.id};
	}
	s->op = op;
	int rc = genurlauth_keys(s, op, t);
	store_read_end(&t);
	if (rc == 0)
		genurlauth_reply(s);
}

static void
resetkey_done(struct imap_session *s, int status, struct cmd_results *rs)
{
	if (status != REPL_OK) {
		imap__submit_failed(s, status);
		return;
	}
	enum cmd_status st = rs->r[0].status;
	cmd_results_free(&rs);
	if (st != CMD_OK)
		imap__cmd_status_no(s, st, "RESETKEY");
	else
		imap__ok(s, IMAP_CODE_NONE, "RESETKEY completed");
}

/* RESETKEY [mailbox *(SP mechanism)] (RFC 4467 §7.2). */
void
imap__cmd_resetkey(struct imap_session *s, const struct imap_cmd *cmd)
{
	uint32_t mailbox_id = 0;
	for (size_t i = 1; i < cmd->argc; i++) {
		const char *mech;
		if (!imap_arg_get_atom(&cmd->args[i], &mech)) {
			imap__bad(s, "RESETKEY takes a mailbox and mechanisms");
			return;
		}
		if (ascii_strcasecmp(mech, "INTERNAL") != 0) {
			imap__no(s, IMAP_CODE_NONE, "Unsupported URLAUTH mechanism");
			return;
		}
	}
	if (cmd->argc > 0) {
		struct store_mailbox m;
		if (imap__mailbox_lookup(s, &cmd->args[0], IMAP_CODE_NONEXISTENT, &m) != 0)
			return;
		mailbox_id = m.id;
	}
	struct cmd c = {.type = CMD_URLAUTH_KEY,
	                .user_id = s->user_id,
	                .mailbox_id = mailbox_id,
	                .mode = URLAUTH_KEY_RESET};
	if (imap__submit_one(s, &c, resetkey_done) != 0)
		imap__no(s, IMAP_CODE_SERVERBUG, "RESETKEY failed");
}
