"""IMAP UTF8=ACCEPT (RFC 6855) end to end: ENABLE UTF8=ACCEPT; mailbox
names in UTF-8 on the wire after it (quoted, never modified UTF-7) in
CREATE, LIST, STATUS, SELECT, RENAME; the same mailbox in modified UTF-7 to
a session that did not enable it; SEARCH with UTF-8 strings and no
CHARSET (a CHARSET is BAD after ENABLE, §3); APPEND with the UTF8 data
extension "UTF8 (~{n})" (§4) of a message with UTF-8 headers, refused
before ENABLE and with a plain literal; UNAUTHENTICATE turns it off."""


import conftest
from imap_raw import Raw, code


def new_user(node):
    addr = conftest.unique_user(node, "utf")
    return addr


def session(node, addr, utf8=False):
    r = Raw(node)
    r.login(addr)
    if utf8:
        assert r.ok("ENABLE UTF8=ACCEPT") == ["* ENABLED UTF8=ACCEPT"]
    return r


def cmd8(r, text):
    """A command with UTF-8 text: (untagged, tagged)."""
    tag = r.tag()
    r.send(("%s %s\r\n" % (tag, text)).encode("utf-8"))
    return r.until(tag)


def ok8(r, text):
    u, t = cmd8(r, text)
    assert t.split()[1] == "OK", (text, t)
    return u


UTF8_MSG = ("From: Jörg Müller <j@example.de>\r\nTo: Zoë <z@example.fr>\r\n"
            "Subject: Grüße aus Köln\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nHerzliche Grüße\r\n").encode()


def test_capability_and_enable(inode):
    r = session(inode, new_user(inode))
    caps = [l for l in r.ok("CAPABILITY") if l.startswith("* CAPABILITY")][0].split()
    assert "UTF8=ACCEPT" in caps
    assert r.ok("ENABLE UTF8=ACCEPT CONDSTORE") == ["* ENABLED CONDSTORE UTF8=ACCEPT"]
    # ENABLE is not valid in the selected state
    r.ok("SELECT INBOX")
    st, _, t = r.status("ENABLE UTF8=ACCEPT")
    assert st == "BAD", t
    r.close()


def test_mailbox_names(inode):
    addr = new_user(inode)
    r = session(inode, addr, utf8=True)
    ok8(r, 'CREATE "Été.Réunions"')
    lines = ok8(r, 'LIST "" "*"')
    assert '* LIST (\\HasChildren) "." "Été"' in lines, lines
    assert '* LIST (\\HasNoChildren) "." "Été.Réunions"' in lines, lines
    assert not any("&" in l for l in lines)
    lines = ok8(r, 'STATUS "Été.Réunions" (MESSAGES)')
    assert lines == ['* STATUS "Été.Réunions" (MESSAGES 0)'], lines
    ok8(r, 'RENAME "Été.Réunions" "Été.Sitzungen-Übersicht"')
    ok8(r, 'SELECT "Été.Sitzungen-Übersicht"')
    # LIST patterns in UTF-8
    lines = ok8(r, 'LIST "Été." "%"')
    assert lines == ['* LIST (\\HasNoChildren) "." "Été.Sitzungen-Übersicht"'], lines
    # a session without UTF8=ACCEPT sees modified UTF-7
    o = session(inode, addr)
    lines = o.ok('LIST "" "*"')
    assert '* LIST (\\HasChildren) "." "&AMk-t&AOk-"' in lines, lines
    assert any("&AMk-t&AOk-.Sitzungen-&ANw-bersicht" in l for l in lines), lines
    o.ok('SELECT "&AMk-t&AOk-.Sitzungen-&ANw-bersicht"')
    # invalid UTF-8 is refused
    tag = r.tag()
    r.send(b'%s CREATE "bad\xff\xfename"\r\n' % tag.encode())
    _, t = r.until(tag)
    assert t.split()[1] in ("NO", "BAD"), t
    r.close()
    o.close()


def test_append_utf8_data(inode):
    addr = new_user(inode)
    plain = session(inode, addr)
    # before ENABLE: refused
    tag = plain.tag()
    plain.send(b"%s APPEND INBOX UTF8 (~{%d+}\r\n%s)\r\n" % (tag.encode(), len(UTF8_MSG),
                                                             UTF8_MSG))
    _, t = plain.until(tag)
    assert t.split()[1] == "BAD", t
    r = session(inode, addr, utf8=True)
    tag = r.tag()
    r.send(b"%s APPEND INBOX (\\Seen) UTF8 (~{%d+}\r\n%s)\r\n" % (tag.encode(), len(UTF8_MSG),
                                                                  UTF8_MSG))
    _, t = r.until(tag)
    assert t.split()[1] == "OK" and code(t, "APPENDUID"), t
    # synchronising literal8 inside UTF8, then a second message (MULTIAPPEND)
    tag = r.tag()
    r.send(b"%s APPEND INBOX UTF8 (~{%d}\r\n" % (tag.encode(), len(UTF8_MSG)))
    assert r.line().startswith("+")
    r.send(UTF8_MSG + b") {%d+}\r\n%s\r\n" % (len(UTF8_MSG), UTF8_MSG))
    _, t = r.until(tag)
    assert t.split()[1] == "OK", t
    # UTF8 takes a literal8 only
    tag = r.tag()
    r.send(b"%s APPEND INBOX UTF8 ({%d+}\r\n%s)\r\n" % (tag.encode(), len(UTF8_MSG), UTF8_MSG))
    _, t = r.until(tag)
    assert t.split()[1] == "BAD", t
    r.ok("SELECT INBOX")
    lines = ok8(r, 'FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
    assert "Subject: Grüße aus Köln" in "\n".join(lines)
    assert "\\Seen" in lines[0]
    # SEARCH: UTF-8 strings, no CHARSET
    assert ok8(r, 'SEARCH SUBJECT "grüße"') == ["* SEARCH 1 2 3"]
    assert ok8(r, 'SEARCH FROM "müller" BODY "Herzliche"') == ["* SEARCH 1 2 3"]
    u, t = cmd8(r, 'SEARCH CHARSET UTF-8 SUBJECT "grüße"')
    assert t.split()[1] == "BAD", t
    # SORT names its charset as before
    r.ok("SORT (SUBJECT) UTF-8 ALL")
    r.close()
    plain.close()


def test_unauthenticate_resets(inode):
    addr = new_user(inode)
    r = session(inode, addr, utf8=True)
    ok8(r, 'CREATE "Ärger"')
    r.ok("UNAUTHENTICATE")
    r.login(addr)
    lines = r.ok('LIST "" "&AMQ-rger"')
    assert lines == ['* LIST (\\HasNoChildren) "." "&AMQ-rger"'], lines
    r.close()
