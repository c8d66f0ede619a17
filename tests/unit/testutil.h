/*
 * testutil: helpers shared by the unit tests (cmocka).
 */
#ifndef MAILNODE_TESTUTIL_H
#define MAILNODE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "node/store/cmd.h"

/* A fresh directory under $TMPDIR; the caller frees the string. */
char *test_tmpdir(const char *name);
void test_rmtree(const char *path);
/* A path under tests/data; the caller frees it. */
char *test_data_path(const char *rel);
/* The whole file, NUL-terminated (not counted in *len_r); the test fails
 * if it cannot be read. The caller frees it. */
char *test_file_read(const char *path, size_t *len_r);
/* tests/data/<rel>, read as test_file_read does. */
char *test_data_read(const char *rel, size_t *len_r);
/* The messages of tests/data/mime (<name>.eml, <name>.expected). */
extern const char *const test_mime_corpus[];
extern const size_t test_mime_corpus_n;

/* A store in a fresh directory, fed batches the way raft feeds it: each
 * batch its own entry (the next index), then a commit. */
struct test_store {
	char *dir;
	struct store *st;
	uint64_t index;
	struct cmd_results *last; /* results of the last applied batch */
};
void test_store_open(struct test_store *f, const char *name);
/* The store hook test_store_open sets (applied: keeps the results in
 * f->last), for a test that opens the store again or sets more hooks. */
void test_store_applied(void *arg, const struct cmd_batch_hdr *hdr, struct cmd_results *rs);
void test_store_close(struct test_store *f);
/* Apply one batch as its own raft entry; returns the results (f->last). */
struct cmd_results *test_store_apply(struct test_store *f, struct cmd_batch *b);
/* One command as a batch of its own; its result (sets owned by f->last). */
struct cmd_result test_store_apply1(struct test_store *f, const struct cmd *c);

#endif
