#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Workers that allocate into the holes a parent left in shared pymalloc pools.

The parent creates --objects floats (32-byte pymalloc blocks, the size class of ints too) in a
list, then (unless --no-free) keeps one in four and frees the other three (del, then
gc.collect() as a pre-fork recipe would): the pools stay in use, three quarters of their
blocks on the pools' free lists. After fork each of --workers workers creates --allocate new
floats (default: 10% more than 3/4 of --objects, so that every hole is filled) and keeps them.
pymalloc serves them from those free blocks first, so the workers write into pages they share
with the parent: `alloc_into_shared` copies (and `allocator` ones where the write that copies
the page is to the pool header, which every allocation updates before the block).

--no-free is the control: the parent keeps every float, the shared pools are full, and the
workers' floats go to fresh pools (first-touch faults, not copies).

Prints "info objects=N kept=K freed=F allocate=A hole_pages=H pool_head_pages=P" and
"worker pid=<pid>" from each worker. H is the number of distinct pages that hold a freed
block: a worker that fills every hole copies each of them once, the first write being the
allocation's. P of them are the first page of their pool, where that first write is to the
pool header (ref.count, freeblock); on the others it is into the free block itself. Pools are
16 KiB on 3.10+ (P is about H/4), 4 KiB (one page) on 3.8 and 3.9 (P = H).
Standard library only, 3.8+.
"""

import argparse
import gc
import sys

from _common import info, refcount_pages, run_workers

# pymalloc pool size in pages: 16 KiB on 64-bit 3.10+, 4 KiB before
POOL_PAGES = 4 if sys.version_info >= (3, 10) else 1


def worker(index, count):
    fresh = [i * 0.25 for i in range(count)]
    assert len(fresh) == count


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=1200000)
    ap.add_argument("--allocate", type=int, default=0, help="default: 1.1 x 3/4 x objects")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-free", action="store_true", help="control: the parent frees nothing")
    args = ap.parse_args()

    data = [i * 0.5 for i in range(args.objects)]
    if args.no_free:
        kept = data
        holes = set()
    else:
        kept = data[::4]
        holes = refcount_pages(f for i, f in enumerate(data) if i % 4)
        del data
    gc.collect()
    freed = args.objects - len(kept)
    allocate = args.allocate or args.objects * 3 // 4 * 11 // 10
    info(objects=args.objects, kept=len(kept), freed=freed, allocate=allocate,
         hole_pages=len(holes), pool_head_pages=sum(1 for p in holes if p % POOL_PAGES == 0))
    run_workers(args.workers, worker, allocate)


if __name__ == "__main__":
    main()
