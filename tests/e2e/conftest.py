# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Shared fixtures and helpers for every end-to-end test (tests/e2e/test_*.py).

Import the helpers directly (pytest puts this directory on sys.path):

    from conftest import run_cowtrace, workload, find_process, parse_trace

Paths
    REPO_ROOT, COWTRACE (./cowtrace), WORKLOADS (build/workloads), workload(name) -> path

Running the tool
    run_cowtrace(args, timeout=60, json_report=False, ...) -> CowtraceResult
        (returncode, stdout, stderr, report); report is the parsed --json file or None.
    CowtraceProcess(args, ...)   cowtrace in the background: .wait_attached(), .finish()
    bpf_objects() / assert_nothing_attached(before)   programs and links left behind

Reading its output
    parse_trace(stdout) -> [TraceLine], find_process(report, pid), parse_cow_writer(stdout)

Environment
    Session fixtures (autouse): root check (skips the whole session, visibly, when not root:
    "needs root for BPF"), the built tool and workloads (a missing build is an error, not a
    skip). cowtrace needs no tracefs: nothing here mounts it.
    pyenv_interpreters() -> {"3.11": Path(".../versions/3.11.7/bin/python3.11"), ...}
"""
import collections
import json
import os
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
COWTRACE = REPO_ROOT / "cowtrace"
BUILD = REPO_ROOT / "build"
WORKLOADS = BUILD / "workloads"
PAGE_SIZE = os.sysconf("SC_PAGESIZE")

# Generous: a loaded 2-core machine can take seconds to load and attach BPF programs.
DEFAULT_TIMEOUT = 60


def workload(name):
    """Path (str) of a compiled test workload, build/workloads/<name>."""
    return str(WORKLOADS / name)


# ---------------------------------------------------------------------------------------------
# Session environment


@pytest.fixture(scope="session", autouse=True)
def require_root():
    """Every e2e test loads BPF programs; without root the whole session is skipped, visibly."""
    if os.geteuid() != 0:
        pytest.skip("needs root for BPF (run the e2e tests as root: sudo make test)",
                    allow_module_level=True)


@pytest.fixture(scope="session", autouse=True)
def require_build(require_root):
    """A missing tool or workload is a build problem, reported as an error, never a skip."""
    missing = [str(p) for p in [COWTRACE, WORKLOADS / "cow_writer", WORKLOADS / "cow_bench"]
               if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail("not built: %s (run 'make cowtrace workloads' at the repo root)"
                    % ", ".join(missing), pytrace=False)


# ---------------------------------------------------------------------------------------------
# Running cowtrace

CowtraceResult = collections.namedtuple("CowtraceResult", "returncode stdout stderr report")
CowtraceResult.__doc__ = """Result of one run. Unpacks as (returncode, stdout, stderr, report);
report is the parsed JSON report, or None when no --json file was asked for or written."""


def _json_arg(args):
    """The FILE of a '--json FILE' / '--json=FILE' before any '--' in args, else None."""
    for i, a in enumerate(args):
        if a == "--":
            break
        if a == "--json" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--json="):
            return a[len("--json="):]
    return None


def _with_json(args, path):
    """args with '--json path' inserted before the options end ('--' or COMMAND)."""
    args = list(args)
    pos = args.index("--") if "--" in args else len(args)
    return args[:pos] + ["--json", path] + args[pos:]


def _load_report(path, stdout):
    if path is None:
        return None
    if path == "-":
        return json.loads(stdout) if stdout.strip() else None
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def run_cowtrace(args, timeout=DEFAULT_TIMEOUT, json_report=False, input=None, env=None,
                 prefix=(), cwd=REPO_ROOT):
    """Run ./cowtrace with args (a list of strings) and wait for it.

    json_report=True adds '--json <temp file>' (before '--') and parses it; a '--json FILE' already
    in args is parsed too ('-' is parsed from stdout). prefix is a command to run cowtrace under
    (e.g. setpriv ...). A run that does not end within timeout seconds is killed and fails the
    test: a hanging tracer is a bug. Returns CowtraceResult(returncode, stdout, stderr, report).
    """
    args = [str(a) for a in args]
    tmpdir = None
    if json_report:
        tmpdir = tempfile.TemporaryDirectory(prefix="cowtrace-test-")
        args = _with_json(args, os.path.join(tmpdir.name, "report.json"))
    try:
        try:
            p = subprocess.run(list(prefix) + [str(COWTRACE)] + args, input=input,
                               capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
        except subprocess.TimeoutExpired as e:
            pytest.fail("cowtrace %s did not end within %s s; stderr: %s"
                        % (" ".join(args), timeout, e.stderr), pytrace=False)
        report = _load_report(_json_arg(args), p.stdout)
        return CowtraceResult(p.returncode, p.stdout, p.stderr, report)
    finally:
        if tmpdir:
            tmpdir.cleanup()


class CowtraceProcess:
    """cowtrace running in the background, for attach, signal and duration tests.

        with CowtraceProcess(["-p", str(pid)], json_report=True) as ct:
            ct.wait_attached()
            ct.send_signal(signal.SIGINT)
            res = ct.finish()          # CowtraceResult

    stdout and stderr are collected by threads, so the tool can never block on a full pipe.
    Leaving the with-block kills a tool that is still running (the test has failed by then).
    """

    def __init__(self, args, json_report=False, env=None, cwd=REPO_ROOT, stdin=None):
        self.args = [str(a) for a in args]
        self._tmpdir = None
        if json_report:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="cowtrace-test-")
            self.args = _with_json(self.args, os.path.join(self._tmpdir.name, "report.json"))
        self.stdout_lines = []
        self.stderr_lines = []
        self._attached = threading.Event()
        self.start_time = time.monotonic()
        self.attached_time = None
        self.proc = subprocess.Popen([str(COWTRACE)] + self.args, stdin=stdin,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env, cwd=cwd)
        self.pid = self.proc.pid
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, False),
                                          daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, True),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    def _pump(self, pipe, is_stderr):
        for line in pipe:
            if is_stderr:
                self.stderr_lines.append(line)
                if line.startswith("cowtrace: attached") and not self._attached.is_set():
                    self.attached_time = time.monotonic()
                    self._attached.set()
            else:
                self.stdout_lines.append(line)
        pipe.close()

    def wait_attached(self, timeout=DEFAULT_TIMEOUT):
        """Wait for the 'cowtrace: attached' line; fail (with stderr) if it never comes."""
        deadline = time.monotonic() + timeout
        while not self._attached.wait(0.05):
            if self.proc.poll() is not None:
                for t in self._threads:
                    t.join(5)
                if self._attached.is_set():
                    break
                pytest.fail("cowtrace exited with %s before attaching; stderr: %s"
                            % (self.proc.returncode, "".join(self.stderr_lines)),
                            pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail("cowtrace did not attach within %s s; stderr: %s"
                            % (timeout, "".join(self.stderr_lines)), pytrace=False)
        return self.attached_time - self.start_time

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def finish(self, timeout=DEFAULT_TIMEOUT):
        """Wait for the tool to end by itself; a hang fails the test."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail("cowtrace did not end within %s s; stderr: %s"
                        % (timeout, "".join(self.stderr_lines)), pytrace=False)
        for t in self._threads:
            t.join(10)
        stdout = "".join(self.stdout_lines)
        report = _load_report(_json_arg(self.args), stdout)
        return CowtraceResult(self.proc.returncode, stdout, "".join(self.stderr_lines), report)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._tmpdir:
            self._tmpdir.cleanup()


# ---------------------------------------------------------------------------------------------
# Reading the output

TraceLine = collections.namedtuple("TraceLine", "time_s pid tid kind cause addr ip")
_TRACE_RE = re.compile(r"^(\d+\.\d+) (\d+) (\d+) (anon|file|zero) (gc[012]|other) "
                       r"(0x[0-9a-f]+) (0x[0-9a-f]+)$")


def parse_trace(stdout):
    """The --trace lines of stdout as TraceLine tuples (ints for pid/tid/addr/ip).

    Comment lines ('#') and the text report are ignored; any other line that starts like a trace
    line (a number, a space, a pid) but does not match the documented format fails the test.
    """
    out = []
    for line in stdout.splitlines():
        m = _TRACE_RE.match(line)
        if m:
            out.append(TraceLine(float(m[1]), int(m[2]), int(m[3]), m[4], m[5],
                                 int(m[6], 16), int(m[7], 16)))
        elif re.match(r"^\d+\.\d+ \d+ ", line):
            pytest.fail("malformed --trace line: %r" % line, pytrace=False)
    return out


def find_process(report, pid):
    """The report's process entries with this pid (a reused pid has several). Returns the single
    entry, failing the test if there is not exactly one."""
    entries = [p for p in report["processes"] if p["pid"] == pid]
    assert len(entries) == 1, "expected one process entry for pid %d, got %s: %s" % (
        pid, len(entries), json.dumps(report["processes"], indent=1))
    return entries[0]


CowWriterLine = collections.namedtuple("CowWriterLine", "pid tid base pages offset kind writer")
_COW_WRITER_RE = re.compile(r"^cow_writer pid=(\d+) tid=(\d+) base=(0x[0-9a-f]+) pages=(\d+) "
                            r"offset=(0x[0-9a-f]+) kind=(anon|file|zero) writer=(0x[0-9a-f]+)$",
                            re.M)


def parse_cow_writer(stdout):
    """The line tests/workloads/cow_writer prints before its writes (fails if absent)."""
    m = _COW_WRITER_RE.search(stdout)
    assert m, "no cow_writer line in stdout: %r" % stdout[:2000]
    return CowWriterLine(int(m[1]), int(m[2]), int(m[3], 16), int(m[4]), int(m[5], 16), m[6],
                         int(m[7], 16))


# ---------------------------------------------------------------------------------------------
# BPF objects left behind


def bpf_objects():
    """(set of program ids, set of link ids) loaded in the kernel right now."""
    def ids(kind):
        # An object freed while bpftool lists them (another tracer's, the kernel matrix's
        # host run beside this suite) is an {"error": ...} entry and exit status 255: the
        # others are still listed.
        for _ in range(5):
            out = subprocess.run(["bpftool", "-j", kind, "show"], capture_output=True,
                                 text=True).stdout
            try:
                return {o["id"] for o in json.loads(out or "[]") if "id" in o}
            except ValueError:
                time.sleep(0.05)
        raise AssertionError("bpftool -j %s show: no JSON after 5 tries: %r" % (kind, out))
    return ids("prog"), ids("link")


def _ids_held_by_others(exclude_pids):
    """Program and link ids that live processes other than exclude_pids hold open, from
    /proc/*/fdinfo: those belong to someone else's tracer running at the same time."""
    progs, links = set(), set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) in exclude_pids:
            continue
        try:
            for fd in (d / "fdinfo").iterdir():
                try:
                    text = fd.read_text()
                except OSError:
                    continue
                for m in re.finditer(r"^(prog_id|link_id):\s*(\d+)", text, re.M):
                    (progs if m[1] == "prog_id" else links).add(int(m[2]))
        except OSError:
            continue
    return progs, links


def assert_nothing_attached(before, exclude_pids=(), timeout=5.0):
    """Fail if BPF programs or links created since before=bpf_objects() are still there.

    Objects are freed asynchronously after the last fd closes, so this polls for a while. Objects
    that another live process holds (a tracer someone else runs on this machine meanwhile) are
    not ours and are ignored; exclude_pids are processes of this test that must not hold any.
    """
    deadline = time.monotonic() + timeout
    while True:
        progs, links = bpf_objects()
        new_progs, new_links = progs - before[0], links - before[1]
        if new_progs or new_links:
            held_progs, held_links = _ids_held_by_others(set(exclude_pids) | {os.getpid()})
            new_progs -= held_progs
            new_links -= held_links
        if not new_progs and not new_links:
            return
        if time.monotonic() > deadline:
            pytest.fail("BPF objects left behind: programs %s, links %s"
                        % (sorted(new_progs), sorted(new_links)), pytrace=False)
        time.sleep(0.1)


# ---------------------------------------------------------------------------------------------
# Interpreters


def named_writer(comm, pages):
    """Python source of a program that names itself comm (bytes, prctl(PR_SET_NAME): any bytes
    a process may choose) and forks a child that writes pages inherited pages."""
    return r"""
import ctypes, os
ctypes.CDLL(None).prctl(15, %r, 0, 0, 0)  # PR_SET_NAME
buf = bytearray(4096 * %d)
pid = os.fork()
if pid == 0:
    for i in range(0, len(buf), 4096):
        buf[i] = 1
    os._exit(0)
os.waitpid(pid, 0)
""" % (comm, pages)


def pyenv_root():
    """pyenv's root (`pyenv root`, else $PYENV_ROOT, else /root/.pyenv), or None."""
    try:
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    for cand in (os.environ.get("PYENV_ROOT"), "/root/.pyenv"):
        if cand and Path(cand, "versions").is_dir():
            return Path(cand)
    return None


def pyenv_interpreters():
    """{"3.X": Path to versions/3.X.*/bin/python3.X} for every CPython 3 that pyenv installed.

    Keys are major.minor; with several patch releases of one minor the newest wins. Free-threaded
    builds (3.13t...) keep their 't' in the key ("3.13t"). Only real CPython 3 versions are
    listed (no 2.7, pypy, or virtualenvs). Empty dict when pyenv is not installed.
    """
    root = pyenv_root()
    found = {}
    if root is None:
        return found
    for d in sorted((root / "versions").glob("3.*")):
        m = re.fullmatch(r"3\.(\d+)\.(\d+)(t?)", d.name)
        if not m:
            continue
        key = "3.%s%s" % (m[1], m[3])
        exe = d / "bin" / ("python%s" % key)
        if not os.access(exe, os.X_OK):
            continue
        patch = int(m[2])
        if key not in found or patch > found[key][0]:
            found[key] = (patch, exe)
    return {k: v[1] for k, v in sorted(found.items(), key=lambda kv: int(kv[0][2:].rstrip("t")))}


def interpreter_params(debian_python, pyenv_wanted):
    """pytest parameters [((path, "3.X")) with id]: Debian's python3 first, then each pyenv
    version wanted; an absent one is a visible skip naming it."""
    found = {k: str(v) for k, v in pyenv_interpreters().items()}
    out = [pytest.param((debian_python, "3.11"), id="debian-3.11",
                        marks=[] if os.path.exists(debian_python) else
                        [pytest.mark.skip(reason="no %s" % debian_python)])]
    for v in pyenv_wanted:
        marks = [] if v in found else [pytest.mark.skip(reason="pyenv Python %s not installed"
                                                        % v)]
        out.append(pytest.param((found.get(v), v), id="pyenv-" + v, marks=marks))
    return out
