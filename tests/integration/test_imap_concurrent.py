"""Several IMAP sessions on one mailbox (RFC 3501 §5.2, §5.5, §7.4.1, and
IDLE, RFC 2177): each sees the others' new messages (EXISTS), flag changes
(untagged FETCH) and expunges (EXPUNGE, never during FETCH, STORE or
SEARCH), with sequence numbers that stay consistent for the session; IDLE
reports a delivery within one second and keeps the connection alive."""
import random
import re
import smtplib
import socket
import time

import pytest

import conftest

T = 20


def new_user(node):
    addr = conftest.unique_user(node, "conc")
    return addr


def deliver(node, rcpt, i):
    msg = ("From: s@example.org\r\nSubject: m%d\r\n\r\nbody %d\r\n" % (i, i)).encode()
    with smtplib.LMTP("127.0.0.1", node.ports["lmtp"], timeout=T) as l:
        l.sendmail("s@example.org", [rcpt], msg)


class Raw:
    def __init__(self, node, addr=None):
        self.s = socket.create_connection(("127.0.0.1", node.ports["imap"]), timeout=T)
        self.buf = b""
        self.line()
        if addr:
            assert self.cmd("L", "LOGIN %s pw" % addr)[-1].startswith("L OK")

    def send(self, data):
        self.s.sendall(data.encode() if isinstance(data, str) else data)

    def line(self, timeout=T):
        self.s.settimeout(timeout)
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def until(self, tag):
        out = []
        while True:
            l = self.line()
            out.append(l)
            if l.startswith(tag + " "):
                return out

    def cmd(self, tag, text):
        self.send("%s %s\r\n" % (tag, text))
        return self.until(tag)


def untagged(lines, word):
    return [l for l in lines if l.startswith("* ") and l.split()[2:3] == [word]]


def test_two_sessions_see_each_other(inode):
    addr = new_user(inode)
    for i in range(5):
        deliver(inode, addr, i)
    a, b = Raw(inode, addr), Raw(inode, addr)
    a.cmd("s", "SELECT INBOX")
    b.cmd("s", "SELECT INBOX")
    # A delivery shows up as EXISTS on NOOP.
    deliver(inode, addr, 5)
    out = b.cmd("n", "NOOP")
    assert "* 6 EXISTS" in out
    # Flag changes by A reach B as FETCH FLAGS.
    a.cmd("f", "STORE 2 +FLAGS (\\Flagged)")
    out = b.cmd("n2", "NOOP")
    assert any(re.match(r"\* 2 FETCH \(FLAGS \(.*\\Flagged.*\)\)", l) for l in out), out
    # A's .SILENT store is silent for A, not for B.
    out = a.cmd("g", "STORE 3 +FLAGS.SILENT (\\Seen)")
    assert not untagged(out, "FETCH"), out
    out = b.cmd("n3", "UID FETCH 3 (FLAGS)")
    assert any("\\Seen" in l for l in out)
    # Expunges by A reach B, but not during B's FETCH/STORE/SEARCH.
    a.cmd("d", "STORE 1,4 +FLAGS (\\Deleted)")
    out = a.cmd("x", "EXPUNGE")
    assert untagged(out, "EXPUNGE") == ["* 4 EXPUNGE", "* 1 EXPUNGE"], out
    for tag, text in (("q1", "FETCH 1:* (FLAGS)"), ("q2", "STORE 6 +FLAGS (\\Answered)"),
                      ("q3", "SEARCH ALL"), ("q4", "UID FETCH 1:* (FLAGS)"),
                      ("q5", "UID SEARCH ALL")):
        out = b.cmd(tag, text)
        assert not untagged(out, "EXPUNGE"), (tag, out)
    # Sequence numbers did not move under B (the expunged ones no longer
    # match: RFC 2180 §4.1.3 lets SEARCH leave them out).
    out = b.cmd("q6", "SEARCH ALL")
    assert "* SEARCH 2 3 5 6" in out
    out = b.cmd("q7", "FETCH 6 (UID)")
    assert "* 6 FETCH (UID 6)" in out
    # Fetching an expunged message that B still sees: EXPUNGEISSUED.
    out = b.cmd("q8", "FETCH 1 (BODY.PEEK[])")
    assert out[-1].startswith("q8 NO [EXPUNGEISSUED]") or out[-1].startswith("q8 OK")
    out = b.cmd("n4", "NOOP")
    assert untagged(out, "EXPUNGE") == ["* 4 EXPUNGE", "* 1 EXPUNGE"], out
    out = b.cmd("q9", "FETCH 1:* (UID)")
    assert [l for l in out if "FETCH" in l and l.startswith("*")] == [
        "* 1 FETCH (UID 2)", "* 2 FETCH (UID 3)", "* 3 FETCH (UID 5)", "* 4 FETCH (UID 6)"]


def test_expunge_then_new_mail_ordering(inode):
    addr = new_user(inode)
    for i in range(3):
        deliver(inode, addr, i)
    a, b = Raw(inode, addr), Raw(inode, addr)
    a.cmd("s", "SELECT INBOX")
    b.cmd("s", "SELECT INBOX")
    a.cmd("d", "STORE 2 +FLAGS.SILENT (\\Deleted)")
    a.cmd("x", "EXPUNGE")
    deliver(inode, addr, 3)
    out = b.cmd("n", "NOOP")
    assert untagged(out, "EXPUNGE") == ["* 2 EXPUNGE"]
    assert "* 3 EXISTS" in out
    assert out.index("* 2 EXPUNGE") < out.index("* 3 EXISTS")


def test_idle_sees_delivery_and_changes(inode):
    addr = new_user(inode)
    deliver(inode, addr, 0)
    r = Raw(inode, addr)
    r.cmd("s", "SELECT INBOX")
    r.send("i IDLE\r\n")
    assert r.line() == "+ idling"
    t0 = time.time()
    deliver(inode, addr, 1)
    assert r.line(timeout=5) == "* 2 EXISTS"
    assert time.time() - t0 < 1.0 + 0.5  # the LMTP round trip included
    assert r.line(timeout=5) == "* 1 RECENT"  # the one SELECT claimed
    other = Raw(inode, addr)
    other.cmd("s", "SELECT INBOX")
    other.cmd("f", "STORE 1 +FLAGS.SILENT (\\Flagged)")
    l = r.line(timeout=5)
    assert re.match(r"\* 1 FETCH \(FLAGS \(.*\\Flagged.*\)\)", l), l
    other.cmd("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    r.line(timeout=5)  # the \Deleted flag change
    other.cmd("x", "EXPUNGE")
    assert r.line(timeout=5) == "* 1 EXPUNGE"
    r.send("DONE\r\n")
    assert r.until("i")[-1] == "i OK IDLE terminated"
    out = r.cmd("f", "FETCH 1 (UID)")
    assert "* 1 FETCH (UID 2)" in out


def test_idle_keepalive_and_bad_done(inode):
    addr = new_user(inode)
    inode.set_config("imap.idle_keepalive", 1)
    try:
        r = Raw(inode, addr)
        r.cmd("s", "SELECT INBOX")
        r.send("i IDLE\r\n")
        assert r.line() == "+ idling"
        assert r.line(timeout=5) == "* OK Still here"
        r.send("NOT-DONE\r\n")
        assert r.until("i")[-1].startswith("i BAD")
        assert r.cmd("n", "NOOP")[-1] == "n OK NOOP completed"
        # IDLE in the authenticated state, and DONE pipelined right behind.
        r.cmd("u", "UNSELECT")
        r.send("j IDLE\r\nDONE\r\nk NOOP\r\n")
        assert r.line() == "+ idling"
        assert r.until("k")[-2:] == ["j OK IDLE terminated", "k OK NOOP completed"]
    finally:
        inode.set_config("imap.idle_keepalive", 120)


def test_mailbox_deleted_under_session(inode):
    addr = new_user(inode)
    a, b = Raw(inode, addr), Raw(inode, addr)
    a.cmd("c", "CREATE Doomed")
    b.cmd("s", "SELECT Doomed")
    a.cmd("d", "DELETE Doomed")
    with pytest.raises(EOFError):
        out = b.cmd("n", "NOOP")
        assert any(l.startswith("* BYE") for l in out)
        b.line()


def test_view_follows_random_changes(inode):
    """A watching session's view, kept from nothing but the untagged
    responses it gets, matches the mailbox after each NOOP, while another
    session appends, flags, expunges, copies and moves at random."""
    addr = new_user(inode)
    rnd = random.Random(1234)
    a, c = Raw(inode, addr), Raw(inode, addr)
    a.cmd("s", "SELECT INBOX")
    a.cmd("x", "CREATE Elsewhere")
    c.cmd("s", "SELECT INBOX")
    model = []  # UIDs, seq - 1 the index

    def apply_untagged(lines):
        for l in lines:
            m = re.match(r"\* (\d+) (EXPUNGE|EXISTS)$", l)
            if not m:
                continue
            n = int(m.group(1))
            if m.group(2) == "EXPUNGE":
                assert 1 <= n <= len(model), (l, len(model))
                del model[n - 1]
            else:
                assert n >= len(model), (l, len(model))
                model.extend([None] * (n - len(model)))

    def random_op(step):
        op = rnd.choice(["append", "append", "flag", "delete", "copy", "move"])
        if op == "append":
            msg = "Subject: r%d\r\n\r\nx\r\n" % step
            a.send("ap APPEND INBOX {%d+}\r\n%s\r\n" % (len(msg), msg))
            a.until("ap")
        else:
            out = a.cmd("q", "UID SEARCH ALL")
            uids = [int(u) for u in out[0].split()[2:]]
            if not uids:
                return op
            pick = ",".join(str(u) for u in rnd.sample(uids, min(len(uids), rnd.randint(1, 3))))
            if op == "flag":
                a.cmd("f", "UID STORE %s +FLAGS.SILENT (\\Flagged)" % pick)
            elif op == "delete":
                a.cmd("d", "UID STORE %s +FLAGS.SILENT (\\Deleted)" % pick)
                a.cmd("e", "UID EXPUNGE %s" % pick)
            elif op == "copy":
                a.cmd("c", "UID COPY %s INBOX" % pick)
            else:
                a.cmd("m", "UID MOVE %s Elsewhere" % pick)
        return op

    def check(step, op):
        out = c.cmd("u", "FETCH 1:* (UID)") if model else c.cmd("u", "UID FETCH 1:* (UID)")
        assert not any(" EXPUNGE" in l for l in out)
        got = [(int(m.group(1)), int(m.group(2))) for m in
               (re.match(r"\* (\d+) FETCH \(UID (\d+)\)", l) for l in out) if m]
        assert [s for s, _ in got] == list(range(1, len(model) + 1)), (step, got, model)
        for i, (_, uid) in enumerate(got):
            assert model[i] in (None, uid), (step, i, model[i], uid)
            model[i] = uid
        truth = a.cmd("t", "UID SEARCH ALL")[0].split()[2:]
        assert model == [int(u) for u in truth], (step, op, model, truth)

    for step in range(40):
        op = random_op(step)
        out = c.cmd("n", "NOOP")
        apply_untagged(out)
        check(step, op)
    # The same while C idles: its view is released and rebuilt on demand.
    c.send("i IDLE\r\n")
    assert c.line() == "+ idling"
    for step in range(40, 60):
        random_op(step)
    a.cmd("z", "NOOP")
    lines = []
    try:
        while True:
            lines.append(c.line(timeout=1.0))
    except socket.timeout:
        pass
    c.send("DONE\r\n")
    lines += c.until("i")
    apply_untagged(lines)
    check(60, "idle")
