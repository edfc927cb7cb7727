# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The container suite's machinery (tests/containers/test_containers.py uses it).

    sidroot()                 the cached Debian unstable root (sidroot.sh), or the suite's
                              failure (a skip with COWTRACE_SIDROOT=skip) with the reason
    prepare()                 once a session: the root, the scripts staged, the interpreters'
                              versions ({"3.14": "3.14.10", ...})
    Namespace(root, out, ...) the unshare command that runs a Python in a mount and pid
                              namespace (see INIT), in a cgroup of its own
    host_pid(ancestor, ns_pid)  a namespaced process's pid on the host, from /proc
    SUMMARY                   lines for the terminal summary

The end-to-end suite's helpers are imported from tests/e2e (its conftest as plain `conftest`:
this directory is a package, so this file is containers.conftest), and so are its session
fixtures: root (a visible skip without it), the built tool (an error without it).
"""

import itertools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
E2E = REPO / "tests" / "e2e"
sys.path.insert(0, str(E2E))

# tests/e2e/conftest.py's autouse session fixtures, registered here too
from conftest import require_build, require_root  # noqa: E402,F401

SIDROOT_SH = HERE / "sidroot.sh"
RESULTS = REPO / "build" / "containers"
STAGE = RESULTS / "app"
APP_FILES = [REPO / "demo" / "prefork_server.py", E2E / "pagemap.py", HERE / "gate.py"] + \
    sorted((REPO / "tests" / "workloads" / "py").glob("*.py"))
VERSIONS = ["3.13", "3.14", "3.15"]

# Inside the namespace: the scripts on a tmpfs over the root's (empty) /srv, mounted there by
# the namespace's init, so their path exists nowhere else; a run's result directory on /mnt.
APP_DIR = "/srv"
OUT_DIR = "/mnt"
# A path the host has, for another file (its own python3): bound to python3.X in the namespace
ALIAS = "/usr/bin/python3"
# What the namespace and everything in it get for an environment: nothing of pytest's
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}

# The namespace's init: the host's sh, pid 1 of the new pid namespace, in the new mount
# namespace, before it runs the interpreter (its child) in a chroot.
INIT = r"""
set -eu
root=$1 stage=$2 app=$3 out=$4 out_dir=$5 cgroup=$6 python=$7 alias=$8
shift 8
mount --make-rprivate /
mount -t proc proc "$root/proc"
mount -t tmpfs -o mode=0755,size=16m cowtrace-app "$root$app"
cp "$stage"/*.py "$root$app/"
mount --bind "$out" "$root$out_dir"
if [ -n "$alias" ]; then
	mount --bind "$root$python" "$root$alias"
	python=$alias
fi
if [ -n "$cgroup" ]; then
	echo 0 >"$cgroup/cgroup.procs"
fi
chroot "$root" "$python" "$@"
"""

SUMMARY = []


def pytest_terminal_summary(terminalreporter):
    if SUMMARY:
        terminalreporter.write_sep("-", "containers: workers' gc copies / pagemap truth")
        for line in SUMMARY:
            terminalreporter.write_line(line)


# ---------------------------------------------------------------------------------------------
# The root


_root = []


def sidroot():
    """The root's Path; sidroot.sh builds it the first time (about 2 minutes). When it cannot
    be had, the calling test fails with the reason, or is skipped with it when
    COWTRACE_SIDROOT=skip (COWTRACE_SIDROOT=require, the default, is what CI sets)."""
    mode = os.environ.get("COWTRACE_SIDROOT", "require")
    if mode not in ("require", "skip"):
        pytest.fail("COWTRACE_SIDROOT=%s: expected require or skip" % mode, pytrace=False)
    if not _root:
        try:
            p = subprocess.run([str(SIDROOT_SH)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=1800)
            err = p.stderr.strip().splitlines()
            if p.returncode == 0:
                _root.append(Path(p.stdout.strip()))
            else:
                _root.append(err[-1] if err else "sidroot.sh: exit status %d" % p.returncode)
        except subprocess.TimeoutExpired:
            _root.append("sidroot.sh: no root after 30 minutes")
    root = _root[0]
    if isinstance(root, str):
        why = "no Debian unstable root for the container tests: " + root
        if mode == "skip":
            pytest.skip(why + " (COWTRACE_SIDROOT=skip)")
        pytest.fail(why + " (COWTRACE_SIDROOT=skip would skip these tests instead)",
                    pytrace=False)
    return root


_prepared = {}


def prepare():
    """Once a session: the root, the scripts staged for the namespaces' init to copy, the mount
    point of ALIAS in the root, and {"3.X": full version} of the root's interpreters. Checks
    that the scripts' path inside the namespace is not one the host has."""
    root = sidroot()
    if not _prepared:
        shutil.rmtree(STAGE, ignore_errors=True)
        STAGE.mkdir(parents=True)
        for f in APP_FILES:
            shutil.copy2(f, STAGE)
        for f in APP_FILES:
            assert not os.path.exists(os.path.join(APP_DIR, f.name)), \
                "%s/%s exists on the host: the scripts would not be the namespace's alone" % (
                    APP_DIR, f.name)
        mount_point = root / ALIAS.lstrip("/")
        if not os.path.lexists(mount_point):
            mount_point.touch()
        assert mount_point.is_file() and not mount_point.is_symlink() and \
            mount_point.stat().st_size == 0, \
            "%s: not the empty file the suite binds interpreters on" % mount_point
        versions = {}
        for v in VERSIONS:
            p = subprocess.run(["chroot", str(root), "/usr/bin/python" + v, "-c",
                                "import platform; print(platform.python_version())"],
                               capture_output=True, text=True, env=ENV)
            assert p.returncode == 0, "python%s in %s: %s" % (v, root, p.stderr)
            versions[v] = p.stdout.strip()
        _prepared.update(root=root, versions=versions)
    return _prepared["root"], _prepared["versions"]


# ---------------------------------------------------------------------------------------------
# A Python in a mount and pid namespace


def cgroup2_mount():
    """Where the cgroup v2 hierarchy is mounted, or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, _, fs = line.partition(" - ")
            if fs.split()[0] == "cgroup2":
                return fields.split()[4]
    return None


def own_cgroup():
    """This process's cgroup v2 path ("0::PATH" in /proc/self/cgroup)."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return None


_cgroup_serial = itertools.count(1)


class Namespace:
    """One run's namespace: Namespace(root, out, version, alias).argv(script, *args) is the
    command that runs APP_DIR/script under python3.X (through ALIAS when alias) in it, with out
    (a host directory) as OUT_DIR. The namespace gets a cgroup v2 of its own where the host
    lets the suite make one (.cgroup: its path as /proc/PID/cgroup names it; else the suite's
    own, which the namespace then shares). close() removes it."""

    def __init__(self, root, out, version, alias):
        self.root, self.out, self.version, self.alias = root, out, version, alias
        self.python = ALIAS if alias else "/usr/bin/python" + version
        self.cgroup = own_cgroup()
        self._dir = None
        mount, own = cgroup2_mount(), own_cgroup()
        if mount and own is not None:
            name = "cowtrace-test-%d-%d" % (os.getpid(), next(_cgroup_serial))
            try:
                os.mkdir(os.path.join(mount, own.lstrip("/"), name))
                self._dir = os.path.join(mount, own.lstrip("/"), name)
                self.cgroup = own.rstrip("/") + "/" + name
            except OSError:
                pass

    def argv(self, script, *args):
        return ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--",
                "/bin/sh", "-c", INIT, "cowtrace-init", str(self.root), str(STAGE), APP_DIR,
                str(self.out), OUT_DIR, self._dir or "", "/usr/bin/python" + self.version,
                ALIAS if self.alias else "", "%s/%s" % (APP_DIR, script)] + \
            [str(a) for a in args]

    def close(self):
        """Remove the cgroup, once the namespace's processes have all been reaped (a few
        seconds at most; one still busy then is left, harmless, named after this pytest)."""
        deadline = time.monotonic() + 5
        while self._dir:
            try:
                os.rmdir(self._dir)
                self._dir = None
            except FileNotFoundError:
                self._dir = None
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)


def _status(pid):
    """(ppid, [NSpid: host pid first, innermost last]) of /proc/PID/status, None if gone."""
    ppid, nspid = None, None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("PPid:"):
                    ppid = int(line.split()[1])
                elif line.startswith("NSpid:"):
                    nspid = [int(x) for x in line.split()[1:]]
    except OSError:
        return None
    return ppid, nspid


def host_pid(ancestor, ns_pid, timeout=10):
    """The host pid of the process below ancestor (a host pid) whose pid in its innermost pid
    namespace is ns_pid, and which is in a namespace of its own (NSpid has two entries or
    more). Polls /proc until it appears."""
    deadline = time.monotonic() + timeout
    while True:
        procs = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                st = _status(int(d))
                if st and st[1]:
                    procs[int(d)] = st
        for pid, (ppid, nspid) in procs.items():
            if len(nspid) < 2 or nspid[-1] != ns_pid:
                continue
            up, seen = ppid, 0
            while up in procs and up != ancestor and seen < 64:
                up, seen = procs[up][0], seen + 1
            if up == ancestor:
                return pid
        if time.monotonic() > deadline:
            raise AssertionError("no process below pid %d has pid %d in its pid namespace"
                                 % (ancestor, ns_pid))
        time.sleep(0.05)
