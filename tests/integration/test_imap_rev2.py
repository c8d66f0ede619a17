"""IMAP4rev2 (RFC 9051) end to end: advertised beside IMAP4rev1, chosen
with ENABLE IMAP4rev2, after which (Appendix E): no \\Recent in FLAGS, no
RECENT response and no UNSEEN code in SELECT, which sends an untagged LIST
instead (§6.3.2); SEARCH answers ESEARCH (§6.4.4); NEW, OLD and RECENT are
no search keys, RECENT no STATUS item, DELETED is one (§6.3.11); every
unsolicited FETCH carries UID (§7.5.2); a new message is EXISTS without
RECENT; mailbox names are UTF-8 (§5.1); LIST is the extended one (a name
that is no mailbox is \\NonExistent, §6.3.9); CLOSED marks a reselect;
BINARY works. A session that did not enable it keeps IMAP4rev1."""
import re

import conftest
from imap_raw import Raw, fetches


def new_user(node, messages=0):
    addr = conftest.unique_user(node, "rev2")
    if messages:
        r = Raw(node)
        r.login(addr)
        for i in range(messages):
            r.literal_cmd("APPEND INBOX", "Subject: m%d\r\n\r\nbody %d\r\n" % (i, i))
        r.close()
    return addr


def session(node, addr, rev2=True):
    r = Raw(node)
    r.login(addr)
    if rev2:
        assert r.ok("ENABLE IMAP4rev2") == ["* ENABLED IMAP4rev2"]
    return r


def test_capability(inode):
    r = Raw(inode)
    assert "IMAP4rev1 IMAP4rev2 " in r.greeting
    r.login(new_user(inode))
    caps = [l for l in r.ok("CAPABILITY") if l.startswith("* CAPABILITY")][0].split()
    assert "IMAP4rev1" in caps and "IMAP4rev2" in caps
    r.close()


def test_select(inode):
    addr = new_user(inode, messages=3)
    r = session(inode, addr)
    lines = r.ok("SELECT INBOX")
    assert "* 3 EXISTS" in lines
    assert not any(re.match(r"\* \d+ RECENT", l) for l in lines), lines
    assert not any("[UNSEEN" in l for l in lines), lines
    assert '* LIST () "." "INBOX"' in lines, lines
    lines = r.ok("EXAMINE Sent")
    assert lines[0] == "* OK [CLOSED] Previous mailbox closed", lines
    assert '* LIST (\\Sent) "." "Sent"' in lines, lines
    # IMAP4rev1 session: RECENT and UNSEEN as before
    o = session(inode, addr, rev2=False)
    lines = o.ok("EXAMINE INBOX")
    assert any(re.match(r"\* \d+ RECENT", l) for l in lines), lines
    assert not any(l.startswith("* LIST") for l in lines)
    r.close()
    o.close()


def test_no_recent(inode):
    addr = new_user(inode, messages=2)
    r = session(inode, addr)
    r.ok("SELECT INBOX")
    f = fetches(r.ok("FETCH 1:* FLAGS"))
    assert all("\\Recent" not in v for v in f.values()), f
    for key in ("RECENT", "NEW", "OLD"):
        st, _, t = r.status("SEARCH " + key)
        assert st == "BAD", (key, t)
    st, _, t = r.status("STATUS INBOX (RECENT)")
    assert st == "BAD", t
    r.ok("STORE 1 +FLAGS (\\Deleted)")
    assert r.ok("STATUS Sent (DELETED)") == ['* STATUS "Sent" (DELETED 0)']
    r.ok("UNSELECT")
    assert r.ok("STATUS INBOX (DELETED MESSAGES)") == [
        '* STATUS "INBOX" (DELETED 1 MESSAGES 2)']
    # a new message: EXISTS, no RECENT
    r.ok("SELECT INBOX")
    w = session(inode, addr, rev2=False)
    w.literal_cmd("APPEND INBOX", "Subject: new\r\n\r\nnew\r\n")
    lines = r.ok("NOOP")
    assert "* 3 EXISTS" in lines and not any("RECENT" in l for l in lines), lines
    w.close()
    r.close()


def test_esearch(inode):
    addr = new_user(inode, messages=4)
    r = session(inode, addr)
    r.ok("SELECT INBOX")
    tag = r.tag()
    u, t = r.cmd("SEARCH ALL", tag=tag)
    assert u == ['* ESEARCH (TAG "%s") ALL 1:4' % tag], u
    tag = r.tag()
    u, t = r.cmd("UID SEARCH 2:3", tag=tag)
    assert re.match(r'\* ESEARCH \(TAG "%s"\) UID ALL \d+:\d+$' % tag, u[0]), u
    tag = r.tag()
    u, t = r.cmd("SEARCH SUBJECT nothing-like-this", tag=tag)
    assert u == ['* ESEARCH (TAG "%s")' % tag], u
    tag = r.tag()
    u, t = r.cmd("SEARCH RETURN (MIN COUNT) ALL", tag=tag)
    assert u == ['* ESEARCH (TAG "%s") MIN 1 COUNT 4' % tag], u
    # "$": the saved result
    r.ok("SEARCH RETURN (SAVE) 2:3")
    tag = r.tag()
    u, t = r.cmd("SEARCH $", tag=tag)
    assert u == ['* ESEARCH (TAG "%s") ALL 2:3' % tag], u
    # IMAP4rev1 keeps SEARCH
    o = session(inode, addr, rev2=False)
    o.ok("SELECT INBOX")
    assert o.ok("SEARCH ALL") == ["* SEARCH 1 2 3 4"]
    r.close()
    o.close()


def test_unsolicited_fetch_has_uid(inode):
    addr = new_user(inode, messages=2)
    r = session(inode, addr)
    r.ok("SELECT INBOX")
    o = session(inode, addr, rev2=False)
    o.ok("SELECT INBOX")
    o.ok("STORE 2 +FLAGS (\\Flagged)")
    lines = r.ok("NOOP")
    f = [l for l in lines if " FETCH " in l]
    assert f and all(re.search(r"\bUID \d+", l) for l in f), lines
    assert all("\\Recent" not in l for l in f)
    r.close()
    o.close()


def test_utf8_names_and_list(inode):
    addr = new_user(inode)
    r = session(inode, addr)
    tag = r.tag()
    r.send(('%s CREATE "Ünterordner.Kind"\r\n' % tag).encode())
    _, t = r.until(tag)
    assert t.split()[1] == "OK", t
    tag = r.tag()
    r.send(('%s LIST "" "Ü*"\r\n' % tag).encode())
    lines, t = r.until(tag)
    assert '* LIST (\\HasChildren) "." "Ünterordner"' in lines, lines
    # a name that is only a parent: \NonExistent in IMAP4rev2's LIST
    tag = r.tag()
    r.send(('%s DELETE "Ünterordner"\r\n' % tag).encode())
    _, t = r.until(tag)
    if t.split()[1] == "OK":
        tag = r.tag()
        r.send(('%s LIST "" "Ü%%"\r\n' % tag).encode())
        lines, t = r.until(tag)
        assert any("\\NonExistent" in l for l in lines), lines
    r.close()


def test_binary_is_part_of_rev2(inode):
    addr = new_user(inode)
    r = session(inode, addr)
    r.literal_cmd("APPEND INBOX", "Subject: b\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                  "aGVsbG8=\r\n")
    r.ok("EXAMINE INBOX")
    lines = r.ok("FETCH 1 BINARY.PEEK[1]")
    assert lines == ["* 1 FETCH (BINARY[1] {5}\r\nhello)"], lines
    r.close()
