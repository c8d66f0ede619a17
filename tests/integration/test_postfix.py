"""A real MTA delivering into mailnode: a private Postfix instance (its own
config_directory, queue_directory and data_directory under a temporary
directory; no daemon listens on any port) routes a virtual domain to the
node with lmtp:inet:127.0.0.1:PORT. Mail goes in with Postfix's own
sendmail command and is found in the maildir; Postfix's log shows each
recipient's fate (sent, deferred, bounced) from our per-recipient replies.

Postfix needs root (its master starts as root and runs its daemons as the
postfix user); the test skips, saying why, where that is not available.
"""
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time

import pytest

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
SENDMAIL = shutil.which("sendmail") or "/usr/sbin/sendmail"
DEADLINE = 60  # seconds for Postfix to hand every message over

MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000    0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def skip_reason():
    if not os.path.exists(POSTFIX) or not os.path.exists(SENDMAIL):
        return "postfix is not installed (tools/deps.sh installs it)"
    if os.geteuid() != 0:
        return "a private postfix instance needs root"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "no postfix user"
    return None


pytestmark = pytest.mark.skipif(skip_reason() is not None,
                                reason=skip_reason() or "")


class Postfix:
    """A private instance: postfix -c DIR start/stop, sendmail -C DIR."""

    def __init__(self, domain, lmtp_port):
        # Postfix's daemons run as the postfix user: the directories must
        # be reachable by it, so not under a 0700 pytest temp dir.
        self.base = tempfile.mkdtemp(prefix="mailnode-postfix-")
        os.chmod(self.base, 0o755)
        self.conf = os.path.join(self.base, "conf")
        self.queue = os.path.join(self.base, "queue")
        self.data = os.path.join(self.base, "data")
        self.maillog = os.path.join(self.base, "maillog")
        for d in (self.conf, self.queue, self.data):
            os.makedirs(d)
        pw = pwd.getpwnam("postfix")
        os.chown(self.data, pw.pw_uid, pw.pw_gid)
        main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "mta.test",
            "mydomain": "mta.test",
            "myorigin": "mta.test",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "virtual_mailbox_domains": domain,
            "virtual_transport": "lmtp:inet:127.0.0.1:%d" % lmtp_port,
            "alias_maps": "",
            "alias_database": "",
            "maillog_file_prefixes": self.base,
            "maillog_file": self.maillog,
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "delay_warning_time": "0",
            "disable_dns_lookups": "yes",
        }
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF)

    def run(self, *args, **kw):
        return subprocess.run([POSTFIX, "-c", self.conf] + list(args),
                              capture_output=True, text=True, timeout=60, **kw)

    def start(self):
        p = self.run("start")
        if p.returncode != 0:
            raise AssertionError("postfix start failed: %s%s\n%s" %
                                 (p.stdout, p.stderr, self.log()))

    def stop(self):
        self.run("stop")
        pidfile = os.path.join(self.queue, "pid", "master.pid")
        deadline = time.time() + 20
        while os.path.exists(pidfile) and time.time() < deadline:
            try:
                pid = int(open(pidfile).read().split()[0])
                os.kill(pid, 0)
            except (OSError, ValueError, IndexError):
                break
            time.sleep(0.1)
        else:
            if os.path.exists(pidfile):
                self.run("abort")

    def sendmail(self, sender, rcpts, message):
        p = subprocess.run([SENDMAIL, "-C", self.conf, "-i", "-f", sender, "--"] + rcpts,
                           input=message, capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr

    def log(self):
        try:
            return open(self.maillog, errors="replace").read()
        except OSError:
            return ""

    def wait_log(self, pattern, count=1):
        deadline = time.time() + DEADLINE
        while time.time() < deadline:
            if len(re.findall(pattern, self.log())) >= count:
                return
            time.sleep(0.2)
        raise AssertionError("postfix never logged %r:\n%s" % (pattern, self.log()[-4000:]))

    def cleanup(self):
        shutil.rmtree(self.base, ignore_errors=True)


def maildir(node, address):
    local, dom = address.split("@")
    return sorted(glob.glob(os.path.join(node.data_dir, "mail", dom, local, "cur", "*")))


def test_postfix_delivers_over_lmtp(node):
    dom = "pf.test"
    node.add_user("alice@" + dom, "pw")
    node.add_user("carol@" + dom, "pw")
    node.add_user("bob@" + dom, "pw", quota_bytes=100)
    node.add_user("sender@" + dom, "pw")
    pf = Postfix(dom, node.ports["lmtp"])
    try:
        pf.start()
        one = (b"From: Sender <sender@pf.test>\r\n"
               b"To: alice@pf.test\r\n"
               b"Subject: via postfix\r\n"
               b"Message-ID: <one@mta.test>\r\n"
               b"\r\n"
               b"Hello through a real MTA.\r\n"
               b".leading dot survives stuffing\r\n"
               b".\r\n"
               b"a lone dot above, not the end\r\n")
        pf.sendmail("sender@" + dom, ["alice@" + dom], one)
        pf.wait_log(r"to=<alice@pf\.test>.*status=sent \(250 2\.0\.0 ")
        files = maildir(node, "alice@" + dom)
        assert len(files) == 1
        msg = open(files[0], "rb").read()
        assert msg.startswith(b"Return-Path: <sender@pf.test>\r\n"
                              b"Delivered-To: <alice@pf.test>\r\n"
                              b"Received: from mta.test ([127.0.0.1])\r\n")
        assert re.search(rb"\r\nReceived: by mta\.test \(Postfix", msg)
        body = msg.split(b"\r\n\r\n", 1)[1]
        assert body == (b"Hello through a real MTA.\r\n"
                        b".leading dot survives stuffing\r\n"
                        b".\r\n"
                        b"a lone dot above, not the end\r\n")

        # One message, four recipients in one LMTP transaction: each gets
        # its own reply and Postfix acts on each.
        two = (b"Subject: to many\r\nMessage-ID: <two@mta.test>\r\n\r\n" +
               b"x" * 500 + b"\r\n")
        pf.sendmail("sender@" + dom, ["alice@" + dom, "ghost@" + dom, "bob@" + dom,
                                      "carol@" + dom], two)
        pf.wait_log(r"to=<carol@pf\.test>.*status=sent")
        pf.wait_log(r"to=<ghost@pf\.test>.*status=bounced \(host \S+ said: 550 5\.1\.1")
        pf.wait_log(r"to=<bob@pf\.test>.*status=deferred \(host \S+ said: 452 4\.2\.2")
        assert len(maildir(node, "alice@" + dom)) == 2
        assert len(maildir(node, "carol@" + dom)) == 1
        assert maildir(node, "bob@" + dom) == []
        two_a = open(maildir(node, "alice@" + dom)[1], "rb").read()
        assert b"Delivered-To:" not in two_a  # shared by several recipients
        # The bounce for ghost comes back through LMTP to the sender.
        pf.wait_log(r"to=<sender@pf\.test>.*status=sent")
        bounce = open(maildir(node, "sender@" + dom)[0], "rb").read()
        assert b"ghost@pf.test" in bounce and b"Return-Path: <>" in bounce
        _, u = node.admin("GET", "/v1/users/alice@" + dom, expect=200)
        assert u["used_messages"] == 2
    finally:
        pf.stop()
        pf.cleanup()
