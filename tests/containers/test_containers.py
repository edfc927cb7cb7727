# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Pythons in another mount and pid namespace, traced from the host.

Debian unstable's python3.13, python3.14 and python3.15 (built with USDT probes) run in a
debootstrapped root (sidroot.sh, cached) as a container would run them: under
`unshare --mount --pid --fork`, whose init (the host's sh, pid 1 of the new pid namespace)
makes every mount private, mounts the new namespace's /proc in the root (the workers' pagemap
ground truth reads /proc/self), a tmpfs on the root's /srv holding the scripts (a path that
exists nowhere else), the run's result directory on /mnt, moves itself into a cgroup of its own
(where cgroup v2 lets it), then runs the interpreter in a chroot of the root. Two ways to trace:

  cmd  cowtrace ... -- unshare ... chroot ROOT /usr/bin/python3.X /srv/APP ARGS
       (a path a Debian 12 host does not have)
  pid  the app started first, run as /usr/bin/python3: python3.X bound there inside the
       namespace, a path the host has for another file (its own python3); once the app
       waits, cowtrace -p HOSTPID (its pid on the host, from /proc's NSpid), then SIGUSR1 through
       HOSTPID starts its work (prefork_server.py --fork-delay; the workloads under gate.py)

Three runs per interpreter and way, each feeding tests:

  prefork_server.py --workers 2 --ground-truth: test_gc_vs_pagemap (each worker's gc copies are
      at least 90% of what its first full collection copied, as the worker measured with
      /proc/self/pagemap), test_interpreter (the interpreter's version, gc_source usdt),
      test_namespace_fields (ns_pid, cgroup)
  tests/workloads/py/full_collect.py: test_collector_types (the collector's copies decode to the
      app's own types, field gc_header, as test_objects.py's test_full_collect_gc asserts)
  tests/workloads/py/stack_scan.py --folded: test_refcount_stacks (refcount copies carry the
      app's call chain, as test_stacks.py's test_refcount_chain asserts)

The apps print their namespace's pids; a report entry is found by its ns_pid. A report without
ns_pid fails test_namespace_fields, and the other tests then find the entries another way (the
interpreter's parent by parentage, its workers in fork order) so that each fails or passes on its
own subject. Each run's files stay in build/containers/VERSION-WAY-APP/ (report.json,
stdout.txt, stderr.txt: cowtrace's and the app's, app-stderr.txt: the app's with pid, gt.jsonl,
cow.folded).
"""

import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import (APP_DIR, ENV, OUT_DIR, RESULTS, STAGE, SUMMARY, VERSIONS, Namespace,
                       host_pid, prepare)
from conftest import CowtraceProcess, run_cowtrace  # tests/e2e's
from test_objects import TOLERANCE, SLACK, describe as describe_objects, expect_near, pages, \
    top
from test_objects import Run as ObjectsRun
from test_python_gc import MIN_RECALL, LineReader, load_ground_truth, stop
from test_stacks import CHAIN, MIN_CHAIN_SHARE, Source, ends_with_chain, names_in_order, \
    read_folded, top_lines, total

WAYS = ["cmd", "pid"]
PARAMS = [pytest.param(v, w, id="%s-%s" % (v, w)) for v in VERSIONS for w in WAYS]
RUN_TIMEOUT = 240
# a worker's first collection must copy at least this much for the comparison to mean anything
MIN_GROUND_TRUTH = 500

PARENT_RE = re.compile(r"^parent pid=(\d+)$", re.M)
GATE_RE = re.compile(r"^gate pid=(\d+)$", re.M)
WORKER_RE = re.compile(r"^worker pid=(\d+)$", re.M)
INFO_RE = re.compile(r"^info (.*)$", re.M)

# app: (script, arguments, cowtrace options); OUT is the run's result directory on the host
APPS = {
    "gc": ("prefork_server.py", ["--workers", 2, "--pagemap-module", APP_DIR + "/pagemap.py",
                                 "--ground-truth", OUT_DIR + "/gt.jsonl"], []),
    "objects": ("full_collect.py", [], []),
    "stacks": ("stack_scan.py", [], ["--folded", "OUT/cow.folded"]),
}

Run = collections.namedtuple(
    "Run", "version way command report stdout stderr parent workers info truth out host_parent "
    "cgroup")
Run.__doc__ = """One traced run. parent, workers: the app's pids as it printed them, its pid
namespace's (the workloads print no parent pid: None under cmd); host_parent: the parent's host
pid as the test found it (pid way), else None; cgroup: the namespace's cgroup v2 path; truth:
{ns pid: ground-truth line} (the gc app's)."""

_runs = {}


def app_run(version, way, app):
    """The run of app on python<version> traced the given way, made once; a run that failed
    fails each test that uses it with the same message."""
    key = (version, way, app)
    if key not in _runs:
        root = prepare()[0]
        out = RESULTS / ("%s-%s-%s" % key)
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        ns = Namespace(root, out, version, alias=(way == "pid"))
        try:
            _runs[key] = (run_cmd if way == "cmd" else run_pid)(ns, app, out)
        except (AssertionError, pytest.fail.Exception) as e:
            _runs[key] = "python%s %s, %s: %s" % (version, way, APPS[app][0], e)
            if app == "gc":
                SUMMARY.append("python%s %-3s  run failed: %s" % (version, way,
                                                                  str(e).splitlines()[0]))
        finally:
            ns.close()
    r = _runs[key]
    if isinstance(r, str):
        pytest.fail(r, pytrace=False)
    return r


def cowtrace_opts(app, out):
    return [str(o).replace("OUT", str(out)) for o in APPS[app][2]] + \
        ["--json", str(out / "report.json"), "-q"]


def shown(argv):
    """A command for messages, the namespace's init script as INIT."""
    return " ".join("INIT" if "\n" in str(a) else str(a) for a in argv)


def run_cmd(ns, app, out):
    """cowtrace --json R -q [opts] -- unshare ... python3.X /srv/SCRIPT ARGS."""
    script, args, _ = APPS[app]
    argv = cowtrace_opts(app, out) + ["--"] + ns.argv(script, *args)
    command = "cowtrace " + shown(argv)
    rc, stdout, stderr, report = run_cowtrace(argv, RUN_TIMEOUT, env=ENV)
    return finish_run(ns, "cmd", app, out, command, rc, stdout, stderr, report, PARENT_RE)


def run_pid(ns, app, out):
    """The app started in its namespace, waiting; cowtrace -p HOSTPID; SIGUSR1; the app ends,
    then cowtrace (the traced tree is gone)."""
    script, args, _ = APPS[app]
    if app == "gc":
        argv, ready = ns.argv(script, *(list(args) + ["--fork-delay", 120])), PARENT_RE
    else:
        argv, ready = ns.argv("gate.py", APP_DIR + "/" + script, *args), GATE_RE
    opts = ["-p", None, "-d", RUN_TIMEOUT] + cowtrace_opts(app, out)
    with open(out / "app-stderr.txt", "wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, env=ENV)
    try:
        lines = LineReader(proc.stdout)
        first = lines.wait_for(ready, 60)
        host = host_pid(proc.pid, int(first.group(1)))
        opts[1] = host
        command = "cowtrace %s  (the app: %s)" % (shown(opts), shown(argv))
        with CowtraceProcess(opts) as ct:
            ct.wait_attached()
            os.kill(host, signal.SIGUSR1)
            try:
                app_rc = proc.wait(RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise AssertionError("the app did not end within %d s" % RUN_TIMEOUT)
            # -p ends when the traced tree is gone; don't wait for -d if it does not
            try:
                ct.proc.wait(10)
            except subprocess.TimeoutExpired:
                ct.send_signal(signal.SIGINT)
            rc, _, stderr, report = ct.finish(60)
        rest = (lines.buf + proc.stdout.read()).decode(errors="replace").splitlines()
        stdout = "\n".join([first.group(0)] + lines.lines + rest) + "\n"
    finally:
        stop(proc)
    return finish_run(ns, "pid", app, out, command, rc, stdout, stderr, report, ready, host,
                      app_rc)


def finish_run(ns, way, app, out, command, rc, stdout, stderr, report, parent_re,
               host_parent=None, app_rc=0):
    """The run's files kept, its outcome checked and parsed into a Run."""
    (out / "stdout.txt").write_text(stdout)
    (out / "stderr.txt").write_text(stderr)
    app_err = out / "app-stderr.txt"
    if app_err.exists():  # pid: the app's own stderr, apart from cowtrace's
        stderr += "\n(the app's stderr:)\n" + app_err.read_text(errors="replace")
    assert rc == 0 and app_rc == 0, "%s: rc=%d (the app's %d)\nstdout:\n%s\nstderr:\n%s" % (
        command, rc, app_rc, stdout[-2000:], stderr[-3000:])
    assert report is not None, "%s: no JSON report; stderr:\n%s" % (command, stderr[-3000:])
    # the workloads print no pid of their parent: with cmd it is found by parentage
    parent = parent_re.search(stdout)
    assert parent or (app != "gc" and way == "cmd"), \
        "%s: no parent/gate pid line:\n%s" % (command, stdout[-2000:])
    workers = sorted(int(p) for p in WORKER_RE.findall(stdout))
    assert len(workers) == 2, "%s: worker lines %s" % (command, workers)
    info, truth = {}, None
    m = INFO_RE.search(stdout)
    if m:
        for kv in m.group(1).split():
            k, v = kv.split("=", 1)
            info[k] = int(v) if re.fullmatch(r"-?\d+", v) else v
    elif app != "gc":
        raise AssertionError("%s: no info line:\n%s" % (command, stdout[-2000:]))
    if app == "gc":
        truth = load_ground_truth(out / "gt.jsonl")
        assert sorted(truth) == workers, "%s: ground truth for pids %s, workers %s" % (
            command, sorted(truth), workers)
    return Run(ns.version, way, command, report, stdout, stderr,
               int(parent.group(1)) if parent else None, workers, info, truth, out, host_parent,
               ns.cgroup)


# ---------------------------------------------------------------------------------------------
# The app's processes in the report


def namespaced(r):
    """{ns pid: entry} of the processes in a pid namespace of their own, by the report's
    ns_pid; None when the report has no ns_pid (null is allowed: a process that exited before
    it was read)."""
    procs = r.report["processes"]
    if not procs or any("ns_pid" not in p for p in procs):
        return None
    out = {}
    for p in procs:
        if p["ns_pid"] is not None and p["ns_pid"] != p["pid"]:
            assert p["ns_pid"] not in out, "ns_pid %d twice:\n%s" % (p["ns_pid"],
                                                                      describe_procs(r))
            out[p["ns_pid"]] = p
    return out


def by_parentage(r):
    """{ns pid: entry} for the app's parent and workers without ns_pid: the parent is the
    Python whose own parent is not one (or the -p target), its workers are its children, in
    fork order (their namespace pids grow in the same order as their host pids)."""
    procs = r.report["processes"]
    pids = {p["pid"]: p for p in procs}
    if r.host_parent is not None:
        parents = [p for p in procs if p["pid"] == r.host_parent]
    else:
        parents = [p for p in procs if p["comm"].startswith("python") and
                   not pids.get(p["ppid"], {"comm": ""})["comm"].startswith("python")]
    assert len(parents) == 1, "the app's parent among %d candidates:\n%s" % (
        len(parents), describe_procs(r))
    parent = parents[0]
    children = sorted((p for p in procs if p["ppid"] == parent["pid"]),
                      key=lambda p: (p.get("start_s", 0), p["pid"]))
    assert len(children) == len(r.workers), "%d children of pid %d, %d workers printed:\n%s" % (
        len(children), parent["pid"], len(r.workers), describe_procs(r))
    out = dict(zip(r.workers, children))
    if r.parent is not None:
        out[r.parent] = parent
    return out


def proc_of(r, ns_pid):
    """The report's entry of the app's process whose namespace pid is ns_pid."""
    found = namespaced(r)
    if found is None:
        found = by_parentage(r)
    assert ns_pid in found, "no entry for namespace pid %d:\n%s" % (ns_pid, describe_procs(r))
    return found[ns_pid]


def describe_procs(r):
    lines = ["%s (python%s, %s)" % (r.command, r.version, r.way),
             "%8s %8s %8s %-12s %-6s %7s %7s  %-22s %s" % (
                 "pid", "ns_pid", "ppid", "comm", "role", "pages", "gc", "python", "cgroup")]
    for p in r.report["processes"]:
        py = p.get("python")
        lines.append("%8d %8s %8d %-12s %-6s %7d %7d  %-22s %s" % (
            p["pid"], p.get("ns_pid", "-"), p["ppid"], p["comm"], p["role"], p["pages"],
            p["by_cause"].get("gc", 0),
            "%s %s" % (py["version"], py["gc_source"]) if py else "-", p.get("cgroup", "-")))
    if any("ns_pid" not in p for p in r.report["processes"]):
        lines.append("(the report has no ns_pid: the app's processes were matched by parentage)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# prefork_server.py: the collector's copies against the pagemap ground truth


@pytest.mark.parametrize("version,way", PARAMS)
def test_gc_vs_pagemap(version, way):
    """Each worker's gc copies are at least 90% of the pages its first full collection copied,
    as the worker measured with /proc/self/pagemap (which must be more than 500)."""
    r = app_run(version, way, "gc")
    cells = []
    errors = []
    for w in r.workers:
        try:
            proc = proc_of(r, w)
        except AssertionError:
            SUMMARY.append("python%s %-3s  worker %d not found in the report" % (version, way, w))
            raise
        gt = r.truth[w]
        first, gc = gt["copied_by_collection"], proc["by_cause"]["gc"]
        cells.append("%d/%d (%.1f%%)" % (gc, first, 100.0 * gc / max(first, 1)))
        if first <= MIN_GROUND_TRUTH or gt["snapshot_noise"] > 8:
            errors.append("worker %d: the ground truth proves nothing: %s" % (
                w, json.dumps({k: v for k, v in gt.items() if k != "copied_pages"})))
        elif gc < MIN_RECALL * first:
            errors.append("worker %d: gc copies %d < %.0f%% of the %d its first collection "
                          "copied" % (w, gc, 100 * MIN_RECALL, first))
    py = proc_of(r, r.parent).get("python")
    SUMMARY.append("python%s %-3s  gc/truth per worker: %s; python %s" % (
        version, way, ", ".join(cells), "%s %s" % (py["version"], py["gc_source"]) if py
        else "not identified"))
    assert not errors, "\n".join(errors) + "\n" + describe_procs(r)


@pytest.mark.parametrize("version,way", PARAMS)
def test_interpreter(version, way):
    """The parent and its workers are identified as the interpreter that ran: its version
    exactly, its collector through the USDT probes."""
    r = app_run(version, way, "gc")
    want = prepare()[1][version]
    for pid in [r.parent] + r.workers:
        py = proc_of(r, pid).get("python")
        assert py and py["version"] == want and py["gc_source"] == "usdt", \
            "namespace pid %d: python %s, expected %s usdt\n%s" % (pid, py, want,
                                                                   describe_procs(r))


@pytest.mark.parametrize("version,way", PARAMS)
def test_namespace_fields(version, way):
    """Every entry has ns_pid and cgroup (null only for a process gone before it was read: the
    namespace's short-lived mount and cp); the app's processes have their namespace pids, not
    their host pids, and the namespace's cgroup; outside the namespace ns_pid is the pid."""
    r = app_run(version, way, "gc")
    ctx = describe_procs(r)
    for p in r.report["processes"]:
        missing = [k for k in ("ns_pid", "cgroup") if k not in p]
        assert not missing, "pid %d: no %s in the report\n%s" % (p["pid"], " or ".join(missing),
                                                                 ctx)
        ns_pid, cg = p["ns_pid"], p["cgroup"]
        assert ns_pid is None or (isinstance(ns_pid, int) and ns_pid > 0), \
            "pid %d: ns_pid %r\n%s" % (p["pid"], ns_pid, ctx)
        assert cg is None or (isinstance(cg, str) and cg.startswith("/")), \
            "pid %d: cgroup %r\n%s" % (p["pid"], cg, ctx)
    found = namespaced(r)
    for pid in [r.parent] + r.workers:
        assert pid in found, "no entry with ns_pid %d (the app's pids: parent %d, workers %s)" \
            "\n%s" % (pid, r.parent, r.workers, ctx)
        assert found[pid]["cgroup"] == r.cgroup, "ns_pid %d: cgroup %r, expected %r\n%s" % (
            pid, found[pid]["cgroup"], r.cgroup, ctx)
    parent = found[r.parent]
    for w in r.workers:
        assert found[w]["ppid"] == parent["pid"], ctx
    if r.host_parent is not None:
        assert parent["pid"] == r.host_parent, "ns_pid %d is host pid %d, /proc says %d\n%s" % (
            r.parent, parent["pid"], r.host_parent, ctx)
    else:
        root = [p for p in r.report["processes"] if p["role"] == "root"]
        assert len(root) == 1 and root[0]["comm"] == "unshare" and \
            root[0]["ns_pid"] == root[0]["pid"], "the root (unshare, not namespaced)\n" + ctx


# ---------------------------------------------------------------------------------------------
# full_collect.py: the collector's copies decoded


@pytest.mark.parametrize("version,way", PARAMS)
def test_collector_types(version, way):
    """Workers' full collections: gc copies of the GC headers of the containers the app built
    (its SharedRecord instances, their lists and dicts), per type as the workload predicts."""
    r = app_run(version, way, "objects")
    procs = [proc_of(r, w) for w in r.workers]
    o = ObjectsRun(r.report, r.info, r.workers, None, r.stdout, r.stderr,
                   "%s\n%s" % (r.command, describe_procs(r)))
    built = {k[len("gc_"):]: v for k, v in r.info.items() if k.startswith("gc_") and
             k != "gc_pages"}
    n = len(procs)
    assert r.info["gc_pages"] > 5000 and set(built) <= {"SharedRecord", "list", "dict"}, \
        describe_objects(o)
    for p in procs:
        gc = p["by_cause"]["gc"]
        assert (1 - TOLERANCE) * r.info["gc_pages"] <= gc <= \
            (1 + TOLERANCE) * r.info["gc_pages"] + 4 * SLACK, \
            "worker %d: gc pages %d, the app built %d\n%s" % (p["pid"], gc, r.info["gc_pages"],
                                                             describe_objects(o))
    row = top(o)
    assert (row["cause"], row["field"], row["region"]) == ("gc", "gc_header", "pymalloc") and \
        row["type"] in built, "top row %s\n%s" % (row, describe_objects(o))
    got = pages(o, "gc", field="gc_header", region="pymalloc", types=set(built))
    assert got >= (1 - TOLERANCE) * n * r.info["gc_pages"], \
        "gc/gc_header pages of the app's types: %d, expected %d x %d\n%s" % (
            got, n, r.info["gc_pages"], describe_objects(o))
    for t, want in built.items():
        expect_near(o, "gc/%s/gc_header pages" % t, pages(o, "gc", t, "gc_header", "pymalloc"),
                    n * want, n)


# ---------------------------------------------------------------------------------------------
# stack_scan.py: refcount copies under the app's call chain


@pytest.mark.parametrize("version,way", PARAMS)
def test_refcount_stacks(version, way):
    """At least 80% of the workers' refcount pages are on stacks ending serve ->
    handle_request -> lookup -> scan_shared, in the app's file (its path inside the namespace)
    at a line of each function."""
    r = app_run(version, way, "stacks")
    stacks = read_folded(r.out / "cow.folded")
    src = Source(STAGE / "stack_scan.py")
    src.path = "%s/stack_scan.py" % APP_DIR  # the file as the interpreter named it
    # role worker: the workers, and with cmd everything below unshare (an idle parent too)
    refcount = [s for s in stacks if s.role == "worker" and s.cause == "refcount"]
    ref_pages = total(refcount)
    ctx = "%s\n%s" % (describe_procs(r), top_lines(stacks, 12))
    assert ref_pages >= 0.9 * len(r.workers) * r.info["read_pages"], \
        "workers' refcount pages %d, expected about %d x %d\n%s" % (
            ref_pages, len(r.workers), r.info["read_pages"], ctx)
    chained = total(refcount, lambda s: ends_with_chain(s, src, CHAIN))
    named = total(refcount, lambda s: names_in_order(s, CHAIN))
    assert chained >= MIN_CHAIN_SHARE * ref_pages, \
        "%d of %d refcount pages end with %s in %s (%d with the names in order)\n%s" % (
            chained, ref_pages, " -> ".join(CHAIN), src.path, named, ctx)


CHECK_DEBUG_OFFSETS = Path(__file__).resolve().parents[1] / "e2e" / "check_debug_offsets.py"


@pytest.mark.parametrize("version", VERSIONS)
def test_debug_offsets_match_headers(version):
    """cowtrace's reading of the interpreter's own _Py_DebugOffsets (and the tables it keeps
    for what the blob does not give) equals offsetof() compiled from the same version's
    headers, and the offsets lead from _PyRuntime to the frames of a live process."""
    root = prepare()[0]
    p = subprocess.run([sys.executable, str(CHECK_DEBUG_OFFSETS), str(root),
                        str(root / "usr" / "include"), "--live", version],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert p.returncode == 0, "check_debug_offsets.py %s: exit %d\n%s" % (
        version, p.returncode, p.stdout[-4000:])
    assert "all equal (%s)" % version in p.stdout, p.stdout[-2000:]
