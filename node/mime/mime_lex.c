/*
 * mime_lex: the lexical layer every header parser of node/mime stands on:
 * comments, quoted strings and tokens (RFC 5322 §3.2.1-3.2.4, RFC 2045
 * §5.1), arena string copies and line counting.
 *
 * Every function reads s[0..len) only; an unterminated comment or quoted
 * string simply ends at len (bad mail is read as far as it makes sense).
 * Comment nesting is counted, not recursed.
 */
#include "node/mime/mime_int.h"

#include <string.h>

#include "node/lib/util.h"

void *
mime__zalloc(struct arena *a, size_t n)
{
	void *p = arena_zalloc(a, n ? n : 1);
	if (p == NULL)
		panic("mime: arena without limit refused %zu bytes", n);
	return p;
}

char *
mime__strndup(struct arena *a, const char *s, size_t n)
{
	char *p = mime__zalloc(a, n + 1);
	for (size_t i = 0; i < n; i++)
		p[i] = s[i] ? s[i] : (char)0x80;
	p[n] = '\0';
	return p;
}

char *
mime__strndup_lower(struct arena *a, const char *s, size_t n)
{
	char *p = mime__strndup(a, s, n);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)ascii_tolower((unsigned char)p[i]);
	return p;
}

size_t
mime__comment(const char *s, size_t len, size_t i, struct nbuf *text)
{
	size_t depth = 0;
	for (; i < len; i++) {
		char c = s[i];
		if (c == '\\' && i + 1 < len) {
			i++;
			if (text != NULL)
				(void)nbuf_append(text, &s[i], 1);
			continue;
		}
		if (c == '(') {
			if (depth++ == 0)
				continue;
		} else if (c == ')') {
			if (--depth == 0)
				return i + 1;
		}
		if (text != NULL)
			(void)nbuf_append(text, &c, 1);
	}
	return len;
}

size_t
mime__quoted(const char *s, size_t len, size_t i, struct nbuf *out)
{
	for (i++; i < len; i++) {
		char c = s[i];
		if (c == '"')
			return i + 1;
		if (c == '\\' && i + 1 < len)
			c = s[++i];
		else if (c == '\r' || c == '\n')
			continue; /* a fold inside the string */
		if (out != NULL)
			(void)nbuf_append(out, &c, 1);
	}
	return len;
}

size_t
mime__skip_cfws(const char *s, size_t len, size_t i)
{
	while (i < len) {
		if (mime__is_lwsp((unsigned char)s[i]))
			i++;
		else if (s[i] == '(')
			i = mime__comment(s, len, i, NULL);
		else
			break;
	}
	return i;
}

static int
mime_is_token_char(unsigned char c)
{
	if (c <= ' ' || c == 0x7f)
		return 0;
	/* RFC 2045 tspecials; 8-bit bytes are tolerated */
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

size_t
mime__token_end(const char *s, size_t len, size_t i)
{
	while (i < len && mime_is_token_char((unsigned char)s[i]))
		i++;
	return i;
}

size_t
mime__count_lines(const char *p, size_t n)
{
	size_t lines = 0;
	for (size_t i = 0; i < n; i++)
		lines += p[i] == '\n';
	if (n > 0 && p[n - 1] != '\n')
		lines++;
	return lines;
}
