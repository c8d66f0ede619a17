/*
 * cmd_any: the commands valid in any state, and the small authenticated
 * ones: CAPABILITY (RFC 3501 §6.1.1), NOOP (§6.1.2), LOGOUT (§6.1.3),
 * ID (RFC 2971), ENABLE (RFC 5161: CONDSTORE and QRESYNC, RFC 7162;
 * UTF8=ACCEPT, RFC 6855; IMAP4rev2, RFC 9051),
 * NAMESPACE (RFC 2342), COMPRESS (RFC 4978).
 *
 * Happy path: each answers at once; NOOP (and CHECK, cmd_select.c) report
 * what changed in the selected mailbox through the reply's sync.
 *
 * Failure modes: bad arguments are BAD; nothing here waits.
 */
#include <stdio.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/net/conn.h"
#include "protocols/imap/imap_private.h"

/* RFC 2971 §3.3: at most 30 pairs, fields of 30 octets, values of 1024. */
#define IMAP_ID_PAIRS_MAX 30
#define IMAP_ID_FIELD_MAX 30
#define IMAP_ID_VALUE_MAX 1024

void
imap__cmd_capability(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->argc != 0) {
		imap__bad(s, "CAPABILITY takes no arguments");
		return;
	}
	struct nbuf line;
	nbuf_init(&line, 4096);
	nbuf_puts(&line, "* CAPABILITY ");
	imap__capability_write(s, &line);
	nbuf_puts(&line, "\r\n");
	imap__write(s, nbuf_head(&line), nbuf_avail(&line));
	nbuf_deinit(&line);
	imap__ok(s, IMAP_CODE_NONE, "Capability completed");
}

void
imap__cmd_noop(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->argc != 0) {
		imap__bad(s, "NOOP takes no arguments");
		return;
	}
	s->flags |= IMAP_SF_CHANGED; /* look, whatever the notifications said */
	imap__ok(s, IMAP_CODE_NONE, "NOOP completed");
}

void
imap__cmd_logout(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->argc != 0) {
		imap__bad(s, "LOGOUT takes no arguments");
		return;
	}
	imap__untagged(s, "BYE Logging out");
	imap__ok(s, IMAP_CODE_NONE, "Logout completed");
	imap__bye(s, "logout", NULL);
}

void
imap__cmd_id(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_arg *list;
	size_t count = 0;
	if (cmd->argc != 1 || (cmd->args[0].type != IMAP_ARG_NIL &&
	                       !imap_arg_get_list(&cmd->args[0], &list, &count))) {
		imap__bad(s, "ID takes a parenthesised list or NIL");
		return;
	}
	if (count % 2 != 0 || count / 2 > IMAP_ID_PAIRS_MAX) {
		imap__bad(s, "ID takes at most %d field-value pairs", IMAP_ID_PAIRS_MAX);
		return;
	}
	struct nbuf desc;
	nbuf_init(&desc, 4096);
	for (size_t i = 0; i < count; i += 2) {
		const char *k, *v;
		size_t kl, vl;
		if (!imap_arg_get_string(&list[i], &k, &kl) || kl > IMAP_ID_FIELD_MAX ||
		    !imap_arg_get_nstring(&list[i + 1], &v, &vl) || (v && vl > IMAP_ID_VALUE_MAX)) {
			nbuf_deinit(&desc);
			imap__bad(s, "Invalid ID field or value");
			return;
		}
		/* Logged with the quotes stripped; log.h replaces control bytes. */
		nbuf_printf(&desc, "%s%.*s=%.*s", i ? "," : "", (int)MIN(kl, 30u), k,
		            (int)MIN(v ? vl : 3, 128u), v ? v : "NIL");
	}
	if (count > 0)
		log_info("imap", "event=id user=%s peer=%s client=\"%.*s\"",
		         s->user ? s->user : "-", s->conn->peer, (int)MIN(nbuf_avail(&desc), 1024u),
		         (const char *)nbuf_head(&desc));
	nbuf_deinit(&desc);
	imap__untagged(s, "ID (\"name\" \"mailnode\" \"version\" \"%s\" \"vendor\" \"mailnode\")",
	               MAILNODE_VERSION);
	imap__ok(s, IMAP_CODE_NONE, "ID completed");
}

void
imap__cmd_enable(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->argc == 0) {
		imap__bad(s, "ENABLE needs at least one capability");
		return;
	}
	for (size_t i = 0; i < cmd->argc; i++) {
		const char *a;
		if (!imap_arg_get_atom(&cmd->args[i], &a)) {
			imap__bad(s, "ENABLE takes capability names");
			return;
		}
	}
	/* RFC 5161 §3.1: names the server does not know, or that need no
	 * enabling, are ignored; ENABLED names those on after this command,
	 * each once. QRESYNC implies CONDSTORE (RFC 7162 §3.2.3). */
	bool cs = false, qr = false, u8 = false, r2 = false;
	for (size_t i = 0; i < cmd->argc; i++) {
		if (imap_arg_atom_equals(&cmd->args[i], "CONDSTORE")) {
			imap__condstore_enable(s);
			cs = true;
		} else if (imap_arg_atom_equals(&cmd->args[i], "QRESYNC")) {
			imap__condstore_enable(s);
			s->flags |= IMAP_SF_QRESYNC;
			qr = true;
		} else if (imap_arg_atom_equals(&cmd->args[i], "UTF8=ACCEPT")) {
			/* RFC 6855 §3: UTF-8 mailbox names and strings, UTF8
			 * APPEND data, no SEARCH CHARSET */
			s->flags |= IMAP_SF_UTF8 | IMAP_SF_UTF8ACCEPT;
			u8 = true;
		} else if (imap_arg_atom_equals(&cmd->args[i], "IMAP4rev2")) {
			/* RFC 9051 §6.3.1, Appendix E: no \Recent, ESEARCH,
			 * UTF-8 names, LIST on SELECT ... */
			s->flags |= IMAP_SF_REV2 | IMAP_SF_UTF8;
			r2 = true;
		}
	}
	imap__untagged(s, "ENABLED%s%s%s%s", cs ? " CONDSTORE" : "", qr ? " QRESYNC" : "",
	               u8 ? " UTF8=ACCEPT" : "", r2 ? " IMAP4rev2" : "");
	imap__ok(s, IMAP_CODE_NONE, "ENABLE completed");
}

void
imap__cmd_namespace(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->argc != 0) {
		imap__bad(s, "NAMESPACE takes no arguments");
		return;
	}
	imap__untagged(s, "NAMESPACE ((\"\" \".\")) NIL NIL");
	imap__ok(s, IMAP_CODE_NONE, "NAMESPACE completed");
}

/* RFC 4978 §3: "COMPRESS DEFLATE" in the authenticated and selected
 * states (command-auth, §5). The tagged OK goes out uncompressed; every
 * byte after its CRLF, both ways, is raw DEFLATE (node/net/compress.h),
 * inside TLS when TLS is on. A second COMPRESS is NO [COMPRESSIONACTIVE]
 * (RFC 4978 §3, RFC 5530 §3); an algorithm other than DEFLATE is BAD. */
void
imap__cmd_compress(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *alg;
	if (cmd->argc != 1 || !imap_arg_get_atom(&cmd->args[0], &alg)) {
		imap__bad(s, "COMPRESS takes one algorithm name");
		return;
	}
	if (conn_is_compressed(s->conn)) {
		imap__no_code(s, "COMPRESSIONACTIVE", "DEFLATE is active already");
		return;
	}
	if (ascii_strcasecmp(alg, "DEFLATE") != 0) {
		imap__bad(s, "Unknown compression algorithm");
		return;
	}
	struct conn *c = s->conn;
	imap__ok(s, IMAP_CODE_NONE, "DEFLATE active");
	if (!conn_closing(c))
		conn_start_compress(c);
}
