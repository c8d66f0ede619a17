/*
 * pop3_delay: LOGIN-DELAY (RFC 2449 §6.5, response code §8.1.2) on this
 * node: when each user last logged in over POP3 here.
 *
 * XXX RFC 2449 §6.5: the delay is enforced per node. A cluster-wide record
 * would put one raft entry behind every POP3 login; a client that polls
 * too often through different nodes of the cluster (the load balancer
 * decides) gets at most one login per node per delay.
 *
 * Owner: the POP3 front end (pop3_init creates one, pop3_deinit frees it).
 * Memory: one entry per user seen; entries older than the delay are dropped
 * whenever the table would grow.
 */
#ifndef MAILNODE_POP3_DELAY_H
#define MAILNODE_POP3_DELAY_H

#include <stddef.h>
#include <stdint.h>

struct pop3_delay;

struct pop3_delay *pop3_delay_create(void);
void pop3_delay_free(struct pop3_delay **d);

/* May user_id log in at now_ms, delay_ms after its last admitted login?
 * Returns 1 and records now_ms, or 0 (too soon; nothing recorded).
 * delay_ms 0 admits always and records nothing. */
int pop3_delay_admit(struct pop3_delay *d, uint32_t user_id, uint64_t now_ms, uint64_t delay_ms);

/* Users remembered (tests, metrics). */
size_t pop3_delay_count(const struct pop3_delay *d);

#endif
