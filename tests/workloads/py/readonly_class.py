#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Workers that only read shared instances of a user class: every copy is reference counting.

The parent turns the collector off (no collection ever runs, in the parent or in a worker),
builds --records instances of SharedRecord (each with a unique int, a unique str and a small
int flag) and forks --workers workers. Each worker calls scan_shared(records) --passes times:
the loop only reads r.value, r.name and r.flag, yet it writes ob_refcnt of every record (the
loop variable holds a reference) and of the int and str it loads. On 3.8-3.10 the attribute
lookup also takes a reference to each instance's __dict__ for the time of the lookup.

Prints "info records=N record_size=S read_pages=R expect_SharedRecord=.. expect_int=..
expect_str=.. [expect_dict=..]" and "worker pid=<pid>" from each worker. S is sys.getsizeof of
one record (GC header and pre-header included). R is the number of distinct pages holding the
ob_refcnt of a record, its value or its name (and, on 3.8-3.10, its __dict__): a worker's scan
copies each of them by reference counting. expect_<type> splits R by the type of the object
whose ob_refcnt is written first on the page, replaying the scan's writes in order.
Standard library only, 3.8+.
"""

import argparse
import gc
import sys

from _common import first_writes, info, run_workers


class SharedRecord:
    """A row as an ORM would load it: an instance with a __dict__ and a few attributes."""

    def __init__(self, i):
        self.value = 1000000 + i  # not a cached small int: each record has its own int object
        self.name = "record-%07d" % i
        self.flag = i & 7


def scan_shared(records):
    """Read-only work: sums, no stores into shared objects."""
    total = 0
    length = 0
    flags = 0
    for r in records:
        total += r.value
        length += len(r.name)
        flags |= r.flag
    return total, length, flags


def scan_writes(records):
    """The reference-count writes of scan_shared(), in order: (address of ob_refcnt, type)."""
    old = sys.version_info < (3, 11)  # on 3.11+ touching __dict__ would create the dicts
    for r in records:
        yield id(r), "SharedRecord"  # the loop variable
        if old:
            yield id(r.__dict__), "dict"  # held during the lookup of r.value
        yield id(r.value), "int"
        yield id(r.name), "str"


def expected_pages(records):
    """{"read_pages": R, "expect_<type>": pages first written by a reference to <type>}."""
    counts = first_writes(scan_writes(records))
    out = {"read_pages": sum(counts.values())}
    out.update(("expect_" + t, n) for t, n in counts.items())
    return out


def worker(index, records, passes):
    for _ in range(passes):
        scan_shared(records)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--passes", type=int, default=2)
    args = ap.parse_args()

    gc.disable()
    records = [SharedRecord(i) for i in range(args.records)]
    info(records=len(records), record_size=sys.getsizeof(records[0]), **expected_pages(records))
    run_workers(args.workers, worker, records, args.passes)


if __name__ == "__main__":
    main()
