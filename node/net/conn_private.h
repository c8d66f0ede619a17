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
	CONN_F_DELIVER = 1u << 16,  /* on the list: run on_read */
	CONN_F_TLS_PUMP = 1u << 17, /* pull input through TLS and inflate */
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
/* Decrypt what TLS holds (and inflate what compression holds) into c->in;
 * queue the engine's output. Plain compressed connections: inflate only. */
void conn__tls_pump(struct conn *c);
/* Queue bytes for the peer below the compression layer (TLS or plain);
 * no closing check: 0, or -1 (output limit: the connection is aborted). */
int conn__write_out(struct conn *c, const void *p, size_t n);
/* conn_compress.c: sync-flush the compressor (end of a burst): 0 or -1
 * (aborted); inflate into c->in while it has room: 0, or -1 (corrupt
 * stream: closing); mark CONN_F_STARVED when input waits above a full
 * c->in; the compressor's output sink and its failure. */
int conn__z_flush(struct conn *c);
int conn__z_pull(struct conn *c);
void conn__set_starved(struct conn *c);
int conn__z_emit(void *ctx, const void *p, size_t n);
void conn__z_failed(struct conn *c);
/* uv_close once a closing connection has nothing left to send. */
void conn__maybe_finish_close(struct conn *c);

#endif
