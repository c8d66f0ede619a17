/*
 * cli_output: the operator commands' shared command-line handling and
 * human output: subcommand dispatch, usage errors, sizes ("2G"), counts,
 * durations, aligned tables, JSON on stdout.
 *
 * Owner: a struct cli_table lives in the caller's memory; its cells are
 * copied and released by cli_table_deinit.
 */
#ifndef MAILNODE_CLI_OUTPUT_H
#define MAILNODE_CLI_OUTPUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "node/cli.h"

struct cli_sub {
	const char *name;
	int (*run)(int argc, char **argv, const struct cli_global *g);
};

/* Run the subcommand named by argv[1] of group (argv[0]), with argv
 * shifted so that the subcommand is argv[0] and getopt starts afresh.
 * A missing or unknown subcommand is a usage error (exit 2). */
int cli_sub_dispatch(const char *group, const struct cli_sub *subs, int argc, char **argv,
                     const struct cli_global *g);

/* Print "mailnode NAME: message" and a pointer to --help on stderr.
 * Returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse the options of a subcommand (getopt_long over opts, "" short
 * options) and require between min and max positional arguments.
 * *pos_r is the index of the first one. Without opts (NULL), every
 * argument is positional (after an optional "--"). Unknown options and wrong
 * counts are usage errors: returns CLI_EXIT_USAGE after printing, or 0.
 * on_opt(ch, optarg, arg) handles each option; it returns 0, or
 * CLI_EXIT_USAGE after printing. */
struct option;
int cli_args_parse(const char *name, int argc, char **argv, const struct option *opts,
                   int (*on_opt)(int ch, const char *optarg_, void *arg), void *arg, int min,
                   int max, int *pos_r);

/* "1073741824", "100B", "1024K", "2G", "2GB", "2GiB"; "1.5G" is refused
 * (whole numbers only); K, M, G, T, P are powers of 1024. Returns 0 or -1. */
int cli_size_parse(const char *s, uint64_t *v_r);
/* "0 B", "512 B", "1.5 KiB", "2 GiB". */
void cli_size_format(uint64_t v, char *buf, size_t n);
/* A plain count, for --quota-messages: decimal, or with K/M (1000s). */
int cli_count_parse(const char *s, uint64_t *v_r);
/* "850ms", "3.2s", "4m10s", "2h05m"; negative: "-". */
void cli_duration_format(long long ms, char *buf, size_t n);

/* Print j on stdout, indented, keys sorted, newline. */
void cli_json_print(json_t *j);

#define CLI_TABLE_COLS_MAX 12

struct cli_table {
	size_t ncols;
	size_t nrows;
	size_t cap;
	char **cells; /* nrows * ncols */
	size_t width[CLI_TABLE_COLS_MAX];
};

void cli_table_init(struct cli_table *t, size_t ncols);
/* Add a row of ncols cells (NULL prints "-"). */
void cli_table_add(struct cli_table *t, const char *const *cells);
/* Print with columns padded to their widest cell, two spaces apart. */
void cli_table_print(const struct cli_table *t);
void cli_table_deinit(struct cli_table *t);

#endif
