"""QUOTA (RFC 9208) end to end: GETQUOTAROOT and GETQUOTA with the
resources STORAGE (units of 1024 octets: usage rounded up, limit rounded
down) and MESSAGE from the user's quota or the cluster defaults
(quota.storage, quota.messages), usage that follows another session's
APPENDs and EXPUNGEs, SETQUOTA refused, APPEND, COPY and REPLACE over quota
refused with [OVERQUOTA] and nothing stored, and the STATUS items that go
with it: SIZE (RFC 8438), DELETED and DELETED-STORAGE."""
import imaplib
import re

import conftest
from imap_raw import Raw, code

T = 20
ROOT = '"User quota"'


def new_user(node, quota_bytes=0, quota_messages=0):
    addr = conftest.unique_user(node, "quota", quota_bytes=quota_bytes, quota_messages=quota_messages)
    return addr


def session(node, addr):
    r = Raw(node)
    r.login(addr)
    return r


def message(size, i=0):
    head = "Subject: quota %d\r\n\r\n" % i
    body = ("x" * 70 + "\r\n") * ((size - len(head)) // 72 + 1)
    return (head + body)[:size - 2] + "\r\n"


def append(r, size, i=0, mailbox="INBOX"):
    return r.literal_cmd("APPEND %s" % mailbox, message(size, i))


def quota_of(untagged):
    """{resource: (usage, limit)} of the QUOTA response among untagged."""
    q = [l for l in untagged if l.startswith("* QUOTA ")]
    assert len(q) == 1, untagged
    m = re.match(r'\* QUOTA "User quota" \((.*)\)$', q[0])
    assert m, q[0]
    toks = m.group(1).split()
    return {toks[i]: (int(toks[i + 1]), int(toks[i + 2])) for i in range(0, len(toks), 3)}


def test_capabilities(inode):
    r = session(inode, new_user(inode))
    caps = r.ok("CAPABILITY")[0].split()
    assert {"QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "STATUS=SIZE"} <= set(caps)
    # SETQUOTA is refused, so QUOTASET is not advertised (RFC 9208 §3.2)
    assert "QUOTASET" not in caps
    r.close()


def test_getquotaroot_and_rounding(inode):
    addr = new_user(inode, quota_bytes=10000, quota_messages=5)
    r = session(inode, addr)
    untagged = r.ok("GETQUOTAROOT INBOX")
    assert untagged[0] == '* QUOTAROOT "INBOX" "User quota"', untagged
    # limit 10000 octets: 9 whole KiB; nothing used yet
    assert quota_of(untagged) == {"STORAGE": (0, 9), "MESSAGE": (0, 5)}
    append(r, 1500)
    # 1500 octets: 2 KiB rounded up
    assert quota_of(r.ok("GETQUOTA %s" % ROOT)) == {"STORAGE": (2, 9), "MESSAGE": (1, 5)}
    # every mailbox of the user is under the same root
    r.ok("CREATE Sub")
    untagged = r.ok("GETQUOTAROOT Sub")
    assert untagged[0] == '* QUOTAROOT "Sub" "User quota"'
    # imaplib understands the answers
    c = imaplib.IMAP4("127.0.0.1", inode.ports["imap"], timeout=T)
    c.login(addr, "pw")
    typ, data = c.getquotaroot("INBOX")
    assert typ == "OK" and b"STORAGE 2 9" in data[1][0], data
    typ, data = c.getquota(ROOT)
    assert typ == "OK" and b"MESSAGE 1 5" in data[0], data
    c.logout()
    r.close()


def test_no_limit_no_root(inode):
    addr = new_user(inode)
    r = session(inode, addr)
    untagged = r.ok("GETQUOTAROOT INBOX")
    assert untagged == ['* QUOTAROOT "INBOX"'], untagged
    st, _, tagged = r.status("GETQUOTA %s" % ROOT)
    assert st == "NO" and code(tagged, "NONEXISTENT") is not None, tagged
    st, _, tagged = r.status("GETQUOTAROOT Nope")
    assert st == "NO" and code(tagged, "NONEXISTENT") is not None, tagged
    for bad in ["GETQUOTA", "GETQUOTAROOT", "GETQUOTA a b", "GETQUOTAROOT (INBOX)"]:
        assert r.status(bad)[0] == "BAD", bad
    r.close()


def test_cluster_defaults(inode):
    addr = new_user(inode)
    own = new_user(inode, quota_messages=7)
    try:
        inode.set_config("quota.messages", 3)
        inode.set_config("quota.storage", 4096)
        r = session(inode, addr)
        assert quota_of(r.ok("GETQUOTA %s" % ROOT)) == {"STORAGE": (0, 4), "MESSAGE": (0, 3)}
        # the user's own quota wins over the default, resource by resource
        o = session(inode, own)
        assert quota_of(o.ok("GETQUOTA %s" % ROOT)) == {"STORAGE": (0, 4), "MESSAGE": (0, 7)}
        for i in range(3):
            assert " OK " in append(r, 500, i)[1]
        _, tagged = append(r, 500, 9)
        assert tagged.split()[1] == "NO" and code(tagged, "OVERQUOTA") is not None, tagged
        r.close()
        o.close()
    finally:
        inode.set_config("quota.messages", 0)
        inode.set_config("quota.storage", 0)


def test_usage_follows_other_sessions(inode):
    addr = new_user(inode, quota_bytes=1 << 20, quota_messages=100)
    a = session(inode, addr)
    b = session(inode, addr)
    for i in range(4):
        append(b, 3000, i)
    assert quota_of(a.ok("GETQUOTA %s" % ROOT)) == {"STORAGE": (12, 1024), "MESSAGE": (4, 100)}
    b.ok("SELECT INBOX")
    b.ok("STORE 1:2 +FLAGS (\\Deleted)")
    # STATUS SIZE, DELETED, DELETED-STORAGE (KiB) see the \Deleted messages
    st = a.ok("STATUS INBOX (MESSAGES SIZE DELETED DELETED-STORAGE)")[0]
    assert st == '* STATUS "INBOX" (MESSAGES 4 SIZE 12000 DELETED 2 DELETED-STORAGE 6)', st
    b.ok("EXPUNGE")
    assert quota_of(a.ok("GETQUOTA %s" % ROOT)) == {"STORAGE": (6, 1024), "MESSAGE": (2, 100)}
    st = a.ok("STATUS INBOX (SIZE DELETED DELETED-STORAGE)")[0]
    assert st == '* STATUS "INBOX" (SIZE 6000 DELETED 0 DELETED-STORAGE 0)', st
    # SIZE is the sum of the RFC822.SIZEs
    b.ok("SELECT INBOX")
    sizes = [int(x) for x in re.findall(r"RFC822\.SIZE (\d+)", "\n".join(b.ok("FETCH 1:* RFC822.SIZE")))]
    assert sum(sizes) == 6000
    a.close()
    b.close()


def test_over_quota_append_copy_replace(inode):
    addr = new_user(inode, quota_bytes=8192, quota_messages=3)
    r = session(inode, addr)
    assert " OK " in append(r, 3000, 1)[1]
    assert " OK " in append(r, 3000, 2)[1]
    # storage: 6000 + 3000 > 8192
    _, tagged = append(r, 3000, 3)
    assert tagged.split()[1] == "NO" and code(tagged, "OVERQUOTA") is not None, tagged
    r.ok("SELECT INBOX")
    # COPY of both (6000 more octets) is over quota: nothing copied
    r.ok("CREATE Copies")
    st, _, tagged = r.status("COPY 1:2 Copies")
    assert st == "NO" and code(tagged, "OVERQUOTA") is not None, tagged
    assert "MESSAGES 0" in r.ok("STATUS Copies (MESSAGES)")[0]
    # messages: one more fits, then the third is over
    assert " OK " in append(r, 100, 4)[1]
    _, tagged = append(r, 100, 5)
    assert code(tagged, "OVERQUOTA") is not None, tagged
    # REPLACE at the limit works when it frees what it takes (the old
    # message goes first), and fails, changing nothing, when it does not
    untagged, tagged = r.literal_cmd("REPLACE 3 INBOX", message(100, 6))
    assert " OK " in tagged, (untagged, tagged)
    untagged, tagged = r.literal_cmd("REPLACE 3 INBOX", message(5000, 7))
    assert code(tagged, "OVERQUOTA") is not None, tagged
    assert "MESSAGES 3" in r.ok("STATUS INBOX (MESSAGES)")[0]
    assert "quota 6" in "\n".join(r.ok("FETCH 3 BODY.PEEK[HEADER.FIELDS (SUBJECT)]"))
    r.close()


def test_setquota_refused(inode):
    addr = new_user(inode, quota_messages=10)
    r = session(inode, addr)
    st, _, tagged = r.status("SETQUOTA %s (STORAGE 512)" % ROOT)
    assert st == "NO" and code(tagged, "NOPERM") is not None, tagged
    st, _, tagged = r.status("SETQUOTA %s ()" % ROOT)
    assert st == "NO", tagged
    for bad in ["SETQUOTA %s" % ROOT, "SETQUOTA %s (STORAGE)" % ROOT,
                "SETQUOTA %s (STORAGE x)" % ROOT, "SETQUOTA %s STORAGE 5" % ROOT]:
        assert r.status(bad)[0] == "BAD", bad
    # nothing changed
    assert quota_of(r.ok("GETQUOTA %s" % ROOT)) == {"MESSAGE": (0, 10)}
    r.close()
