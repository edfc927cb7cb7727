# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""make install: the tool, its man page and its bash completion, where PREFIX and DESTDIR say;
the man page renders and says every option --help says (and no other); the completion
completes options, detectors, pids and files."""
import filecmp
import os
import re
import shutil
import stat
import subprocess

import pytest

from conftest import COWTRACE, REPO_ROOT

FILES = {"sbin/cowtrace": 0o755, "share/man/man8/cowtrace.8": 0o644,
         "share/bash-completion/completions/cowtrace": 0o644}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """make install DESTDIR=<tmp>: the root it installed under (DESTDIR + /usr/local)."""
    dest = tmp_path_factory.mktemp("destdir")
    res = subprocess.run(["make", "--no-print-directory", "install", "DESTDIR=%s" % dest],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, "make install failed: %s%s" % (res.stdout, res.stderr)
    return dest / "usr" / "local"


def help_text():
    return subprocess.run([str(COWTRACE), "--help"], capture_output=True, text=True,
                          check=True).stdout


def help_long_options():
    """The long options --help lists, each on its own line."""
    return set(re.findall(r"^  (?:-\w, |    )(--[a-z][a-z0-9-]*)", help_text(), re.M))


def render(page):
    """The page as text: man -l, else groff or mandoc; None when none is installed."""
    env = dict(os.environ, MANWIDTH="100", LC_ALL="C.UTF-8")
    for cmd in (["man", "-P", "cat", "-l", str(page)],
                ["groff", "-man", "-Tutf8", str(page)],
                ["mandoc", "-Tutf8", str(page)]):
        if shutil.which(cmd[0]):
            res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
            assert res.returncode == 0, "%s: %s" % (" ".join(cmd), res.stderr)
            # overstrike and SGR sequences, in case the formatter left them in
            text = re.sub(r".\x08", "", res.stdout)
            return re.sub(r"\x1b\[[0-9;]*m", "", text)
    return None


def test_installs_three_files(installed, tmp_path):
    for rel, mode in FILES.items():
        path = installed / rel
        assert path.is_file(), "not installed: %s" % rel
        assert stat.S_IMODE(path.stat().st_mode) == mode, (rel, oct(path.stat().st_mode))
    assert filecmp.cmp(installed / "sbin/cowtrace", COWTRACE, shallow=False)
    # PREFIX is honoured too (nothing to rebuild: only the copies)
    res = subprocess.run(["make", "--no-print-directory", "install", "DESTDIR=%s" % tmp_path,
                          "PREFIX=/opt/cowtrace"], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    for rel in FILES:
        assert (tmp_path / "opt/cowtrace" / rel).is_file(), rel


def test_man_page_renders_every_option(installed):
    page = installed / "share/man/man8/cowtrace.8"
    source = page.read_text()
    assert source.startswith('.\\"') and "\n.TH COWTRACE 8 " in source
    for section in ("NAME", "SYNOPSIS", "OPTIONS", "EXIT STATUS"):
        assert "\n.SH %s\n" % section in source, section
    if shutil.which("groff"):
        # no warning from the formatter (bad requests, escapes it does not know)
        res = subprocess.run(["groff", "-man", "-ww", "-z", str(page)], capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0 and not res.stderr.strip(), res.stderr
    text = render(page)
    if text is None:
        # no formatter on this machine: the roff source, its minus signs escaped
        text = source.replace("\\-", "-")
    wanted = help_long_options()
    assert len(wanted) > 20 and "--prometheus" in wanted, wanted
    missing = [o for o in sorted(wanted) if not re.search(r"(?<![\w-])%s(?![\w-])" % o, text)]
    assert not missing, "--help options missing from cowtrace(8): %s" % missing
    # and the page lists no option --help does not have
    section = re.search(r"^OPTIONS\n(.*?)^\S", text, re.M | re.S).group(1)
    lines = [l for l in section.split("\n") if l.strip()]
    indent = min(len(l) - len(l.lstrip()) for l in lines)  # the options' own lines
    listed = {m[1] for l in lines if len(l) - len(l.lstrip()) == indent
              for m in [re.match(r"\s+(?:-\w, )?(--[a-z][a-z0-9-]*)", l)] if m}
    assert listed == wanted, "man page: %s; --help: %s" % (sorted(listed - wanted),
                                                           sorted(wanted - listed))
    for figure in ("gc_pct", "worker_pages_max", "lost_events"):
        assert re.search(r"^\s+%s\b" % figure, text, re.M), figure
    assert re.search(r"^EXIT STATUS\n\s+0 ok, 1 error, 2 usage error", text, re.M), text[-800:]


def complete(script, *words):
    """What the completion offers for the command line words (the last one being completed)."""
    words_arr = " ".join("'%s'" % w.replace("'", "'\\''") for w in words)
    prog = ("source '%s' || exit 9\nCOMP_WORDS=(%s)\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
            "_cowtrace\nprintf '%%s\\n' \"${COMPREPLY[@]}\"\n" % (script, words_arr))
    res = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert not res.stderr, res.stderr
    return [l for l in res.stdout.split("\n") if l]


def test_bash_completion(installed, tmp_path):
    script = installed / "share/bash-completion/completions/cowtrace"
    assert complete(script, "cowtrace", "--js") == ["--json"]
    assert complete(script, "cowtrace", "--prom") == ["--prometheus", "--prometheus-pids"]
    assert set(complete(script, "cowtrace", "--")) >= help_long_options()
    assert complete(script, "cowtrace", "--detector", "fault") == ["fault-alloc-tp"]
    assert complete(script, "cowtrace", "--by", "st") == ["stack"]
    me = str(os.getpid())
    assert me in complete(script, "cowtrace", "-p", me[:-1])
    assert "1,%s" % me in complete(script, "cowtrace", "-q", "-p", "1,%s" % me)
    (tmp_path / "report.prom").write_text("")
    (tmp_path / "other").write_text("")
    for opt in ("--json", "--svg", "--folded", "--speedscope", "--prometheus"):
        assert complete(script, "cowtrace", opt, str(tmp_path / "rep")) == \
            [str(tmp_path / "report.prom")], opt
    # after "--" it is COMMAND's line: commands, then files
    assert "sh" in complete(script, "cowtrace", "-d", "5", "--", "sh")
    assert complete(script, "cowtrace", "--", "sh", str(tmp_path / "oth")) == \
        [str(tmp_path / "other")]
