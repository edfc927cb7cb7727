#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Workers that read shared data at the bottom of a deep recursion.

The parent turns the collector off, builds --records SharedRecord instances, freezes them and
forks --workers workers. Each worker calls descend(--depth) (the recursion limit raised to
allow it), which calls itself until the count runs out and then calls read_bottom(records):
every `refcount` copy of the records happens with read_bottom() innermost, then --depth + 1
frames of descend(), then the worker's outer frames. A tracer that walks at most 64 frames must
cut the stack at the root end, mark it so, and keep the innermost frames right.
tests/e2e/test_stacks.py finds the functions' line ranges in this file with the ast module.

Prints "info records=N depth=D read_pages=R" (R as in stack_scan.py) and "worker pid=<pid>"
from each worker. Standard library only, 3.8+.
"""

import argparse
import gc
import sys

from _common import info, refcount_pages, run_workers


class SharedRecord:
    def __init__(self, i):
        self.value = 1000000 + i
        self.name = "record-%07d" % i


def read_bottom(records):
    """The reads, at the bottom of the recursion."""
    total = 0
    for r in records:
        total += r.value + len(r.name)
    return total


def descend(records, depth):
    """Recursion: depth more levels of itself, then the reads."""
    if depth <= 0:
        return read_bottom(records)
    return descend(records, depth - 1) + 1


def worker(index, records, depth):
    descend(records, depth)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=60000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--depth", type=int, default=300)
    args = ap.parse_args()

    sys.setrecursionlimit(max(sys.getrecursionlimit(), args.depth + 200))
    gc.disable()
    records = [SharedRecord(i) for i in range(args.records)]
    gc.freeze()
    old = sys.version_info < (3, 11)
    objs = [o for r in records
            for o in ((r, r.value, r.name, r.__dict__) if old else (r, r.value, r.name))]
    read_pages = len(refcount_pages(objs))
    del objs
    info(records=len(records), depth=args.depth, read_pages=read_pages)
    run_workers(args.workers, worker, records, args.depth)


if __name__ == "__main__":
    main()
