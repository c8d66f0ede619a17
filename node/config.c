/*
 * config: load and validate the bootstrap file. See config.h.
 *
 * Every key is known in advance; an unknown key, an unknown section, a
 * malformed value or an address that does not parse stops the load with
 * one line naming the file, the line and the problem.
 */
#include "node/config.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/lib/util.h"
#include "node/net/addr.h"

const char *const config_listen_names[LISTEN_COUNT] = {
        "imap", "imaps", "pop3", "pop3s", "lmtp", "managesieve", "http", "cluster",
};

static const int config_default_ports[LISTEN_COUNT] = {
        1143, 1993, 1110, 1995, 2424, 4190, 8080, 7001,
};

static char config_err[600];

struct config *
config_default(void)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	cfg->node_id = 1;
	cfg->data_dir = xstrdup("./var");
	cfg->log_level = LOG_INFO;
	for (int i = 0; i < LISTEN_COUNT; i++)
		cfg->listen[i] = xasprintf("127.0.0.1:%d", config_default_ports[i]);
	return cfg;
}

void
config_free(struct config **pcfg)
{
	struct config *cfg = *pcfg;
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->data_dir);
	for (int i = 0; i < LISTEN_COUNT; i++)
		free(cfg->listen[i]);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->advertise);
	free(cfg);
	*pcfg = NULL;
}

struct config_parse {
	struct config *cfg;
	const char *path;
	char problem[400];
	int line;
	int lineno; /* line being parsed (counted by config_reader) */
	int seen_id;
	FILE *f;
};

/* Debian's libinih is built without INI_HANDLER_LINENO: count lines in
 * the reader, which inih calls once per line before handling it. */
static char *
config_reader(char *str, int num, void *stream)
{
	struct config_parse *p = stream;
	char *r = fgets(str, num, p->f);
	if (r != NULL)
		p->lineno++;
	return r;
}

static int
config_fail(struct config_parse *p, int line, const char *fmt, const char *a, const char *b)
{
	if (p->problem[0]) /* report the first problem only */
		return 0;
	snprintf(p->problem, sizeof(p->problem), fmt, a, b);
	p->line = line;
	return 0;
}

static void
config_set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v[0] ? xstrdup(v) : NULL;
}

static int
config_handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_parse *p = user;
	int lineno = p->lineno;
	struct config *cfg = p->cfg;
	const char *err;

	if (strcmp(section, "node") == 0) {
		if (strcmp(name, "id") == 0) {
			uint64_t id;
			if (parse_u64(value, UINT64_MAX, &id) != 0 || id == 0)
				return config_fail(p, lineno,
				                   "node id must be a positive integer, not '%s'%s",
				                   value, "");
			cfg->node_id = id;
			p->seen_id = 1;
			return 1;
		}
		if (strcmp(name, "data_dir") == 0) {
			if (value[0] == '\0')
				return config_fail(p, lineno, "data_dir must not be empty%s%s", "",
				                   "");
			config_set_str(&cfg->data_dir, value);
			return 1;
		}
		if (strcmp(name, "log_level") == 0) {
			if (log_level_parse(value, &cfg->log_level) != 0)
				return config_fail(
				        p, lineno,
				        "log_level must be debug, info, warn or error, not '%s'%s",
				        value, "");
			return 1;
		}
		return config_fail(p, lineno, "unknown key '%s' in section [%s]", name, section);
	}
	if (strcmp(section, "listen") == 0) {
		for (int i = 0; i < LISTEN_COUNT; i++) {
			if (strcmp(name, config_listen_names[i]) != 0)
				continue;
			char host[ADDR_HOST_MAX];
			int port;
			if (value[0] != '\0' && addr_split(value, host, &port, &err) != 0)
				return config_fail(p, lineno, "listen %s: %s", name, err);
			config_set_str(&cfg->listen[i], value);
			return 1;
		}
		return config_fail(p, lineno, "unknown key '%s' in section [%s]", name, section);
	}
	if (strcmp(section, "tls") == 0) {
		if (strcmp(name, "cert") == 0) {
			config_set_str(&cfg->tls_cert, value);
			return 1;
		}
		if (strcmp(name, "key") == 0) {
			config_set_str(&cfg->tls_key, value);
			return 1;
		}
		return config_fail(p, lineno, "unknown key '%s' in section [%s]", name, section);
	}
	if (strcmp(section, "cluster") == 0) {
		if (strcmp(name, "advertise") == 0) {
			char host[ADDR_HOST_MAX];
			int port;
			if (addr_split(value, host, &port, &err) != 0)
				return config_fail(p, lineno, "advertise: %s%s", err, "");
			config_set_str(&cfg->advertise, value);
			return 1;
		}
		if (strcmp(name, "snapshot_threshold") == 0 ||
		    strcmp(name, "snapshot_trailing") == 0) {
			uint64_t v;
			if (parse_u64(value, 1u << 30, &v) != 0 || v < 4)
				return config_fail(p, lineno,
				                   "%s must be an integer from 4, not '%s'", name,
				                   value);
			if (strcmp(name, "snapshot_threshold") == 0)
				cfg->snapshot_threshold = (unsigned)v;
			else
				cfg->snapshot_trailing = (unsigned)v;
			return 1;
		}
		return config_fail(p, lineno, "unknown key '%s' in section [%s]", name, section);
	}
	return config_fail(p, lineno, "unknown section [%s]%s", section, "");
}

int
config_load(const char *path, struct config **cfg_r, const char **error_r)
{
	struct config_parse p = {.path = path};
	p.cfg = config_default();
	/* A file starts from nothing listening: what it names is what runs. */
	for (int i = 0; i < LISTEN_COUNT; i++) {
		free(p.cfg->listen[i]);
		p.cfg->listen[i] = NULL;
	}
	p.cfg->path = xstrdup(path);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(config_err, sizeof(config_err), "%s: cannot open: %m", path);
		goto err;
	}
	p.f = f;
	int rc = ini_parse_stream(config_reader, &p, config_handler, &p);
	fclose(f);
	if (rc != 0) {
		if (p.problem[0])
			snprintf(config_err, sizeof(config_err), "%s:%d: %s", path, p.line,
			         p.problem);
		else if (rc > 0)
			snprintf(config_err, sizeof(config_err), "%s:%d: syntax error", path, rc);
		else
			snprintf(config_err, sizeof(config_err), "%s: cannot read", path);
		goto err;
	}
	if (!p.seen_id) {
		snprintf(config_err, sizeof(config_err), "%s: [node] id is required", path);
		goto err;
	}
	if ((p.cfg->tls_cert == NULL) != (p.cfg->tls_key == NULL)) {
		snprintf(config_err, sizeof(config_err),
		         "%s: [tls] cert and key must be given together", path);
		goto err;
	}
	*cfg_r = p.cfg;
	return 0;
err:
	config_free(&p.cfg);
	*error_r = config_err;
	return -1;
}

int
config_check_files(const struct config *cfg, const char **error_r)
{
	const char *files[] = {cfg->tls_cert, cfg->tls_key};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (files[i] && access(files[i], R_OK) != 0) {
			snprintf(config_err, sizeof(config_err), "%s: TLS %s %s: %m",
			         cfg->path ? cfg->path : "(default)", i == 0 ? "cert" : "key",
			         files[i]);
			*error_r = config_err;
			return -1;
		}
	}
	return 0;
}

char *
config_path(const struct config *cfg, const char *rel)
{
	return xasprintf("%s/%s", cfg->data_dir, rel);
}
