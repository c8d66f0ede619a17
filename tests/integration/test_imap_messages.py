"""IMAP message commands end to end: APPEND (flags, date-time, APPENDUID,
LITERAL+, [TOOBIG] before the continuation, [TRYCREATE]), FETCH through the
engine (the MIME corpus delivered by LMTP and by APPEND, compared with the
parser's expected ENVELOPE and BODYSTRUCTURE), STORE (+FLAGS, -FLAGS,
FLAGS, .SILENT, keywords), SEARCH, COPY and MOVE with COPYUID, EXPUNGE and
UID EXPUNGE, and large bodies streamed."""
import glob
import imaplib
import os
import re
import smtplib
import socket

import pytest

import conftest

T = 30
MIME = os.path.join(os.path.dirname(__file__), "..", "data", "mime")


def new_user(node):
    addr = conftest.unique_user(node, "msg")
    return addr


def login(node, addr):
    c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=T)
    c.login(addr, "pw")
    return c


def deliver(node, rcpt, msg):
    with smtplib.LMTP("127.0.0.1", node.ports["lmtp"], timeout=T) as l:
        l.sendmail("sender@example.org", [rcpt], msg)


def message(i, body="hello world"):
    return ("From: Sender <sender@example.org>\r\nTo: someone@example.test\r\n"
            "Subject: message %d\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
            "Message-ID: <m%d@example.org>\r\n\r\n%s %d\r\n" % (i, i, body, i)).encode()


class Raw:
    def __init__(self, node):
        self.s = socket.create_connection(("127.0.0.1", node.ports["imap"]), timeout=T)
        self.buf = b""
        self.line()

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def raw_until(self, tag):
        """Everything up to and including the tagged line, literals and all."""
        out = b""
        tag = tag.encode() + b" "
        while True:
            l = self.line()
            out += l + b"\r\n"
            m = re.search(rb"\{(\d+)\}$", l)
            if m:
                n = int(m.group(1))
                while len(self.buf) < n:
                    d = self.s.recv(65536)
                    if not d:
                        raise EOFError
                    self.buf += d
                out += self.buf[:n]
                self.buf = self.buf[n:]
                continue
            if l.startswith(tag):
                return out

    def cmd(self, tag, text):
        self.send("%s %s\r\n" % (tag, text))
        return self.raw_until(tag).decode("utf-8", "replace").split("\r\n")[:-1]

    def login(self, addr):
        assert self.cmd("L", "LOGIN %s pw" % addr)[-1].startswith("L OK")


# --- APPEND -------------------------------------------------------------------

def test_append_flags_date_appenduid(inode):
    addr = new_user(inode)
    c = login(inode, addr)
    typ, data = c.append("INBOX", r"(\Seen \Flagged $Important)", '"05-Mar-2026 14:30:00 +0200"',
                         message(1))
    assert typ == "OK"
    m = re.match(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
    assert m and m.group(2) == b"1", data
    uidvalidity = int(m.group(1))
    c.select("INBOX")
    typ, data = c.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE UID)")
    resp = data[0].decode()
    assert "\\Seen" in resp and "\\Flagged" in resp and "$Important" in resp
    assert "RFC822.SIZE %d" % len(message(1)) in resp and "UID 1" in resp
    assert re.search(r'INTERNALDATE "0?5-Mar-2026 (12:30:00 \+0000|14:30:00 \+0200)"', resp), resp
    typ, data = c.status("INBOX", "(UIDVALIDITY)")
    assert b"UIDVALIDITY %d" % uidvalidity in data[0]
    # Into another mailbox while INBOX is selected; TRYCREATE for a missing one.
    assert c.append("Drafts", r"(\Draft)", None, message(2))[1][0].startswith(b"[APPENDUID")
    typ, data = c.append("NoSuchBox", None, None, message(3))
    assert typ == "NO" and b"[TRYCREATE]" in data[0]
    with pytest.raises(imaplib.IMAP4.error):
        c.append("INBOX", r"(\Recent)", None, message(4))
    with pytest.raises(imaplib.IMAP4.error):
        c.append("INBOX", None, '"31-Foo-2026 10:00:00 +0000"', message(4))
    c.logout()


def test_append_selected_shows_exists(inode):
    addr = new_user(inode)
    r = Raw(inode)
    r.login(addr)
    r.cmd("s", "SELECT INBOX")
    msg = message(7)
    r.send("a APPEND INBOX {%d}\r\n" % len(msg))
    assert r.line().startswith(b"+")
    r.send(msg + b"\r\n")
    out = r.raw_until("a").decode().split("\r\n")
    assert "* 1 EXISTS" in out
    assert out[-2].startswith("a OK [APPENDUID")


def test_append_literal_plus_and_toobig(inode):
    addr = new_user(inode)
    inode.set_config("limits.message_size", 5000)
    try:
        r = Raw(inode)
        r.login(addr)
        msg = message(1)
        r.send(b"a APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        assert r.cmd("n", "NOOP")[0].startswith("a OK [APPENDUID")
        # Too big, synchronising: refused before any "+".
        r.send("b APPEND INBOX {6000}\r\n")
        out = r.line().decode()
        assert out.startswith("b NO [TOOBIG]"), out
        # A 4 GB literal: the same, the connection stays usable.
        r.send("c APPEND INBOX (\\Seen) {4294967296}\r\n")
        assert r.line().decode().startswith("c NO [TOOBIG]")
        # Too big LITERAL+: refused, its data skipped.
        big = b"x" * 6000
        r.send(b"d APPEND INBOX {6000+}\r\n" + big + b"\r\n")
        assert r.line().decode().startswith("d NO [TOOBIG]")
        assert r.cmd("e", "NOOP")[-1] == "e OK NOOP completed"
        # LITERAL+ too big even to skip: BYE [TOOBIG] and close.
        r.send(b"f APPEND INBOX {%d+}\r\n" % (4 * 1024 * 1024))
        assert r.line().decode().startswith("* BYE [TOOBIG]")
        with pytest.raises((EOFError, ConnectionResetError)):
            r.line()
        c = login(inode, addr)
        assert c.select("INBOX")[1] == [b"1"]
        assert b"APPENDLIMIT=5000" in b" ".join(c.capability()[1])
        c.logout()
    finally:
        inode.set_config("limits.message_size", 50 * 1024 * 1024)


def test_append_large_streamed(inode):
    addr = new_user(inode)
    c = login(inode, addr)
    body = b"Subject: big\r\n\r\n" + (b"0123456789abcdef" * 64 + b"\r\n") * 12000  # ~12 MB
    assert c.append("INBOX", None, None, body)[0] == "OK"
    c.select("INBOX")
    typ, data = c.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
    assert data[0][1] == body
    c.logout()


# --- FETCH through the engine: the MIME corpus --------------------------------

def expected_items(path):
    with open(path, "rb") as f:
        data = f.read()
    items = {}
    for part in re.split(rb"(?<!\r)\n", data):
        if part:
            k, v = part.split(b" ", 1)
            items[k.decode()] = v.replace(b"<CRLF>", b"\r\n")
    return items


def corpus():
    return sorted(glob.glob(os.path.join(MIME, "*.eml")))


def test_corpus_by_append(inode):
    addr = new_user(inode)
    r = Raw(inode)
    r.login(addr)
    r.cmd("s", "SELECT INBOX")
    uid = 0
    for path in corpus():
        with open(path, "rb") as f:
            msg = f.read()
        r.send(b"a APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        out = r.raw_until("a").decode("utf-8", "replace")
        if b"\0" in msg:
            assert "a BAD" in out, (path, out)  # NUL needs literal8 (BINARY)
            continue
        assert "a OK [APPENDUID" in out, (path, out)
        uid += 1
        exp = expected_items(path[:-4] + ".expected")
        raw = r.send("f UID FETCH %d (RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY)\r\n" % uid)
        raw = r.raw_until("f")
        assert b"RFC822.SIZE %d" % len(msg) in raw, path
        for k in ("ENVELOPE", "BODYSTRUCTURE", "BODY"):
            assert k.encode() + b" " + exp[k] in raw, (path, k, raw[:2000])
        r.send("g UID FETCH %d (BODY.PEEK[])\r\n" % uid)
        raw = r.raw_until("g")
        assert (b"{%d}\r\n" % len(msg)) + msg in raw or (not msg and b'BODY[] ""' in raw), path


def test_corpus_by_lmtp(inode):
    addr = new_user(inode)
    sent = []
    for path in corpus():
        with open(path, "rb") as f:
            msg = f.read()
        try:
            deliver(inode, addr, msg)
            sent.append((path, msg))
        except smtplib.SMTPException:
            pass  # LMTP's own policy (e.g. bare CR, NUL): not this test's subject
    assert len(sent) >= len(corpus()) - 3
    r = Raw(inode)
    r.login(addr)
    out = r.cmd("s", "SELECT INBOX")
    assert "* %d EXISTS" % len(sent) in out
    for i, (path, msg) in enumerate(sent, 1):
        r.send("f FETCH %d (BODYSTRUCTURE BODY.PEEK[TEXT] BODY.PEEK[HEADER])\r\n" % i)
        raw = r.raw_until("f")
        assert b"f OK" in raw, (path, raw[-300:])
        assert raw.count(b"FETCH (") == 1


def test_fetch_sets_seen_and_peek_does_not(inode):
    addr = new_user(inode)
    for i in range(3):
        deliver(inode, addr, message(i))
    c = login(inode, addr)
    c.select("INBOX")
    c.fetch("1", "(BODY.PEEK[])")
    assert c.search(None, "SEEN")[1] == [b""]
    typ, data = c.fetch("2", "(BODY[TEXT])")
    assert b"hello world 1" in data[0][1]
    assert b"\\Seen" in b"".join(x if isinstance(x, bytes) else x[0] for x in data)
    assert c.search(None, "SEEN")[1] == [b"2"]
    # EXAMINE: never sets \Seen.
    c.select("INBOX", readonly=True)
    c.fetch("3", "(BODY[])")
    c.select("INBOX")
    assert c.search(None, "SEEN")[1] == [b"2"]
    c.logout()


def test_fetch_bad_sets(inode):
    addr = new_user(inode)
    deliver(inode, addr, message(1))
    r = Raw(inode)
    r.login(addr)
    r.cmd("s", "SELECT INBOX")
    assert r.cmd("a", "FETCH 2 FLAGS")[-1].startswith("a BAD")
    assert r.cmd("b", "FETCH 0 FLAGS")[-1].startswith("b BAD")
    assert r.cmd("c", "FETCH 1 (FLAGS")[-1].startswith("c BAD")
    assert r.cmd("d", "FETCH 1 NONSENSE")[-1].startswith("d BAD")
    # UIDs that do not exist are ignored.
    assert r.cmd("e", "UID FETCH 5:9 FLAGS")[-1].startswith("e OK")
    out = r.cmd("f", "UID FETCH 1:* (FLAGS)")
    assert any("UID 1" in l for l in out) and out[-1].startswith("f OK")


# --- STORE ----------------------------------------------------------------------

def test_store_variants(inode):
    addr = new_user(inode)
    for i in range(4):
        deliver(inode, addr, message(i))
    c = login(inode, addr)
    c.select("INBOX")
    typ, data = c.store("1:2", "+FLAGS", r"(\Flagged Work)")
    assert typ == "OK" and len(data) == 2
    assert all(b"\\Flagged" in d and b"Work" in d for d in data)
    typ, data = c.store("2", "-FLAGS", r"(Work)")
    assert data == [b"2 (FLAGS (\\Flagged \\Recent))"]
    typ, data = c.store("3", "FLAGS", r"(\Answered \Draft)")
    assert data == [b"3 (FLAGS (\\Answered \\Draft \\Recent))"]
    typ, data = c.store("4", "+FLAGS.SILENT", r"(\Seen)")
    assert typ == "OK" and data == [None]
    typ, data = c.uid("STORE", "1", "+FLAGS", r"(\Deleted)")
    assert b"UID 1" in data[0]
    # PERMANENTFLAGS learnt the keyword.
    typ, data = c.select("INBOX")
    assert b"Work" in c.untagged_responses["FLAGS"][0]
    with pytest.raises(imaplib.IMAP4.error):
        c.store("1", "+FLAGS", r"(\Recent)")
    with pytest.raises(imaplib.IMAP4.error):
        c.store("1", "+FLAGS", r"(\Bogus)")
    with pytest.raises(imaplib.IMAP4.error):
        c.store("1", "COLOR", "red")
    c.logout()


def test_store_keyword_limit(inode):
    addr = new_user(inode)
    deliver(inode, addr, message(1))
    c = login(inode, addr)
    c.select("INBOX")
    for k in range(0, 64, 16):
        flags = " ".join("kw%d" % i for i in range(k, k + 16))
        assert c.store("1", "+FLAGS.SILENT", "(%s)" % flags)[0] == "OK"
    typ, data = c.store("1", "+FLAGS", "(one-too-many)")
    assert typ == "NO" and b"[LIMIT]" in data[-1]
    typ, data = c.select("INBOX")
    perm = [d for d in c.untagged_responses["OK"] if d.startswith(b"[PERMANENTFLAGS")][0]
    assert b"\\*" not in perm
    c.logout()


# --- SEARCH ------------------------------------------------------------------------

def test_search(inode):
    addr = new_user(inode)
    for i in range(6):
        deliver(inode, addr, message(i, body="needle" if i % 2 else "hay"))
    c = login(inode, addr)
    c.select("INBOX")
    c.store("1,3", "+FLAGS", r"(\Flagged)")
    assert c.search(None, "ALL")[1] == [b"1 2 3 4 5 6"]
    assert c.search(None, "FLAGGED")[1] == [b"1 3"]
    assert c.search(None, "UNFLAGGED", "2:5")[1] == [b"2 4 5"]
    assert c.search(None, "TEXT", "needle")[1] == [b"2 4 6"]
    assert c.search(None, "OR", "FLAGGED", "BODY", "needle")[1] == [b"1 2 3 4 6"]
    assert c.uid("SEARCH", "SUBJECT", '"message 4"')[1] == [b"5"]
    typ, data = c.search("UTF-8", "TEXT", "needle")
    assert data == [b"2 4 6"]
    typ, data = c._simple_command("SEARCH", "CHARSET", "KOI8-R", "TEXT", "x")
    assert typ == "NO" and b"[BADCHARSET" in data[0]
    with pytest.raises(imaplib.IMAP4.error):
        c.search(None, "FROBNICATE")
    c.logout()


# --- COPY, MOVE, EXPUNGE ---------------------------------------------------------------

def test_copy_move_copyuid(inode):
    addr = new_user(inode)
    for i in range(5):
        deliver(inode, addr, message(i))
    c = login(inode, addr)
    c.create("Archive.2026")
    c.select("INBOX")
    typ, data = c.copy("2:3", "Archive.2026")
    m = re.match(rb"\[COPYUID (\d+) 2:3 1:2\]", data[0])
    assert m, data
    typ, data = c.copy("1", "Nowhere")
    assert typ == "NO" and b"[TRYCREATE]" in data[0]
    typ, data = c._simple_command("MOVE", "4:5", "Trash")
    assert typ == "OK"
    oks = c.untagged_responses.get("OK", [])
    assert any(re.match(rb"\[COPYUID \d+ 4:5 1:2\]", o) for o in oks), oks
    assert c.untagged_responses.get("EXPUNGE") == [b"5", b"4"] or \
        c.untagged_responses.get("EXPUNGE") == [b"4", b"4"]
    typ, data = c.uid("MOVE", "1", "Trash")
    assert typ == "OK"
    assert c.select("INBOX")[1] == [b"2"]
    assert c.select("Trash")[1] == [b"3"]
    assert c.select("Archive.2026")[1] == [b"2"]
    typ, data = c.fetch("1:2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"message 1" in data[0][1] and b"message 2" in data[2][1]
    c.logout()


def test_expunge_and_uid_expunge(inode):
    addr = new_user(inode)
    for i in range(6):
        deliver(inode, addr, message(i))
    c = login(inode, addr)
    c.select("INBOX")
    c.store("2,4,5", "+FLAGS", r"(\Deleted)")
    typ, data = c.uid("EXPUNGE", "1:4")
    assert typ == "OK"
    assert c.untagged_responses.pop("EXPUNGE") == [b"4", b"2"]
    assert c.search(None, "ALL")[1] == [b"1 2 3 4"]
    typ, data = c.expunge()
    assert data == [b"3"]  # UID 5 was message 3 now
    assert c.uid("SEARCH", "ALL")[1] == [b"1 3 6"]
    typ, data = c.expunge()
    assert data == [None]
    c.logout()
