# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""cowtrace diff on two real runs: the demo's pre-fork server without and with gc.freeze().

The demo is traced twice (once per module), then compared. What must hold:

  * gc.freeze() makes the gc pages per worker fall by at least 99% (issue 13's "done when");
  * every change is B's figure minus A's, exactly, computed here from the two reports alone
    (totals, causes, generations, roles, workers paired by start time, objects);
  * the JSON parses and says what the text says, row by row;
  * --fail-on holds (exit 3) or not (exit 0) the right way, in both directions.
"""
import json
import re
import subprocess

import pytest

from conftest import COWTRACE, REPO_ROOT, run_cowtrace

SERVER = REPO_ROOT / "demo" / "prefork_server.py"
PYTHON = "/usr/bin/python3"
CAUSES = ["gc", "refcount", "gc_list", "alloc_into_shared", "mutation", "allocator", "native",
          "unknown", "unattributed"]
GENS = ["0", "1", "2", "unknown"]
TEXT_OBJECTS = 15  # rows of the objects table the text shows (DIFF_TEXT_OBJECTS)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The demo traced without and with --freeze: {"a": (path, report), "b": ...}."""
    tmp = tmp_path_factory.mktemp("diff")
    out = {}
    for side, extra in (("a", []), ("b", ["--freeze"])):
        path = tmp / ("%s.json" % side)
        res = run_cowtrace(["-q", "--json", path, "--", PYTHON, SERVER, "--workers", "2"] + extra,
                           timeout=180)
        assert res.returncode == 0, res.stderr
        assert res.report is not None
        out[side] = (path, res.report)
    return out


def diff(runs, *args, first="a", second="b"):
    """cowtrace diff of the two runs (or the other way round); returns the CompletedProcess."""
    return subprocess.run([str(COWTRACE), "diff", str(runs[first][0]), str(runs[second][0])]
                          + list(args), capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def result(runs, tmp_path_factory):
    """The text (stdout) and the JSON (a file) of one diff of A and B."""
    path = tmp_path_factory.mktemp("diffout") / "diff.json"
    p = diff(runs, "--json", str(path))
    assert p.returncode == 0, p.stderr
    with open(path) as f:
        return p.stdout, json.load(f)


def pct(a, b):
    """The diff's change in percent, as C computes it (the same double operations)."""
    if a == 0:
        return 0.0 if b == 0 else None
    return 100.0 * (b - a) / a


def text_pct(p):
    if p is None:
        return "-"
    if p == 0:
        return "0.0"
    if p < 1000:
        return "%+.1f" % p
    if p < 1e6:
        return "%+.0f" % p
    return "%+.0e" % p


def text_change(c, decimals=0):
    if c is None:
        return "-"
    if c == 0:
        return "0"
    return "%+.*f" % (decimals, c)


def workers(report):
    """A report's workers by start time, in the file's order where two started together."""
    ws = [p for p in report["processes"] if p["role"] == "worker"]
    return sorted(ws, key=lambda p: p["start_s"])


def assert_pair(pair, a, b):
    assert pair["a"] == a and pair["b"] == b, pair
    assert pair["change"] == b - a, pair
    want = pct(a, b)
    if want is None:
        assert pair["change_pct"] is None, pair
    else:
        assert abs(pair["change_pct"] - want) < 0.0005 + 1e-9, pair


def test_freeze_removes_gc_copies(runs, result):
    _, out = result
    a, b = runs["a"][1], runs["b"][1]
    wa, wb = workers(a), workers(b)
    assert len(wa) == 2 and len(wb) == 2
    gc_a = sum(w["by_cause"]["gc"] for w in wa) / len(wa)
    gc_b = sum(w["by_cause"]["gc"] for w in wb) / len(wb)
    fig = out["figures"]
    assert fig["gc_pages_per_worker_a"] == pytest.approx(gc_a, abs=0.001)
    assert fig["gc_pages_per_worker_b"] == pytest.approx(gc_b, abs=0.001)
    # the demo's workers copy thousands of pages in their first full collection without freeze
    assert gc_a > 1000, fig
    assert fig["gc_pages_per_worker_change_pct"] <= -99.0, fig
    print("gc pages per worker: %.1f -> %.1f (%+.2f%%)"
          % (gc_a, gc_b, fig["gc_pages_per_worker_change_pct"]))


def test_changes_are_exact(runs, result):
    _, out = result
    a, b = runs["a"][1], runs["b"][1]
    ta, tb, t = a["totals"], b["totals"], out["totals"]
    assert_pair(t["pages"], ta["pages"], tb["pages"])
    assert t["pages"]["change"] == tb["pages"] - ta["pages"]
    assert out["figures"]["pages_change"] == tb["pages"] - ta["pages"]
    assert out["figures"]["gc_pages_change"] == tb["by_cause"]["gc"] - ta["by_cause"]["gc"]
    for kind in ("anon", "file", "zero"):
        assert_pair(t["by_kind"][kind], ta["by_kind"][kind], tb["by_kind"][kind])
    for cause in CAUSES:
        assert_pair(t["by_cause"][cause], ta["by_cause"][cause], tb["by_cause"][cause])
    for gen in GENS:
        assert_pair(t["gc_generations"][gen], ta["gc_generations"][gen],
                    tb["gc_generations"][gen])
    assert_pair(t["other"], ta["pages"] - ta["by_cause"]["gc"], tb["pages"] - tb["by_cause"]["gc"])

    # roles: the processes of each, summed
    roles = {r["role"]: r for r in out["roles"]}
    for name in {p["role"] for p in a["processes"] + b["processes"]}:
        pa = [p for p in a["processes"] if p["role"] == name]
        pb = [p for p in b["processes"] if p["role"] == name]
        assert_pair(roles[name]["processes"], len(pa), len(pb))
        assert_pair(roles[name]["pages"], sum(p["pages"] for p in pa),
                    sum(p["pages"] for p in pb))
        for cause in CAUSES:
            assert_pair(roles[name]["by_cause"][cause], sum(p["by_cause"][cause] for p in pa),
                        sum(p["by_cause"][cause] for p in pb))

    # workers: the i-th of A with the i-th of B, by start time
    wa, wb = workers(a), workers(b)
    assert len(out["workers"]) == max(len(wa), len(wb))
    for i, w in enumerate(out["workers"]):
        assert w["index"] == i + 1
        assert w["pid_a"] == wa[i]["pid"] and w["pid_b"] == wb[i]["pid"]
        assert_pair(w["pages"], wa[i]["pages"], wb[i]["pages"])
        for cause in CAUSES:
            assert_pair(w["by_cause"][cause], wa[i]["by_cause"][cause], wb[i]["by_cause"][cause])

    # objects: by (cause, type, field), regions summed; every row of both reports accounted for
    want = {}
    for side, report in ((0, a), (1, b)):
        for o in report["objects"]:
            key = (o["cause"], o["type"] if o["type"] is not None else "?", o["field"])
            want.setdefault(key, [0, 0])[side] += o["pages"]
    got = {(o["cause"], o["type"], o["field"]): o["pages"] for o in out["objects"]}
    assert set(got) == set(want)
    for key, (pa, pb) in want.items():
        assert_pair(got[key], pa, pb)
    changes = [abs(o["pages"]["change"]) for o in out["objects"]]
    assert changes == sorted(changes, reverse=True)


def rows(text, header):
    """The rows of the text's section whose header line starts with header, up to a blank."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    out = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        out.append(line)
    return out


def split_row(line):
    """A totals-style row: the 30-column label, then A, B, change, change%."""
    return line[:30].strip(), line[30:].split()


def test_json_matches_text(runs, result):
    text, out = result
    # under 100 columns, but for the two lines that name the files (as long as their paths)
    assert all(len(line) < 100 for line in text.splitlines()[3:])
    t = out["totals"]

    def expect(pair, cols, decimals=0):
        if decimals:
            want = ["%.1f" % pair["a"], "%.1f" % pair["b"]]
            change = pair["b"] - pair["a"]
        else:
            want = [str(pair["a"]), str(pair["b"])]
            change = pair["b"] - pair["a"]
        want += [text_change(change, decimals), text_pct(pct(pair["a"], pair["b"]))]
        assert cols == want, (cols, pair)

    labels = {"copied pages": t["pages"], "anon": t["by_kind"]["anon"],
              "file": t["by_kind"]["file"], "zero (not in pages)": t["by_kind"]["zero"],
              "other": t["other"], "gen0": t["gc_generations"]["0"],
              "gen1": t["gc_generations"]["1"], "gen2": t["gc_generations"]["2"],
              "gen ?": t["gc_generations"]["unknown"]}
    labels.update({c: t["by_cause"][c] for c in CAUSES})
    seen = set()
    for line in rows(text, " " * 30):
        label, cols = split_row(line)
        expect(labels[label], cols)
        seen.add(label)
    assert {"copied pages", "gc", "other", "gen2", "refcount"} <= seen
    # a cause or generation the text leaves out is 0 in both runs
    for label, pair in labels.items():
        if label not in seen:
            assert pair["a"] == 0 and pair["b"] == 0, label

    per = {split_row(line)[0]: split_row(line)[1] for line in rows(text, "per worker (mean)")}
    expect(out["per_worker"]["workers"], per["workers"])
    expect(out["per_worker"]["pages"], per["pages per worker"], decimals=1)
    expect(out["per_worker"]["gc_pages"], per["gc pages per worker"], decimals=1)

    table = rows(text, "workers, the i-th of A")[1:]
    assert len(table) == len(out["workers"])
    for line, w in zip(table, out["workers"]):
        p, g = w["pages"], w["by_cause"]["gc"]
        assert line.split() == ["#%d" % w["index"], str(w["pid_a"]), str(w["pid_b"]),
                                str(p["a"]), str(p["b"]), text_change(p["change"]),
                                text_pct(pct(p["a"], p["b"])), str(g["a"]), str(g["b"]),
                                text_change(g["change"]), text_pct(pct(g["a"], g["b"]))]

    objects = rows(text, "objects: the largest changes")[1:]
    shown = [line for line in objects if not line.startswith("  (")]
    assert len(shown) == min(TEXT_OBJECTS, len(out["objects"]))
    for line, o in zip(shown, out["objects"]):
        p = o["pages"]
        # cause, type, field: fixed columns; names here are plain ASCII, shorter than each
        assert line[:17].strip() == o["cause"]
        assert line[18:46].strip() == o["type"][:28]
        assert line[47:58].strip() == o["field"][:11]
        assert line[58:].split() == [str(p["a"]), str(p["b"]), text_change(p["change"]),
                                     text_pct(pct(p["a"], p["b"]))]
    if len(out["objects"]) > TEXT_OBJECTS:
        assert objects[-1].strip() == "(%d more; --json has them all)" % (
            len(out["objects"]) - TEXT_OBJECTS)


def test_json_to_stdout(runs, result):
    """--json -: the same JSON on stdout, the text on stderr."""
    text, out = result
    p = diff(runs, "--json", "-")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == out
    assert p.stderr == text
    q = diff(runs, "-q")
    assert q.returncode == 0 and q.stdout == "" and q.stderr == ""


@pytest.mark.parametrize("expr,forward,backward", [
    # A -> B: gc per worker fell by more than 99%; B -> A: it rose many times over
    ("gc_pages_per_worker_change_pct > -90", 0, 3),
    ("gc_pages_per_worker_change_pct <= -99", 3, 0),
    ("gc_pages_change < 0 and pages_change < 0", 3, 0),
    ("pages_per_worker_change_pct>-10 or gc_pages_per_worker_b > 1000", 0, 3),
])
def test_fail_on(runs, expr, forward, backward):
    for first, second, want in (("a", "b", forward), ("b", "a", backward)):
        p = diff(runs, "-q", "--fail-on", expr, first=first, second=second)
        assert p.returncode == want, (first, second, p.stderr)
        if want == 3:
            lines = p.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("cowtrace: gate failed (--fail-on")
        else:
            assert p.stderr == ""


def test_bad_inputs(runs, tmp_path):
    a = str(runs["a"][0])
    cases = [
        (["diff", a, "/nonexistent/b.json"], 1, "cannot read it"),
        (["diff", a, "/etc/hostname"], 1, "not a cowtrace report"),
        (["diff", a], 2, "give two reports"),
        (["diff", a, a, "--fail-on", "gc > 0"], 2, "unknown figure 'gc'"),
        (["diff", a, a, "--json", str(tmp_path / "no" / "such.json")], 2, "cannot write"),
    ]
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"tool": "cowtrace", "totals": {"pages": "many"}}')
    cases.append((["diff", a, str(wrong)], 1, "totals.pages: expected a count"))
    for args, code, needle in cases:
        p = subprocess.run([str(COWTRACE)] + args, capture_output=True, text=True, timeout=60)
        assert p.returncode == code, (args, p.stderr)
        lines = p.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("cowtrace: ") and needle in lines[0], \
            (args, p.stderr)
        assert p.stdout == ""


def test_older_report(runs, tmp_path):
    """A report without keys newer versions added: absent sections are told in one warning;
    a process's gc pages, without by_cause, are those of its gc_generations."""
    old = json.loads(json.dumps(runs["a"][1]))  # a copy: the module's report stays whole
    del old["objects"]
    for p in old["processes"]:
        del p["by_cause"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    p = subprocess.run([str(COWTRACE), "diff", str(path), str(runs["b"][0]), "--json", "-",
                        "-q"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(r"cowtrace: warning: .*old\.json: no objects .*\n", p.stderr)
    out = json.loads(p.stdout)
    wa = workers(runs["a"][1])
    assert out["figures"]["gc_pages_per_worker_a"] == pytest.approx(
        sum(w["by_cause"]["gc"] for w in wa) / len(wa), abs=0.001)
    assert all(w["by_cause"]["refcount"]["a"] == 0 for w in out["workers"])
    assert out["totals"]["pages"]["a"] == runs["a"][1]["totals"]["pages"]
    assert all(o["pages"]["a"] == 0 for o in out["objects"])
