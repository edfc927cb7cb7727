# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""cow_bench in a CPython process: the cost of one copy-on-write break where cowtrace's
attribution reads the target's memory (it does not for non-Python processes).

Default (a buffer): the parent fills a bytearray, forks; the child writes one byte into every
page twice: the first pass copies each page, the second only runs the loop. ns_per_copy is their
difference per page, so the interpreter's own loop cost is not counted.

--objects: the parent makes floats (pymalloc blocks, 128 to a page), forks; the child iterates
over them twice, which writes each one's ob_refcnt: the first pass copies every page that holds
them (decoded as refcount, float, ob_refcnt: pool header and block read at each copy), the
second does not. ns_per_copy is again the difference per page.

Prints "ns_per_copy=<float> pages=<n>" per round, like cow_bench.c.

    python3 cow_bench.py [-m MIB] [-r ROUNDS] [--objects]
"""
import argparse
import gc
import os
import sys
import time

PAGE = 4096


def touch(view, value):
    for i in range(0, len(view), PAGE):
        view[i] = value


def read_all(objs):
    for _ in objs:  # each item's ob_refcnt is incremented and decremented
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-m", type=int, default=256, help="MiB")
    ap.add_argument("-r", type=int, default=1, help="rounds")
    ap.add_argument("--objects", action="store_true", help="floats instead of a bytearray")
    a = ap.parse_args()
    gc.disable()
    if a.objects:
        objs = [float(i) for i in range((a.m << 20) // 32)]
        pages = len({id(o) // PAGE for o in objs})
        passes = (lambda: read_all(objs), lambda: read_all(objs))
    else:
        buf = bytearray(a.m << 20)
        view = memoryview(buf)
        touch(view, 1)
        pages = len(buf) // PAGE
        passes = (lambda: touch(view, 2), lambda: touch(view, 3))
    for _ in range(a.r):
        pid = os.fork()
        if pid == 0:
            t0 = time.perf_counter_ns()
            passes[0]()
            t1 = time.perf_counter_ns()
            passes[1]()
            t2 = time.perf_counter_ns()
            sys.stdout.write("ns_per_copy=%.1f pages=%d\n" % (((t1 - t0) - (t2 - t1)) / pages,
                                                             pages))
            sys.stdout.flush()
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if status:
            sys.exit("cow_bench.py: child failed")


if __name__ == "__main__":
    main()
