# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Exact counts: cowtrace must report every copy-on-write copy that cow_writer makes, no more.

cow_writer's child writes one byte into each of N pages at base + i*4096 + 0x123 (see
tests/workloads/cow_writer.c). The child also makes a few copies of its own (libc data, TLS),
the same number in every run, so the report for N pages must be the report for 0 pages plus
exactly N; and the --trace lines inside the mapping must be exactly those N addresses.
"""
import functools
import os
import subprocess
import tempfile

import pytest
from pagemap import kernel_maps_zero_page

from conftest import (PAGE_SIZE, CowtraceProcess, find_process, parse_cow_writer, parse_trace,
                      run_cowtrace, workload)

KINDS = ("anon", "file", "zero")
# touch_pages() is a few instructions; its store must be within this many bytes of its start.
WRITER_FN_MAX = 256


class WriterRun:
    """One traced cow_writer run: the tool's result, the workload's line, and shortcuts."""

    def __init__(self, res, line):
        self.res = res
        self.line = line
        self.report = res.report
        self.trace = parse_trace(res.stdout)
        roots = [p for p in self.report["processes"] if p["role"] == "root"]
        assert len(roots) == 1, "expected one root process: %s" % self.report["processes"]
        self.root = roots[0]
        self.child = find_process(self.report, line.pid)

    def region_lines(self):
        """--trace lines whose address is inside the mapping (N written pages + 1 spare)."""
        end = self.line.base + (self.line.pages + 1) * PAGE_SIZE
        return [t for t in self.trace if self.line.base <= t.addr < end]


def check_report(rep):
    """Invariants every report must hold, whatever was traced."""
    assert rep["tool"] == "cowtrace"
    assert rep["lost_events"] == 0
    tot = rep["totals"]
    for entry in [tot] + rep["processes"]:
        k = entry["by_kind"]
        assert entry["pages"] == k["anon"] + k["file"], "pages != anon + file: %s" % entry
        assert entry["bytes"] == entry["pages"] * PAGE_SIZE
        assert sum(entry["by_cause"].values()) == entry["pages"]
        assert entry["by_cause"]["gc"] == sum(entry["gc_generations"].values())
    # Totals are the sum over the processes, figure by figure.
    procs = rep["processes"]
    assert tot["pages"] == sum(p["pages"] for p in procs)
    assert tot["bytes"] == sum(p["bytes"] for p in procs)
    for group in ("by_kind", "by_cause", "gc_generations"):
        for key, value in tot[group].items():
            assert value == sum(p[group][key] for p in procs), "totals.%s.%s" % (group, key)


def check_trace_matches_report(run):
    """One --trace line per copy: per process and kind, the line count is the report's count."""
    for p in run.report["processes"]:
        lines = [t for t in run.trace if t.pid == p["pid"]]
        for kind in KINDS:
            n = sum(1 for t in lines if t.kind == kind)
            assert n == p["by_kind"][kind], "pid %d kind %s: %d trace lines, report says %d" % (
                p["pid"], kind, n, p["by_kind"][kind])
    assert len(run.trace) == sum(run.report["totals"]["by_kind"].values())


@functools.lru_cache(maxsize=None)
def traced_writer(pages, *flags, mode=()):
    """cowtrace MODE --trace --json -- cow_writer -n PAGES FLAGS, run once per argument set."""
    with tempfile.TemporaryDirectory(prefix="cow_writer-") as d:
        out = os.path.join(d, "line")
        res = run_cowtrace(list(mode) + ["-T", "--", workload("cow_writer"), "-n", str(pages),
                                         "-o", out] + list(flags), json_report=True)
        assert res.returncode == 0, "cowtrace failed (%d): %s" % (res.returncode, res.stderr)
        assert res.report is not None, "no JSON report; stderr: %s" % res.stderr
        with open(out) as f:
            line = parse_cow_writer(f.read())
    return WriterRun(res, line)


def delta(run, base, *path):
    """run.child[path] - base.child[path], e.g. delta(run, base, "by_kind", "anon")."""
    a, b = run.child, base.child
    for key in path:
        a, b = a[key], b[key]
    return a - b


def check_region(run, kind, tid):
    """The trace lines inside the mapping are exactly the N writes: address, kind, pid, tid, ip."""
    line = run.line
    lines = run.region_lines()
    want = [line.base + i * PAGE_SIZE + line.offset for i in range(line.pages)]
    got = sorted(t.addr for t in lines)
    assert got == want, "%d trace lines in the mapping, want %d (%d addresses reported twice)" % (
        len(got), len(want), len(got) - len(set(got)))
    for t in lines:
        assert (t.pid, t.tid, t.kind, t.cause) == (line.pid, tid, kind, "other"), t
        assert 0 <= t.ip - line.writer < WRITER_FN_MAX, (
            "ip %#x is not in touch_pages() at %#x" % (t.ip, line.writer))


def check_child_identity(run, role="worker"):
    assert run.child["role"] == role
    assert run.child["ppid"] == run.root["pid"]
    assert run.child["pid"] != run.root["pid"]
    assert run.child["exit_s"] is not None and run.child["exit_code"] == 0
    assert run.root["exit_s"] is not None and run.root["exit_code"] == 0


@functools.lru_cache(maxsize=None)
def cowtrace_help():
    return run_cowtrace(["--help"]).stdout


# The default mode decodes every copy (it reads the written memory during the fault); counts-only
# does not. Both must count the same.
MODES = [pytest.param((), id="default"), pytest.param(("--counts-only",), id="counts-only")]


def need_mode(mode):
    """A mode is part of the tool: its option missing from --help is a failure, not a skip."""
    for opt in mode:
        assert opt in cowtrace_help(), "cowtrace --help does not offer %s" % opt


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pages", [1, 100, 1000, 4096])
def test_anon_count_is_exact(pages, mode):
    need_mode(mode)
    run, base = traced_writer(pages, mode=mode), traced_writer(0, mode=mode)
    check_report(run.report)
    check_child_identity(run)
    assert run.child["comm"] == "cow_writer"
    assert run.child["exec"] is False
    assert delta(run, base, "by_kind", "anon") == pages
    assert delta(run, base, "pages") == pages
    assert delta(run, base, "by_kind", "file") == 0
    assert delta(run, base, "by_kind", "zero") == 0
    # Not a Python process: nothing may be blamed on a collection.
    assert run.child["by_cause"]["gc"] == 0
    assert run.report["totals"]["by_cause"]["gc"] == 0
    # The parent only waits: it must not be credited with the child's writes.
    assert run.root["by_kind"]["anon"] < pages or pages < 20


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pages", [1, 100, 1000, 4096])
def test_anon_trace_addresses(pages, mode):
    need_mode(mode)
    run = traced_writer(pages, mode=mode)
    check_region(run, "anon", tid=run.line.pid)
    check_trace_matches_report(run)
    # The spare page after the N written ones was not written, so not copied.
    assert not [t for t in run.region_lines() if t.addr >= run.line.base + pages * PAGE_SIZE]


def test_thread_tid():
    pages = 100
    run, base = traced_writer(pages, "-t"), traced_writer(0, "-t")
    assert run.line.tid != run.line.pid, "cow_writer -t did not write from a second thread"
    check_report(run.report)
    check_child_identity(run)
    check_region(run, "anon", tid=run.line.tid)
    check_trace_matches_report(run)
    # The thread's copies belong to its process; a thread is not a process entry.
    assert delta(run, base, "by_kind", "anon") == pages
    assert not [p for p in run.report["processes"] if p["pid"] == run.line.tid]


def test_file_copies():
    pages = 100
    run, base = traced_writer(pages, "-k", "file"), traced_writer(0, "-k", "file")
    check_report(run.report)
    check_child_identity(run)
    check_region(run, "file", tid=run.line.pid)
    check_trace_matches_report(run)
    assert delta(run, base, "by_kind", "file") == pages
    assert delta(run, base, "pages") == pages
    assert delta(run, base, "by_kind", "anon") == 0
    assert delta(run, base, "by_kind", "zero") == 0


def test_zero_page_copies_not_in_pages():
    if not kernel_maps_zero_page():
        with open("/proc/cmdline") as f:
            why = "pvm_no_zero_page=1" if "pvm_no_zero_page=1" in f.read().split() else "?"
        pytest.skip("this kernel does not map the shared zero page (%s): a read fault on "
                    "anonymous memory gets a page of its own, no zero-page copy can happen" % why)
    pages = 100
    run, base = traced_writer(pages, "-k", "zero"), traced_writer(0, "-k", "zero")
    check_report(run.report)
    check_child_identity(run)
    check_region(run, "zero", tid=run.line.pid)
    check_trace_matches_report(run)
    assert delta(run, base, "by_kind", "zero") == pages
    # Zero-page copies are counted apart: pages, bytes and causes are unchanged.
    assert delta(run, base, "pages") == 0
    assert delta(run, base, "bytes") == 0
    assert sum(run.child["by_cause"].values()) == sum(base.child["by_cause"].values())
    assert run.report["totals"]["by_kind"]["zero"] >= pages


def test_exec_keeps_process_apart():
    pages = 100
    run, base = traced_writer(pages, "-e"), traced_writer(0, "-e")
    check_report(run.report)
    # the child runs another program now: a helper, not a worker of its parent's program
    check_child_identity(run, "helper")
    check_trace_matches_report(run)
    # One entry for the child's whole life, named after what it runs now.
    assert run.child["comm"] == "true"
    assert run.child["exec"] is True
    no_exec = traced_writer(pages)
    assert run.root["comm"] == "cow_writer"
    assert run.root["exec"] == no_exec.root["exec"], "the child's exec changed the parent's entry"
    check_region(run, "anon", tid=run.line.pid)
    # After exec nothing is shared copy-on-write any more, so the anon copies are the same as
    # without exec; the file copies /bin/true's loader makes belong to the child, not the parent.
    assert delta(run, base, "by_kind", "anon") == pages
    assert run.child["by_kind"]["file"] > 0, "the exec'd /bin/true made no file copies?"
    # anon only: the root's file copies depend on which library pages the kernel's fault-around
    # happened to map before the loader wrote them (a write to an unmapped private file page is
    # copied by do_cow_fault, not wp_page_copy), which varies from run to run
    assert run.root["by_kind"]["anon"] <= no_exec.root["by_kind"]["anon"] + 2, (
        "the parent's numbers grew when its child exec'd: %s vs %s"
        % (run.root, no_exec.root))


def _attach_run(pages, writer_flags, release_before_attach=False):
    """cow_writer waiting on stdin, cowtrace -p <its pid> attached, then released.

    Returns (WriterRun, cow_writer's parent pid)."""
    with tempfile.TemporaryDirectory(prefix="cow_writer-") as d:
        out = os.path.join(d, "line")
        w = subprocess.Popen([workload("cow_writer"), "-n", str(pages), "-o", out]
                             + writer_flags, stdin=subprocess.PIPE)
        try:
            if "-W" in writer_flags:
                # The child exists (it printed its line) before the tool starts.
                for _ in range(600):
                    if os.path.exists(out) and os.path.getsize(out) > 0:
                        break
                    subprocess.run(["sleep", "0.05"])
            with CowtraceProcess(["-T", "-p", str(w.pid)], json_report=True) as ct:
                ct.wait_attached()
                w.stdin.write(b"x")
                w.stdin.close()
                assert w.wait(60) == 0
                res = ct.finish()
        finally:
            if w.poll() is None:
                w.kill()
                w.wait()
        assert res.returncode == 0, "cowtrace failed (%d): %s" % (res.returncode, res.stderr)
        assert res.report is not None, "no JSON report; stderr: %s" % res.stderr
        with open(out) as f:
            line = parse_cow_writer(f.read())
    return WriterRun(res, line), w.pid


def test_attach_then_fork():
    """-p on a process that forks only after the tool attached: the child is followed."""
    pages = 500
    run, root_pid = _attach_run(pages, ["-w"])
    check_report(run.report)
    assert run.root["pid"] == root_pid
    check_child_identity(run)
    check_region(run, "anon", tid=run.line.pid)
    check_trace_matches_report(run)
    assert delta(run, traced_writer(0), "by_kind", "anon") == pages


def test_attach_existing_child():
    """-p on a parent whose child already exists: the child is found and traced too."""
    pages = 500
    run, root_pid = _attach_run(pages, ["-W"])
    check_report(run.report)
    assert run.root["pid"] == root_pid
    assert run.child["ppid"] == root_pid
    check_region(run, "anon", tid=run.line.pid)
    check_trace_matches_report(run)
    assert run.child["by_kind"]["anon"] >= pages
    assert run.child["exit_s"] is not None and run.child["exit_code"] == 0
