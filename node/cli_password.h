/*
 * cli_password: how a password reaches `mailnode user add|passwd`: the
 * first line of stdin (--password-stdin, for scripts), or typed twice on
 * the terminal with echo off. Never from the command line, where every
 * user of the machine could read it in /proc.
 *
 * Owner: the caller's buffer holds the password; the caller wipes it
 * (explicit_bzero) once sent. cli_secret_alloc_init makes jansson wipe
 * what it frees, since the request body is built as JSON.
 */
#ifndef MAILNODE_CLI_PASSWORD_H
#define MAILNODE_CLI_PASSWORD_H

#include <stddef.h>

#include "node/auth/password.h"

/* Room for the longest password, its line end and the NUL. */
#define CLI_PASSWORD_BUF (PASSWORD_LEN_MAX + 3)

enum {
	CLI_PASSWORD_EFAIL = -1,  /* *error_r says why: a failure (exit 1) */
	CLI_PASSWORD_ENOTTY = -2, /* no --password-stdin and stdin is no terminal */
};

/* Read a password into buf (CLI_PASSWORD_BUF bytes), NUL-terminated,
 * its length in *len_r. prompt names the account ("a@b.test"). Returns 0,
 * CLI_PASSWORD_EFAIL with *error_r (empty, too long, a NUL byte, the two
 * entries differ, a read error), or CLI_PASSWORD_ENOTTY. */
int cli_password_read(int from_stdin, const char *account, char *buf, size_t *len_r,
                      const char **error_r);

/* Make jansson wipe every block it frees. Call before any other jansson
 * use in the process; the daemon never calls it. */
void cli_secret_alloc_init(void);

#endif
