# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A full event buffer loses events, never counts: they are kept in BPF maps, and what was lost
is reported.

cowtrace is stopped (SIGSTOP) while the workload's child copies far more pages than a 1 MiB
event buffer holds, then continued: the child's copies must still be exact (N more than with
N = 0), lost_events must say how many events did not fit, and the causes must still add up to
the pages (the copies without an event are "unattributed").
"""
import os
import signal
import subprocess
import tempfile

from conftest import CowtraceProcess, workload

PAGES = 40000  # 40000 events of 64 bytes: far more than 1 MiB


def stopped_run(pages):
    with tempfile.TemporaryDirectory(prefix="cow-overflow-") as d:
        w = subprocess.Popen([workload("cow_writer"), "-n", str(pages), "-w", "-o",
                              os.path.join(d, "line")], stdin=subprocess.PIPE)
        try:
            with CowtraceProcess(["-q", "--buffer-mb", "1", "-p", str(w.pid)],
                                 json_report=True) as ct:
                ct.wait_attached()
                ct.send_signal(signal.SIGSTOP)
                w.stdin.write(b"x")
                w.stdin.close()
                assert w.wait(120) == 0
                ct.send_signal(signal.SIGCONT)
                res = ct.finish()
        finally:
            if w.poll() is None:
                w.kill()
                w.wait()
    assert res.returncode == 0, res.stderr
    children = [p for p in res.report["processes"] if p["ppid"] == w.pid]
    assert len(children) == 1, res.report["processes"]
    return res.report, children[0]


def test_full_buffer_keeps_counts_exact():
    base_report, base = stopped_run(0)
    report, child = stopped_run(PAGES)
    assert base_report["lost_events"] == 0
    # the buffer overflowed, and the report says so
    assert report["lost_events"] > PAGES // 2, report["lost_events"]
    # counts are exact regardless
    assert child["by_kind"]["anon"] - base["by_kind"]["anon"] == PAGES
    # every page is in exactly one cause; those without an event are unattributed
    totals = report["totals"]
    assert sum(totals["by_cause"].values()) == totals["pages"]
    assert totals["by_cause"]["unattributed"] >= report["lost_events"] - totals["by_kind"]["zero"]
