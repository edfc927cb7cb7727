# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A traced program that attacks the tracer through the files it maps.

The program runs pyenv's python3.11 with its libpython from a copy it can write. Another
process of its own watches that copy with inotify and, whenever someone opens it (cowtrace,
to read the interpreter's ELF file before probing it), truncates it, waits, and writes it back:
a parser that mapped the file would take SIGBUS in the window and die without a report.
cowtrace reads with pread (and guards libbpf's own mapping), so it must end at -d with its
report, whatever it could or could not attach in the window.

The program and its accomplice run as root here: what matters is what cowtrace does when a
file it reads changes under it, not who changes it.
"""

import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import COWTRACE, pyenv_interpreters

TARGET = r"""
import gc, os, sys, time
print("ready", flush=True)
time.sleep(float(sys.argv[1]))
objs = [dict(a=i) for i in range(50000)]
pid = os.fork()
if pid == 0:
    gc.collect()
    os._exit(0)
os.waitpid(pid, 0)
"""

# Truncates PATH each time someone opens it, then puts its bytes back; prints the count.
ACCOMPLICE = r"""
import ctypes, os, select, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_NONBLOCK)
IN_OPEN = 0x20
assert fd >= 0 and libc.inotify_add_watch(fd, path.encode(), IN_OPEN) >= 0
with open(path, "rb") as f:
    orig = f.read()
print("watching", flush=True)
end, n = time.monotonic() + seconds, 0
while time.monotonic() < end:
    if not select.select([fd], [], [], 0.1)[0]:
        continue
    os.read(fd, 65536)
    os.truncate(path, 0)
    n += 1
    time.sleep(0.3)
    with open(path, "r+b") as f:
        f.write(orig)
    time.sleep(0.05)
    try:
        os.read(fd, 65536)  # our own open's event
    except BlockingIOError:
        pass
print(n, flush=True)
"""


def test_interpreter_truncated_while_read(tmp_path):
    py = pyenv_interpreters().get("3.11")
    if py is None:
        pytest.fail("pyenv's 3.11 is not installed (see tests/e2e/conftest.py)")
    lib = py.parent.parent / "lib" / "libpython3.11.so.1.0"
    assert lib.exists(), lib
    libdir = tmp_path / "lib"
    libdir.mkdir()
    copy = libdir / lib.name
    shutil.copy(lib, copy)
    env = dict(os.environ, LD_LIBRARY_PATH=str(libdir))
    target = subprocess.Popen([str(py), "-c", TARGET, "4"], stdout=subprocess.PIPE, text=True,
                              env=env)
    accomplice = None
    try:
        assert target.stdout.readline().strip() == "ready"
        with open("/proc/%d/maps" % target.pid) as f:
            assert str(copy) in f.read(), "the target does not map the copy"
        accomplice = subprocess.Popen(["/usr/bin/python3", "-c", ACCOMPLICE, str(copy), "6"],
                                      stdout=subprocess.PIPE, text=True)
        assert accomplice.stdout.readline().strip() == "watching"
        report = tmp_path / "r.json"
        t0 = time.monotonic()
        res = subprocess.run([str(COWTRACE), "-p", str(target.pid), "-d", "8", "-q",
                              "--json", str(report)], capture_output=True, text=True,
                             timeout=60)
        took = time.monotonic() - t0
        truncations = int(accomplice.communicate(timeout=30)[0].strip() or 0)
    finally:
        target.kill()
        target.wait()
        if accomplice and accomplice.poll() is None:
            accomplice.kill()
            accomplice.wait()
    assert res.returncode == 0, "cowtrace exit %d (135: SIGBUS)\n%s" % (res.returncode,
                                                                      res.stderr[-2000:])
    assert truncations >= 1, "the accomplice never saw the file opened: no attack happened"
    assert took < 20, "-d 8 took %.1f s" % took
    rep = json.loads(report.read_text())
    assert rep["tool"] == "cowtrace" and rep["processes"], rep
