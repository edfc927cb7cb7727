#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Make the seed corpora of the libFuzzer harnesses (tests/fuzz/fuzz_*.c) from the real
interpreters on this machine, and write them to tests/fuzz/seeds/<harness>/ (replacing what is
there). Run as root from the repository root:

    tests/fuzz/make_seeds.py [-o tests/fuzz/seeds]

Interpreters: Debian's /usr/bin/python3.11, pyenv's 3.8 and later (under `pyenv root`), and the
container suite's Debian unstable python3.13 to 3.15 when their root is cached
(/var/cache/cowtrace-sidroot/root-v2; run in a mount namespace with its own /proc, chrooted).

What each harness gets:
  fuzz_pyinterp  each interpreter's ELF file cut down to what py_interp_inspect() reads: the ELF
                 and program headers, the symbols it looks for with a few hundred bytes of each
                 (st_size cut to match), the strings Py_GetVersion() loads, the SOABI tag, the
                 stapsdt notes, the start of _PyRuntime; plus two plain truncated files
  fuzz_pyframes  the first 1 KiB of _PyRuntime of each 3.13+ file (_Py_DebugOffsets)
  fuzz_pylines   the line tables of real code objects, from each interpreter itself
  fuzz_pytypes   type objects and their names, read from a live interpreter's /proc/self/mem
  fuzz_pyobj     copy events made as BPF captures them (window, pool header, block head) for
                 writes to live objects of each kind, with the type objects they point to
  fuzz_pystacks  a live call stack: code objects, names, file names, line tables
plus a few inputs per harness that once found a bug (regress-*). The interpreters run under
`setarch -R` when it works, so that their addresses, and the seeds, come out the same each time.
Input formats: the comment at the top of each harness and tests/fuzz/fuzz.h.
"""
import argparse
import glob
import json
import os
import shutil
import struct
import subprocess
import sys

SIDROOT = "/var/cache/cowtrace-sidroot/root-v2"
PYRUNTIME_BYTES = 1024  # PY_DEBUG_OFFSETS_MAX
FUNC_BYTES = 384  # of each function kept in an ELF seed

# ---- interpreters ------------------------------------------------------------------------


def pyenv_root():
    try:
        return subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.path.expanduser("~/.pyenv")


def interpreters():
    """(tag, minor, command to run it, ELF file holding the interpreter)"""
    found = []
    if os.access("/usr/bin/python3.11", os.X_OK):
        found.append(("debian311", 11, ["/usr/bin/python3.11"], "/usr/bin/python3.11"))
    for d in sorted(glob.glob(os.path.join(pyenv_root(), "versions", "3.*"))):
        ver = os.path.basename(d).split(".")
        if len(ver) < 2 or not ver[1].isdigit() or int(ver[1]) < 8:
            continue
        minor = int(ver[1])
        exe = os.path.join(d, "bin", "python3.%d" % minor)
        libs = glob.glob(os.path.join(d, "lib", "libpython3.%d*.so.1.0" % minor))
        if os.access(exe, os.X_OK):
            found.append(("pyenv3%d" % minor, minor, [exe], libs[0] if libs else exe))
    for minor in (13, 14, 15):
        exe = "%s/usr/bin/python3.%d" % (SIDROOT, minor)
        if os.access(exe, os.X_OK):
            # a mount namespace of its own, with a /proc, chrooted into the root
            cmd = ["unshare", "--mount", "--", "sh", "-c",
                   'mount --make-rprivate / && mount -t proc proc "$0/proc" && '
                   'exec chroot "$0" "$@"', SIDROOT, "/usr/bin/python3.%d" % minor]
            found.append(("sid3%d" % minor, minor, cmd, exe))
    return found


# ---- what runs inside each interpreter (3.8 to 3.15) ---------------------------------------

CHILD = r'''
import json, sys

PAGE = 4096
MINOR = sys.version_info[1]
POOL = 4096 if MINOR < 10 else 16384
mem = open("/proc/self/mem", "rb", 0)


def grab(addr, n):
    """n bytes at addr, or up to the end of its page when the whole does not read"""
    for k in (n, min(n, PAGE - addr % PAGE)):
        try:
            mem.seek(addr)
            b = mem.read(k)
        except (OSError, ValueError, OverflowError):
            continue
        if len(b) == k:
            return b
    return b""


def u64(b, at):
    return int.from_bytes(b[at:at + 8], "little") if len(b) >= at + 8 else 0


def seg(addr, n):
    b = grab(addr, n)
    return [addr, b.hex()] if b else None


def maps():
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            out.append((lo, hi, parts[5] if len(parts) > 5 else ""))
    return out


MAPS = maps()


def region(addr):
    """what cowtrace's caller gives py_decode() (enum cow_region)"""
    for lo, hi, name in MAPS:
        if lo <= addr < hi:
            if name == "[heap]":
                return 1
            if name == "[stack]":
                return 3
            if "python" in name:
                return 2
            return 4
    return 5


def type_segs(t):
    """a type, its type and theirs: headers and names, what py_type_lookup() reads"""
    out = []
    for _ in range(3):
        hdr = grab(id(t), 184)
        if hdr:
            out.append([id(t), hdr.hex()])
            s = seg(u64(hdr, 24), 64)
            if s:
                out.append(s)
        t = type(t)
    return out


class Seed:
    def __init__(self):
        self.a = 1


class Meta(type):
    pass


class WithMeta(metaclass=Meta):
    pass


KEEP = [Seed(), [1, 2, 3], {"k": 1}, (1, "x"), "seed string", 1.5, b"x" * 600, None, int,
        Seed, WithMeta()]
objects = []
for o in KEEP:
    a = id(o)
    pool = a & ~(POOL - 1)
    segs = [s for s in (seg(a - 96, 240), seg(pool, 48)) if s] + type_segs(type(o))
    objects.append({"kind": type(o).__name__, "addr": a, "region": region(a),
                    "gc": bool(type(o).__flags__ & (1 << 14)), "pool": pool, "segs": segs})

types = {"ptrs": [id(int), id(Seed), id(type), id(Meta), id(WithMeta), id(KEEP[0]), 4096],
         "segs": type_segs(int) + type_segs(WithMeta) + [seg(id(KEEP[0]), 64)]}

SAMPLE = """
def simple(n):
    total = 0
    for i in range(n):
        if i % 3:
            total += i
        else:
            total -= 1
    return total

def call(a, b):
    return max(
        a,
        b,
        key=lambda v: (
            v * 2
        ),
    )

def gap():
    x = 1
""" + "    # a gap of 200 lines\n" * 200 + """
    return x + 1

def handlers(path):
    try:
        with open(path) as f:
            data = f.read()
    except OSError as e:
        data = str(e)
    finally:
        path = None
    return [c for c in data if c]

class Klass:
    def method(self, x):
        def closure(y):
            return x + y
        return closure(1)
"""


def codes(co):
    yield co
    for c in co.co_consts:
        if hasattr(c, "co_code"):
            yield from codes(c)


lines = []
for co in codes(compile(SAMPLE, "/srv/app/sample.py", "exec")):
    tab = co.co_linetable if MINOR >= 10 else co.co_lnotab
    lines.append({"name": co.co_name, "first": co.co_firstlineno, "table": tab.hex(),
                  "ncode": len(co.co_code)})


def str_seg(s):
    return seg(id(s), 48 + len(s) + 1)


def stack():
    f = sys._getframe(1)
    frames, segs = [], []
    while f is not None and len(frames) < 6:
        co = f.f_code
        if MINOR >= 11:
            instr = id(co) + type(co).__basicsize__ + max(f.f_lasti, 0)
            name = co.co_qualname
        else:
            instr = f.f_lasti // 2 if MINOR == 10 else f.f_lasti
            name = co.co_name
        tab = co.co_linetable if MINOR >= 10 else co.co_lnotab
        frames.append([id(co), instr, name.encode()[:16].hex()])
        hdr = grab(id(co), 512)
        segs += [[id(co), hdr.hex()], seg(id(type(co)), 32),
                 seg(u64(grab(id(type(co)), 32), 24), 8), str_seg(co.co_name),
                 str_seg(co.co_filename), seg(id(tab), 33 + len(tab))]
        if MINOR >= 11:
            segs.append(str_seg(co.co_qualname))
        f = f.f_back
    return {"frames": frames, "segs": [s for s in segs if s]}


APP = """
def outer(n):
    return middle(n)

def middle(n):
    x = n + 1
    return inner(x)

class K:
    def method(self, x):
        return take()

def inner(x):
    return K().method(x)
"""
ns = {"take": stack}
exec(compile(APP, "/srv/app/seedapp.py", "exec"), ns)
stacks = [ns["outer"](1)]

print(json.dumps({"minor": MINOR, "objects": objects, "types": types, "lines": lines,
                  "stacks": stacks}))
'''


# the same environment each time (and no hash randomization), for the same addresses
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}


def run_child(cmd):
    """The child's report, or None (printed why) when the interpreter cannot run it."""
    norand = ["setarch", os.uname().machine, "-R"]
    for prefix in (norand, []):
        try:
            p = subprocess.run(prefix + cmd + ["-c", CHILD], capture_output=True, text=True,
                               timeout=60, env=ENV)
        except (OSError, subprocess.TimeoutExpired) as e:
            err = str(e)
            continue
        if p.returncode == 0:
            return json.loads(p.stdout)
        err = p.stderr.strip().splitlines()[-1:] or ["exit %d" % p.returncode]
    print("  %s: not run (%s)" % (" ".join(cmd[-1:]), err), file=sys.stderr)
    return None


# ---- ELF files -----------------------------------------------------------------------------

SHT_SYMTAB, SHT_NOTE, SHT_NOBITS, SHT_DYNSYM = 2, 7, 8, 11
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
STT_OBJECT, STT_FUNC = 1, 2
WANTED = {"Py_Version", "_PyRuntime", "Py_GetVersion", "PyGC_Collect", "_PyGC_CollectNoFail",
          "_Py_MergeZeroLocalRefcount", "_Py_DecRefShared"}
FAMILIES = ("gc_collect_main", "_PyGC_Collect", "collect")


def wanted(name):
    return name in WANTED or any(name == b or name.startswith(b + ".") for b in FAMILIES)


class Elf:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = data = f.read()
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise ValueError("%s: not a 64-bit little-endian ELF file" % path)
        (self.e_type, self.machine, _, _, phoff, shoff, _, _, phentsize, phnum, _, shnum,
         shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", data, 16)
        self.phdrs = [data[phoff + i * phentsize:phoff + (i + 1) * phentsize]
                      for i in range(phnum)]
        # (name, type, flags, addr, offset, size, link, info, align, entsize)
        self.sh = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * 64) for i in range(shnum)]
        self.names = [self.cstr(self.sh[shstrndx][4] + s[0]) for s in self.sh]

    def cstr(self, off):
        return self.data[off:self.data.index(b"\0", off)].decode("latin-1")

    def bytes_at(self, va, n):
        """n bytes at address va from the ALLOC section in the file that holds them"""
        for s in self.sh:
            if s[2] & SHF_ALLOC and s[1] != SHT_NOBITS and s[3] <= va and va + n <= s[3] + s[5]:
                return self.data[s[4] + va - s[3]:s[4] + va - s[3] + n], s
        return None, None

    def symbols(self):
        """(name, info, value, size, section header) of the symbols py_interp_inspect() wants"""
        seen, out = set(), []
        for kind in (SHT_SYMTAB, SHT_DYNSYM):
            for s in self.sh:
                if s[1] != kind or s[9] != 24:
                    continue
                strtab = self.sh[s[6]][4]
                for off in range(s[4] + 24, s[4] + s[5], 24):
                    name, info, _, shndx, value, size = struct.unpack_from("<IBBHQQ",
                                                                           self.data, off)
                    if not name or not 0 < shndx < len(self.sh):
                        continue
                    n = self.cstr(strtab + name)
                    if wanted(n) and (n, value) not in seen:
                        seen.add((n, value))
                        out.append((n, info, value, size, self.sh[shndx]))
        return out

    def runtime_blob(self):
        for n, info, value, size, _ in self.symbols():
            if n == "_PyRuntime" and size:
                b, _ = self.bytes_at(value, min(size, PYRUNTIME_BYTES))
                return b
        return None


def code_targets(code, va):
    """addresses loaded by lea disp32(%rip) and mov $imm32 (as pyinterp.c decodes them)"""
    out = []
    for i in range(len(code) - 4):
        if i + 7 <= len(code) and code[i] in (0x48, 0x4c) and code[i + 1] == 0x8d and \
                code[i + 2] & 0xc7 == 0x05:
            out.append((va + i + 7 + struct.unpack_from("<i", code, i + 3)[0]) % 2**64)
        elif 0xb8 <= code[i] <= 0xbf:
            out.append(struct.unpack_from("<I", code, i + 1)[0])
    return out


def mini_elf(e):
    """A small ELF file with what py_interp_inspect() reads of e, at the same addresses."""
    frags = []  # (name, type, flags, addr, bytes; for NOBITS, as many zeros as its size)
    syms = []  # (name, info, value, size, index of its fragment)
    for n, info, value, size, sh in e.symbols():
        if not sh[2] & SHF_ALLOC:
            continue
        if sh[1] == SHT_NOBITS:
            # _PyRuntime in .bss (3.8, 3.9): a section of its own, no bytes in the file
            frags.append((e.names[e.sh.index(sh)], sh[1], sh[2], value, bytes(size)))
            syms.append((n, info, value, size, len(frags)))
            continue
        keep = PYRUNTIME_BYTES if n == "_PyRuntime" else 8 if n == "Py_Version" else FUNC_BYTES
        b, _ = e.bytes_at(value, min(size or keep, keep))
        if not b:
            continue
        frags.append((e.names[e.sh.index(sh)], sh[1], sh[2], value, b))
        syms.append((n, info, value, len(b), len(frags)))
        if n == "Py_GetVersion":
            for t in code_targets(b, value):
                s, tsh = e.bytes_at(t, 32)
                if s and s.startswith(b"3."):
                    frags.append((".rodata", tsh[1], tsh[2], t, s))
    for i, s in enumerate(e.sh):
        flags = s[2]
        if s[1] == 1 and flags & SHF_ALLOC and not flags & (SHF_WRITE | SHF_EXECINSTR):
            body = e.data[s[4]:s[4] + s[5]]
            at, hits = 0, 0
            while hits < 3:
                at = body.find(b"cpython-3", at)
                if at < 0:
                    break
                lo = max(at - 16, 0)
                frags.append((e.names[i], 1, flags, s[3] + lo, body[lo:at + 40]))
                at += 9
                hits += 1
        if s[1] == SHT_NOTE and e.names[i] == ".note.stapsdt":
            frags.append((".note.stapsdt", SHT_NOTE, s[2], s[3], e.data[s[4]:s[4] + s[5]]))

    loads = [p for p in e.phdrs if struct.unpack_from("<I", p)[0] == 1][:4]
    out = bytearray(64 + 56 * len(loads))
    offs = []
    for name, typ, _, _, b in frags:
        out += b"\0" * (-len(out) % 16)
        offs.append(len(out))
        if typ != SHT_NOBITS:
            out += b
    # .symtab / .dynsym: the symbols, their fragments as sections
    strtab = bytearray(b"\0")
    symtab = bytearray(24)
    for n, info, value, size, idx in syms:
        symtab += struct.pack("<IBBHQQ", len(strtab), info, 0, idx, value, size)
        strtab += n.encode() + b"\0"
    stripped = not any(s[1] == SHT_SYMTAB for s in e.sh)
    tail = [(".dynsym" if stripped else ".symtab", SHT_DYNSYM if stripped else SHT_SYMTAB,
             symtab), (".dynstr" if stripped else ".strtab", 3, strtab)]
    shstr = bytearray(b"\0")
    shdrs = [bytes(64)]

    def shname(n):
        at = len(shstr)
        shstr.extend(n.encode() + b"\0")
        return at

    for (name, typ, flags, addr, b), off in zip(frags, offs):
        align = 4 if typ == SHT_NOTE else 16
        shdrs.append(struct.pack("<IIQQQQIIQQ", shname(name), typ, flags, addr, off, len(b),
                                 0, 0, align, 0))
    link_strtab = len(frags) + 2
    for name, typ, b in tail:
        out += b"\0" * (-len(out) % 8)
        shdrs.append(struct.pack("<IIQQQQIIQQ", shname(name), typ, 0, 0, len(out), len(b),
                                 link_strtab if typ != 3 else 0, 1 if typ != 3 else 0, 8,
                                 24 if typ != 3 else 0))
        out += b
    shstrndx = len(shdrs)
    at = shname(".shstrtab")
    shdrs.append(struct.pack("<IIQQQQIIQQ", at, 3, 0, 0, len(out), len(shstr), 0, 0, 1, 0))
    out += shstr
    out += b"\0" * (-len(out) % 8)
    shoff = len(out)
    for h in shdrs:
        out += h
    ident = e.data[:16]
    out[0:64] = ident + struct.pack("<HHIQQQIHHHHHH", e.e_type, e.machine, 1, 0,
                                    64 if loads else 0, shoff, 0, 64, 56, len(loads), 64,
                                    len(shdrs), shstrndx)
    for i, p in enumerate(loads):
        out[64 + 56 * i:64 + 56 * (i + 1)] = p
    return bytes(out)


# ---- inputs of each harness ------------------------------------------------------------------

EV_COPY = 1
HAVE_WINDOW_LO, HAVE_POOL, HAVE_BLOCK, HAVE_WINDOW_HI = 1, 2, 4, 8
EVENT_SIZE = 272  # sizeof(struct cow_copy_event), checked in fuzz_pyobj.c


def segments(segs, limit=60):
    """the memory image format of tests/fuzz/fuzz.h"""
    out, seen = bytearray(), set()
    for addr, hexbytes in segs[:limit]:
        b = bytes.fromhex(hexbytes)[:0xffff]
        if (addr, len(b)) in seen or not b:
            continue
        seen.add((addr, len(b)))
        out += struct.pack("<QH", addr, len(b)) + b
    return bytes(out)


class Memory:
    def __init__(self, segs):
        self.segs = [(a, bytes.fromhex(h)) for a, h in segs]

    def read(self, addr, n):
        for a, b in self.segs:
            if a <= addr and addr + n <= a + len(b):
                return b[addr - a:addr - a + n]
        return None


def copy_event(minor, addr, mem, gc_state):
    """a struct cow_copy_event as the BPF capture fills it for a write at addr"""
    pool_size = 4096 if minor < 10 else 16384
    page = addr & ~4095
    have = 0
    wa = (addr & ~7) - 32
    window = bytearray(80)
    lo, hi = mem.read(wa, 32), mem.read(wa + 32, 48)
    if lo and wa >= page:
        window[:32] = lo
        have |= HAVE_WINDOW_LO
    if hi and wa + 80 <= page + 4096:
        window[32:] = hi
        have |= HAVE_WINDOW_HI
    pool_addr = addr & ~(pool_size - 1)
    pool = mem.read(pool_addr, 48) or bytes(48)
    block_addr, block = 0, bytes(48)
    szidx = struct.unpack_from("<I", pool, 36)[0]
    if any(pool) and szidx < 32:
        have |= HAVE_POOL
        size = (szidx + 1) * 16
        if addr - pool_addr >= 48:
            block_addr = pool_addr + 48 + (addr - pool_addr - 48) // size * size
            b = mem.read(block_addr, 48)
            if b:
                block = b
                have |= HAVE_BLOCK
    ev = struct.pack("<IIIIQQQQBB2xIQ", EV_COPY, 0, 1000, 1000, 0, addr, 0x401000,
                     0x7ffc0000, 0, gc_state, 0, 0)
    ev += struct.pack("<B7xQQQ", have, wa, pool_addr, block_addr) + window + pool + block
    assert len(ev) == EVENT_SIZE
    return ev


def lines_seeds(tag, minor, report, out):
    for k, l in enumerate(report["lines"][:8]):
        table = bytes.fromhex(l["table"])
        offset = (l["ncode"] // 2) & ~1
        out["fuzz_pylines"]["%s-%d-%s" % (tag, k, l["name"].strip("<>"))] = \
            struct.pack("<Bii", minor - 6, l["first"], offset) + table


def object_seeds(tag, minor, report, out):
    # which write each object gets: ob_refcnt, ob_type, the GC head, the payload; one in a
    # collection (gc_state 1)
    writes = [(0, 0), (8, 0), (-16, 0), (24, 0), (0, 1)]
    for k, o in enumerate(report["objects"]):
        mem = Memory(o["segs"])
        for j in (k % len(writes), (k + 2) % len(writes)):
            delta, gc_state = writes[j]
            if delta < 0 and not o["gc"]:
                delta = 16
            ev = copy_event(minor, o["addr"] + delta, mem, gc_state)
            name = "%s-%s-%+d%s" % (tag, o["kind"], delta, "-gc" if gc_state else "")
            out["fuzz_pyobj"][name] = struct.pack("<BBH", minor - 8, o["region"],
                                                  len(ev)) + ev + segments(o["segs"])


def type_seeds(tag, minor, report, out):
    t = report["types"]
    ptrs = t["ptrs"][:8]
    out["fuzz_pytypes"]["%s-types" % tag] = struct.pack(
        "<BB", minor - 8, len(ptrs) - 1) + b"".join(struct.pack("<Q", p) for p in ptrs) + \
        segments([s for s in t["segs"] if s])


def stack_seeds(tag, minor, report, blob, out):
    for k, st in enumerate(report["stacks"]):
        if minor >= 13:
            if not blob:
                continue
            head = struct.pack("<BH", 0x80, len(blob)) + blob
        else:
            head = struct.pack("<B", minor - 8)
        frames = st["frames"]
        body = struct.pack("<II", len(frames), 0)
        lasti_overflow = body
        for i, (code, instr, name) in enumerate(frames):
            name = bytes.fromhex(name).ljust(16, b"\0")
            body += struct.pack("<QQ", code, instr) + name
            # regression: an f_lasti near 2^62, which pystacks.c doubled in a signed 64 bits
            lasti_overflow += struct.pack("<QQ", code, instr if i else 1 << 62 | 1) + name
        mem = segments(st["segs"])
        out["fuzz_pystacks"]["%s-stack%d" % (tag, k)] = head + body + mem
        if minor == 10:
            out["fuzz_pystacks"]["regress-310-lasti-overflow"] = head + lasti_overflow + mem


def regressions(out):
    """inputs that found bugs, kept so that every run tries them first"""
    # line tables with co_firstlineno near INT_MAX: a +1 line step past it (3.8, 3.10, 3.11+)
    big = 0x7fffffff
    out["fuzz_pylines"]["regress-lnotab-intmax"] = struct.pack("<Bii", 2, big, 8) + \
        bytes([2, 1, 2, 1])
    out["fuzz_pylines"]["regress-310-intmax"] = struct.pack("<Bii", 4, big, 8) + \
        bytes([2, 1, 2, 1, 2, 1])
    out["fuzz_pylines"]["regress-locations-intmax"] = struct.pack("<Bii", 5, big, 8) + \
        bytes([0x80 | 11 << 3, 1, 2, 0x80 | 11 << 3, 1, 2])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--out", default=os.path.join(os.path.dirname(__file__), "seeds"))
    args = ap.parse_args()
    harnesses = ["fuzz_pyinterp", "fuzz_pyframes", "fuzz_pylines", "fuzz_pytypes",
                 "fuzz_pyobj", "fuzz_pystacks"]
    out = {h: {} for h in harnesses}

    for tag, minor, cmd, elf_path in interpreters():
        print("%s: %s" % (tag, elf_path), file=sys.stderr)
        try:
            e = Elf(elf_path)
        except (OSError, ValueError) as err:
            print("  %s" % err, file=sys.stderr)
            e = None
        blob = e.runtime_blob() if e and minor >= 13 else None
        if e:
            out["fuzz_pyinterp"][tag] = mini_elf(e)
        if blob:
            out["fuzz_pyframes"][tag] = blob
        report = run_child(cmd)
        if not report:
            continue
        lines_seeds(tag, minor, report, out)
        object_seeds(tag, minor, report, out)
        type_seeds(tag, minor, report, out)
        stack_seeds(tag, minor, report, blob, out)
    # plain truncated files: the ELF header and what follows, no section table
    stub = glob.glob(os.path.join(pyenv_root(), "versions", "3.8.*", "bin", "python3.8"))
    for path, n in [("/usr/bin/python3.11", 2048)] + [(p, 1024) for p in stub[:1]]:
        if os.path.exists(path):
            with open(path, "rb") as f:
                out["fuzz_pyinterp"]["truncated-" + os.path.basename(path)] = f.read(n)
    regressions(out)

    total = 0
    for h in harnesses:
        d = os.path.join(args.out, h)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in sorted(out[h].items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        size = sum(len(v) for v in out[h].values())
        total += size
        print("%-14s %3d seeds, %6d bytes" % (h, len(out[h]), size), file=sys.stderr)
    print("%-14s %11d bytes" % ("total", total), file=sys.stderr)


if __name__ == "__main__":
    main()
