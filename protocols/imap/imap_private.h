/*
 * imap_private: the IMAP4rev1 session (RFC 3501), shared by the files of
 * protocols/imap that are not the parser or the engines:
 *
 *   session.c        accept, greeting, the command loop (pipelining, literal
 *                    continuations, parser errors), the dispatch table,
 *                    limits, timeouts, close, metrics
 *   reply.c          capabilities, response codes, tagged/untagged/BYE
 *   session_sched.c  what runs later on the loop: deferred continuations,
 *                    the commands-per-second throttle, async submissions
 *   view.c           the selected mailbox: the session's seq->UID view and
 *                    its synchronisation with the store (EXISTS, EXPUNGE,
 *                    FETCH FLAGS, RFC 3501 §5.2, §7.4.1)
 *   util.c           flags, mailbox names, quoting, response codes
 *   cmd_any.c        CAPABILITY, NOOP, LOGOUT, ID, ENABLE, NAMESPACE,
 *                    COMPRESS (the layer itself is node/net/compress.c)
 *   cmd_auth.c       STARTTLS, LOGIN, AUTHENTICATE (SASL-IR),
 *                    UNAUTHENTICATE (RFC 8437)
 *   cmd_select.c     SELECT, EXAMINE, UNSELECT, CLOSE, CHECK
 *   cmd_mailbox.c    CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE
 *   cmd_list.c       LIST (LIST-EXTENDED, SPECIAL-USE), LSUB, XLIST
 *   cmd_status.c     STATUS
 *   cmd_append.c     APPEND, MULTIAPPEND (RFC 3502); append_sink.c the
 *                    literal sink and the argument walk (literal8, UTF8,
 *                    CATENATE RFC 4469, whose URL parts catenate.c reads;
 *                    imapurl.c parses IMAP URLs); append.h
 *   cmd_store.c      STORE
 *   cmd_expunge.c    EXPUNGE, UID EXPUNGE
 *   cmd_copy.c       COPY, MOVE
 *   cmd_fetch.c      FETCH glue to the engine (fetch.h), streamed;
 *   cmd_fetch_msg.c  one message of it: gathered, its segments sent
 *                    (BINARY's decoded ones too, RFC 3516)
 *   cmd_search.c     SEARCH glue to the engine (search.h), pool for text;
 *                    ESEARCH, SEARCHRES ($), and the runner SORT and
 *                    THREAD share (search_run.h)
 *   cmd_sort.c       SORT, UID SORT (RFC 5256, 5957, ESORT RFC 5267)
 *   cmd_thread.c     THREAD, UID THREAD (RFC 5256)
 *   context.c        RETURN (UPDATE) contexts, CANCELUPDATE (RFC 5267 §4.3)
 *   cmd_idle.c       IDLE
 *   cmd_quota.c      GETQUOTA, GETQUOTAROOT, SETQUOTA (QUOTA, RFC 9208)
 *   cmd_replace.c    REPLACE, UID REPLACE (RFC 8508)
 *   urlauth.c        GENURLAUTH, RESETKEY (URLAUTH, RFC 4467), the
 *                    INTERNAL mechanism, access checks
 *   cmd_urlfetch.c   URLFETCH (RFC 4467 §7.3), streamed
 *   condstore.c      CONDSTORE and QRESYNC (RFC 7162): enabling, the
 *                    select parameters, VANISHED, changes since a MODSEQ
 *
 * Owner: the connection (c->data) owns the session; it is freed in
 * on_close, the libuv close callback. Work that outlives it (a SEARCH in
 * the pool, a login in the pool) is detached there and frees itself.
 */
#ifndef MAILNODE_IMAP_PRIVATE_H
#define MAILNODE_IMAP_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/login.h"
#include "node/store/cmd.h"
#include "node/store/schema.h"
#include "protocols/imap/parser.h"
#include "protocols/imap/seqset.h"

struct conn;
struct node;
struct store;
struct store_txn;
struct store_watch;
struct repl_req;
struct msgin;
struct imap_append;
struct cmd_batch;
struct cmd_results;
struct imap_session;
struct imap_search_context;

/* Unconsumed input held per connection; the parser takes bytes from it
 * as it goes, so this bounds memory, not the command length. */
#define IMAP_IN_LIMIT (32 * 1024)
/* Pre-authentication command line: room for AUTHENTICATE with a SASL-IR
 * of SASL_INPUT_MAX bytes in base64. */
#define IMAP_PREAUTH_LINE_MAX (12 * 1024)
/* Defaults of the cluster configuration keys. */
#define IMAP_LINE_DEFAULT         (64 * 1024)
#define IMAP_LINE_MIN             1024
#define IMAP_LINE_MAX             (16 * 1024 * 1024)
#define IMAP_MESSAGE_SIZE_DEFAULT (50u * 1024 * 1024)
#define IMAP_DEPTH_DEFAULT        32
/* RFC 3501 §5.4: at least 30 minutes once authenticated. */
#define IMAP_IDLE_TIMEOUT_DEFAULT_S  1800
#define IMAP_LOGIN_TIMEOUT_DEFAULT_S 120
#define IMAP_KEEPALIVE_DEFAULT_S     120
#define IMAP_RATE_DEFAULT            500 /* commands per second, burst twice that */
/* Failed authentications before the connection is closed. */
#define IMAP_AUTH_FAILURES_MAX 10
/* Longest tagged/untagged text we format in one go (names excluded). */
#define IMAP_REPLY_MAX 1024
/* Messages one FETCH/SEARCH run handles before yielding the loop. */
#define IMAP_RUN_MSGS_MAX  2000
#define IMAP_RUN_BYTES_MAX (4u * 1024 * 1024)

enum imap_state {
	IMAP_S_NOAUTH = 0,
	IMAP_S_AUTH,
	IMAP_S_SELECTED,
	IMAP_S_LOGOUT,
};

/* What the session waits for. With NONE, IDLE and SASL input is read;
 * otherwise the connection is paused and pipelined commands wait. */
enum imap_wait {
	IMAP_W_NONE = 0,
	IMAP_W_LOGIN,    /* credentials are checked (pool, throttle delay) */
	IMAP_W_SASL,     /* a SASL challenge was sent: the next line answers */
	IMAP_W_SUBMIT,   /* a batch is in the replicated log */
	IMAP_W_APPEND,   /* a message body is made durable (msgin) */
	IMAP_W_STREAM,   /* FETCH output waits for the client to read */
	IMAP_W_POOL,     /* SEARCH runs in the thread pool */
	IMAP_W_IDLE,     /* IDLE: only "DONE" is read */
	IMAP_W_DEFER,    /* the command goes on at the next loop iteration */
	IMAP_W_THROTTLE, /* too many commands per second: input waits */
};

/* Session flags. */
enum {
	IMAP_SF_IMPLICIT_TLS = 1 << 0, /* the IMAPS port */
	IMAP_SF_DRAIN_WAIT = 1 << 1,   /* output full: read no command */
	IMAP_SF_CHANGED = 1 << 2,      /* the store notified a change */
	IMAP_SF_IN_LOGIN = 1 << 3,     /* inside login_step/login_password */
	IMAP_SF_LOGIN_DONE = 1 << 4,   /* the login gave its final answer */
	IMAP_SF_SASL_FINAL = 1 << 5,   /* success data sent; expect an empty line */
	IMAP_SF_IN_INPUT = 1 << 6,     /* inside the command loop */
	IMAP_SF_QUEUED = 1 << 7,       /* on the deferred or throttled list */
	IMAP_SF_CMD = 1 << 8,          /* a command is running */
	IMAP_SF_UTF8 = 1 << 9,         /* UTF-8 mailbox names and strings: ENABLE
	                                * UTF8=ACCEPT (RFC 6855) or IMAP4rev2 */
	IMAP_SF_CONDSTORE = 1 << 10,   /* a CONDSTORE enabling command ran (RFC 7162 §3.1) */
	IMAP_SF_QRESYNC = 1 << 11,     /* ENABLE QRESYNC was answered ENABLED (§3.2.3) */
	IMAP_SF_HMS_DUE = 1 << 12,     /* "* OK [HIGHESTMODSEQ]" goes with the next reply */
	IMAP_SF_REV2 = 1 << 13,        /* ENABLE IMAP4rev2 (RFC 9051 §6.3.1) */
	IMAP_SF_UTF8ACCEPT = 1 << 14,  /* ENABLE UTF8=ACCEPT itself: APPEND's UTF8
	                                * data, no SEARCH CHARSET (RFC 6855 §3, §4) */
};

/* The selected mailbox as this session sees it (RFC 3501 §2.3.1). */
struct imap_mailbox {
	uint32_t id;
	uint32_t uidvalidity;
	uint32_t uidnext;              /* the view holds the messages below this UID */
	uint32_t count;                /* messages in the view (kept while uids is released) */
	uint64_t modseq_flags;         /* flag changes reported up to here */
	uint64_t modseq_exp;           /* expunges reported up to here */
	uint64_t exp_pending;          /* lowest MODSEQ of an expunge held back while
	                                * FETCH, STORE or SEARCH ran (0: none) */
	uint32_t recent_lo, recent_hi; /* UIDs \Recent in this session: [lo, hi) */
	uint32_t nrecent;              /* of them still in the view */
	uint32_t nkeywords;            /* keywords announced in FLAGS */
	uint32_t *uids;                /* the view: uids[seq - 1]; NULL while released */
	uint32_t cap;
	bool readonly;
	struct store_watch *watch;
	char *name; /* UTF-8, for logs */
	/* RFC 5182 SEARCHRES "$": the saved search result as UIDs, one heap
	 * block (cmd_search.c); NULL when empty. Freed with the view. */
	struct imap_seqset *saved;
	/* RFC 5267 updating search contexts (context.c), freed with the view */
	struct imap_search_context *contexts;
};

/* A command of the dispatch table (session.c). */
typedef void imap_cmd_fn(struct imap_session *s, const struct imap_cmd *cmd);
/* Definition flags. */
enum {
	DEF_UID = 1 << 0,    /* may follow "UID" */
	DEF_NOEXP = 1 << 1,  /* FETCH, STORE, SEARCH: no EXPUNGE responses (§7.4.1) */
	DEF_NOSYNC = 1 << 2, /* never report mailbox changes with this reply */
};

struct imap_cmd_def {
	const char *name;
	unsigned states; /* 1 << enum imap_state */
	unsigned flags;  /* DEF_* */
	imap_cmd_fn *fn;
};

/* Async continuations. */
typedef void imap_submit_fn(struct imap_session *s, int status, struct cmd_results *rs);
typedef void imap_cont_fn(struct imap_session *s);

struct imap_session {
	struct conn *conn;
	struct imap_parser *parser; /* allocated while a command is read or runs */
	const struct imap_cmd *cmd; /* the running command (parser's arena) */
	const struct imap_cmd_def *def;
	struct imap_mailbox *sel;
	void *op; /* the running command's own state (arena or heap) */
	/* Releases what op holds outside the arena if the session goes away
	 * while the command runs (a mapped file, a pool job). */
	void (*op_release)(struct imap_session *s);
	imap_submit_fn *submit_cb;
	imap_cont_fn *cont; /* what IMAP_W_DEFER / IMAP_W_STREAM resumes */
	struct repl_req *req;
	struct login *login;
	struct imap_append *append; /* the APPEND/REPLACE being read (append.h) */
	char *user;                 /* address once authenticated (heap) */
	char *saved_tag;            /* IDLE's tag while the parser is released (heap) */
	struct imap_session *next_queued;
	uint64_t started_ms;
	uint64_t rate_ms; /* commands-per-second bucket: last refill */
	uint32_t user_id;
	uint32_t rate_tokens;
	uint32_t flags;
	uint8_t state;
	uint8_t wait;
	uint8_t auth_failures;
	uint8_t append_code; /* IMAP_CODE_* set by the literal sink */
	const char *end_reason;
	/* for the logout line */
	uint32_t ncommands, nfetched, nappended, nexpunged;
	uint64_t bytes_out;
};

/* Response codes (RFC 3501 §7.1, RFC 5530, RFC 4315, RFC 7889...). */
enum imap_code {
	IMAP_CODE_NONE = 0,
	IMAP_CODE_TOOBIG,
	IMAP_CODE_TRYCREATE,
	IMAP_CODE_NONEXISTENT,
	IMAP_CODE_ALREADYEXISTS,
	IMAP_CODE_CANNOT,
	IMAP_CODE_UNAVAILABLE,
	IMAP_CODE_SERVERBUG,
	IMAP_CODE_LIMIT,
	IMAP_CODE_OVERQUOTA,
	IMAP_CODE_READONLY,
	IMAP_CODE_READWRITE,
	IMAP_CODE_EXPUNGEISSUED,
	IMAP_CODE_AUTHFAILED,
	IMAP_CODE_PRIVACYREQUIRED,
	IMAP_CODE_CLIENTBUG,
	IMAP_CODE_USEATTR,
	IMAP_CODE_NOPERM,
	IMAP_CODE_INUSE,
	IMAP_CODE_CONTACTADMIN,
	IMAP_CODE_BADURL,            /* RFC 4469 §5: with the URL (append.h) */
	IMAP_CODE_UNKNOWNCTE,        /* RFC 3516 §4.3 */
	IMAP_CODE_COMPRESSIONACTIVE, /* RFC 4978 §3 */
};
const char *imap__code_name(enum imap_code c);

/* --- session.c ------------------------------------------------------ */

/* Enter the authenticated state (after LOGIN/AUTHENTICATE). */
void imap__authenticated(struct imap_session *s, const struct login_user *u);
/* The running command's arena. */
struct arena *imap__arena(struct imap_session *s);
/* Cluster configuration. */
uint64_t imap__config_u64(const char *key, uint64_t dflt);
struct store *imap__store(void);
uint64_t imap__message_size_max(void);
/* Count bytes of message data sent. */
void imap__count_out(struct imap_session *s, uint64_t n);
/* Run the command loop now (from the loop, never inside a command). */
void imap__input_run(struct imap_session *s);
/* The running command answered: forget it and read what is pipelined. */
void imap__cmd_end(struct imap_session *s);

/* --- reply.c --------------------------------------------------------- */

/* Tagged replies to the running command; each ends the command (sync of
 * the selected mailbox first for OK and NO, as the command allows), frees
 * its memory and reads the next pipelined command. code may be NONE. */
void imap__ok(struct imap_session *s, enum imap_code code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void imap__no(struct imap_session *s, enum imap_code code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void imap__bad(struct imap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A tagged OK whose response code is free text ("APPENDUID 4 7"). */
void imap__ok_code(struct imap_session *s, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void imap__no_code(struct imap_session *s, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Untagged "* " line (text without CRLF) and raw bytes. */
void imap__untagged(struct imap_session *s, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void imap__write(struct imap_session *s, const void *p, size_t n);
/* End the session after what is queued: "* BYE text" first unless NULL. */
void imap__bye(struct imap_session *s, const char *reason, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* The capability list for this session's state. */
void imap__capability_write(struct imap_session *s, struct nbuf *out);
/* Whether output is past the high-water mark after a flush (on_drain
 * will come). */
int imap__output_full(struct imap_session *s);

/* --- session_sched.c ------------------------------------------------ */

void imap__sched_init(struct node *n);
void imap__sched_deinit(void);
/* Wait: input is paused until imap__resume (or the command's reply). */
void imap__wait(struct imap_session *s, enum imap_wait w);
/* Stop waiting and read pipelined input again (from the loop). */
void imap__resume(struct imap_session *s);
/* Run fn at the next loop iteration (a long FETCH yields this way). */
void imap__defer(struct imap_session *s, imap_cont_fn *fn);
/* Take one command token; 0 when the session must slow down (it is then
 * queued and its input resumes when tokens are back). */
int imap__rate_take(struct imap_session *s);
/* The session is going away: off every list. */
void imap__sched_forget(struct imap_session *s);
/* Submit a batch; cb runs once with the outcome (never from inside). The
 * session waits meanwhile. */
void imap__submit(struct imap_session *s, struct cmd_batch *b, imap_submit_fn *cb);
/* Submit one command as a batch of its own; -1 (nothing submitted, the
 * caller answers) if it does not fit in one. */
int imap__submit_one(struct imap_session *s, const struct cmd *c, imap_submit_fn *cb);
/* A submitted batch's failure as a tagged NO (UNAVAILABLE...). */
void imap__submit_failed(struct imap_session *s, int status);
/* A command result's status as a tagged NO. */
void imap__cmd_status_no(struct imap_session *s, enum cmd_status st, const char *what);

/* --- view.c ---------------------------------------------------------- */

/* Sync flags. */
enum {
	IMAP_SYNC_EXPUNGE = 1 << 0, /* EXPUNGE responses are allowed now */
	IMAP_SYNC_UID = 1 << 1,     /* add UID to FETCH responses */
};

/* Select mailbox m (read from the store just now, in t) into s->sel with
 * its view; recent_lo/hi as claimed. Returns 0, or -1 (store error). */
int imap__view_open(struct imap_session *s, struct store_txn *t, const struct store_mailbox *m,
                    bool readonly, uint32_t recent_lo, uint32_t recent_hi, uint32_t *unseen_r);
/* Leave the selected state. */
void imap__view_close(struct imap_session *s);
/* Make sure the seq->UID array is in memory. Returns 0 or -1. */
int imap__view_load(struct imap_session *s);
/* Release the array (IDLE); the view is rebuilt from the store on need. */
void imap__view_release(struct imap_session *s);
/* Report changes since the last sync as untagged responses. skip_modseq:
 * flag changes of this MODSEQ were made by the running command and are
 * reported by it (0: none). Returns 0, or -1 when the mailbox is gone (a
 * BYE was sent and the connection is closing). */
int imap__view_sync(struct imap_session *s, unsigned flags, uint64_t skip_modseq);
/* The UID of a sequence number (1-based, <= count; loaded view). */
static inline uint32_t
imap__view_uid(const struct imap_session *s, uint32_t seq)
{
	return s->sel->uids[seq - 1];
}
/* The sequence number of a UID in the view, 0 if absent. */
uint32_t imap__view_seq(const struct imap_session *s, uint32_t uid);
/* Is uid \Recent in this session? */
int imap__view_recent(const struct imap_session *s, uint32_t uid);
uint32_t imap__view_recent_count(const struct imap_session *s);

/*
 * A message set of the running command as sequence numbers in the view
 * (ascending, in the arena). uid: the set holds UIDs (unknown ones are
 * ignored); else numbers above the message count are an error.
 * Returns 0 with *seqs_r and *n_r, or -1 with *error_r (answer BAD).
 */
int imap__view_select(struct imap_session *s, const struct imap_arg *arg, bool uid,
                      uint32_t **seqs_r, uint32_t *n_r, const char **error_r);
/* UID ranges covering exactly the selected messages (seqs ascending), for
 * a store command. Returns the count; ranges in the arena (NULL: none). */
uint32_t imap__view_ranges(struct imap_session *s, const uint32_t *seqs, uint32_t n,
                           struct uid_range **ranges_r);
/* The selected mailbox changed in the store (watch callback). */
void imap__view_notify(struct imap_session *s);
/* context.c, for the view's synchronisation: the UIDs about to be
 * reported expunged (before EXPUNGE or VANISHED: REMOVEFROM); the changes
 * up to highestmodseq after EXISTS and FETCH (ADDTO, REMOVEFROM); and the
 * contexts' memory when the view goes. */
void imap__contexts_expunge(struct imap_session *s, const uint32_t *uids, uint32_t n);
void imap__contexts_sync(struct imap_session *s, struct store_txn *t, uint64_t highestmodseq);
void imap__contexts_free(struct imap_mailbox *sel);
/* What a FETCH line about a message's state carries. */
enum {
	IMAP_FL_FLAGS = 1 << 0,
	IMAP_FL_UID = 1 << 1,
	IMAP_FL_MODSEQ = 1 << 2,
};
/* Write "* seq FETCH (FLAGS (..) UID u MODSEQ (m))" for m, with what is
 * asked and what the session's CONDSTORE/QRESYNC state adds (MODSEQ, UID:
 * RFC 7162 §3.1, §3.2.4). line is scratch space. */
void imap__view_fetch_line(struct imap_session *s, struct nbuf *line, uint32_t seq,
                           const struct store_msg *m, const struct cmd_str *names, size_t nnames,
                           unsigned what);
/* The HIGHESTMODSEQ the client may rely on: everything up to it was
 * reported (an expunge held back during FETCH/STORE/SEARCH lowers it). */
uint64_t imap__view_highestmodseq(const struct imap_session *s);
/* With a reply: "* OK [HIGHESTMODSEQ n]" when CONDSTORE was just enabled
 * in the selected state, or (noexp: the command could not report
 * expunges) when an expunge is held back. */
void imap__view_hms_report(struct imap_session *s, bool noexp);

/* --- util.c ---------------------------------------------------------- */

/* Mailbox name from the wire (astring, modified UTF-7) into out (UTF-8,
 * INBOX canonical). flags: IMAP_MAILBOX_CREATE. Returns 0, or -1 with
 * *error_r. */
int imap__mailbox_arg(struct imap_session *s, const struct imap_arg *arg, unsigned flags, char *out,
                      size_t out_size, const char **error_r);
/* The mailbox arg names, looked up in a read transaction of its own:
 * 0 with *m, or -1 after answering NO (with `missing` when the name is
 * invalid or no such mailbox exists, UNAVAILABLE when the index cannot be
 * read). */
int imap__mailbox_lookup(struct imap_session *s, const struct imap_arg *arg, enum imap_code missing,
                         struct store_mailbox *m);
/* Append a mailbox name (UTF-8) as it goes on the wire: modified UTF-7,
 * quoted (or a literal when quoting cannot carry it). */
int imap__mailbox_write(struct imap_session *s, const char *name, struct nbuf *out);
/* Append s as an IMAP string: quoted when possible, else a literal. */
int imap__string_write(const char *str, size_t len, struct nbuf *out);
/* Parse a flag list or single flag (STORE, APPEND): system flags into
 * *flags_r, keywords into names_r (arena). \Recent and unknown system
 * flags are refused. Returns 0, or -1 with *error_r. */
int imap__flags_parse(struct imap_session *s, const struct imap_arg *arg, uint32_t *flags_r,
                      const char ***names_r, uint32_t *nnames_r, const char **error_r);
/* "(\Seen kw ...)" for a message; names[i] is keyword bit i. */
int imap__flags_write(struct nbuf *out, uint32_t flags, uint64_t keywords,
                      const struct cmd_str *names, size_t nnames, int recent);
/* The FLAGS and PERMANENTFLAGS lines for a mailbox's keywords. */
void imap__flags_announce(struct imap_session *s, const struct cmd_str *names, size_t n,
                          bool readonly);
/* Special-use bit of an attribute name ("\Sent"), 0 if unknown. */
uint32_t imap__special_use_bit(const char *attr);
/* Append " \Sent" etc. for bits; xlist: Gmail's names (XLIST). */
void imap__special_use_write(struct nbuf *out, uint32_t bits, bool xlist);
/* RFC 3501 date-time ("17-Jul-1996 02:44:25 -0700") to epoch seconds.
 * Returns 0 or -1. */
int imap__datetime_parse(const char *s, size_t len, int64_t *t_r);
/* Octets in units of 1024, rounded up (QUOTA STORAGE, RFC 9208 §5.1). */
static inline uint64_t
imap__kib_up(uint64_t bytes)
{
	return bytes / 1024 + (bytes % 1024 != 0);
}
/* The FETCH engine's IMAP_FETCH_* flags for what the session enabled. */
unsigned imap__fetch_enabled(const struct imap_session *s);
/* The MAILBOXID of a mailbox (RFC 8474 §4): an objectid from its id,
 * which a RENAME keeps. */
void imap__mailboxid_format(char *buf, size_t n, uint32_t id, uint32_t uidvalidity);

/* --- cmd_status.c ---------------------------------------------------- */

#define IMAP_STATUS_ITEMS_MAX 32
struct imap_status_items {
	uint8_t v[IMAP_STATUS_ITEMS_MAX];
	size_t n;
};
/* A STATUS item list "(MESSAGES UIDNEXT ...)"; HIGHESTMODSEQ makes the
 * session CONDSTORE-aware. Returns 0, or -1 with *error_r (BAD). */
int imap__status_items_parse(struct imap_session *s, const struct imap_arg *arg,
                             struct imap_status_items *items, const char **error_r);
/* "* STATUS name (...)" for mailbox m, read in t. Returns 0 or -1. */
int imap__status_write(struct imap_session *s, struct store_txn *t, const struct store_mailbox *m,
                       const struct imap_status_items *items);

/* --- condstore.c ----------------------------------------------------- */

/* A CONDSTORE enabling command ran (RFC 7162 §3.1): FETCH responses carry
 * MODSEQ from now on, and a selected mailbox's HIGHESTMODSEQ goes with the
 * reply. Idempotent. */
void imap__condstore_enable(struct imap_session *s);
/* "* VANISHED [(EARLIER) ]uids" for n ascending UIDs (RFC 7162 §3.2.10),
 * in as many lines as keep each under IMAP_VANISHED_LINE_MAX. */
void imap__vanished_write(struct imap_session *s, bool earlier, const uint32_t *uids, uint32_t n);
#define IMAP_VANISHED_LINE_MAX 8000
/* The tagged OK of a command that expunged (EXPUNGE, UID EXPUNGE, MOVE,
 * REPLACE): with QRESYNC enabled and messages expunged, the expunges are
 * reported first and the OK carries HIGHESTMODSEQ (RFC 7162 §3.2.7). */
void imap__ok_expunged(struct imap_session *s, bool expunged, const char *text);

/* SELECT/EXAMINE parameters (RFC 4466 §2.1; RFC 7162 §3.1.8, §3.2.5). */
struct imap_select_params {
	bool condstore;
	bool qresync;
	uint32_t uidvalidity;
	uint64_t modseq;
	bool has_known;
	struct imap_seqset known; /* known-uids (the command's arena) */
};
/* Parse the optional parameter list. Returns 0, or -1 with *error_r
 * (answer BAD: unknown parameter, bad syntax, QRESYNC not enabled). */
int imap__select_params(struct imap_session *s, const struct imap_arg *arg,
                        struct imap_select_params *p, const char **error_r);
/* QRESYNC at selection (RFC 7162 §3.2.5.1): "* VANISHED (EARLIER)" for
 * the known UIDs expunged after p->modseq, then FETCH (UID FLAGS MODSEQ)
 * of the known messages changed after it; nothing when the UIDVALIDITY
 * differs. t: the transaction the view was built in. Returns 0 or -1. */
int imap__qresync_report(struct imap_session *s, struct store_txn *t,
                         const struct imap_select_params *p, const struct cmd_str *names,
                         size_t nnames);
/* UID FETCH ... (CHANGEDSINCE n VANISHED) (RFC 7162 §3.2.6): "* VANISHED
 * (EARLIER)" for the UIDs of the set arg expunged after since. Returns 0,
 * or -1 (a store error, a set that does not parse). */
int imap__fetch_vanished(struct imap_session *s, struct store_txn *t, const struct imap_arg *arg,
                         uint64_t since);
/* UIDs of the selected mailbox expunged with a MODSEQ above since, within
 * set (none: all), ascending, heap-allocated in *uids_r (free it).
 * Returns the count, or -1 on a store error. */
int64_t imap__expunged_since(struct imap_session *s, struct store_txn *t, uint64_t since,
                             const struct imap_seqset *set, uint32_t **uids_r);
/* Narrow seqs (ascending sequence numbers of the loaded view) to the
 * messages whose MODSEQ is above since, from the MODSEQ index: the work is
 * the number of changes, not of messages. The result replaces *seqs and *n
 * (the command's arena). Returns 0, or -1 (store error, memory). */
int imap__changed_since(struct imap_session *s, struct store_txn *t, uint64_t since,
                        uint32_t **seqs, uint32_t *n);

/* --- command handlers ------------------------------------------------ */

imap_cmd_fn imap__cmd_capability, imap__cmd_noop, imap__cmd_logout, imap__cmd_id, imap__cmd_enable,
        imap__cmd_namespace, imap__cmd_compress;
imap_cmd_fn imap__cmd_starttls, imap__cmd_login, imap__cmd_authenticate;
imap_cmd_fn imap__cmd_select, imap__cmd_unselect, imap__cmd_close, imap__cmd_check;
imap_cmd_fn imap__cmd_create, imap__cmd_delete, imap__cmd_rename, imap__cmd_subscribe;
imap_cmd_fn imap__cmd_list, imap__cmd_status;
imap_cmd_fn imap__cmd_append, imap__cmd_store, imap__cmd_expunge, imap__cmd_copy;
imap_cmd_fn imap__cmd_fetch, imap__cmd_search, imap__cmd_idle;
imap_cmd_fn imap__cmd_sort, imap__cmd_thread, imap__cmd_cancelupdate;
imap_cmd_fn imap__cmd_unauthenticate, imap__cmd_getquota, imap__cmd_getquotaroot,
        imap__cmd_setquota, imap__cmd_replace;
imap_cmd_fn imap__cmd_genurlauth, imap__cmd_resetkey, imap__cmd_urlfetch;

/* cmd_auth.c: a line while a SASL exchange waits (NULL: too long). */
void imap__sasl_line(struct imap_session *s, const char *line, size_t len);
void imap__auth_release(struct imap_session *s);
/* cmd_append.c: the parser's literal sink; the session is going away. */
int imap__literal_sink(void *ctx, enum imap_literal_event ev, const struct imap_literal_info *info,
                       const unsigned char *data, size_t len, const char **error_r);
void imap__append_release(struct imap_session *s);
/* append_sink.c: the bodies of an APPEND or REPLACE could not be made
 * durable (status from msgin): released, and the NO that says why. */
void imap__append_failed(struct imap_session *s, int status);
/* append_sink.c: "BADURL url" (the response code's text, without the
 * brackets) for the URL the running APPEND refused, made safe to send. */
const char *imap__append_badurl(struct imap_session *s, char *buf, size_t size);
/* The mailbox named by arg: 1 found (id in *id_r), 0 absent, -1 error. */
int imap__append_mailbox(struct imap_session *s, const struct imap_arg *arg, uint32_t *id_r);
/* cmd_replace.c: the message a REPLACE literal replaces, checked before
 * the "+" (RFC 8508 §3). Returns 0, or -1 with *error_r and maybe
 * s->append_code. */
int imap__replace_check(struct imap_session *s, const struct imap_literal_info *info,
                        const char **error_r);
/* session.c: back to the not-authenticated state (UNAUTHENTICATE). */
void imap__unauthenticated(struct imap_session *s);
/* cmd_idle.c: a line during IDLE; a change or keepalive during IDLE. */
void imap__idle_line(struct imap_session *s, const char *line, size_t len);
void imap__idle_keepalive(struct imap_session *s);

#endif
