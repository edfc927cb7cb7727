# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Python stacks at each copy, and the flame graph exports (issue 4), end to end.

The workloads are tests/workloads/py/stack_*.py; this file reads their source with the ast module
to know where each function starts and ends and from which line it calls the next, so the
expected file names and line numbers are never written down twice.

  stack_scan.py   workers serve requests down serve() -> handle_request() -> lookup() ->
                  scan_shared(records), scan_shared() reading every shared record (gc off and
                  frozen): the `refcount` copies' stacks end with that chain, each frame in its
                  function's line range (and at the exact call line), under <module> -> main()
                  -> run_workers() of _common.py
  stack_gc.py     workers' allocation loop churn(), called by background_job(), sets off
                  automatic collections, full ones included, before maintenance() calls
                  gc.collect(): the `gc gen*` copies' stacks contain churn() (or maintenance())
  stack_deep.py   a worker reads shared records at the bottom of 300 levels of recursion: the
                  stacks are cut at the root end and marked "[truncated]", the innermost frames
                  (read_bottom, then descend at its call lines) are right, none is over 64 deep
  stack_reuse.py  reading functions compiled, run and dropped one after the other, their code
                  objects at one address: each one's copies carry its own name
  stack_callers.py  one reading function called from two callers in turn: each call's copies
                  are under its own caller

Every folded file any test reads is checked against the documented format (read_folded), and
its counts against the JSON report of the same run: the folded lines add up to totals.pages,
every page in exactly one line; the same run's --speedscope file holds the same stacks.

The exports (checked with flamegraph_check.py, the exporter's own helpers): --svg is strict,
self-contained XML holding the frames (escaped) with the folded counts, and opens in headless
Chromium (not blank; its script runs: a "#search=" link highlights the share of the pages the
folded file gives); --speedscope is valid against speedscope's file format and holds the same
stacks; --unit bytes multiplies by the page size; frame names with ; & < > ' " in them come out
right in each format. --no-stacks runs, and any stack output with it is a usage error.

Interpreters: Debian's python3 (3.11) and pyenv's 3.8-3.13 where present; the missing ones are
skipped, visibly.
"""

import ast
import collections
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import interpreter_params, PAGE_SIZE, REPO_ROOT, pyenv_interpreters, run_cowtrace
from flamegraph_check import (CHROMIUM, check_svg_xml, dump_svg_dom, parse_folded,
                              png_is_not_blank, png_stats, render_svg_png, svg_frames)

PY_WORKLOADS = REPO_ROOT / "tests" / "workloads" / "py"
COMMON = PY_WORKLOADS / "_common.py"
DEBIAN_PYTHON = "/usr/bin/python3"
PYENV_WANTED = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]
RUN_TIMEOUT = 90

STACK_MAX = 64  # Python frames walked at most (COW_STACK_MAX)
CAUSE_FRAMES = {"gc gen0", "gc gen1", "gc gen2", "gc gen?", "refcount", "gc_list",
                "alloc_into_shared", "mutation", "allocator", "native", "unknown"}
CAUSES = ["gc", "refcount", "gc_list", "alloc_into_shared", "mutation", "allocator", "native",
          "unknown", "unattributed"]
FIELDS = {"gc_header", "pre_header", "ob_refcnt", "ob_type", "payload", "pool_header",
          "free_block", "unknown"}
NO_STACK = "[no Python stack]"
TRUNCATED = "[truncated]"
SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"

CHAIN = ["serve", "handle_request", "lookup", "scan_shared"]
# Share of the workers' refcount pages whose stacks must end with CHAIN, right.
MIN_CHAIN_SHARE = 0.80
# Share of the workers' gc pages that must be under churn() or maintenance().
MIN_GC_SHARE = 0.80
# Share of a deep worker's refcount pages on truncated stacks ending right.
MIN_DEEP_SHARE = 0.80

INFO_RE = re.compile(r"^info (.*)$", re.M)
WORKER_RE = re.compile(r"^worker pid=(\d+)$", re.M)


# ---------------------------------------------------------------------------------------------
# Interpreters


INTERPRETERS = interpreter_params(DEBIAN_PYTHON, PYENV_WANTED)


def need_debian_python():
    if not Path(DEBIAN_PYTHON).exists():
        pytest.skip("no %s" % DEBIAN_PYTHON)
    return DEBIAN_PYTHON


# ---------------------------------------------------------------------------------------------
# The folded format

Stack = collections.namedtuple("Stack", "role comm cause python leaf count text")
Stack.__doc__ = """One folded line: role ("root"|"worker"), comm, cause frame ("refcount",
"gc gen2", ...), python (the Python frames outermost first, markers included), leaf
("<type> <field>"), count, text (the line, for messages)."""

Frame = collections.namedtuple("Frame", "name file line")
FRAME_RE = re.compile(r"^(?P<name>.+?) \((?P<file>.+?)(?::(?P<line>\d+))?\)$")


def parse_frame(text):
    """"qualname (file:line)" -> Frame; anything else (a marker, "?") -> Frame(text, None, None)."""
    m = FRAME_RE.match(text)
    if not m:
        return Frame(text, None, None)
    return Frame(m["name"], m["file"], int(m["line"]) if m["line"] else None)


def read_folded(path):
    """The folded file's lines as Stacks, after checking every line against the documented
    format: "frame;frame;...;frame COUNT", frame 1 "<role> <comm>", frame 2 a cause, then the
    Python frames (or "[no Python stack]"; "[truncated]" only as the outermost one, and at most
    64 of them besides it), last "<type> <field>"; no empty frame, no stack twice."""
    text = Path(path).read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), "%s: last line not ended" % path
    stacks = []
    seen = set()
    for n, line in enumerate(text.splitlines(), 1):
        where = "%s:%d: %r" % (path, n, line[:400])
        m = re.fullmatch(r"(.+) (\d+)", line)
        assert m, "not 'STACK COUNT': " + where
        frames = m[1].split(";")
        count = int(m[2])
        assert count > 0, where
        assert all(frames), "empty frame: " + where
        assert len(frames) >= 4, "fewer than 4 frames: " + where
        role, _, comm = frames[0].partition(" ")
        assert role in ("root", "worker", "master", "helper") and comm, \
            "frame 1 not '<role> <comm>': " + where
        assert frames[1] in CAUSE_FRAMES, "frame 2 not a cause: " + where
        typ, _, field = frames[-1].rpartition(" ")
        assert typ and field in FIELDS, "last frame not '<type> <field>': " + where
        python = frames[2:-1]
        if NO_STACK in python:
            assert python == [NO_STACK], "%s with other frames: %s" % (NO_STACK, where)
        if TRUNCATED in python:
            assert python.index(TRUNCATED) == 0 and python.count(TRUNCATED) == 1, \
                "%s not the outermost frame: %s" % (TRUNCATED, where)
        real = [f for f in python if f not in (NO_STACK, TRUNCATED)]
        assert len(real) <= STACK_MAX, "%d Python frames (max %d): %s" % (len(real), STACK_MAX,
                                                                          where)
        assert m[1] not in seen, "stack listed twice: " + where
        seen.add(m[1])
        stacks.append(Stack(role, comm, frames[1], python, frames[-1], count, line))
    return stacks


def folded_dict(stacks):
    """{tuple(all frames): count}"""
    return {tuple(s.text.rsplit(" ", 1)[0].split(";")): s.count for s in stacks}


def top_lines(stacks, n=12, keep=None, width=700):
    """For failure messages: the n heaviest lines (those keep() accepts), count first."""
    chosen = [s for s in stacks if keep is None or keep(s)]
    chosen.sort(key=lambda s: -s.count)
    out = ["  %7d  %s" % (s.count, s.text.rsplit(" ", 1)[0][-width:]) for s in chosen[:n]]
    if len(chosen) > n:
        out.append("  (%d more lines)" % (len(chosen) - n))
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# The workloads' source: function line ranges and call lines


class Source:
    """Line facts of one Python file, from its ast: ranges[qualname] = (first, last) line of the
    function (decorators included); calls[(caller, callee)] = lines where caller calls callee;
    toplevel(line): the line lies outside every function (a <module> frame's line)."""

    def __init__(self, path):
        self.path = str(path)
        tree = ast.parse(Path(path).read_text(), str(path))
        self.ranges = {}
        self.calls = collections.defaultdict(set)
        self._visit(tree, "", None)

    def _visit(self, node, prefix, func):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                self.ranges[name] = (first, child.end_lineno)
                self._visit(child, name + ".<locals>.", name)
            elif isinstance(child, ast.ClassDef):
                self._visit(child, prefix + child.name + ".", func)
            else:
                if isinstance(child, ast.Call):
                    f = child.func
                    callee = f.id if isinstance(f, ast.Name) else \
                        f.attr if isinstance(f, ast.Attribute) else None
                    if callee:
                        self.calls[(func or "<module>", callee)].add(child.lineno)
                self._visit(child, prefix, func)

    def toplevel(self, line):
        return not any(a <= line <= b for a, b in self.ranges.values())

    def call_line(self, caller, callee):
        lines = self.calls[(caller, callee)]
        assert len(lines) == 1, "%s: %s calls %s on lines %s" % (self.path, caller, callee,
                                                               sorted(lines))
        return next(iter(lines))


def names_match(frame_name, qualname):
    """A frame's name is the function's qualname (3.11+: co_qualname) or, on 3.8-3.10 where
    code objects have no qualname, its last component (co_name)."""
    return frame_name == qualname or frame_name == qualname.rsplit(".", 1)[-1]


def frame_in(frame, src, qualname, line=None):
    """frame is qualname's, in src's file, at a line of the function (or exactly line)."""
    if not isinstance(frame, Frame):
        frame = parse_frame(frame)
    if not names_match(frame.name, qualname) or frame.file != src.path or frame.line is None:
        return False
    if line is not None:
        return frame.line == line
    first, last = src.ranges[qualname]
    return first <= frame.line <= last


def ends_with_chain(stack, src, chain):
    """The innermost Python frames are chain (outermost first), each one in its function."""
    py = [parse_frame(f) for f in stack.python]
    return len(py) >= len(chain) and all(
        frame_in(f, src, name) for f, name in zip(py[-len(chain):], chain))


def names_in_order(stack, chain):
    """chain's names appear in the stack in this order (any file, line, gaps): diagnostics."""
    it = iter(parse_frame(f).name for f in stack.python)
    return all(any(names_match(n, c) for n in it) for c in chain)


def contains_pair(stack, src, caller, callee):
    """Index of callee's frame when it is right after caller's (both right), else None."""
    py = [parse_frame(f) for f in stack.python]
    for i in range(1, len(py)):
        if frame_in(py[i], src, callee) and frame_in(py[i - 1], src, caller):
            return i
    return None


# ---------------------------------------------------------------------------------------------
# Running a workload under cowtrace with every stack output (each distinct run once)

Run = collections.namedtuple("Run", "command report stdout stderr info workers stacks paths")
_runs = {}


@pytest.fixture(scope="session")
def outdir(tmp_path_factory):
    return tmp_path_factory.mktemp("stacks")


def run(outdir, python, script, *args, unit=None, opts=()):
    """cowtrace --folded F --svg S --speedscope P --json R --by stack [--unit U] [opts] --
    python script args, checked (exit 0, report, folded format, info line) and parsed. A failed
    run fails every test that uses it with the same message, without running again."""
    key = (python, str(script), unit, tuple(opts)) + tuple(args)
    if key not in _runs:
        d = Path(tempfile.mkdtemp(prefix="run-", dir=str(outdir)))
        try:
            _runs[key] = _run_checked(d, python, script, args, unit, opts)
        except AssertionError as e:
            _runs[key] = str(e)
    if isinstance(_runs[key], str):
        pytest.fail(_runs[key], pytrace=False)
    return _runs[key]


def _run_checked(d, python, script, args, unit, extra=()):
    paths = {"folded": d / "cow.folded", "svg": d / "cow.svg",
             "speedscope": d / "cow.speedscope.json", "json": d / "cow.json"}
    opts = ["--folded", paths["folded"], "--svg", paths["svg"], "--speedscope",
            paths["speedscope"], "--json", paths["json"], "--by", "stack"]
    if unit:
        opts += ["--unit", unit]
    opts += list(extra)
    cmd = [python, str(script)] + [str(a) for a in args]
    command = "cowtrace %s -- %s" % (" ".join(str(o) for o in opts), " ".join(cmd))
    rc, out, err, rep = run_cowtrace(opts + ["--"] + cmd, RUN_TIMEOUT)
    assert rc == 0, "%s: rc=%d\nstdout:\n%s\nstderr:\n%s" % (command, rc, out[-3000:],
                                                             err[-3000:])
    assert rep is not None, "%s: no JSON report; stderr:\n%s" % (command, err[-3000:])
    for k, p in paths.items():
        assert p.is_file(), "%s: no %s file %s" % (command, k, p)
    stacks = read_folded(paths["folded"])
    m = INFO_RE.search(out)
    assert m, "%s: no info line in stdout:\n%s" % (command, out[-2000:])
    info = {}
    for kv in m.group(1).split():
        k, v = kv.split("=", 1)
        info[k] = int(v) if re.fullmatch(r"-?\d+", v) else v
    workers = sorted(int(p) for p in WORKER_RE.findall(out))
    return Run(command, rep, out, err, info, workers, stacks, paths)


def describe(r, keep=None, n=12):
    """For failure messages: command, totals by cause, per process, the top folded lines."""
    tot = r.report["totals"]
    lines = [r.command, "info: %s" % json.dumps(r.info, sort_keys=True),
             "totals: pages %d  %s" % (tot["pages"], " ".join(
                 "%s=%d" % (c, tot["by_cause"][c]) for c in CAUSES if tot["by_cause"].get(c)))]
    for p in r.report["processes"]:
        lines.append("  pid %d %-6s pages %6d  %s" % (p["pid"], p["role"], p["pages"], " ".join(
            "%s=%d" % (c, p["by_cause"][c]) for c in CAUSES if p["by_cause"].get(c))))
    lines.append("top folded lines%s:" % ("" if keep is None else " (selected)"))
    lines.append(top_lines(r.stacks, n, keep))
    return "\n".join(lines)


def worker_stacks(r, cause):
    """The workers' lines of one cause frame ("gc" for any "gc gen*")."""
    if cause == "gc":
        return [s for s in r.stacks if s.role == "worker" and s.cause.startswith("gc gen")]
    return [s for s in r.stacks if s.role == "worker" and s.cause == cause]


def total(stacks, keep=None):
    return sum(s.count for s in stacks if keep is None or keep(s))


def check_python_version(r, version):
    for p in r.report["processes"]:
        py = p.get("python")
        assert py is not None and py["version"].startswith(version + "."), \
            "pid %d python %r, expected %s\n%s" % (p["pid"], py, version, describe(r))


# ---------------------------------------------------------------------------------------------
# 1. refcount copies under a known chain of calls


def scan_run(outdir, python):
    return run(outdir, python, PY_WORKLOADS / "stack_scan.py")


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_refcount_chain(outdir, interp):
    """At least 80% of the workers' refcount pages are on stacks ending serve ->
    handle_request -> lookup -> scan_shared, stack_scan.py's file and a line inside each."""
    python, version = interp
    r = scan_run(outdir, python)
    check_python_version(r, version)
    src = Source(PY_WORKLOADS / "stack_scan.py")
    refcount = worker_stacks(r, "refcount")
    ref_pages = total(refcount)
    workers = len(r.workers)
    assert workers == 2, describe(r)
    # the workload did what it says: each worker's scan copied its pages by refcount
    assert ref_pages >= 0.9 * workers * r.info["read_pages"], \
        "workers' refcount pages %d, expected about %d x %d\n%s" % (
            ref_pages, workers, r.info["read_pages"], describe(r))
    chained = total(refcount, lambda s: ends_with_chain(s, src, CHAIN))
    named = total(refcount, lambda s: names_in_order(s, CHAIN))
    share = chained / ref_pages
    print("refcount chain share %s: %.4f (%d of %d pages; names in order, any line: %d)"
          % (version, share, chained, ref_pages, named))
    assert share >= MIN_CHAIN_SHARE, \
        "%d of %d worker refcount pages (%.1f%%) end with %s at the right file and lines " \
        "(%d with the names in order, any file/line); ranges %s\n%s" % (
            chained, ref_pages, 100 * share, " -> ".join(CHAIN), named,
            {c: src.ranges[c] for c in CHAIN}, describe(r, lambda s: s.role == "worker" and
                                                        s.cause == "refcount"))


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_refcount_whole_stack(outdir, interp):
    """The same pages' whole stacks, frame for frame: <module> at the main() call, main at
    its run_workers() call, run_workers (_common.py) at its work() call, serve, handle_request
    and lookup at the line of their call to the next, scan_shared in its loop; nothing else."""
    python, version = interp
    r = scan_run(outdir, python)
    src = Source(PY_WORKLOADS / "stack_scan.py")
    common = Source(COMMON)
    expect = [
        lambda f: names_match(f.name, "<module>") and f.file == src.path and
        f.line == src.call_line("<module>", "main"),
        lambda f: frame_in(f, src, "main", src.call_line("main", "run_workers")),
        lambda f: frame_in(f, common, "run_workers", common.call_line("run_workers", "work")),
        lambda f: frame_in(f, src, "serve", src.call_line("serve", "handle_request")),
        lambda f: frame_in(f, src, "handle_request", src.call_line("handle_request", "lookup")),
        lambda f: frame_in(f, src, "lookup", src.call_line("lookup", "scan_shared")),
        lambda f: frame_in(f, src, "scan_shared"),
    ]

    def whole(s):
        py = [parse_frame(f) for f in s.python]
        return len(py) == len(expect) and all(e(f) for e, f in zip(expect, py))

    refcount = worker_stacks(r, "refcount")
    ref_pages = total(refcount)
    right = total(refcount, whole)
    print("refcount whole-stack share %s: %.4f (%d of %d)" % (version, right / max(ref_pages, 1),
                                                             right, ref_pages))
    assert ref_pages and right >= MIN_CHAIN_SHARE * ref_pages, \
        "%d of %d worker refcount pages have exactly the expected 7 frames\n%s" % (
            right, ref_pages, describe(r, lambda s: s.role == "worker" and
                                       s.cause == "refcount"))
    # the scan's loop lines: every chained refcount page's innermost line is in the for loop
    loop = _for_loop_lines(src, "scan_shared")
    in_loop = total(refcount, lambda s: whole(s) and loop[0] <= parse_frame(s.python[-1]).line
                    <= loop[1])
    assert in_loop == right, "scan_shared lines outside its loop %s:\n%s" % (
        loop, top_lines(refcount, 12, lambda s: whole(s)))


def _for_loop_lines(src, func):
    tree = ast.parse(Path(src.path).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == func:
            for n in ast.walk(node):
                if isinstance(n, ast.For):
                    return n.lineno, n.end_lineno
    raise AssertionError("no for loop in %s" % func)


def test_text_report_by_stack(outdir):
    """--by stack: the refcount section says the folded file's refcount total, and its top
    stack ends with the chain (innermost frames, as the report prints them)."""
    r = scan_run(outdir, need_debian_python())
    all_ref = total([s for s in r.stacks if s.cause == "refcount"])
    lines = (r.stdout + r.stderr).splitlines()
    heads = [i for i, l in enumerate(lines) if re.match(r"^refcount: (\d+) pages", l)]
    assert len(heads) == 1, "no (or several) 'refcount: N pages' lines:\n%s" % "\n".join(lines)
    i = heads[0]
    assert int(re.match(r"^refcount: (\d+) pages", lines[i]).group(1)) == all_ref, \
        "%s; folded refcount total %d" % (lines[i], all_ref)
    # the first stack: a "  COUNT PCT% TYPE FIELD in ROLE COMM" line, then its frames
    assert re.match(r"^\s+\d+\s+\d+\.\d%\s+\S+ \S+ in worker ", lines[i + 1]), lines[i + 1]
    frames = []
    for l in lines[i + 2:]:
        if not l.startswith(" " * 10) or re.match(r"^\s+\d+\s+\d+\.\d%", l):
            break
        frames.append(l.strip())
    names = [parse_frame(f).name for f in frames]
    assert names[-len(CHAIN):] == CHAIN, "top refcount stack %r, expected to end with %r\n%s" \
        % (frames, CHAIN, "\n".join(lines[i:i + 14]))


# ---------------------------------------------------------------------------------------------
# 2. gc copies under the allocation loop


def gc_run(outdir, python):
    return run(outdir, python, PY_WORKLOADS / "stack_gc.py")


def collections_per_worker(r):
    """{pid: {0: n, 1: n, 2: n}} from the workers' 'worker collections' lines."""
    out = {}
    for m in re.finditer(r"^worker collections pid=(\d+) gen0=(\d+) gen1=(\d+) gen2=(\d+)$",
                         r.stdout, re.M):
        out[int(m[1])] = {0: int(m[2]), 1: int(m[3]), 2: int(m[4])}
    return out


def gc_premise(r):
    """The workload's premise: each worker ran automatic full collections within churn()."""
    ran = collections_per_worker(r)
    assert sorted(ran) == r.workers and len(r.workers) == 2, describe(r)
    for pid, gens in ran.items():
        assert gens[2] >= 1 and gens[0] >= 10, "worker %d collections %s\n%s" % (
            pid, gens, describe(r))


def churn_index(s, src):
    """Index of churn()'s frame when background_job() called it (both right), else None."""
    return contains_pair(s, src, "background_job", "churn")


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_gc_under_allocation_loop(outdir, interp):
    """The workers' gc copies: their full collections ran from churn() (called by
    background_job(), each at a line of its function), so the gc pages under churn are about
    the shared containers' pages, and churn() or maintenance() (its gc.collect()) hold at
    least 80% of all gc pages. Where the report knows the collections' generations, those
    pages are "gc gen2"."""
    python, version = interp
    r = gc_run(outdir, python)
    check_python_version(r, version)
    gc_premise(r)
    src = Source(PY_WORKLOADS / "stack_gc.py")

    def under_churn(s):
        return churn_index(s, src) is not None

    def under_maintenance(s):
        i = contains_pair(s, src, "worker", "maintenance")
        return i is not None and i == len(s.python) - 1

    gcs = worker_stacks(r, "gc")
    gc_pages = total(gcs)
    churn = total(gcs, under_churn)
    churn_gen2 = total(gcs, lambda s: s.cause == "gc gen2" and under_churn(s))
    maint = total(gcs, under_maintenance)
    share = (churn + maint) / max(gc_pages, 1)
    print("gc %s: %d worker gc pages, %d under churn (%d gen2), %d under maintenance: %.4f"
          % (version, gc_pages, churn, churn_gen2, maint, share))
    ctx = describe(r, lambda s: s.role == "worker" and s.cause.startswith("gc gen"))
    n = len(r.workers)
    assert churn >= 0.9 * n * r.info["gc_pages"], \
        "gc pages under background_job -> churn: %d, expected about %d x %d (ranges %s)" \
        "\n%s" % (churn, n, r.info["gc_pages"],
                  {f: src.ranges[f] for f in ("background_job", "churn")}, ctx)
    assert share >= MIN_GC_SHARE, \
        "%d + %d of %d worker gc pages under churn / maintenance (%.1f%%)\n%s" % (
            churn, maint, gc_pages, 100 * share, ctx)
    if r.report["totals"]["gc_generations"].get("unknown", 0) == 0:
        assert churn_gen2 >= 0.9 * n * r.info["gc_pages"], \
            "gc gen2 pages under churn: %d of %d\n%s" % (churn_gen2, churn, ctx)


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_gc_frames_below_churn(outdir, interp):
    """Between churn() and the collection, the only Python frame there can be is
    Node.__init__ (an allocation there may set a collection off): no frame of the
    interpreter's own that Python's tracebacks and sys._getframe() do not show either (3.13's
    __init__ shim, say)."""
    python, version = interp
    r = gc_run(outdir, python)
    src = Source(PY_WORKLOADS / "stack_gc.py")
    gcs = worker_stacks(r, "gc")
    under = [s for s in gcs if churn_index(s, src) is not None]
    wrong = [s for s in under
             if not all(frame_in(f, src, "Node.__init__")
                        for f in s.python[churn_index(s, src) + 1:])]
    assert under, describe(r)
    assert total(wrong) == 0, "%d of %d gc pages under churn have other frames below it:\n%s" \
        % (total(wrong), total(under), top_lines(wrong, 5))


# ---------------------------------------------------------------------------------------------
# 3. The folded counts are the report's


def check_round_trip(r):
    """The folded counts against the JSON report of the same run: all pages, per cause (gc and
    its generations exactly; the others within the unattributed pages), per role."""
    rep = r.report
    tot = rep["totals"]
    ctx = describe(r)
    unit = PAGE_SIZE if "--unit bytes" in r.command else 1
    counts = [s.count for s in r.stacks]
    assert all(c % unit == 0 for c in counts), "counts not multiples of %d\n%s" % (unit, ctx)
    assert sum(counts) == unit * tot["pages"], \
        "folded counts add up to %d, report totals.pages %d (x%d)\n%s" % (
            sum(counts), tot["pages"], unit, ctx)
    by = collections.Counter()
    for s in r.stacks:
        by["gc" if s.cause.startswith("gc gen") else s.cause] += s.count // unit
    slack = tot["by_cause"].get("unattributed", 0)
    assert by["gc"] == tot["by_cause"]["gc"], "gc: folded %d, report %d\n%s" % (
        by["gc"], tot["by_cause"]["gc"], ctx)
    gens = tot.get("gc_generations")
    if gens is not None:
        for g in ("0", "1", "2"):
            got = sum(s.count // unit for s in r.stacks if s.cause == "gc gen" + g)
            assert got == gens[g], "gc gen%s: folded %d, report %d\n%s" % (g, got, gens[g], ctx)
        got = sum(s.count // unit for s in r.stacks if s.cause == "gc gen?")
        assert got == gens.get("unknown", 0), "gc gen?: folded %d, report unknown %d\n%s" % (
            got, gens.get("unknown", 0), ctx)
    for c in CAUSES:
        if c in ("gc", "unattributed"):
            continue
        want = tot["by_cause"][c]
        assert want <= by[c] <= want + slack, "%s: folded %d, report %d (+%d unattributed)\n%s" \
            % (c, by[c], want, slack, ctx)
    assert set(by) <= set(CAUSES), (sorted(by), ctx)
    for role in ("root", "worker"):
        want = sum(p["pages"] for p in rep["processes"] if p["role"] == role)
        got = sum(s.count // unit for s in r.stacks if s.role == role)
        assert got == want, "%s lines add up to %d, %s processes' pages %d\n%s" % (
            role, got, role, want, ctx)
    # the exporter's own reader agrees, line for line
    parsed = parse_folded(str(r.paths["folded"]))
    assert {tuple(f): c for f, c in parsed} == folded_dict(r.stacks), ctx


@pytest.mark.parametrize("interp", INTERPRETERS)
@pytest.mark.parametrize("script", ["scan", "gc"])
def test_folded_matches_report(outdir, interp, script):
    python, _ = interp
    r = scan_run(outdir, python) if script == "scan" else gc_run(outdir, python)
    check_round_trip(r)


def test_per_process(outdir):
    """--per-process: frame 1 is "<role> <comm> [PID]", one column per process, and each
    process's lines add up to its pages in the JSON report of the same run."""
    python = need_debian_python()
    r = run(outdir, python, PY_WORKLOADS / "stack_scan.py", "--records", "30000",
            opts=("--per-process",))
    check_round_trip(r)
    per_pid = collections.Counter()
    for s in r.stacks:
        m = re.fullmatch(r"(.+) \[(\d+)\]", s.comm)
        assert m, "frame 1 without a pid: " + s.text
        per_pid[int(m[2])] += s.count
    procs = {p["pid"]: p for p in r.report["processes"]}
    assert len(r.workers) >= 2 and set(r.workers) <= set(per_pid), (r.workers, per_pid)
    for pid, pages in per_pid.items():
        assert pid in procs and procs[pid]["pages"] == pages, (pid, pages, procs.get(pid))


def test_unit_bytes(outdir):
    """--unit bytes: every count a multiple of the page size, the total totals.pages times it,
    in the folded file and the speedscope file (unit "bytes") alike."""
    r = run(outdir, need_debian_python(), PY_WORKLOADS / "stack_scan.py", "--records", "30000",
            unit="bytes")
    check_round_trip(r)
    doc = check_speedscope(r.paths["speedscope"], r.stacks)
    assert doc["profiles"][0]["unit"] == "bytes", doc["profiles"][0]["unit"]
    assert sum(doc["profiles"][0]["weights"]) == PAGE_SIZE * r.report["totals"]["pages"]


# ---------------------------------------------------------------------------------------------
# 4. SVG and speedscope


def svg_counts(path):
    """{frame name: summed count} over the SVG's drawn frames."""
    out = collections.Counter()
    for f in svg_frames(str(path)):
        out[f.name] += f.count
    return out


def check_svg(r, frames):
    """Strictly well-formed and self-contained, and each of frames (folded names) is an SVG
    frame whose counts add up to the folded lines' that contain it (less what is too narrow to
    draw)."""
    names = set(check_svg_xml(str(r.paths["svg"])))
    counts = svg_counts(r.paths["svg"])
    total_count = sum(s.count for s in r.stacks)
    assert counts.get("all") == total_count, "the 'all' frame: %r, total %d" % (
        counts.get("all"), total_count)
    for f in frames:
        want = sum(s.count * s.text.rsplit(" ", 1)[0].split(";").count(f) for s in r.stacks)
        got = counts.get(f, 0)
        assert f in names and want - 0.001 * total_count <= got <= want, \
            "SVG frame %r: %d in titles, %d in the folded file; names like it: %s" % (
                f, got, want, [t for t in names if f[:12] in t][:10])


def chain_stack(r):
    """The heaviest worker refcount line ending with the chain: its frames."""
    src = Source(PY_WORKLOADS / "stack_scan.py")
    best = max((s for s in worker_stacks(r, "refcount") if ends_with_chain(s, src, CHAIN)),
               key=lambda s: s.count, default=None)
    assert best is not None, describe(r)
    return best.text.rsplit(" ", 1)[0].split(";")


def test_svg_well_formed(outdir):
    """The SVG parses as strict XML, holds every frame of the chain's stack ("<module>"
    escaped in the file, itself in the parsed text) with the folded file's counts."""
    r = scan_run(outdir, need_debian_python())
    frames = chain_stack(r)
    assert any(f.startswith("<module> (") for f in frames), frames
    check_svg(r, frames)
    raw = r.paths["svg"].read_text(encoding="utf-8")
    assert "&lt;module&gt; (" in raw and "<module> (" not in raw, \
        "'<module>' not escaped in the SVG"


def need_chromium():
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")):
        pytest.skip("no headless Chromium (apt-get install -y chromium)")


def test_svg_in_chromium(outdir, tmp_path):
    """Headless Chromium renders the SVG (a screenshot with a drawn flame graph in it: not one
    flat color), and its script runs: '#search=scan_shared' shows the share of the pages under
    scan_shared frames that the folded file gives."""
    need_chromium()
    r = scan_run(outdir, need_debian_python())
    png = render_svg_png(str(r.paths["svg"]), str(tmp_path / "cow.png"))
    st = png_stats(png)
    print("screenshot: %.1f%% drawn, %d colors" % (100 * st.non_background, st.colors))
    assert png_is_not_blank(png) and st.non_background >= 0.05, \
        "screenshot %s looks blank: %s" % (png, st)
    dom = dump_svg_dom(str(r.paths["svg"]), "search=scan_shared")
    m = re.search(r'id="matched"[^>]*>Matched: (\d+\.\d+)%', dom)
    assert m, "no 'Matched: N%' after a #search= link: the script did not run?"
    all_pages = sum(s.count for s in r.stacks)
    want = 100 * total(r.stacks, lambda s: any("scan_shared" in f for f in s.python)) / all_pages
    assert abs(float(m[1]) - want) <= 0.5, "browser matched %s%%, folded %.2f%%" % (m[1], want)


def check_speedscope(path, stacks):
    """speedscope's file format: $schema, shared.frames[{name}], profiles[{type: sampled, name,
    unit, startValue, endValue, samples, weights}], and the same stacks and counts as the
    folded file of the same run. Returns the document."""
    with open(str(path)) as f:
        doc = json.load(f)
    assert doc.get("$schema") == SPEEDSCOPE_SCHEMA, doc.get("$schema")
    frames = doc["shared"]["frames"]
    assert frames and all(isinstance(fr.get("name"), str) for fr in frames), frames[:5]
    assert len(doc["profiles"]) >= 1
    idx = doc.get("activeProfileIndex", 0)
    assert idx is None or 0 <= idx < len(doc["profiles"]), idx
    prof = doc["profiles"][0]
    assert prof["type"] == "sampled", prof["type"]
    for k in ("name", "unit", "startValue", "endValue", "samples", "weights"):
        assert k in prof, "profile without %r: %s" % (k, sorted(prof))
    assert prof["unit"] in ("none", "nanoseconds", "microseconds", "milliseconds", "seconds",
                            "bytes"), prof["unit"]
    assert len(prof["samples"]) == len(prof["weights"]), "samples and weights differ in length"
    got = collections.Counter()
    for sample, weight in zip(prof["samples"], prof["weights"]):
        assert all(isinstance(i, int) and 0 <= i < len(frames) for i in sample), sample
        got[tuple(frames[i]["name"] for i in sample)] += weight
    assert prof["endValue"] - prof["startValue"] == sum(prof["weights"]), \
        (prof["startValue"], prof["endValue"], sum(prof["weights"]))
    want = folded_dict(stacks)
    assert dict(got) == want, "speedscope stacks differ from the folded ones: %d vs %d stacks," \
        " %d in common" % (len(got), len(want), len(set(got) & set(want)))
    return doc


def test_speedscope(outdir):
    r = scan_run(outdir, need_debian_python())
    doc = check_speedscope(r.paths["speedscope"], r.stacks)
    assert doc["profiles"][0]["unit"] == "none"  # pages: speedscope has no such unit
    assert sum(doc["profiles"][0]["weights"]) == r.report["totals"]["pages"]


ODD_DIR = "odd dir; a&b <c> 'd\" e"


def test_escaping(outdir, tmp_path):
    """A workload whose file name holds ; & < > ' " and spaces: ';' becomes ':' in every
    format (it separates folded frames), the rest stays as it is: the chain resolves to that
    file, the SVG is still strict XML with the names intact, speedscope has the same stacks."""
    python = need_debian_python()
    d = tmp_path / ODD_DIR
    d.mkdir()
    for f in ("stack_scan.py", "_common.py"):
        shutil.copy(str(PY_WORKLOADS / f), str(d / f))
    script = d / "stack_scan.py"
    r = run(outdir, python, script, "--records", "30000")
    folded_name = str(script).replace(";", ":")
    src = Source(script)
    src.path = folded_name
    chained = total(worker_stacks(r, "refcount"), lambda s: ends_with_chain(s, src, CHAIN))
    ref_pages = total(worker_stacks(r, "refcount"))
    assert ref_pages and chained >= MIN_CHAIN_SHARE * ref_pages, \
        "%d of %d refcount pages under the chain in %r\n%s" % (chained, ref_pages, folded_name,
                                                               describe(r))
    assert not any(str(script) in s.text for s in r.stacks), "';' kept in a folded frame"
    frames = chain_stack_at(r, src)
    assert any(ODD_DIR.replace(";", ":") in f for f in frames), frames
    check_svg(r, frames)
    check_speedscope(r.paths["speedscope"], r.stacks)
    check_round_trip(r)


def test_hostile_code_names(outdir):
    """Code names the traced program chose (code.replace): one full of the outputs' syntax
    (; < & and a space), one with terminal escape sequences and a newline. The first is one
    frame in every format (';' as ':'), escaped in the SVG; the second reaches no output raw:
    no escape character, no BEL, no line broken inside a frame, in the folded file, the SVG,
    speedscope's file or the text report."""
    python = need_debian_python()
    r = run(outdir, python, PY_WORKLOADS / "stack_hostile_names.py", "--records", "60000")
    syntax = bytes.fromhex(r.info["syntax_name"]).decode().replace(";", ":")
    ref = worker_stacks(r, "refcount")
    under = total(ref, lambda s: any(f.startswith(syntax + " (") for f in s.python))
    # a worker reads half of the records under each name
    assert under >= 0.3 * total(ref), "%d of %d refcount pages under %r\n%s" % (
        under, total(ref), syntax, describe(r))
    names = check_svg_xml(r.paths["svg"])
    assert any(n.startswith(syntax + " (") for n in names), names[:40]
    svg = r.paths["svg"].read_text(encoding="utf-8")
    assert "<script>alert" not in svg and "&lt;script&gt;alert" in svg
    doc = check_speedscope(r.paths["speedscope"], r.stacks)
    assert any(f["name"].startswith(syntax + " (") for f in doc["shared"]["frames"])
    for what, text in (("folded", r.paths["folded"].read_text(encoding="utf-8")),
                       ("svg", svg), ("speedscope", r.paths["speedscope"].read_text()),
                       ("text report", r.stdout)):
        for ch in ("\x1b", "\x07"):
            assert ch not in text, "%r in the %s" % (ch, what)
    assert not any("pwned" in f for s in r.stacks for f in s.python), \
        "the name with escape sequences was shown (its control characters replaced or not)"


def chain_stack_at(r, src):
    best = max((s for s in worker_stacks(r, "refcount") if ends_with_chain(s, src, CHAIN)),
               key=lambda s: s.count)
    return best.text.rsplit(" ", 1)[0].split(";")


# ---------------------------------------------------------------------------------------------
# 6. Deep recursion


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_deep_recursion_truncated(outdir, interp):
    """A worker reads shared records under 300 levels of descend(): its refcount stacks are
    marked "[truncated]" as their outermost frame, then only descend() frames, at the line of
    its recursive call, the innermost at its call to read_bottom(), then read_bottom() in its
    loop; 64 Python frames at most, and all 64 used."""
    python, version = interp
    r = run(outdir, python, PY_WORKLOADS / "stack_deep.py")
    check_python_version(r, version)
    src = Source(PY_WORKLOADS / "stack_deep.py")
    recurse = src.call_line("descend", "descend")
    bottom = src.call_line("descend", "read_bottom")

    def right(s):
        py = s.python
        if len(py) < 3 or py[0] != TRUNCATED or not frame_in(py[-1], src, "read_bottom"):
            return False
        if not frame_in(py[-2], src, "descend", bottom):
            return False
        return all(frame_in(f, src, "descend", recurse) for f in py[1:-2])

    refcount = worker_stacks(r, "refcount")
    ref_pages = total(refcount)
    assert ref_pages >= 0.9 * r.info["read_pages"], "refcount pages %d, read_pages %d\n%s" % (
        ref_pages, r.info["read_pages"], describe(r))
    good = [s for s in refcount if right(s)]
    depths = collections.Counter(len(s.python) - 1 for s in good)
    share = total(good) / ref_pages
    print("deep %s: %.4f of refcount pages on right truncated stacks, depths %s"
          % (version, share, dict(depths)))
    ctx = describe(r, lambda s: s.role == "worker" and s.cause == "refcount", n=5)
    assert share >= MIN_DEEP_SHARE, "%d of %d refcount pages on truncated stacks ending " \
        "descend:%d -> descend:%d -> read_bottom\n%s" % (total(good), ref_pages, recurse,
                                                           bottom, ctx)
    # not cut short: a walk that stops early and says "truncated" would pass the above
    assert set(depths) == {STACK_MAX}, "truncated stacks hold %s Python frames, not %d\n%s" % (
        dict(depths), STACK_MAX, ctx)
    # never a truncated stack that is wrong: all of them end right
    wrong = [s for s in refcount if s.python[:1] == [TRUNCATED] and not right(s)]
    assert total(wrong) <= 0.02 * ref_pages, "truncated stacks that end wrong:\n%s" % (
        top_lines(wrong, 5))


# ---------------------------------------------------------------------------------------------
# Code objects freed and their address reused


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_reused_code_address(outdir, interp):
    """Readers reader_0..reader_5 compiled, run and dropped in turn, their code objects at one
    address: each one's refcount pages carry its own name and file ("<reader-k>"), as many as
    the workload computed for it."""
    python, version = interp
    r = run(outdir, python, PY_WORKLOADS / "stack_reuse.py")
    check_python_version(r, version)
    readers = r.info["readers"]
    codes = {}
    for m in re.finditer(r"^reader pid=\d+ k=(\d+) code=(0x[0-9a-f]+)$", r.stdout, re.M):
        codes[int(m[1])] = m[2]
    assert len(codes) == readers, r.stdout[-2000:]
    # the workload's premise: code objects at an address that held another one before
    assert len(set(codes.values())) < readers, "no code address reused: %s" % codes
    refcount = worker_stacks(r, "refcount")
    found = collections.Counter()
    mixed = 0
    for s in refcount:
        f = parse_frame(s.python[-1])
        m = re.fullmatch(r"reader_(\d+)", f.name)
        fm = re.fullmatch(r"<reader-(\d+)>", f.file or "")
        if m and fm and m[1] == fm[1]:
            found[int(m[1])] += s.count
        elif m or fm:
            mixed += s.count
    print("reuse %s: code %s, pages per reader %s, expected %s" % (
        version, codes, dict(found), {k: r.info["expect_%d" % k] for k in range(readers)}))
    ctx = describe(r, lambda s: s.role == "worker" and s.cause == "refcount")
    assert mixed == 0, "%d pages with a reader's name and another's file\n%s" % (mixed, ctx)
    for k in range(readers):
        want = r.info["expect_%d" % k]
        assert 0.9 * want - 10 <= found[k] <= 1.1 * want + 20, \
            "reader_%d: %d pages, expected %d (code %s)\n%s" % (k, found[k], want, codes[k], ctx)


@pytest.mark.parametrize("loop", ["attrs", "bare"])
@pytest.mark.parametrize("interp", INTERPRETERS)
def test_same_function_two_callers(outdir, interp, loop):
    """read_part() called by via_alpha(), then by via_beta(), at the same depth: each half's
    pages are under its own caller, as many as the workload computed (a stack cache that
    looked only at the innermost frame would give via_alpha both halves; with the bare loop,
    nearly every copy is at one instruction, so it would not even be corrected by the next
    copy at another one)."""
    python, version = interp
    r = run(outdir, python, PY_WORKLOADS / "stack_callers.py", "--loop", loop)
    check_python_version(r, version)
    src = Source(PY_WORKLOADS / "stack_callers.py")
    refcount = worker_stacks(r, "refcount")
    got = {}
    for caller in ("via_alpha", "via_beta"):
        got[caller] = total(refcount, lambda s: contains_pair(s, src, caller, "read_part") ==
                            len(s.python) - 1 and frame_in(s.python[-2], src, caller,
                                                           src.call_line(caller, "read_part")))
    print("callers %s: %s, expected alpha %d beta %d" % (version, got, r.info["expect_alpha"],
                                                         r.info["expect_beta"]))
    for caller, key in (("via_alpha", "expect_alpha"), ("via_beta", "expect_beta")):
        want = r.info[key]
        assert 0.9 * want - 10 <= got[caller] <= 1.1 * want + 20, \
            "%s: %d pages, expected %d\n%s" % (caller, got[caller], want, describe(
                r, lambda s: s.role == "worker" and s.cause == "refcount"))


# ---------------------------------------------------------------------------------------------
# 7. --no-stacks


def test_no_stacks_runs(tmp_path):
    python = need_debian_python()
    report = tmp_path / "r.json"
    rc, out, err, rep = run_cowtrace(["--no-stacks", "-q", "--json", report, "--", python,
                                      PY_WORKLOADS / "stack_scan.py", "--records", "30000",
                                      "--workers", "1"], RUN_TIMEOUT)
    assert rc == 0, err
    assert rep["totals"]["pages"] > 0 and rep["totals"]["by_cause"]["refcount"] > 500, \
        json.dumps(rep["totals"])
    assert "[no Python stack]" not in out


@pytest.mark.parametrize("option", [["--folded", "F"], ["--svg", "F"], ["--speedscope", "F"],
                                    ["--by", "stack"]])
def test_no_stacks_with_stack_output_is_usage_error(tmp_path, option):
    out_file = tmp_path / "out"
    marker = tmp_path / "command-ran"
    args = ["--no-stacks"] + [str(out_file) if a == "F" else a for a in option] + \
        ["--", "sh", "-c", "touch '%s'" % marker]
    rc, out, err, _ = run_cowtrace(args, 30)
    lines = err.strip().splitlines()
    assert rc == 2, "exit %d, want 2; stderr: %s" % (rc, err)
    assert len(lines) == 1 and lines[0].startswith("cowtrace: "), err
    assert not marker.exists(), "the command ran"
    assert not out_file.exists(), "the output file was created"


# ---------------------------------------------------------------------------------------------
# The walk reads the target through the kernel's direct map where cowtrace finds it (here:
# test_cli.py::test_direct_map_found), else through its mapping (--no-direct-map): the same
# frames either way, so the same stacks, line for line, page for page within a run's variation.


@pytest.mark.parametrize("script", ["stack_scan.py", "stack_deep.py", "stack_reuse.py"])
@pytest.mark.parametrize("interp", INTERPRETERS)
def test_walk_paths_agree(outdir, interp, script):
    python, _ = interp
    direct = run(outdir, python, PY_WORKLOADS / script)
    mapped = run(outdir, python, PY_WORKLOADS / script, opts=("--no-direct-map",))
    a = folded_dict(worker_stacks(direct, "refcount"))
    b = folded_dict(worker_stacks(mapped, "refcount"))
    assert sum(a.values()) > 1000, describe(direct)
    for line in sorted(set(a) | set(b)):
        x, y = a.get(line, 0), b.get(line, 0)
        assert abs(x - y) <= 0.05 * max(x, y) + 40, \
            "%s: %d pages through the direct map, %d through the mapping\n%s\n%s" % (
                line, x, y, describe(direct), describe(mapped))
