/*
 * cli_output: command-line parsing and human output shared by the
 * operator commands. See cli_output.h.
 *
 * getopt_long is restarted for every subcommand (optind = 0: glibc
 * re-reads the option string, so options may follow positional arguments
 * the way `mailnode user add a@b.test --password-stdin` is typed). Every
 * problem with the command line is one line on stderr and exit code 2,
 * before anything is sent to the node.
 */
#include "node/cli_output.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/cli_api.h"
#include "node/lib/util.h"

int
cli_usage_error(const char *name, const char *fmt, ...)
{
	va_list ap;
	char group[64];
	size_t n = strcspn(name, " ");
	snprintf(group, sizeof(group), "%.*s", (int)MIN(n, sizeof(group) - 1), name);
	fprintf(stderr, "mailnode %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see mailnode %s --help)\n", group);
	return CLI_EXIT_USAGE;
}

int
cli_sub_dispatch(const char *group, const struct cli_sub *subs, int argc, char **argv,
                 const struct cli_global *g)
{
	if (argc < 2)
		return cli_usage_error(group, "a subcommand is required");
	for (const struct cli_sub *s = subs; s->name; s++)
		if (strcmp(s->name, argv[1]) == 0)
			return s->run(argc - 1, argv + 1, g);
	return cli_usage_error(group, "unknown subcommand '%s'", argv[1]);
}

int
cli_args_parse(const char *name, int argc, char **argv, const struct option *opts,
               int (*on_opt)(int ch, const char *optarg_, void *arg), void *arg, int min, int max,
               int *pos_r)
{
	int ch;
	opterr = 0;
	optind = 0;
	if (opts == NULL) {
		/* No options: every argument is positional, so that a value may
		 * start with '-' (`config set k -5` is the node's to judge). */
		optind = argc > 1 && strcmp(argv[1], "--") == 0 ? 2 : 1;
	}
	while (opts && (ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (ch == '?')
			return cli_usage_error(name, "unknown option '%s'", argv[optind - 1]);
		if (ch == ':')
			return cli_usage_error(name, "option '%s' needs a value", argv[optind - 1]);
		int rc = on_opt ? on_opt(ch, optarg, arg) : CLI_EXIT_USAGE;
		if (rc != 0)
			return rc;
	}
	int npos = argc - optind;
	if (npos < min)
		return cli_usage_error(name, "missing argument");
	if (npos > max)
		return cli_usage_error(name, "unexpected argument '%s'", argv[optind + max]);
	*pos_r = optind;
	return 0;
}

/* Decimal digits, then an optional multiplier: the suffix letter's
 * position in units (1-based) is the power of base. *rest_r is what
 * follows the letter. Returns 0 or -1 (not a number, overflow). */
static int
number_parse(const char *s, const char *units, uint64_t base, uint64_t *v_r, const char **rest_r)
{
	size_t nd = strspn(s, "0123456789");
	uint64_t v, mult = 1;
	if (nd == 0 || parse_u64n(s, nd, UINT64_MAX, &v) != 0)
		return -1;
	const char *p = s[nd] ? strchr(units, ascii_toupper((unsigned char)s[nd])) : NULL;
	*rest_r = s + nd;
	if (p != NULL) {
		for (long i = 0; i <= p - units; i++)
			mult *= base;
		*rest_r = s + nd + 1;
	}
	if (v != 0 && mult > UINT64_MAX / v)
		return -1;
	*v_r = v * mult;
	return 0;
}

int
cli_size_parse(const char *s, uint64_t *v_r)
{
	const char *rest;
	if (number_parse(s, "KMGTP", 1024, v_r, &rest) != 0)
		return -1;
	/* "2G", "2GB", "2GiB", "100", "100B" */
	if (*rest == '\0' || ascii_strcasecmp(rest, "B") == 0)
		return 0;
	int had_unit = rest > s && strchr("KMGTPkmgtp", rest[-1]) != NULL;
	return had_unit && ascii_strcasecmp(rest, "iB") == 0 ? 0 : -1;
}

int
cli_count_parse(const char *s, uint64_t *v_r)
{
	const char *rest;
	if (number_parse(s, "KM", 1000, v_r, &rest) != 0 || *rest != '\0')
		return -1;
	return 0;
}

void
cli_size_format(uint64_t v, char *buf, size_t n)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	size_t u = 0;
	double d = (double)v;
	while (d >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%llu B", (unsigned long long)v);
	else if (d == (double)(uint64_t)d)
		snprintf(buf, n, "%.0f %s", d, units[u]);
	else
		snprintf(buf, n, "%.1f %s", d, units[u]);
}

void
cli_duration_format(long long ms, char *buf, size_t n)
{
	if (ms < 0)
		snprintf(buf, n, "-");
	else if (ms < 1000)
		snprintf(buf, n, "%lldms", ms);
	else if (ms < 60 * 1000)
		snprintf(buf, n, "%.1fs", (double)ms / 1000);
	else if (ms < 3600 * 1000)
		snprintf(buf, n, "%lldm%02llds", ms / 60000, (ms / 1000) % 60);
	else
		snprintf(buf, n, "%lldh%02lldm", ms / 3600000, (ms / 60000) % 60);
}

void
cli_json_print(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
}

void
cli_table_init(struct cli_table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	if (ncols > CLI_TABLE_COLS_MAX)
		panic("cli_table: %zu columns", ncols);
	t->ncols = ncols;
}

void
cli_table_add(struct cli_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof(*t->cells));
	}
	for (size_t i = 0; i < t->ncols; i++) {
		const char *c = cells[i] ? cells[i] : "-";
		t->cells[t->nrows * t->ncols + i] = xstrdup(c);
		t->width[i] = MAX(t->width[i], strlen(c));
	}
	t->nrows++;
}

void
cli_table_print(const struct cli_table *t)
{
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *c = t->cells[r * t->ncols + i];
			if (i + 1 == t->ncols)
				printf("%s\n", c);
			else
				printf("%-*s  ", (int)t->width[i], c);
		}
	}
}

void
cli_table_deinit(struct cli_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
