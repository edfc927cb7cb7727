# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Interpreters the host cannot reach by their path: in a mount namespace of their own, behind
a host path that names another file, deleted since they started; and processes in a pid
namespace of their own. Debian's python3.11 (USDT) runs demo/prefork_server.py, whose workers
measure their first collection with /proc/self/pagemap (see test_python_gc.py); cowtrace must
find the interpreter through the file each process maps, attach its gc probes and count at
least 90% of that truth as gc, and name each process's pid inside its namespace and its cgroup.

The same with Debian unstable's 3.13, 3.14 and 3.15 in a chroot: tests/containers.
"""

import re
import shutil
import subprocess

import pytest

from conftest import REPO_ROOT, run_cowtrace
from test_python_gc import (MIN_RECALL, PARENT_RE, WORKER_RE, LineReader, attach_then_fork,
                            describe, load_ground_truth, load_json, stop)

SERVER = REPO_ROOT / "demo" / "prefork_server.py"
PYTHON = "/usr/bin/python3.11"
VERSION = "3.11.2"


def check_workers(report, truth, ns_pids):
    """Each worker (by the pid it printed, which is its namespace's) counted >= 90% of its
    first collection's pages as gc, by the interpreter cowtrace found (USDT)."""
    procs = {p["ns_pid"]: p for p in report["processes"] if p["role"] == "worker"}
    assert len(ns_pids) == 2, ns_pids
    for n in ns_pids:
        assert n in procs, "worker %d (namespace pid) not in %r" % (
            n, [(p["pid"], p["ns_pid"]) for p in report["processes"]])
        proc = procs[n]
        first = truth[n]["copied_by_collection"]
        info = "worker %d, ground truth %d: %s" % (n, first, describe(proc))
        assert first > 500, info
        assert proc["python"] and proc["python"]["version"] == VERSION, info
        assert proc["python"]["gc_source"] == "usdt", info
        assert proc["by_cause"]["gc"] >= MIN_RECALL * first, info
        assert proc["cgroup"] and proc["cgroup"].startswith("/"), info
    return procs


def test_private_mount_and_pid_namespace(tmp_path):
    """python3.11 copied to a tmpfs mounted only in its own mount namespace (the host sees an
    empty directory there), in a pid namespace of its own: found, probed, counted; the report
    gives each process's pid inside the namespace."""
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    gt = tmp_path / "gt.jsonl"
    report = tmp_path / "report.json"
    inner = ('mount -t tmpfs none "$1" && cp %s "$1/python3.11" && '
             'exec "$1/python3.11" %s --workers 2 --ground-truth "$2"' % (PYTHON, SERVER))
    rc, out, err, _ = run_cowtrace(
        ["--json", report, "--", "unshare", "--mount", "--pid", "--fork", "--mount-proc",
         "sh", "-c", inner, "sh", hidden, gt], 120)
    assert rc == 0, err[-3000:]
    assert not list(hidden.iterdir()), "the tmpfs leaked into the host's mount namespace"
    rep = load_json(report)
    workers = [int(m.group(1)) for m in map(WORKER_RE.match, out.splitlines()) if m]
    procs = check_workers(rep, load_ground_truth(gt), workers)
    for p in procs.values():
        assert p["ns_pid"] != p["pid"], describe(p)
    # unshare itself is in the host's namespace: there ns_pid is pid
    root = [p for p in rep["processes"] if p["role"] == "root"]
    assert len(root) == 1 and root[0]["ns_pid"] == root[0]["pid"], root
    # the text report shows the namespace's pids beside the host's, and the cgroups
    table = re.search(r"^\s+PID\s+PPID\s+NSPID\s+COMM", out, re.M)
    assert table, out[-3000:]
    for p in procs.values():
        assert re.search(r"^\s*%d\s+\d+\s+%d\s" % (p["pid"], p["ns_pid"]), out, re.M), out
    assert re.search(r"^cgroup /\S*: .*\b%d\b" % root[0]["pid"], out, re.M), out


def test_host_path_names_another_file(tmp_path):
    """The path the process runs python from is, on the host, another ELF file (a shell): the
    interpreter is the file mapped, not the one at its path."""
    decoy = tmp_path / "python3.11"
    shutil.copy("/bin/sh", decoy)
    gt = tmp_path / "gt.jsonl"
    report = tmp_path / "report.json"
    inner = ('mount --bind %s "$1" && exec "$1" %s --workers 2 --ground-truth "$2"'
             % (PYTHON, SERVER))
    rc, out, err, _ = run_cowtrace(
        ["--json", report, "-q", "--", "unshare", "--mount", "sh", "-c", inner, "sh", decoy,
         gt], 120)
    assert rc == 0, err[-3000:]
    rep = load_json(report)
    workers = [int(m.group(1)) for m in map(WORKER_RE.match, out.splitlines()) if m]
    procs = check_workers(rep, load_ground_truth(gt), workers)
    for p in procs.values():
        assert p["ns_pid"] == p["pid"], describe(p)  # no pid namespace here


def test_deleted_binary_attach(tmp_path):
    """-p on a server whose interpreter file was deleted after it started ("(deleted)" in its
    maps): found through the mapping, probed, its workers' collections counted."""
    exe = tmp_path / "python3.11"
    shutil.copy(PYTHON, exe)
    gt = tmp_path / "gt.jsonl"
    server = subprocess.Popen([str(exe), str(SERVER), "--workers", "2", "--fork-delay", "60",
                               "--ground-truth", str(gt)], stdout=subprocess.PIPE)
    out = LineReader(server.stdout)
    try:
        parent = int(out.wait_for(PARENT_RE, 30).group(1))
        exe.unlink()
        with open("/proc/%d/maps" % parent) as f:
            assert "python3.11 (deleted)" in f.read()
        workers, rep = attach_then_fork(server, out, parent)
    finally:
        stop(server)
    check_workers(rep, load_ground_truth(gt), workers)
