/*
 * recipient: who gets a message sent to an address. Used by LMTP at RCPT
 * time (so that an unknown address is refused there, RFC 2033 §4.2) and
 * later by Sieve (redirect to a local address).
 *
 * An address is tried, case-insensitively, as:
 *   1. an enabled user                        alice@example.test
 *   2. an alias, its targets followed (targets may be aliases; the walk is
 *      bounded in depth and in lookups) to every enabled user it reaches,
 *      each user once
 *   3. a subaddress: "user+tag@domain" tried as "user@domain" (steps 1-2);
 *      the tag is kept for Sieve (RFC 5233)
 *   4. the domain's catch-all alias "@domain"
 * The first step that finds the address decides: a disabled user is an
 * unknown address, not a reason to try the catch-all.
 *
 * Reads only: the caller holds a short store read transaction.
 * Owner: the caller owns the struct recipient; recipient_deinit frees the
 * user list.
 */
#ifndef MAILNODE_RECIPIENT_H
#define MAILNODE_RECIPIENT_H

#include <stddef.h>
#include <stdint.h>

#include "node/store/cmd.h"

struct store_txn;

/* Alias hops followed from the address (the store refuses cycles when an
 * alias is added and allows chains of 16; this leaves room). */
#define RECIPIENT_DEPTH_MAX 20
/* Distinct users one address may reach. */
#define RECIPIENT_USERS_MAX 256
/* Store lookups one resolution may do (a wide tree of aliases). */
#define RECIPIENT_LOOKUPS_MAX 1024
/* RFC 5321 §4.5.3.1.1: a local part is at most 64 octets. */
#define RECIPIENT_DETAIL_MAX 64
#define RECIPIENT_SEPARATOR  '+'

enum {
	RECIPIENT_EIO = -1,      /* the index could not be read (temporary) */
	RECIPIENT_ELOOP = -2,    /* aliases nest deeper than RECIPIENT_DEPTH_MAX */
	RECIPIENT_ETOOMANY = -3, /* more than RECIPIENT_USERS_MAX users or too many lookups */
};

struct recipient_user {
	uint32_t id;
	char address[CMD_ADDRESS_MAX + 1];
};

struct recipient {
	char address[CMD_ADDRESS_MAX + 1];     /* normalised (lower case) */
	char detail[RECIPIENT_DETAIL_MAX + 1]; /* subaddress tag; "" when none */
	const char *via;                       /* "user", "alias", "subaddress", "catchall" */
	size_t nusers;
	struct recipient_user *users; /* nusers, in the order found */
};

/* Resolve address (as the client wrote it, local@domain, not NUL-terminated
 * necessarily: len bytes). Returns 1 with at least one user in *r_r, 0 when
 * the address reaches no enabled user (unknown), or RECIPIENT_E*. *r_r is
 * initialised in every case; deinit it. */
int recipient_resolve(struct store_txn *t, const char *address, size_t len, struct recipient *r_r);
void recipient_deinit(struct recipient *r);

#endif
