"""Extended SEARCH end to end, with raw commands (imaplib has no ESEARCH):
ESEARCH result options (RFC 4731: MIN, MAX, ALL, COUNT, UID, no matches),
SEARCHRES (RFC 5182: SAVE, "$" in SEARCH, FETCH, STORE, COPY, MOVE and their
UID forms, SAVE with MIN/MAX, reset by SELECT, emptied by a NO, kept by a
BAD, expunged messages dropping out, pipelining), CONTEXT=SEARCH (RFC 5267:
PARTIAL, the CONTEXT hint, UPDATE: ADDTO and REMOVEFROM for the session's
own changes, another session's, new messages, expunges (before EXPUNGE),
during IDLE, for UID contexts; NOUPDATE for programs it cannot keep, BAD
for a tag in use, CANCELUPDATE, SELECT ending them),
WITHIN (RFC 5032), the MODSEQ key and MODSEQ in responses (RFC 7162
§3.1.5), SAVEDATE keys (RFC 8514), PREVIEW (RFC 8970, with LAZY) on the
MIME corpus, and bad input."""
import glob
import imaplib
import os
import re
import smtplib
import socket
import time

import pytest

import conftest

T = 60
MIME = os.path.join(os.path.dirname(__file__), "..", "data", "mime")


@pytest.fixture(scope="module")
def enode():
    yield from conftest.running_node()


def new_user(node):
    addr = conftest.unique_user(node, "esearch")
    return addr


def deliver(node, rcpt, msgs):
    with smtplib.LMTP("127.0.0.1", node.ports["lmtp"], timeout=T) as l:
        for m in msgs:
            l.sendmail("sender@example.org", [rcpt], m)


def message(i, frm="sender@example.org", subject=None):
    return ("From: %s\r\nTo: rcpt@example.test\r\nSubject: %s\r\n"
            "Message-ID: <e%d@example.org>\r\n\r\nbody %d\r\n"
            % (frm, subject or "message %d" % i, i, i)).encode()


class Raw:
    def __init__(self, node, addr):
        self.addr = addr
        self.s = socket.create_connection(("127.0.0.1", node.ports["imap"]), timeout=T)
        self.buf = b""
        self.n = 0
        self.line()
        assert self.cmd("LOGIN %s pw" % addr)[0].startswith("OK")

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

    def until(self, tag):
        lines = []
        while True:
            l = self.line()
            m = re.search(rb"\{(\d+)\}$", l)
            if m:  # a literal: read it in
                n = int(m.group(1))
                while len(self.buf) < n:
                    self.buf += self.s.recv(65536)
                l += b"\r\n" + self.buf[:n]
                self.buf = self.buf[n:]
                l += self.line()
            l = l.decode("utf-8", "replace")
            if l.startswith(tag + " "):
                return l[len(tag) + 1:], lines
            lines.append(l)

    def cmd(self, text):
        self.n += 1
        tag = "E%d" % self.n
        self.send("%s %s\r\n" % (tag, text))
        self.last = tag
        return self.until(tag)

    def close(self):
        self.s.close()


def esearch(lines, tag):
    """The return data of the one ESEARCH response of tag, as a string."""
    found = [l for l in lines if l.startswith('* ESEARCH (TAG "%s")' % tag)]
    assert len(found) == 1, lines
    return found[0][len('* ESEARCH (TAG "%s")' % tag):].strip()


@pytest.fixture
def box(enode):
    """A user with 10 messages; 2, 5 and 7 are \\Seen."""
    addr = new_user(enode)
    deliver(enode, addr, [message(i, "alice@a.test" if i % 3 == 0 else "bob@b.test")
                          for i in range(1, 11)])
    r = Raw(enode, addr)
    assert r.cmd("SELECT INBOX")[0].startswith("OK")
    assert r.cmd("STORE 2,5,7 +FLAGS.SILENT (\\Seen)")[0].startswith("OK")
    yield r
    r.close()


def test_esearch_options(box):
    st, lines = box.cmd("SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")
    assert st.startswith("OK")
    assert esearch(lines, box.last) == "MIN 1 MAX 10 ALL 1,3:4,6,8:10 COUNT 7"
    st, lines = box.cmd("UID SEARCH RETURN (COUNT MIN) SEEN")
    assert esearch(lines, box.last) == "UID MIN 2 COUNT 3"
    st, lines = box.cmd("SEARCH RETURN () FROM alice")
    assert esearch(lines, box.last) == "ALL 3,6,9"
    st, lines = box.cmd("SEARCH RETURN (MAX) 1:4 FROM alice")
    assert esearch(lines, box.last) == "MAX 3"
    # nothing found: COUNT 0, and the response is still there
    st, lines = box.cmd("SEARCH RETURN (MIN MAX ALL COUNT) SUBJECT nothing-here")
    assert esearch(lines, box.last) == "COUNT 0"
    st, lines = box.cmd("SEARCH RETURN (MIN) SUBJECT nothing-here")
    assert esearch(lines, box.last) == ""
    # the body keys go through the pool: same answers
    st, lines = box.cmd("SEARCH RETURN (ALL) BODY \"body 1\"")
    assert esearch(lines, box.last) == "ALL 1,10"
    # without RETURN: the plain response
    st, lines = box.cmd("SEARCH UNSEEN")
    assert lines == ["* SEARCH 1 3 4 6 8 9 10"]


def test_partial_context(box):
    st, lines = box.cmd("SEARCH RETURN (PARTIAL 2:4) UNSEEN")
    assert esearch(lines, box.last) == "PARTIAL (2:4 3:4,6)"
    st, lines = box.cmd("UID SEARCH RETURN (PARTIAL 4:2 COUNT) ALL")
    assert esearch(lines, box.last) == "UID COUNT 10 PARTIAL (2:4 2:4)"
    st, lines = box.cmd("SEARCH RETURN (PARTIAL 20:30) ALL")
    assert esearch(lines, box.last) == "PARTIAL (20:30 NIL)"
    st, lines = box.cmd("SEARCH RETURN (CONTEXT COUNT) ALL")
    assert esearch(lines, box.last) == "COUNT 10"
    # programs that cannot be kept up to date: NOUPDATE, the rest answered
    for prog in ("SUBJECT message", "1:5", "UID 3:*", "$", "YOUNGER 60"):
        st, lines = box.cmd("SEARCH RETURN (UPDATE COUNT) " + prog)
        assert st.startswith("OK"), prog
        assert lines[0].startswith('* NO [NOUPDATE "%s"]' % box.last), prog
        assert esearch(lines, box.last).startswith("COUNT"), prog
    st, lines = box.cmd("SORT RETURN (UPDATE COUNT) (DATE) UTF-8 ALL")
    assert lines[0].startswith('* NO [NOUPDATE "%s"]' % box.last)
    assert esearch(lines, box.last) == "COUNT 10"
    assert box.cmd("CANCELUPDATE")[0].startswith("BAD")
    assert box.cmd("CANCELUPDATE E1")[0].startswith("BAD")
    assert box.cmd('CANCELUPDATE "nothing"')[0].startswith("OK")


def test_update(box, enode):
    st, lines = box.cmd("SEARCH RETURN (UPDATE COUNT) SEEN")
    ctx = box.last
    assert not any("NOUPDATE" in l for l in lines)
    assert esearch(lines, ctx) == "COUNT 3"
    upd = '* ESEARCH (TAG "%s")' % ctx
    # the session's own STORE: the message joins, then leaves
    st, lines = box.cmd("STORE 1 +FLAGS (\\Seen)")
    assert upd + " ADDTO (0 1)" in lines
    st, lines = box.cmd("STORE 2 -FLAGS.SILENT (\\Seen)")
    assert upd + " REMOVEFROM (0 2)" in lines
    # a UID context next to it
    st, lines = box.cmd("UID SEARCH RETURN (UPDATE) FLAGGED")
    uctx = box.last
    assert esearch(lines, uctx) == "UID"
    uupd = '* ESEARCH (TAG "%s") UID' % uctx
    # a tag that is a context already: BAD
    box.send('%s SEARCH RETURN (UPDATE) ALL\r\n' % ctx)
    assert box.until(ctx)[0].startswith("BAD")
    # another session: flags, a new message, an expunge
    other = Raw(enode, box.addr)
    other.cmd("SELECT INBOX")
    assert other.cmd("UID STORE 10,7 +FLAGS (\\Flagged \\Seen)")[0].startswith("OK")
    deliver(enode, box.addr, [message(11)])
    assert other.cmd("UID STORE 5 +FLAGS.SILENT (\\Deleted)")[0].startswith("OK")
    assert other.cmd("EXPUNGE")[0].startswith("OK")
    st, lines = box.cmd("NOOP")
    # REMOVEFROM before the EXPUNGE it is about (seq 5 = UID 5 still)
    assert lines.index(upd + " REMOVEFROM (0 5)") < lines.index("* 5 EXPUNGE")
    # ADDTO with the numbers after the expunge: UID 10 is 9 now
    assert upd + " ADDTO (0 9)" in lines
    assert uupd + " ADDTO (0 7,10)" in lines
    assert lines.index("* 10 EXISTS") < lines.index(upd + " ADDTO (0 9)")
    # during IDLE they come as they happen
    box.send("I1 IDLE\r\n")
    assert box.line().startswith(b"+")
    assert other.cmd("UID STORE 10 -FLAGS (\\Flagged)")[0].startswith("OK")
    deadline = time.time() + 10
    seen = []
    while uupd + " REMOVEFROM (0 10)" not in seen and time.time() < deadline:
        seen.append(box.line().decode())
    assert uupd + " REMOVEFROM (0 10)" in seen
    box.send("DONE\r\n")
    assert box.until("I1")[0].startswith("OK")
    # cancelled: no more
    assert box.cmd('CANCELUPDATE "%s" "%s"' % (ctx, uctx))[0].startswith("OK")
    assert other.cmd("STORE 1:* +FLAGS (\\Seen \\Flagged)")[0].startswith("OK")
    st, lines = box.cmd("NOOP")
    assert not any(l.startswith("* ESEARCH") for l in lines)
    # a new SELECT ends every context
    st, lines = box.cmd("SEARCH RETURN (UPDATE) DELETED")
    box.cmd("SELECT INBOX")
    assert other.cmd("STORE 1 +FLAGS (\\Deleted)")[0].startswith("OK")
    st, lines = box.cmd("NOOP")
    assert not any(l.startswith("* ESEARCH") for l in lines)
    other.close()


def test_searchres(box, enode):
    st, lines = box.cmd("SEARCH RETURN (SAVE) FROM alice")
    assert st.startswith("OK") and lines == []  # SAVE alone answers nothing
    st, lines = box.cmd("FETCH $ (UID)")
    assert lines == ["* 3 FETCH (UID 3)", "* 6 FETCH (UID 6)", "* 9 FETCH (UID 9)"]
    st, lines = box.cmd("UID FETCH $ (FLAGS)")
    assert [re.match(r"\* (\d+)", l).group(1) for l in lines] == ["3", "6", "9"]
    st, lines = box.cmd("SEARCH $ UNSEEN NOT 9")
    assert lines == ["* SEARCH 3 6"]
    st, lines = box.cmd("UID SEARCH UID $")
    assert lines == ["* SEARCH 3 6 9"]
    assert box.cmd("STORE $ +FLAGS.SILENT (\\Flagged)")[0].startswith("OK")
    st, lines = box.cmd("SEARCH FLAGGED")
    assert lines == ["* SEARCH 3 6 9"]
    assert box.cmd("CREATE Saved")[0].startswith("OK")
    st, lines = box.cmd("COPY $ Saved")
    assert st.startswith("OK")
    st, lines = box.cmd("STATUS Saved (MESSAGES)")
    assert "MESSAGES 3" in lines[0]
    # SAVE with MIN and MAX only: those two (RFC 5182 §2.4)
    st, lines = box.cmd("SEARCH RETURN (SAVE MIN MAX) UNSEEN")
    assert esearch(lines, box.last) == "MIN 1 MAX 10"
    st, lines = box.cmd("SEARCH $")
    assert lines == ["* SEARCH 1 10"]
    # SAVE with COUNT: all of them
    st, lines = box.cmd("UID SEARCH RETURN (SAVE COUNT MIN) SEEN")
    assert esearch(lines, box.last) == "UID MIN 2 COUNT 3"
    st, lines = box.cmd("SEARCH $")
    assert lines == ["* SEARCH 2 5 7"]
    # expunged messages drop out of "$"; numbers follow the view
    assert box.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")[0].startswith("OK")
    assert box.cmd("EXPUNGE")[0].startswith("OK")
    st, lines = box.cmd("FETCH $ (UID)")
    assert lines == ["* 4 FETCH (UID 5)", "* 6 FETCH (UID 7)"]
    # MOVE $ takes them away
    st, lines = box.cmd("UID MOVE $ Saved")
    assert st.startswith("OK")
    st, lines = box.cmd("SEARCH ALL")
    assert lines == ["* SEARCH " + " ".join(str(i) for i in range(1, 8))]
    # a BAD leaves "$"; a NO with SAVE empties it
    assert box.cmd("SEARCH RETURN (SAVE) FROM alice")[0].startswith("OK")
    assert box.cmd("SEARCH RETURN (SAVE) FROB")[0].startswith("BAD")
    st, lines = box.cmd("SEARCH $")
    assert lines == ["* SEARCH 2 4 6"]
    st, lines = box.cmd("SEARCH RETURN (SAVE) CHARSET KOI8-R ALL")
    assert st.startswith("NO [BADCHARSET")
    st, lines = box.cmd("SEARCH $")
    assert lines == ["* SEARCH"]
    st, lines = box.cmd("FETCH $ (UID)")
    assert st.startswith("OK") and lines == []
    # a SELECT resets it
    assert box.cmd("SEARCH RETURN (SAVE) ALL")[0].startswith("OK")
    assert box.cmd("SELECT INBOX")[0].startswith("OK")
    st, lines = box.cmd("SEARCH $")
    assert lines == ["* SEARCH"]


def test_searchres_pipelined(box):
    # RFC 5182 §2.3: the commands using "$" see the result of the SAVE
    box.send("P1 SEARCH RETURN (SAVE) UNSEEN FROM bob\r\n"
             "P2 UID FETCH $ (UID)\r\nP3 STORE $ +FLAGS (\\Answered)\r\n"
             "P4 SEARCH ANSWERED\r\n")
    assert box.until("P1")[0].startswith("OK")
    st, lines = box.until("P2")
    assert [l.split()[1] for l in lines] == ["1", "4", "8", "10"]
    assert box.until("P3")[0].startswith("OK")
    st, lines = box.until("P4")
    assert lines == ["* SEARCH 1 4 8 10"]


def test_within_savedate(enode):
    addr = new_user(enode)
    c = imaplib.IMAP4("127.0.0.1", enode.ports["imap"], timeout=T)
    c.login(addr, "pw")
    now = time.time()
    for age in (7200, 172800, 0):
        c.append("INBOX", None, imaplib.Time2Internaldate(now - age), message(age))
    c.select("INBOX")
    r = Raw(enode, addr)
    r.cmd("SELECT INBOX")
    assert r.cmd("SEARCH YOUNGER 3600")[1] == ["* SEARCH 3"]
    assert r.cmd("SEARCH OLDER 3600")[1] == ["* SEARCH 1 2"]
    assert r.cmd("SEARCH YOUNGER 86400 OLDER 3600")[1] == ["* SEARCH 1"]
    st, lines = r.cmd("SEARCH RETURN (COUNT) OR OLDER 100000 YOUNGER 60")
    assert esearch(lines, r.last) == "COUNT 2"
    # every message was saved just now, whatever its internal date
    today = time.strftime("%d-%b-%Y", time.gmtime())
    assert r.cmd("SEARCH SAVEDON %s" % today)[1] == ["* SEARCH 1 2 3"]
    assert r.cmd("SEARCH SAVEDSINCE %s" % today)[1] == ["* SEARCH 1 2 3"]
    assert r.cmd("SEARCH SAVEDBEFORE %s" % today)[1] == ["* SEARCH"]
    assert r.cmd("SEARCH SAVEDATESUPPORTED")[1] == ["* SEARCH 1 2 3"]
    not_today = [str(i + 1) for i, age in enumerate((7200, 172800, 0))
                 if time.strftime("%d-%b-%Y", time.gmtime(now - age)) != today]
    assert r.cmd("SEARCH NOT ON %s" % today)[1] == [" ".join(["* SEARCH"] + not_today)]
    for bad in ("OLDER", "OLDER 0", "YOUNGER x", "YOUNGER 4294967296", "SAVEDON 31-Feb-2026",
                "SAVEDBEFORE"):
        assert r.cmd("SEARCH " + bad)[0].startswith("BAD"), bad
    r.close()
    c.logout()


def test_modseq(box):
    st, lines = box.cmd("STORE 4 +FLAGS (\\Flagged)")
    st, lines = box.cmd("FETCH 4 (MODSEQ)")
    ms = int(re.search(r"MODSEQ \((\d+)\)", " ".join(lines)).group(1))
    st, lines = box.cmd("SEARCH MODSEQ %d" % ms)
    assert lines == ["* SEARCH 4 (MODSEQ %d)" % ms] or (
        lines[0] == "* SEARCH 4 (MODSEQ %d)" % ms and lines[1].startswith("* OK [HIGHESTMODSEQ"))
    st, lines = box.cmd('UID SEARCH RETURN (ALL) MODSEQ "/flags/\\\\flagged" all %d' % ms)
    assert esearch(lines, box.last) == "UID ALL 4 MODSEQ %d" % ms
    st, lines = box.cmd("SEARCH RETURN (COUNT) MODSEQ %d" % (ms + 1000))
    assert esearch(lines, box.last) == "COUNT 0"
    st, lines = box.cmd("SEARCH MODSEQ %d" % (ms + 1000))
    assert lines[0] == "* SEARCH"
    # MIN alone: that message's MODSEQ
    st, lines = box.cmd("SEARCH RETURN (MIN) MODSEQ 1")
    got = esearch(lines, box.last)
    assert re.match(r"MIN 1 MODSEQ \d+$", got)
    for bad in ("MODSEQ", "MODSEQ x", "MODSEQ -1", 'MODSEQ "/flags/x" 5', "MODSEQ 9223372036854775808"):
        assert box.cmd("SEARCH " + bad)[0].startswith("BAD"), bad


def test_bad_input(box):
    for bad in ("SEARCH RETURN (FOO) ALL", "SEARCH RETURN ALL", "SEARCH RETURN",
                "SEARCH RETURN (PARTIAL 0:1) ALL", "SEARCH RETURN (PARTIAL 1:*) ALL",
                "SEARCH RETURN (ALL PARTIAL 1:2) ALL", "SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL",
                "SEARCH RETURN (MIN)", "UID SEARCH RETURN (MIN) CHARSET"):
        assert box.cmd(bad)[0].startswith("BAD"), bad
    assert box.cmd("SEARCH RETURN (MIN) CHARSET UTF-7 ALL")[0].startswith(
        "NO [BADCHARSET (UTF-8 US-ASCII)]")
    assert box.cmd("SEARCH RETURN (COUNT) ALL")[0].startswith("OK")


def test_preview(enode):
    addr = new_user(enode)
    files = sorted(glob.glob(os.path.join(MIME, "*.eml")))
    deliver(enode, addr, [open(f, "rb").read() for f in files])
    r = Raw(enode, addr)
    r.cmd("EXAMINE INBOX")
    for items in ("PREVIEW", "(UID PREVIEW (LAZY))"):
        st, lines = r.cmd("FETCH 1:* %s" % items)
        assert st.startswith("OK"), items
        assert len(lines) == len(files)
        for l in lines:
            m = re.search(r'PREVIEW ("(?:[^"\\]|\\.)*"|\{\d+\}\r\n)', l, re.S)
            assert m, l  # never NIL: the tree caches the preview at delivery
            if m.group(1).startswith("{"):
                text = l[m.end():]
                assert len(text.rstrip(")")) <= 4 * 256
    st, lines = r.cmd("FETCH 1 (PREVIEW (FAST))")
    assert st.startswith("BAD")
    plain = files.index(os.path.join(MIME, "plain.eml")) + 1
    st, lines = r.cmd("FETCH %d (PREVIEW)" % plain)
    assert re.search(r'PREVIEW "[^"]+"', lines[0])
    r.close()


def test_capabilities(enode):
    addr = new_user(enode)
    c = imaplib.IMAP4("127.0.0.1", enode.ports["imap"], timeout=T)
    c.login(addr, "pw")
    for cap in ("ESEARCH", "SEARCHRES", "WITHIN", "CONTEXT=SEARCH", "PREVIEW", "SAVEDATE"):
        assert cap in c.capabilities
    c.logout()
