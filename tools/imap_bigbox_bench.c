/*
 * imap_bigbox_bench: latency of single IMAP commands on a big mailbox.
 *
 *   imap_bigbox_bench [-h host] [-p port] [-u user] [-w password]
 *                     [-m mailbox] [-f fill-to] [-F fill-connections]
 *                     [-s size] [-n runs] [-c changes] [-l] [name ...]
 *
 * First fills the mailbox up to -f messages (APPEND with LITERAL+, -F
 * connections in parallel, one APPEND in flight on each: a session runs
 * its commands one at a time). The messages are distinct, about -s bytes,
 * from a handful of senders over a few years, and four in five reply to
 * an earlier one (In-Reply-To, References, "Re:" subjects), so that
 * SORT and THREAD have real work.
 *
 * Then, with the mailbox selected, runs each named benchmark of the table
 * below (all of them when none is named; -l lists them) -n times and
 * prints min, median, p90 and max latency from sending the command to
 * reading its tagged reply, with the reply's size. A benchmark may have a
 * preparation that runs before each measured command and is not timed:
 * "changedsince" first flags -c random messages from a second connection,
 * then lets the measured session absorb the resulting FETCH responses
 * with a NOOP, so that its UID FETCH ... (CHANGEDSINCE n) reports exactly
 * those -c messages.
 *
 * Adding a command is adding a row to `benches`: a name, the command
 * text (%M the mailbox, %S the HIGHESTMODSEQ before the preparation, %V
 * the UIDVALIDITY) and an optional preparation. Set
 * imap.commands_per_second to 0 on the node first, or the throttle is
 * what gets measured. Exits 1 on NO/BAD or a lost connection.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/lib/nbuf.h"
#include "node/lib/util.h"

#define BB_LINE_MAX (1024 * 1024)
#define BB_FILL_MAX 64
#define BB_RUNS_MAX 10000
#define BB_CMD_MAX  (64 * 1024)

/* A blocking connection with a read buffer. */
struct bconn {
	int fd;
	char *buf;
	size_t len, pos;
	unsigned tag;
	/* when set, sees every untagged line of the next replies */
	void (*on_line)(void *arg, const char *line);
	void *arg;
};

/* What one command's reply was. */
struct reply {
	char status[8]; /* OK, NO, BAD */
	char tagged[512];
	size_t bytes;      /* everything read, literals included */
	unsigned untagged; /* untagged responses */
	uint64_t hms;      /* a HIGHESTMODSEQ seen, 0 if none */
	uint64_t uidvalidity;
	uint64_t exists;
};

static struct {
	const char *host, *port, *user, *password, *mailbox;
	long fill_to, size, changes;
	int nfill, runs;
	long next_fill; /* fill: the next message to append */
	long base;      /* messages there before the fill */
	pthread_mutex_t lock;
	uint64_t hms, uidvalidity, exists;
	struct bconn changer; /* the second session of the preparations */
	int have_changer;
} B;

static void
die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "imap_bigbox_bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* --- connections ----------------------------------------------------- */

static void
bc_connect(struct bconn *c)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	int rc = getaddrinfo(B.host, B.port, &hints, &res);
	if (rc != 0)
		die("%s:%s: %s", B.host, B.port, gai_strerror(rc));
	c->fd = -1;
	for (ai = res; ai && c->fd < 0; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (c->fd >= 0 && connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(c->fd);
			c->fd = -1;
		}
	}
	freeaddrinfo(res);
	if (c->fd < 0)
		die("connect %s:%s: %s", B.host, B.port, strerror(errno));
	c->buf = xmalloc(BB_LINE_MAX);
	c->len = c->pos = 0;
	c->tag = 0;
	c->on_line = NULL;
}

static void
bc_write(struct bconn *c, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		ssize_t w = write(c->fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write: %s", strerror(errno));
		s += w;
		n -= (size_t)w;
	}
}

/* Make sure n bytes are buffered from pos on. */
static void
bc_need(struct bconn *c, size_t n)
{
	if (c->pos > 0 && c->len - c->pos + n > BB_LINE_MAX) {
		memmove(c->buf, c->buf + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
	}
	while (c->len - c->pos < n) {
		if (c->len == BB_LINE_MAX) {
			if (c->pos == 0)
				die("response line too long");
			memmove(c->buf, c->buf + c->pos, c->len - c->pos);
			c->len -= c->pos;
			c->pos = 0;
		}
		ssize_t r = read(c->fd, c->buf + c->len, BB_LINE_MAX - c->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("connection lost");
		c->len += (size_t)r;
	}
}

/* One line, NUL-terminated in place (CRLF dropped); valid until the next
 * read. Returns its length. */
static size_t
bc_line(struct bconn *c, char **line_r)
{
	for (;;) {
		char *lf = memchr(c->buf + c->pos, '\n', c->len - c->pos);
		if (lf != NULL) {
			char *s = c->buf + c->pos;
			size_t n = (size_t)(lf - s);
			c->pos += n + 1;
			if (n > 0 && s[n - 1] == '\r')
				n--;
			s[n] = '\0';
			*line_r = s;
			return n;
		}
		bc_need(c, c->len - c->pos + 1);
	}
}

/* Skip n bytes of a literal. */
static void
bc_skip(struct bconn *c, size_t n)
{
	while (n > 0) {
		if (c->pos == c->len)
			bc_need(c, 1);
		size_t k = MIN(n, c->len - c->pos);
		c->pos += k;
		n -= k;
	}
}

static uint64_t
code_value(const char *line, const char *code)
{
	const char *p = strstr(line, code);
	return p ? strtoull(p + strlen(code), NULL, 10) : 0;
}

/* Read up to the tagged reply of tag t. */
static void
bc_reply(struct bconn *c, unsigned t, struct reply *r)
{
	char tag[16];
	int tl = snprintf(tag, sizeof(tag), "b%u ", t);
	memset(r, 0, sizeof(*r));
	for (;;) {
		char *line;
		size_t n = bc_line(c, &line);
		r->bytes += n + 2;
		uint64_t v;
		if ((v = code_value(line, "[HIGHESTMODSEQ ")) != 0)
			r->hms = v;
		if (strncmp(line, "* STATUS ", 9) == 0 &&
		    (v = code_value(line, "HIGHESTMODSEQ ")) != 0)
			r->hms = v;
		if ((v = code_value(line, "[UIDVALIDITY ")) != 0)
			r->uidvalidity = v;
		if (line[0] == '*' && strstr(line, " EXISTS") != NULL)
			r->exists = strtoull(line + 2, NULL, 10);
		if (strncmp(line, tag, (size_t)tl) == 0) {
			sscanf(line + tl, "%7s", r->status);
			snprintf(r->tagged, sizeof(r->tagged), "%s", line);
			return;
		}
		if (line[0] == '*') {
			r->untagged++;
			if (c->on_line)
				c->on_line(c->arg, line);
		}
		/* a literal at the end of the line: skip its bytes, the line goes on */
		while (n > 0 && line[n - 1] == '}') {
			char *open = strrchr(line, '{');
			if (open == NULL)
				break;
			size_t lit = strtoull(open + 1, NULL, 10);
			bc_skip(c, lit);
			r->bytes += lit;
			n = bc_line(c, &line);
			r->bytes += n + 2;
		}
	}
}

static void bc_cmd(struct bconn *c, struct reply *r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void
bc_cmd(struct bconn *c, struct reply *r, const char *fmt, ...)
{
	char line[BB_CMD_MAX];
	va_list ap;
	int n = snprintf(line, sizeof(line), "b%u ", ++c->tag);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	memcpy(line + n, "\r\n", 2);
	bc_write(c, line, (size_t)n + 2);
	bc_reply(c, c->tag, r);
}

static void
bc_ok(struct bconn *c, const char *what, struct reply *r)
{
	if (strcmp(r->status, "OK") != 0)
		die("%s: %s", what, r->tagged);
}

static void
bc_login(struct bconn *c)
{
	struct reply r;
	char *greeting;
	bc_connect(c);
	bc_line(c, &greeting);
	bc_cmd(c, &r, "LOGIN \"%s\" \"%s\"", B.user, B.password);
	bc_ok(c, "LOGIN", &r);
}

/* --- filling --------------------------------------------------------- */

static const char *const senders[] = {
        "Alice Example <alice@example.org>", "Bob Sample <bob@example.net>",
        "Carol <carol@example.com>",         "Dave Tester <dave@test.example>",
        "Erin <erin@example.org>",           "Frank Q. <frank@example.com>",
};

/* Message i of the fill, in buf; returns its length. */
static size_t
fill_message(long i, char *buf, size_t cap)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	unsigned seed = (unsigned)i * 2654435761u;
	long topic = i / 5, parent = i % 5 ? i - 1 - (long)(seed % 4) : -1;
	if (parent < 0 && i % 5)
		parent = -1;
	/* spread over about four years, not in arrival order */
	long t = 1600000000L + i * 1200L + (long)(seed % 86400);
	long day = t / 86400, sec = t % 86400;
	long y = 1970, m = 0;
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	for (;;) {
		long yd = (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365;
		if (day < yd)
			break;
		day -= yd;
		y++;
	}
	for (m = 0; m < 12; m++) {
		long md = mdays[m] + (m == 1 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
		if (day < md)
			break;
		day -= md;
	}
	if (m == 12) /* day was out of range: cannot happen, keeps the index in bounds */
		m = 11;
	size_t n = (size_t)snprintf(buf, cap,
	                            "From: %s\r\nTo: Bench <bench@example.test>\r\n"
	                            "Subject: %stopic %ld of the big mailbox\r\n"
	                            "Date: %02ld %s %ld %02ld:%02ld:%02ld +0000\r\n"
	                            "Message-ID: <bb%ld@bench.example>\r\n",
	                            senders[seed % ARRAY_SIZE(senders)], parent >= 0 ? "Re: " : "",
	                            topic, day + 1, months[m], y, sec / 3600, sec / 60 % 60,
	                            sec % 60, i);
	if (parent >= 0)
		n += (size_t)snprintf(buf + n, cap - n,
		                      "In-Reply-To: <bb%ld@bench.example>\r\n"
		                      "References: <bb%ld@bench.example> <bb%ld@bench.example>\r\n",
		                      parent, topic * 5, parent);
	n += (size_t)snprintf(buf + n, cap - n, "\r\n");
	static const char words[] = "lorem ipsum dolor sit amet consectetur adipiscing elit sed "
	                            "do eiusmod tempor incididunt ut labore et dolore magna ";
	size_t col = 0;
	while (n + 80 < (size_t)B.size && n + 80 < cap) {
		size_t w = (seed = seed * 1103515245u + 12345u) % (sizeof(words) - 20);
		size_t k = 5 + (seed >> 16) % 12;
		memcpy(buf + n, words + w, k);
		n += k;
		col += k;
		if (col > 64) {
			memcpy(buf + n, "\r\n", 2);
			n += 2;
			col = 0;
		}
	}
	n += (size_t)snprintf(buf + n, cap - n, "\r\nmessage %ld\r\n", i);
	return n;
}

static void *
fill_thread(void *arg)
{
	struct bconn c;
	char *msg = xmalloc((size_t)B.size + 4096);
	bc_login(&c);
	for (;;) {
		pthread_mutex_lock(&B.lock);
		long i = B.next_fill < B.fill_to ? B.next_fill++ : -1;
		pthread_mutex_unlock(&B.lock);
		if (i < 0)
			break;
		size_t n = fill_message(i, msg, (size_t)B.size + 4096);
		char head[256];
		int hl = snprintf(head, sizeof(head), "b%u APPEND \"%s\" {%zu+}\r\n", ++c.tag,
		                  B.mailbox, n);
		bc_write(&c, head, (size_t)hl);
		bc_write(&c, msg, n);
		bc_write(&c, "\r\n", 2);
		struct reply r;
		bc_reply(&c, c.tag, &r);
		bc_ok(&c, "APPEND", &r);
		if (i % 10000 == 0)
			fprintf(stderr, "imap_bigbox_bench: %ld messages\n", i);
	}
	free(msg);
	close(c.fd);
	free(c.buf);
	return NULL;
}

static void
fill(long have)
{
	if (have >= B.fill_to)
		return;
	pthread_t th[BB_FILL_MAX];
	uint64_t t0 = now_mono_us();
	B.next_fill = have;
	fprintf(stderr, "imap_bigbox_bench: appending %ld messages with %d connections\n",
	        B.fill_to - have, B.nfill);
	for (int i = 0; i < B.nfill; i++)
		if (pthread_create(&th[i], NULL, fill_thread, NULL) != 0)
			die("pthread_create");
	for (int i = 0; i < B.nfill; i++)
		pthread_join(th[i], NULL);
	double s = (double)(now_mono_us() - t0) / 1e6;
	fprintf(stderr, "imap_bigbox_bench: filled in %.1f s (%.0f messages/s)\n", s,
	        (double)(B.fill_to - have) / s);
}

/* --- benchmarks ------------------------------------------------------ */

struct bench {
	const char *name;
	const char *text;                    /* %M mailbox, %S modseq, %V uidvalidity */
	void (*prepare)(struct bconn *main); /* before each run, not timed */
	const char *what;
};

/* "* seq FETCH (FLAGS (...))": note in the byte map arg whether \Flagged
 * is set. */
static void
note_flagged(void *arg, const char *line)
{
	uint8_t *flagged = arg;
	unsigned long seq;
	if (sscanf(line, "* %lu FETCH", &seq) == 1 && seq <= B.exists)
		flagged[seq] = strstr(line, "\\Flagged") != NULL;
}

/* Change the flags of B.changes distinct random messages from a second
 * session, after noting the HIGHESTMODSEQ in B.hms; the measured session
 * then takes in the FETCH responses those changes cause. Every message
 * picked does change: \Flagged is set where it was not and cleared where
 * it was, as a FETCH just before says. */
static void
prep_changes(struct bconn *main)
{
	struct reply r;
	if (!B.have_changer) {
		bc_login(&B.changer);
		bc_cmd(&B.changer, &r, "SELECT \"%s\"", B.mailbox);
		bc_ok(&B.changer, "SELECT", &r);
		B.have_changer = 1;
	}
	size_t count = (size_t)B.exists;
	uint8_t *picked = xcalloc(count + 1, 1), *flagged = xcalloc(count + 1, 1);
	struct nbuf set, add, del;
	nbuf_init(&set, 1 << 20);
	nbuf_init(&add, 1 << 20);
	nbuf_init(&del, 1 << 20);
	for (long k = 0; k < B.changes && k < (long)count; k++) {
		size_t seq;
		do
			seq = 1 + (size_t)random() % count;
		while (picked[seq]);
		picked[seq] = 1;
		nbuf_printf(&set, "%s%zu", nbuf_avail(&set) ? "," : "", seq);
	}
	B.changer.on_line = note_flagged;
	B.changer.arg = flagged;
	bc_cmd(&B.changer, &r, "FETCH %.*s (FLAGS)", (int)nbuf_avail(&set),
	       (const char *)nbuf_head(&set));
	B.changer.on_line = NULL;
	bc_ok(&B.changer, "FETCH", &r);
	for (size_t seq = 1; seq <= count; seq++) {
		if (!picked[seq])
			continue;
		struct nbuf *b = flagged[seq] ? &del : &add;
		nbuf_printf(b, "%s%zu", nbuf_avail(b) ? "," : "", seq);
	}
	bc_cmd(&B.changer, &r, "STATUS \"%s\" (HIGHESTMODSEQ)", B.mailbox);
	bc_ok(&B.changer, "STATUS", &r);
	B.hms = r.hms;
	if (nbuf_avail(&add)) {
		bc_cmd(&B.changer, &r, "STORE %.*s +FLAGS.SILENT (\\Flagged)",
		       (int)nbuf_avail(&add), (const char *)nbuf_head(&add));
		bc_ok(&B.changer, "STORE", &r);
	}
	if (nbuf_avail(&del)) {
		bc_cmd(&B.changer, &r, "STORE %.*s -FLAGS.SILENT (\\Flagged)",
		       (int)nbuf_avail(&del), (const char *)nbuf_head(&del));
		bc_ok(&B.changer, "STORE", &r);
	}
	free(picked);
	free(flagged);
	nbuf_deinit(&set);
	nbuf_deinit(&add);
	nbuf_deinit(&del);
	bc_cmd(main, &r, "NOOP");
	bc_ok(main, "NOOP", &r);
}

/* The measured session gives up its mailbox first (SELECT does that by
 * itself; QRESYNC needs ENABLE in the authenticated state, done once). */
static void
prep_qresync(struct bconn *main)
{
	struct reply r;
	prep_changes(main);
	bc_cmd(main, &r, "UNSELECT");
	bc_ok(main, "UNSELECT", &r);
}

static const struct bench benches[] = {
        {"select", "SELECT \"%M\"", NULL, "build the view of every message"},
        {"examine", "EXAMINE \"%M\"", NULL, "the same, read-only"},
        {"status", "STATUS \"%M\" (MESSAGES UNSEEN UIDNEXT HIGHESTMODSEQ SIZE)", NULL,
         "counters of the mailbox record"},
        {"changedsince", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %S)", prep_changes,
         "FLAGS of the -c messages changed since"},
        {"qresync-select", "SELECT \"%M\" (QRESYNC (%V %S))", prep_qresync,
         "SELECT reporting the -c changes since"},
        {"fetch-flags", "UID FETCH 1:* (FLAGS)", NULL, "FLAGS of every message"},
        {"search-unseen", "SEARCH UNSEEN", NULL, "the records' flags only"},
        {"esearch-count", "SEARCH RETURN (COUNT MIN MAX) UNSEEN", NULL, "ESEARCH: no list"},
        {"sort-date", "SORT (DATE) UTF-8 ALL", NULL, "Date: of every cached tree"},
        {"sort-subject", "SORT (SUBJECT) UTF-8 ALL", NULL, "base subject of every one"},
        {"sort-arrival", "SORT (REVERSE ARRIVAL) UTF-8 ALL", NULL, "records only"},
        {"thread-refs", "THREAD REFERENCES UTF-8 ALL", NULL,
         "IDs, References, subject, date of every one"},
        {"thread-subject", "THREAD ORDEREDSUBJECT UTF-8 ALL", NULL, "subject and date"},
};

static void
expand(const char *text, char *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = text; *p && n + 64 < cap; p++) {
		if (p[0] != '%' || p[1] == '\0') {
			out[n++] = *p;
			continue;
		}
		p++;
		if (*p == 'M')
			n += (size_t)snprintf(out + n, cap - n, "%s", B.mailbox);
		else if (*p == 'S')
			n += (size_t)snprintf(out + n, cap - n, "%llu", (unsigned long long)B.hms);
		else if (*p == 'V')
			n += (size_t)snprintf(out + n, cap - n, "%llu",
			                      (unsigned long long)B.uidvalidity);
		else
			out[n++] = *p;
	}
	out[n] = '\0';
}

static int
u64cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void
run_bench(struct bconn *main, const struct bench *bn)
{
	uint64_t *us = xmalloc((size_t)B.runs * sizeof(*us));
	struct reply r;
	char text[BB_CMD_MAX] = "";
	size_t bytes = 0;
	unsigned untagged = 0;
	/* one run not counted: caches, and SELECT's first claim of \Recent */
	for (int i = -1; i < B.runs; i++) {
		if (bn->prepare)
			bn->prepare(main);
		expand(bn->text, text, sizeof(text));
		uint64_t t0 = now_mono_us();
		bc_cmd(main, &r, "%s", text);
		uint64_t dt = now_mono_us() - t0;
		bc_ok(main, bn->name, &r);
		if (r.uidvalidity)
			B.uidvalidity = r.uidvalidity;
		if (r.exists)
			B.exists = r.exists;
		if (i >= 0) {
			us[i] = dt;
			bytes = r.bytes;
			untagged = r.untagged;
		}
	}
	qsort(us, (size_t)B.runs, sizeof(*us), u64cmp);
	printf("%-16s %8.2f %8.2f %8.2f %8.2f %10zu %8u  %s\n", bn->name, us[0] / 1000.0,
	       us[B.runs / 2] / 1000.0, us[(B.runs * 9) / 10] / 1000.0, us[B.runs - 1] / 1000.0,
	       bytes, untagged, text);
	fflush(stdout);
	free(us);
	/* back to the selected state for the next benchmark */
	bc_cmd(main, &r, "SELECT \"%s\"", B.mailbox);
	bc_ok(main, "SELECT", &r);
}

static void
usage(void)
{
	fprintf(stderr, "usage: imap_bigbox_bench [-h host] [-p port] [-u user] [-w password] "
	                "[-m mailbox]\n"
	                "       [-f fill-to] [-F fill-connections] [-s size] [-n runs] "
	                "[-c changes] [-l] [name ...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int opt, list = 0;
	B.host = "127.0.0.1";
	B.port = "143";
	B.user = "bench@bench.test";
	B.password = "bench-password";
	B.mailbox = "INBOX";
	B.fill_to = 100000;
	B.nfill = 16;
	B.size = 2000;
	B.runs = 20;
	B.changes = 100;
	pthread_mutex_init(&B.lock, NULL);
	while ((opt = getopt(argc, argv, "h:p:u:w:m:f:F:s:n:c:l")) != -1) {
		switch (opt) {
		case 'h':
			B.host = optarg;
			break;
		case 'p':
			B.port = optarg;
			break;
		case 'u':
			B.user = optarg;
			break;
		case 'w':
			B.password = optarg;
			break;
		case 'm':
			B.mailbox = optarg;
			break;
		case 'f':
			B.fill_to = atol(optarg);
			break;
		case 'F':
			B.nfill = atoi(optarg);
			break;
		case 's':
			B.size = atol(optarg);
			break;
		case 'n':
			B.runs = atoi(optarg);
			break;
		case 'c':
			B.changes = atol(optarg);
			break;
		case 'l':
			list = 1;
			break;
		default:
			usage();
		}
	}
	if (list) {
		for (size_t i = 0; i < ARRAY_SIZE(benches); i++)
			printf("%-16s %-60s %s\n", benches[i].name, benches[i].text,
			       benches[i].what);
		return 0;
	}
	if (B.nfill < 1 || B.nfill > BB_FILL_MAX || B.runs < 1 || B.runs > BB_RUNS_MAX ||
	    B.size < 200 || B.size > (1 << 20) || B.changes < 1)
		usage();
	struct bconn main_c;
	struct reply r;
	bc_login(&main_c);
	bc_cmd(&main_c, &r, "ENABLE QRESYNC");
	bc_ok(&main_c, "ENABLE", &r);
	bc_cmd(&main_c, &r, "EXAMINE \"%s\"", B.mailbox);
	bc_ok(&main_c, "EXAMINE", &r);
	fill((long)r.exists);
	bc_cmd(&main_c, &r, "SELECT \"%s\"", B.mailbox);
	bc_ok(&main_c, "SELECT", &r);
	B.exists = r.exists;
	B.uidvalidity = r.uidvalidity;
	B.hms = r.hms;
	srandom(42);
	printf("# %llu messages in %s; %d runs each; latency in ms\n", (unsigned long long)B.exists,
	       B.mailbox, B.runs);
	printf("%-16s %8s %8s %8s %8s %10s %8s  %s\n", "name", "min", "median", "p90", "max",
	       "bytes", "untagged", "command");
	int ran = 0;
	for (size_t i = 0; i < ARRAY_SIZE(benches); i++) {
		int want = optind == argc;
		for (int k = optind; k < argc; k++)
			if (strcmp(argv[k], benches[i].name) == 0)
				want = 1;
		if (want) {
			run_bench(&main_c, &benches[i]);
			ran++;
		}
	}
	if (ran == 0)
		die("no benchmark of that name (-l lists them)");
	bc_cmd(&main_c, &r, "LOGOUT");
	return 0;
}
