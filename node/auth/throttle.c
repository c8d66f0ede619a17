/*
 * throttle: failure counts per address, user and pair in a fixed-size
 * table. See throttle.h for the policy.
 *
 * An entry holds a 64-bit keyed fingerprint of (kind, key bytes), the
 * time of its last update and its "debt": forget_ms per failure, reduced
 * by one per elapsed millisecond. The failure count is the debt divided by
 * forget_ms, rounded up, so a failure counts in full until it has aged
 * forget_ms; an entry whose debt reaches zero is free again.
 * Happy path: three lookups per event, each one set of 8 entries.
 * Failure modes: none at run time; a full set evicts (see throttle.h).
 */
#include "node/auth/throttle.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/crypto.h"
#include "node/lib/util.h"

#define WAYS 8

enum key_kind { KIND_IP = 'I', KIND_USER = 'U', KIND_PAIR = 'P' };

struct entry {
	uint64_t key; /* 0: empty */
	uint64_t stamp_ms;
	uint32_t debt_ms;
	uint8_t kind;
};

struct throttle {
	struct throttle_params p;
	uint8_t sipkey[16];
	struct entry *tab;
	size_t nsets; /* power of two */
	uint64_t failures, successes, evictions;
};

/* The identity of one event: up to three fingerprints. */
struct keys {
	uint64_t ip, user, pair; /* 0: absent */
};

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t
throttle__siphash24(const uint8_t key[16], const void *src, size_t n)
{
	const uint8_t *in = src;
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)n << 56;
	size_t end = n - n % 8;
	for (size_t i = 0; i < end; i += 8) {
		uint64_t m = le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; j < n % 8; j++)
		b |= (uint64_t)in[end + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

void
throttle_params_default(struct throttle_params *p_r)
{
	p_r->capacity = 65536;
	p_r->ip_free = 2;
	p_r->user_free = 5;
	p_r->base_delay_ms = 1000;
	p_r->max_delay_ms = 15000;
	p_r->forget_ms = 60000;
}

struct throttle *
throttle_create(const struct throttle_params *p)
{
	struct throttle_params def;
	if (p == NULL) {
		throttle_params_default(&def);
		p = &def;
	}
	if (p->capacity < THROTTLE_CAPACITY_MIN || p->capacity > THROTTLE_CAPACITY_MAX ||
	    p->forget_ms == 0 || p->forget_ms > THROTTLE_FORGET_MAX || p->base_delay_ms == 0 ||
	    p->max_delay_ms < p->base_delay_ms || p->ip_free == 0 || p->user_free == 0)
		return NULL;
	struct throttle *t = xcalloc(1, sizeof(*t));
	t->p = *p;
	if (random_bytes(t->sipkey, sizeof(t->sipkey)) != 0) {
		free(t);
		return NULL;
	}
	size_t cap = THROTTLE_CAPACITY_MIN;
	while (cap < p->capacity)
		cap *= 2;
	t->p.capacity = cap;
	t->nsets = cap / WAYS;
	t->tab = xcalloc(cap, sizeof(*t->tab));
	return t;
}

void
throttle_free(struct throttle **tp)
{
	if (*tp == NULL)
		return;
	free((*tp)->tab);
	free(*tp);
	*tp = NULL;
}

/* The address bytes that identify a peer: IPv4 (also when mapped into
 * IPv6), or the /64 of an IPv6 address. Returns the length, 0 if none. */
static size_t
addr_bytes(const struct sockaddr *sa, uint8_t out[8])
{
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			memcpy(out, a + 12, 4);
			return 4;
		}
		memcpy(out, a, 8);
		return 8;
	}
	return 0;
}

/* Fingerprint of kind, a, u: kind and a's length first, so that no two
 * different triples hash the same bytes. */
static uint64_t
fingerprint(const struct throttle *t, uint8_t kind, const uint8_t *a, size_t alen, const uint8_t *u,
            size_t ulen)
{
	uint8_t buf[2 + 8 + THROTTLE_USER_MAX];
	buf[0] = kind;
	buf[1] = (uint8_t)alen;
	if (alen > 0)
		memcpy(buf + 2, a, alen);
	if (ulen > 0)
		memcpy(buf + 2 + alen, u, ulen);
	uint64_t k = throttle__siphash24(t->sipkey, buf, 2 + alen + ulen);
	return k != 0 ? k : 1;
}

static void
make_keys(const struct throttle *t, const struct sockaddr *addr, const char *user, struct keys *k_r)
{
	uint8_t a[8], u[THROTTLE_USER_MAX];
	size_t alen = addr_bytes(addr, a), ulen = 0;
	memset(k_r, 0, sizeof(*k_r));
	if (alen > 0)
		k_r->ip = fingerprint(t, KIND_IP, a, alen, NULL, 0);
	if (user == NULL)
		return;
	for (; ulen < THROTTLE_USER_MAX && user[ulen] != '\0'; ulen++)
		u[ulen] = (uint8_t)ascii_tolower((unsigned char)user[ulen]);
	k_r->user = fingerprint(t, KIND_USER, NULL, 0, u, ulen);
	if (alen > 0)
		k_r->pair = fingerprint(t, KIND_PAIR, a, alen, u, ulen);
}

static uint32_t
debt(const struct entry *e, uint64_t now)
{
	uint64_t age = now > e->stamp_ms ? now - e->stamp_ms : 0;
	return age >= e->debt_ms ? 0 : e->debt_ms - (uint32_t)age;
}

static uint32_t
failures(const struct throttle *t, const struct entry *e, uint64_t now)
{
	uint32_t d = e != NULL ? debt(e, now) : 0;
	return (d + t->p.forget_ms - 1) / t->p.forget_ms;
}

static struct entry *
set_of(const struct throttle *t, uint64_t key)
{
	return t->tab + ((key >> 32) & (t->nsets - 1)) * WAYS;
}

static struct entry *
lookup(const struct throttle *t, uint64_t key, uint64_t now)
{
	if (key == 0)
		return NULL;
	struct entry *set = set_of(t, key);
	for (int i = 0; i < WAYS; i++)
		if (set[i].key == key)
			return debt(&set[i], now) > 0 ? &set[i] : NULL;
	return NULL;
}

/* Find or make the entry for key; evict the weakest of a full set. */
static struct entry *
lookup_or_insert(struct throttle *t, uint64_t key, uint8_t kind, uint64_t now)
{
	struct entry *set = set_of(t, key), *victim = NULL;
	for (int i = 0; i < WAYS; i++) {
		struct entry *e = &set[i];
		if (e->key == key) {
			if (debt(e, now) == 0)
				e->debt_ms = 0;
			return e;
		}
		if (victim == NULL || debt(e, now) < debt(victim, now) ||
		    (debt(e, now) == debt(victim, now) && e->stamp_ms < victim->stamp_ms))
			victim = e;
	}
	if (victim->key != 0 && debt(victim, now) > 0)
		t->evictions++;
	victim->key = key;
	victim->kind = kind;
	victim->debt_ms = 0;
	victim->stamp_ms = now;
	return victim;
}

static void
add_failure(struct throttle *t, uint64_t key, uint8_t kind, uint64_t now)
{
	if (key == 0)
		return;
	struct entry *e = lookup_or_insert(t, key, kind, now);
	uint64_t d = (uint64_t)debt(e, now) + t->p.forget_ms;
	uint64_t max = (uint64_t)t->p.forget_ms * THROTTLE_FAILURES_MAX;
	e->debt_ms = (uint32_t)(d < max ? d : max);
	e->stamp_ms = now;
}

static uint32_t
delay_for(const struct throttle *t, uint32_t n, uint32_t free_n)
{
	if (n < free_n)
		return 0;
	uint32_t shift = n - free_n;
	if (shift >= 31)
		return t->p.max_delay_ms;
	uint64_t d = (uint64_t)t->p.base_delay_ms << shift;
	return d < t->p.max_delay_ms ? (uint32_t)d : t->p.max_delay_ms;
}

uint32_t
throttle_delay_ms(const struct throttle *t, const struct sockaddr *addr, const char *user,
                  uint64_t now_ms)
{
	struct keys k;
	make_keys(t, addr, user, &k);
	uint32_t a = delay_for(t, failures(t, lookup(t, k.ip, now_ms), now_ms), t->p.ip_free);
	uint32_t u = delay_for(t, failures(t, lookup(t, k.user, now_ms), now_ms), t->p.user_free);
	return a > u ? a : u;
}

void
throttle_fail(struct throttle *t, const struct sockaddr *addr, const char *user, uint64_t now_ms)
{
	struct keys k;
	make_keys(t, addr, user, &k);
	t->failures++;
	add_failure(t, k.ip, KIND_IP, now_ms);
	add_failure(t, k.user, KIND_USER, now_ms);
	add_failure(t, k.pair, KIND_PAIR, now_ms);
}

/* Take d of debt off key's entry, if it is there. */
static void
pay(struct throttle *t, uint64_t key, uint32_t d, uint64_t now)
{
	struct entry *e = lookup(t, key, now);
	if (e == NULL)
		return;
	uint32_t cur = debt(e, now);
	e->debt_ms = cur > d ? cur - d : 0;
	e->stamp_ms = now;
}

void
throttle_success(struct throttle *t, const struct sockaddr *addr, const char *user, uint64_t now_ms)
{
	struct keys k;
	make_keys(t, addr, user, &k);
	t->successes++;
	struct entry *pair = lookup(t, k.pair, now_ms);
	if (pair == NULL)
		return;
	uint32_t d = debt(pair, now_ms);
	pair->key = 0;
	pair->debt_ms = 0;
	pay(t, k.ip, d, now_ms);
	pay(t, k.user, d, now_ms);
}

void
throttle_stats(const struct throttle *t, uint64_t now_ms, struct throttle_stats *st_r)
{
	memset(st_r, 0, sizeof(*st_r));
	st_r->failures = t->failures;
	st_r->successes = t->successes;
	st_r->evictions = t->evictions;
	for (size_t i = 0; i < t->p.capacity; i++) {
		const struct entry *e = &t->tab[i];
		if (e->key == 0 || debt(e, now_ms) == 0)
			continue;
		st_r->entries++;
		uint32_t n = failures(t, e, now_ms);
		if (e->kind == KIND_IP && delay_for(t, n, t->p.ip_free) > 0)
			st_r->throttled_ips++;
		else if (e->kind == KIND_USER && delay_for(t, n, t->p.user_free) > 0)
			st_r->throttled_users++;
	}
}
