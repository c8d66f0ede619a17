/*
 * conn_private: what conn.c (lifecycle, flush list, sweep) and conn_io.c
 * (reading, writing, line input) share. Not for other modules.
 */
#ifndef MAILNODE_CONN_PRIVATE_H
#define MAILNODE_CONN_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "node/net/conn.h"

enum {
	CONN_F_DELIVER = 1u << 16, /* on the list: run on_read */
	CONN_F_TLS_PUMP = 1u << 17,
};

#define CONN_OUT_MAX        (64u * 1024 * 1024)
#define CONN_CLOSE_GRACE_MS 5000
#define CONN_TLS_FED_MAX    (2 * CONN_READ_CHUNK)

struct conn_wreq {
	uv_write_t req;
	struct conn *c;
	unsigned char *data;
	size_t len;
};

/* The loop-wide read buffer. */
unsigned char *conn__readbuf(size_t *len_r);
/* Put c on the end-of-iteration list for `why` (CONN_F_DELIVER, ...). */
void conn__list_add(struct conn *c, uint32_t why);
/* Run on_read if input is waiting and the owner is not paused. */
void conn__deliver(struct conn *c);
/* Start or stop reading as the input buffer and TLS allow. */
void conn__update_reading(struct conn *c);
/* Decrypt what TLS holds into c->in; queue the engine's output. */
void conn__tls_pump(struct conn *c);
/* uv_close once a closing connection has nothing left to send. */
void conn__maybe_finish_close(struct conn *c);

#endif
