# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""CPython collections: cowtrace's gc attribution against a pagemap ground truth.

The workload is demo/prefork_server.py. With --ground-truth each worker measures, with
/proc/self/pagemap (tests/e2e/pagemap.py), the pages its first explicit gc.collect() copied:
the PFNs of its writable private pages are snapshotted right before and right after the call.
That collection is the worker's first (automatic collection stays off until it is done), so it
copies every shared page holding a tracked object's header, and a page is copied only once: the
pages it copied cannot have been copied by anything else. cowtrace counts all the worker's gc
copies (later explicit and automatic young collections too), so:

  * lower bound: by_cause.gc >= 90% of the first collection's pages;
  * upper bound: by_cause.gc <= ground truth of all explicit collections + what the young
    collections copy; the --freeze run, where full collections copy almost nothing, bounds the
    latter (it is a few dozen pages);
  * per page (--trace): the pages the ground truth saw copied appear as gc2 copies of that pid.
"""

import json
import os
import re
import select
import signal
import subprocess
import time

import pytest

from conftest import (REPO_ROOT, CowtraceProcess, parse_trace, pyenv_interpreters, run_cowtrace,
                      workload)

SERVER = REPO_ROOT / "demo" / "prefork_server.py"
DEBIAN_PYTHON = "/usr/bin/python3"
PYENV_WANTED = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]

# Lower bound on the share of ground-truth gc copies cowtrace must attribute to gc.
MIN_RECALL = 0.90
# A first full collection must copy at least this much, or the comparison proves nothing.
MIN_GROUND_TRUTH = 1000

WORKER_RE = re.compile(r"^worker pid=(\d+)$")
PARENT_RE = re.compile(r"^parent pid=(\d+)$")

# ---------------------------------------------------------------------------------------------
# Helpers


def load_json(path):
    with open(str(path)) as f:
        return json.load(f)


def load_ground_truth(path):
    gt = {}
    with open(str(path)) as f:
        for line in f:
            d = json.loads(line)
            gt[d["pid"]] = d
    return gt


def processes(report, role=None):
    return [p for p in report["processes"] if role is None or p["role"] == role]


def by_pid(report):
    """{pid: entry}; each pid must appear once (no pid reuse within these short runs)."""
    pids = [p["pid"] for p in report["processes"]]
    assert len(pids) == len(set(pids)), "a pid appears twice: %r" % pids
    return {p["pid"]: p for p in report["processes"]}


def gen_sum(proc):
    return sum(proc["gc_generations"].values())


def summary(truth):
    """A ground-truth line without its page list, for messages."""
    return json.dumps({k: v for k, v in truth.items() if k != "copied_pages"})


def describe(proc):
    keys = ("pid", "ppid", "role", "comm", "python", "pages", "by_kind", "by_cause",
            "gc_generations")
    return json.dumps({k: proc.get(k) for k in keys})


class LineReader:
    """Lines of a child's pipe, read with a deadline (no thread, no blocking readline)."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        self.buf = b""
        self.lines = []

    def _fill(self, timeout):
        r, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not r:
            return False
        chunk = os.read(self.fd, 65536)
        if not chunk:
            return None
        self.buf += chunk
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.lines.append(line.decode(errors="replace"))
        return True

    def wait_for(self, pattern, timeout):
        """First unread-or-new line matching pattern (a compiled regex); its match."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for i in range(seen, len(self.lines)):
                m = pattern.search(self.lines[i])
                if m:
                    del self.lines[i]
                    return m
            seen = len(self.lines)
            left = deadline - time.monotonic()
            if left <= 0 or self._fill(left) is None:
                raise AssertionError("no line matching %r within %ss; got %r"
                                     % (pattern.pattern, timeout, self.lines[-20:]))


def stop(proc, sig=signal.SIGTERM, timeout=20):
    """Stop a child this test started (by its pid only)."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def trace_copies(stdout):
    """From --trace lines: ({pid: {page address: (kind, cause)}}, {(pid, "gc"|"ot"): lines})."""
    copies = {}
    counts = {}
    for t in parse_trace(stdout):
        copies.setdefault(t.pid, {})[t.addr & ~0xfff] = (t.kind, t.cause)
        if t.kind != "zero":
            key = (t.pid, t.cause[:2])
            counts[key] = counts.get(key, 0) + 1
    return copies, counts


def worker_pids(stdout):
    return [int(m.group(1)) for m in map(WORKER_RE.match, stdout.splitlines()) if m]


def run_server(tmp_path, python, *server_args, trace=False, timeout=90):
    """cowtrace --json R [-T] -- python prefork_server.py ARGS --ground-truth G."""
    report = tmp_path / "report.json"
    gt = tmp_path / "ground-truth.jsonl"
    args = ["--json", report, "-q"] + (["-T"] if trace else []) + \
        ["--", python, SERVER] + list(server_args) + ["--ground-truth", gt]
    rc, out, err, _ = run_cowtrace(args, timeout)
    assert rc == 0, "cowtrace rc=%d\nstderr:\n%s" % (rc, err[-3000:])
    rep = load_json(report)
    truth = load_ground_truth(gt)
    pids = worker_pids(out)
    assert sorted(pids) == sorted(truth), "worker lines %r vs ground truth pids %r" % (
        pids, sorted(truth))
    return {"report": rep, "truth": truth, "workers": pids, "stdout": out, "stderr": err}


# ---------------------------------------------------------------------------------------------
# Debian's python3 (USDT gc__start/gc__done)


@pytest.fixture(scope="module")
def nofreeze(tmp_path_factory):
    return run_server(tmp_path_factory.mktemp("nofreeze"), DEBIAN_PYTHON, "--workers", "2",
                      trace=True)


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    return run_server(tmp_path_factory.mktemp("freeze"), DEBIAN_PYTHON, "--workers", "2",
                      "--freeze")


def test_usdt_gc_pages_match_ground_truth(nofreeze, frozen):
    procs = by_pid(nofreeze["report"])
    # What young collections may copy beyond the explicit ones: the whole gc count of a frozen
    # worker (its full collections copy almost nothing), with a floor for noise.
    young_allowance = max([by_pid(frozen["report"])[w]["by_cause"]["gc"]
                           for w in frozen["workers"]] + [0]) + 64
    for pid in nofreeze["workers"]:
        gt = nofreeze["truth"][pid]
        proc = procs[pid]
        gc = proc["by_cause"]["gc"]
        first = gt["copied_by_collection"]
        explicit = first + gt["copied_by_later_collections"]
        info = "worker %d: ground truth first=%d explicit=%d noise=%d; %s" % (
            pid, first, explicit, gt["snapshot_noise"], describe(proc))
        assert first > MIN_GROUND_TRUTH, info
        assert gt["snapshot_noise"] <= 8, info
        assert gt["automatic_collections"] > 0, "workload ran no young collection: " + info
        assert gc >= MIN_RECALL * first, info
        assert gc <= explicit + young_allowance, info
        assert sum(proc["by_cause"].values()) == proc["pages"], info


def test_usdt_python_identified(nofreeze):
    report = nofreeze["report"]
    assert len(processes(report, "root")) == 1
    assert len(processes(report, "worker")) == 2
    for proc in report["processes"]:
        py = proc["python"]
        assert py is not None, describe(proc)
        assert re.match(r"^3\.11\.\d+$", py["version"]), describe(proc)
        assert py["gc_source"] == "usdt", describe(proc)
    root = processes(report, "root")[0]
    for pid in nofreeze["workers"]:
        proc = by_pid(report)[pid]
        assert proc["role"] == "worker" and proc["ppid"] == root["pid"], describe(proc)
        assert proc["exit_code"] == 0, describe(proc)


def test_usdt_generations(nofreeze):
    report = nofreeze["report"]
    for proc in report["processes"]:
        assert gen_sum(proc) == proc["by_cause"]["gc"], describe(proc)
    for pid in nofreeze["workers"]:
        proc = by_pid(report)[pid]
        gens = proc["gc_generations"]
        # Explicit gc.collect() is a generation-2 collection, and it makes nearly all copies.
        assert gens["2"] >= 0.9 * proc["by_cause"]["gc"], describe(proc)
        assert gens["2"] >= MIN_RECALL * nofreeze["truth"][pid]["copied_by_collection"], \
            describe(proc)
    tot = report["totals"]
    assert tot["by_cause"]["gc"] == sum(p["by_cause"]["gc"] for p in report["processes"])
    assert sum(tot["gc_generations"].values()) == tot["by_cause"]["gc"]


def test_usdt_trace_pages_match_ground_truth(nofreeze):
    """Page by page: the copies the first collection made are gc2 copies in --trace."""
    copies, counts = trace_copies(nofreeze["stdout"])
    for pid in nofreeze["workers"]:
        truth = {int(a, 16) for a in nofreeze["truth"][pid]["copied_pages"]}
        seen = copies.get(pid, {})
        gc2 = sum(1 for a in truth if seen.get(a, ("", ""))[1] == "gc2")
        other = sum(1 for a in truth if seen.get(a, ("", ""))[1] == "other")
        missing = sum(1 for a in truth if a not in seen)
        info = "worker %d: %d pages copied by the collection: %d gc2, %d other, %d not traced" \
            % (pid, len(truth), gc2, other, missing)
        assert len(truth) > MIN_GROUND_TRUTH, info
        assert gc2 >= MIN_RECALL * len(truth), info
        assert other <= 0.02 * len(truth), info
        # The trace and the JSON report agree on the worker's gc count.
        if nofreeze["report"]["lost_events"] == 0:
            json_gc = by_pid(nofreeze["report"])[pid]["by_cause"]["gc"]
            assert counts.get((pid, "gc"), 0) == json_gc, info


def test_usdt_pages_match_ground_truth(nofreeze, frozen):
    """All causes: a worker's pages cover what pagemap saw copied over its life."""
    for run in (nofreeze, frozen):
        for pid in run["workers"]:
            proc = by_pid(run["report"])[pid]
            since = run["truth"][pid]["copied_since_start"]
            assert proc["pages"] >= MIN_RECALL * since, "%d pagemap; %s" % (since, describe(proc))


def test_freeze_gc_pages_small(nofreeze, frozen):
    """gc.freeze(): the worker's collections no longer copy the shared heap."""
    assert len(frozen["workers"]) == len(nofreeze["workers"]) == 2
    for i, pid in enumerate(frozen["workers"]):
        proc = by_pid(frozen["report"])[pid]
        unfrozen_truth = nofreeze["truth"][nofreeze["workers"][i]]["copied_by_collection"]
        info = "frozen worker %d vs unfrozen ground truth %d: %s" % (pid, unfrozen_truth,
                                                                      describe(proc))
        assert unfrozen_truth > MIN_GROUND_TRUTH, info
        assert proc["by_cause"]["gc"] < 0.02 * unfrozen_truth, info
        # Refcount writes and allocations still copy pages: the worker is still traced.
        assert proc["pages"] > 1000, info
        assert proc["pages"] - proc["by_cause"]["gc"] > 1000, info
        assert proc["python"] and proc["python"]["gc_source"] == "usdt", info
        # Ground truth agrees that the frozen collections copy little.
        assert frozen["truth"][pid]["copied_by_collection"] < 0.02 * unfrozen_truth, info


# ---------------------------------------------------------------------------------------------
# Attaching with -p


def start_server(*server_args):
    p = subprocess.Popen([DEBIAN_PYTHON, str(SERVER)] + [str(a) for a in server_args],
                         stdout=subprocess.PIPE)
    return p, LineReader(p.stdout)


def test_attach_running_workers(tmp_path):
    """-p on a parent whose workers exist already: they are found and their gc copies count."""
    gt_path = tmp_path / "gt.jsonl"
    server, out = start_server("--workers", "2", "--serve", "40", "--ground-truth", gt_path)
    try:
        parent = int(out.wait_for(PARENT_RE, 30).group(1))
        workers = [int(out.wait_for(WORKER_RE, 30).group(1)) for _ in range(2)]
        time.sleep(0.5)  # the workers are serving requests
        with CowtraceProcess(["-p", parent, "-d", 8, "-q"], json_report=True) as ct:
            ct.wait_attached()
            for w in workers:
                os.kill(w, signal.SIGUSR1)  # a full collection now, measured
            for w in workers:
                out.wait_for(re.compile(r"^worker pid=%d collected$" % w), 30)
            rc, _, err, rep = ct.finish(40)
        assert rc == 0, err
    finally:
        src = stop(server)
    assert src == 0, "server did not stop cleanly on SIGTERM"
    truth = load_ground_truth(gt_path)
    procs = by_pid(rep)
    assert procs[parent]["role"] == "root", describe(procs[parent])
    for w in workers:
        assert w in procs, "worker %d missing from %r" % (w, list(procs))
        proc = procs[w]
        first = truth[w]["copied_by_collection"]
        info = "worker %d, ground truth %d: %s" % (w, first, describe(proc))
        assert proc["role"] == "worker" and proc["ppid"] == parent, info
        assert proc["python"] and proc["python"]["gc_source"] == "usdt", info
        assert first > 500, info
        assert proc["by_cause"]["gc"] >= MIN_RECALL * first, info
        assert proc["gc_generations"]["2"] >= MIN_RECALL * first, info


def attach_then_fork(server, out, parent, workers=2):
    """cowtrace -p on a server started with --fork-delay, then SIGUSR1: it forks its workers
    and ends. (the workers' printed pids, the report)"""
    with CowtraceProcess(["-p", parent, "-d", 45, "-q"], json_report=True) as ct:
        ct.wait_attached()
        os.kill(parent, signal.SIGUSR1)  # fork now
        pids = [int(out.wait_for(WORKER_RE, 30).group(1)) for _ in range(workers)]
        assert server.wait(60) == 0
        # -p ends at -d or when the traced tree is gone; don't wait out -d if it does not.
        try:
            ct.proc.wait(5)
        except subprocess.TimeoutExpired:
            ct.send_signal(signal.SIGINT)
        rc, _, err, rep = ct.finish(30)
    assert rc == 0, err
    return pids, rep


def test_attach_before_fork(tmp_path):
    """-p on a parent that forks after the attach: its new workers are traced from fork on."""
    gt_path = tmp_path / "gt.jsonl"
    server, out = start_server("--workers", "2", "--fork-delay", "60", "--ground-truth", gt_path)
    try:
        parent = int(out.wait_for(PARENT_RE, 30).group(1))
        workers, rep = attach_then_fork(server, out, parent)
    finally:
        stop(server)
    truth = load_ground_truth(gt_path)
    procs = by_pid(rep)
    assert procs[parent]["role"] == "root", describe(procs[parent])
    for w in workers:
        assert w in procs, "worker %d missing from %r" % (w, list(procs))
        proc = procs[w]
        gt = truth[w]
        info = "worker %d, ground truth %s: %s" % (w, summary(gt), describe(proc))
        assert proc["role"] == "worker" and proc["ppid"] == parent, info
        assert proc["exit_code"] == 0, info
        assert gt["copied_by_collection"] > MIN_GROUND_TRUTH, info
        assert proc["by_cause"]["gc"] >= MIN_RECALL * gt["copied_by_collection"], info
        assert proc["pages"] >= MIN_RECALL * gt["copied_since_start"], info


# ---------------------------------------------------------------------------------------------
# pyenv builds: no USDT, uprobes on the collector function


PYENV = {k: str(v) for k, v in pyenv_interpreters().items()}


def test_pyenv_interpreters_present():
    """The uprobe fallback is tested on at least two interpreter versions."""
    present = [v for v in PYENV_WANTED if v in PYENV]
    if not PYENV:
        pytest.skip("no pyenv interpreters: the uprobe fallback is not tested here")
    assert len(present) >= 2, "pyenv interpreters found: %r" % PYENV


@pytest.mark.parametrize("version", PYENV_WANTED)
def test_pyenv_uprobe_fallback(tmp_path, version):
    if version not in PYENV:
        pytest.skip("pyenv Python %s not installed" % version)
    run = run_server(tmp_path, PYENV[version], "--workers", "2")
    for pid in run["workers"]:
        proc = by_pid(run["report"])[pid]
        gt = run["truth"][pid]
        info = "worker %d, ground truth first=%d: %s" % (pid, gt["copied_by_collection"],
                                                          describe(proc))
        py = proc["python"]
        assert py is not None and py["version"].startswith(version + "."), info
        assert py["gc_source"].startswith("uprobe"), info
        assert proc["by_cause"]["gc"] > 0, info
        assert gt["copied_by_collection"] > MIN_GROUND_TRUTH, info
        assert proc["by_cause"]["gc"] >= MIN_RECALL * gt["copied_by_collection"], info
        gens = proc["gc_generations"]
        known = sum(gens.get(g, 0) for g in ("0", "1", "2"))
        if known:  # the probe gives the generation: gc.collect() is generation 2
            assert gens["2"] >= MIN_RECALL * gt["copied_by_collection"], info
        assert gen_sum(proc) == proc["by_cause"]["gc"], info


# ---------------------------------------------------------------------------------------------
# Not Python


def test_non_python_process(tmp_path):
    report = tmp_path / "sh.json"
    script = "x=$(seq 1 2000); for i in 1 2 3; do (y=\"$x$i\"; : \"$y\") & done; wait"
    rc, out, err, rep = run_cowtrace(["--json", report, "-q", "--", "/bin/sh", "-c", script], 60)
    assert rc == 0, err
    assert len(rep["processes"]) >= 2
    for proc in rep["processes"]:
        assert proc["python"] is None, describe(proc)
        assert proc["by_cause"]["gc"] == 0 and gen_sum(proc) == 0, describe(proc)
    assert rep["totals"]["by_cause"]["gc"] == 0
    assert rep["totals"]["pages"] > 0  # the subshells copied something: tracing worked


def test_non_python_c_workload(tmp_path):
    report = tmp_path / "writer.json"
    rc, out, err, rep = run_cowtrace(["--json", report, "-q", "--", workload("cow_writer"),
                                      "-n", "3000"], 60)
    assert rc == 0, err
    for proc in rep["processes"]:
        assert proc["python"] is None, describe(proc)
        assert proc["by_cause"]["gc"] == 0, describe(proc)
    assert rep["totals"]["pages"] >= 3000
    assert rep["totals"]["by_cause"]["gc"] == 0
