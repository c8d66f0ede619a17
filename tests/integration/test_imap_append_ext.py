"""APPEND's extensions end to end: MULTIAPPEND (RFC 3502: several messages
in one APPEND, appended atomically, APPENDUID with a UID set; a second
message over the size limit or over quota leaves nothing appended),
CATENATE (RFC 4469: TEXT literals and URL parts, sections and partial
ranges, URLs only; [BADURL] for another user's mailbox, an unknown UID, a
changed UIDVALIDITY, a section that names nothing; no "+" is sent for a
literal after a bad URL), and APPEND of binary data as literal8 (RFC 3516
§4.4)."""
import re

import conftest
from imap_raw import Raw, code, fetches, uidset


def new_user(node, **kw):
    addr = conftest.unique_user(node, "append", **kw)
    return addr


def session(node, addr):
    r = Raw(node)
    r.login(addr)
    r.user = addr
    return r


def msg(i, extra=""):
    return ("From: a@example.com\r\nSubject: m%d\r\n\r\nbody %d%s\r\n" % (i, i, extra)).encode()


def send_multi(r, mailbox, parts, tail=b""):
    """APPEND with several {n+} messages; parts: (prefix, bytes)."""
    tag = r.tag()
    data = ("%s APPEND %s" % (tag, mailbox)).encode()
    for prefix, body in parts:
        data += b" " + prefix.encode() + (b" " if prefix else b"") + \
            b"{%d+}\r\n" % len(body) + body
    r.send(data + tail + b"\r\n")
    return r.until(tag)


def count(r, mailbox="INBOX"):
    st = r.ok("STATUS %s (MESSAGES)" % mailbox)
    return int(re.search(r"MESSAGES (\d+)", st[-1]).group(1))


def uidvalidity(r, mailbox="INBOX"):
    st = r.ok("STATUS %s (UIDVALIDITY)" % mailbox)
    return int(re.search(r"UIDVALIDITY (\d+)", st[-1]).group(1))


def test_capabilities(inode):
    r = session(inode, new_user(inode))
    caps = [l for l in r.ok("CAPABILITY") if l.startswith("* CAPABILITY")][0].split()
    for c in ("MULTIAPPEND", "CATENATE", "BINARY"):
        assert c in caps
    r.close()


def test_multiappend(inode):
    r = session(inode, new_user(inode))
    _, tagged = send_multi(r, "INBOX", [("(\\Seen)", msg(1)),
                                         ('"14-Jul-2020 10:00:00 +0200"', msg(2)),
                                         ("(\\Flagged $Work) \"01-Jan-2021 00:00:00 +0000\"",
                                          msg(3))])
    assert tagged.split()[1] == "OK", tagged
    appenduid = code(tagged, "APPENDUID").split()
    assert int(appenduid[0]) == uidvalidity(r)
    uids = uidset(appenduid[1])
    assert len(uids) == 3 and uids == sorted(uids)
    r.ok("SELECT INBOX")
    f = fetches(r.ok("UID FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    assert len(f) == 3
    assert "\\Seen" in f[1] and "m1" in f[1]
    assert "14-Jul-2020 08:00:00 +0000" in f[2]
    assert "\\Flagged" in f[3] and "$Work" in f[3] and "01-Jan-2021" in f[3]
    r.close()


def test_multiappend_synchronising_literals(inode):
    r = session(inode, new_user(inode))
    tag = r.tag()
    a, b = msg(1), msg(2)
    r.send("%s APPEND INBOX {%d}\r\n" % (tag, len(a)))
    assert r.line().startswith("+")
    r.send(a + b" (\\Draft) {%d}\r\n" % len(b))
    assert r.line().startswith("+")
    r.send(b + b"\r\n")
    _, tagged = r.until(tag)
    assert tagged.startswith(tag + " OK [APPENDUID "), tagged
    assert count(r) == 2
    r.close()


def test_second_message_too_big_appends_nothing(inode):
    r = session(inode, new_user(inode))
    inode.set_config("limits.message_size", 2000)
    try:
        tag = r.tag()
        small, big = msg(1), msg(2, "x" * 3000)
        r.send("%s APPEND INBOX {%d}\r\n" % (tag, len(small)))
        assert r.line().startswith("+")
        # the second literal is refused at its header: no "+" for it
        r.send(small + b" {%d}\r\n" % len(big))
        line = r.line()
        assert line.startswith(tag + " NO [TOOBIG]"), line
        assert count(r) == 0
        # non-synchronising: the data is skipped, then the connection goes on
        _, tagged = send_multi(r, "INBOX", [("", small), ("", big), ("", small)])
        assert tagged.split()[1] == "NO" and code(tagged, "TOOBIG") == "", tagged
        assert r.ok("NOOP") is not None
        assert count(r) == 0
    finally:
        inode.set_config("limits.message_size", 50 * 1024 * 1024)
    r.close()


def test_multiappend_over_quota_appends_nothing(inode):
    addr = new_user(inode, quota_messages=2)
    r = session(inode, addr)
    _, tagged = send_multi(r, "INBOX", [("", msg(1)), ("", msg(2)), ("", msg(3))])
    assert tagged.split()[1] == "NO" and code(tagged, "OVERQUOTA") == "", tagged
    assert count(r) == 0
    _, tagged = send_multi(r, "INBOX", [("", msg(1)), ("", msg(2))])
    assert tagged.split()[1] == "OK", tagged
    assert count(r) == 2
    r.close()


def test_multiappend_missing_mailbox(inode):
    r = session(inode, new_user(inode))
    _, tagged = send_multi(r, "Nowhere", [("", msg(1)), ("", msg(2))])
    assert tagged.split()[1] == "NO" and code(tagged, "TRYCREATE") == "", tagged
    r.close()


def test_literal8_append(inode):
    r = session(inode, new_user(inode))
    data = b"Subject: bin\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\x02\xff\r\n"
    tag = r.tag()
    r.send(b"%s APPEND INBOX ~{%d+}\r\n" % (tag.encode(), len(data)) + data + b"\r\n")
    _, tagged = r.until(tag)
    assert tagged.split()[1] == "OK", tagged
    # a plain literal may not carry NUL
    _, tagged = r.literal_cmd("APPEND INBOX", data)
    assert tagged.split()[1] == "BAD", tagged
    r.ok("SELECT INBOX")
    tag = r.tag()
    r.send("%s FETCH 1 BINARY.PEEK[1]\r\n" % tag)
    head = r.line()
    assert head.endswith("~{6}"), head
    while len(r.buf) < 6:
        r._fill()
    assert r.buf[:6] == b"\x00\x01\x02\xff\r\n"
    r.close()


def cat(r, parts, mailbox="INBOX", opts=""):
    """APPEND mailbox [opts] CATENATE (parts); parts: ("TEXT", bytes) or
    ("URL", str). Non-synchronising literals."""
    tag = r.tag()
    data = ("%s APPEND %s %sCATENATE (" % (tag, mailbox, opts + " " if opts else "")).encode()
    for i, (kind, v) in enumerate(parts):
        data += b" " if i else b""
        if kind == "TEXT":
            data += b"TEXT {%d+}\r\n" % len(v) + v
        else:
            data += ('URL "%s"' % v).encode()
    r.send(data + b")\r\n")
    return r.until(tag)


def test_catenate(inode):
    r = session(inode, new_user(inode))
    _, t = r.literal_cmd("APPEND INBOX", (
        "From: a@example.com\r\nSubject: source\r\nContent-Type: multipart/mixed; "
        "boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\npart one\r\n--b\r\n"
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "AAECAw==\r\n--b--\r\n").encode())
    uid = int(code(t, "APPENDUID").split()[1])
    v = uidvalidity(r)
    _, t = cat(r, [("TEXT", b"From: me@example.com\r\nSubject: forward\r\n\r\nSee below:\r\n"),
                   ("URL", "/INBOX;UIDVALIDITY=%d/;UID=%d/;SECTION=1" % (v, uid)),
                   ("TEXT", b"\r\n--\r\n"),
                   ("URL", "/INBOX/;UID=%d/;SECTION=HEADER.FIELDS%%20(SUBJECT)" % uid),
                   ("URL", "/INBOX/;UID=%d/;SECTION=2/;PARTIAL=2.4" % uid)],
               opts="(\\Draft)")
    assert t.split()[1] == "OK", t
    new = int(code(t, "APPENDUID").split()[1])
    r.ok("SELECT INBOX")
    f = fetches(r.ok("UID FETCH %d (FLAGS BODY.PEEK[])" % new))
    body = list(f.values())[0]
    assert "\\Draft" in body
    assert ("See below:\r\npart one\r\n--\r\nSubject: source\r\n\r\nECAw" in body), body
    # URLs only: a copy of the whole message, absolute URL of the user
    _, t = cat(r, [("URL", "imap://%s@localhost/INBOX/;UID=%d" % (r_user(r), uid))])
    assert t.split()[1] == "OK", t
    copy = int(code(t, "APPENDUID").split()[1])
    a = fetches(r.ok("UID FETCH %d BODY.PEEK[]" % uid))
    b = fetches(r.ok("UID FETCH %d BODY.PEEK[]" % copy))
    assert list(a.values())[0].split(" ", 2)[2] == list(b.values())[0].split(" ", 2)[2]
    # MULTIAPPEND with a CATENATE in the middle
    tag = r.tag()
    r.send(b"%s APPEND INBOX {%d+}\r\n%s CATENATE (URL \"/INBOX/;UID=%d/;SECTION=HEADER\" "
           b"TEXT {4+}\r\nend\n) {%d+}\r\n%s\r\n" % (tag.encode(), len(msg(1)), msg(1), uid,
                                                     len(msg(2)), msg(2)))
    _, t = r.until(tag)
    assert t.split()[1] == "OK" and len(uidset(code(t, "APPENDUID").split()[1])) == 3, t
    r.close()


def r_user(r):
    return r.user.replace("@", "%40")


def test_catenate_badurl(inode):
    other = new_user(inode)
    o = session(inode, other)
    _, t = o.literal_cmd("APPEND INBOX", msg(9))
    ouid = int(code(t, "APPENDUID").split()[1])
    o.close()
    addr = new_user(inode)
    r = session(inode, addr)
    _, t = r.literal_cmd("APPEND INBOX", msg(1))
    uid = int(code(t, "APPENDUID").split()[1])
    v = uidvalidity(r)
    bad = [
        "imap://%s@localhost/INBOX/;UID=%d" % (other.replace("@", "%40"), ouid),
        "/INBOX/;UID=%d" % (uid + 100),
        "/INBOX;UIDVALIDITY=%d/;UID=%d" % (v + 1, uid),
        "/Nowhere/;UID=1",
        "/INBOX/;UID=%d/;SECTION=7" % uid,
        "/INBOX/;UID=0",
        "http://example.com/",
    ]
    for url in bad:
        _, t = cat(r, [("TEXT", b"Subject: x\r\n\r\n"), ("URL", url)])
        assert t.split()[1] == "NO", (url, t)
        assert code(t, "BADURL") == url, (url, t)
    assert count(r) == 1
    # a bad URL before a synchronising TEXT literal: no "+" for it
    tag = r.tag()
    r.send('%s APPEND INBOX CATENATE (URL "/INBOX/;UID=%d" TEXT {5}\r\n' % (tag, uid + 100))
    line = r.line()
    assert line.startswith(tag + " NO [BADURL "), line
    assert count(r) == 1
    # inside a MULTIAPPEND: nothing of it is appended
    tag = r.tag()
    r.send(b"%s APPEND INBOX {%d+}\r\n%s CATENATE (URL \"/INBOX/;UID=%d\")\r\n" %
           (tag.encode(), len(msg(2)), msg(2), uid + 100))
    _, t = r.until(tag)
    assert t.split()[1] == "NO" and code(t, "BADURL") is not None, t
    assert count(r) == 1
    r.close()


def test_catenate_syntax(inode):
    r = session(inode, new_user(inode))
    for bad in ['CATENATE ()', 'CATENATE (TEXT "x")', 'CATENATE (URL)',
                'CATENATE (FOO "x")', 'CATENATE']:
        st, _, t = r.status("APPEND INBOX " + bad)
        assert st == "BAD", (bad, t)
    # a literal where none belongs
    tag = r.tag()
    r.send('%s APPEND INBOX (\\Seen {3+}\r\nabc) {3+}\r\nabc\r\n' % tag)
    _, t = r.until(tag)
    assert t.split()[1] == "BAD", t
    assert count(r) == 0
    r.ok("NOOP")
    r.close()


def test_catenate_too_big(inode):
    r = session(inode, new_user(inode))
    _, t = r.literal_cmd("APPEND INBOX", msg(1, "y" * 1500))
    uid = int(code(t, "APPENDUID").split()[1])
    inode.set_config("limits.message_size", 2000)
    try:
        _, t = cat(r, [("URL", "/INBOX/;UID=%d" % uid), ("URL", "/INBOX/;UID=%d" % uid)])
        assert t.split()[1] == "NO" and code(t, "TOOBIG") == "", t
    finally:
        inode.set_config("limits.message_size", 50 * 1024 * 1024)
    assert count(r) == 1
    r.close()
