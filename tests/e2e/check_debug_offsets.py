#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Compare cowtrace's reading of CPython's _Py_DebugOffsets with the headers' own offsetof().

    python3 tests/e2e/check_debug_offsets.py ROOT DEVHEADERS [--live] [3.13 3.14 3.15]

ROOT        a root file system holding the interpreters as ROOT/usr/bin/python3.X and their
            build configuration as ROOT/usr/lib/python3.X/_sysconfigdata_*.py
            (here: /var/cache/cowtrace-sidroot/root)
DEVHEADERS  the include directory holding python3.X/ and python3.X/internal/, or a root with
            usr/include below it (here: /var/cache/cowtrace-sidroot/dev/usr/include)
versions    default 3.13 3.14 3.15

For each version, tests/e2e/debug_offsets_helper.c is compiled twice:
  truth  against DEVHEADERS/python3.X with Py_BUILD_CORE and the -D flags of the interpreter's
         PY_CORE_CFLAGS (they change struct sizes: Debian's 3.15 builds with -D_Py_TIER2=3
         -D_Py_JIT), printing offsetof()/sizeof() of the structures, enum and macro values and
         _Py_IsImmortal() of sample reference counts;
  ours   from user/python/pyinterp*.c, pyframes.c, pydebug.c, pylayout.c, pylines.c:
         py_interp_inspect() of the binary, py_debug_offsets_parse() of the blob it stored,
         py_frame_offsets_of(), py_layout_of(), py_refcnt_immortal()/py_refcnt_live() of the
         same counts.
Every name the truth side prints must be printed by ours with the same value.

--live (root): also start each interpreter (chroot ROOT python3.X) stopped in a known call
chain, and follow ours' offsets through /proc/PID/mem from _PyRuntime to the thread state of
its main thread and along the frames, comparing qualnames and first lines with what the
program reports about itself.

Exit status: 0 everything equal; 1 a difference; 2 an input is missing or does not compile.
Needs cc and libelf's headers; no root unless --live.
"""
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELPER = os.path.join(REPO, "tests", "e2e", "debug_offsets_helper.c")
OURS_SRCS = ["user/python/pyinterp.c", "user/python/pyinterp_version.c",
             "user/python/pyinterp_gc.c", "user/python/pyframes.c", "user/python/pydebug.c",
             "user/python/pylayout.c", "user/python/pylines.c", "user/lib/elfsym.c"]


class Missing(Exception):
    pass


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if r.returncode:
        raise Missing("%s: exit %d\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r.stdout


def facts(text):
    out = {}
    for line in text.splitlines():
        name, value = line.split()
        out[name] = int(value)
    return out


def include_dir(dev):
    sub = os.path.join(dev, "usr", "include")
    return sub if os.path.isdir(sub) else dev


def build_flags(root, minor):
    """The -D flags of the interpreter's own build that can change a structure."""
    files = sorted(glob.glob(os.path.join(root, "usr/lib/python3.%d/_sysconfigdata_*.py" % minor)))
    if not files:
        raise Missing("no _sysconfigdata for 3.%d under %s" % (minor, root))
    with open(files[0]) as f:
        m = re.search(r"'PY_CORE_CFLAGS':\s*'([^']*)'", f.read())
    if not m:
        raise Missing("no PY_CORE_CFLAGS in %s" % files[0])
    return [t for t in m.group(1).split() if re.match(r"-D_?Py_\w+(=\w+)?$", t)]


def build_ours(tmp):
    exe = os.path.join(tmp, "ours")
    run(["cc", "-std=gnu11", "-D_GNU_SOURCE", "-O1", "-Wall", "-I",
         os.path.join(REPO, "user", "python"), "-I", os.path.join(REPO, "user", "trace"),
         "-I", os.path.join(REPO, "user", "lib"),
         HELPER] + [os.path.join(REPO, s) for s in OURS_SRCS] + ["-lelf", "-o", exe])
    return exe


def build_truth(tmp, inc, minor, flags):
    hdr = os.path.join(inc, "python3.%d" % minor)
    if not os.path.isdir(os.path.join(hdr, "internal")):
        raise Missing("no %s/internal" % hdr)
    exe = os.path.join(tmp, "truth3%d" % minor)
    # inc last (-idirafter): it gives Debian's multiarch pyconfig.h, and when it is a whole
    # root's usr/include its C library headers must not shadow the compiler's own
    run(["cc", "-w", "-DHELPER_TRUTH", "-DPy_BUILD_CORE"] + flags +
        ["-I", hdr, "-I", os.path.join(hdr, "internal"), "-idirafter", inc, HELPER, "-o", exe])
    return exe


def sample_counts(truth):
    """Reference counts a live object of this version can have, from its own constants."""
    counts = {1, 2, 1000, 0x7fffffff, 0x80000000}
    for name in ("refcnt_immortal_initial", "refcnt_static_immortal_initial",
                 "refcnt_immortal_minimum"):
        if name in truth:
            counts.add(truth[name])
    if "refcnt_static_immortal_initial" in truth:
        v = truth["refcnt_static_immortal_initial"]
        counts.add(v - 1)                  # a decref the sign bit stops
        counts.add(v | (2 << 48))          # 3.15 _Py_LEGACY_ABI_CHECK_FLAG on a static object
    else:
        counts.add(truth["refcnt_immortal_initial"] - 1)
    return sorted(counts)


# Values cowtrace may decline (-1) rather than know: table values from another build of the same
# version, dropped when the blob shows a _PyRuntimeState of another size (pyframes.c).
MAY_DECLINE = {"runtime_main_interpreter", "runtime_autotss_key"}


def verdict(name, want, got):
    if got == want:
        return None
    if name in MAY_DECLINE and got == -1:
        return "unknown to cowtrace"
    return "DIFFERS"


def compare(minor, truth, ours):
    bad = []
    for name, want in truth.items():
        if name.startswith(("refcnt_", "note_")):
            continue
        got = ours.get(name)
        if verdict(name, want, got) == "DIFFERS":
            bad.append("%s: headers %s, cowtrace %s" % (name, want, got))
    for part in ("major", "minor", "micro"):
        if ours.get("blob_version_" + part) != truth["version_" + part]:
            bad.append("blob version_%s: headers %s, blob %s" % (
                part, truth["version_" + part], ours.get("blob_version_" + part)))
    for name, v in ours.items():
        if name.startswith("live_") and v != 1:
            bad.append("%s: py_refcnt_live() refuses a count this version uses" % name)
    shown = [n for n in truth if not n.startswith(("refcnt_", "note_"))]
    print("3.%d: %d facts compared, %d differ" % (minor, len(shown) + 3, len(bad)))
    print("  %-32s %14s %14s" % ("", "headers", "cowtrace"))
    for n in shown:
        v = verdict(n, truth[n], ours.get(n))
        print("  %-32s %14d %14s%s" % (n, truth[n], ours.get(n), "   <-- " + v if v else ""))
    notes = ["%s %d" % (n[5:], truth[n]) for n in truth if n.startswith("note_")]
    print("  (headers only: %s)" % ", ".join(notes))
    return bad


# ---- --live: follow the offsets in a running interpreter ----

TARGET = r'''
import json, os, sys, time
def inner():
    f, stack = sys._getframe(), []
    while f:
        stack.append([f.f_code.co_qualname, f.f_code.co_firstlineno])
        f = f.f_back
    sys.stdout.write(json.dumps({"pid": os.getpid(), "stack": stack}) + "\n")
    sys.stdout.flush()
    time.sleep(60)
class Outer:
    def middle(self):
        inner()
def outer():
    [Outer().middle() for _ in range(1)]
outer()
'''


class Mem:
    def __init__(self, pid):
        self.f = open("/proc/%d/mem" % pid, "rb", buffering=0)

    def read(self, addr, n):
        self.f.seek(addr)
        return self.f.read(n)

    def ptr(self, addr):
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def i32(self, addr):
        return struct.unpack("<i", self.read(addr, 4))[0]

    def u8(self, addr):
        return self.read(addr, 1)[0]

    def ascii(self, o, addr):
        state = struct.unpack("<I", self.read(addr + o["unicode_state"], 4))[0]
        if state & o["unicode_state_compact"] and state & o["unicode_state_ascii"]:
            n = struct.unpack("<q", self.read(addr + o["unicode_length"], 8))[0]
            return self.read(addr + o["unicode_ascii_data"], min(n, 256)).decode()
        return "<non-ASCII>"


def live(root, minor, o):
    binary = "/usr/bin/python3.%d" % minor
    proc = subprocess.Popen(["chroot", root, binary, "-c", TARGET],
                            stdout=subprocess.PIPE, text=True)
    bad = []
    try:
        want = json.loads(proc.stdout.readline())
        time.sleep(0.2)
        pid = want["pid"]
        base = None
        with open("/proc/%d/maps" % pid) as f:
            for line in f:
                parts = line.split()
                if (len(parts) >= 6 and parts[5] in (binary, os.path.join(root, binary[1:]))
                        and int(parts[2], 16) == 0):
                    base = int(parts[0].split("-")[0], 16)
                    break
        if base is None:
            return ["live 3.%d: %s not mapped at offset 0" % (minor, binary)]
        m = Mem(pid)
        rt = o["runtime_vaddr"] + base - (o["load_vaddr"] & ~4095)
        interp = m.ptr(rt + o["runtime_interpreters_head"])
        t = m.ptr(interp + o["interp_threads_head"])
        tstate, seen = None, 0
        while t and seen < 64:
            if m.ptr(t + o["tstate_native_thread_id"]) == pid:
                tstate = t
            t, seen = m.ptr(t + o["tstate_next"]), seen + 1
        if tstate is None:
            return ["live 3.%d: no thread state with native_thread_id %d" % (minor, pid)]
        frame, got, skipped = m.ptr(tstate + o["tstate_current_frame"]), [], 0
        while frame and len(got) < 64:
            if m.u8(frame + o["frame_owner"]) >= o["frame_owner_incomplete"] >= 0:
                skipped += 1
            else:
                code = m.ptr(frame + o["frame_code"]) & ~o["frame_code_tag_bits"]
                got.append([m.ascii(o, m.ptr(code + o["code_qualname"])),
                            m.i32(code + o["code_firstlineno"])])
            frame = m.ptr(frame + o["frame_previous"])
        print("3.%d live: pid %d, _PyRuntime %#x, tstate %#x, %d incomplete frame(s) skipped"
              % (minor, pid, rt, tstate, skipped))
        for name, line in got:
            print("  %-24s first line %d" % (name, line))
        if got != want["stack"]:
            bad.append("live 3.%d: walked %s, the program reports %s" % (minor, got, want["stack"]))
        else:
            print("  = the program's own report (%d frames)" % len(got))
    finally:
        proc.kill()
        proc.wait()
    return bad


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    opts = [a for a in argv[1:] if a.startswith("--")]
    if len(args) < 2 or set(opts) - {"--live"}:
        sys.stderr.write(__doc__)
        return 2
    root, inc = args[0], include_dir(args[1])
    minors = [int(v.split(".")[1]) for v in args[2:]] or [13, 14, 15]
    if "--live" in opts and os.geteuid() != 0:
        sys.stderr.write("--live needs root (chroot, /proc/PID/mem)\n")
        return 2
    tmp = tempfile.mkdtemp(prefix="check_debug_offsets.")
    bad = []
    try:
        ours_exe = build_ours(tmp)
        for minor in minors:
            binary = os.path.join(root, "usr/bin/python3.%d" % minor)
            if not os.path.isfile(binary):
                raise Missing("no %s" % binary)
            flags = build_flags(root, minor)
            truth_exe = build_truth(tmp, inc, minor, flags)
            print("== 3.%d: %s; headers %s/python3.%d, build flags %s"
                  % (minor, binary, inc, minor, " ".join(flags) or "(none)"))
            consts = facts(run([truth_exe]))
            counts = ["%#x" % c for c in sample_counts(consts)]
            truth = facts(run([truth_exe] + counts))
            ours = facts(run([ours_exe, binary] + counts))
            bad += compare(minor, truth, ours)
            if "--live" in opts:
                bad += live(root, minor, ours)
    except Missing as e:
        sys.stderr.write("check_debug_offsets: %s\n" % e)
        return 2
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for b in bad:
        print("DIFFERENCE: " + b)
    print("%s (%s)" % ("all equal" if not bad else "%d difference(s)" % len(bad),
                       ", ".join("3.%d" % m for m in minors)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
