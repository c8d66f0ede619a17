/*
 * delivery_internal: the delivery's state shared by its stages
 * (delivery.c drives them, delivery_stages.c and delivery_store.c
 * implement them). Not for front ends: they use delivery.h.
 */
#ifndef MAILNODE_DELIVERY_INTERNAL_H
#define MAILNODE_DELIVERY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "node/delivery.h"

struct msgin;
struct repl_req;

/* One distinct user the message goes to. */
struct delivery_user {
	uint32_t id;
	char *address;
	const char *mailbox; /* chosen by the filter stage (static string) */
	uint32_t mailbox_id;
	uint32_t uid; /* the store's answer */
	int in_batch; /* has an APPEND in the submitted batch */
	enum delivery_status status;
};

/* One accepted recipient (RCPT) and the users it reached. */
struct delivery_rcpt {
	char *address;   /* as the client wrote it */
	char *detail;    /* subaddress tag, "" when none (for Sieve) */
	const char *via; /* how it resolved: "user", "alias", ... */
	uint32_t *users; /* indices into delivery.users */
	uint32_t nusers;
	enum delivery_status status;
};

struct delivery {
	char trace[DELIVERY_TRACE_LEN + 1];
	const char *proto;
	char peer[64];
	char *sender;
	struct delivery_rcpt *rcpts;
	size_t nrcpts;
	struct delivery_user *users;
	size_t nusers;
	/* body */
	struct msgin *body;
	uint64_t max_size;
	uint64_t received; /* client bytes, counted past the limit too */
	uint64_t size;     /* stored size (with trace headers) */
	int too_big;
	int body_failed;
	/* pipeline */
	size_t stage;
	int in_driver;
	int advanced;
	int done;
	uint64_t data_end_us;
	struct repl_req *req;
	delivery_done_cb cb;
	void *arg;
};

/* The stages, in pipeline order. Each calls delivery__stage_done once,
 * now or later. */
void delivery__stage_body(struct delivery *d);
void delivery__stage_scan(struct delivery *d);
void delivery__stage_filter(struct delivery *d);
void delivery__stage_store(struct delivery *d);

/* A stage is finished: DELIVERY_OK to go on, or a status given to every
 * user that has none yet (the pipeline then ends). */
void delivery__stage_done(struct delivery *d, enum delivery_status st);

#endif
