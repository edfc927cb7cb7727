#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Workers whose allocation loop, in a named function, sets off the collector's collections.

The parent, collector on as usual (no freeze), builds --records SharedRecord instances, each
holding a list and a dict: GC-tracked containers, with the records' __dict__ on 3.8-3.10. A
gc.collect() before fork moves them all to the oldest generation. Then it forks --workers
workers; each one runs

    background_job() -> churn()       (an allocation loop)
    maintenance()    -> gc.collect()  (an explicit full collection, after the loop)

churn() makes --iterations reference cycles (garbage only a collection frees) and keeps one
small list of every --keep iterations: automatic young collections run all along, and once the
kept lists that survived them outnumber a quarter of the old generation, an automatic full
collection runs too, from within churn(). A full collection writes the GC header of every
shared container: `gc` copies, nearly all of them with churn() (or, for what churn() did not
copy, maintenance()) on the Python stack. tests/e2e/test_stacks.py finds the functions' line
ranges in this file with the ast module.

Prints "info records=N gc_pages=G" (G: distinct pages holding the GC header of a shared,
tracked container: what a worker's first full collection copies) and, from each worker,
"worker pid=<pid>" and "worker collections pid=<pid> gen0=.. gen1=.. gen2=.." (the automatic
collections of each generation that ran during churn(), from gc.get_stats()). Standard library
only, 3.8+.
"""

import argparse
import gc
import os
import sys

from _common import gc_header_pages, info, run_workers, say


class SharedRecord:
    def __init__(self, i):
        self.value = 1000000 + i
        self.tags = [i & 7, (i >> 3) & 7]
        self.meta = {"id": i, "tag": self.tags}  # holds a list: the dict is tracked


class Node:
    """One half of a garbage cycle."""

    def __init__(self):
        self.peer = None


def churn(iterations, keep):
    """The allocation-heavy loop: cyclic garbage, and a few survivors."""
    kept = []
    for i in range(iterations):
        a = Node()
        b = Node()
        a.peer = b
        b.peer = a
        if i % keep == 0:
            kept.append([i])
    return len(kept)


def background_job(args):
    """What a worker does between requests: calls the allocation loop."""
    before = [s["collections"] for s in gc.get_stats()]
    churn(args.iterations, args.keep)
    after = [s["collections"] for s in gc.get_stats()]
    return [a - b for a, b in zip(after, before)]


def maintenance():
    """Explicit full collection, as a server might run between requests."""
    return gc.collect()


def worker(index, records, args):
    ran = background_job(args)
    maintenance()
    say("worker collections pid=%d gen0=%d gen1=%d gen2=%d" % ((os.getpid(),) + tuple(ran)))


def containers(records):
    old = sys.version_info < (3, 11)  # on 3.11+ touching __dict__ would create the dicts
    for r in records:
        objs = [r, r.__dict__, r.tags, r.meta] if old else [r, r.tags, r.meta]
        for o in objs:
            if gc.is_tracked(o):
                yield o


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=60000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=400000)
    ap.add_argument("--keep", type=int, default=2)
    args = ap.parse_args()

    records = [SharedRecord(i) for i in range(args.records)]
    gc.collect()
    gc.disable()  # the pages are counted without a collection moving objects meanwhile
    gc_pages = len(gc_header_pages(containers(records)))
    info(records=len(records), gc_pages=gc_pages)
    gc.collect()
    gc.enable()
    run_workers(args.workers, worker, records, args)


if __name__ == "__main__":
    main()
