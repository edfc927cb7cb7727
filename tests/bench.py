#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""What cowtrace costs: per-copy overhead, start-up time, memory (run by `make bench`, as root).

1. Cost of one copy-on-write break, untraced and under each configuration in CONFIGS, for each
   workload in WORKLOADS (a child writing to each page its parent touched: build/workloads/
   cow_bench in C, tests/workloads/cow_bench.py in CPython). The configurations run
   interleaved, run after run, so that a noisy neighbour slows all of them alike; each run forks
   ROUNDS short-lived children, each a measurement. On this kind of VM the same untraced round
   takes anything from 1x to 2.5x its best time, in bursts: many short rounds sample it better
   than a few long ones. The table gives the median and the 10th percentile of all rounds, and
   the added cost of each against the untraced row's, next to each configuration's target.
2. Start-up: time from launching `cowtrace -q -d 1 -p <sleeping pid>` to its
   "cowtrace: attached" line, and its peak RSS then (ru_maxrss from wait4: it has no children,
   so this is the tool's own memory).
3. Peak RSS while tracing: cowtrace -p on a cow_bench run (not its child either), which makes
   every round's copies go through the tool's event path.
4. Where the added time goes: one more run of each traced configuration with
   kernel.bpf_stats_enabled=1, and cowtrace's own report of its BPF programs' run time, per copy
   counted. Unlike the ratios above, this does not depend on what a copy costs on the machine.

    tests/bench.py [--runs N] [--rounds N] [--mib N] [--quick] [--workload NAME]...
                   [--baseline COWTRACE] [--detector NAME]... [--all-detectors]

--detector (repeatable) prices each traced configuration with that copy detector; --all-detectors
with every detector that works on this kernel (cowtrace --list-detectors). The binaries can be
moved with COWTRACE=... and COW_BENCH=... in the environment (the kernel matrix's guests).

--baseline runs every traced configuration with another build of cowtrace too, interleaved
with this one, so that a change is priced against its parent in one run (noise here moves
medians by 10 points from one run to the next; rows of one run compare).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COWTRACE = os.environ.get("COWTRACE", str(REPO / "cowtrace"))
COW_BENCH = os.environ.get("COW_BENCH", str(REPO / "build" / "workloads" / "cow_bench"))

# (name, extra cowtrace arguments, target added %); None runs the workload without cowtrace. Add a
# row for each mode worth pricing. A row whose options this build's --help does not mention is
# listed as not available instead of failing the run.
CONFIGS = [
    ("untraced", None, None),
    ("cowtrace --counts-only", ["--counts-only"], 20.0),
    ("cowtrace --no-stacks", ["--no-stacks"], 30.0),
    ("cowtrace --no-stacks --no-direct-map", ["--no-stacks", "--no-direct-map"], None),
    ("cowtrace (default: stacks)", [], 40.0),
]
# The C workload, and two in a CPython process, where attribution reads the target's memory (it
# does not in other processes): a large buffer (outside pymalloc: the window is read) and small
# objects (pymalloc pools: window, pool header and block head; the larger records). Making
# floats takes time, so the objects run gets an eighth of --mib (8 MiB, 2048 pages by default).
PY_BENCH = ["/usr/bin/python3", str(REPO / "tests" / "workloads" / "cow_bench.py")]
WORKLOADS = [
    ("C", [COW_BENCH], 1),
    ("Py-buffer", PY_BENCH, 1),
    ("Py-objects", PY_BENCH + ["--objects"], 8),
]


def run_bench(workload, extra, mib, rounds, cowtrace=COWTRACE):
    """ns_per_copy of each round of one run of workload, under cowtrace when extra is not None."""
    cmd = workload + ["-m", str(max(1, mib)), "-r", str(rounds)]
    if extra is not None:
        cmd = [cowtrace, "-q"] + extra + ["--"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        sys.exit("bench: %s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    vals = [float(v) for v in re.findall(r"^ns_per_copy=([\d.]+) pages=\d+$", p.stdout, re.M)]
    if len(vals) != rounds:
        sys.exit("bench: expected %d ns_per_copy lines from %s, got: %r"
                 % (rounds, " ".join(cmd), p.stdout))
    return vals


BPF_STATS = "/proc/sys/kernel/bpf_stats_enabled"


def bpf_time(workload, extra, mib, rounds):
    """{program: ns per copy} of one traced run with kernel.bpf_stats_enabled=1 (the caller
    sets it), from cowtrace's JSON report; the copies are all those the run counted."""
    with tempfile.TemporaryDirectory(prefix="bench-") as d:
        path = os.path.join(d, "report.json")
        run_bench(workload, ["--json", path] + extra, mib, rounds)
        with open(path) as f:
            rep = json.load(f)
    copies = rep["totals"]["pages"] + rep["totals"]["by_kind"]["zero"]
    if not rep["bpf_stats"] or not copies:
        sys.exit("bench: no BPF run time in the report of %s" % " ".join(workload))
    return {p["program"]: p["run_ns"] / copies for p in rep["bpf_stats"]}


def p10(vals):
    """The 10th percentile (the value a tenth of the samples are below)."""
    return statistics.quantiles(vals, n=10)[0]


def wait_rusage(p):
    """Reap p with wait4; returns (exit status, ru_maxrss in KiB)."""
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, ru.ru_maxrss


def attach(args, target_pid, timeout=60):
    """Start cowtrace -p target_pid; returns (Popen, seconds until the attached line, stderr
    lines list that a thread keeps filling)."""
    t0 = time.monotonic()
    p = subprocess.Popen([COWTRACE, "-q"] + args + ["-p", str(target_pid)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines, attached = [], threading.Event()

    def pump():
        for line in p.stderr:
            lines.append(line)
            if line.startswith("cowtrace: attached"):
                attached.set()

    threading.Thread(target=pump, daemon=True).start()
    while not attached.wait(0.01):
        if p.poll() is not None or time.monotonic() - t0 > timeout:
            p.kill()
            sys.exit("bench: cowtrace did not attach: %s" % "".join(lines).strip())
    return p, time.monotonic() - t0, lines


def startup(samples):
    """Median seconds to attach and max peak RSS (KiB) of an idle cowtrace -d 1 -p <sleep>."""
    sleeper = subprocess.Popen(["sleep", "1000"])
    times, rss = [], []
    try:
        for _ in range(samples):
            p, took, _ = attach(["-d", "1"], sleeper.pid)
            code, maxrss = wait_rusage(p)
            if code != 0:
                sys.exit("bench: cowtrace -d 1 -p exited %d" % code)
            times.append(took)
            rss.append(maxrss)
    finally:
        sleeper.kill()
        sleeper.wait()
    return statistics.median(times), max(rss)


def rss_under_load(mib, rounds):
    """Peak RSS (KiB) of cowtrace -p on a cow_bench run, and that run's ns_per_copy values."""
    w = subprocess.Popen([COW_BENCH, "-w", "-m", str(mib), "-r", str(rounds)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    p, _, lines = attach([], w.pid)
    w.stdin.write("x")
    w.stdin.close()
    out = w.stdout.read()
    w.wait()
    code, maxrss = wait_rusage(p)
    if code != 0:
        sys.exit("bench: cowtrace -p on cow_bench exited %d: %s" % (code, "".join(lines)))
    return maxrss, [float(v) for v in re.findall(r"ns_per_copy=([\d.]+)", out)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10, help="cow_bench runs per configuration")
    ap.add_argument("--rounds", type=int, default=15, help="forks (measurements) per run")
    ap.add_argument("--mib", type=int, default=64, help="buffer size of cow_bench")
    ap.add_argument("--quick", action="store_true", help="3 runs of 5 rounds, a smoke test")
    ap.add_argument("--workload", action="append", choices=[w for w, _, _ in WORKLOADS],
                    help="only this workload (repeatable)")
    ap.add_argument("--baseline", metavar="COWTRACE",
                    help="another cowtrace binary to run each traced configuration with too")
    ap.add_argument("--detector", action="append", default=[],
                    help="price the traced configurations with this detector (repeatable)")
    ap.add_argument("--all-detectors", action="store_true",
                    help="with every detector that works on this kernel")
    a = ap.parse_args()
    workloads = [x for x in WORKLOADS if not a.workload or x[0] in a.workload]
    if a.quick:
        a.runs, a.rounds = 3, 5
    if os.geteuid() != 0:
        sys.exit("bench: needs root for BPF")
    for f in (COWTRACE, COW_BENCH):
        if not os.access(f, os.X_OK):
            sys.exit("bench: %s not built (make cowtrace workloads)" % f)
    if a.baseline and not os.access(a.baseline, os.X_OK):
        sys.exit("bench: --baseline %s: not an executable" % a.baseline)

    detectors = a.detector
    if a.all_detectors:
        listing = subprocess.run([COWTRACE, "--list-detectors"], capture_output=True, text=True,
                                 check=True).stdout
        detectors = [line.split()[0] for line in listing.splitlines()
                     if line.split()[1:2] == ["available"]]
    # (name, extra arguments, target or None, cowtrace binary)
    configs, unavailable = [], []
    for binary, tag in [(COWTRACE, "")] + ([(a.baseline, " [baseline]")] if a.baseline else []):
        helptext = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
        for det in detectors or [None]:
            for name, extra, target in CONFIGS:
                if extra is None and (tag or det != (detectors or [None])[0]):
                    continue  # one untraced row
                if extra is not None and det:
                    name, extra = "%s [%s]" % (name, det), extra + ["--detector", det]
                opts = [o.split("=")[0] for o in extra or [] if o.startswith("-")]
                row = (name + tag, extra, None if tag else target, binary)
                (configs if all(o in helptext for o in opts) else unavailable).append(row)

    pages = a.mib * 1024 * 1024 // os.sysconf("SC_PAGESIZE")
    print("cow_bench: %d MiB = %d copies per round (Py-objects: %d MiB of floats), %d runs x %d "
          "rounds per configuration and workload, interleaved"
          % (a.mib, pages, a.mib // 8, a.runs, a.rounds))
    # One untimed warm-up: the first touches of fresh memory in this VM are much slower.
    run_bench(WORKLOADS[0][1], None, a.mib, 1)
    results = {(w, c[0]): [] for w, _, _ in workloads for c in configs}
    for r in range(a.runs):
        for w, cmd, div in workloads:
            for name, extra, _, binary in configs:
                results[(w, name)].extend(run_bench(cmd, extra, a.mib // div, a.rounds,
                                                    binary))
        print("  run %d/%d done" % (r + 1, a.runs), file=sys.stderr)

    verdict = []
    for w, _, _ in workloads:
        base = statistics.median(results[(w, configs[0][0])])
        base_p10 = p10(results[(w, configs[0][0])])
        print()
        # Noise here only ever adds time (a neighbour, an interrupt): the low percentile's ratio
        # is the steadier one, the medians' the verdict.
        width = max([28] + [len(c[0]) for c in configs])
        print("%-10s %-*s %10s %10s %9s %9s" % ("workload", width, "configuration",
                                                "median ns", "p10 ns", "added", "(by p10)"))
        for name, extra, target, _ in configs:
            vals = results[(w, name)]
            med, lo = statistics.median(vals), p10(vals)
            added = 100.0 * (med - base) / base
            print("%-10s %-*s %10.0f %10.0f %8.1f%% %8.1f%%"
                  % (w, width, name, med, lo, added, 100.0 * (lo - base_p10) / base_p10))
            if extra is not None and target is not None:
                verdict.append((w, name, added, target))
    for name, extra, _, _ in unavailable:
        print("%-33s %12s   (%s: not in this build)" % (name, "-", " ".join(extra)))

    print()
    print("BPF run time per copy (one run each, kernel.bpf_stats_enabled=1; every run of the")
    print("programs, system-wide, over the copies the run counted):")
    with open(BPF_STATS) as f:
        was = f.read().strip()
    try:
        with open(BPF_STATS, "w") as f:
            f.write("1")
        for w, cmd, div in workloads:
            for name, extra, _, binary in configs:
                if extra is None or binary != COWTRACE:
                    continue
                t = bpf_time(cmd, extra, a.mib // div, a.rounds)
                # the detector's two costliest programs, then the rest
                main_progs = sorted(t, key=t.get, reverse=True)[:2]
                print("%-10s %-*s %6.0f ns   (%s, others %.0f)"
                      % (w, width, name, sum(t.values()),
                         ", ".join("%s %.0f" % (k, t[k]) for k in main_progs),
                         sum(v for k, v in t.items() if k not in main_progs)))
    finally:
        with open(BPF_STATS, "w") as f:
            f.write(was)

    samples = 5 if not a.quick else 2
    t_attach, rss_idle = startup(samples)
    rss_load, load_vals = rss_under_load(a.mib, a.rounds)
    print()
    print("%-38s %8.2f s" % ("start-up until attached (median of %d)" % samples, t_attach))
    print("%-38s %8.1f MiB" % ("peak RSS, idle (-d 1 -p sleep)", rss_idle / 1024))
    print("%-38s %8s      (RSS counts the 16 MiB event ring twice: libbpf maps it twice so that"
          % ("", "") + "\n%47s records never wrap)" % "")
    print("%-38s %8.1f MiB  (median ns_per_copy %.0f)" % ("peak RSS, tracing cow_bench (-p)",
                                                        rss_load / 1024,
                                                        statistics.median(load_vals)))
    print()
    for w, name, added, target in verdict:
        ok = "ok" if added <= target else "OVER TARGET"
        print("%s, %s: added cost %.1f%% per copy (target <= %.0f%%): %s"
              % (w, name, added, target, ok))
    print("(medians of a noisy 2-core VM: compare the rows of one run, not runs)")


if __name__ == "__main__":
    main()
