"""POP3 (RFC 1939) with CAPA, UIDL, TOP, STLS, SASL, PIPELINING and response
codes, end to end: real mailnode processes, mail delivered over LMTP, and
real clients (Python's poplib, curl, and a raw socket for what clients never
send)."""
import base64
import glob
import hashlib
import hmac
import os
import poplib
import smtplib
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest

import harness

USER = "pop@example.test"
PW = "correct horse battery"
T = 20  # seconds any single client operation may take


def message(i, extra=""):
    return ("From: sender@example.org\r\nTo: %s\r\nSubject: message %d\r\n"
            "Message-ID: <m%d@example.org>\r\n\r\n"
            "line one of %d\r\n.starts with a dot\r\n..two dots\r\n.\r\n"
            "%slast line\r\n" % (USER, i, i, i, extra))


def deliver(node, rcpt, msg):
    with smtplib.LMTP("127.0.0.1", node.ports["lmtp"], timeout=T) as l:
        l.sendmail("sender@example.org", [rcpt], msg)


@pytest.fixture
def box(node):
    """The node with USER holding three messages."""
    node.add_user(USER, PW)
    msgs = [message(i) for i in (1, 2, 3)]
    for m in msgs:
        deliver(node, USER, m)
    return node, msgs


def pop(node, login=True):
    p = poplib.POP3("127.0.0.1", node.ports["pop3"], timeout=T)
    if login:
        p.user(USER)
        p.pass_(PW)
    return p


def no_verify():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def text_of(lines):
    """poplib's lines (stuffing removed) as the message text."""
    return b"".join(l + b"\r\n" for l in lines).decode()


def wait_log(node, text, timeout=T):
    """The node's log gets text (lines are written as sessions end, a
    moment after the client saw the connection close)."""
    deadline = time.time() + timeout
    while text not in node.log():
        assert time.time() < deadline, "%r not in the log" % text
        time.sleep(0.05)


def used_messages(node):
    return node.admin("GET", "/v1/users/" + USER, expect=200)[1]["used_messages"]


def maildir_files(node):
    return sorted(glob.glob(os.path.join(node.data_dir, "mail", "example.test", "pop",
                                         "cur", "*")))


def inbox_flags(node):
    """{uid: flags} of USER's INBOX from the canonical index dump."""
    conn = harness.UnixHTTPConnection(os.path.join(node.data_dir, "admin.sock"))
    conn.request("GET", "/v1/debug/dump")
    text = conn.getresponse().read().decode()
    conn.close()
    flags, section = {}, None
    for line in text.splitlines():
        if line.startswith("["):
            section = line
            continue
        if section == "[messages]":
            key, val = line.split(" ")
            flags[int(key[8:16], 16)] = int(val[2:10], 16)
    return flags


SEEN = 1


class Raw:
    """A line-level POP3 client for what real clients never send."""

    def __init__(self, node, port="pop3", tls=False, greet=True):
        s = socket.create_connection(("127.0.0.1", node.ports[port]), timeout=T)
        if tls:
            s = no_verify().wrap_socket(s)
        self.sock = s
        self.f = s.makefile("rb")
        if greet:
            assert self.line().startswith("+OK")

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        l = self.f.readline()
        assert l.endswith(b"\r\n"), l
        return l[:-2].decode("utf-8", "replace")

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def multi(self):
        out = []
        while True:
            l = self.line()
            if l == ".":
                return out
            out.append(l[1:] if l.startswith(".") else l)

    def login(self, user=USER, pw=PW):
        assert self.cmd("USER " + user).startswith("+OK")
        return self.cmd("PASS " + pw)

    def eof(self):
        return self.f.read() == b""

    def close(self):
        self.f.close()
        self.sock.close()


# --- capabilities ---------------------------------------------------------

def test_capa(node):
    node.add_user(USER, PW)
    p = pop(node, login=False)
    assert p.getwelcome().startswith(b"+OK")
    caps = p.capa()
    for c in ("TOP", "UIDL", "USER", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
              "STLS", "IMPLEMENTATION"):
        assert c in caps, caps
    assert caps["SASL"] == ["SCRAM-SHA-256", "PLAIN", "LOGIN"]
    assert "LOGIN-DELAY" not in caps and "EXPIRE" not in caps
    assert "APOP" not in caps
    p.user(USER)
    p.pass_(PW)
    caps = p.capa()
    assert "STLS" not in caps and "TOP" in caps and "SASL" in caps
    p.quit()
    node.set_config("pop3.expire", "never")
    node.set_config("pop3.login_delay", "900")
    caps = pop(node, login=False).capa()
    assert caps["EXPIRE"] == ["NEVER"] and caps["LOGIN-DELAY"] == ["900"]
    node.set_config("pop3.expire", "31")
    assert pop(node, login=False).capa()["EXPIRE"] == ["31"]
    node.set_config("pop3.expire", "bogus")
    assert "EXPIRE" not in pop(node, login=False).capa()


# --- the transaction commands ---------------------------------------------

def test_commands(box):
    node, msgs = box
    p = pop(node)
    count, octets = p.stat()
    assert count == 3
    resp, listing, _ = p.list()
    sizes = [int(l.split()[1]) for l in listing]
    assert [int(l.split()[0]) for l in listing] == [1, 2, 3]
    assert sum(sizes) == octets
    assert p.list(2) == b"+OK 2 %d" % sizes[1]
    for i in (1, 2, 3):
        resp, lines, n = p.retr(i)
        text = text_of(lines)
        # LMTP may put trace headers in front; the message follows intact,
        # its dot lines unstuffed by the client.
        assert text.endswith(msgs[i - 1]), text
        assert resp == b"+OK %d octets" % sizes[i - 1]
    resp, uidls, _ = p.uidl()
    ids = [l.split()[1] for l in uidls]
    assert len(set(ids)) == 3
    for u in ids:
        assert 1 <= len(u) <= 70 and all(0x21 <= c <= 0x7e for c in u)
    assert p.uidl(3).split()[2] == ids[2]
    # TOP: the header, the blank line, then exactly n body lines.
    for n in (0, 1, 2, 10):
        lines = p.top(1, n)[1]
        blank = lines.index(b"")
        assert lines[blank + 1:] == [b"line one of 1", b".starts with a dot", b"..two dots",
                                     b".", b"last line"][:n]
        assert lines[blank - 1].startswith(b"Message-ID:")
    assert p.noop() == b"+OK"
    assert p.dele(2).startswith(b"+OK")
    assert p.stat() == (2, octets - sizes[1])
    with pytest.raises(poplib.error_proto, match="deleted"):
        p.retr(2)
    with pytest.raises(poplib.error_proto, match="deleted"):
        p.dele(2)
    with pytest.raises(poplib.error_proto):
        p.list(2)
    assert [l.split()[0] for l in p.list()[1]] == [b"1", b"3"]
    assert p.rset().startswith(b"+OK")
    assert p.stat() == (3, octets)
    assert p.quit().startswith(b"+OK")
    # Nothing was deleted after RSET; the retrieved ones are now \Seen.
    assert used_messages(node) == 3
    assert all(f & SEEN for f in inbox_flags(node).values())


def test_dele_quit_removes_from_store_and_maildir(box):
    node, msgs = box
    files = maildir_files(node)
    assert len(files) == 3
    p = pop(node)
    before = [l.split()[1] for l in p.uidl()[1]]
    p.dele(1)
    p.dele(3)
    assert p.quit() == b"+OK Bye, 2 messages deleted"
    assert used_messages(node) == 1
    assert maildir_files(node) == [files[1]]
    p = pop(node)
    assert p.stat()[0] == 1
    assert [l.split()[1] for l in p.uidl()[1]] == [before[1]]
    assert text_of(p.retr(1)[1]).endswith(msgs[1])
    p.quit()
    wait_log(node, "retrieved=0 deleted=2 ")
    assert "event=session-end user=%s" % USER in node.log()


def test_interrupted_session_deletes_nothing(box):
    node, _ = box
    p = pop(node)
    for i in (1, 2, 3):
        p.dele(i)
    p.close()  # no QUIT
    wait_log(node, "reason=disconnect")
    assert used_messages(node) == 3
    assert len(maildir_files(node)) == 3
    p = pop(node)
    assert p.stat()[0] == 3
    p.retr(1)
    p.close()
    wait_log(node, "retrieved=1 deleted=0 ")
    # Retrieved but never QUIT: not even \Seen.
    assert not any(f & SEEN for f in inbox_flags(node).values())


def test_seen_on_retr(box):
    node, _ = box
    p = pop(node)
    p.retr(2)
    p.top(3, 1)  # TOP is not a retrieval
    p.quit()
    flags = inbox_flags(node)
    assert [bool(flags[u] & SEEN) for u in sorted(flags)] == [False, True, False]
    node.set_config("pop3.seen_on_retr", "false")
    p = pop(node)
    p.retr(1)
    p.quit()
    assert not inbox_flags(node)[min(flags)] & SEEN


def test_expire_zero_deletes_retrieved(box):
    node, _ = box
    node.set_config("pop3.expire", "0")
    p = pop(node)
    assert p.capa()["EXPIRE"] == ["0"]
    p.retr(1)
    p.retr(3)
    assert p.quit() == b"+OK Bye, 2 messages deleted"
    assert used_messages(node) == 1


def test_snapshot_and_concurrent_sessions(box):
    node, msgs = box
    a = pop(node)
    b = pop(node)
    deliver(node, USER, message(4))
    assert a.stat()[0] == 3 and b.stat()[0] == 3  # new mail waits
    a.dele(1)
    b.dele(1)
    b.dele(2)
    assert a.quit() == b"+OK Bye, 1 message deleted"
    # Message 1 is already gone: b's UPDATE removes what is left to remove.
    assert b.quit() == b"+OK Bye, 1 message deleted"
    p = pop(node)
    assert p.stat()[0] == 2
    assert text_of(p.retr(2)[1]).endswith(message(4))
    p.quit()
    assert used_messages(node) == 2


def test_uidl_stable_across_restart(box):
    node, _ = box
    p = pop(node)
    before = p.uidl()[1]
    p.quit()
    node.stop()
    node.start()
    node.wait_leader()
    p = pop(node)
    assert p.uidl()[1] == before
    p.quit()


def test_large_message_streamed(node):
    node.add_user(USER, PW)
    # About 6 MB of lines, many starting with a dot, so that stuffing
    # happens at every possible offset of the 64 KiB reads.
    lines = [("." if i % 3 == 0 else "") + "line %07d " % i + "x" * (i % 97)
             for i in range(100000)]
    big = "From: a@b.test\r\nSubject: big\r\n\r\n" + "\r\n".join(lines) + "\r\n"
    deliver(node, USER, big)
    deliver(node, USER, message(2))
    p = pop(node)
    resp, got, _ = p.retr(1)
    assert text_of(got).endswith(big)
    # Out of the page cache, the body is read in the thread pool instead.
    for f in glob.glob(os.path.join(node.data_dir, "blobs", "*", "*")):
        fd = os.open(f, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    # A slow reader: the node must stream as the client reads, and run the
    # commands pipelined behind the RETR afterwards, in order.
    r = Raw(node)
    r.login()
    r.send("RETR 1\r\nRETR 2\r\nNOOP\r\n")
    time.sleep(1.0)
    assert r.line().startswith("+OK")
    body = r.multi()
    assert "\r\n".join(body).endswith("\r\n".join(lines))
    assert r.line().startswith("+OK")
    assert ("\r\n".join(r.multi()) + "\r\n").endswith(message(2))
    assert r.line() == "+OK"
    r.close()


def test_stalled_reader_is_dropped(node):
    """A client that stops reading in the middle of a body is logged out
    by the idle timer; the node never queued the whole message for it."""
    node.add_user(USER, PW)
    node.set_config("pop3.idle_timeout", "2")
    big = "From: a@b.test\r\nSubject: big\r\n\r\n" + ("y" * 998 + "\r\n") * 12000
    deliver(node, USER, big)
    r = Raw(node)
    assert r.login().startswith("+OK")
    r.send("RETR 1\r\n")
    wait_log(node, "reason=timeout")
    data = r.f.read()
    assert len(data) < len(big) and not data.endswith(b"\r\n.\r\n")
    r.close()
    assert used_messages(node) == 1


# --- TLS ------------------------------------------------------------------

def test_stls(box):
    node, msgs = box
    p = pop(node, login=False)
    p.stls(context=no_verify())
    assert "STLS" not in p.capa()
    p.user(USER)
    p.pass_(PW)
    assert text_of(p.retr(1)[1]).endswith(msgs[0])
    p.quit()
    # STLS once only, and only before login.
    r = Raw(node)
    assert r.login().startswith("+OK")
    assert r.cmd("STLS").startswith("-ERR")
    r.close()


def test_stls_discards_pipelined_plaintext(box):
    node, _ = box
    r = Raw(node)
    # CVE-2011-0411: "CAPA" sent with STLS in plaintext must not be read
    # as if it came over TLS.
    r.send("STLS\r\nUSER injected\r\n")
    assert r.line().startswith("+OK")
    s = no_verify().wrap_socket(r.sock)
    f = s.makefile("rb")
    s.sendall(b"NOOP\r\n")
    # NOOP before login is refused; had "USER injected" run, PASS would be
    # next, and we would see its reply first.
    assert f.readline().startswith(b"-ERR")
    s.sendall(b"PASS x\r\n")
    assert b"USER first" in f.readline()
    s.close()


def test_pop3s(box):
    node, msgs = box
    p = poplib.POP3_SSL("127.0.0.1", node.ports["pop3s"], context=no_verify(), timeout=T)
    assert p.getwelcome().startswith(b"+OK")
    assert "STLS" not in p.capa()
    p.user(USER)
    p.pass_(PW)
    assert p.stat()[0] == 3
    assert text_of(p.retr(3)[1]).endswith(msgs[2])
    p.dele(3)
    assert p.quit().startswith(b"+OK")
    assert used_messages(node) == 2


# --- SASL -----------------------------------------------------------------

def b64(b):
    return base64.b64encode(b if isinstance(b, bytes) else b.encode()).decode()


def test_auth_plain_and_login(box):
    node, _ = box
    r = Raw(node)
    assert r.cmd("AUTH") == "+OK Available mechanisms follow"
    assert r.multi() == ["SCRAM-SHA-256", "PLAIN", "LOGIN"]
    assert r.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PW))).startswith("+OK")
    assert r.cmd("STAT").startswith("+OK 3 ")
    r.close()
    # Without an initial response, and with "=" for an empty one.
    r = Raw(node)
    assert r.cmd("AUTH PLAIN") == "+ "
    assert r.cmd(b64("\0%s\0%s" % (USER, PW))).startswith("+OK")
    r.close()
    r = Raw(node)
    assert r.cmd("AUTH PLAIN =") == "+ "
    assert r.cmd("*") == "-ERR Authentication cancelled"
    # LOGIN: user and password in two rounds.
    assert r.cmd("AUTH LOGIN").startswith("+ ")
    assert r.cmd(b64(USER)).startswith("+ ")
    assert r.cmd(b64(PW)).startswith("+OK")
    r.close()


def test_auth_bad(box):
    node, _ = box
    r = Raw(node)
    assert r.cmd("AUTH CRAM-MD5") == "-ERR Unsupported authentication mechanism"
    assert r.cmd("AUTH " + "X" * 100) == "-ERR Unsupported authentication mechanism"
    assert r.cmd("AUTH PLAIN !!!notbase64").startswith("-ERR [AUTH]")
    assert r.cmd("AUTH PLAIN") == "+ "
    assert r.cmd("%%%").startswith("-ERR [AUTH]")
    # The session survives; AUTH in TRANSACTION is refused.
    assert r.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PW))).startswith("+OK")
    assert r.cmd("AUTH PLAIN").startswith("-ERR")
    assert r.cmd("NOOP") == "+OK"
    r.close()


def scram_login(r, user, pw):
    nonce = b64(os.urandom(18))
    first_bare = "n=%s,r=%s" % (user, nonce)
    chal = r.cmd("AUTH SCRAM-SHA-256 " + b64("n,," + first_bare))
    assert chal.startswith("+ "), chal
    server_first = base64.b64decode(chal[2:]).decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    assert attrs["r"].startswith(nonce)
    salted = hashlib.pbkdf2_hmac("sha256", pw.encode(), base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored = hashlib.sha256(client_key).digest()
    final_wo = "c=biws,r=" + attrs["r"]
    auth_msg = ",".join((first_bare, server_first, final_wo)).encode()
    sig = hmac.new(stored, auth_msg, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    resp = r.cmd(b64(final_wo + ",p=" + b64(proof)))
    if not resp.startswith("+ "):
        return resp, False
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    want = hmac.new(server_key, auth_msg, hashlib.sha256).digest()
    verified = base64.b64decode(resp[2:]).decode() == "v=" + b64(want)
    # RFC 5034: additional data with success comes as a challenge that an
    # empty line answers.
    return r.cmd(""), verified


def test_auth_scram(box):
    node, _ = box
    r = Raw(node)
    resp, verified = scram_login(r, USER, PW)
    assert verified and resp.startswith("+OK"), resp
    assert r.cmd("STAT").startswith("+OK 3 ")
    r.close()
    r = Raw(node)
    resp, _ = scram_login(r, USER, "wrong")
    assert resp.startswith("-ERR [AUTH]"), resp
    r.close()


# --- curl -----------------------------------------------------------------

def curl(*args, check=True):
    p = subprocess.run(["curl", "-sS", "--max-time", str(T)] + list(args),
                       capture_output=True, timeout=T + 10)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_curl(box):
    node, msgs = box
    port = node.ports["pop3"]
    auth = ["-u", "%s:%s" % (USER, PW)]
    listing = curl(*auth, "pop3://127.0.0.1:%d/" % port).stdout.decode()
    assert [l.split()[0] for l in listing.splitlines()] == ["1", "2", "3"]
    for mech in ("PLAIN", "LOGIN"):
        body = curl(*auth, "--login-options", "AUTH=" + mech,
                    "pop3://127.0.0.1:%d/2" % port).stdout.decode()
        assert body.endswith(msgs[1]), body
    uidl = curl(*auth, "-X", "UIDL", "pop3://127.0.0.1:%d/" % port).stdout.decode()
    assert len(uidl.splitlines()) == 3
    top = curl(*auth, "-X", "TOP 1 0", "pop3://127.0.0.1:%d/" % port).stdout.decode()
    assert "Subject: message 1" in top and "line one" not in top
    # STLS (--ssl-reqd) and implicit TLS.
    body = curl(*auth, "--ssl-reqd", "-k", "pop3://127.0.0.1:%d/1" % port).stdout.decode()
    assert body.endswith(msgs[0])
    body = curl(*auth, "-k", "pop3s://127.0.0.1:%d/3" % node.ports["pop3s"]).stdout.decode()
    assert body.endswith(msgs[2])
    curl(*auth, "-X", "DELE", "-I", "pop3://127.0.0.1:%d/1" % port)
    assert used_messages(node) == 2
    bad = curl("-u", "%s:nope" % USER, "pop3://127.0.0.1:%d/" % port, check=False)
    assert bad.returncode != 0


# --- bad input ------------------------------------------------------------

def test_bad_input_before_login(box):
    node, _ = box
    r = Raw(node)
    for cmd in ("STAT", "LIST", "RETR 1", "DELE 1", "UIDL", "TOP 1 1", "NOOP", "RSET"):
        assert r.cmd(cmd) == "-ERR Command not valid before authentication", cmd
    assert r.cmd("PASS x") == "-ERR USER first"
    assert r.cmd("APOP %s 0123456789abcdef0123456789abcdef" % USER) == \
        "-ERR Unknown command"
    assert r.cmd("XYZZY") == "-ERR Unknown command"
    assert r.cmd("USER") == "-ERR Wrong number of arguments for USER"
    assert r.cmd("CAPA extra").startswith("-ERR")
    assert r.cmd("USER " + "u" * 400).startswith("-ERR")
    # RFC 2449 §4: 255 octets a command line (without CRLF, tolerantly).
    assert r.cmd("USER " + "a" * 250) == "+OK Send the password"  # limit
    assert r.cmd("USER " + "a" * 251) == "-ERR Command line too long"  # limit + 1
    # A 10,000-byte line: one -ERR, and the session goes on.
    assert r.cmd("X" * 10000) == "-ERR Command line too long"
    assert r.cmd("NOOP " + "Y" * 20000) == "-ERR Command line too long"
    assert r.cmd("USER a\tb") == "-ERR Invalid characters in command"
    r.send(b"NOOP\0\r\n")
    assert r.line() == "-ERR Invalid characters in command"
    assert r.cmd("") == "-ERR Empty command"
    assert r.login().startswith("+OK")
    r.close()


def test_bad_input_after_login(box):
    node, _ = box
    r = Raw(node)
    assert r.login().startswith("+OK")
    for cmd, want in (("RETR 0", "-ERR No such message"),
                      ("RETR 99999", "-ERR No such message"),
                      ("RETR abc", "-ERR Invalid message number"),
                      ("RETR -1", "-ERR Invalid message number"),
                      ("RETR 4294967296", "-ERR Invalid message number"),
                      ("RETR", "-ERR Wrong number of arguments for RETR"),
                      ("RETR 1 2", "-ERR Wrong number of arguments for RETR"),
                      ("DELE 4", "-ERR No such message"),
                      ("LIST 0", "-ERR No such message"),
                      ("UIDL x", "-ERR Invalid message number"),
                      ("TOP 1", "-ERR Wrong number of arguments for TOP"),
                      ("TOP 1 x", "-ERR Invalid number of lines"),
                      ("TOP 9 1", "-ERR No such message"),
                      ("USER x", "-ERR Command not valid after authentication"),
                      ("PASS x", "-ERR Command not valid after authentication"),
                      ("STLS", "-ERR Command not valid after authentication"),
                      ("X" * 10000, "-ERR Command line too long"),
                      ("RETR " + "1" * 300, "-ERR Command line too long")):
        assert r.cmd(cmd) == want, cmd
    assert r.cmd("STAT").startswith("+OK 3 ")
    assert r.cmd("QUIT").startswith("+OK")
    assert r.eof()


def test_three_failed_logins_close(box):
    node, _ = box
    r = Raw(node)
    assert r.login(pw="wrong1") == "-ERR [AUTH] Authentication failed"
    assert r.cmd("AUTH PLAIN " + b64("\0%s\0wrong2" % USER)) == \
        "-ERR [AUTH] Authentication failed"
    assert r.login(pw="wrong3").startswith("-ERR [AUTH]")
    assert r.eof()
    wait_log(node, "reason=auth-failures")


def test_plaintext_refused_without_tls(box):
    node, _ = box
    node.set_config("auth.plaintext_loopback", "false")
    r = Raw(node)
    assert r.cmd("USER " + USER).startswith("-ERR [AUTH]")
    assert r.cmd("AUTH PLAIN").startswith("-ERR [AUTH]")
    assert r.cmd("CAPA") == "+OK Capability list follows"
    caps = r.multi()
    assert "USER" not in caps and "SASL SCRAM-SHA-256" in caps
    resp, verified = scram_login(r, USER, PW)
    assert verified and resp.startswith("+OK")
    r.close()
    # Over TLS, USER/PASS are fine.
    p = pop(node, login=False)
    p.stls(context=no_verify())
    p.user(USER)
    assert p.pass_(PW).startswith(b"+OK")
    p.quit()


def test_login_delay(box):
    node, _ = box
    node.set_config("pop3.login_delay", "60")
    p = pop(node)
    assert p.capa()["LOGIN-DELAY"] == ["60"]
    p.quit()
    r = Raw(node)
    assert r.login().startswith("-ERR [LOGIN-DELAY]")
    # Not a failed authentication: the session is still in AUTHORIZATION.
    assert r.cmd("CAPA").startswith("+OK")
    r.close()
    node.set_config("pop3.login_delay", "0")
    pop(node).quit()


def test_idle_timeout(box):
    node, _ = box
    node.set_config("pop3.idle_timeout", "2")
    r = Raw(node)
    assert r.login().startswith("+OK")
    r.cmd("DELE 1")
    t0 = time.time()
    assert r.line().startswith("-ERR Autologout")
    assert r.eof()
    assert 1.5 < time.time() - t0 < 10
    assert used_messages(node) == 3  # no UPDATE after an autologout


def test_pipelining(box):
    node, msgs = box
    r = Raw(node)
    r.send("CAPA\r\nUSER %s\r\nPASS %s\r\nSTAT\r\nLIST\r\nRETR 1\r\nTOP 2 0\r\nUIDL 3\r\n"
           "DELE 3\r\nBOGUS\r\nNOOP\r\nQUIT\r\n" % (USER, PW))
    assert r.line().startswith("+OK") and "PIPELINING" in r.multi()
    assert r.line().startswith("+OK")
    assert r.line().startswith("+OK Logged in, 3 messages")
    assert r.line().startswith("+OK 3 ")
    assert r.line().startswith("+OK 3 messages") and len(r.multi()) == 3
    assert r.line().startswith("+OK")
    assert "\r\n".join(r.multi()).endswith(msgs[0].rstrip("\r\n"))
    assert r.line().startswith("+OK Top of message 2")
    assert r.multi()[-1] == ""
    assert r.line().startswith("+OK 3 ")
    assert r.line() == "+OK Message 3 deleted"
    assert r.line() == "-ERR Unknown command"
    assert r.line() == "+OK"
    assert r.line() == "+OK Bye, 1 message deleted"
    assert r.eof()


def test_body_not_on_this_node(box):
    """A body the node does not hold (yet): -ERR [SYS/TEMP], the session
    goes on."""
    node, _ = box
    files = maildir_files(node)
    ino = os.stat(files[0]).st_ino
    blobs = [f for f in glob.glob(os.path.join(node.data_dir, "blobs", "*", "*"))
             if os.stat(f).st_ino == ino and "/staged/" not in f]
    assert len(blobs) == 1
    os.rename(blobs[0], blobs[0] + ".away")
    try:
        r = Raw(node)
        assert r.login().startswith("+OK")
        assert r.cmd("RETR 1").startswith("-ERR [SYS/TEMP]")
        assert r.cmd("TOP 1 0").startswith("-ERR [SYS/TEMP]")
        assert r.cmd("RETR 2").startswith("+OK")
        r.multi()
        r.close()
    finally:
        os.rename(blobs[0] + ".away", blobs[0])


def test_metrics_and_log(box):
    node, _ = box
    p = pop(node)
    p.retr(1)
    p.dele(2)
    p.quit()
    with urllib.request.urlopen("http://%s/metrics" % node.addr("http")) as resp:
        text = resp.read().decode()
    assert 'mailnode_commands_total{proto="pop3",command="RETR"} 1' in text
    assert 'mailnode_connections_total{proto="pop3"}' in text
    assert 'mailnode_auth_total{proto="pop3",result="ok"}' in text
    wait_log(node, "retrieved=1 deleted=1 ")
    assert ("event=session-end user=%s" % USER) in node.log()


# --- in a cluster -----------------------------------------------------------

def test_cluster_uidl_everywhere_and_update_without_quorum(cluster):
    """UIDLs agree on every node; an UPDATE that cannot be committed is
    answered -ERR [SYS/TEMP], and no message that was not deleted is lost."""
    import signal
    lead = cluster.leader()
    lead.add_user(USER, PW)
    for i in (1, 2, 3):
        deliver(lead, USER, message(i))
    uidls = []
    for n in cluster.nodes:
        deadline = time.time() + T
        while True:  # followers apply a moment later
            p = pop(n)
            if p.stat()[0] == 3 or time.time() > deadline:
                break
            p.quit()
            time.sleep(0.1)
        uidls.append(p.uidl()[1])
        p.quit()
    assert uidls[0] == uidls[1] == uidls[2]

    follower = [n for n in cluster.nodes if n is not lead][0]
    others = [n for n in cluster.nodes if n is not follower]
    p = pop(follower)
    p.dele(1)
    for n in others:
        n.proc.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(poplib.error_proto, match=r"SYS/TEMP"):
            p.quit()
    finally:
        for n in others:
            n.proc.send_signal(signal.SIGCONT)
    for n in cluster.nodes:
        n.wait_healthy(30)
    # Messages 2 and 3 were never deleted: still there, with their UIDLs.
    deadline = time.time() + T
    while True:
        p = pop(follower)
        remaining = p.uidl()[1]
        p.quit()
        ids = [l.split()[1] for l in remaining]
        if [l.split()[1] for l in uidls[0]][1:] == ids[-2:] or time.time() > deadline:
            break
        time.sleep(0.2)
    assert ids[-2:] == [l.split()[1] for l in uidls[0]][1:]
