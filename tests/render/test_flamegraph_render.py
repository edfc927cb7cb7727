# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The flame graph exports without the tracer: build/tests/test_flamegraph writes sample files
(FLAMEGRAPH_SAMPLE_DIR, see tests/unit/test_flamegraph.c), and these tests read them as their
users will: a strict XML parser, a folded-stacks parser, speedscope's JSON, `node --check` on the
embedded script, and headless Chromium for a screenshot and for zoom and search (applied from the
URL fragment, then the DOM dumped).

Needs Debian's chromium and nodejs packages (scripts/deps.sh); a missing one fails, visibly.
"""
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from flamegraph_check import (SVG_NS, check_svg_xml, dump_svg_dom, parse_folded, png_colors,
                              png_is_not_blank, png_stats, render_svg_png, svg_frames,
                              svg_script)

SAMPLE_BIN = REPO_ROOT / "build" / "tests" / "test_flamegraph"
HIGHLIGHT = "#e040e0"

# Names in the sample that each export must carry through its own escaping.
AWKWARD_NAMES = [
    "a<b>&\"c'd (odd\ufffd.py:1)",  # XML specials, a byte that is not UTF-8
    "semi:colon and newline",        # ';' replaced, tab and newline become spaces
    "caf\u00e9 \u6f22",                # UTF-8 kept
    "]]></script>",                  # would end a CDATA section or a script if embedded raw
]


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """The directory the sample writer filled (the binary is rebuilt by make when stale)."""
    build = subprocess.run(["make", "--no-print-directory", "build/tests/test_flamegraph"],
                           cwd=REPO_ROOT, capture_output=True, text=True)
    if build.returncode != 0:
        pytest.fail("make build/tests/test_flamegraph failed:\n%s%s"
                    % (build.stdout, build.stderr), pytrace=False)
    out = tmp_path_factory.mktemp("flamegraph")
    p = subprocess.run([str(SAMPLE_BIN)], env=dict(os.environ, FLAMEGRAPH_SAMPLE_DIR=str(out)),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return out


def folded_tree_totals(stacks):
    """{path tuple: count of the stacks through it} for every prefix of every stack."""
    totals = {(): 0}
    for frames, count in stacks:
        totals[()] += count
        for d in range(1, len(frames) + 1):
            totals[tuple(frames[:d])] = totals.get(tuple(frames[:d]), 0) + count
    return totals


def svg_paths(frames):
    """Each drawn frame's path from the root (without "all"), rebuilt from pre-order and depth."""
    stack, paths = [], []
    for f in frames:
        del stack[f.depth:]
        stack.append(f.name)
        paths.append(tuple(stack[1:]))
    return paths


def test_svg_is_strict_xml_with_every_frame(samples):
    names = check_svg_xml(samples / "sample.svg")
    stacks = parse_folded(samples / "sample.folded")
    assert set(names) == {fr for frames, _ in stacks for fr in frames}
    for name in AWKWARD_NAMES + ["scan_shared (server.py:17)", "dict.ma_keys", "[truncated]"]:
        assert name in names, name
    root = ET.parse(samples / "sample.svg").getroot()
    title = root.find("{%s}title" % SVG_NS).text
    assert title == "cowtrace: copy-on-write page copies by Python stack"
    subtitle = [t for t in root.iter("{%s}text" % SVG_NS) if t.get("id") == "subtitle"][0]
    assert subtitle.text.endswith('1,234 pages <in> 3 processes & "quotes"')


def test_svg_frames_match_the_folded_counts(samples):
    """Every drawn frame's width and hover count are those of its subtree in the folded file."""
    stacks = parse_folded(samples / "sample.folded")
    total = int((samples / "sample.total").read_text())
    totals = folded_tree_totals(stacks)
    frames = svg_frames(samples / "sample.svg")
    assert frames[0].name == "all" and frames[0].count == total
    paths = svg_paths(frames)
    assert set(paths) == set(totals)  # nothing in the sample is narrower than 0.1 px
    for f, path in zip(frames, paths):
        assert f.count == totals[path], (path, f)
        assert f.unit == ("page" if f.count == 1 else "pages")
        assert abs(f.percent - 100.0 * f.count / total) < 0.006
        assert abs(f.width - 1180.0 * f.count / total) < 0.001
        # frames stay inside their parent
        assert 10 - 1e-3 <= f.x and f.x + f.width <= 1190 + 1e-3


def test_folded_round_trip(samples):
    stacks = parse_folded(samples / "sample.folded")
    total = int((samples / "sample.total").read_text())
    assert sum(count for _, count in stacks) == total
    paths = [tuple(frames) for frames, _ in stacks]
    assert len(set(paths)) == len(paths)  # merged: one line per distinct stack
    assert paths == sorted(paths)  # frame by frame (code point order is UTF-8 byte order)
    assert ["worker python3", "unknown"] in [frames for frames, _ in stacks]


def test_speedscope_matches_the_folded_stacks(samples):
    doc = json.loads((samples / "sample.speedscope.json").read_text())
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    names = [fr["name"] for fr in doc["shared"]["frames"]]
    assert len(set(names)) == len(names)
    (profile,) = doc["profiles"]
    assert profile["type"] == "sampled" and profile["unit"] == "none"
    assert len(profile["samples"]) == len(profile["weights"])
    stacks = parse_folded(samples / "sample.folded")
    rebuilt = [([names[i] for i in s], w) for s, w in zip(profile["samples"], profile["weights"])]
    assert rebuilt == stacks
    assert profile["endValue"] == int((samples / "sample.total").read_text())
    for name in AWKWARD_NAMES:
        assert name in names


def test_empty_and_deep_svgs(samples):
    assert check_svg_xml(samples / "sample-empty.svg") == []
    root = ET.parse(samples / "sample-deep.svg").getroot()
    names = check_svg_xml(samples / "sample-deep.svg")
    assert names == ["recurse (rec.py:%d)" % i for i in range(1, 501)]
    assert int(root.get("height")) >= 501 * 16  # grows with the stack
    frames = svg_frames(samples / "sample-deep.svg")
    assert max(f.depth for f in frames) == 500


def test_script_has_no_syntax_errors(samples, tmp_path):
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        pytest.fail("node not found: install Debian's nodejs package (scripts/deps.sh)",
                    pytrace=False)
    script = svg_script(samples / "sample.svg")
    assert "getElementById('frames')" in script
    # the SVG holds user/output/flamegraph.js as written, its leading comment left out
    source = (REPO_ROOT / "user" / "output" / "flamegraph.js").read_text()
    assert script.strip() == source[source.index("(function () {"):].strip()
    js = tmp_path / "flamegraph.js"
    js.write_text(script)
    p = subprocess.run([node, "--check", str(js)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_renders_in_chromium(samples):
    png = render_svg_png(samples / "sample.svg", samples / "sample.png")
    stats = png_stats(png)
    assert (stats.width, stats.height) == (1200, 800)
    assert png_is_not_blank(png), stats
    # the frames themselves were painted: their fill colors are in the picture
    colors = png_colors(png)
    fills = {f.fill for f in svg_frames(samples / "sample.svg")}
    painted = [c for c in fills if colors[tuple(int(c[i:i + 2], 16) for i in (1, 3, 5))] >= 20]
    assert len(painted) >= len(fills) * 0.9, (sorted(fills - set(painted)))


def test_empty_svg_renders(samples):
    png = render_svg_png(samples / "sample-empty.svg", samples / "empty.png", height=300)
    stats = png_stats(png)
    assert stats.non_background > 0.001  # the title and "no copies recorded"


def test_zoom_and_search_in_chromium(samples):
    """The script's zoom and search, driven by the URL fragment, read back from the DOM."""
    stacks = parse_folded(samples / "sample.folded")
    total = sum(count for _, count in stacks)
    zoom_to = "serve (server.py:61)"
    dom = dump_svg_dom(samples / "sample.svg",
                       "search=scan_shared&zoom=" + zoom_to.replace(" ", "%20").replace(":", "%3A"))
    root = ET.fromstring(dom)
    frames_g = [g for g in root.iter("{%s}g" % SVG_NS) if g.get("id") == "frames"][0]
    before = svg_frames(samples / "sample.svg")
    paths = svg_paths(before)
    zoomed = max((f for f in before if f.name == zoom_to), key=lambda f: f.width)
    zpath = paths[before.index(zoomed)]
    hits = 0
    for f, path, g in zip(before, paths, list(frames_g)):
        rect = g.find("{%s}rect" % SVG_NS)
        hidden = "none" in (g.get("style") or "")
        if path[:len(zpath)] == zpath:  # the zoomed frame and its callees, rescaled
            assert not hidden, path
            assert abs(float(rect.get("width")) - 1180.0 * f.count / zoomed.count) < 0.01
        elif zpath[:len(path)] == path:  # its callers, full width and dimmed
            assert not hidden and "anc" in (g.get("class") or ""), path
            assert abs(float(rect.get("width")) - 1180.0) < 0.01
        else:
            assert hidden, path
        if "scan_shared" in f.name:
            assert rect.get("fill") == HIGHLIGHT, path
            hits += 1
        else:
            assert rect.get("fill") == f.fill, path
    assert hits >= 2
    by_id = {el.get("id"): el for el in root.iter() if el.get("id")}
    want = 100.0 * sum(c for frames, c in stacks if any("scan_shared" in fr for fr in frames))
    assert by_id["matched"].text == "Matched: %.2f%% of all" % (want / total)
    assert "off" not in by_id["reset"].get("class")
    assert by_id["search"].text == "Search: scan_shared"


def test_zoom_labels_narrow_frames(samples):
    """Frames too narrow for a label have no <text>; zooming into them gives them one."""
    before = svg_frames(samples / "sample.svg")
    deep = [f for f in before if f.name == "deep (rec.py:3)"]
    assert deep and not deep[0].label  # 12 of 1120 pages: 12.6 px, no room for a name
    dom = dump_svg_dom(samples / "sample.svg", "zoom=deep%20(rec.py%3A3)")
    root = ET.fromstring(dom)
    frames_g = [g for g in root.iter("{%s}g" % SVG_NS) if g.get("id") == "frames"][0]
    shown = {}
    for f, g in zip(before, list(frames_g)):
        if "none" not in (g.get("style") or ""):
            text = g.find("{%s}text" % SVG_NS)
            shown[f.name] = text.text if text is not None else None
    # the outer "deep" (the first of the widest), its callees, and its callers to the root
    assert shown == {name: name for name in [
        "all", "worker python3", "refcount", "<module> (server.py:88)", "deep (rec.py:3)",
        "[truncated]", "tuple.ob_item"]}


def scrolled_to(svg_path, tmp_path):
    """(scrollY, innerHeight, height) of the SVG after its script ran in headless Chromium: a
    copy is read back, with one line added at the end of its script that writes them into the
    DOM (the screenshot of a scrolled standalone SVG is blank in headless Chromium)."""
    text = Path(svg_path).read_text(encoding="utf-8")
    end = text.rindex("})();")
    probe = ("\tdocument.documentElement.setAttribute('data-probe', window.scrollY + ',' + "
             "window.innerHeight);\n")
    copy = tmp_path / ("probe-" + Path(svg_path).name)
    copy.write_text(text[:end] + probe + text[end:], encoding="utf-8")
    root = ET.fromstring(dump_svg_dom(copy))
    y, inner = (int(float(v)) for v in root.get("data-probe").split(","))
    return y, inner, int(root.get("height"))


def test_tall_graph_opens_on_its_root(samples, tmp_path):
    """A graph taller than the window opens scrolled to its bottom, where the root and the
    widest frames are; one that fits is not scrolled."""
    y, inner, height = scrolled_to(samples / "sample-deep.svg", tmp_path)
    assert height > 2 * inner and y > 0 and y + inner >= height - 1, (y, inner, height)
    y, inner, height = scrolled_to(samples / "sample.svg", tmp_path)
    assert height <= inner and y == 0, (y, inner, height)
