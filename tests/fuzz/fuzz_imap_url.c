/*
 * Fuzz: IMAP URLs (protocols/imap/imapurl.h), which CATENATE, GENURLAUTH
 * and URLFETCH take from clients. Invariants on success: a UID above 0, a
 * mailbox that is a non-empty NUL-free string, a rump length within the
 * input and ending right after ";URLAUTH=<access>" when an access is
 * given, a token of 32 or more hex digits exactly when a mechanism is,
 * and the same result for the same bytes with the arena reused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/util.h"
#include "protocols/imap/imapurl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	struct imap_url u, v;
	const char *err = NULL, *err2 = NULL;
	arena_init(&a, 1 << 20);
	int rc = imap_url_parse(&a, (const char *)data, size, &u, &err);
	int rc2 = imap_url_parse(&a, (const char *)data, size, &v, &err2);
	if (rc != rc2)
		abort();
	if (rc != 0) {
		if (rc != -1 || err == NULL || strpbrk(err, "\r\n") != NULL)
			abort();
		arena_deinit(&a);
		return 0;
	}
	if (u.uid == 0 || u.mailbox == NULL || u.mailbox[0] == '\0' || size > IMAP_URL_MAX)
		abort();
	if (u.absolute != v.absolute || u.uid != v.uid || u.uidvalidity != v.uidvalidity ||
	    strcmp(u.mailbox, v.mailbox) != 0 || u.rump_len != v.rump_len)
		abort();
	if (u.section != NULL && memchr(data, 0, size) != NULL)
		abort();
	if (u.access != NULL) {
		if (u.rump_len == 0 || u.rump_len > size)
			abort();
		if (u.rump_len < size && data[u.rump_len] != ':')
			abort();
	} else if (u.mechanism != NULL || u.has_expire) {
		abort();
	}
	if ((u.mechanism == NULL) != (u.token == NULL))
		abort();
	if (u.token != NULL) {
		size_t n = strlen(u.token);
		if (n < 32 || strspn(u.token, "0123456789abcdefABCDEF") != n)
			abort();
	}
	if (u.has_partial && u.partial_off > UINT32_MAX)
		abort();
	arena_deinit(&a);
	return 0;
}
