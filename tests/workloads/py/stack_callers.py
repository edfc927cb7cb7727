#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""One reading function called from two different callers, one after the other.

The parent turns the collector off, builds --records SharedRecord instances, freezes them,
splits them in two halves and forks --workers workers. A worker calls via_alpha(first half),
then via_beta(second half); both call read_part(part), which reads every record of its part:
`refcount` copies with read_part innermost, under via_alpha for the first half and under
via_beta for the second. The two calls of read_part are at the same depth and run the same
instructions, so their frames may well sit at the same address with the same instruction
offset: a tracer that reuses the last stack it walked when the innermost frame looks the same,
without looking at the callers, puts the second half under via_alpha.

--loop bare makes read_part's loop `for r in part: pass`: nearly every copy is then made at the
same instruction (the loop's reference to the next record), so such a tracer would put all of
the second half under via_alpha.

Prints "info records=N expect_alpha=A expect_beta=B" (pages whose first write in the worker's
reading order is a reference taken under via_alpha / via_beta) and "worker pid=<pid>" from each
worker. Standard library only, 3.8+.
"""

import argparse
import gc
import sys

from _common import first_writes, info, run_workers


class SharedRecord:
    def __init__(self, i):
        self.value = 1000000 + i
        self.name = "record-%07d" % i


def read_part(part, bare):
    """The reads: the same code for both callers."""
    if bare:
        for r in part:
            pass
        return 0
    total = 0
    for r in part:
        total += r.value
    return total


def via_alpha(part, bare):
    return read_part(part, bare)


def via_beta(part, bare):
    return read_part(part, bare)


def worker(index, halves, bare):
    via_alpha(halves[0], bare)
    via_beta(halves[1], bare)


def read_writes(halves, bare):
    """The reference-count writes of the worker, in order: (address, caller)."""
    old = sys.version_info < (3, 11)
    for label, part in zip(("alpha", "beta"), halves):
        for r in part:
            yield id(r), label
            if bare:
                continue
            if old:
                yield id(r.__dict__), label
            yield id(r.value), label


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=60000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--loop", choices=("attrs", "bare"), default="attrs")
    args = ap.parse_args()
    bare = args.loop == "bare"

    gc.disable()
    records = [SharedRecord(i) for i in range(args.records)]
    gc.freeze()
    half = len(records) // 2
    halves = (records[:half], records[half:])
    counts = first_writes(read_writes(halves, bare))
    info(records=len(records), expect_alpha=counts.get("alpha", 0),
         expect_beta=counts.get("beta", 0))
    run_workers(args.workers, worker, halves, bare)


if __name__ == "__main__":
    main()
