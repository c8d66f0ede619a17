/*
 * imap parser: incremental, bounded tokeniser of IMAP client commands
 * (RFC 3501 §9, RFC 9051 §9, LITERAL+/LITERAL- RFC 7888, literal8 RFC 3516,
 * RFC 4466 extended syntax). Pure: no I/O, no session state.
 *
 * Input is the connection's nbuf; the parser consumes exactly the bytes it
 * has parsed and never reads past the end of the command (a pipelined next
 * command stays in the buffer). Output is a struct imap_cmd whose argument
 * tree lives in the parser's arena: valid until the next imap_parser_next()
 * call, imap_parser_reset() or imap_parser_deinit(). The command layer may
 * allocate its own per-command data from imap_parser_arena(): it is reset
 * with the command.
 *
 * Owner: whoever embeds struct imap_parser (the IMAP session);
 * imap_parser_deinit() frees everything.
 */
#ifndef MAILNODE_IMAP_PARSER_H
#define MAILNODE_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"

/* Hard ceilings whatever the configured limits say. */
#define IMAP_TAG_HARD_MAX   256
#define IMAP_DEPTH_HARD_MAX 256
#define IMAP_NAME_MAX       64 /* command names, "UID" excluded */

/* Results of imap_parser_next() and imap_parser_read_line(). */
enum imap_parse_result {
	IMAP_PARSE_ERROR = -1,   /* see imap_parser_error(); call again to resync */
	IMAP_PARSE_MORE = 0,     /* all input consumed, command incomplete */
	IMAP_PARSE_DONE = 1,     /* *cmd_r is a complete command */
	IMAP_PARSE_CONTINUE = 2, /* send "+ Ready for literal data", call again */
};

enum imap_arg_type {
	IMAP_ARG_EOL = 0, /* terminates every argument array */
	IMAP_ARG_NIL,     /* the atom NIL (any case); str holds it as sent */
	IMAP_ARG_ATOM,    /* flags, sequence sets, numbers, fetch-atts ... */
	IMAP_ARG_QUOTED,  /* "..." with escapes removed */
	IMAP_ARG_LITERAL, /* {n}, {n+}, ~{n}, ~{n+} */
	IMAP_ARG_LIST,    /* ( ... ) */
};

struct imap_arg {
	enum imap_arg_type type;
	bool literal8;    /* LITERAL: ~{n}; data may contain NUL */
	bool nonsync;     /* LITERAL: {n+} */
	bool streamed;    /* LITERAL: bytes went to the sink; str is NULL */
	bool section;     /* ATOM: a fetch-att with [section]: str is the name
	                   * before "[" ("BODY.PEEK"), list/count the tokens
	                   * inside the brackets */
	bool has_partial; /* ATOM with section: "<offset.size>" followed */
	/* ATOM, NIL, QUOTED, inline LITERAL: NUL-terminated text of len bytes.
	 * Streamed LITERAL: str NULL, len the size. */
	const char *str;
	size_t len;
	/* LIST, and ATOM with section: list[count].type == IMAP_ARG_EOL. */
	struct imap_arg *list;
	size_t count;
	uint64_t partial_offset, partial_size;
	struct imap_arg *next; /* private: sibling while the list is built */
};

struct imap_cmd {
	const char *tag;
	const char *name;      /* upper-cased; for "UID FETCH", "FETCH" */
	bool uid;              /* the command was prefixed by UID */
	struct imap_arg *args; /* args[argc].type == IMAP_ARG_EOL */
	size_t argc;
	unsigned literal_count;
	uint64_t literal_bytes;
	size_t line_bytes; /* command bytes excluding literal data */
};

/*
 * Limits, checked on partial input. Defaults from imap_parser_limits_init();
 * the session installs stricter ones before authentication.
 */
struct imap_parser_limits {
	size_t line_max;             /* command bytes excluding literal data */
	size_t tag_max;              /* <= IMAP_TAG_HARD_MAX */
	unsigned depth_max;          /* list + section nesting, <= IMAP_DEPTH_HARD_MAX */
	size_t argc_max;             /* argument nodes per command, nested ones too */
	unsigned literal_count_max;  /* literals per command */
	uint64_t literal_max;        /* one literal, outside APPEND */
	uint64_t append_literal_max; /* one literal inside APPEND */
	uint64_t literal_total_max;  /* all literals of one command */
	uint64_t nonsync_max;        /* {n+}: 4096 when advertising LITERAL- */
	uint64_t literal_skip_max;   /* a refused {n+} up to this many bytes is
	                              * skipped; a bigger one closes the connection */
	uint64_t inline_max;         /* literals above this must be streamed */
	size_t arena_max;            /* per-command memory */
};

/* Defaults: before authentication (8 KB literals, no streaming needed) or
 * after (64 KB lines, 64 MB APPEND). */
void imap_parser_limits_init(struct imap_parser_limits *l, bool authenticated);

/*
 * Literal sink: the session's hook for literal bodies (APPEND of a 50 MB
 * message goes to a file, not to memory).
 *
 * BEGIN is called once the literal's header line is complete and its size
 * passed the limits (before IMAP_PARSE_CONTINUE for a synchronising one).
 * Return IMAP_LITERAL_STREAM to receive the bytes through DATA calls (then
 * END), IMAP_LITERAL_INLINE to have them stored in the arena (refused when
 * info->must_stream), or a negative value to refuse the literal with
 * *error_r as text. DATA and END return 0 or negative (+ *error_r): the
 * command then fails. When imap_parser_next() returns an error for a
 * command, whatever the sink received for it is void: the caller drops it.
 * No BEGIN is made without a sink: literals above inline_max are refused.
 */
enum imap_literal_event {
	IMAP_LITERAL_BEGIN,
	IMAP_LITERAL_DATA,
	IMAP_LITERAL_END,
};
#define IMAP_LITERAL_INLINE 0
#define IMAP_LITERAL_STREAM 1

struct imap_literal_info {
	const struct imap_cmd *cmd;  /* tag, name, uid (no args yet) */
	const struct imap_arg *args; /* top-level args before it, linked by
	                              * ->next; the last may be an open list */
	const struct imap_arg *list; /* depth > 0: the elements before it in
	                              * the innermost open list, linked by
	                              * ->next (NULL: none); depth 0: NULL */
	uint64_t size;
	unsigned index; /* 0 for the first literal of the command */
	unsigned depth; /* list nesting at the literal */
	bool nonsync, literal8, must_stream;
};

typedef int imap_literal_cb(void *ctx, enum imap_literal_event ev,
                            const struct imap_literal_info *info, const unsigned char *data,
                            size_t len, const char **error_r);

enum imap_parser_errcode {
	IMAP_PERR_NONE = 0,
	IMAP_PERR_SYNTAX,            /* BAD */
	IMAP_PERR_TAG,               /* missing, invalid or too long tag: "* BAD" */
	IMAP_PERR_LINE_TOO_LONG,     /* BAD [LIMIT] */
	IMAP_PERR_TOO_DEEP,          /* BAD [LIMIT] */
	IMAP_PERR_TOO_MANY_ARGS,     /* BAD [LIMIT] */
	IMAP_PERR_TOO_MANY_LITERALS, /* BAD [LIMIT] */
	IMAP_PERR_LITERAL_TOO_BIG,   /* BAD [TOOBIG] */
	IMAP_PERR_NOMEM,             /* arena limit: BAD [LIMIT] */
	IMAP_PERR_SINK,              /* the sink refused: BAD/NO with its text */
	IMAP_PERR_LINE_MODE,         /* imap_parser_read_line(): line refused */
};

struct imap_parser_error {
	enum imap_parser_errcode code;
	const char *text;      /* for humans, no CR/LF */
	const char *tag;       /* NULL: answer "* BAD", else "<tag> BAD" */
	const char *resp_code; /* "TOOBIG", "LIMIT" or NULL */
	bool fatal;            /* close the connection after replying: the
	                        * client sends data we can neither take nor skip */
};

enum imap_parser_state {
	IMAP_PS_IDLE = 0, /* between commands */
	IMAP_PS_BLANK_CR, /* CR of an empty line */
	IMAP_PS_TAG,
	IMAP_PS_NAME,
	IMAP_PS_ARG_START, /* an argument may start here */
	IMAP_PS_AFTER_ARG, /* SP, ")", "]" or end of line expected */
	IMAP_PS_ATOM,
	IMAP_PS_TILDE, /* "~" at the start of an argument */
	IMAP_PS_QUOTED,
	IMAP_PS_QUOTED_ESC,
	IMAP_PS_LIT_OPEN, /* after "{": first digit */
	IMAP_PS_LIT_SIZE, /* digits */
	IMAP_PS_LIT_PLUS, /* after "+": "}" */
	IMAP_PS_LIT_CR,   /* after "}": CR */
	IMAP_PS_LIT_LF,   /* LF ending the literal's line */
	IMAP_PS_LIT_DATA,
	IMAP_PS_SECTION_END, /* after "]": "<" or end of the fetch-att */
	IMAP_PS_PARTIAL,     /* inside "<...>" */
	IMAP_PS_EOL_LF,      /* CR seen at the end of the command */
	IMAP_PS_DISCARD,     /* error: skipping to the end of the line */
	IMAP_PS_DISCARD_LIT, /* error: skipping a {n+} literal's bytes */
	IMAP_PS_LINE,        /* imap_parser_read_line() in progress */
	IMAP_PS_LINE_DISCARD,
	IMAP_PS_FATAL, /* only closing the connection is left */
};

/* Where the discard scanner is in a literal header "{n+}" (resync). */
enum imap_parser_dlit {
	IMAP_DLIT_NONE = 0,
	IMAP_DLIT_OPEN,   /* "{" */
	IMAP_DLIT_DIGITS, /* "{" and digits */
	IMAP_DLIT_PLUS,   /* "{n+" */
	IMAP_DLIT_CLOSED, /* "{n}" or "{n+}": only CR may follow */
	IMAP_DLIT_CR,     /* "{n}\r" */
};

struct imap_parser_frame {
	struct imap_arg *owner; /* LIST, or ATOM with section; NULL at top */
	struct imap_arg *head, *tail;
	size_t count;
	char close; /* ')' or ']'; 0 at the top */
};

/* All fields are private; use the functions below. */
struct imap_parser {
	enum imap_parser_state state;
	struct imap_parser_limits limits;
	struct imap_parser_limits pending; /* set_limits() mid-command */
	bool limits_pending;
	struct arena arena;
	struct nbuf tok; /* the token being read, or the raw line */
	struct imap_cmd cmd;
	char tag[IMAP_TAG_HARD_MAX + 1];
	bool tag_known;
	bool section_ok; /* FETCH, NOTIFY: BODY[...] is a section */
	bool is_append;  /* APPEND's literal limit applies */
	size_t line_bytes;
	size_t nodes;
	unsigned depth;      /* frames[depth] is the current frame */
	unsigned in_section; /* open "[" frames */
	struct imap_parser_frame *frames;
	unsigned frames_cap;
	/* the literal being read */
	uint64_t lit_size, lit_left;
	bool lit_nonsync, lit_literal8, lit_streamed, lit_overflow;
	struct imap_arg *lit_node;
	unsigned char *lit_buf;
	/* resync */
	enum imap_parser_dlit dlit;
	uint64_t dsize;
	bool dnonsync, doverflow;
	imap_literal_cb *sink;
	void *sink_ctx;
	struct imap_parser_error err;
	char err_buf[160];
};

/* Initialise with limits (copied); NULL: post-authentication defaults. */
void imap_parser_init(struct imap_parser *p, const struct imap_parser_limits *limits);
void imap_parser_deinit(struct imap_parser *p);
/* Install new limits: now between commands, else from the next command
 * (or raw line) on. */
void imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *limits);
/* Install the literal sink (cb NULL: none). */
void imap_parser_set_sink(struct imap_parser *p, imap_literal_cb *cb, void *ctx);
/* Drop any partial command and error state (after STARTTLS, say). */
void imap_parser_reset(struct imap_parser *p);

/*
 * Parse from in, consuming what is parsed. Returns IMAP_PARSE_DONE with
 * *cmd_r set (owned by the parser, see above), IMAP_PARSE_MORE, or
 * IMAP_PARSE_CONTINUE (a synchronising literal was accepted: send the "+"
 * continuation and call again), or IMAP_PARSE_ERROR: reply as
 * imap_parser_error() says, close if it is fatal, else call again; the
 * parser first discards the rest of the offending line (skipping the data
 * of {n+} literals announced on it) and then parses the next command.
 * While it discards, a second, fatal error can follow for the same
 * command (a {n+} on that line too big to skip): answer "* BYE" and close.
 */
int imap_parser_next(struct imap_parser *p, struct nbuf *in, struct imap_cmd **cmd_r);

/*
 * Raw line mode, between commands only (IDLE's "DONE", AUTHENTICATE
 * responses): returns IMAP_PARSE_DONE with *line_r (NUL-terminated, CRLF
 * removed, valid until the next parser call) and *len_r, IMAP_PARSE_MORE,
 * or IMAP_PARSE_ERROR (longer than line_max, or a NUL); the rest of that
 * line is discarded by the next call.
 */
int imap_parser_read_line(struct imap_parser *p, struct nbuf *in, const char **line_r,
                          size_t *len_r);

/* The last error; valid after IMAP_PARSE_ERROR until the next call. */
const struct imap_parser_error *imap_parser_error(const struct imap_parser *p);
/* Whether part of a command has been read (for idle timeouts). */
bool imap_parser_in_command(const struct imap_parser *p);
/* The per-command arena (reset when the next command starts). */
struct arena *imap_parser_arena(struct imap_parser *p);

/*
 * Argument accessors for the command layer. Each returns true when arg has
 * the asked-for form; out-parameters are untouched otherwise.
 */
/* ATOM without section. */
bool imap_arg_get_atom(const struct imap_arg *arg, const char **str_r);
/* ATOM without section, equal to s ignoring ASCII case. */
bool imap_arg_atom_equals(const struct imap_arg *arg, const char *s);
/* QUOTED or inline LITERAL ("string"). */
bool imap_arg_get_string(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* astring: ATOM (no section), NIL as the text "NIL", or string. */
bool imap_arg_get_astring(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* nstring: NIL gives *str_r NULL, or string. */
bool imap_arg_get_nstring(const struct imap_arg *arg, const char **str_r, size_t *len_r);
/* LIST. */
bool imap_arg_get_list(const struct imap_arg *arg, const struct imap_arg **list_r, size_t *count_r);
/* ATOM of decimal digits only, value <= max. */
bool imap_arg_get_number(const struct imap_arg *arg, uint64_t max, uint64_t *v_r);

/* Append a one-line description of args to out, for logs and tests:
 * atoms as sent, strings quoted, lists in parentheses, literals as "{n}"
 * followed by their data only with IMAP_ARGS_FORMAT_LITERALS (passwords
 * arrive in literals). Returns 0 or the nbuf error. */
#define IMAP_ARGS_FORMAT_LITERALS 0x1
int imap_args_format(const struct imap_arg *args, unsigned flags, struct nbuf *out);

#endif
