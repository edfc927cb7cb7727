# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""--prometheus FILE: the report's figures for node_exporter's textfile collector.

The numbers are those of the JSON report of the same run; promtool accepts the file; with -i
it is rewritten during the run, and a reader never sees half of it; names that traced processes
give themselves cannot break out of their label.
"""
import collections
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

from conftest import (CowtraceProcess, REPO_ROOT, assert_nothing_attached, bpf_objects,
                      named_writer, run_cowtrace, workload)

EXIT_OK, EXIT_USAGE = 0, 2
PYTHON = "/usr/bin/python3"
PREFORK = str(REPO_ROOT / "demo" / "prefork_server.py")
# the family written last: a file that ends with it was written whole
LAST_FAMILY = "cowtrace_trace_seconds"


@pytest.fixture(autouse=True)
def nothing_left_attached():
    before = bpf_objects()
    yield
    assert_nothing_attached(before)


@pytest.fixture(scope="module")
def promtool():
    """promtool (Debian: prometheus) is a requirement of this suite, never a silent skip."""
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool not found: install Debian's 'prometheus' package "
                    "(scripts/deps.sh does)", pytrace=False)
    return path


def check_with_promtool(promtool, text):
    res = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, "promtool check metrics: %s%s\n---\n%s" % (
        res.stdout, res.stderr, text)
    # it lints too: any complaint is printed, even when it exits 0
    assert not (res.stdout + res.stderr).strip(), res.stdout + res.stderr


# ---------------------------------------------------------------------------------------------
# A parser of the text exposition format, strict where cowtrace must be

Sample = collections.namedtuple("Sample", "name labels value")
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


def _parse_labels(line, i):
    """Labels from line[i] (just after '{') to the closing '}': (dict, index after '}')."""
    labels = {}
    while line[i] != "}":
        m = _NAME.match(line, i)
        assert m and line[m.end():m.end() + 2] == '="', "bad label at %d: %r" % (i, line)
        key, i, value = m.group(), m.end() + 2, []
        while line[i] != '"':
            if line[i] == "\\":
                assert line[i + 1] in _ESCAPES, "bad escape in %r" % line
                value.append(_ESCAPES[line[i + 1]])
                i += 2
            else:
                value.append(line[i])
                i += 1
        assert key not in labels, "label %s twice: %r" % (key, line)
        labels[key] = "".join(value)
        i += 1
        if line[i] == ",":
            i += 1
    return labels, i + 1


def parse_exposition(text):
    """{(name, frozenset(labels.items())): value} and [family names in order]; fails the test
    on anything malformed: a family without HELP or TYPE, samples of one family apart, the same
    series twice, a line that is not a sample or one of the two comments."""
    assert text.endswith("\n"), "does not end with a line feed: %r" % text[-200:]
    series, families, types = {}, [], {}
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, name = line.split(" ", 3)[1:3]
            if kind == "HELP":
                assert name not in families, "family %s announced twice" % name
                families.append(name)
            else:
                assert families and families[-1] == name, "TYPE without HELP: %r" % line
                types[name] = line.split(" ", 3)[3]
            continue
        m = _NAME.match(line)
        assert m, "not a sample: %r" % line
        name, i = m.group(), m.end()
        labels = {}
        if line[i] == "{":
            labels, i = _parse_labels(line, i + 1)
        assert line[i] == " ", "no value: %r" % line
        value = float(line[i + 1:])
        assert families and families[-1] == name and name in types, \
            "sample outside its family: %r" % line
        key = (name, frozenset(labels.items()))
        assert key not in series, "series twice: %r" % line
        series[key] = value
    return series, families


def samples(series, name):
    """[(labels dict, value)] of one metric."""
    return [(dict(k[1]), v) for k, v in series.items() if k[0] == name]


def value(series, name, **labels):
    return series[(name, frozenset(labels.items()))]


def run_with_both(tmp_path, args, command):
    prom = tmp_path / "cowtrace.prom"
    res = run_cowtrace(["-q", "--prometheus", prom] + args + ["--"] + command, json_report=True,
                       timeout=120)
    assert res.returncode == EXIT_OK, res.stderr
    assert res.report, "no JSON report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cowtrace.prom"], \
        "a temporary file was left behind"
    return prom.read_text(), res.report


def assert_matches_json(text, report, pids=False):
    series, _ = parse_exposition(text)
    totals = report["totals"]
    for kind in ("anon", "file", "zero"):
        assert value(series, "cowtrace_copied_pages_total", kind=kind) == \
            totals["by_kind"][kind], kind
    for gen, n in totals["gc_generations"].items():
        assert value(series, "cowtrace_gc_copied_pages_total", generation=gen) == n, gen
    # by cause, role and program (the comm): the processes of the JSON, grouped alike
    want = collections.Counter()
    for p in report["processes"]:
        for cause, n in p["by_cause"].items():
            key = (cause, p["role"], p["comm"]) + ((str(p["pid"]),) if pids else ())
            want[key] += n
    got = collections.Counter()
    for labels, v in samples(series, "cowtrace_copied_pages_by_cause_total"):
        assert set(labels) == {"cause", "role", "program"} | ({"pid"} if pids else set())
        key = (labels["cause"], labels["role"], labels["program"]) + \
            ((labels["pid"],) if pids else ())
        got[key] += v
    assert +got == +want
    # every cause of the JSON has its series, and their sums are the totals
    for cause, n in totals["by_cause"].items():
        total = sum(v for (c, *_), v in got.items() if c == cause)
        if cause == "unattributed":
            # each process's own remainder, as its JSON entry has it
            assert total == sum(p["by_cause"][cause] for p in report["processes"])
        else:
            assert total == n, cause
    roles = collections.Counter(p["role"] for p in report["processes"])
    for labels, v in samples(series, "cowtrace_processes"):
        assert v == roles.get(labels["role"], 0), labels
    assert sum(v for _, v in samples(series, "cowtrace_processes")) == len(report["processes"])
    assert value(series, "cowtrace_lost_events_total") == report["lost_events"]
    assert value(series, "cowtrace_missed_bpf_runs_total") == report["missed_bpf_runs"]
    assert value(series, "cowtrace_untraced_processes_total") == report["untraced_processes"]
    assert value(series, "cowtrace_attribution") == (1 if report["attribution"] else 0)
    assert abs(value(series, "cowtrace_trace_seconds") - report["duration_s"]) < 0.002
    assert value(series, "cowtrace_info", version=report["version"],
                 detector=report["detector"], kernel=report["kernel"]) == 1
    return series


# ---------------------------------------------------------------------------------------------
# The figures


def test_c_workload_matches_json(tmp_path, promtool):
    """cow_writer: a child that copies exactly 40 anonymous pages."""
    text, report = run_with_both(tmp_path, [], [workload("cow_writer"), "-n", "40", "-o",
                                                os.devnull])
    check_with_promtool(promtool, text)
    series = assert_matches_json(text, report)
    assert value(series, "cowtrace_copied_pages_total", kind="anon") >= 40
    worker = [(l, v) for l, v in samples(series, "cowtrace_copied_pages_by_cause_total")
              if l["role"] == "worker" and l["program"] == "cow_writer"]
    assert worker and sum(v for _, v in worker) >= 40, worker
    assert value(series, "cowtrace_processes", role="worker") == 1
    assert "pid=" not in text, "a pid label without --prometheus-pids"
    # the metrics the README names
    for line in ("# TYPE cowtrace_copied_pages_total counter",
                 "# TYPE cowtrace_copied_pages_by_cause_total counter",
                 "# TYPE cowtrace_gc_copied_pages_total counter",
                 "# TYPE cowtrace_processes gauge",
                 "# TYPE cowtrace_lost_events_total counter",
                 "# TYPE cowtrace_missed_bpf_runs_total counter",
                 "# TYPE cowtrace_trace_seconds gauge"):
        assert line + "\n" in text, line


def test_prefork_server_matches_json(tmp_path, promtool):
    """The demo server: its workers' collections are gc copies of generation 2."""
    text, report = run_with_both(tmp_path, ["--prometheus-pids"],
                                 [PYTHON, PREFORK, "--workers", "2"])
    check_with_promtool(promtool, text)
    series = assert_matches_json(text, report, pids=True)
    gc = [(l, v) for l, v in samples(series, "cowtrace_copied_pages_by_cause_total")
          if l["cause"] == "gc" and l["role"] == "worker"]
    assert len(gc) == 2, gc
    assert all(v > 1000 for _, v in gc), gc
    assert {l["pid"] for l, _ in gc} == {str(p["pid"]) for p in report["processes"]
                                         if p["role"] == "worker"}
    assert value(series, "cowtrace_gc_copied_pages_total", generation="2") > 2000


# a quote and a brace to end the label, a line feed to start a sample of its own, a backslash,
# and a byte that is not UTF-8
HOSTILE_COMM = named_writer(b'"} 1\nevil 9\\\xff', 32)


def test_hostile_comm_stays_in_its_label(tmp_path, promtool):
    text, report = run_with_both(tmp_path, [], [PYTHON, "-c", HOSTILE_COMM])
    check_with_promtool(promtool, text)
    assert "\nevil" not in text
    series, _ = parse_exposition(text)
    programs = {l["program"] for l, _ in samples(series, "cowtrace_copied_pages_by_cause_total")
                if l["role"] == "worker"}
    # exact but for the byte that is not UTF-8, which the format cannot carry
    assert programs == {'"} 1\nevil 9\\\ufffd'}, programs
    worker = sum(v for l, v in samples(series, "cowtrace_copied_pages_by_cause_total")
                 if l["role"] == "worker")
    assert worker >= 32


# ---------------------------------------------------------------------------------------------
# Rewritten during the run, always whole

CHURN = "for i in 1 2 3 4 5 6 7 8 9 10; do %s -n 30 -o /dev/null; sleep 0.25; done" % (
    workload("cow_writer"))


def test_rewritten_every_interval_never_half_written(tmp_path, promtool):
    prom = tmp_path / "cowtrace.prom"
    seen, problems, stop = [], [], threading.Event()

    def reader():
        """Reads the file as fast as it can, as a scraper would."""
        while not stop.is_set():
            try:
                with open(prom) as f:
                    st = os.fstat(f.fileno())
                    text = f.read()
            except FileNotFoundError:
                continue
            for name in os.listdir(tmp_path):
                # the collector reads *.prom: a temporary file must not look like one
                if name != prom.name and name.endswith(".prom"):
                    problems.append("a second .prom file: %s" % name)
            if seen and seen[-1][2] == text:
                time.sleep(0.005)
                continue
            try:
                series, families = parse_exposition(text)
                assert families[-1] == LAST_FAMILY, families[-1:]
            except (AssertionError, ValueError, IndexError) as e:
                problems.append("half-written or malformed (%s): %r" % (e, text[-300:]))
                continue
            seen.append((st.st_ino, st.st_mtime_ns, text, series))

    t = threading.Thread(target=reader, daemon=True)
    with CowtraceProcess(["-q", "-i", "0.2", "--prometheus", prom, "--", "sh", "-c", CHURN],
                         json_report=True) as ct:
        t.start()
        try:
            res = ct.finish(timeout=120)
        finally:
            stop.set()
            t.join(10)
    assert res.returncode == EXIT_OK, res.stderr
    assert not problems, problems[:3]
    # about 12 ticks in 2.5 s and more; a loaded machine may lose some, never most
    assert len(seen) >= 4, "only %d versions seen" % len(seen)
    mtimes = [m for _, m, _, _ in seen]
    assert mtimes == sorted(mtimes) and mtimes[0] < mtimes[-1]
    # counters only grow, time only goes on
    for metric, labels in (("cowtrace_copied_pages_total", {"kind": "anon"}),
                           ("cowtrace_trace_seconds", {})):
        values = [value(s, metric, **labels) for *_, s in seen]
        assert values == sorted(values), (metric, values)
    assert value(seen[0][3], "cowtrace_copied_pages_total", kind="anon") < \
        value(seen[-1][3], "cowtrace_copied_pages_total", kind="anon")
    check_with_promtool(promtool, seen[len(seen) // 2][2])
    # the last version is the final report's
    assert_matches_json(prom.read_text(), res.report)
    assert sorted(p.name for p in tmp_path.iterdir()) == [prom.name]


# ---------------------------------------------------------------------------------------------
# Usage errors, checked before anything is attached


@pytest.mark.parametrize("args", [["--prometheus", "/nonexistent-cowtrace-dir/c.prom"],
                                  ["--prometheus", "-"],
                                  ["--prometheus", ""],
                                  ["--prometheus-pids"],
                                  ["--prometheus", "X", "--json", "X"]])
def test_bad_prometheus_path(tmp_path, args):
    marker = tmp_path / "command-ran"
    res = run_cowtrace(args + ["--", "sh", "-c", "touch '%s'" % marker], cwd=tmp_path)
    assert res.returncode == EXIT_USAGE, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cowtrace: "), res.stderr
    assert "prometheus" in lines[0], lines[0]
    assert not marker.exists(), "COMMAND ran despite the usage error"


def test_previous_file_kept_when_the_run_fails(tmp_path):
    prom = tmp_path / "c.prom"
    prom.write_text("previous\n")
    res = run_cowtrace(["--prometheus", prom, "-p", "4194303"])
    assert res.returncode != EXIT_OK
    assert prom.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.prom"]
