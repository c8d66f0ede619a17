/*
 * pop3_parser: split a POP3 command line. See pop3_parser.h.
 *
 * RFC 1939 §3: a command is a case-insensitive keyword, possibly followed
 * by arguments separated by single spaces. XXX RFC 2449 §3: we accept runs
 * of spaces and trailing spaces between arguments too, as common servers
 * do, because a few clients send them. The whole text after "KEYWORD " is
 * kept as well: RFC 1939 §7 lets a server take spaces in the PASS argument
 * as part of the password.
 *
 * Control characters (NUL, CR, TAB, ...) are refused: they never belong in
 * a command and are how a client smuggles a second line into a log.
 */
#include "protocols/pop3/pop3_parser.h"

#include <string.h>

#include "node/lib/util.h"

static const char *const pop3_names[POP3_CMD_COUNT] = {
        [POP3_CMD_UNKNOWN] = "UNKNOWN", [POP3_CMD_CAPA] = "CAPA", [POP3_CMD_USER] = "USER",
        [POP3_CMD_PASS] = "PASS",       [POP3_CMD_AUTH] = "AUTH", [POP3_CMD_STLS] = "STLS",
        [POP3_CMD_QUIT] = "QUIT",       [POP3_CMD_STAT] = "STAT", [POP3_CMD_LIST] = "LIST",
        [POP3_CMD_RETR] = "RETR",       [POP3_CMD_DELE] = "DELE", [POP3_CMD_NOOP] = "NOOP",
        [POP3_CMD_RSET] = "RSET",       [POP3_CMD_TOP] = "TOP",   [POP3_CMD_UIDL] = "UIDL",
};

const char *
pop3_cmd_name(enum pop3_cmd_id id)
{
	return (unsigned)id < POP3_CMD_COUNT ? pop3_names[id] : pop3_names[POP3_CMD_UNKNOWN];
}

static enum pop3_cmd_id
pop3_keyword_lookup(const char *p, size_t len)
{
	if (len < 3 || len > POP3_KEYWORD_MAX)
		return POP3_CMD_UNKNOWN;
	for (int i = 1; i < POP3_CMD_COUNT; i++)
		if (strlen(pop3_names[i]) == len && ascii_strncasecmp(p, pop3_names[i], len) == 0)
			return (enum pop3_cmd_id)i;
	return POP3_CMD_UNKNOWN;
}

int
pop3_parser_parse(const char *line, size_t len, struct pop3_cmd *cmd_r, const char **error_r)
{
	memset(cmd_r, 0, sizeof(*cmd_r));
	if (len == 0) {
		*error_r = "Empty command";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];
		if (ch < 0x20 || ch == 0x7f) {
			*error_r = "Invalid characters in command";
			return -1;
		}
	}
	size_t k = 0;
	while (k < len && line[k] != ' ')
		k++;
	cmd_r->id = pop3_keyword_lookup(line, k);
	if (k < len) {
		cmd_r->rest.p = line + k + 1;
		cmd_r->rest.len = len - k - 1;
	} else {
		cmd_r->rest.p = line + len;
	}
	size_t i = k;
	for (;;) {
		while (i < len && line[i] == ' ')
			i++;
		if (i == len)
			break;
		size_t start = i;
		while (i < len && line[i] != ' ')
			i++;
		if (cmd_r->nargs < POP3_ARGS_MAX) {
			cmd_r->args[cmd_r->nargs].p = line + start;
			cmd_r->args[cmd_r->nargs].len = i - start;
		}
		cmd_r->nargs++;
	}
	return 0;
}

int
pop3_parser_number(const struct pop3_arg *a, uint32_t max, uint32_t *v_r)
{
	uint64_t v;
	if (a->len == 0 || a->len > 10 || parse_u64n(a->p, a->len, max, &v) != 0)
		return -1;
	*v_r = (uint32_t)v;
	return 0;
}
