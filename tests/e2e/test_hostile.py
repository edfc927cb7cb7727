# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A traced program that attacks the tracer through the files it maps.

Every attacker runs as nobody, from a directory of its own.

Truncate while parsing: the program runs pyenv's python3.11 with its libpython from a copy it
can write. Another process of its own watches that copy with inotify and, whenever someone
opens it (cowtrace, to read the interpreter's ELF file before probing it), truncates it, waits,
and writes it back: a parser that mapped the file would take SIGBUS in the window and die
without a report. cowtrace reads with pread (and guards libbpf's own mapping), so it must end
at -d with its report, whatever it could or could not attach in the window.

Swap on open: the program runs a copy of Debian's python3.11 (USDT probes) from a
directory of its own; its accomplice, on the first open of that copy by someone else, renames
it away and renames a symlink to a root-owned victim binary (or a FIFO) over its name. A tracer
that opens the interpreter by the path /proc/PID/maps shows, or attaches by that path (libbpf
resolves it again), plants its uprobes in the victim, or blocks forever opening the FIFO.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import COWTRACE, pyenv_interpreters

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
DEBIAN_PYTHON = "/usr/bin/python3.11"


def nobody_home():
    """A directory of nobody's own, where nobody can create, rename and truncate."""
    home = tempfile.mkdtemp(prefix="cowtrace-hostile-", dir="/tmp")
    os.chmod(home, 0o755)
    os.chown(home, 65534, 65534)
    return home


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
    # nobody's own copies of the interpreter and its library (pyenv's tree is root's); the
    # standard library is Debian's 3.11 (-S: nothing from site-packages)
    home = nobody_home()
    interp = os.path.join(home, "python3.11")
    copy = os.path.join(home, lib.name)
    shutil.copy(py.resolve(), interp)
    shutil.copy(lib, copy)
    for f in (interp, copy):
        os.chown(f, 65534, 65534)
    env = dict(os.environ, LD_LIBRARY_PATH=home, PYTHONHOME="/usr")
    target = subprocess.Popen(NOBODY + [interp, "-S", "-c", TARGET, "4"],
                              stdout=subprocess.PIPE, text=True, env=env)
    accomplice = None
    try:
        assert target.stdout.readline().strip() == "ready"
        with open("/proc/%d/maps" % target.pid) as f:
            assert copy in f.read(), "the target does not map the copy"
        accomplice = subprocess.Popen(NOBODY + ["/usr/bin/python3", "-c", ACCOMPLICE, copy,
                                                "6"], stdout=subprocess.PIPE, text=True)
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
        shutil.rmtree(home, ignore_errors=True)
    assert res.returncode == 0, "cowtrace exit %d (135: SIGBUS)\n%s" % (res.returncode,
                                                                       res.stderr[-2000:])
    assert truncations >= 1, "the accomplice never saw the file opened: no attack happened"
    assert took < 20, "-d 8 took %.1f s" % took
    rep = json.loads(report.read_text())
    assert rep["tool"] == "cowtrace" and rep["processes"], rep


SWAP_TARGET = r"""
import gc, os, sys, time
print("ready", flush=True)
time.sleep(float(sys.argv[1]))
objs = [dict(a=i) for i in range(50000)]
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        gc.collect()
        os._exit(0)
    os.waitpid(pid, 0)
time.sleep(float(sys.argv[2]))
"""

# On the first open of PATH by anyone: PATH is renamed to PATH.real (the mapped file lives on
# under that name) and REPLACEMENT is renamed over PATH; prints "swapped" when it has.
SWAPPER = r"""
import ctypes, os, select, sys, time
path, replacement, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_NONBLOCK)
IN_OPEN = 0x20
assert fd >= 0 and libc.inotify_add_watch(fd, path.encode(), IN_OPEN) >= 0
print("watching", flush=True)
end = time.monotonic() + seconds
while time.monotonic() < end:
    if select.select([fd], [], [], 0.05)[0]:
        os.rename(path, path + ".real")
        os.rename(replacement, path)
        print("swapped", flush=True)
        break
else:
    print("timeout", flush=True)
"""

# Bytes of each file's executable mapping that differ from the file: a uprobe on the file shows
# as an int3 in every mapping made after it was planted (kernel/events/uprobes.c, uprobe_mmap).
CHECKER = r"""
import mmap, sys
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        data = f.read()
        m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE,
                      prot=mmap.PROT_READ | mmap.PROT_EXEC)
        diff = 0
        for off in range(0, len(data), 4096):
            a, b = m[off:off + 4096], data[off:off + 4096]
            if a != b:
                diff += sum(1 for x, y in zip(a, b) if x != y)
        m.close()
    print(diff)
"""



def uprobe_bytes(*paths):
    out = subprocess.run(["/usr/bin/python3", "-c", CHECKER, *map(str, paths)],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return [int(x) for x in out.split()]


@pytest.mark.parametrize("replacement", ["symlink-to-victim", "fifo"])
def test_interpreter_swapped_on_open(tmp_path, replacement):
    if not os.path.exists(DEBIAN_PYTHON):
        pytest.fail("%s is not installed (Debian's python3.11)" % DEBIAN_PYTHON)
    home = nobody_home()
    # the victim: a root-owned binary, of the same bytes (so that every probe offset lands in
    # its code); the attacker can only name it
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    victim = victim_dir / "python3.11"
    shutil.copy(DEBIAN_PYTHON, victim)
    interp = os.path.join(home, "python3.11")
    shutil.copy(DEBIAN_PYTHON, interp)
    swap = os.path.join(home, "swap")
    if replacement == "fifo":
        os.mkfifo(swap)
    else:
        os.symlink(str(victim), swap)
    for f in (interp, swap):
        os.lchown(f, 65534, 65534)
    env = dict(os.environ, PYTHONHOME="/usr")
    target = subprocess.Popen(NOBODY + [interp, "-c", SWAP_TARGET, "3", "4"],
                              stdout=subprocess.PIPE, text=True, env=env)
    swapper = cowtrace = None
    try:
        assert target.stdout.readline().strip() == "ready"
        swapper = subprocess.Popen(NOBODY + ["/usr/bin/python3", "-c", SWAPPER, interp, swap,
                                             "20"], stdout=subprocess.PIPE, text=True)
        assert swapper.stdout.readline().strip() == "watching"
        report = tmp_path / "r.json"
        t0 = time.monotonic()
        cowtrace = subprocess.Popen([str(COWTRACE), "-p", str(target.pid), "-d", "6", "-q",
                                     "--json", str(report)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        assert swapper.stdout.readline().strip() == "swapped", \
            "the interpreter was never opened: no attack happened"
        # cowtrace has attached (or given up) by the time it reads the target's memory; the
        # probes are checked while it runs
        time.sleep(2)
        assert cowtrace.poll() is None, cowtrace.communicate()[1][-2000:]
        victim_bytes, real_bytes = uprobe_bytes(victim, interp + ".real")
        out, err = cowtrace.communicate(timeout=60)
        took = time.monotonic() - t0
    finally:
        for p in (cowtrace, swapper, target):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(home, ignore_errors=True)
    assert cowtrace.returncode == 0, "cowtrace exit %d\n%s" % (cowtrace.returncode, err[-2000:])
    assert took < 16, "-d 6 took %.1f s" % took
    assert victim_bytes == 0, "%d bytes of the victim changed: a probe was planted in it" % \
        victim_bytes
    # the probes are in the file the target really maps (this also shows the check can see one)
    assert real_bytes >= 2, "no probe in the target's own interpreter (%d bytes)" % real_bytes
    rep = json.loads(report.read_text())
    proc = [p for p in rep["processes"] if p["pid"] == target.pid]
    assert proc and proc[0]["python"]["gc_source"] == "usdt", proc
    workers = [p for p in rep["processes"] if p["ppid"] == target.pid]
    assert len(workers) == 3 and all(p["by_cause"].get("gc", 0) > 0 for p in workers), \
        workers


# Maps each FILE executable, says so, and sleeps.
MAPPER = r"""
import mmap, sys, time
maps = []
for path in sys.argv[2:]:
    with open(path, "rb") as f:
        maps.append(mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE,
                              prot=mmap.PROT_READ | mmap.PROT_EXEC))
print("mapped", flush=True)
time.sleep(float(sys.argv[1]))
"""


def huge_elf(path, size):
    """A sparse file of SIZE bytes with an ELF header whose symbol table claims all of it: a
    reader that takes the file's word for it reads SIZE bytes and walks SIZE / 24 symbols."""
    import struct
    shoff, nsec = 64, 3
    ehdr = struct.pack("<4sBBBBB7sHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, b"\0" * 7,
                       3, 62, 1, 0, 0, shoff, 0, 64, 56, 0, 64, nsec, 2)

    def shdr(name, typ, off, sz, link=0, entsize=0):
        return struct.pack("<IIQQQQIIQQ", name, typ, 0, 0, off, sz, link, 0, 8, entsize)
    table = shdr(0, 0, 0, 0) + shdr(0, 2, 4096, size - 8192, 2, 24) + shdr(0, 3, size - 4096, 1)
    with open(path, "wb") as f:
        f.write(ehdr + table)
        f.truncate(size)


def test_many_huge_interpreters_mapped(tmp_path):
    """A target that maps files named like libpython, each 1 GiB (sparse, with a symbol table
    that claims all of it): cowtrace reads none of them whole (its memory stays small), -d 3
    ends the run in time, and the report is written."""
    home = nobody_home()
    files = []
    for i in range(4):
        d = os.path.join(home, str(i))
        os.mkdir(d)
        files.append(os.path.join(d, "libpython3.11.so.1.0"))
        huge_elf(files[-1], 1 << 30)
    for root, dirs, names in os.walk(home):
        for n in dirs + names:
            os.chown(os.path.join(root, n), 65534, 65534)
    # a program whose own name is not an interpreter's, so that every mapping is looked at
    mapper = os.path.join(home, "mapper")
    shutil.copy(DEBIAN_PYTHON, mapper)
    target = subprocess.Popen(NOBODY + [mapper, "-c", MAPPER, "30", *files],
                              stdout=subprocess.PIPE, text=True, env=dict(os.environ,
                                                                         PYTHONHOME="/usr"))
    try:
        assert target.stdout.readline().strip() == "mapped"
        report = tmp_path / "r.json"
        t0 = time.monotonic()
        cowtrace = subprocess.Popen([str(COWTRACE), "-p", str(target.pid), "-d", "3", "-q",
                                     "--json", str(report)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(cowtrace.pid, 0)
        took = time.monotonic() - t0
        cowtrace.returncode = os.waitstatus_to_exitcode(status)
        err = cowtrace.stderr.read()
    finally:
        target.kill()
        target.wait()
        shutil.rmtree(home, ignore_errors=True)
    assert cowtrace.returncode == 0, "cowtrace exit %d\n%s" % (cowtrace.returncode, err[-2000:])
    assert took < 8, "-d 3 took %.1f s" % took
    # ru_maxrss in KiB: the tool itself is ~20 MiB; one file read whole would be 1 GiB
    assert usage.ru_maxrss < 200 * 1024, "cowtrace grew to %d MiB" % (usage.ru_maxrss >> 10)
    assert "not read as an interpreter" in err, err[-2000:]
    rep = json.loads(report.read_text())
    assert [p["pid"] for p in rep["processes"]] == [target.pid], rep["processes"]
