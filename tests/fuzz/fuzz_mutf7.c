/*
 * Fuzz: modified UTF-7 and mailbox names. Invariants:
 *  - decoding accepts only canonical input: decode then encode gives the
 *    input back byte for byte, and the output is valid UTF-8;
 *  - encoding valid UTF-8 gives printable ASCII that decodes back;
 *  - a name that passes the checks survives the wire round trip;
 *  - LIST matching agrees with a naive backtracking matcher on short
 *    inputs (input split at the first NUL into pattern and name).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/util.h"
#include "protocols/imap/listmatch.h"
#include "protocols/imap/mutf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_decode(const char *in, size_t len)
{
	char utf8[2048], back[2048];
	size_t ulen, blen;
	const char *error = NULL;
	if (imap_mutf7_to_utf8(in, len, utf8, sizeof(utf8), &ulen, &error) != 0) {
		if (error == NULL)
			abort();
		return;
	}
	if (!imap_utf8_is_valid(utf8, ulen) || strlen(utf8) != ulen)
		abort();
	if (imap_utf8_to_mutf7(utf8, ulen, back, sizeof(back), &blen, &error) != 0)
		abort();
	if (blen != len || memcmp(back, in, len) != 0)
		abort(); /* accepted a non-canonical spelling */
}

static void
check_encode(const char *in, size_t len)
{
	char m[16384], back[4096];
	size_t mlen, blen;
	const char *error = NULL;
	bool valid = imap_utf8_is_valid(in, len);
	if (imap_utf8_to_mutf7(in, len, m, sizeof(m), &mlen, &error) != 0) {
		/* "\x01" alone becomes "&AAE-": at most 5 bytes out per byte in */
		if (valid && len * 5 < sizeof(m) && len < sizeof(back))
			abort();
		return;
	}
	if (!valid)
		abort();
	for (size_t i = 0; i < mlen; i++)
		if (m[i] < 0x20 || m[i] > 0x7e)
			abort();
	if (len >= sizeof(back))
		return;
	if (imap_mutf7_to_utf8(m, mlen, back, sizeof(back), &blen, &error) != 0 || blen != len ||
	    memcmp(back, in, len) != 0)
		abort();
}

static void
check_name(const char *in, size_t len)
{
	char name[IMAP_MAILBOX_UTF8_MAX + 1], m[IMAP_MAILBOX_MUTF7_MAX + 1];
	char wire[IMAP_MAILBOX_UTF8_MAX + 1];
	size_t mlen, wlen;
	const char *error = NULL;
	if (imap_mailbox_name_check(in, len, IMAP_MAILBOX_CREATE, &error) != 0)
		return;
	if (len > IMAP_MAILBOX_UTF8_MAX || memchr(in, '/', len) || memchr(in, '*', len) ||
	    in[0] == '.' || in[len - 1] == '.')
		abort();
	memcpy(name, in, len);
	imap_mailbox_name_canon_inbox(name, len);
	if (imap_utf8_to_mutf7(in, len, m, sizeof(m), &mlen, &error) != 0)
		abort();
	if (imap_mailbox_name_from_wire(m, mlen, false, IMAP_MAILBOX_CREATE, wire, sizeof(wire),
	                                &wlen, &error) != 0 ||
	    wlen != len || memcmp(wire, name, len) != 0)
		abort();
	if (imap_mailbox_name_from_wire(in, len, true, 0, wire, sizeof(wire), &wlen, &error) != 0 ||
	    memcmp(wire, name, len) != 0)
		abort();
}

/* Reference matcher: a table over (pattern suffix, name suffix), filled
 * from the ends; independent of the automaton in listmatch.c. */
#define REF_MAX 40
static bool
reference(const char *p, size_t pl, const char *n, size_t nl, bool inbox)
{
	static bool t[REF_MAX + 2][REF_MAX + 2]; /* t[i][j]: p[i..] matches n[j..] */
	for (size_t i = pl + 1; i-- > 0;) {
		for (size_t j = nl + 1; j-- > 0;) {
			bool r;
			if (i == pl) {
				r = j == nl;
			} else if (p[i] == '*' || p[i] == '%') {
				/* nothing, or one more name byte */
				r = t[i + 1][j] ||
				    (j < nl && (p[i] == '*' || n[j] != '.') && t[i][j + 1]);
			} else {
				bool eq = j < nl && (p[i] == n[j] ||
				                     (inbox && j < 5 &&
				                      ascii_toupper((unsigned char)p[i]) ==
				                              ascii_toupper((unsigned char)n[j])));
				r = eq && t[i + 1][j + 1];
			}
			t[i][j] = r;
		}
	}
	return t[0][0];
}

static void
check_match(const char *in, size_t len)
{
	const char *nul = memchr(in, '\0', len);
	if (nul == NULL || len > REF_MAX)
		return;
	size_t pl = (size_t)(nul - in), nl = len - pl - 1;
	const char *name = nul + 1;
	if (memchr(name, '\0', nl))
		return;
	struct arena a;
	struct imap_list_pattern lp;
	const char *error = NULL;
	arena_init(&a, 1 << 16);
	if (imap_list_pattern_init(&lp, &a, "", 0, in, pl, &error) != 0)
		abort();
	bool inbox =
	        nl >= 5 && ascii_strncasecmp(name, "INBOX", 5) == 0 && (nl == 5 || name[5] == '.');
	bool want = reference(in, pl, name, nl, inbox);
	unsigned got = imap_list_match(&lp, name, nl);
	if (want != ((got & IMAP_LIST_MATCH_YES) != 0))
		abort();
	arena_deinit(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	check_decode(in, size);
	check_encode(in, size);
	check_name(in, size);
	check_match(in, size);
	return 0;
}
