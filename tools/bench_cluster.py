#!/usr/bin/python3
"""LMTP delivery rate into a single node and into a three-node cluster on
loopback, with the same load generator (tools/lmtp_bench.c).

    tools/bench_cluster.py [--build DIR] [--dir DATA] [--node-dirs A,B,C]
                           [--rounds R] [-n MESSAGES] [-c CONNECTIONS] [-s SIZE]
                           [--only single|cluster] [--spread]

Starts the nodes from DIR/mailnode (a release build: `make build`), creates
50 users, runs DIR/lmtp_bench against the leader (with --spread, against
all three nodes in turn, as a load balancer would), prints both rates and
their ratio, and where the time and CPU went (machine busy, CPU per
message of each node, bodies per flush group, mean delivery and raft
write latency; from /proc and each node's /metrics). With --rounds R the two alternate R times (each round on
fresh data) and the medians are compared: on a shared machine the rate
moves with whatever else runs. Data goes to a temporary directory under DATA (default
/var/tmp); give a BTRFS mount to measure on the file system mailnode is
deployed on (tools/btrfs_scratch.sh makes one from a loop image).
--node-dirs gives each cluster node its own parent directory (one file
system each, as on real machines; the single node uses the first).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))


def setup(nodes_or_cluster, first):
    for key, value in (("password.argon2_memory_kib", "1024"),
                       ("password.argon2_passes", "1")):
        first.set_config(key, value)
    first.admin("POST", "/v1/domains", {"name": "bench.test"})
    for i in range(50):
        first.admin("POST", "/v1/users", {"address": "user%d@bench.test" % i,
                                          "password": "pw"}, expect=200)


def cpu_seconds(nodes):
    """CPU time (user + system) each node process used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    out = []
    for n in nodes:
        with open("/proc/%d/stat" % n.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out.append((int(fields[11]) + int(fields[12])) / tick)
    return out


def metrics(node):
    """The node's counters and histogram sums, by name (labels dropped)."""
    import urllib.request
    url = "http://127.0.0.1:%d/metrics" % node.ports["http"]
    out = {}
    with urllib.request.urlopen(url, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name, value = line.rsplit(" ", 1)
            name = name.split("{", 1)[0]
            out[name] = out.get(name, 0.0) + float(value)
    return out


def where_time_goes(nodes, before):
    """Per node: bodies per flush group, and the mean time from the end of
    DATA to the reply and from submission to the local apply."""
    for i, n in enumerate(nodes):
        m, b = metrics(n), before[i]
        d = {k: m.get(k, 0.0) - b.get(k, 0.0) for k in m}
        groups = d.get("mailnode_stage_flushes_total", 0)
        parts = ["node %d: " % n.node_id +
                 "%.1f bodies a group" % (d.get("mailnode_bodies_staged_total", 0) / groups
                                          if groups else 0)]
        for key, label in (("mailnode_delivery_seconds", "delivery"),
                           ("mailnode_write_seconds", "write")):
            if d.get(key + "_count"):
                parts.append("%s %.2f ms" % (label, 1000 * d[key + "_sum"] / d[key + "_count"]))
        parts.append("%d journal checkpoints" % d.get("mailnode_journal_checkpoints_total", 0))
        print("  " + ", ".join(parts))


def machine_ticks():
    """(busy, total) clock ticks of all CPUs so far (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def run_bench(build, ports, args, nodes):
    busy0, total0 = machine_ticks()
    before = cpu_seconds(nodes)
    before_m = [metrics(n) for n in nodes]
    out = subprocess.run([os.path.join(build, "lmtp_bench"), "-p", ",".join(str(p) for p in ports),
                          "-c", str(args.c), "-n", str(args.n), "-s", str(args.s),
                          "-u", "50", "-d", "bench.test"],
                         capture_output=True, text=True, timeout=1200)
    print(out.stdout.strip())
    if out.returncode != 0:
        print(out.stderr[-2000:], file=sys.stderr)
    used = [a - b for a, b in zip(cpu_seconds(nodes), before)]
    busy1, total1 = machine_ticks()
    print("machine busy %.0f%% of %d CPUs" % (100.0 * (busy1 - busy0) / max(1, total1 - total0),
                                             os.cpu_count()))
    print("cpu per message: %s (ms, each node), %.2f ms in all" % (
        " ".join("%.2f" % (1000.0 * u / args.n) for u in used), 1000.0 * sum(used) / args.n))
    where_time_goes(nodes, before_m)
    for tok in out.stdout.split():
        if tok.startswith("rate="):
            return float(tok[5:])
    return 0.0


def bench_single(args, harness):
    base = tempfile.mkdtemp(prefix="mailnode-node-", dir=args.node_dirs[0]) \
        if args.node_dirs else None
    node = harness.Node(base=base, listeners=["lmtp", "http", "cluster"])
    try:
        node.init()
        node.start()
        node.wait_leader()
        setup(node, node)
        rate = run_bench(args.build, [node.ports["lmtp"]], args, [node])
        node.stop()
    finally:
        node.cleanup()
    return rate


def bench_cluster(args, harness):
    cluster = harness.Cluster(3, node_dirs=args.node_dirs)
    for n in cluster.nodes:
        n.listeners = ["lmtp", "http", "cluster"]
        n.write_config()
    try:
        cluster.start()
        lead = cluster.leader()
        setup(cluster, lead)
        targets = cluster.nodes if args.spread else [lead]
        rate = run_bench(args.build, [n.ports["lmtp"] for n in targets], args, cluster.nodes)
        cluster.stop()
    finally:
        cluster.cleanup()
    return rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("-c", type=int, default=16)
    ap.add_argument("-s", type=int, default=8192)
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--node-dirs", type=lambda v: v.split(","), default=None)
    ap.add_argument("--spread", action="store_true",
                    help="connections to all three nodes in turn, as through a load balancer "
                         "(followers forward their writes to the leader)")
    ap.add_argument("--only", choices=("single", "cluster"), default=None,
                    help="measure one side alone (to profile it)")
    args = ap.parse_args()
    os.environ["MAILNODE_BIN"] = os.path.abspath(os.path.join(args.build, "mailnode"))
    os.environ.setdefault("MAILNODE_LOG_LEVEL", "warn")
    tempfile.tempdir = args.dir
    import harness

    singles, threes = [], []
    for rnd in range(args.rounds):
        if args.only != "cluster":
            print("round %d, single node:" % (rnd + 1))
            singles.append(bench_single(args, harness))
        if args.only != "single":
            print("round %d, three-node cluster:" % (rnd + 1))
            threes.append(bench_cluster(args, harness))
    if args.only:
        return
    single, three = statistics.median(singles), statistics.median(threes)
    print("single %.0f msgs/s, three nodes %.0f msgs/s, ratio %.0f%%%s" %
          (single, three, 100.0 * three / single if single else 0,
           " (medians of %d rounds)" % args.rounds if args.rounds > 1 else ""))

if __name__ == "__main__":
    main()
