/*
 * pop3_delay: the per-node LOGIN-DELAY table. See pop3_delay.h.
 *
 * An open-addressing hash table of (user id, last admitted login). Linear
 * probing, never deleting in place: expired entries go when the table is
 * rebuilt, which happens only when it would pass half full, so the table
 * holds the users that logged in within the last delay, at most twice over.
 */
#include "protocols/pop3/pop3_delay.h"

#include <stdlib.h>

#include "node/lib/util.h"

#define POP3_DELAY_MIN_CAP 64

struct pop3_delay_entry {
	uint32_t user_id;
	uint32_t used;
	uint64_t last_ms;
};

struct pop3_delay {
	struct pop3_delay_entry *v;
	size_t cap; /* a power of two */
	size_t n;
};

struct pop3_delay *
pop3_delay_create(void)
{
	struct pop3_delay *d = xcalloc(1, sizeof(*d));
	d->cap = POP3_DELAY_MIN_CAP;
	d->v = xcalloc(d->cap, sizeof(*d->v));
	return d;
}

void
pop3_delay_free(struct pop3_delay **pd)
{
	struct pop3_delay *d = *pd;
	if (d == NULL)
		return;
	*pd = NULL;
	free(d->v);
	free(d);
}

size_t
pop3_delay_count(const struct pop3_delay *d)
{
	return d->n;
}

static size_t
pop3_delay_hash(uint32_t id, size_t cap)
{
	/* Fibonacci hashing spreads sequential ids. */
	return (size_t)(((uint64_t)id * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static struct pop3_delay_entry *
pop3_delay_slot(struct pop3_delay_entry *v, size_t cap, uint32_t id)
{
	size_t i = pop3_delay_hash(id, cap);
	while (v[i].used && v[i].user_id != id)
		i = (i + 1) & (cap - 1);
	return &v[i];
}

/* Rebuild without the entries that no longer hold anyone back, doubling
 * the table if it is still too full. */
static void
pop3_delay_rebuild(struct pop3_delay *d, uint64_t now_ms, uint64_t delay_ms)
{
	size_t live = 0;
	for (size_t i = 0; i < d->cap; i++)
		if (d->v[i].used && now_ms - d->v[i].last_ms < delay_ms)
			live++;
	size_t cap = POP3_DELAY_MIN_CAP;
	while (cap < 4 * (live + 1))
		cap *= 2;
	struct pop3_delay_entry *v = xcalloc(cap, sizeof(*v));
	for (size_t i = 0; i < d->cap; i++) {
		const struct pop3_delay_entry *e = &d->v[i];
		if (e->used && now_ms - e->last_ms < delay_ms)
			*pop3_delay_slot(v, cap, e->user_id) = *e;
	}
	free(d->v);
	d->v = v;
	d->cap = cap;
	d->n = live;
}

int
pop3_delay_admit(struct pop3_delay *d, uint32_t user_id, uint64_t now_ms, uint64_t delay_ms)
{
	if (delay_ms == 0)
		return 1;
	struct pop3_delay_entry *e = pop3_delay_slot(d->v, d->cap, user_id);
	if (e->used) {
		if (now_ms - e->last_ms < delay_ms)
			return 0;
		e->last_ms = now_ms;
		return 1;
	}
	if (2 * (d->n + 1) > d->cap) {
		pop3_delay_rebuild(d, now_ms, delay_ms);
		e = pop3_delay_slot(d->v, d->cap, user_id);
	}
	e->used = 1;
	e->user_id = user_id;
	e->last_ms = now_ms;
	d->n++;
	return 1;
}
