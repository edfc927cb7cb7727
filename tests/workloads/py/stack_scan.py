#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Workers whose request path reads shared data through a known chain of functions.

The parent turns the collector off, builds --records instances of SharedRecord (a unique int
and a unique str each), freezes them (gc.freeze(): no collection is involved anywhere) and
forks --workers workers. Each worker serves --requests requests, every one down the same chain

    serve() -> handle_request() -> lookup() -> scan_shared(records)

and scan_shared() only reads attributes of every shared record, which writes their ob_refcnt
(and that of the int and str loaded): `refcount` copies, all of them while scan_shared() is the
innermost Python frame and the three others are its callers, in that order.
tests/e2e/test_stacks.py finds the functions' line ranges in this file with the ast module, so
they can move.

Prints "info records=N read_pages=R" (R: distinct pages holding the ob_refcnt of a record, its
value or its name, and on 3.8-3.10 its __dict__: what a worker's first request copies) and
"worker pid=<pid>" from each worker. Standard library only, 3.8+.
"""

import argparse
import gc
import sys

from _common import info, refcount_pages, run_workers


class SharedRecord:
    """A row as an ORM would load it: an instance with a few attributes."""

    def __init__(self, i):
        self.value = 1000000 + i  # not a cached small int: one int object per record
        self.name = "record-%07d" % i
        self.flag = i & 7


def scan_shared(records):
    """Read-only work over the shared records: sums, no stores into them."""
    total = 0
    length = 0
    flags = 0
    for r in records:
        total += r.value
        length += len(r.name)
        flags |= r.flag
    return total, length, flags


def lookup(records, key):
    """A cache lookup that, as so many do, ends up scanning the cache."""
    total, length, flags = scan_shared(records)
    return (total + key) & 0xffff, length, flags


def handle_request(records, request):
    """One request: parse, look up, answer."""
    key = request * 7 + 1
    result = lookup(records, key)
    return "%d %d %d" % result


def serve(index, records, requests):
    """A worker's main loop: run_workers() calls it in each child."""
    answers = []
    for request in range(requests):
        answers.append(handle_request(records, request))
    return answers


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--requests", type=int, default=2)
    args = ap.parse_args()

    gc.disable()
    records = [SharedRecord(i) for i in range(args.records)]
    gc.freeze()
    old = sys.version_info < (3, 11)  # on 3.11+ touching __dict__ would create the dicts
    objs = [o for r in records
            for o in ((r, r.value, r.name, r.__dict__) if old else (r, r.value, r.name))]
    read_pages = len(refcount_pages(objs))
    del objs
    info(records=len(records), read_pages=read_pages)
    run_workers(args.workers, serve, records, args.requests)


if __name__ == "__main__":
    main()
