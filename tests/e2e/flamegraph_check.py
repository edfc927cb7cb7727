# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Checks for cowtrace's flame graph exports, for the end-to-end tests (a helper, not a test file).

    from flamegraph_check import check_svg_xml, parse_folded, render_svg_png, png_is_not_blank

SVG (user/output/flame_svg.c writes it)
    check_svg_xml(path) -> [frame names]   strict XML parse, self-contained, frames well formed
    svg_frames(path) -> [SvgFrame]         every drawn frame: depth, name, count, x, width, ...
    svg_script(path) -> str                the embedded JavaScript (for `node --check`)
Folded stacks
    parse_folded(path) -> [(frames, count)]   every line's format checked
Browser (headless Chromium, Debian's `chromium` package)
    render_svg_png(svg, png, width=1200, height=800) -> png path
    dump_svg_dom(svg, fragment="") -> str     the DOM after the script ran ("#search=...&zoom=...")
    png_is_not_blank(png) -> bool, png_stats(png) -> PngStats, png_colors(png) -> Counter
        (PNGs decoded here with zlib and struct, no PIL)

Failures raise AssertionError (a malformed export) or RuntimeError (no browser, browser failed),
with the reason in the message.
"""
import collections
import os
import re
import shutil
import struct
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import zlib

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
CHROMIUM = "/usr/bin/chromium"
# Between a frame's name and its count in the hover title: "name — 12 pages (3.45%)".
TITLE_SEP = " \u2014 "
_TITLE_RE = re.compile(r"^(\d+) (\S+) \((\d+\.\d\d)%\)$")

SvgFrame = collections.namedtuple("SvgFrame", "depth name count unit percent x width y fill label")
SvgFrame.__doc__ = """One drawn frame, in document (pre-)order. depth 0 is the implicit root "all";
x and width in px as written (before any zoom); label is the text shown inside (maybe cut)."""

PngStats = collections.namedtuple("PngStats", "width height colors background non_background")
PngStats.__doc__ = """colors: distinct RGB values; background: the most common one, (r, g, b);
non_background: the share of pixels (0..1) of any other color."""


def _tag(el):
    return el.tag.split("}", 1)[1] if el.tag.startswith("{") else el.tag


def _parse_svg(path):
    try:
        tree = ET.parse(path)
    except ET.ParseError as e:
        raise AssertionError("%s is not well-formed XML: %s" % (path, e)) from None
    root = tree.getroot()
    if root.tag != "{%s}svg" % SVG_NS:
        raise AssertionError("%s: root element is %s, not an SVG <svg>" % (path, root.tag))
    return root


def _check_self_contained(path, root):
    """No reference that a browser would fetch: every href/src is a local '#id', every CSS url()
    too, and no @import."""
    for el in root.iter():
        for name, value in el.attrib.items():
            local = name.split("}", 1)[-1]
            if local in ("href", "src") and not value.startswith("#"):
                raise AssertionError("%s: <%s %s=%r> refers outside the file"
                                     % (path, _tag(el), local, value))
            for url in re.findall(r"url\(\s*['\"]?([^'\")]*)", value):
                if not url.startswith("#"):
                    raise AssertionError("%s: <%s %s=...url(%s)> refers outside the file"
                                         % (path, _tag(el), local, url))
        if _tag(el) in ("style", "script") and el.text:
            if _tag(el) == "style" and "@import" in el.text:
                raise AssertionError("%s: <style> imports another style sheet" % path)
            for url in re.findall(r"url\(\s*['\"]?([^'\")]*)", el.text):
                if not url.startswith("#"):
                    raise AssertionError("%s: <%s> refers to %s" % (path, _tag(el), url))
        if _tag(el) in ("image", "use", "foreignObject", "iframe", "link"):
            raise AssertionError("%s: unexpected <%s> element" % (path, _tag(el)))


def _frames_group(root):
    for g in root.iter("{%s}g" % SVG_NS):
        if g.get("id") == "frames":
            return g
    return None


def svg_frames(path):
    """The drawn frames of a flame graph SVG, as SvgFrame, in document order (the root first).
    [] for an SVG without frames (no stacks recorded). Checks each frame's structure:
    <g><title>NAME — N UNIT (P%)</title><rect .../><text ...>label</text></g>, the <text> left
    out when no label fits."""
    root = _parse_svg(path)
    group = _frames_group(root)
    if group is None:
        return []
    base = float(group.get("data-base"))
    fh = float(group.get("data-fh"))
    frames = []
    for g in group:
        kids = list(g)
        # a frame too narrow for a label has no <text>
        if _tag(g) != "g" or [_tag(k) for k in kids] not in (["title", "rect", "text"],
                                                              ["title", "rect"]):
            raise AssertionError("%s: frame element <%s> with children %s, not title/rect/text"
                                 % (path, _tag(g), [_tag(k) for k in kids]))
        title, rect = kids[:2]
        label = (kids[2].text or "") if len(kids) == 3 else ""
        name, sep, rest = (title.text or "").rpartition(TITLE_SEP)
        m = _TITLE_RE.match(rest)
        if not sep or not m:
            raise AssertionError("%s: hover title %r is not 'name \u2014 N unit (P%%)'"
                                 % (path, title.text))
        y = float(rect.get("y"))
        depth = (base - y) / fh
        if depth != int(depth) or depth < 0:
            raise AssertionError("%s: frame %r at y=%s is not on a row" % (path, name, y))
        frames.append(SvgFrame(int(depth), name, int(m.group(1)), m.group(2),
                               float(m.group(3)), float(rect.get("x")), float(rect.get("width")),
                               y, rect.get("fill"), label))
    if not frames or frames[0].depth != 0:
        raise AssertionError("%s: the first frame is not the root" % path)
    for prev, cur in zip(frames, frames[1:]):
        if cur.depth < 1 or cur.depth > prev.depth + 1:
            raise AssertionError("%s: frame %r (depth %d) after depth %d: not pre-order"
                                 % (path, cur.name, cur.depth, prev.depth))
    return frames


def check_svg_xml(path):
    """Parses path as strict XML (expat, no recovery), checks it is an SVG that fetches nothing
    (no external href/src/url()/@import) and that its frames are well formed. Returns the frame
    names in document order, without the implicit root "all" ([] when no stacks)."""
    root = _parse_svg(path)
    _check_self_contained(path, root)
    frames = svg_frames(path)
    if not frames:
        text = "".join(root.itertext())
        if "no copies recorded" not in text:
            raise AssertionError("%s: no frames, and no 'no copies recorded' either" % path)
        return []
    return [f.name for f in frames[1:]]


def svg_script(path):
    """The text of the SVG's <script> elements (CDATA content), joined."""
    root = _parse_svg(path)
    return "\n".join(el.text or "" for el in root.iter("{%s}script" % SVG_NS))


_FOLDED_RE = re.compile(r"^(.+) (\d+)$")


def parse_folded(path):
    """Reads a collapsed-stacks file: [(frames, count)], frames a list, root first. Every line
    must be 'frame;frame;... COUNT' with a positive decimal count, non-empty frames, valid UTF-8
    and no control characters (a newline or tab in a name would have broken the line)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AssertionError("%s: not UTF-8: %s" % (path, e)) from None
    if text and not text.endswith("\n"):
        raise AssertionError("%s: the last line has no newline" % path)
    stacks = []
    for n, line in enumerate(text.split("\n")[:-1], 1):
        bad = [c for c in line if ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f]
        if bad:
            raise AssertionError("%s:%d: control character %r in %r" % (path, n, bad[0], line))
        m = _FOLDED_RE.match(line)
        if not m:
            raise AssertionError("%s:%d: not 'frames COUNT': %r" % (path, n, line))
        frames = m.group(1).split(";")
        if any(fr == "" for fr in frames):
            raise AssertionError("%s:%d: empty frame in %r" % (path, n, line))
        count = int(m.group(2))
        if count <= 0:
            raise AssertionError("%s:%d: count %d" % (path, n, count))
        stacks.append((frames, count))
    return stacks


def _chromium():
    exe = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if not exe:
        raise RuntimeError("headless Chromium not found at %s: install Debian's 'chromium' "
                           "package (scripts/deps.sh does)" % CHROMIUM)
    return exe


def _run_chromium(args, timeout):
    """Runs headless Chromium with a fresh profile; returns the CompletedProcess."""
    with tempfile.TemporaryDirectory(prefix="cowtrace-chromium-") as profile:
        cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync",
               "--user-data-dir=%s" % profile] + args
        try:
            return subprocess.run(cmd, capture_output=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise RuntimeError("chromium did not finish within %d s: %s"
                               % (timeout, " ".join(cmd))) from None


def _file_url(path, fragment=""):
    url = "file://" + os.path.abspath(path)
    if fragment:
        url += "#" + fragment.lstrip("#")
    return url


def render_svg_png(svg_path, png_path, width=1200, height=800, timeout=120):
    """Screenshots svg_path (a window of width x height px) with headless Chromium into
    png_path; returns png_path. RuntimeError when Chromium is missing or writes no PNG."""
    png_path = os.path.abspath(png_path)
    if os.path.exists(png_path):
        os.unlink(png_path)
    p = _run_chromium(["--hide-scrollbars", "--screenshot=%s" % png_path,
                       "--window-size=%d,%d" % (width, height), _file_url(svg_path)], timeout)
    if not os.path.isfile(png_path) or os.path.getsize(png_path) == 0:
        raise RuntimeError("chromium wrote no screenshot (exit %d): %s"
                           % (p.returncode, p.stderr.decode(errors="replace")[-2000:]))
    return png_path


def dump_svg_dom(svg_path, fragment="", timeout=120):
    """The SVG's DOM serialized by headless Chromium after its script ran, with an optional URL
    fragment (the SVG applies "search=TEXT&zoom=NAME" on load)."""
    p = _run_chromium(["--dump-dom", _file_url(svg_path, fragment)], timeout)
    out = p.stdout.decode("utf-8", errors="replace")
    if p.returncode != 0 or "<svg" not in out:
        raise RuntimeError("chromium --dump-dom failed (exit %d): %s"
                           % (p.returncode, p.stderr.decode(errors="replace")[-2000:]))
    return out


def _png_pixels(path):
    """(width, height, channels, rows as bytes) of an 8-bit RGB/RGBA/grey PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError("%s: not a PNG" % path)
    pos, idat, ihdr = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if zlib.crc32(kind + body) & 0xffffffff != crc:
            raise AssertionError("%s: bad CRC in chunk %r" % (path, kind))
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if not ihdr or not idat:
        raise AssertionError("%s: no IHDR or IDAT" % path)
    width, height, depth, ctype, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace:
        raise AssertionError("%s: unsupported PNG (depth %d, color type %d, interlace %d)"
                             % (path, depth, ctype, interlace))
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    if len(raw) != height * (stride + 1):
        raise AssertionError("%s: %d bytes of image data for %dx%d" % (path, len(raw), width,
                                                                        height))
    rows, prev = [], bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 1:  # Sub
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xff
        elif ftype == 2:  # Up
            line = bytearray((a + b) & 0xff for a, b in zip(line, prev))
        elif ftype == 3:  # Average
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xff
        elif ftype == 4:  # Paeth
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = prev[i]
                c = prev[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xff
        elif ftype != 0:
            raise AssertionError("%s: bad filter type %d in row %d" % (path, ftype, y))
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


def png_colors(png_path):
    """Counter of the PNG's pixel colors, as (r, g, b) (alpha and grey expanded/dropped)."""
    width, height, channels, rows = _png_pixels(png_path)
    counts = collections.Counter()
    for row in rows:
        counts.update(row[i:i + channels] for i in range(0, len(row), channels))
    rgb = collections.Counter()
    for px, n in counts.items():
        rgb[tuple(px[:3]) if channels >= 3 else (px[0],) * 3] += n
    return rgb


def png_stats(png_path):
    """PngStats of a PNG decoded here (zlib and struct only)."""
    counts = png_colors(png_path)
    width, height = struct.unpack(">II", open(png_path, "rb").read(24)[16:24])
    background, n = counts.most_common(1)[0]
    total = width * height
    return PngStats(width, height, len(counts), background, (total - n) / total)


def png_is_not_blank(png_path, min_colors=16, min_non_background=0.02):
    """True when the PNG looks like a drawing, not an empty or error page: at least min_colors
    distinct colors and min_non_background of its pixels differ from the most common color."""
    s = png_stats(png_path)
    return s.colors >= min_colors and s.non_background >= min_non_background
