#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Workers that run full collections over a shared heap of containers, with or without the
gc.freeze() recipe.

The parent builds --records SharedRecord instances, each holding a list (tags) and a dict
(meta) besides an int and a str: GC-tracked instances, lists and dicts (and, on 3.8-3.10, each
instance's __dict__). Then it forks --workers workers, each of which runs gc.collect()
--collections times and, with --read, reads every record afterwards (scan_shared).

Without --freeze the collector is on as usual (the parent's automatic collections move the
records to the oldest generation) and a worker's first full collection writes the GC header of
every tracked object: copies caused by `gc`, field gc_header.

With --freeze, the recipe: gc.disable() first thing, build, gc.freeze() right before fork,
gc.enable() in the worker. The frozen objects sit in the permanent generation, which a
collection only reads: the workers' collections copy (almost) nothing. Reading the records
(--read) still writes their ob_refcnt: `refcount` copies remain.

Prints "info records=N record_size=S freeze=0|1 read=0|1 gc_pages=G gc_<type>=..
read_pages=R read_<type>=.." and "worker pid=<pid>" from each worker. G is the number of
distinct pages holding the GC header of a built, tracked container (record, tags, meta when
tracked, the records' __dict__ on 3.8-3.10): what a worker's first full collection copies of
the built data without freeze; gc_<type> (without --freeze) splits them by the type of the
first object whose header the collection writes on the page. R and read_<type>: the pages
--read copies by reference counting (as in readonly_class.py). Standard library only, 3.8+.
"""

import argparse
import gc
import sys

from _common import first_writes, gc_header_pages, info, run_workers


class SharedRecord:
    def __init__(self, i):
        self.value = 1000000 + i
        self.name = "record-%07d" % i
        self.tags = [i & 7, (i >> 3) & 7]
        self.meta = {"id": i, "group": i & 15}


def scan_shared(records):
    total = 0
    length = 0
    for r in records:
        total += r.value
        length += len(r.name)
    return total, length


def containers(records):
    """The GC-tracked objects built: each record, its __dict__ (3.8-3.10), its tags list, its
    meta dict when tracked (a dict holding only atomic values is not)."""
    old = sys.version_info < (3, 11)  # on 3.11+ touching __dict__ would create the dicts
    for r in records:
        objs = [r, r.__dict__, r.tags, r.meta] if old else [r, r.tags, r.meta]
        for o in objs:
            if gc.is_tracked(o):
                yield o


def collect_writes(records):
    """The first GC-header write of a worker's full collection to each built container, in
    the collector's order: (address of _gc_prev, type name). gc.collect() merges the younger
    generations into the oldest (appending generation 0, then 1, to generation 2's list) and
    update_refs() walks that list writing every _gc_prev (at -8) before anything else writes
    a header; gc.get_objects(generation=N) lists generation N in list order."""
    built = {id(o) for o in containers(records)}
    for gen in (2, 0, 1):
        for o in gc.get_objects(generation=gen):
            if id(o) in built:
                yield id(o) - 8, type(o).__name__


def scan_writes(records):
    """The reference-count writes of scan_shared(), in order (see readonly_class.py)."""
    old = sys.version_info < (3, 11)
    for r in records:
        yield id(r), "SharedRecord"
        if old:
            yield id(r.__dict__), "dict"
        yield id(r.value), "int"
        yield id(r.name), "str"


def expected_pages(records, frozen):
    enabled = gc.isenabled()
    gc.disable()  # no collection may reorder the lists while they are read
    read_counts = first_writes(scan_writes(records))
    out = {"gc_pages": len(gc_header_pages(containers(records))),
           "read_pages": sum(read_counts.values())}
    if not frozen:
        gc_counts = first_writes(collect_writes(records))
        out.update(("gc_" + t, n) for t, n in gc_counts.items())
    out.update(("read_" + t, n) for t, n in read_counts.items())
    if enabled:
        gc.enable()
    return out


def worker(index, records, args):
    if args.freeze:
        gc.enable()
    for _ in range(args.collections):
        gc.collect()
    if args.read:
        scan_shared(records)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--collections", type=int, default=2)
    ap.add_argument("--freeze", action="store_true", help="the gc.freeze() recipe")
    ap.add_argument("--read", action="store_true", help="workers also read every record")
    args = ap.parse_args()

    if args.freeze:
        gc.disable()
    records = [SharedRecord(i) for i in range(args.records)]
    if args.freeze:
        gc.freeze()
    info(records=len(records), record_size=sys.getsizeof(records[0]), freeze=int(args.freeze),
         read=int(args.read), **expected_pages(records, args.freeze))
    run_workers(args.workers, worker, records, args)


if __name__ == "__main__":
    main()
