# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Shared by the Python workloads of tests/e2e/test_objects.py (imported from the script's own
directory, which Python puts first on sys.path). Standard library only; CPython 3.8 and later.

Every workload: the parent builds shared data, prints one "info key=value ..." line, forks
workers that each print "worker pid=<pid>" and then do one kind of thing, waits for them, and
exits 0 (1 if a worker failed). Workers leave with os._exit() and so does the parent, after its
workers: interpreter shutdown would free the shared objects, and a worker's own frees would
write to shared pages the test is not about.
"""

import os
import sys
import time
import traceback

# Seconds the parent waits before it forks (environment COW_WORKLOAD_SETTLE, default 0.3): a
# server forks its workers well after it started, and a tracer may still be identifying the
# interpreter in the first tens of milliseconds. test_objects.py sets it to 0 where it tests
# exactly that.
SETTLE_S = float(os.environ.get("COW_WORKLOAD_SETTLE", "0.3"))
# Seconds the parent stays after its workers have exited (COW_WORKLOAD_LINGER, default 0.5),
# as a server's master outlives its workers: a tracer that decodes a worker's copies after it
# exited can still read the type objects it shares with the parent.
LINGER_S = float(os.environ.get("COW_WORKLOAD_LINGER", "0.5"))


def say(line):
    """One line on stdout in one write(), so the lines of parent, workers and a tracer that
    share the pipe never mix."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def info(**fields):
    say("info " + " ".join("%s=%s" % kv for kv in sorted(fields.items())))


PAGE_SHIFT = 12  # 4 KiB pages (x86-64)


def pages(addresses):
    """The set of page numbers that hold these byte addresses."""
    return {a >> PAGE_SHIFT for a in addresses}


def refcount_pages(objs):
    """Pages holding ob_refcnt of these objects (8-aligned 8 bytes at id(o): one page each)."""
    return pages(id(o) for o in objs)


def gc_header_pages(objs):
    """Pages holding the 16-byte GC header right before each of these (GC-tracked) objects."""
    return pages(id(o) - 16 for o in objs) | pages(id(o) - 1 for o in objs)


def first_writes(writes):
    """Replay a sequence of (address, label) writes in order: {label: number of pages whose
    first write carries that label}. That is what a tracer attributing each copy to the write
    that caused it must find, page for page."""
    first = {}
    for addr, label in writes:
        first.setdefault(addr >> PAGE_SHIFT, label)
    counts = {}
    for label in first.values():
        counts[label] = counts.get(label, 0) + 1
    return counts


def run_workers(count, work, *args):
    """Fork count workers running work(index, *args) and wait for them all; never returns.

    A worker prints "worker pid=<pid>" and "worker index=<index> pid=<pid>" first (workers
    print in no particular order). The parent does nothing else while they run: its own
    writes to shared pages would be copies too, in the root process."""
    time.sleep(SETTLE_S)
    pids = []
    for index in range(count):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                say("worker pid=%d" % os.getpid())
                say("worker index=%d pid=%d" % (index, os.getpid()))
                work(index, *args)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        pids.append(pid)
    status = 0
    for pid in pids:
        _, st = os.waitpid(pid, 0)
        if st != 0:
            status = 1
    time.sleep(LINGER_S)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
