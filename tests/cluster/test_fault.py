"""Fault test: LMTP deliveries to all three nodes while the leader is
killed with SIGKILL, restarted, then a follower is killed and restarted.
Every delivery that got 250 must then be present exactly once, in the
right mailbox, on every node; UIDs unique and below UIDNEXT; every body
file matches its hash; the three indexes dump identically."""
import hashlib
import os
import random
import re
import signal
import smtplib
import threading
import time


USERS = ["u%d@fault.test" % i for i in range(5)]


class Load:
    def __init__(self, cluster, threads=6):
        self.cluster = cluster
        self.acked = []          # (user, msgid, time)
        self.failed = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def run(self, tid):
        rnd = random.Random(tid)
        seq = 0
        while not self.stop.is_set():
            node = rnd.choice(self.cluster.nodes)
            user = rnd.choice(USERS)
            seq += 1
            msgid = "<fault-%d-%d@test>" % (tid, seq)
            body = ("From: load@fault.test\r\nTo: %s\r\nMessage-ID: %s\r\n"
                    "Subject: fault %d %d\r\n\r\n%s\r\n" %
                    (user, msgid, tid, seq, "x" * rnd.randint(10, 3000)))
            try:
                with smtplib.LMTP("127.0.0.1", node.ports["lmtp"], timeout=20) as c:
                    c.sendmail("load@fault.test", [user], body)
                with self.lock:
                    self.acked.append((user, msgid, time.time()))
            except (smtplib.SMTPException, OSError):
                with self.lock:
                    self.failed += 1
                time.sleep(0.05)


def inbox_files(node, user):
    local, domain = user.split("@")
    cur = os.path.join(node.data_dir, "mail", domain, local, "cur")
    try:
        return [os.path.join(cur, f) for f in os.listdir(cur)]
    except FileNotFoundError:
        return []


def check_node(node, acked):
    by_user = {}
    for user, msgid, _ in acked:
        by_user.setdefault(user, []).append(msgid)
    blobs = {}
    top = os.path.join(node.data_dir, "blobs")
    for root, _, files in os.walk(top):
        if os.path.relpath(root, top).split(os.sep)[0] in ("staged", "tmp", "journal"):
            continue
        for f in files:
            p = os.path.join(root, f)
            data = open(p, "rb").read()
            assert hashlib.sha256(data).hexdigest() == f, "blob %s corrupt" % p
            blobs[os.stat(p).st_ino] = f
    for user in USERS:
        seen = {}
        uids = set()
        for path in inbox_files(node, user):
            m = re.search(r"\.M(\d+)U(\d+)\.", os.path.basename(path))
            assert m, path
            uid = (m.group(1), int(m.group(2)))
            assert uid not in uids, "UID reused: %s" % path
            uids.add(uid)
            assert os.stat(path).st_ino in blobs, "%s is not a stored body" % path
            data = open(path, "rb").read()
            mid = re.search(rb"Message-ID: (<[^>]+>)", data)
            if mid:
                seen[mid.group(1).decode()] = seen.get(mid.group(1).decode(), 0) + 1
        for msgid in by_user.get(user, []):
            assert seen.get(msgid, 0) == 1, "node %d: %s in %s %d times" % (
                node.node_id, msgid, user, seen.get(msgid, 0))


def test_deliveries_survive_kills(cluster):
    lead = cluster.leader()
    for u in USERS:
        lead.add_user(u, "secret-%s" % u)
    load = Load(cluster)
    load.start()
    time.sleep(2)

    victim = cluster.leader()
    n_before = len(load.acked)
    t_kill = time.time()
    victim.kill(signal.SIGKILL)
    deadline = time.time() + 30
    while time.time() < deadline:
        with load.lock:
            after = [a for a in load.acked[n_before:] if a[2] > t_kill]
        if after:
            break
        time.sleep(0.02)
    failover = min(a[2] for a in after) - t_kill
    print("failover: kill of the leader to the next accepted delivery %.2fs" % failover)
    victim.start()
    victim.wait_healthy(60)
    time.sleep(1)

    follower = [n for n in cluster.nodes if n is not cluster.leader()][0]
    follower.kill(signal.SIGKILL)
    time.sleep(2)
    follower.start()
    follower.wait_healthy(60)
    time.sleep(1)
    load.finish()
    acked = list(load.acked)
    print("deliveries acknowledged %d, failed attempts %d" % (len(acked), load.failed))
    assert len(acked) > 50
    assert failover < 3.0, "failover %.2fs" % failover

    for n in cluster.nodes:
        n.wait_healthy(60)
    dumps = cluster.dumps_equal(timeout=60)
    assert len(set(dumps)) == 1, "replicas differ"
    for n in cluster.nodes:
        check_node(n, acked)
