/*
 * imap mutf7: modified UTF-7 mailbox names (RFC 3501 §5.1.3) and the
 * mailbox-name checks that run before any name becomes a Maildir++ path.
 * Pure: no I/O, no allocation; output goes to caller buffers.
 *
 * mailnode's hierarchy separator is "."; a name "a.b" is the child "b" of
 * "a" and maps to the Maildir++ folder ".a.b".
 */
#ifndef MAILNODE_IMAP_MUTF7_H
#define MAILNODE_IMAP_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

#define IMAP_MAILBOX_UTF8_MAX  255 /* bytes of UTF-8 */
#define IMAP_MAILBOX_MUTF7_MAX 512 /* bytes of modified UTF-7 */
#define IMAP_HIERARCHY_SEP     '.'

/*
 * Modified UTF-7 to UTF-8, strictly: only the canonical form a correct
 * encoder produces is accepted (printable ASCII other than "&" as itself,
 * "&-" for "&", no encoded printable ASCII, no adjacent encoded runs, no
 * leftover or non-zero padding bits, paired surrogates, no U+0000).
 * out gets a NUL-terminated string of at most out_size - 1 bytes.
 * Returns 0 with *len_r, or -1 with *error_r (also when out is too small).
 */
int imap_mutf7_to_utf8(const char *in, size_t len, char *out, size_t out_size, size_t *len_r,
                       const char **error_r);
/*
 * UTF-8 (validated strictly: no overlong forms, surrogates, values above
 * U+10FFFF or NUL) to canonical modified UTF-7. Same conventions.
 */
int imap_utf8_to_mutf7(const char *in, size_t len, char *out, size_t out_size, size_t *len_r,
                       const char **error_r);

/* Whether s is valid UTF-8 by the rules above (NUL refused). */
bool imap_utf8_is_valid(const char *s, size_t len);

/* Checks for names the client wants created (CREATE, RENAME target):
 * also refuse the LIST wildcards "*" and "%". */
#define IMAP_MAILBOX_CREATE 0x1

/*
 * Whether a UTF-8 name may be used as a mailbox name: not empty, at most
 * IMAP_MAILBOX_UTF8_MAX bytes and IMAP_MAILBOX_MUTF7_MAX once encoded,
 * valid UTF-8, no control characters (C0, DEL, C1), no "/", no empty
 * hierarchy level (leading, trailing or doubled "."), and with
 * IMAP_MAILBOX_CREATE no wildcard. Returns 0, or -1 with *error_r.
 */
int imap_mailbox_name_check(const char *name, size_t len, unsigned flags, const char **error_r);

/* INBOX is case-insensitive, also as the parent of "INBOX.x": upper-case
 * the first five bytes of name when they spell inbox in any case and are
 * followed by the end or ".". In place. */
void imap_mailbox_name_canon_inbox(char *name, size_t len);

/*
 * A mailbox name as the client sent it (modified UTF-7, or UTF-8 once
 * UTF8=ACCEPT is enabled, RFC 6855) to a checked, INBOX-canonical UTF-8
 * name in out. Returns 0 with *len_r, or -1 with *error_r.
 */
int imap_mailbox_name_from_wire(const char *wire, size_t len, bool utf8, unsigned flags, char *out,
                                size_t out_size, size_t *len_r, const char **error_r);

#endif
