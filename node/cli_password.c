/*
 * cli_password: reading a new password for the CLI. See cli_password.h.
 *
 * --password-stdin: read(2) straight into the caller's buffer (no stdio
 * buffer keeps a copy) up to the first line end or the end of input; a
 * trailing "\n" or "\r\n" is not part of the password.
 *
 * Terminal: the prompt goes to stderr, echo is turned off on stdin with
 * termios (ECHONL keeps the newline visible) and restored afterwards, also
 * when SIGINT, SIGTERM, SIGHUP or SIGQUIT arrive meanwhile (the handler
 * restores the terminal, then dies of the signal as it would have). The
 * password is asked twice and must match.
 *
 * Failure modes: stdin is not a terminal and no --password-stdin (the
 * caller refuses with a usage error), an empty or over-long password, a
 * NUL byte, text the password policy refuses (not UTF-8, say), a mismatch.
 */
#include "node/cli_password.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved_tio;
static volatile sig_atomic_t tio_changed;

static void
password_signal_cb(int sig)
{
	if (tio_changed)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One line from fd 0 into buf (cap bytes); *len_r without the line end.
 * Returns 0 or CLI_PASSWORD_EFAIL. */
static int
password_read_line(char *buf, size_t cap, size_t *len_r, const char **error_r)
{
	size_t n = 0;
	char *nl = NULL;
	while (n < cap - 1 && nl == NULL) {
		ssize_t r = read(STDIN_FILENO, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*error_r = "cannot read the password";
			return CLI_PASSWORD_EFAIL;
		}
		if (r == 0)
			break;
		nl = memchr(buf + n, '\n', (size_t)r);
		n += (size_t)r;
	}
	if (nl != NULL)
		n = (size_t)(nl - buf);
	else if (n == cap - 1)
		n = cap; /* no line end within the bound: too long */
	if (n > 0 && n <= cap - 1 && buf[n - 1] == '\r')
		n--;
	if (n > PASSWORD_LEN_MAX) {
		explicit_bzero(buf, cap);
		*error_r = "the password is longer than 1024 bytes";
		return CLI_PASSWORD_EFAIL;
	}
	buf[n] = '\0';
	explicit_bzero(buf + n, cap - n);
	*len_r = n;
	return 0;
}

static int
password_prompt(const char *prompt, char *buf, size_t *len_r, const char **error_r)
{
	struct termios tio = saved_tio;
	tio.c_lflag &= ~(tcflag_t)ECHO;
	tio.c_lflag |= ECHONL;
	/* Echo goes off before the prompt shows: what is typed after the
	 * prompt is neither echoed nor discarded by the flush. */
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) != 0) {
		*error_r = "cannot turn off echo on the terminal";
		return CLI_PASSWORD_EFAIL;
	}
	tio_changed = 1;
	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	int rc = password_read_line(buf, CLI_PASSWORD_BUF, len_r, error_r);
	tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
	tio_changed = 0;
	return rc;
}

static int
password_from_tty(const char *account, char *buf, size_t *len_r, const char **error_r)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa = {.sa_handler = password_signal_cb}, old[4];
	char prompt[400], *again = malloc(CLI_PASSWORD_BUF);
	size_t len2 = 0;
	int rc;
	if (again == NULL) {
		*error_r = "out of memory";
		return CLI_PASSWORD_EFAIL;
	}
	if (tcgetattr(STDIN_FILENO, &saved_tio) != 0) {
		free(again);
		*error_r = "cannot read the terminal's settings";
		return CLI_PASSWORD_EFAIL;
	}
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < 4; i++)
		sigaction(sigs[i], &sa, &old[i]);
	snprintf(prompt, sizeof(prompt), "New password for %s: ", account);
	rc = password_prompt(prompt, buf, len_r, error_r);
	if (rc == 0)
		rc = password_prompt("Retype the new password: ", again, &len2, error_r);
	if (rc == 0 && (len2 != *len_r || memcmp(buf, again, len2) != 0)) {
		*error_r = "the passwords do not match";
		rc = CLI_PASSWORD_EFAIL;
	}
	for (size_t i = 0; i < 4; i++)
		sigaction(sigs[i], &old[i], NULL);
	explicit_bzero(again, CLI_PASSWORD_BUF);
	free(again);
	return rc;
}

int
cli_password_read(int from_stdin, const char *account, char *buf, size_t *len_r,
                  const char **error_r)
{
	int rc;
	*len_r = 0;
	if (from_stdin)
		rc = password_read_line(buf, CLI_PASSWORD_BUF, len_r, error_r);
	else if (!isatty(STDIN_FILENO))
		return CLI_PASSWORD_ENOTTY;
	else
		rc = password_from_tty(account, buf, len_r, error_r);
	if (rc == 0 && *len_r == 0) {
		*error_r = "the password is empty";
		rc = CLI_PASSWORD_EFAIL;
	}
	if (rc == 0 && memchr(buf, '\0', *len_r) != NULL) {
		*error_r = "the password contains a NUL byte";
		rc = CLI_PASSWORD_EFAIL;
	}
	if (rc == 0 && password_policy_check(buf, *len_r, error_r) != 0)
		rc = CLI_PASSWORD_EFAIL;
	if (rc != 0) {
		explicit_bzero(buf, CLI_PASSWORD_BUF);
		*len_r = 0;
	}
	return rc;
}

/* Each block carries its size in front, so that free can wipe it. */
#define SECRET_HDR 16

static void *
secret_malloc(size_t n)
{
	if (n > SIZE_MAX - SECRET_HDR)
		return NULL;
	unsigned char *p = malloc(n + SECRET_HDR);
	if (p == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + SECRET_HDR;
}

static void
secret_free(void *q)
{
	if (q == NULL)
		return;
	unsigned char *p = (unsigned char *)q - SECRET_HDR;
	size_t n;
	memcpy(&n, p, sizeof(n));
	explicit_bzero(p, n + SECRET_HDR);
	free(p);
}

void
cli_secret_alloc_init(void)
{
	json_set_alloc_funcs(secret_malloc, secret_free);
}
