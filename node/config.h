/*
 * config: the per-node bootstrap file (INI, parsed with Debian's libinih).
 *
 * It holds only what a node needs before it can reach its cluster: its id,
 * data directory, listen addresses, TLS files and peers. Everything else
 * (limits, quotas, spam thresholds, ...) is cluster configuration in the
 * replicated store, changed with `mailnode config set`.
 *
 *   [node]
 *   id = 1
 *   data_dir = /var/lib/mailnode
 *   log_level = info
 *   [listen]                      ; empty value: listener off
 *   imap = 127.0.0.1:1143
 *   ...
 *   [tls]
 *   cert = /etc/mailnode/tls/server.crt ; absent: self-signed under data_dir
 *   key  = /etc/mailnode/tls/server.key
 *   [cluster]
 *   advertise = 10.0.0.1:7001     ; how peers reach this node's cluster port
 *   snapshot_threshold = 16384    ; raft entries between snapshots
 *   snapshot_trailing = 4096      ; entries kept after a snapshot
 *
 * Owner: the caller of config_load; config_free releases it.
 */
#ifndef MAILNODE_CONFIG_H
#define MAILNODE_CONFIG_H

#include <stdint.h>

#include "node/lib/log.h"

enum listen_kind {
	LISTEN_IMAP,
	LISTEN_IMAPS,
	LISTEN_POP3,
	LISTEN_POP3S,
	LISTEN_LMTP,
	LISTEN_MANAGESIEVE,
	LISTEN_HTTP,
	LISTEN_CLUSTER,
	LISTEN_COUNT
};

extern const char *const config_listen_names[LISTEN_COUNT];

struct config {
	char *path; /* NULL: the embedded default */
	uint64_t node_id;
	char *data_dir;
	enum log_level log_level;
	char *listen[LISTEN_COUNT]; /* NULL: off */
	char *tls_cert;             /* NULL: <data_dir>/tls/server.crt, created */
	char *tls_key;
	char *advertise;             /* NULL: the cluster listen address */
	unsigned snapshot_threshold; /* 0: the default */
	unsigned snapshot_trailing;  /* 0: the default */
	int port_offset;             /* added to every default port */
};

/* The embedded default: node 1, data in ./var, loopback ports of the
 * README. */
struct config *config_default(void);
/* Load and validate a file. Returns 0, or -1 with *error_r a single line
 * "FILE:LINE: problem" (static storage). Nothing is bound or written. */
int config_load(const char *path, struct config **cfg_r, const char **error_r);
/* Checks that need the file system (TLS files exist and are readable).
 * Returns 0 or -1 with *error_r. */
int config_check_files(const struct config *cfg, const char **error_r);
void config_free(struct config **cfg);

/* Paths under the data directory; the caller frees them. */
char *config_path(const struct config *cfg, const char *rel);

#endif
