"""A real end-user sync client from Debian end to end: isync's mbsync
syncs the server's mailboxes down to a local Maildir (over STARTTLS),
flags are changed, a message deleted and one added locally, mbsync syncs
up, and the server's state matches what the client did."""
import glob
import imaplib
import os
import random
import shutil
import smtplib
import subprocess
import tempfile

import pytest


T = 60

pytestmark = pytest.mark.skipif(shutil.which("mbsync") is None,
                                reason="isync is not installed (tools/deps.sh)")


def deliver(node, rcpt, i, folder_hint=""):
    msg = ("From: Sender <s@example.org>\r\nTo: %s\r\nSubject: sync%s%d\r\n"
           "Message-ID: <sync%s%d@example.org>\r\n\r\nbody %d\r\n"
           % (rcpt, folder_hint, i, folder_hint, i, i)).encode()
    with smtplib.LMTP("127.0.0.1", node.ports["lmtp"], timeout=T) as l:
        l.sendmail("s@example.org", [rcpt], msg)


def mbsync(cfg, *args):
    p = subprocess.run(["mbsync", "-c", cfg] + list(args) + ["test"], capture_output=True,
                       text=True, timeout=T)
    assert p.returncode == 0, "mbsync failed:\n%s\n%s" % (p.stdout, p.stderr)
    return p


def local_messages(maildir):
    files = glob.glob(os.path.join(maildir, "cur", "*")) + \
        glob.glob(os.path.join(maildir, "new", "*"))
    return sorted(files)


def flags_of(path):
    base = os.path.basename(path)
    return base.split(":2,", 1)[1] if ":2," in base else ""


def set_local_flags(path, flags):
    base = os.path.basename(path).split(":2,", 1)[0]
    new = os.path.join(os.path.dirname(os.path.dirname(path)), "cur", base + ":2," + flags)
    os.rename(path, new)
    return new


def test_mbsync_round_trip(inode):
    addr = "sync%d@mbsync.test" % random.randrange(10**6)
    inode.add_user(addr, "sync-pw")
    for i in range(5):
        deliver(inode, addr, i)
    c = imaplib.IMAP4("127.0.0.1", inode.ports["imap"], timeout=T)
    c.login(addr, "sync-pw")
    c.create("Projects.Alpha")
    c.append("Projects.Alpha", r"(\Flagged)", None,
             b"Subject: in a folder\r\nMessage-ID: <f1@x>\r\n\r\nfolder body\r\n")
    c.logout()

    work = tempfile.mkdtemp(prefix="mbsync-")
    try:
        local = os.path.join(work, "mail")
        os.makedirs(local)
        cfg = os.path.join(work, "mbsyncrc")
        with open(cfg, "w") as f:
            f.write("""IMAPAccount test
Host 127.0.0.1
Port {port}
User {user}
Pass sync-pw
SSLType STARTTLS
CertificateFile {cert}
AuthMechs PLAIN
PipelineDepth 10

IMAPStore remote
Account test

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel test
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
Sync All
""".format(port=inode.ports["imap"], user=addr, local=local,
           cert=os.path.join(inode.data_dir, "tls", "server.crt")))
        mbsync(cfg, "-V")
        inbox = os.path.join(local, "INBOX")
        msgs = local_messages(inbox)
        assert len(msgs) == 5, msgs
        alpha = os.path.join(local, "Projects", "Alpha")
        amsgs = local_messages(alpha)
        assert len(amsgs) == 1 and "F" in flags_of(amsgs[0])
        assert {"Sent", "Drafts", "Trash", "Junk", "Archive"} <= set(os.listdir(local))

        # Local changes: flags, a deletion, a new message.
        by_subject = {}
        for m in msgs:
            with open(m, "rb") as fh:
                # mbsync stores lines with LF endings
                subj = [l.strip() for l in fh.read().split(b"\n") if l.startswith(b"Subject:")][0]
            by_subject[subj.decode().split()[-1]] = m
        assert set(by_subject) == {"sync%d" % i for i in range(5)}, by_subject
        set_local_flags(by_subject["sync0"], "S")
        set_local_flags(by_subject["sync1"], "FS")
        set_local_flags(by_subject["sync2"], "RS")
        set_local_flags(by_subject["sync3"], "ST")  # trashed: expunged on sync
        with open(os.path.join(inbox, "new", "1700000000.local.host"), "wb") as fh:
            fh.write(b"From: me@here\r\nSubject: written offline\r\n"
                     b"Message-ID: <offline@here>\r\n\r\nfrom the client\r\n")
        mbsync(cfg, "-V")

        c = imaplib.IMAP4("127.0.0.1", inode.ports["imap"], timeout=T)
        c.login(addr, "sync-pw")
        typ, data = c.select("INBOX")
        assert data == [b"5"], data
        typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        state = {}
        for item in data:
            if isinstance(item, tuple):
                subj = item[1].decode().strip().split()[-1]
                state[subj] = item[0].decode()
        assert "\\Seen" in state["sync0"] and "\\Flagged" not in state["sync0"]
        assert "\\Seen" in state["sync1"] and "\\Flagged" in state["sync1"]
        assert "\\Answered" in state["sync2"]
        assert "sync3" not in state
        assert "\\Seen" not in state["sync4"]
        assert "offline" in state
        # A server-side change comes down on the next sync.
        c.store("5", "+FLAGS", r"(\Flagged)")
        c.logout()
        mbsync(cfg)
        msgs = local_messages(inbox)
        assert len(msgs) == 5
        assert sum(1 for m in msgs if "F" in flags_of(m)) == 2
    finally:
        shutil.rmtree(work, ignore_errors=True)
