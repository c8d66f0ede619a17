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

#endif
