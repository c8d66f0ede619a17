/*
 * fetch_msg: one message's FETCH response from a plan (RFC 3501 §7.4.2
 * and §6.4.8; RFC 9051 §7.5.2; MODSEQ RFC 7162 §3.1.4.1 and §3.2;
 * SAVEDATE RFC 8514 §4; PREVIEW RFC 8970 §3; BINARY RFC 3516 §4.2 in
 * fetch_binary.c).
 *
 * Happy path: "* 12 FETCH (UID 40 FLAGS (\Seen $Junk) BODY[]<0> {1500}\r\n"
 * then a range of the file, then ")\r\n". Items come in the order asked;
 * UID FETCH puts UID first when it was not asked for (RFC 3501 §6.4.8);
 * a FETCH that sets \Seen adds FLAGS when they were not asked for (RFC
 * 3501 §6.4.5 "SHOULD be included"); with CONDSTORE enabled, any response
 * with FLAGS carries MODSEQ, and CHANGEDSINCE implies MODSEQ (RFC 7162
 * §3.1.4.1) and skips messages not changed since. EMAILID is the first 96
 * bits of the body's SHA-256, so that copies and moves keep it (RFC 8474
 * §5.1: it names the content, which mailnode never changes). THREADID is
 * the thread id the store gave the message at APPEND (References,
 * In-Reply-To and Message-ID against the user's earlier messages,
 * node/store/store_thread.c), which COPY and MOVE keep.
 * XXX RFC 8474 §5.2: a message stored before thread ids existed has none
 * and shows THREADID NIL, as the RFC allows for messages the server has
 * not threaded.
 *
 * The tree: the cached one, or, when none is cached, parsed here from the
 * bytes (fetch.h tells the session to pass them then) and freed before
 * returning. Failure: -1 when what the plan needs is missing or does not
 * fit, or an output limit is reached; the segments are then void.
 *
 * INTERNALDATE and SAVEDATE are shown in UTC ("+0000"), the store keeping
 * UTC seconds; SEARCH BEFORE/ON/SINCE use the same calendar.
 * XXX RFC 9051 §2.3.2: \Recent is not shown once IMAP4rev2 is enabled.
 */
#include "protocols/imap/fetch_int.h"

#include <string.h>
#include <time.h>

#include "node/lib/util.h"

static int
fetch_flags(const struct imap_fetch_plan *plan, const struct imap_fetch_msg *msg,
            struct imap_fetch_out *o)
{
	static const struct {
		uint32_t flag;
		const char *name;
	} sys[] = {{MSG_SEEN, "\\Seen"},
	           {MSG_ANSWERED, "\\Answered"},
	           {MSG_FLAGGED, "\\Flagged"},
	           {MSG_DELETED, "\\Deleted"},
	           {MSG_DRAFT, "\\Draft"}};
	uint32_t flags = msg->rec->flags | (msg->set_seen ? MSG_SEEN : 0);
	int first = 1;
	if (imap__fetch_puts(o, "FLAGS (") != 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(sys); i++) {
		if (!(flags & sys[i].flag))
			continue;
		if ((!first && imap__fetch_puts(o, " ") != 0) ||
		    imap__fetch_puts(o, sys[i].name) != 0)
			return -1;
		first = 0;
	}
	if (msg->recent && !(plan->enabled & IMAP_FETCH_REV2)) {
		if ((!first && imap__fetch_puts(o, " ") != 0) ||
		    imap__fetch_puts(o, "\\Recent") != 0)
			return -1;
		first = 0;
	}
	size_t nk = msg->keywords ? MIN(msg->nkeywords, (size_t)64) : 0;
	for (size_t i = 0; i < nk; i++) {
		const struct cmd_str *k = &msg->keywords[i];
		if (!((msg->rec->keywords >> i) & 1) || k->p == NULL || k->len == 0)
			continue;
		if ((!first && imap__fetch_puts(o, " ") != 0) ||
		    imap__fetch_text(o, k->p, k->len) != 0)
			return -1;
		first = 0;
	}
	return imap__fetch_puts(o, ")");
}

/* date-time (RFC 3501 §9) of UTC seconds: "01-Jul-2003 08:52:37 +0000". */
static int
fetch_date(struct imap_fetch_out *o, const char *name, int64_t t)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm;
	/* date-year is 4DIGIT: clamp to 0000-01-01 .. 9999-12-31 */
	t = t < -62167219200LL ? -62167219200LL : t > 253402300799LL ? 253402300799LL : t;
	time_t tt = (time_t)t;
	if (gmtime_r(&tt, &tm) == NULL)
		return -1;
	return imap__fetch_printf(o, "%s \"%02d-%.3s-%04d %02d:%02d:%02d +0000\"", name, tm.tm_mday,
	                          months + 3 * tm.tm_mon, tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	                          tm.tm_sec);
}

/* RFC 8970 §3.2: the preview the tree cached at delivery, else one made
 * from the bytes now; "" when the message has no text for one. Only with
 * LAZY and neither (a tree cached before previews were, the file not
 * mapped: making it would mean reading the message) is it NIL (§4.1). */
static int
fetch_preview(const struct imap_fetch_plan *plan, const struct imap_fetch_msg *msg,
              const struct mime_message *tree, struct imap_fetch_out *o)
{
	int utf8 = !!(plan->enabled & IMAP_FETCH_UTF8);
	if (tree->preview != NULL)
		return imap__fetch_puts(o, "PREVIEW ") == 0 &&
		                       imap__fetch_string(o, tree->preview, strlen(tree->preview),
		                                          utf8) == 0
		               ? 0
		               : -1;
	if (msg->bytes == NULL)
		return imap__fetch_puts(o, "PREVIEW NIL");
	struct nbuf b;
	nbuf_init(&b, 4 * MIME_PREVIEW_CHARS + 16);
	int rc = mime_preview(tree, msg->bytes, msg->len, &b);
	if (rc >= 0)
		rc = imap__fetch_puts(o, "PREVIEW ") == 0 &&
		                     imap__fetch_string(o,
		                                        rc == 1 ? (const char *)nbuf_head(&b) : "",
		                                        rc == 1 ? nbuf_avail(&b) : 0, utf8) == 0
		             ? 0
		             : -1;
	nbuf_deinit(&b);
	return rc < 0 ? -1 : 0;
}

static int
fetch_item(const struct imap_fetch_plan *plan, const struct imap__fetch_item *it,
           const struct imap_fetch_msg *msg, const struct mime_message *tree,
           struct imap_fetch_out *o)
{
	const struct store_msg *rec = msg->rec;
	switch ((enum imap__fetch_kind)it->kind) {
	case FETCH_K_UID:
		return imap__fetch_printf(o, "UID %u", rec->uid);
	case FETCH_K_FLAGS:
		return fetch_flags(plan, msg, o);
	case FETCH_K_INTERNALDATE:
		return fetch_date(o, "INTERNALDATE", rec->internaldate);
	case FETCH_K_SIZE:
		return imap__fetch_printf(o, "RFC822.SIZE %llu", (unsigned long long)rec->size);
	case FETCH_K_ENVELOPE:
		if (imap__fetch_puts(o, "ENVELOPE ") != 0)
			return -1;
		return mime_envelope_write(tree, &o->text) == 0 ? 0 : -1;
	case FETCH_K_BODY:
	case FETCH_K_BODYSTRUCTURE:
		if (imap__fetch_puts(o, it->kind == FETCH_K_BODY ? "BODY " : "BODYSTRUCTURE ") != 0)
			return -1;
		return mime_bodystructure_write(tree, &o->text,
		                                it->kind == FETCH_K_BODYSTRUCTURE) == 0
		               ? 0
		               : -1;
	case FETCH_K_SECTION:
		return imap__fetch_section(it, msg, tree, o);
	case FETCH_K_MODSEQ:
		return imap__fetch_printf(o, "MODSEQ (%llu)", (unsigned long long)rec->modseq);
	case FETCH_K_SAVEDATE:
		if (rec->savedate == 0)
			return imap__fetch_puts(o, "SAVEDATE NIL");
		return fetch_date(o, "SAVEDATE", rec->savedate);
	case FETCH_K_PREVIEW:
		return fetch_preview(plan, msg, tree, o);
	case FETCH_K_EMAILID: {
		char id[IMAP_EMAILID_LEN + 1];
		imap_fetch_emailid(rec->hash, id);
		return imap__fetch_printf(o, "EMAILID (%s)", id);
	}
	case FETCH_K_THREADID: {
		char id[IMAP_THREADID_LEN + 1];
		if (imap_fetch_threadid(rec->thread_id, id) != 0)
			return imap__fetch_puts(o, "THREADID NIL");
		return imap__fetch_printf(o, "THREADID (%s)", id);
	}
	case FETCH_K_BINARY:
	case FETCH_K_BINARY_SIZE:
		return imap__fetch_binary(it, msg, tree, o);
	}
	return -1;
}

static int
fetch_items(const struct imap_fetch_plan *plan, const struct imap_fetch_msg *msg,
            const struct mime_message *tree, struct imap_fetch_out *o)
{
	const struct store_msg *rec = msg->rec;
	int flags_out = plan->has_flags;
	if (imap__fetch_printf(o, "* %u FETCH (", msg->seq) != 0)
		return -1;
	if (plan->uid && !plan->has_uid && imap__fetch_printf(o, "UID %u ", rec->uid) != 0)
		return -1;
	for (size_t i = 0; i < plan->nitems; i++) {
		if (i > 0 && imap__fetch_puts(o, " ") != 0)
			return -1;
		int rc = fetch_item(plan, &plan->items[i], msg, tree, o);
		if (rc != 0)
			return rc < 0 ? rc : -1;
	}
	if (msg->set_seen && (plan->needs & FETCH_SETS_SEEN) && !plan->has_flags) {
		if (imap__fetch_puts(o, " ") != 0 || fetch_flags(plan, msg, o) != 0)
			return -1;
		flags_out = 1;
	}
	if (!plan->has_modseq &&
	    (plan->changedsince_set || (flags_out && (plan->enabled & IMAP_FETCH_CONDSTORE))) &&
	    imap__fetch_printf(o, " MODSEQ (%llu)", (unsigned long long)rec->modseq) != 0)
		return -1;
	return imap__fetch_puts(o, ")\r\n");
}

void
imap_fetch_emailid(const uint8_t hash[CMD_HASH_LEN], char out[IMAP_EMAILID_LEN + 1])
{
	/* objectid (RFC 8474 §7): 1*255(ALPHA / DIGIT / "_" / "-") */
	static const char hex[] = "0123456789abcdef";
	out[0] = 'E';
	for (size_t i = 0; i < (IMAP_EMAILID_LEN - 1) / 2; i++) {
		out[1 + 2 * i] = hex[hash[i] >> 4];
		out[2 + 2 * i] = hex[hash[i] & 15];
	}
	out[IMAP_EMAILID_LEN] = '\0';
}

int
imap_fetch_threadid(uint64_t thread_id, char out[IMAP_THREADID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	if (thread_id == 0)
		return -1;
	out[0] = 'T';
	for (size_t i = 0; i < IMAP_THREADID_LEN - 1; i++)
		out[1 + i] = hex[(thread_id >> (4 * (IMAP_THREADID_LEN - 2 - i))) & 15];
	out[IMAP_THREADID_LEN] = '\0';
	return 0;
}

int
imap_fetch_msg(const struct imap_fetch_plan *plan, const struct imap_fetch_msg *msg,
               struct imap_fetch_out *out)
{
	struct mime_message *owned = NULL;
	const struct mime_message *tree = msg->tree;
	imap_fetch_out_reset(out);
	if (plan->changedsince_set && msg->rec->modseq <= plan->changedsince)
		return 0;
	if ((plan->needs & FETCH_NEED_FILE) && msg->bytes == NULL)
		return -1;
	if (plan->needs & FETCH_NEED_TREE) {
		if (tree == NULL) {
			if (msg->bytes == NULL ||
			    mime_parse(msg->bytes, msg->len, NULL, &owned) != 0)
				return -1;
			tree = owned;
		} else if (msg->bytes != NULL && tree->size > msg->len) {
			return -1;
		}
	}
	int rc = fetch_items(plan, msg, tree, out);
	if (rc == 0)
		rc = imap__fetch_finish(out);
	mime_message_free(&owned);
	if (rc != 0) {
		imap_fetch_out_reset(out);
		return rc == IMAP_FETCH_UNKNOWN_CTE ? rc : -1;
	}
	return 0;
}
