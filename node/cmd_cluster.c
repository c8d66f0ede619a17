/*
 * cmd_cluster: preparing a data directory: `init` (first node of a new
 * cluster), `join` (another node), `token` (what join needs).
 *
 * The cluster's trust is a CA created by init under <data>/cluster/;
 * every node's certificate is signed by it and names the node
 * ("node-<id>"). A join token carries the CA (certificate and key) so a
 * new node can sign its own certificate: it is a secret, like the key of
 * any cluster CA, and is printed only to the operator on a member.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/bootstrap.h"
#include "node/cli.h"
#include "node/lib/crypto.h"
#include "node/lib/util.h"
#include "node/net/addr.h"
#include "node/net/tls.h"
#include "node/node.h"
#include "replication/repl.h"

#define TOKEN_MAX (64 * 1024)

static int
prepare_dirs(const struct config *cfg)
{
	char *cluster = config_path(cfg, "cluster");
	int rc = mkdir_p(cfg->data_dir, 0700);
	if (rc == 0)
		rc = mkdir_p(cluster, 0700);
	if (rc != 0)
		fprintf(stderr, "mailnode: cannot create %s: %s\n", cluster, strerror(-rc));
	free(cluster);
	return rc;
}

static int
issue_node_cert(const struct config *cfg)
{
	char *ca = config_path(cfg, REPL_CA_CERT), *cakey = config_path(cfg, REPL_CA_KEY);
	char *cert = config_path(cfg, REPL_NODE_CERT), *key = config_path(cfg, REPL_NODE_KEY);
	char cn[64];
	const char *err;
	snprintf(cn, sizeof(cn), "node-%llu", (unsigned long long)cfg->node_id);
	int rc = tls_cert_issue(ca, cakey, cn, cert, key, &err);
	if (rc != 0)
		fprintf(stderr, "mailnode: %s\n", err);
	free(ca);
	free(cakey);
	free(cert);
	free(key);
	return rc;
}

static int
check_address(const struct config *cfg)
{
	const char *addr = node_cluster_address(cfg), *err;
	char host[ADDR_HOST_MAX];
	int port;
	if (addr == NULL) {
		fprintf(stderr, "mailnode: [listen] cluster or [cluster] advertise is required\n");
		return -1;
	}
	if (addr_split(addr, host, &port, &err) != 0) {
		fprintf(stderr, "mailnode: cluster address %s: %s\n", addr, err);
		return -1;
	}
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || strcmp(host, "*") == 0) {
		fprintf(stderr,
		        "mailnode: the cluster listens on a wildcard address; set [cluster] "
		        "advertise to the address peers use\n");
		return -1;
	}
	return 0;
}

int
cmd_init(int argc, char **argv, const struct cli_global *g)
{
	static const struct option opts[] = {
	        {"demo", no_argument, NULL, 'd'},
	        {NULL, 0, NULL, 0},
	};
	int ch, demo = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'd')
			return 2;
		demo = 1;
	}
	struct config *cfg = cli_load_config(g);
	if (cfg == NULL)
		return 1;
	int rc = 1;
	const char *err;
	if (repl_initialised(cfg->data_dir) || bootstrap_join_pending(cfg)) {
		printf("%s is initialised already; nothing to do\n", cfg->data_dir);
		rc = 0;
		goto out;
	}
	if (check_address(cfg) != 0 || prepare_dirs(cfg) != 0)
		goto out;
	char *ca = config_path(cfg, REPL_CA_CERT), *cakey = config_path(cfg, REPL_CA_KEY);
	int crc = tls_ca_create(ca, cakey, "mailnode cluster CA", &err);
	free(ca);
	free(cakey);
	if (crc != 0) {
		fprintf(stderr, "mailnode: %s\n", err);
		goto out;
	}
	if (issue_node_cert(cfg) != 0)
		goto out;
	if (repl_bootstrap(cfg->data_dir, cfg->node_id, node_cluster_address(cfg), &err) != 0) {
		fprintf(stderr, "mailnode: %s\n", err);
		goto out;
	}
	if (bootstrap_mark_init(cfg, demo) != 0) {
		fprintf(stderr, "mailnode: cannot write to %s\n", cfg->data_dir);
		goto out;
	}
	printf("initialised %s: node %llu, a cluster of one at %s\n", cfg->data_dir,
	       (unsigned long long)cfg->node_id, node_cluster_address(cfg));
	rc = 0;
out:
	config_free(&cfg);
	return rc;
}

static int
write_file(const char *path, const void *p, size_t n, int mode)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	chmod(path, (mode_t)mode);
	int ok = fwrite(p, 1, n, f) == n;
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

static char *
read_file(const char *path, size_t max, size_t *len_r)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	char *buf = xmalloc(max + 1);
	size_t n = fread(buf, 1, max, f);
	fclose(f);
	buf[n] = '\0';
	*len_r = n;
	return buf;
}

int
cmd_token(int argc, char **argv, const struct cli_global *g)
{
	struct config *cfg = cli_load_config(g);
	if (cfg == NULL)
		return 1;
	char *ca = config_path(cfg, REPL_CA_CERT), *cakey = config_path(cfg, REPL_CA_KEY);
	size_t n1, n2;
	char *a = read_file(ca, TOKEN_MAX / 2, &n1), *b = read_file(cakey, TOKEN_MAX / 2, &n2);
	int rc = 1;
	if (a == NULL || b == NULL) {
		fprintf(stderr, "mailnode: this node holds no cluster CA key (%s)\n", cakey);
	} else {
		char *both = xasprintf("%s%s", a, b);
		char *out = xmalloc(base64_encoded_len(strlen(both)) + 1);
		base64_encode(both, strlen(both), out);
		printf("%s\n", out);
		free(out);
		free(both);
		rc = 0;
	}
	free(a);
	free(b);
	free(ca);
	free(cakey);
	config_free(&cfg);
	return rc;
}

int
cmd_join(int argc, char **argv, const struct cli_global *g)
{
	static const struct option opts[] = {
	        {"peer", required_argument, NULL, 'p'},
	        {"token", required_argument, NULL, 't'},
	        {"token-file", required_argument, NULL, 'f'},
	        {NULL, 0, NULL, 0},
	};
	const char *peer = NULL, *token = NULL, *token_file = NULL;
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			peer = optarg;
			break;
		case 't':
			token = optarg;
			break;
		case 'f':
			token_file = optarg;
			break;
		default:
			return 2;
		}
	}
	if (peer == NULL || (token == NULL && token_file == NULL)) {
		fprintf(stderr, "mailnode join: --peer ADDRESS and --token TOKEN (or --token-file) "
		                "are required\n");
		return 2;
	}
	struct config *cfg = cli_load_config(g);
	if (cfg == NULL)
		return 1;
	int rc = 1;
	char *tokbuf = NULL;
	const char *err;
	char host[ADDR_HOST_MAX];
	int port;
	if (addr_split(peer, host, &port, &err) != 0) {
		fprintf(stderr, "mailnode join: --peer %s: %s\n", peer, err);
		goto out;
	}
	if (repl_initialised(cfg->data_dir) || bootstrap_join_pending(cfg)) {
		printf("%s is initialised already; nothing to do\n", cfg->data_dir);
		rc = 0;
		goto out;
	}
	if (token_file) {
		size_t n;
		tokbuf = read_file(token_file, TOKEN_MAX * 2, &n);
		if (tokbuf == NULL) {
			fprintf(stderr, "mailnode join: cannot read %s\n", token_file);
			goto out;
		}
		while (n > 0 && (tokbuf[n - 1] == '\n' || tokbuf[n - 1] == '\r'))
			tokbuf[--n] = '\0';
		token = tokbuf;
	}
	size_t tlen = strlen(token);
	uint8_t *pem = xmalloc(base64_decoded_max(tlen) + 1);
	long plen = base64_decode(token, tlen, pem);
	const char *split = plen > 0 ? strstr((char *)pem, "-----BEGIN PRIVATE KEY-----") : NULL;
	if (plen <= 0 || (pem[plen] = '\0',
	                  split = strstr((char *)pem, "-----BEGIN PRIVATE KEY-----")) == NULL) {
		fprintf(stderr, "mailnode join: the token is not valid\n");
		free(pem);
		goto out;
	}
	if (check_address(cfg) != 0 || prepare_dirs(cfg) != 0) {
		free(pem);
		goto out;
	}
	char *ca = config_path(cfg, REPL_CA_CERT), *cakey = config_path(cfg, REPL_CA_KEY);
	int wrc = write_file(ca, pem, (size_t)(split - (char *)pem), 0644);
	if (wrc == 0)
		wrc = write_file(cakey, split, strlen(split), 0600);
	free(ca);
	free(cakey);
	free(pem);
	if (wrc != 0) {
		fprintf(stderr, "mailnode join: cannot write the cluster CA\n");
		goto out;
	}
	if (issue_node_cert(cfg) != 0)
		goto out;
	if (bootstrap_mark_join(cfg, peer) != 0) {
		fprintf(stderr, "mailnode: cannot write to %s\n", cfg->data_dir);
		goto out;
	}
	printf("%s prepared: node %llu will join the cluster through %s when it starts\n",
	       cfg->data_dir, (unsigned long long)cfg->node_id, peer);
	rc = 0;
out:
	free(tokbuf);
	config_free(&cfg);
	return rc;
}
