#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Workers whose reading functions come and go, their code objects reusing one address.

The parent turns the collector off, builds --records SharedRecord instances, freezes them,
splits them into --readers consecutive slices and forks --workers workers. A worker, for each
slice k in turn, compiles a new function reader_<k> (source the same but for its name, file name
"<reader-k>"), calls it on slice k (it reads every record of the slice: `refcount` copies, with
reader_<k> innermost), waits --hold seconds, and drops it. The code objects are all the same
size, so the allocator hands the next one the block the last one freed: the same address holds,
in turn, different code objects. A tracer that names code objects by address alone, without
checking that the object there is still the one it read, calls reader_1's copies reader_0's.

Prints "info records=N readers=K expect_<k>=P ..." (P: pages whose first write in the worker's
reading order is a reference taken by reader_<k>, replaying the reads) and, from each worker,
"worker pid=<pid>" and one "reader pid=<pid> k=<k> code=0x<address>" line per reader.
Standard library only, 3.8+.
"""

import argparse
import gc
import sys
import time

from _common import first_writes, info, run_workers, say

READER_SOURCE = """\
def reader_%d(records):
    total = 0
    for r in records:
        total += r.value
    return total
"""


class SharedRecord:
    def __init__(self, i):
        self.value = 1000000 + i
        self.name = "record-%07d" % i


def slices(records, count):
    size = (len(records) + count - 1) // count
    return [records[k * size:(k + 1) * size] for k in range(count)]


def read_writes(parts):
    """The reference-count writes of the readers, in order: (address, reader index)."""
    old = sys.version_info < (3, 11)
    for k, part in enumerate(parts):
        for r in part:
            yield id(r), k
            if old:
                yield id(r.__dict__), k
            yield id(r.value), k


def make_reader(k):
    namespace = {}
    exec(compile(READER_SOURCE % k, "<reader-%d>" % k, "exec"), namespace)
    # taken out of its globals: no reference cycle keeps it (and its code) alive once dropped
    return namespace.pop("reader_%d" % k)


def worker(index, parts, hold):
    import os
    for k, part in enumerate(parts):
        reader = make_reader(k)
        say("reader pid=%d k=%d code=0x%x" % (os.getpid(), k, id(reader.__code__)))
        reader(part)
        time.sleep(hold)
        del reader


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=60000)
    ap.add_argument("--readers", type=int, default=6)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--hold", type=float, default=0.3)
    args = ap.parse_args()

    gc.disable()
    records = [SharedRecord(i) for i in range(args.records)]
    gc.freeze()
    parts = slices(records, args.readers)
    counts = first_writes(read_writes(parts))
    info(records=len(records), readers=args.readers,
         **{"expect_%d" % k: counts.get(k, 0) for k in range(args.readers)})
    run_workers(args.workers, worker, parts, args.hold)


if __name__ == "__main__":
    main()
