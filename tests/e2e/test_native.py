# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""--native: native (user) stacks from frame pointers, below the Python frames.

cow_writer is built with frame pointers (the Makefile's workload rule); its child writes N pages
in touch_pages(), called from child_main(). With the parent lingering, whose mappings are the
child's, every one of those N copies must name that chain, exactly.
"""
import os
import tempfile

import pytest

from conftest import run_cowtrace, workload
from flamegraph_check import parse_folded


@pytest.mark.parametrize("pages", [50, 500])
def test_native_chain_exact(pages):
    with tempfile.TemporaryDirectory(prefix="cow-native-") as d:
        folded = os.path.join(d, "cow.folded")
        r = run_cowtrace(["--native", "--folded", folded, "--", workload("cow_writer"), "-n",
                          str(pages), "-l", "1", "-o", os.path.join(d, "line")],
                         json_report=True)
        assert r.returncode == 0, r.stderr
        stacks = parse_folded(folded)
    in_touch = sum(count for frames, count in stacks
                   if frames[0] == "worker cow_writer" and frames[-2] == "touch_pages (cow_writer)")
    chained = sum(count for frames, count in stacks
                  if frames[0] == "worker cow_writer"
                  and frames[-3:-1] == ["child_main (cow_writer)", "touch_pages (cow_writer)"])
    # the parent lingers 1 s: its mappings name the exited child's addresses (decoding runs
    # within tens of ms, more on a loaded machine)
    assert in_touch == pages, stacks
    assert chained == pages, stacks
    # a non-Python process: never a Python frame, and the folded file is the whole report
    assert all("[no Python stack]" in frames for frames, _ in stacks), stacks
    assert sum(count for _, count in stacks) == r.report["totals"]["pages"]


def test_native_needs_stacks():
    r = run_cowtrace(["--native", "--no-stacks", "--", "/bin/true"])
    assert r.returncode == 2
    assert r.stderr.startswith("cowtrace: ") and "--native" in r.stderr
