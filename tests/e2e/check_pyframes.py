#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Follow user/python/pyframes.h in live interpreters and print the Python stacks it gives.

    sudo tests/e2e/check_pyframes.py [PYTHON ...]

For each interpreter (default: Debian's python3.11 and the pyenv builds 3.8-3.13) it starts a
program whose threads stop in known call chains, then reads /proc/PID/mem the way the BPF
program will: from _PyRuntime to the interpreter, along its thread list to the thread state
whose thread_id is the thread's fs base (taken with ptrace, independently of Python), from there
along the frames to the code objects, names, files and line tables. The lines come from
py_code_line() (user/python/pylines.c), called through ctypes; the offsets from py_frame_offsets_for()
(user/python/pyframes.c): both are compiled from the tree first. Each reconstructed stack is compared
with what the thread printed about itself (sys._getframe(), f_lineno) just before it stopped.

Two runs per interpreter:
  sleep  main thread and a worker sleep in time.sleep() (the GIL is released); the main thread
         forks first, and the child is walked too (fork keeps pthread_self and the fs base)
  spin   the main thread spins in Python holding the GIL, the worker sleeps
Also shown, per thread: the GIL holder the runtime records (3.8-3.11 tstate_current, the GIL's
last_holder), glibc's pthread_getspecific() slot of autoTSSkey, the thread-local _Py_tss_tstate
(3.12+, through the DTV), and for 3.13 the offsets in _Py_DebugOffsets against the table.

Exit status 0 when every stack matched and every cross-check agreed, 1 otherwise.
Not a pytest test (yet): it prints a report for docs/python-frames.md.
"""
import ctypes
import glob
import json
import os
import select
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_FRAMES = 64
FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("    FAIL: " + msg)


# ---- the C side: the table and the line decoder, built from the tree ----

class Native:
    def __init__(self, outdir):
        so = os.path.join(outdir, "libpyframes_check.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-Wall",
                        "-I" + os.path.join(ROOT, "user", "python"),
                        os.path.join(ROOT, "user/python/pyframes.c"),
                        os.path.join(ROOT, "user/python/pydebug.c"),
                        os.path.join(ROOT, "user/python/pylines.c"), "-o", so], check=True)
        lib = ctypes.CDLL(so)
        lib.py_frame_offsets_for.restype = ctypes.c_void_p
        lib.py_frame_offsets_for.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.py_code_line.restype = ctypes.c_int
        lib.py_code_line.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t,
                                     ctypes.c_int, ctypes.c_int]
        lib.py_frame_offsets_from_debug.restype = ctypes.c_int
        lib.py_frame_offsets_from_debug.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                                                    ctypes.c_void_p]

        class Field(ctypes.Structure):
            _fields_ = [("name", ctypes.c_char_p), ("offset", ctypes.c_size_t)]

        fields = (Field * 128).in_dll(lib, "py_frame_offset_fields")
        self.fields = []
        for f in fields:
            if not f.name:
                break
            self.fields.append((f.name.decode(), f.offset))
        self.size = max(o for _, o in self.fields) + 4
        self.lib = lib

    def _decode(self, addr):
        raw = ctypes.string_at(addr, self.size)
        return {n: struct.unpack_from("<i", raw, o)[0] for n, o in self.fields}

    def offsets(self, major, minor):
        p = self.lib.py_frame_offsets_for(major, minor)
        return self._decode(p) if p else None

    def from_debug(self, blob):
        buf = ctypes.create_string_buffer(self.size)
        err = self.lib.py_frame_offsets_from_debug(blob, len(blob), ctypes.addressof(buf))
        return err, (self._decode(ctypes.addressof(buf)) if err == 0 else None)

    def line(self, major, minor, table, firstlineno, offset):
        return self.lib.py_code_line(major, minor, table, len(table), firstlineno, offset)


# ---- ELF: just what is needed (symbols, TLS relocations, load segments) ----

class Elf:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        d = self.data
        assert d[:4] == b"\x7fELF" and d[4] == 2, path
        (self.type,) = struct.unpack_from("<H", d, 16)
        phoff, shoff = struct.unpack_from("<QQ", d, 32)
        phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", d, 54)
        self.phdrs = [struct.unpack_from("<IIQQQQQQ", d, phoff + i * phentsize) for i in range(phnum)]
        self.shdrs = [struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * shentsize) for i in range(shnum)]
        self.syms = {}
        for sh in self.shdrs:
            if sh[1] in (2, 11):  # SHT_SYMTAB, SHT_DYNSYM
                strtab = self.shdrs[sh[6]]
                for i in range(1, sh[5] // 24):
                    name, info, _, shndx, value, size = struct.unpack_from("<IBBHQQ", d, sh[4] + i * 24)
                    if not name or not shndx:
                        continue
                    end = d.index(b"\0", strtab[4] + name)
                    self.syms.setdefault(d[strtab[4] + name:end].decode(), (value, size, info & 15))
        self.dtpmod_slots = []
        for sh in self.shdrs:
            if sh[1] == 4:  # SHT_RELA
                for i in range(sh[5] // 24):
                    off, info, _ = struct.unpack_from("<QQq", d, sh[4] + i * 24)
                    if info & 0xffffffff == 16:  # R_X86_64_DTPMOD64
                        self.dtpmod_slots.append(off)

    def first_load_vaddr(self):
        return min(p[3] for p in self.phdrs if p[0] == 1) & ~0xfff

    def func_bytes(self, name, n=64):
        value, size, _ = self.syms[name]
        for p in self.phdrs:  # file offset through the load segments
            if p[0] == 1 and p[3] <= value < p[3] + p[5]:
                off = value - p[3] + p[2]
                return self.data[off:off + max(n, size)]
        return b""


def glibc_specific_offset():
    """Offset from the thread pointer of the key-0 data word of pthread_getspecific(), read
    from libc's own code (x86-64 glibc: add $imm8,%rax; shl $4,%rax; add %fs:0x10,%rax;
    mov 0x8(%rax),...): data of key k < 32 is at fs + imm8 * 16 + 8 + 16 * k."""
    for path in ("/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"):
        if os.path.exists(path):
            e = Elf(path)
            for name in ("pthread_getspecific", "__pthread_getspecific"):
                if name in e.syms:
                    code = e.func_bytes(name)
                    i = code.find(b"\x48\xc1\xe0\x04")
                    if i >= 4 and code[i - 4:i - 1] == b"\x48\x83\xc0":
                        return code[i - 1] * 16 + 8
    return None


# ---- the target process ----

TARGET = r'''
import json, os, sys, threading, time
MODE = sys.argv[1]

def report(tag):
    f, out = sys._getframe(1), []
    while f is not None:
        c = f.f_code
        out.append([getattr(c, "co_qualname", c.co_name), c.co_filename, f.f_lineno])
        f = f.f_back
    line = json.dumps({"tag": tag, "tid": threading.get_native_id(),
                       "ident": threading.get_ident(), "pid": os.getpid(), "stack": out})
    os.write(1, (line + "\n").encode())  # one write: forked parent and child share the pipe
    return True

def worker_wait():
    report("worker"); time.sleep(3600)

def worker():
    worker_wait()

def spin():
    done = False
    while True: done = done or report("main")

def innermost():
    if MODE == "spin":
        spin()
    child = os.fork() == 0
    report("child" if child else "main"); time.sleep(3600)

def recurse(n):
    if n:
        return recurse(n - 1)
    return innermost()

class Handler:
    def handle(self, depth):
        return recurse(depth)

threading.Thread(target=worker, daemon=True).start()
time.sleep(0.2)
Handler().handle(3)
'''


class Proc:
    def __init__(self, pid):
        self.pid = pid
        self.fd = os.open("/proc/%d/mem" % pid, os.O_RDONLY)

    def close(self):
        os.close(self.fd)

    def read(self, addr, n):
        return os.pread(self.fd, n, addr)

    def ptr(self, addr):
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def u32(self, addr):
        return struct.unpack("<I", self.read(addr, 4))[0]

    def i32(self, addr):
        return struct.unpack("<i", self.read(addr, 4))[0]

    def mappings(self):
        with open("/proc/%d/maps" % self.pid) as f:
            for line in f:
                parts = line.split()
                start, end = (int(x, 16) for x in parts[0].split("-"))
                yield start, int(parts[2], 16), parts[5] if len(parts) > 5 else ""


def fs_base(tid):
    """The thread's fs base from its registers (PTRACE_GETREGS), independent of Python."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    libc.ptrace.restype = ctypes.c_long
    regs = (ctypes.c_ulonglong * 27)()
    if libc.ptrace(16, tid, None, None) != 0:  # PTRACE_ATTACH
        raise OSError(ctypes.get_errno(), "ptrace attach %d" % tid)
    try:
        os.waitpid(tid, 0x40000000)  # __WALL
        if libc.ptrace(12, tid, None, ctypes.byref(regs)) != 0:  # PTRACE_GETREGS
            raise OSError(ctypes.get_errno(), "ptrace getregs %d" % tid)
    finally:
        libc.ptrace(17, tid, None, None)  # PTRACE_DETACH
    return regs[21]  # struct user_regs_struct: fs_base


def read_str(p, o, addr):
    if not addr:
        return None
    state = p.u32(addr + o["unicode_state"])
    if not (state & (1 << 5) and state & (1 << 6)):
        return "<not compact ascii>"
    n = p.ptr(addr + o["unicode_length"])
    return p.read(addr + o["unicode_ascii_data"], min(n, 4096)).decode("ascii", "replace")


def read_bytes(p, o, addr):
    n = p.ptr(addr + o["bytes_size"])
    return p.read(addr + o["bytes_data"], min(n, 1 << 20))


def walk_frames(p, o, nat, tstate, code_type, version):
    """The frames of a thread state, innermost first: [qualname, file, line], skipped count."""
    major, minor = version
    if o["tstate_frame"] >= 0:
        frame = p.ptr(tstate + o["tstate_frame"])
    elif o["tstate_cframe"] >= 0:
        cframe = p.ptr(tstate + o["tstate_cframe"])
        frame = p.ptr(cframe + o["cframe_current_frame"]) if cframe else 0
    else:
        frame = p.ptr(tstate + o["tstate_current_frame"])
    out, skipped = [], 0
    while frame and len(out) < MAX_FRAMES:
        if o["frame_owner_incomplete"] >= 0:
            owner = p.read(frame + o["frame_owner"], 1)[0]
            if owner >= o["frame_owner_incomplete"]:
                skipped += 1
                frame = p.ptr(frame + o["frame_previous"])
                continue
        code = p.ptr(frame + o["frame_code"]) & ~o["frame_code_tag_bits"]
        if p.ptr(code + o["object_type"]) != code_type:
            fail("frame %#x: code %#x is not a code object" % (frame, code))
            break
        if o["frame_lasti"] >= 0:
            offset = p.i32(frame + o["frame_lasti"]) * o["lasti_unit"]
        else:
            offset = p.ptr(frame + o["frame_instr_ptr"]) - (code + o["code_adaptive"])
        name_off = o["code_qualname"] if o["code_qualname"] >= 0 else o["code_name"]
        name = read_str(p, o, p.ptr(code + name_off))
        filename = read_str(p, o, p.ptr(code + o["code_filename"]))
        first = p.i32(code + o["code_firstlineno"])
        table = read_bytes(p, o, p.ptr(code + o["code_linetable"]))
        line = nat.line(major, minor, table, first, offset)
        out.append([name, filename, line])
        frame = p.ptr(frame + o["frame_previous"])
    return out, skipped


def check_process(nat, o, elf, version, pid, reports, libc_spec, mode):
    p = Proc(pid)
    try:
        base = [s for s, off, path in p.mappings() if path == elf.path and off == 0]
        if not base:
            fail("pid %d: %s not mapped" % (pid, elf.path))
            return
        bias = base[0] - elf.first_load_vaddr()
        rt = bias + elf.syms["_PyRuntime"][0]
        code_type = bias + elf.syms["PyCode_Type"][0]
        if o["runtime_debug_offsets"] >= 0:
            check_debug_offsets(nat, p, o, rt)
        interp = p.ptr(rt + o["runtime_interpreters_head"])
        note = ""
        if o["runtime_main_interpreter"] >= 0:
            same = interp == rt + o["runtime_main_interpreter"]
            note = " (= _PyRuntime + runtime_main_interpreter: %s)" % ("yes" if same else "NO")
            if not same:
                fail("interpreters.head is not the embedded main interpreter")
        print("    pid %d: _PyRuntime %#x, interpreters.head %#x%s" % (pid, rt, interp, note))
        tstates, t = [], p.ptr(interp + o["interp_threads_head"])
        while t and len(tstates) < 64:
            nid = p.ptr(t + o["tstate_native_thread_id"]) if o["tstate_native_thread_id"] >= 0 else None
            tstates.append((t, p.ptr(t + o["tstate_thread_id"]), nid))
            t = p.ptr(t + o["tstate_next"])
        print("    thread list: %d thread states: %s" % (len(tstates), ", ".join(
            "%#x (thread_id %#x%s)" % (t, tid, "" if nid is None else ", native %d" % nid)
            for t, tid, nid in tstates)))

        # who holds the GIL, as the runtime records it
        if o["runtime_tstate_current"] >= 0:
            cur = p.ptr(rt + o["runtime_tstate_current"])
            gil = rt + o["runtime_gil"]
            print("    gilstate.tstate_current = %#x" % cur)
        else:
            cur = None
            gil = p.ptr(interp + o["interp_gil_ptr"])
        locked = p.i32(gil + o["gil_locked"])
        holder = p.ptr(gil + o["gil_last_holder"])
        print("    GIL %#x: locked = %d, last_holder = %#x" % (gil, locked, holder))
        key_init = p.i32(rt + o["runtime_autotss_key"])
        key = p.u32(rt + o["runtime_autotss_key"] + 4)
        tls = elf.syms.get("_Py_tss_tstate")
        modid = p.ptr(bias + elf.dtpmod_slots[0]) if tls and elf.dtpmod_slots else None

        by_tag = {r["tag"]: r for r in reports if r["pid"] == pid}
        for tid in sorted(int(x) for x in os.listdir("/proc/%d/task" % pid)):
            fs = fs_base(tid)
            match = [t for t in tstates if t[1] == fs]
            rep = [r for r in by_tag.values() if r["tid"] == tid]
            if not match:
                if rep:
                    fail("tid %d: no thread state with thread_id == fs base %#x" % (tid, fs))
                continue
            t, thread_id, nid = match[0]
            print("    tid %d: fs base %#x == thread_id of tstate %#x%s" % (
                tid, fs, t, "" if nid is None else
                ("; native_thread_id %d %s" % (nid, "== tid" if nid == tid else "!= tid"))))
            if nid is not None and nid != tid:
                fail("tid %d: native_thread_id %d" % (tid, nid))
            if rep and rep[0]["ident"] != fs:
                fail("tid %d: threading.get_ident() %#x != fs base" % (tid, rep[0]["ident"]))
            # the other ways to the same thread state
            extra = []
            if cur is not None:
                extra.append("tstate_current %s" % ("is this" if cur == t else "is not this"))
            extra.append("GIL last_holder %s" % ("is this" if holder == t else "is not this"))
            if key_init and libc_spec is not None and key < 32:
                spec = p.ptr(fs + libc_spec + 16 * key)
                extra.append("autoTSSkey %d slot %s" % (key, "is this" if spec == t else "= %#x" % spec))
                if spec != t:
                    fail("tid %d: pthread_getspecific(autoTSSkey) = %#x" % (tid, spec))
            if modid is not None:
                dtv = p.ptr(fs + 8)
                block = p.ptr(dtv + 16 * modid)
                val = p.ptr(block + tls[0])
                extra.append("_Py_tss_tstate (module %d, block fs-%#x) %s" % (
                    modid, fs - block, "is this" if val == t else "= %#x" % val))
                if val not in (0, t):
                    fail("tid %d: _Py_tss_tstate %#x is another thread's" % (tid, val))
            print("      " + "; ".join(extra))
            frames, skipped = walk_frames(p, o, nat, t, code_type, version)
            print("      frames (innermost first)%s:" % (
                ", %d C-stack shim frame(s) skipped" % skipped if skipped else ""))
            for name, filename, line in frames:
                print("        %-34s %s:%d" % (name, os.path.basename(filename), line))
            if rep:
                want = rep[0]["stack"]
                if frames == want:
                    print("      = the thread's own report (%d frames, names, files, lines)" % len(want))
                else:
                    fail("tid %d (%s): stack differs from the thread's own report %s"
                         % (tid, rep[0]["tag"], want))
            if mode == "spin" and rep and rep[0]["tag"] == "main":
                if holder != t or not locked:
                    fail("spinning thread is not the recorded GIL holder")
                if cur is not None and cur != t:
                    fail("spinning thread is not tstate_current")
    finally:
        p.close()


def check_debug_offsets(nat, p, o, rt):
    blob = p.read(rt, 1024)
    err, dbg = nat.from_debug(blob)
    version = struct.unpack_from("<Q", blob, 8)[0]
    print("    _Py_DebugOffsets: cookie %r, version %#x" % (blob[:8], version))
    if err:
        fail("py_frame_offsets_from_debug: %d" % err)
        return
    diff = ["%s table %d debug %d" % (k, o[k], dbg[k]) for k in o if o[k] != dbg[k]]
    if diff:
        fail("debug offsets differ from the table: " + ", ".join(diff))
    else:
        print("    _Py_DebugOffsets agrees with the table on all %d fields" % len(o))


def run(nat, python, libc_spec):
    version = tuple(int(x) for x in subprocess.run(
        [python, "-c", "import sys; print(*sys.version_info[:3])"], check=True,
        stdout=subprocess.PIPE, text=True).stdout.split())
    o = nat.offsets(*version[:2])
    exe = os.path.realpath(python)
    libs = [path for path in glob.glob(os.path.join(os.path.dirname(exe), "..", "lib",
                                                    "libpython%d.%d*.so.1.0" % version[:2]))]
    elf = Elf(os.path.realpath(libs[0]) if libs else exe)
    print("== %s %s (%s, %s)" % (".".join(map(str, version)), python, elf.path,
                                 "PIE shared object" if elf.type == 3 else "non-PIE executable"))
    for mode in ("sleep", "spin"):
        print("  %s:" % mode)
        tmpdir = tempfile.mkdtemp(prefix="check_pyframes.")
        target = os.path.join(tmpdir, "target.py")
        with open(target, "w") as f:
            f.write(TARGET)
        proc = subprocess.Popen([python, "-W", "ignore", target, mode], stdout=subprocess.PIPE)
        want = {"worker", "main"} | ({"child"} if mode == "sleep" else set())
        reports, pending, deadline = [], b"", time.time() + 20
        try:
            # raw reads: a buffered readline() may hold a second line that select() cannot see
            while {r["tag"] for r in reports} != want and time.time() < deadline:
                if not select.select([proc.stdout], [], [], 1)[0]:
                    continue
                data = os.read(proc.stdout.fileno(), 65536)
                if not data:
                    break
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    reports.append(json.loads(line))
            if {r["tag"] for r in reports} != want:
                fail("%s %s: reports %s" % (python, mode, reports))
                continue
            time.sleep(0.3)  # let the threads reach their sleep
            for pid in sorted({r["pid"] for r in reports}):
                check_process(nat, o, elf, version[:2], pid, reports, libc_spec, mode)
        finally:
            for r in reports:
                if r["pid"] != proc.pid:
                    try:
                        os.kill(r["pid"], 9)
                    except ProcessLookupError:
                        pass
            proc.kill()
            proc.wait()
            os.unlink(target)
            os.rmdir(tmpdir)


def main():
    if os.geteuid() != 0:
        sys.exit("needs root (ptrace and /proc/PID/mem of another process)")
    pythons = sys.argv[1:] or (
        (["/usr/bin/python3.11"] if os.path.exists("/usr/bin/python3.11") else []) +
        [p for m in range(8, 14) for p in sorted(glob.glob(
            "/root/.pyenv/versions/3.%d.*/bin/python3.%d" % (m, m)))])
    with tempfile.TemporaryDirectory() as tmp:
        nat = Native(tmp)
        spec = glibc_specific_offset()
        print("glibc pthread_getspecific: key k's data at fs + %s + 16 * k" %
              ("%#x" % spec if spec is not None else "?"))
        for py in pythons:
            run(nat, py, spec)
    if FAILURES:
        print("FAILED: %d check(s)" % len(FAILURES))
        sys.exit(1)
    print("all stacks matched, all cross-checks agreed (%d interpreters)" % len(pythons))


if __name__ == "__main__":
    main()
