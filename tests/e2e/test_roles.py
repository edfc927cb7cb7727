# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Roles from the process tree: root (what was given), worker (forked by a CPython process and
running its interpreter), master (exec'd a CPython below the root), helper (anything else: a
shell, a program run on the side). The `workers` figure counts workers only. -p takes several
pids, and -p of a worker says so."""

import os
import re
import signal
import subprocess
import time

from conftest import CowtraceProcess, REPO_ROOT, run_cowtrace

PYTHON = "/usr/bin/python3"
SERVER = str(REPO_ROOT / "demo" / "prefork_server.py")

# Like a pyenv shim: bash runs command substitutions (subshells, readlink) and then execs the
# real interpreter, whose workers run a helper program (Celery's `uname`) now and then.
SHIM = r'''
real=$(readlink -f "$1"); shift
dir=$(dirname "$real")
exec "$real" "$@"
'''

APP = r'''
import gc, os, subprocess, sys
data = [dict(a=i) for i in range(20000)]
print("parent pid=%d" % os.getpid(), flush=True)
kids = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        subprocess.run(["uname", "-s"], stdout=subprocess.DEVNULL, check=True)
        gc.collect()
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
'''


def by_role(report):
    roles = {}
    for p in report["processes"]:
        roles.setdefault(p["role"], []).append(p)
    return roles


def test_shim_and_helpers_are_not_workers(tmp_path):
    report = tmp_path / "r.json"
    rc, out, err, rep = run_cowtrace(["--json", report, "-q", "--fail-on", "workers != 3", "--",
                                      "bash", "-c", SHIM, "shim", PYTHON, "-c", APP], 60)
    assert rc == 0, err  # the gate held back: workers == 3
    roles = by_role(rep)
    info = [(p["pid"], p["comm"], p["role"], p["exec"]) for p in rep["processes"]]
    assert len(roles.get("root", [])) == 1, info
    root = roles["root"][0]
    assert root["comm"].startswith("python3") and root["exec"], info  # the shim exec'd
    workers = roles.get("worker", [])
    assert len(workers) == 3, info
    assert all(w["ppid"] == root["pid"] and w["python"] for w in workers), info
    helpers = roles.get("helper", [])
    # readlink, dirname and their subshells below bash; uname (and its subprocess fork) below
    # each worker
    assert any(h["comm"] == "readlink" for h in helpers), info
    assert sum(h["comm"] == "uname" for h in helpers) == 3, info
    assert all(h["python"] is None for h in helpers), info
    assert not roles.get("master"), info


def test_master_below_a_launcher(tmp_path):
    """A shell that runs python (fork + exec): the Python process is the master, its forks
    are the workers, the shell is the root."""
    report = tmp_path / "r.json"
    rc, out, err, rep = run_cowtrace(["--json", report, "-q", "--", "sh", "-c",
                                      '"$0" -c "$1"; true', PYTHON, APP], 60)
    assert rc == 0, err
    roles = by_role(rep)
    info = [(p["pid"], p["comm"], p["role"]) for p in rep["processes"]]
    assert [p["comm"] for p in roles["root"]] == ["sh"], info
    assert len(roles.get("master", [])) == 1, info
    master = roles["master"][0]
    assert len(roles.get("worker", [])) == 3, info
    assert all(w["ppid"] == master["pid"] for w in roles["worker"]), info


def start_server(*args):
    p = subprocess.Popen([PYTHON, SERVER] + list(args), stdout=subprocess.PIPE, text=True)
    parent = int(re.match(r"parent pid=(\d+)", p.stdout.readline()).group(1))
    return p, parent


def worker_pids(parent, n, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/%d/task/%d/children" % (parent, parent)) as f:
            kids = [int(x) for x in f.read().split()]
        if len(kids) >= n:
            return kids
        time.sleep(0.1)
    raise AssertionError("no %d workers of %d" % (n, parent))


def test_several_pids_and_a_worker_given():
    """-p a,b traces both trees; -p of a worker reports it as a worker and says so."""
    a, pa = start_server("--workers", "2", "--serve", "30", "--records", "5000")
    b, pb = start_server("--workers", "2", "--serve", "30", "--records", "5000")
    try:
        wa, wb = worker_pids(pa, 2), worker_pids(pb, 2)
        time.sleep(0.5)
        with CowtraceProcess(["-p", "%d,%d" % (pa, pb), "-d", 2, "-q"],
                             json_report=True) as ct:
            ct.wait_attached()
            rc, _, err, rep = ct.finish(30)
        assert rc == 0, err
        pids = {p["pid"]: p for p in rep["processes"]}
        assert pids[pa]["role"] == "root" and pids[pb]["role"] == "root", pids
        for w in wa + wb:
            assert pids[w]["role"] == "worker", pids[w]
        with CowtraceProcess(["-p", wa[0], "-d", 1, "-q"], json_report=True) as ct:
            ct.wait_attached()
            rc, _, err, rep = ct.finish(30)
        assert rc == 0, err
        assert "pid %d is a worker of pid %d" % (wa[0], pa) in err, err
        assert [(p["pid"], p["role"]) for p in rep["processes"]] == [(wa[0], "worker")]
    finally:
        for p in (a, b):
            p.send_signal(signal.SIGTERM)
            p.wait(30)


def smaps_rollup(pid):
    fields = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return fields


def test_memory_of_live_workers():
    """RSS, PSS, USS per process, from smaps_rollup at the end of the trace: for processes
    still alive, what the test reads right after cowtrace ended (within 2%: they serve
    requests meanwhile), and RSS >= PSS >= USS; the copies made a worker's private memory
    grow by at least what cowtrace counted."""
    server, parent = start_server("--workers", "2", "--serve", "30", "--records", "20000")
    try:
        workers = worker_pids(parent, 2)
        with CowtraceProcess(["-p", parent, "-d", 2, "-q"], json_report=True) as ct:
            ct.wait_attached()
            for w in workers:
                os.kill(w, signal.SIGUSR1)  # a full collection: thousands of copies
            rc, _, err, rep = ct.finish(30)
        truth = {p: smaps_rollup(p) for p in [parent] + workers}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    assert rc == 0, err
    procs = {p["pid"]: p for p in rep["processes"]}
    for pid, t in truth.items():
        mem = procs[pid]["memory"]
        assert mem is not None and mem["at_s"] > 0, procs[pid]
        for ours, theirs in (("rss_bytes", "Rss"), ("pss_bytes", "Pss")):
            assert abs(mem[ours] - t[theirs]) <= 0.02 * t[theirs], (pid, ours, mem, t)
        assert mem["rss_bytes"] >= mem["pss_bytes"] >= mem["uss_bytes"] > 0, mem
        assert mem["uss_bytes"] + mem["shared_bytes"] == mem["rss_bytes"], mem
    for w in workers:
        copied = procs[w]["pages"] * 4096
        assert copied > 1000 * 4096, procs[w]
        assert procs[w]["memory"]["uss_bytes"] >= copied, (procs[w]["memory"], copied)
