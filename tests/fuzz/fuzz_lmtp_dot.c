/*
 * Fuzz the LMTP body decoder (dot-unstuffing, line ends).
 *
 * Input: one control byte, then the body bytes. Control byte: bit 0 the
 * mode (DATA or BDAT); bits 1-7 seed the sizes of the pieces the input
 * and the output room are cut into. The same input is decoded whole (with
 * a large output buffer) and in pieces (with small, varying rooms), and
 * the two results must be identical: the decoder may stop anywhere.
 * Invariants checked: no bare LF in the output, output never past the
 * room given, progress on every call with room >= LMTP_DOT_ROOM_MIN, the
 * end marker consumed at the same offset both ways, and (DATA mode) a
 * message that ended ends with CRLF or is empty.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/lmtp/lmtp_dot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
decode(enum lmtp_dot_mode mode, const uint8_t *in, size_t n, uint8_t *out, unsigned seed,
       int *end_r, size_t *used_r)
{
	struct lmtp_dot d;
	lmtp_dot_init(&d, mode);
	size_t i = 0, o = 0;
	*end_r = 0;
	while (i < n && !*end_r) {
		size_t piece = seed ? 1 + (seed + i) % 17 : n - i;
		if (piece > n - i)
			piece = n - i;
		size_t room = seed ? LMTP_DOT_ROOM_MIN + (seed * 7 + o) % 11 : 3 * n + 8;
		uint8_t small[64] = {0};
		uint8_t *dst = seed ? small : out + o;
		size_t got;
		size_t k = lmtp_dot_decode(&d, in + i, piece, dst, room, &got, end_r);
		if (got > room || k > piece || (k == 0 && got == 0))
			abort();
		if (seed)
			memcpy(out + o, small, got);
		o += got;
		i += k;
	}
	*used_r = i;
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum lmtp_dot_mode mode = (data[0] & 1) ? LMTP_DOT_BDAT : LMTP_DOT_DATA;
	unsigned seed = (data[0] >> 1) | 1;
	const uint8_t *in = data + 1;
	size_t n = size - 1;
	uint8_t *a = malloc(3 * n + 8), *b = malloc(3 * n + 8);
	int end_a, end_b;
	size_t used_a, used_b;
	size_t la = decode(mode, in, n, a, 0, &end_a, &used_a);
	size_t lb = decode(mode, in, n, b, seed, &end_b, &used_b);
	if (la != lb || memcmp(a, b, la) != 0 || end_a != end_b || used_a != used_b)
		abort();
	if (mode == LMTP_DOT_BDAT && (end_a || used_a != n))
		abort();
	for (size_t i = 0; i < la; i++) {
		if (a[i] == '\n' && (i == 0 || a[i - 1] != '\r'))
			abort();
	}
	if (mode == LMTP_DOT_DATA && end_a) {
		/* The message ends with CRLF, or is empty. */
		if (la > 0 && (la < 2 || a[la - 2] != '\r' || a[la - 1] != '\n'))
			abort();
	}
	free(a);
	free(b);
	return 0;
}
