# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The command line contract (README.md, Usage): errors, exit codes, signals, the gate.

Every test checks afterwards that no BPF program or link the tool created is still loaded.
"""
import glob
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import (BUILD, COWTRACE, CowtraceProcess, assert_nothing_attached, bpf_objects,
                      find_process, named_writer, run_cowtrace, workload)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_GATE, EXIT_NOT_FOUND = 0, 1, 2, 3, 127


@pytest.fixture(autouse=True)
def nothing_left_attached():
    """Whatever a test did, the tool must not leave BPF programs or links behind."""
    before = bpf_objects()
    yield
    assert_nothing_attached(before)


@pytest.fixture
def sleeper():
    """A process to trace with -p that lives until the test ends; yields its pid."""
    p = subprocess.Popen(["sleep", "1000"])
    yield p.pid
    p.kill()
    p.wait()


@pytest.fixture
def marker(tmp_path):
    """(command that creates a file, the file): to prove a COMMAND did not run."""
    path = tmp_path / "command-ran"
    return ["sh", "-c", "touch '%s'" % path], path


def assert_one_line_error(res, code, *needles):
    """Exit code, and stderr exactly one line 'cowtrace: ...' containing every needle (re, I)."""
    lines = res.stderr.strip().splitlines()
    assert res.returncode == code, "exit %d, want %d; stderr: %s" % (res.returncode, code,
                                                                     res.stderr)
    assert len(lines) == 1, "want a one-line error, got: %r" % res.stderr
    assert lines[0].startswith("cowtrace: "), lines[0]
    for n in needles:
        assert re.search(n, lines[0], re.I), "%r does not say %r" % (lines[0], n)
    return lines[0]


def free_pid():
    """A pid no process has: that of a child we started and reaped just now."""
    p = subprocess.Popen(["true"])
    p.wait()
    assert not os.path.exists("/proc/%d" % p.pid)
    return p.pid


# ---------------------------------------------------------------------------------------------
# Bad input


def test_not_root(sleeper):
    res = run_cowtrace(["-p", str(sleeper)],
                       prefix=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               "--inh-caps=-all"])
    assert_one_line_error(res, EXIT_ERROR, r"root|CAP_BPF")


def test_pid_does_not_exist():
    pid = free_pid()
    assert_one_line_error(run_cowtrace(["-p", str(pid)]), EXIT_ERROR, str(pid))


@pytest.mark.parametrize("pid", ["abc", "12abc", "1.5", "", "99999999999999999999"])
def test_pid_not_a_number(pid):
    assert_one_line_error(run_cowtrace(["-p", pid]), EXIT_USAGE, r"pid")


def test_nothing_to_trace():
    assert_one_line_error(run_cowtrace([]), EXIT_USAGE)
    assert_one_line_error(run_cowtrace(["-q", "-d", "1"]), EXIT_USAGE)


def test_pid_and_command(sleeper, marker):
    cmd, path = marker
    assert_one_line_error(run_cowtrace(["-p", str(sleeper), "--"] + cmd), EXIT_USAGE)
    assert not path.exists(), "COMMAND ran despite the usage error"


@pytest.mark.parametrize("opt", ["--bogus", "-Z", "--pid"])
def test_bad_option(opt):
    assert_one_line_error(run_cowtrace([opt]), EXIT_USAGE, re.escape(opt.lstrip("-")))


@pytest.mark.parametrize("cmd", ["no-such-command-cowtrace-test", "/nonexistent/cowtrace-test"])
def test_command_not_found(cmd):
    assert_one_line_error(run_cowtrace(["--", cmd]), EXIT_NOT_FOUND, re.escape(cmd))


def test_command_not_executable(tmp_path):
    # A file that exists but cannot be executed is not "not found" (sh says 126): an error.
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")
    res = run_cowtrace(["--", str(script)])
    assert res.returncode not in (EXIT_OK, EXIT_NOT_FOUND)
    assert res.stderr.startswith("cowtrace: ")


def test_unwritable_json_path(marker):
    cmd, path = marker
    res = run_cowtrace(["--json", "/nonexistent/dir/x.json", "--"] + cmd)
    assert_one_line_error(res, EXIT_USAGE, re.escape("/nonexistent/dir/x.json"))
    assert not path.exists(), "COMMAND ran although the report could not be written"


@pytest.mark.parametrize("expr", ["pages >", "pages >> 3", "> 3", "pages > abc", "pages > 1 and",
                                  "(pages > 1", "pages > 1)", "pages = 1", "", "pages > -1"])
def test_malformed_fail_on(expr, marker):
    cmd, path = marker
    res = run_cowtrace(["--fail-on", expr, "--"] + cmd)
    assert_one_line_error(res, EXIT_USAGE, r"fail-on|gate|expr")
    assert not path.exists(), "COMMAND ran despite a malformed --fail-on"


def test_fail_on_unknown_figure(marker):
    cmd, path = marker
    res = run_cowtrace(["--fail-on", "pages > 1 or bogus_figure > 0", "--"] + cmd)
    assert_one_line_error(res, EXIT_USAGE, r"bogus_figure")
    assert not path.exists()


def test_btf_missing():
    res = run_cowtrace(["--btf", "/nonexistent/vmlinux", "--", "true"])
    assert_one_line_error(res, EXIT_ERROR, r"btf", r"not found|no such file",
                          re.escape("/nonexistent/vmlinux"))


def test_btf_without_kernel_tracepoints():
    # The tool's own BPF object has BTF, but none of the kernel's tracepoint types.
    objs = sorted(o for o in glob.glob(str(BUILD / "*.bpf.o")) if not o.endswith(".tmp.bpf.o"))
    assert objs, "no build/*.bpf.o to use as a foreign BTF file"
    res = run_cowtrace(["--btf", objs[0], "--", "true"])
    assert_one_line_error(res, EXIT_ERROR, r"tracepoint",
                          r"page_fault_user|mm_page_alloc|sched_process_\w+|task_\w+")


# ---------------------------------------------------------------------------------------------
# Ending a trace


def test_traced_pid_exits():
    """-p on a process that exits by itself: the tool ends too, and reports how it ended."""
    p = subprocess.Popen(["sh", "-c", "read x; exit 5"], stdin=subprocess.PIPE)
    # Reap it as soon as it exits, as a real parent would: a zombie still has a /proc entry.
    reaper = threading.Thread(target=p.wait, daemon=True)
    reaper.start()
    try:
        with CowtraceProcess(["-p", str(p.pid)], json_report=True) as ct:
            ct.wait_attached()
            p.stdin.write(b"\n")
            p.stdin.close()
            res = ct.finish(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
        reaper.join(10)
    assert res.returncode == EXIT_OK, res.stderr
    entry = find_process(res.report, p.pid)
    assert entry["role"] == "root"
    assert entry["exit_s"] is not None
    assert 0 <= entry["exit_s"] <= res.report["duration_s"] + 0.5
    assert entry["exit_code"] == 5


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_ends_with_report(sleeper, sig):
    with CowtraceProcess(["-p", str(sleeper)], json_report=True) as ct:
        ct.wait_attached()
        ct.send_signal(sig)
        res = ct.finish(timeout=30)
    assert res.returncode == EXIT_OK, res.stderr
    entry = find_process(res.report, sleeper)
    assert entry["exit_s"] is None and entry["exit_code"] is None, "sleep 1000 is still alive"
    assert res.report["duration_s"] > 0
    assert res.stdout.strip(), "no text report on stdout"
    assert os.path.exists("/proc/%d" % sleeper), "the tool must not harm the traced process"


def test_two_sigints_end_promptly(sleeper):
    with CowtraceProcess(["-p", str(sleeper)]) as ct:
        ct.wait_attached()
        ct.send_signal(signal.SIGINT)
        ct.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        res = ct.finish(timeout=20)
        took = time.monotonic() - t0
    # Either a clean end or the conventional 130 / death by SIGINT; never a hang or a crash.
    assert res.returncode in (EXIT_OK, 130, -signal.SIGINT), res
    assert took < 10, "took %.1f s to end after two SIGINTs" % took
    assert os.path.exists("/proc/%d" % sleeper)


def test_duration(sleeper):
    with CowtraceProcess(["-q", "-d", "1", "-p", str(sleeper)], json_report=True) as ct:
        ct.wait_attached()
        t0 = time.monotonic()
        res = ct.finish(timeout=30)
        after_attach = time.monotonic() - t0
    assert res.returncode == EXIT_OK, res.stderr
    assert 0.9 <= res.report["duration_s"] <= 5, res.report["duration_s"]
    assert after_attach < 15
    assert res.stdout == "", "-q must print no text report"


def test_interval_summaries():
    res = run_cowtrace(["-q", "-i", "0.3", "--", "sleep", "1.5"])
    assert res.returncode == EXIT_OK, res.stderr
    live = [l for l in res.stderr.splitlines() if not l.startswith("cowtrace: ")]
    # About 5 expected; a loaded machine may lose one or two ticks, never all of them.
    assert 2 <= len(live) <= 10, "want ~5 live summaries every 0.3 s: %r" % res.stderr
    assert all("pages" in l for l in live), live


def test_json_to_stdout():
    res = run_cowtrace(["--json", "-", "--", workload("cow_writer"), "-n", "3", "-o", "/dev/null"])
    assert res.returncode == EXIT_OK, res.stderr
    report = json.loads(res.stdout)  # stdout holds the JSON and nothing else
    assert report["totals"]["pages"] >= 3
    # The text report moved to stderr.
    assert [l for l in res.stderr.splitlines() if not l.startswith("cowtrace: ")]


def test_trace_and_json_both_on_stdout():
    assert_one_line_error(run_cowtrace(["-T", "--json", "-", "--", "true"]), EXIT_USAGE)


# ---------------------------------------------------------------------------------------------
# The gate and exit statuses


def test_fail_on_holds():
    res = run_cowtrace(["-q", "--fail-on", "pages > 0", "--", workload("cow_writer"), "-n", "10"],
                       json_report=True)
    assert res.returncode == EXIT_GATE, res.stderr
    # It says why: the figure, its value and the comparison.
    pages = res.report["totals"]["pages"]
    assert pages >= 10
    why = [l for l in res.stderr.splitlines() if "pages" in l]
    assert why, "no reason on stderr: %r" % res.stderr
    assert any(str(pages) in l for l in why), "the reason does not give pages=%d: %r" % (
        pages, why)


def test_fail_on_figures_are_the_report():
    """Gate figures are the report's numbers: a threshold just below holds, at the value not."""
    args = ["-q", "--", workload("cow_writer"), "-n", "50"]
    first = run_cowtrace(args, json_report=True)
    assert first.returncode == EXIT_OK, first.stderr
    workers = [p for p in first.report["processes"] if p["role"] == "worker"]
    assert len(workers) == 1
    anon = workers[0]["by_kind"]["anon"]
    assert anon >= 50
    # worker_pages_max of this run is the one worker's pages; the child's count is exact, so the
    # same threshold behaves the same in the next run.
    held = run_cowtrace(["--fail-on", "worker_pages_max >= %d" % workers[0]["pages"]] + args)
    assert held.returncode == EXIT_GATE, held.stderr
    not_held = run_cowtrace(["--fail-on", "worker_pages_max > %d" % workers[0]["pages"]] + args)
    assert not_held.returncode == EXIT_OK, not_held.stderr
    # Not Python: no collection ever ran, so a gc gate never holds.
    gc_gate = run_cowtrace(["--fail-on", "gc > 0 or gc_pct > 0 or worker_gc_max > 0"] + args)
    assert gc_gate.returncode == EXIT_OK, "a C workload tripped a gc gate: %s" % gc_gate.stderr


def test_fail_on_not_held_passes_status():
    res = run_cowtrace(["-q", "--fail-on", "pages > 100000", "--", workload("cow_writer"),
                        "-n", "10"])
    assert res.returncode == EXIT_OK, res.stderr
    res = run_cowtrace(["-q", "--fail-on", "pages > 100000", "--", "sh", "-c", "exit 7"])
    assert res.returncode == 7, res.stderr


@pytest.mark.parametrize("script,code", [("exit 0", 0), ("exit 7", 7), ("exit 42", 42),
                                         ("kill -TERM $$", 128 + 15), ("kill -KILL $$", 128 + 9)])
def test_command_status_passed_through(script, code):
    res = run_cowtrace(["-q", "--", "sh", "-c", script])
    assert res.returncode == code, res.stderr


def test_command_gets_args_and_stdin():
    res = run_cowtrace(["-q", "--", "sh", "-c", 'read x; echo "$x/$1"', "sh", "arg one"],
                       input="from stdin\n")
    assert res.returncode == EXIT_OK, res.stderr
    assert res.stdout == "from stdin/arg one\n"


def test_help():
    res = run_cowtrace(["--help"])
    assert res.returncode == EXIT_OK
    text = res.stdout
    for opt in ("--pid", "--duration", "--interval", "--json", "--fail-on", "--trace", "--btf",
                "--quiet", "--verbose", "--version"):
        assert opt in text, "--help does not mention %s" % opt
    # The gate's figures, each on its own line.
    for fig in ("pages", "anon", "file", "zero", "gc", "gc_pct", "other"):
        assert re.search(r"^\s+%s\s" % fig, text, re.M), "--help does not list figure %s" % fig
    assert re.search(r"^examples?:", text, re.I | re.M), "--help has no examples"
    assert "--fail-on '" in text, "no --fail-on example"
    assert run_cowtrace(["-h"]).stdout == text


def test_version():
    res = run_cowtrace(["--version"])
    assert res.returncode == EXIT_OK
    m = re.fullmatch(r"cowtrace (\d+\.\d+\.\d+)\S*\n", res.stdout)
    assert m, "unexpected --version output %r" % res.stdout
    report = run_cowtrace(["-q", "--", "true"], json_report=True).report
    assert report["version"] == m[1] or res.stdout.split()[1] == report["version"]


DIRECT_MAP_RE = re.compile(r"^cowtrace: capture: through the kernel's direct map at 0x(ffff[0-9a-f]{12}) "
                           r"\((4|5)-level page tables, checked against /proc/self/pagemap"
                           r"(, huge pages too|; no huge page to check the walk on); "
                           r"(\d+) bases tried in [\d.]+ ms\)$", re.M)
THP = "/sys/kernel/mm/transparent_hugepage/enabled"


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the direct-map capture is x86-64's")
def test_direct_map_found():
    """Root on x86-64 (this machine): the capture finds the direct map and says so under -v;
    with --no-direct-map, or with nothing to capture, it does not look."""
    res = run_cowtrace(["-v", "--no-stacks", "-q", "--", "true"])
    assert res.returncode == EXIT_OK, res.stderr
    m = DIRECT_MAP_RE.search(res.stderr)
    assert m, "no direct-map line under -v:\n" + "\n".join(
        l for l in res.stderr.splitlines() if "capture" in l or "direct" in l)
    base = int(m[1], 16)
    assert base % (1 << 30) == 0 and base >= 0xff11000000000000, hex(base)
    assert 1 <= int(m[4]) <= 1 << 17
    # where a process can have transparent huge pages, the walk's large-page branch was
    # checked on one (this machine: THP "madvise", and 2 MiB free)
    with open(THP) as f:
        thp = f.read()
    if "[never]" not in thp:
        assert m[3] == ", huge pages too", (thp, m[0])
    res = run_cowtrace(["-v", "--no-direct-map", "-q", "--", "true"])
    assert res.returncode == EXIT_OK, res.stderr
    assert not DIRECT_MAP_RE.search(res.stderr)
    assert "capture: through the target's mappings (--no-direct-map)" in res.stderr
    res = run_cowtrace(["-v", "--counts-only", "-q", "--", "true"])
    assert res.returncode == EXIT_OK and "capture:" not in res.stderr, res.stderr


@pytest.fixture
def bpf_stats():
    """kernel.bpf_stats_enabled=1 for one test, then back to what it was."""
    path = "/proc/sys/kernel/bpf_stats_enabled"
    with open(path) as f:
        was = f.read().strip()
    with open(path, "w") as f:
        f.write("1")
    yield
    with open(path, "w") as f:
        f.write(was)


def test_bpf_run_time_reported(bpf_stats):
    """With kernel.bpf_stats_enabled, the report gives each program's runs and run time: the
    detector's two programs ran at least once per copy, for a plausible time each."""
    pages = 2000
    with tempfile.TemporaryDirectory() as d:
        res = run_cowtrace(["--", workload("cow_writer"), "-n", str(pages), "-o",
                            os.path.join(d, "line")], json_report=True)
    assert res.returncode == EXIT_OK, res.stderr
    progs = {p["program"]: p for p in res.report["bpf_stats"]}
    for name in ("fault_user", "page_alloc"):
        assert progs[name]["runs"] >= pages, progs
        # a run costs more than nothing, and no program ran longer than the trace on every CPU
        # (bounds that hold on any machine: the cost itself is measured by make bench)
        assert 0 < progs[name]["run_ns"] < res.report["duration_s"] * 1e9 * os.cpu_count(), \
            progs
    m = re.search(r"^bpf time: +([\d.]+) ms, (\d+) ns per copy .*\n +ms: (.*)$", res.stdout, re.M)
    assert m, res.stdout
    total = sum(p["run_ns"] for p in progs.values())
    assert abs(float(m[1]) - total / 1e6) <= 0.05 + 1e-9, (m[1], total)
    copies = res.report["totals"]["pages"] + res.report["totals"]["by_kind"]["zero"]
    assert abs(int(m[2]) - total / copies) <= 1, (m[2], total, copies)
    assert "fault_user" in m[3] and "page_alloc" in m[3]


def test_bpf_run_time_absent_without_stats():
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        if f.read().strip() != "0":
            pytest.skip("kernel.bpf_stats_enabled is on here")
    res = run_cowtrace(["--", "true"], json_report=True)
    assert res.returncode == EXIT_OK, res.stderr
    assert res.report["bpf_stats"] is None
    assert "bpf time:" not in res.stdout


def test_list_detectors():
    """--list-detectors: every detector, each available or with its reason; here (no kprobes,
    fentry refused) only fault-alloc-tp is available, and it is what a trace uses."""
    res = subprocess.run([str(COWTRACE), "--list-detectors"], capture_output=True, text=True)
    assert res.returncode == EXIT_OK, res.stderr
    lines = dict(line.split(None, 1) for line in res.stdout.splitlines())
    assert set(lines) == {"wp-page-copy-fentry", "wp-page-copy-kprobe", "do-wp-page-fentry",
                          "do-wp-page-kprobe", "fault-alloc-tp"}, res.stdout
    for name, what in lines.items():
        assert what.startswith("available (sees: ") or re.match(r"unavailable: \S", what), what
    default = next(n for n, w in lines.items() if w.startswith("available"))
    res = run_cowtrace(["--", "true"], json_report=True)
    assert res.returncode == EXIT_OK and res.report["detector"] == default, res.stderr


def test_detector_forced():
    """--detector: an unknown name is a usage error before anything is loaded; one that cannot
    run here says why in one line; one that can is used."""
    res = run_cowtrace(["--detector", "no-such", "--", "true"])
    assert res.returncode == EXIT_USAGE and "no detector called 'no-such'" in res.stderr, \
        res.stderr
    listing = subprocess.run([str(COWTRACE), "--list-detectors"], capture_output=True,
                             text=True).stdout
    for line in listing.splitlines():
        name, what = line.split(None, 1)
        available = what.startswith("available")
        res = run_cowtrace(["--detector", name, "--", "true"], json_report=available)
        if available:
            assert res.returncode == EXIT_OK and res.report["detector"] == name, res.stderr
        else:
            assert res.returncode == EXIT_ERROR, res.stderr
            errs = [l for l in res.stderr.splitlines() if l.startswith("cowtrace:")]
            assert errs == ["cowtrace: detector %s cannot run here: %s"
                            % (name, what[len("unavailable: "):])], res.stderr


def test_kernel_thread_refused():
    """-p of a kernel thread (kthreadd, pid 2) is a one-line error: it has no user memory."""
    res = run_cowtrace(["-p", "2"])
    assert res.returncode == EXIT_ERROR, res.stderr
    assert res.stderr.strip().splitlines() == [
        "cowtrace: 2 is a kernel thread (kthreadd): it has no user memory to trace"], res.stderr


def test_zombie_refused():
    """-p of a zombie is a one-line error, not a trace that waits for it forever."""
    code = "import os, time\npid = os.fork()\nif pid == 0:\n    os._exit(0)\n" \
           "print(pid, flush=True)\ntime.sleep(30)\n"
    parent = subprocess.Popen(["/usr/bin/python3", "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        zombie = int(parent.stdout.readline())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open("/proc/%d/stat" % zombie) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.05)
        res = run_cowtrace(["-p", str(zombie)])
        assert res.returncode == EXIT_ERROR, res.stderr
        assert res.stderr.strip().splitlines() == [
            "cowtrace: process %d has exited (a zombie its parent has not reaped)" % zombie], \
            res.stderr
    finally:
        parent.kill()
        parent.wait()


def test_setuid_refused():
    """A setuid copy refuses to run for another user: it would run COMMAND and write reports as
    root for anyone."""
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        copy = os.path.join(d, "cowtrace")
        subprocess.run(["cp", str(COWTRACE), copy], check=True)
        os.chmod(copy, 0o4755)
        res = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                              copy, "--json", os.path.join(d, "r.json"), "--", "true"],
                             capture_output=True, text=True, timeout=30)
        assert res.returncode == EXIT_ERROR, res.stderr
        assert res.stderr.startswith("cowtrace: refusing to run setuid or setgid"), res.stderr
        assert not os.path.exists(os.path.join(d, "r.json"))


def test_outputs_naming_one_file_refused():
    res = run_cowtrace(["--json", "/tmp/cowtrace-same", "--folded", "/tmp/cowtrace-same", "--",
                        "true"])
    assert res.returncode == EXIT_USAGE, res.stderr
    assert "--json and --folded both name /tmp/cowtrace-same" in res.stderr


ESCAPE_COMM = named_writer(b"\x1b]0;owned\x07\x1b[2J", 64)


@pytest.mark.parametrize("by", ["field", "stack"])
def test_comm_escape_sequences_do_not_reach_the_terminal(by):
    """A process that names itself with terminal escape sequences (set the window title,
    clear the screen) shows up escaped in the text report; the JSON keeps the name exact."""
    with tempfile.TemporaryDirectory() as d:
        report = os.path.join(d, "r.json")
        rc, out, err, rep = run_cowtrace(["--by", by, "--json", report, "--",
                                          "/usr/bin/python3", "-c", ESCAPE_COMM])
    assert rc == 0, err
    assert "\x1b" not in out and "\x07" not in out, repr(out[-2000:])
    assert "\x1b" not in err, repr(err[-2000:])
    # the fork kept the name the parent gave itself (comm: 15 bytes at most)
    assert re.search(r"^\s*\d+\s+\d+\s+\\x1b\]0;owned\\x07 worker ", out, re.M), out
    workers = [p for p in rep["processes"] if p["role"] == "worker"]
    assert [p["comm"] for p in workers] == ["\x1b]0;owned\x07\x1b[2J"], workers
    if by == "stack":
        assert "in worker \\x1b]0;owned\\x07\\x1b[2J" in out, out[-3000:]


def run_raw(args):
    """cowtrace with args, its outputs left alone (run_cowtrace reads the --json file)."""
    return subprocess.run([str(COWTRACE)] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=60)


def test_previous_report_survives_a_failed_run(tmp_path):
    """A run that fails (no such pid) leaves the previous reports as they were, and no
    temporary file behind."""
    files = {opt: tmp_path / name for opt, name in
             (("--json", "r.json"), ("--folded", "r.folded"), ("--svg", "r.svg"))}
    for path in files.values():
        path.write_text("previous\n")
    args = []
    for opt, path in files.items():
        args += [opt, str(path)]
    res = run_raw(args + ["-p", "4194303"])
    assert_one_line_error(res, EXIT_ERROR, "4194303")
    for path in files.values():
        assert path.read_text() == "previous\n", path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.folded", "r.json", "r.svg"]


def test_report_replaces_a_symlink_without_following_it(tmp_path):
    """A symlink planted at the report's path is replaced by the report; its target is not
    written (a user who can write the directory cannot make root write elsewhere)."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "r.json"
    link.symlink_to(victim)
    res = run_cowtrace(["--json", str(link), "-q", "--", "true"])
    assert res.returncode == EXIT_OK, res.stderr
    assert victim.read_text() == "precious\n"
    assert not link.is_symlink()
    assert json.loads(link.read_text())["tool"] == "cowtrace"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "victim"]


def test_report_to_a_directory_refused(tmp_path, marker):
    cmd, path = marker
    res = run_raw(["--json", str(tmp_path), "--"] + cmd)
    assert_one_line_error(res, EXIT_USAGE, re.escape(str(tmp_path)), "is a directory")
    assert not path.exists(), "COMMAND ran although the report could not be written"


@pytest.mark.parametrize("args", [[], ["-T"], ["--json", "-"]])
def test_stdout_full_is_an_error(args):
    """stdout on a full disk: the run fails with one line, never exits 0 with a lost report."""
    with open("/dev/full", "w") as full:
        res = subprocess.run([str(COWTRACE)] + args + ["--", "sh", "-c", "echo x > /dev/null"],
                             stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert res.returncode == EXIT_ERROR, res.stderr
    assert re.search(r"^cowtrace: writing to stdout: ", res.stderr, re.M), res.stderr


def test_parent_of_an_unreaped_zombie_ends_with_it():
    """-p of a process whose child is a zombie it never reaps: the trace ends when the
    process ends (the zombie is not traced as alive), and the report has no live process."""
    code = "import os, sys, time\npid = os.fork()\nif pid == 0:\n    os._exit(0)\n" \
           "print(pid, flush=True)\nsys.stdin.readline()\n"
    parent = subprocess.Popen(["/usr/bin/python3", "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        zombie = int(parent.stdout.readline())
        with CowtraceProcess(["-p", parent.pid, "-d", 60, "-q"], json_report=True) as ct:
            ct.wait_attached()
            t0 = time.monotonic()
            parent.stdin.write("\n")
            parent.stdin.flush()
            parent.wait(10)
            rc, _, err, rep = ct.finish(30)
            took = time.monotonic() - t0
        assert rc == EXIT_OK, err
        assert took < 10, "the trace lasted %.1f s after the process ended" % took
        assert all(p["exit_s"] is not None for p in rep["processes"]), rep["processes"]
        assert zombie not in [p["pid"] for p in rep["processes"]], rep["processes"]
    finally:
        parent.kill()
        parent.wait()


STORM = r"""
import os, sys, time
end = time.monotonic() + float(sys.argv[1])
n = 0
while time.monotonic() < end:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    n += 1
print(n, flush=True)
"""


def test_fork_and_reap_storm_attached_midway():
    """-p on a process that forks and reaps children as fast as it can, attached while it
    does: at the end no process is reported alive that is not, and no pid twice alive."""
    storm = subprocess.Popen(["/usr/bin/python3", "-c", STORM, "8"], stdout=subprocess.PIPE,
                             text=True)
    try:
        time.sleep(1)
        with CowtraceProcess(["-p", storm.pid, "-d", 4, "-q"], json_report=True) as ct:
            ct.wait_attached()
            rc, _, err, rep = ct.finish(30)
        assert rc == EXIT_OK, err
        alive = [p for p in rep["processes"] if p["exit_s"] is None]
        # -d ended the trace while the storm ran: only it is alive, and at most the one child
        # it had at that instant
        assert [p["pid"] for p in alive].count(storm.pid) == 1, alive
        assert len(alive) <= 2, "phantoms alive: %r" % alive
        assert len(rep["processes"]) > 20, "the storm was not traced: %d processes" % len(
            rep["processes"])
    finally:
        storm.wait(30)


def test_json_stdout_with_command_is_valid_json():
    """--json - with COMMAND: stdout is the report alone; COMMAND's stdout goes to stderr."""
    res = subprocess.run([str(COWTRACE), "--json", "-", "--", "sh", "-c",
                          "echo hello-from-command; echo and-err >&2"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == EXIT_OK, res.stderr
    rep = json.loads(res.stdout)
    assert rep["tool"] == "cowtrace"
    assert "hello-from-command" in res.stderr and "and-err" in res.stderr
    assert "hello-from-command" not in res.stdout.splitlines()


@pytest.mark.parametrize("stop", [False, True])
def test_duration_with_command_says_what_happens(stop):
    """-d with COMMAND: one line says COMMAND keeps running untraced, or (--stop) that it is
    stopped, which it then is; the exit status is cowtrace's own (0), not COMMAND's."""
    marker = "cowtrace-test-sleeper-%d" % os.getpid()
    # its own output elsewhere: left running, it would hold the test's pipes open
    cmd = ["bash", "-c", "exec -a %s sleep 60 >/dev/null 2>&1" % marker]
    res = run_cowtrace(["-d", "1", "-q"] + (["--stop"] if stop else []) + ["--"] + cmd)
    try:
        assert res.returncode == EXIT_OK, res.stderr
        alive = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
        if stop:
            assert re.search(r"^cowtrace: warning: -d elapsed: stopping COMMAND \(pid \d+\): "
                             r"SIGTERM$", res.stderr, re.M), res.stderr
            assert alive.returncode == 1, "COMMAND still runs: %s" % alive.stdout
        else:
            assert re.search(r"^cowtrace: warning: -d elapsed: COMMAND \(pid \d+\) keeps "
                             r"running, no longer traced", res.stderr, re.M), res.stderr
            assert alive.returncode == 0, "COMMAND did not keep running"
    finally:
        subprocess.run(["pkill", "-f", marker])


def test_stop_needs_command_and_duration():
    assert_one_line_error(run_cowtrace(["--stop", "--", "true"]), EXIT_USAGE, "--stop")
