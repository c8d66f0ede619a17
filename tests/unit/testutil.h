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

#endif
