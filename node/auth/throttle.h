/*
 * throttle: slow down password guessing, per remote address and per user.
 *
 * Policy. Failed authentications are counted under three keys: the remote
 * address (an IPv6 address by its /64, since one host owns a whole /64),
 * the user name (ASCII case folded, as lookup is case-insensitive), and
 * the (address, user) pair. Each count decays linearly: one failure is
 * forgotten every forget_ms. The answer to an attempt from address A for
 * user U is held back by
 *
 *	max(g(failures from A, ip_free), g(failures for U, user_free))
 *	g(n, free) = 0 if n < free, else base_delay_ms << (n - free), at most max_delay_ms
 *
 * computed before the attempt's own outcome is recorded and applied to
 * success and failure alike (a shorter wait for a wrong password would
 * tell the attacker to give up waiting). So a correct password for U from
 * A is slowed only by failures for U and failures from A, never by other
 * addresses failing for other users. A success for U from A takes the
 * (A, U) pair's failures back out of A's and U's counts (the user's own
 * typos stop counting) and nothing else: logging into one's own account
 * does not launder failures against other accounts, and a real user's
 * login does not reset an attack on that user from elsewhere.
 * A distributed attack on U slows U's own logins too, up to max_delay_ms;
 * user_free is higher than ip_free to leave room for honest typos.
 *
 * Memory is a fixed table of `capacity` entries (8-way set-associative,
 * keyed SipHash-2-4 fingerprints with a random key, so an attacker can
 * neither choose a set nor grow the table). A full set evicts its entry
 * with the fewest remaining failures, oldest first: rotating addresses or
 * names churns among cheap entries and leaves well-established counts.
 *
 * Time is an argument (now_ms, monotonic), there is no clock inside.
 * Owner: the event loop; not thread-safe.
 */
#ifndef MAILNODE_AUTH_THROTTLE_H
#define MAILNODE_AUTH_THROTTLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define THROTTLE_CAPACITY_MIN 64
#define THROTTLE_CAPACITY_MAX (1u << 24)
/* Longest forget_ms (one hour), and the most failures one key remembers. */
#define THROTTLE_FORGET_MAX   3600000u
#define THROTTLE_FAILURES_MAX 1000u
/* Bytes of a user name that count; longer names are cut (for hashing). */
#define THROTTLE_USER_MAX 512

struct throttle_params {
	size_t capacity;        /* entries, rounded up to a power of two */
	uint32_t ip_free;       /* failures from one address before delays start */
	uint32_t user_free;     /* failures for one user before delays start */
	uint32_t base_delay_ms; /* the first delay */
	uint32_t max_delay_ms;  /* the cap */
	uint32_t forget_ms;     /* time for one failure to be forgotten */
};

struct throttle_stats {
	uint64_t failures;    /* throttle_fail() calls since creation */
	uint64_t successes;   /* throttle_success() calls since creation */
	uint64_t evictions;   /* live entries pushed out of a full set */
	size_t entries;       /* live entries now */
	size_t throttled_ips; /* addresses whose next answer would be delayed */
	size_t throttled_users;
};

struct throttle;

/* capacity 65536 (1.5 MiB), ip_free 2, user_free 5, 1 s doubling to 15 s,
 * one failure forgotten per minute. */
void throttle_params_default(struct throttle_params *p_r);

/* NULL p: defaults. Returns NULL if p is out of bounds or no random key
 * could be had. */
struct throttle *throttle_create(const struct throttle_params *p);
void throttle_free(struct throttle **t);

/* How long to hold back the answer to this attempt (see the policy above).
 * addr: the peer (AF_INET or AF_INET6), or NULL/another family for no
 * address key; user: as the client sent it, or NULL if not known yet. */
uint32_t throttle_delay_ms(const struct throttle *t, const struct sockaddr *addr, const char *user,
                           uint64_t now_ms);
/* Record the outcome of an attempt, after throttle_delay_ms(). */
void throttle_fail(struct throttle *t, const struct sockaddr *addr, const char *user,
                   uint64_t now_ms);
void throttle_success(struct throttle *t, const struct sockaddr *addr, const char *user,
                      uint64_t now_ms);

/* Counters for metrics; entries and throttled_* scan the table. */
void throttle_stats(const struct throttle *t, uint64_t now_ms, struct throttle_stats *st_r);

/* SipHash-2-4, exposed for its test vector. */
uint64_t throttle__siphash24(const uint8_t key[16], const void *p, size_t n);

#endif
