"""LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819) end to end: several
patterns, the selection options SUBSCRIBED, REMOTE, RECURSIVEMATCH and
SPECIAL-USE, the return options SUBSCRIBED, CHILDREN, SPECIAL-USE and
STATUS, \\NonExistent and \\Subscribed, CHILDINFO, STATUS responses that
follow another session's changes, and the BAD answers for options that
are unknown, repeated or combined as the RFCs forbid."""
import re

import conftest
from imap_raw import Raw


def new_user(node):
    addr = conftest.unique_user(node, "listx")
    return addr


def session(node, addr):
    r = Raw(node)
    r.login(addr)
    return r


def parse(untagged):
    """({name: (attrs, extended data)}, {name: {item: value}}) of LIST and
    STATUS responses, in order checked by the caller."""
    lists, status = {}, {}
    for l in untagged:
        m = re.match(r'\* LIST \(([^)]*)\) "\." "([^"]*)"(?: (.*))?$', l)
        if m:
            lists[m.group(2)] = (set(m.group(1).split()), m.group(3))
            continue
        m = re.match(r'\* STATUS "([^"]*)" \((.*)\)$', l)
        if m:
            toks = re.findall(r"(\S+) (\([^)]*\)|\S+)", m.group(2))
            status[m.group(1)] = dict(toks)
    return lists, status


def test_capabilities(inode):
    r = session(inode, new_user(inode))
    caps = r.ok("CAPABILITY")[0].split()
    assert {"LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CHILDREN"} <= set(caps)
    r.close()


def test_several_patterns_and_remote(inode):
    r = session(inode, new_user(inode))
    r.ok("CREATE Work.Alpha")
    r.ok("CREATE Work.Beta.Deep")
    lists, _ = parse(r.ok('LIST "" ("INBOX" "Work.%")'))
    assert sorted(lists) == ["INBOX", "Work.Alpha", "Work.Beta"]
    assert "\\HasChildren" in lists["Work.Beta"][0]
    assert "\\HasNoChildren" in lists["Work.Alpha"][0]
    # the same name matched by two patterns comes once
    untagged = r.ok('LIST "" ("Work.*" "Work.Alpha" "*Alpha")')
    assert [l for l in untagged if l.endswith('"Work.Alpha"')] == \
        ['* LIST (\\HasNoChildren) "." "Work.Alpha"']
    # REMOTE: no remote mailboxes here, the same answer
    assert r.ok('LIST (REMOTE) "" "*"') == r.ok('LIST "" "*"')
    # the reference applies to every pattern
    lists, _ = parse(r.ok('LIST "Work." ("Alpha" "Beta.%")'))
    assert sorted(lists) == ["Work.Alpha", "Work.Beta.Deep"]
    r.close()


def test_nonexistent_and_subscribed(inode):
    r = session(inode, new_user(inode))
    r.ok("CREATE Gone")
    r.ok("SUBSCRIBE Gone")
    r.ok("DELETE Gone")  # the subscription stays (RFC 3501 §6.3.9)
    r.ok("CREATE Tree.Mid.Leaf")
    r.ok("DELETE Tree.Mid")  # a name left only as a parent
    # SUBSCRIBED: subscriptions whether or not the mailbox exists
    lists, _ = parse(r.ok('LIST (SUBSCRIBED) "" "*"'))
    assert {"\\Subscribed", "\\NonExistent"} <= lists["Gone"][0]
    assert "\\Subscribed" in lists["INBOX"][0] and "\\NonExistent" not in lists["INBOX"][0]
    assert "Tree.Mid.Leaf" not in lists
    # extended LIST: a parent that is no mailbox is \NonExistent (RFC 5258
    # §3, which implies \Noselect); a subscription alone is not a result
    lists, _ = parse(r.ok('LIST "" "Tree*" RETURN (CHILDREN)'))
    assert lists["Tree.Mid"][0] == {"\\NonExistent", "\\HasChildren"}
    assert "Gone" not in parse(r.ok('LIST "" "*" RETURN ()'))[0]
    # the basic LIST keeps RFC 3501's \Noselect
    lists, _ = parse(r.ok('LIST "" "Tree*"'))
    assert "\\Noselect" in lists["Tree.Mid"][0] and "\\NonExistent" not in lists["Tree.Mid"][0]
    # RETURN (SUBSCRIBED) marks without selecting
    r.ok("SUBSCRIBE Tree")
    lists, _ = parse(r.ok('LIST "" "Tree*" RETURN (SUBSCRIBED)'))
    assert "\\Subscribed" in lists["Tree"][0]
    assert "\\Subscribed" not in lists["Tree.Mid.Leaf"][0]
    r.close()


def test_recursivematch(inode):
    r = session(inode, new_user(inode))
    for name in ("Lists.Rust", "Lists.Go", "Proj.Web", "Solo"):
        r.ok("CREATE " + name)
    r.ok("SUBSCRIBE Lists.Rust")
    r.ok("SUBSCRIBE Proj")
    r.ok("SUBSCRIBE Proj.Web")
    lists, _ = parse(r.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)'))
    # not subscribed, a subscribed child "%" does not match: CHILDINFO
    assert lists["Lists"] == ({"\\HasChildren"}, '("CHILDINFO" ("SUBSCRIBED"))')
    # subscribed itself, and a subscribed child: both
    assert lists["Proj"][0] >= {"\\Subscribed"}
    assert lists["Proj"][1] == '("CHILDINFO" ("SUBSCRIBED"))'
    assert "Solo" not in lists and "Lists.Rust" not in lists
    # without RECURSIVEMATCH: only subscriptions, no CHILDINFO
    lists, _ = parse(r.ok('LIST (SUBSCRIBED) "" "%"'))
    assert "Lists" not in lists and lists["Proj"][1] is None
    # "*" matches the children themselves: no parent for their sake
    lists, _ = parse(r.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "*"'))
    assert "Lists" not in lists and lists["Lists.Rust"][1] is None
    assert lists["Proj"][1] is None
    r.close()


def test_special_use(inode):
    r = session(inode, new_user(inode))
    r.ok("CREATE Plain")
    lists, _ = parse(r.ok('LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)'))
    assert sorted(lists) == ["Archive", "Drafts", "Junk", "Sent", "Trash"]
    assert "\\Sent" in lists["Sent"][0] and "\\Trash" in lists["Trash"][0]
    lists, _ = parse(r.ok('LIST "" "*" RETURN (SPECIAL-USE)'))
    assert "Plain" in lists and "\\Drafts" in lists["Drafts"][0]
    r.close()


def test_list_status(inode):
    addr = new_user(inode)
    r = session(inode, addr)
    r.ok("CREATE Box.Inner")
    r.ok("DELETE Box")  # \NonExistent: no STATUS for it
    other = session(inode, addr)
    for i in range(3):
        other.literal_cmd("APPEND INBOX", "Subject: %d\r\n\r\nbody\r\n" % i)
    other.literal_cmd("APPEND Box.Inner", "Subject: x\r\n\r\nbody\r\n")
    untagged = r.ok('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT SIZE '
                    'HIGHESTMODSEQ MAILBOXID))')
    lists, status = parse(untagged)
    # each STATUS right after its LIST, for selectable mailboxes only
    for i, l in enumerate(untagged):
        if l.startswith("* STATUS"):
            name = re.match(r'\* STATUS "([^"]*)"', l).group(1)
            assert untagged[i - 1].endswith('"%s"' % name), untagged
    assert "Box" in lists and "Box" not in status
    assert set(status) == set(lists) - {"Box"}
    assert status["INBOX"]["MESSAGES"] == "3" and status["INBOX"]["UNSEEN"] == "3"
    assert status["Box.Inner"]["MESSAGES"] == "1" and status["Box.Inner"]["UIDNEXT"] == "2"
    # the same values as STATUS gives, MAILBOXID included
    st = r.ok("STATUS INBOX (MESSAGES UNSEEN UIDNEXT SIZE HIGHESTMODSEQ MAILBOXID)")
    assert parse(st)[1]["INBOX"] == status["INBOX"]
    # another session's change shows in the next LIST-STATUS
    other.ok("SELECT INBOX")
    other.ok("STORE 1 +FLAGS (\\Seen)")
    _, status = parse(r.ok('LIST "" "INBOX" RETURN (STATUS (UNSEEN))'))
    assert status["INBOX"] == {"UNSEEN": "2"}
    # with selection options and other return options
    lists, status = parse(r.ok('LIST (SUBSCRIBED) "" "*" RETURN (CHILDREN STATUS (MESSAGES))'))
    assert status["INBOX"] == {"MESSAGES": "3"} and "Box.Inner" not in status
    r.close()
    other.close()


def test_bad_options(inode):
    r = session(inode, new_user(inode))
    for bad in ['LIST (RECURSIVEMATCH) "" "*"',                 # RFC 5258 §3.1
                'LIST (SPECIAL-USE RECURSIVEMATCH) "" "*"',     # RFC 6154 §6
                'LIST (BOGUS) "" "*"',
                'LIST "" "*" RETURN (BOGUS)',
                'LIST "" "*" RETURN (STATUS)',
                'LIST "" "*" RETURN (STATUS ())',
                'LIST "" "*" RETURN (STATUS (FOO))',
                'LIST "" "*" RETURN (STATUS (MESSAGES) STATUS (UNSEEN))',
                'LIST "" ()',
                'LIST "" "*" RETURN',
                'LIST "" "*" RETURN (CHILDREN) extra']:
        st, _, tagged = r.status(bad)
        assert st == "BAD", (bad, tagged)
    r.close()
