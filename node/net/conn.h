/*
 * conn: a buffered, optionally TLS, byte stream on the libuv loop, the one
 * connection type every protocol, the HTTP endpoint and the cluster
 * transport use.
 *
 * Input arrives in c->in as plaintext (decrypted when TLS is on, and
 * inflated when compression is on: TLS outside, DEFLATE inside, RFC 4978
 * §3), bounded:
 * reading stops while c->in holds `in_limit` unconsumed bytes, so a peer can
 * never make the node buffer more than that per connection. The handler's
 * on_read runs whenever new bytes arrived and the connection is not paused;
 * it consumes what it can parse. Output written with conn_write is queued
 * and handed to the kernel at the end of the loop iteration (or at once by
 * conn_flush). on_drain runs when queued output falls below CONN_LOW_WATER,
 * for writers that stream large bodies.
 *
 * Owner: the protocol session that accepted it (c->data). The conn frees
 * itself after on_close returns; on_close is called exactly once, from the
 * libuv close callback, and is where the session frees its memory.
 */
#ifndef MAILNODE_CONN_H
#define MAILNODE_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "node/lib/nbuf.h"

struct conn;
struct tls_ctx;
struct tls_conn;
struct compress;

#define CONN_READ_CHUNK (64 * 1024)
#define CONN_HIGH_WATER (256 * 1024)
#define CONN_LOW_WATER  (64 * 1024)

struct conn_handler {
	/* New plaintext in c->in. */
	void (*on_read)(struct conn *c);
	/* Queued output fell below CONN_LOW_WATER (optional). */
	void (*on_drain)(struct conn *c);
	/* The idle timeout expired (optional; default closes). */
	void (*on_timeout)(struct conn *c);
	/* The TLS handshake completed (optional). */
	void (*on_tls)(struct conn *c);
	/* The connection is gone; free what the owner holds. Required. */
	void (*on_close)(struct conn *c);
	/* The node is stopping (optional): write a goodbye ("* BYE", "421");
	 * the connection is closed right after, once output is flushed. */
	void (*on_shutdown)(struct conn *c);
};

enum {
	CONN_F_CLOSING = 1 << 0, /* conn_close called: no more reads */
	CONN_F_CLOSED = 1 << 1,  /* uv_close called */
	CONN_F_PAUSED = 1 << 2,  /* owner asked not to get on_read */
	CONN_F_READING = 1 << 3, /* uv_read_start active */
	CONN_F_EOF = 1 << 4,     /* peer closed its side */
	CONN_F_QUEUED = 1 << 5,  /* on the flush list */
	CONN_F_TLS = 1 << 6,     /* TLS is on */
	CONN_F_CLIENT = 1 << 7,  /* we connected out */
	CONN_F_CONNECTED = 1 << 8,
	CONN_F_IN_READ = 1 << 9,   /* inside on_read */
	CONN_F_PIPE = 1 << 10,     /* a Unix-domain or socketpair stream */
	CONN_F_SKIPLINE = 1 << 11, /* dropping the rest of an overlong line */
	CONN_F_STARVED = 1 << 12,  /* input waits in TLS or inflate for room in c->in */
};

struct conn {
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} u;
	const struct conn_handler *handler;
	void *data;      /* the owner */
	struct nbuf in;  /* plaintext from the peer */
	struct nbuf out; /* bytes (ciphertext with TLS) not yet given to uv_write */
	struct tls_conn *tls;
	struct compress *z; /* DEFLATE inside TLS (conn_start_compress), or NULL */
	size_t in_limit;    /* stop reading at this many unconsumed bytes */
	size_t queued;      /* bytes in uv_write requests not yet completed */
	uint64_t last_active_ms;
	uint64_t closing_since_ms;
	uint32_t idle_timeout_ms; /* 0: none */
	uint32_t flags;
	uint32_t line_len; /* bytes of the line conn_getline returned, with its ending */
	struct conn *flush_next;
	struct conn *all_prev, *all_next;
	const char *proto; /* "imap", "lmtp", ... for logs and metrics */
	char peer[64];     /* "address:port" */
};

/* Set up the module on the loop: the end-of-iteration flush and the
 * once-a-second timeout sweep. */
void net_init(uv_loop_t *loop);
/* Close every connection (bounded: stragglers are aborted after grace_ms)
 * and the module's own handles. Run the loop afterwards to let them go. */
void net_shutdown(uint32_t grace_ms);
/* Connections currently open (for metrics and tests). */
size_t net_conn_count(void);
uv_loop_t *net_loop(void);

/* Accept a pending connection from server. The conn starts paused until
 * conn_start. Returns NULL when accept fails. */
struct conn *conn_accept(uv_stream_t *server, int is_pipe, const struct conn_handler *h, void *data,
                         size_t in_limit, const char *proto);
/* Wrap an already connected fd (a socketpair end). */
struct conn *conn_open_fd(int fd, const struct conn_handler *h, void *data, size_t in_limit,
                          const char *proto);
/* Connect out to addr (host:port already resolved into sockaddr).
 * on_read/on_close as usual; h->on_tls (or the first on_read) tells that
 * it is up; a failed connect closes with on_close. */
struct conn *conn_connect(const struct sockaddr *addr, const struct conn_handler *h, void *data,
                          size_t in_limit, const char *proto);

/* Begin delivering input. */
void conn_start(struct conn *c);
/* Start TLS now. Server side: any plaintext already buffered after the
 * command that asked for it is discarded (STARTTLS command injection,
 * CVE-2011-0411). Client side: starts the handshake. Returns 0 or -1. */
int conn_start_tls(struct conn *c, struct tls_ctx *ctx, int server);

/* Compress both directions from now on (raw DEFLATE, RFC 1951): what is
 * written after this call is compressed, and the bytes already buffered
 * in c->in are taken as compressed input (the peer sent them after the
 * command that asked for it). Inside TLS when TLS is on. A corrupt stream
 * from the peer closes the connection. Returns 0, or -1 if compression
 * is on already. */
int conn_start_compress(struct conn *c);
static inline int
conn_is_compressed(const struct conn *c)
{
	return c->z != NULL;
}

/* Queue bytes for the peer. Returns 0, or -1 if the connection is closing
 * or the output limit was hit (the connection is then being closed). */
int conn_write(struct conn *c, const void *p, size_t n);
int conn_puts(struct conn *c, const char *s);
int conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand queued output to the kernel now. */
void conn_flush(struct conn *c);
/* Output not yet sent (queued to libuv or buffered). */
size_t conn_pending(const struct conn *c);

/* Stop/resume on_read calls (while a command waits for the store, say).
 * Input keeps being buffered up to in_limit. */
void conn_pause(struct conn *c);
void conn_resume(struct conn *c);

/* Flush output, send TLS close_notify, then close. */
void conn_close(struct conn *c);
/* Close at once, dropping unsent output. */
void conn_abort(struct conn *c);
static inline int
conn_closing(const struct conn *c)
{
	return (c->flags & (CONN_F_CLOSING | CONN_F_CLOSED)) != 0;
}
static inline int
conn_is_tls(const struct conn *c)
{
	return (c->flags & CONN_F_TLS) != 0;
}
/* Release memory while the connection idles (empty buffers, TLS BIOs). */
void conn_idle(struct conn *c);
void conn_set_timeout(struct conn *c, uint32_t ms);
/* Mark activity (reset the idle timer). */
void conn_touch(struct conn *c);

#endif

/* Line input for the line-based protocols. Returns 1 with the line (without
 * its CRLF or LF, not NUL-terminated) in *line_r and *len_r, valid until
 * conn_line_consume(); 0 when no whole line is buffered yet; -1 once when a
 * line grows past max: its bytes are dropped and so is the rest of that line
 * as it arrives, so the caller answers one error and goes on. */
int conn_getline(struct conn *c, size_t max, const char **line_r, size_t *len_r);
/* Consume the line returned by conn_getline (and its line ending). */
void conn_line_consume(struct conn *c);

/* The verified TLS peer certificate's common name, or NULL. */
const char *conn_tls_peer_cn(struct conn *c);
