/*
 * tls: OpenSSL 3 over memory BIOs, for connections that live on the libuv
 * loop (node/net is the only user of libssl).
 *
 * A tls_ctx holds certificates and policy (TLS >= 1.2, no renegotiation) and
 * is shared by connections; a tls_conn is one connection's state. The owner
 * feeds ciphertext in (tls_conn_feed), pulls plaintext out (tls_conn_read),
 * pushes plaintext in (tls_conn_write) and drains ciphertext out
 * (tls_conn_take_out) after every call. Nothing here does I/O.
 */
#ifndef MAILNODE_TLS_H
#define MAILNODE_TLS_H

#include <stddef.h>

struct tls_ctx;
struct tls_conn;

/* A server context. client_ca non-NULL requires and verifies a client
 * certificate signed by that CA (the cluster port). Returns 0, or -1 with
 * *error_r naming the file and the problem. */
int tls_ctx_create_server(const char *cert, const char *key, const char *client_ca,
                          struct tls_ctx **ctx_r, const char **error_r);
/* A client context presenting cert/key (may be NULL) and verifying the
 * server against ca (NULL: no verification, for tests and tools only). */
int tls_ctx_create_client(const char *cert, const char *key, const char *ca, struct tls_ctx **ctx_r,
                          const char **error_r);
void tls_ctx_free(struct tls_ctx **ctx);

struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int server);
void tls_conn_free(struct tls_conn **t);

/* Ciphertext from the peer. Returns 0 or -1 (out of memory). */
int tls_conn_feed(struct tls_conn *t, const void *p, size_t n);
/* Ciphertext fed but not yet consumed by the TLS engine. */
size_t tls_conn_fed_pending(const struct tls_conn *t);
/* Input not yet read as plaintext: ciphertext fed, or decrypted bytes of
 * a record that tls_conn_read had no room for. */
size_t tls_conn_in_pending(const struct tls_conn *t);
/* Advance the handshake and read up to n plaintext bytes. Returns bytes
 * read (> 0), 0 when more ciphertext is needed (or the handshake just
 * advanced), TLS_EOF on close_notify, TLS_ERROR on a protocol error. */
#define TLS_EOF   (-1)
#define TLS_ERROR (-2)
int tls_conn_read(struct tls_conn *t, void *buf, size_t n);
/* Encrypt n plaintext bytes. Returns 0 or TLS_ERROR. */
int tls_conn_write(struct tls_conn *t, const void *p, size_t n);
/* Queue close_notify. */
void tls_conn_shutdown(struct tls_conn *t);
/* Ciphertext waiting to be sent, and taking it out. */
size_t tls_conn_out_pending(const struct tls_conn *t);
size_t tls_conn_take_out(struct tls_conn *t, void *buf, size_t n);

int tls_conn_established(const struct tls_conn *t);
/* Why the last TLS_ERROR happened (OpenSSL's text), for the log. */
const char *tls_conn_error(const struct tls_conn *t);
/* The verified peer certificate's common name, or NULL (valid until the
 * next call). */
const char *tls_conn_peer_cn(struct tls_conn *t);
/* "TLSv1.3/TLS_AES_256_GCM_SHA384", for the log (valid until the next call). */
const char *tls_conn_describe(const struct tls_conn *t);
/* Release memory held while the connection is idle. */
void tls_conn_idle(struct tls_conn *t);

/* Create a self-signed certificate and key for cn (PEM files, key 0600).
 * Returns 0 or -1 with *error_r. */
int tls_selfsigned_create(const char *cert_path, const char *key_path, const char *cn,
                          const char **error_r);
/* Create a CA (key 0600), or issue a certificate for cn signed by a CA,
 * usable as both TLS server and client (the cluster's mutual TLS). */
int tls_ca_create(const char *cert_path, const char *key_path, const char *cn,
                  const char **error_r);
int tls_cert_issue(const char *ca_cert, const char *ca_key, const char *cn, const char *cert_path,
                   const char *key_path, const char **error_r);

#endif
