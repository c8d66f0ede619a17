"""IMAP mailbox commands end to end: CREATE (with CREATE-SPECIAL-USE),
DELETE, RENAME (hierarchies and INBOX), SUBSCRIBE/UNSUBSCRIBE, LIST and
LSUB with wildcards and references, CHILDREN, \\Noselect parents,
SPECIAL-USE and LIST-EXTENDED options, XLIST, modified UTF-7 names and
the names that must be refused."""
import imaplib
import re
import socket

import pytest

import conftest

T = 20
imaplib.Commands.setdefault("XLIST", ("AUTH", "SELECTED"))


def user(node):
    addr = conftest.unique_user(node, "mbox")
    c = imaplib.IMAP4("127.0.0.1", node.ports["imap"], timeout=T)
    c.login(addr, "pw")
    return c


def parse_list(data):
    """[(attrs, name)] from imaplib LIST data."""
    out = []
    for d in data:
        if d is None:
            continue
        if isinstance(d, tuple):  # name sent as a literal
            m = re.match(rb'\(([^)]*)\) (NIL|"[^"]*") \{\d+\}', d[0])
            out.append((set(m.group(1).decode().split()), d[1].decode()))
            continue
        m = re.match(rb'\(([^)]*)\) (NIL|"(?:[^"\\]|\\.)*") (.*)$', d)
        assert m, d
        name = m.group(3).decode()
        if name.startswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out.append((set(m.group(1).decode().split()), name))
    return out


def names(c, ref="", pat="*", cmd="LIST"):
    typ, data = c._simple_command(cmd, '"%s"' % ref, '"%s"' % pat)
    assert typ == "OK", (typ, data)
    typ, data = c._untagged_response(typ, data, cmd)
    return parse_list(data)


class Raw:
    def __init__(self, node):
        self.s = socket.create_connection(("127.0.0.1", node.ports["imap"]), timeout=T)
        self.buf = b""
        self.line()

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def cmd(self, tag, text):
        self.s.sendall(("%s %s\r\n" % (tag, text)).encode())
        out = []
        while True:
            l = self.line()
            out.append(l)
            if l.startswith(tag + " "):
                return out


# --- defaults and LIST ----------------------------------------------------------

def test_default_mailboxes_and_special_use(inode):
    c = user(inode)
    got = dict((n, a) for a, n in names(c))
    assert set(got) == {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"}
    assert "\\Sent" in got["Sent"] and "\\Drafts" in got["Drafts"]
    assert "\\Trash" in got["Trash"] and "\\Junk" in got["Junk"]
    assert "\\Archive" in got["Archive"]
    assert all("\\HasNoChildren" in a for a in got.values())
    typ, data = c.lsub()
    assert sorted(n for _, n in parse_list(data)) == sorted(got)
    # LIST (SPECIAL-USE) selection and the RETURN option.
    typ, data = c._simple_command("LIST", "(SPECIAL-USE)", '""', '"*"', "RETURN", "(SPECIAL-USE)")
    typ, data = c._untagged_response(typ, data, "LIST")
    assert sorted(n for _, n in parse_list(data)) == ["Archive", "Drafts", "Junk", "Sent", "Trash"]
    # An empty pattern gives the delimiter.
    typ, data = c.list('""', '""')
    assert data == [b'(\\Noselect) "." ""']
    c.logout()


def test_xlist(inode):
    c = user(inode)
    typ, data = c._simple_command("XLIST", '""', '"*"')
    assert typ == "OK"
    typ, data = c._untagged_response(typ, data, "XLIST")
    got = dict((n, a) for a, n in parse_list(data))
    assert "\\Inbox" in got["INBOX"]
    assert "\\Spam" in got["Junk"] and "\\Sent" in got["Sent"] and "\\Trash" in got["Trash"]
    c.logout()


def test_create_hierarchy_children_and_wildcards(inode):
    c = user(inode)
    assert c.create("Work.Projects.2026")[0] == "OK"
    assert c.create("Work.Notes.")[0] == "OK"  # trailing separator: intent only
    got = dict((n, a) for a, n in names(c))
    assert "\\HasChildren" in got["Work"] and "\\HasChildren" in got["Work.Projects"]
    assert "\\HasNoChildren" in got["Work.Projects.2026"] and "Work.Notes" in got
    # "%" stops at the separator; references are prefixes.
    assert sorted(n for _, n in names(c, pat="Work.%")) == ["Work.Notes", "Work.Projects"]
    assert sorted(n for _, n in names(c, ref="Work.", pat="%")) == ["Work.Notes", "Work.Projects"]
    assert sorted(n for _, n in names(c, pat="W*6")) == ["Work.Projects.2026"]
    assert [n for _, n in names(c, pat="inbox")] == ["INBOX"]
    assert names(c, pat="Nothing*") == []
    # Exists already.
    typ, data = c.create("Work")
    assert typ == "NO" and b"[ALREADYEXISTS]" in data[0]
    typ, data = c.create("inbox")
    assert typ == "NO"
    c.logout()


def test_create_special_use(inode):
    c = user(inode)
    typ, data = c._simple_command("CREATE", "Old-Stuff", "(USE (\\Archive))")
    assert typ == "OK", data
    got = dict((n, a) for a, n in names(c))
    assert "\\Archive" in got["Old-Stuff"]
    typ, data = c._simple_command("CREATE", "Weird", "(USE (\\Bogus))")
    assert typ == "NO" and b"[USEATTR]" in data[0]
    c.logout()


def test_invalid_names_refused(inode):
    c = user(inode)
    for bad in ('"a..b"', '"a/b"', '".hidden"', '"x*y"', '"x%y"', '"&Jjo"', '"&AGEAYgBj-"',
                '"tab\there"'):
        typ, data = c._simple_command("CREATE", bad)
        assert typ == "NO", (bad, typ, data)
    assert c.noop()[0] == "OK"
    c.logout()


def test_mutf7_names(inode):
    c = user(inode)
    # "Entwürfe" and a Japanese name, as modified UTF-7 on the wire.
    assert c.create("Entw&APw-rfe")[0] == "OK"
    assert c.create("&ZeVnLIqe-")[0] == "OK"
    got = [n for _, n in names(c)]
    assert "Entw&APw-rfe" in got and "&ZeVnLIqe-" in got
    assert c.select("Entw&APw-rfe")[0] == "OK"
    assert c.append("&ZeVnLIqe-", None, None, b"Subject: x\r\n\r\ny\r\n")[0] == "OK"
    typ, data = c.status("&ZeVnLIqe-", "(MESSAGES)")
    assert data == [b'"&ZeVnLIqe-" (MESSAGES 1)']
    c.logout()


# --- DELETE and RENAME ------------------------------------------------------

def test_delete_leaves_children_as_noselect(inode):
    c = user(inode)
    c.create("A.B.C")
    assert c.delete("A.B")[0] == "OK"
    got = dict((n, a) for a, n in names(c, pat="A*"))
    assert "\\Noselect" in got["A.B"] and "\\HasChildren" in got["A.B"]
    assert "A.B.C" in got
    # A name that only exists as a parent cannot be deleted or selected.
    typ, data = c.delete("A.B")
    assert typ == "NO"
    assert c.select("A.B")[0] == "NO"
    typ, data = c.delete("INBOX")
    assert typ == "NO"
    typ, data = c.delete("Nope")
    assert typ == "NO" and b"[NONEXISTENT]" in data[0]
    c.logout()


def test_delete_selected_mailbox(inode):
    c = user(inode)
    c.create("Tmp")
    c.select("Tmp")
    typ, data = c.delete("Tmp")
    assert typ == "OK"
    assert c.untagged_responses.get("OK", [None])[-1] is not None
    # The session left the selected state.
    with pytest.raises(imaplib.IMAP4.error):
        c._simple_command("FETCH", "1", "FLAGS")


def test_rename_hierarchy(inode):
    c = user(inode)
    c.create("Old.Child.Grand")
    c.subscribe("Old.Child")
    c.append("Old.Child", None, None, b"Subject: kept\r\n\r\nbody\r\n")
    assert c.rename("Old", "New.Place")[0] == "OK"
    got = [n for _, n in names(c)]
    assert "New.Place" in got and "New.Place.Child" in got and "New.Place.Child.Grand" in got
    assert not any(n.startswith("Old") for n in got)
    subs = [n for _, n in names(c, cmd="LSUB")]
    assert "New.Place.Child" in subs
    c.select("New.Place.Child")
    typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"Subject: kept" in data[0][1]
    typ, data = c.rename("New.Place", "New.Place.Child.Inside")
    assert typ == "NO"
    typ, data = c.rename("Missing", "Other")
    assert typ == "NO" and b"[NONEXISTENT]" in data[0]
    typ, data = c.rename("Sent", "Drafts")
    assert typ == "NO" and b"[ALREADYEXISTS]" in data[0]
    c.logout()


def test_rename_inbox(inode):
    c = user(inode)
    for i in range(2):
        c.append("INBOX", None, None, ("Subject: %d\r\n\r\nx\r\n" % i).encode())
    assert c.rename("INBOX", "Saved.Inbox")[0] == "OK"
    assert c.select("INBOX")[1] == [b"0"]
    assert c.select("Saved.Inbox")[1] == [b"2"]
    c.logout()


# --- subscriptions ----------------------------------------------------------

def test_subscribe_lsub(inode):
    c = user(inode)
    c.create("Lists.Golang")
    c.create("Lists.Rust")
    assert c.subscribe("Lists.Rust")[0] == "OK"
    typ, data = c.subscribe("Nonexistent")
    assert typ == "NO"
    got = dict((n, a) for a, n in names(c, pat="Lists.*", cmd="LSUB"))
    assert list(got) == ["Lists.Rust"]
    # "%": the unsubscribed parent of a subscribed name is \Noselect.
    got = dict((n, a) for a, n in names(c, pat="%", cmd="LSUB"))
    assert "\\Noselect" in got["Lists"]
    # LIST (SUBSCRIBED) and RETURN (SUBSCRIBED).
    typ, data = c._simple_command("LIST", "(SUBSCRIBED)", '""', '"Lists*"')
    typ, data = c._untagged_response(typ, data, "LIST")
    got = dict((n, a) for a, n in parse_list(data))
    assert list(got) == ["Lists.Rust"] and "\\Subscribed" in got["Lists.Rust"]
    typ, data = c._simple_command("LIST", "(SUBSCRIBED RECURSIVEMATCH)", '""', '"%"')
    typ, data = c._untagged_response(typ, data, "LIST")
    assert any(b'"Lists" ("CHILDINFO" ("SUBSCRIBED"))' in d for d in data), data
    typ, data = c._simple_command("LIST", '""', '"Lists*"', "RETURN", "(SUBSCRIBED CHILDREN)")
    typ, data = c._untagged_response(typ, data, "LIST")
    got = dict((n, a) for a, n in parse_list(data))
    assert "\\Subscribed" in got["Lists.Rust"] and "\\Subscribed" not in got["Lists.Golang"]
    assert c.unsubscribe("Lists.Rust")[0] == "OK"
    assert c.unsubscribe("Lists.Rust")[0] == "NO"
    with pytest.raises(imaplib.IMAP4.error, match="Unknown LIST selection option"):
        c._simple_command("LIST", "(BOGUS)", '""', '"*"')
    c.logout()
