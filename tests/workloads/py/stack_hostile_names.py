#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Functions whose names are hostile to the outputs: the traced program names its own code.

Two reading functions get new code names with code.replace(): one printable but full of the
outputs' own syntax (';' separates folded frames, '<' and '&' start XML markup, a space splits
the count off a folded line), one with terminal escape sequences (set the window title, clear
the screen) and a newline. The parent builds --records SharedRecord instances, freezes them and
forks --workers workers; a worker reads the first half under the first name and the second half
under the second. Prints "info syntax_name=... escape_name=..." (each hex-encoded).

Standard library only, 3.8+ (co_qualname from 3.11).
"""

import argparse
import gc
import sys

from _common import info, run_workers

SYNTAX_NAME = "evil;frame<script>alert(1)</script>&amp; 7"
ESCAPE_NAME = "title\x1b]0;pwned\x07clear\x1b[2J\nline"


class SharedRecord:
    def __init__(self, i):
        self.value = 1000000 + i


def renamed(func, name):
    kw = {"co_name": name}
    if sys.version_info >= (3, 11):
        kw["co_qualname"] = name
    func.__code__ = func.__code__.replace(**kw)
    return func


def read_syntax(part):
    total = 0
    for r in part:
        total += r.value
    return total


def read_escape(part):
    total = 0
    for r in part:
        total += r.value
    return total


renamed(read_syntax, SYNTAX_NAME)
renamed(read_escape, ESCAPE_NAME)


def worker(index, halves):
    read_syntax(halves[0])
    read_escape(halves[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    gc.disable()
    records = [SharedRecord(i) for i in range(a.records)]
    gc.freeze()
    half = a.records // 2
    info(syntax_name=SYNTAX_NAME.encode().hex(), escape_name=ESCAPE_NAME.encode().hex())
    run_workers(a.workers, worker, (records[:half], records[half:]))


if __name__ == "__main__":
    main()
