#!/usr/bin/python3
"""How long the stager's flush takes on a file system, alone or with other
file systems flushing at the same time (as three nodes on one disk do).

    tools/flush_bench.py DIR [DIR ...] [--groups N] [--bodies B] [--size S]
                         [--journal]

In each DIR at once (one process each): N times, write B files of S bytes,
syncfs, rename them into another directory and fsync it, as node/stager.c
does for a group of bodies without a journal. With --journal, as it does
with one (node/store/body_journal.c): write the files, rename them, append
their bytes to a preallocated no-copy-on-write file and fdatasync it.
Prints p50 and p90 of a group per DIR. Removes what it wrote.
"""
import argparse
import ctypes
import multiprocessing
import os
import shutil
import statistics
import subprocess
import tempfile
import time

libc = ctypes.CDLL("libc.so.6", use_errno=True)


JOURNAL_SIZE = 32 << 20


def journal_open(work):
    jdir = os.path.join(work, "journal")
    os.mkdir(jdir)
    subprocess.run(["chattr", "+C", jdir], stderr=subprocess.DEVNULL, check=False)
    fd = os.open(os.path.join(jdir, "0"), os.O_CREAT | os.O_RDWR, 0o600)
    os.posix_fallocate(fd, 0, JOURNAL_SIZE)
    os.fsync(fd)
    return fd


def groups(d, n, bodies, size, journal):
    work = tempfile.mkdtemp(prefix="flush-bench-", dir=d)
    tmp, staged = os.path.join(work, "tmp"), os.path.join(work, "staged")
    os.mkdir(tmp)
    os.mkdir(staged)
    data = os.urandom(size)
    times = []
    jfd, joff = (journal_open(work) if journal else None), 0
    try:
        for k in range(n):
            t0 = time.perf_counter()
            fds, names = [], []
            for i in range(bodies):
                p = os.path.join(tmp, "%d_%d" % (k, i))
                fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o600)
                os.write(fd, data)
                fds.append(fd)
                names.append(p)
            if journal:
                for fd in fds:
                    os.close(fd)
                for p in names:
                    os.rename(p, os.path.join(staged, os.path.basename(p)))
                record = b"\0" * 64 + data
                if joff + bodies * len(record) > JOURNAL_SIZE:
                    joff = 0  # the real journal flushes the fs before reuse
                for i in range(bodies):
                    os.pwrite(jfd, record, joff)
                    joff += len(record)
                os.fdatasync(jfd)
            else:
                if libc.syncfs(fds[0]) != 0:
                    raise OSError(ctypes.get_errno(), "syncfs")
                for fd in fds:
                    os.close(fd)
                for p in names:
                    os.rename(p, os.path.join(staged, os.path.basename(p)))
                dfd = os.open(staged, os.O_RDONLY)
                os.fsync(dfd)
                os.close(dfd)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        if jfd is not None:
            os.close(jfd)
        shutil.rmtree(work, ignore_errors=True)
    return times


def run(args):
    d, n, bodies, size, journal = args
    t = sorted(groups(d, n, bodies, size, journal))
    return "%s: %d groups of %d x %d B%s: p50 %.1f ms, p90 %.1f ms" % (
        d, n, bodies, size, " (journal)" if journal else "", statistics.median(t),
        t[int(len(t) * 0.9)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--groups", type=int, default=100)
    ap.add_argument("--bodies", type=int, default=16)
    ap.add_argument("--size", type=int, default=8192)
    ap.add_argument("--journal", action="store_true")
    a = ap.parse_args()
    with multiprocessing.Pool(len(a.dirs)) as pool:
        for line in pool.map(run, [(d, a.groups, a.bodies, a.size, a.journal) for d in a.dirs]):
            print(line)


if __name__ == "__main__":
    main()
