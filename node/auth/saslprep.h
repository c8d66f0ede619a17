/*
 * saslprep: the SASLprep profile of stringprep (RFC 4013 over RFC 3454)
 * for user names and passwords, without Unicode normalisation tables.
 *
 * Two modes, as RFC 4013 §2.5 distinguishes them:
 *  - query (flags 0): what a client sent. Mapping (§2.1), prohibited
 *    output (§2.3), unassigned code points allowed.
 *  - stored (SASLPREP_STORED): a password being set. The same, plus
 *    every character must be in a small repertoire whose characters NFKC
 *    leaves unchanged and that were assigned in Unicode 3.2, plus the bidi
 *    rule (§2.4 / RFC 3454 §6).
 * XXX RFC 4013 §2.2: no NFKC normalisation is applied (it would need the
 * Unicode decomposition tables, a new dependency). The stored-mode
 * repertoire makes that exact for every password that can be set, so a
 * SCRAM client that does apply NFKC derives the same keys; a client
 * sending a non-normalised spelling of such a password through PLAIN or
 * LOGIN (say "e" + U+0301 for U+00E9) is not recognised.
 * Pure ASCII without control characters passes through unchanged.
 *
 * Pure functions, no allocation, thread-safe.
 */
#ifndef MAILNODE_SASLPREP_H
#define MAILNODE_SASLPREP_H

#include <stddef.h>

#define SASLPREP_STORED 0x1

/* Prepare inlen bytes of UTF-8 at in into out, which must hold inlen + 1
 * bytes (preparation never lengthens a string); out is NUL-terminated and
 * *outlen_r set. in and out may be the same buffer. Returns 0, or -1 with
 * *error_r (invalid UTF-8, prohibited character, bidi, unsupported
 * character for a stored string). The output may be empty. */
int saslprep_prepare(const char *in, size_t inlen, int flags, char *out, size_t *outlen_r,
                     const char **error_r);

/* Decode one UTF-8 sequence from p[0..n) (n >= 1) strictly (no overlong
 * forms, no surrogates, nothing above U+10FFFF). Returns its length and
 * sets *cp_r, or -1. */
int saslprep_utf8_decode(const unsigned char *p, size_t n, unsigned *cp_r);

#endif
