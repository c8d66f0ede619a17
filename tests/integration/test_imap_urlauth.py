"""IMAP URLAUTH (RFC 4467) end to end: GENURLAUTH with the INTERNAL
mechanism turns a rump URL into an authorized one; URLFETCH gives its data
to whom the access identifier allows ("user+fred" to fred only,
"authuser" to any user, "submit+x" to the submission users of
imap.urlauth_submit) and NIL otherwise (a changed token, an expired URL, a
message expunged); RESETKEY of one mailbox or of all invalidates what was
made before; CATENATE takes authorized URLs to another user's mailbox;
bad input: not a rump URL, another user's URL, an unknown mechanism, a
mailbox that does not exist. The mailbox access keys go through the
replicated log and never appear in the node's log."""
import re

import pytest

import conftest
from imap_raw import Raw, code


def new_user(node):
    addr = conftest.unique_user(node, "urlauth")
    return addr


def session(node, addr):
    r = Raw(node)
    r.login(addr)
    return r


def enc(addr):
    return addr.replace("@", "%40")


def genurlauth(r, rump):
    u, t = r.cmd('GENURLAUTH "%s" INTERNAL' % rump)
    assert t.split()[1] == "OK", (rump, t)
    m = re.match(r'\* GENURLAUTH "([^"]+)"$', u[0])
    assert m, u
    full = m.group(1)
    assert full.startswith(rump + ":INTERNAL:")
    assert re.match(r"^[0-9a-f]{64}$", full.rsplit(":", 1)[1])
    return full


def urlfetch(r, *urls):
    """{url: data or None}."""
    u, t = r.cmd("URLFETCH " + " ".join('"%s"' % x for x in urls))
    assert t.split()[1] == "OK", t
    assert len(u) == 1 and u[0].startswith("* URLFETCH "), u
    out, rest = {}, u[0][len("* URLFETCH "):]
    while rest:
        m = re.match(r'"([^"]+)" (NIL|\{(\d+)\}\r\n)', rest)
        assert m, rest
        if m.group(2) == "NIL":
            out[m.group(1)] = None
            rest = rest[m.end():]
        else:
            n = int(m.group(3))
            out[m.group(1)] = rest[m.end():m.end() + n]
            rest = rest[m.end() + n:]
        rest = rest.lstrip(" ")
    return out


@pytest.fixture
def pair(inode):
    """(joe, fred, joe's session, UID of a message in joe's INBOX)."""
    joe, fred = new_user(inode), new_user(inode)
    r = session(inode, joe)
    _, t = r.literal_cmd("APPEND INBOX", b"From: joe@example.com\r\nSubject: for fred\r\n\r\n"
                         b"hello fred\r\n")
    uid = int(code(t, "APPENDUID").split()[1])
    yield joe, fred, r, uid
    r.close()


def rump(joe, uid, access, section="", extra=""):
    return "imap://%s@localhost/INBOX/;UID=%d%s%s;URLAUTH=%s" % (
        enc(joe), uid, "/;SECTION=" + section if section else "", extra, access)


def test_capability(inode):
    r = session(inode, new_user(inode))
    caps = [l for l in r.ok("CAPABILITY") if l.startswith("* CAPABILITY")][0].split()
    assert "URLAUTH" in caps
    r.close()


def test_user_access(inode, pair):
    joe, fred, r, uid = pair
    full = genurlauth(r, rump(joe, uid, "user+" + fred, "TEXT"))
    # the same rump gives the same URL while the key stays
    assert genurlauth(r, rump(joe, uid, "user+" + fred, "TEXT")) == full
    f = session(inode, fred)
    assert urlfetch(f, full) == {full: "hello fred\r\n"}
    # joe is not fred
    assert urlfetch(r, full) == {full: None}
    # a third user neither
    o = session(inode, new_user(inode))
    assert urlfetch(o, full) == {full: None}
    # a token changed in one digit
    bad = full[:-1] + ("0" if full[-1] != "0" else "1")
    assert urlfetch(f, bad, full) == {bad: None, full: "hello fred\r\n"}
    # the rump alone is no authorized URL
    assert urlfetch(f, rump(joe, uid, "user+" + fred, "TEXT")) == {
        rump(joe, uid, "user+" + fred, "TEXT"): None}
    f.close()
    o.close()


def test_authuser_partial_and_whole(inode, pair):
    joe, fred, r, uid = pair
    whole = genurlauth(r, rump(joe, uid, "authuser"))
    part = genurlauth(r, rump(joe, uid, "authuser", "HEADER.FIELDS%20(SUBJECT)"))
    cut = genurlauth(r, "imap://%s@localhost/INBOX/;UID=%d/;PARTIAL=6.4;URLAUTH=authuser" %
                     (enc(joe), uid))
    f = session(inode, fred)
    got = urlfetch(f, whole, part, cut)
    assert got[whole].startswith("From: joe@example.com") and got[whole].endswith("fred\r\n")
    assert got[part] == "Subject: for fred\r\n\r\n"
    assert got[cut] == "joe@"
    f.close()


def test_expire(inode, pair):
    joe, fred, r, uid = pair
    past = genurlauth(r, rump(joe, uid, "authuser", "TEXT", ";EXPIRE=2001-01-01T00:00:00Z"))
    future = genurlauth(r, rump(joe, uid, "authuser", "TEXT", ";EXPIRE=2999-01-01T00:00:00Z"))
    f = session(inode, fred)
    assert urlfetch(f, past, future) == {past: None, future: "hello fred\r\n"}
    f.close()


def test_submit_access(inode, pair):
    joe, fred, r, uid = pair
    full = genurlauth(r, rump(joe, uid, "submit+" + joe, "TEXT"))
    f = session(inode, fred)
    assert urlfetch(f, full) == {full: None}
    inode.set_config("imap.urlauth_submit", "someone@else.test, " + fred)
    try:
        assert urlfetch(f, full) == {full: "hello fred\r\n"}
    finally:
        inode.set_config("imap.urlauth_submit", "")
    f.close()


def test_resetkey(inode, pair):
    joe, fred, r, uid = pair
    r.ok("CREATE Other")
    r.literal_cmd("APPEND Other", b"Subject: other\r\n\r\nother\r\n")
    a = genurlauth(r, rump(joe, uid, "authuser", "TEXT"))
    b = genurlauth(r, "imap://%s@localhost/Other/;UID=1/;SECTION=TEXT;URLAUTH=authuser" %
                   enc(joe))
    f = session(inode, fred)
    assert urlfetch(f, a, b) == {a: "hello fred\r\n", b: "other\r\n"}
    r.ok("RESETKEY Other INTERNAL")
    assert urlfetch(f, a, b) == {a: "hello fred\r\n", b: None}
    # a new key: a new URL, which works
    b2 = genurlauth(r, "imap://%s@localhost/Other/;UID=1/;SECTION=TEXT;URLAUTH=authuser" %
                    enc(joe))
    assert b2 != b
    assert urlfetch(f, b2) == {b2: "other\r\n"}
    r.ok("RESETKEY")
    assert urlfetch(f, a, b2) == {a: None, b2: None}
    st, _, t = r.status("RESETKEY Nowhere")
    assert st == "NO" and code(t, "NONEXISTENT") == "", t
    st, _, t = r.status("RESETKEY INBOX FOO")
    assert st == "NO", t
    f.close()


def test_expunged_message(inode, pair):
    joe, fred, r, uid = pair
    full = genurlauth(r, rump(joe, uid, "authuser"))
    r.ok("SELECT INBOX")
    r.ok("UID STORE %d +FLAGS (\\Deleted)" % uid)
    r.ok("EXPUNGE")
    f = session(inode, fred)
    assert urlfetch(f, full) == {full: None}
    f.close()


def test_catenate_with_urlauth(inode, pair):
    joe, fred, r, uid = pair
    full = genurlauth(r, rump(joe, uid, "user+" + fred))
    f = session(inode, fred)
    tag = f.tag()
    hdr = b"Subject: fwd\r\n\r\n"
    f.send(b'%s APPEND INBOX CATENATE (TEXT {%d+}\r\n%s URL "%s")\r\n' %
           (tag.encode(), len(hdr), hdr, full.encode()))
    _, t = f.until(tag)
    assert t.split()[1] == "OK", t
    f.ok("EXAMINE INBOX")
    body = f.ok("FETCH 1 BODY.PEEK[]")[0]
    assert "Subject: fwd\r\n\r\nFrom: joe@example.com" in body, body
    # without the URLAUTH: another user's mailbox
    plain = "imap://%s@localhost/INBOX/;UID=%d" % (enc(joe), uid)
    st, _, t = f.status('APPEND INBOX CATENATE (URL "%s")' % plain)
    assert st == "NO" and code(t, "BADURL") == plain, t
    f.close()


def test_genurlauth_errors(inode, pair):
    joe, fred, r, uid = pair
    cases = [
        ("/INBOX/;UID=%d;URLAUTH=authuser" % uid, "BADURL"),  # no server and user
        ("imap://%s@localhost/INBOX/;UID=%d" % (enc(joe), uid), "BADURL"),  # no URLAUTH
        (rump(fred, uid, "authuser"), "BADURL"),  # not joe's
        ("imap://%s@localhost/Nowhere/;UID=1;URLAUTH=authuser" % enc(joe), "BADURL"),
        (rump(joe, uid, "authuser") + ":INTERNAL:" + "0" * 64, "BADURL"),  # not a rump
        (rump(joe, uid, "everyone"), "BADURL"),
    ]
    for url, c in cases:
        st, _, t = r.status('GENURLAUTH "%s" INTERNAL' % url)
        assert st == "NO" and code(t, c) is not None, (url, t)
    st, _, t = r.status('GENURLAUTH "%s" SHA1' % rump(joe, uid, "authuser"))
    assert st == "NO", t
    st, _, t = r.status('GENURLAUTH "%s"' % rump(joe, uid, "authuser"))
    assert st == "BAD", t
    st, _, t = r.status("URLFETCH")
    assert st == "BAD", t
    # several at once, one bad: nothing generated
    st, u, t = r.status('GENURLAUTH "%s" INTERNAL "%s" INTERNAL' %
                        (rump(joe, uid, "authuser"), rump(fred, uid, "authuser")))
    assert st == "NO" and not u, (u, t)


def test_urlfetch_long_urls(inode, pair):
    """Every URL is echoed in the answer: a long one (sent as a literal)
    comes back whole, one beyond the URL limit is refused before anything
    is written, and the session stays in step."""
    joe, fred, r, uid = pair
    url = "imap://%s@localhost/INBOX/;UID=%d;URLAUTH=anonymous:INTERNAL:%s" % (
        enc(joe), uid, "0" * 64)
    url += "x" * (2000 - len(url))
    untagged, tagged = r.literal_cmd("URLFETCH", url)
    assert " OK " in tagged, tagged
    assert untagged == ["* URLFETCH {2000}\r\n" + url + " NIL"], untagged
    untagged, tagged = r.literal_cmd("URLFETCH", "y" * 9000)
    assert " NO " in tagged and code(tagged, "TOOBIG") is not None, (untagged, tagged)
    assert untagged == [], untagged
    r.ok("NOOP")


def test_keys_not_logged(inode, pair):
    joe, fred, r, uid = pair
    full = genurlauth(r, rump(joe, uid, "authuser"))
    token = full.rsplit(":", 1)[1]
    with open(inode.log_path, "rb") as f:
        log = f.read()
    assert token.encode() not in log
    dump = inode.dump()
    assert "[urlauth]" in dump
