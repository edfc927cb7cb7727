#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Generate tests/unit/pylines_vectors.h: line tables of real code objects and the line of
every instruction offset, as each installed interpreter computes it.

    tests/unit/gen_pylines_vectors.py [-o tests/unit/pylines_vectors.h] [PYTHON ...]

Without PYTHON arguments it uses /usr/bin/python3.11 and the pyenv builds 3.8-3.13 it finds.
Each interpreter compiles SAMPLE (below) and, for every code object in it, reports the raw line
table (co_lnotab before 3.10, co_linetable from 3.10), co_firstlineno and, for each even byte
offset of the code, what its own C function PyCode_Addr2Line() returns (called through ctypes:
that is what tracebacks and frame.f_lineno use). The dumper cross-checks those answers against
the pure-Python views (co_lines() from 3.10, dis.findlinestarts() before) and fails on any
difference. The header is generated once and committed; the unit test needs no interpreter.
"""
import argparse
import glob
import json
import os
import subprocess
import sys

# Exercises every entry kind: loops and branches, a call whose arguments span lines (line
# deltas going back), a gap of 300 lines (lnotab/3.10 split entries, 3.11+ long varints), one line
# with more than 255 bytes of code (split address deltas), nested code objects (lambda,
# comprehension, generator, class body, method, closure), try/except/finally, with, async,
# decorators (co_firstlineno is the decorator's line) and a function without a body line.
SAMPLE = '''
import functools

def simple(n):
    total = 0
    for i in range(n):
        if i % 3:
            total += i
        else:
            total -= 1
    return total

def multiline_call(a, b):
    return max(
        a,
        b,
        key=lambda v: (
            v * 2
        ),
    )

def gap():
    x = 1
    s = """
''' + "line\n" * 300 + '''"""
    y = 2
    return x + y + len(s)

def long_line(a):
    x = [a + 1, a + 2, a + 3, a + 4, a + 5, a + 6, a + 7, a + 8, a + 9, a + 10, a + 11, a + 12, a + 13, a + 14, a + 15, a + 16, a + 17, a + 18, a + 19, a + 20, a + 21, a + 22, a + 23, a + 24, a + 25, a + 26, a + 27, a + 28, a + 29, a + 30, a + 31, a + 32, a + 33, a + 34, a + 35, a + 36, a + 37, a + 38, a + 39, a + 40, a + 41, a + 42, a + 43, a + 44, a + 45, a + 46, a + 47, a + 48, a + 49, a + 50, a + 51, a + 52, a + 53, a + 54, a + 55, a + 56, a + 57, a + 58, a + 59, a + 60]
    return x

def handlers(path):
    try:
        with open(path) as f:
            data = f.read()
    except OSError as e:
        data = str(e)
    finally:
        path = None
    squares = [c * 2 for c in data if c]
    gen = (c for c in data)
    return squares, list(gen)

class Klass:
    attr = 1

    @functools.lru_cache(maxsize=None)
    def method(self, x):
        def closure(y):
            return x + y
        return closure(self.attr)

async def coro(n):
    for i in range(n):
        await coro(i)
    return n

def empty():
    pass
'''


def dump():
    """Runs inside the interpreter under test (any of 3.8-3.13): print JSON on stdout."""
    import ctypes
    import dis

    addr2line = ctypes.pythonapi.PyCode_Addr2Line
    addr2line.argtypes = [ctypes.py_object, ctypes.c_int]
    addr2line.restype = ctypes.c_int
    v = sys.version_info
    top = compile(SAMPLE, "sample.py", "exec")
    out = []

    def walk(co):
        yield co
        for c in co.co_consts:
            if hasattr(c, "co_code"):
                yield from walk(c)

    for co in walk(top):
        table = co.co_lnotab if v < (3, 10) else co.co_linetable
        n = len(co.co_code)
        lines = [addr2line(co, off) for off in range(0, n, 2)]
        before = addr2line(co, -2)
        # independent views of the same table, to catch a mistaken reference
        if v >= (3, 10):
            for start, end, line in co.co_lines():
                for off in range(start, end, 2):
                    want = -1 if line is None else line
                    if lines[off // 2] != want:
                        raise SystemExit("%s: co_lines says %s at %d, Addr2Line %d"
                                         % (co.co_name, line, off, lines[off // 2]))
        else:
            starts = dict(dis.findlinestarts(co))
            cur = co.co_firstlineno
            for off in range(0, n, 2):
                cur = starts.get(off, cur)
                if lines[off // 2] != cur:
                    raise SystemExit("%s: findlinestarts says %d at %d, Addr2Line %d"
                                     % (co.co_name, cur, off, lines[off // 2]))
        out.append({
            "name": getattr(co, "co_qualname", co.co_name),
            "firstlineno": co.co_firstlineno,
            "table": list(table),
            "lines": lines,
            "before": before,
        })
    print(json.dumps({"version": "%d.%d.%d" % v[:3], "major": v[0], "minor": v[1],
                      "codes": out}))


def default_interpreters():
    found = []
    if os.access("/usr/bin/python3.11", os.X_OK):
        found.append("/usr/bin/python3.11")
    for minor in range(8, 14):
        found += sorted(glob.glob("/root/.pyenv/versions/3.%d.*/bin/python3.%d" % (minor, minor)))
    return found


def c_array(values, per_line=16):
    rows = []
    for i in range(0, len(values), per_line):
        rows.append("\t" + ", ".join(str(x) for x in values[i:i + per_line]) + ",")
    return "\n".join(rows) if rows else "\t0,"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output",
                    default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         "pylines_vectors.h"))
    ap.add_argument("--dump", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("pythons", nargs="*")
    args = ap.parse_args()
    if args.dump:
        dump()
        return
    pythons = args.pythons or default_interpreters()
    if not pythons:
        sys.exit("no interpreter found")
    me = os.path.abspath(__file__)
    body, entries = [], []
    for py in pythons:
        res = subprocess.run([py, "-I", me, "--dump"], check=True, stdout=subprocess.PIPE)
        d = json.loads(res.stdout)
        label = d["version"] + (" (Debian)" if py.startswith("/usr/") else "")
        for co in d["codes"]:
            k = len(entries)
            body.append("static const unsigned char v%d_table[] = {\n%s\n};" %
                        (k, c_array(co["table"])))
            body.append("static const int v%d_lines[] = {\n%s\n};" % (k, c_array(co["lines"])))
            entries.append('\t{"%s", %d, %d, "%s", %d, %d, v%d_table, %d, v%d_lines, %d},' %
                           (label, d["major"], d["minor"], co["name"], co["firstlineno"],
                            co["before"], k, len(co["table"]), k, len(co["lines"])))
        print("%-28s %d code objects" % (label, len(d["codes"])), file=sys.stderr)
    with open(args.output, "w") as f:
        f.write("/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */\n"
                "/*\n * Generated by tests/unit/gen_pylines_vectors.py from the interpreters "
                "named below;\n * do not edit. lines[i] is PyCode_Addr2Line(code, 2 * i) "
                "as the interpreter itself\n * computes it (-1: no line); before is its answer "
                "for offset -2.\n */\n"
                "#ifndef COWTRACE_PYLINES_VECTORS_H\n#define COWTRACE_PYLINES_VECTORS_H\n\n"
                "struct pylines_vector {\n\tconst char *interp;\n\tint major, minor;\n"
                "\tconst char *name;\n\tint firstlineno;\n\tint before;\n"
                "\tconst unsigned char *table;\n\tunsigned int table_len;\n"
                "\tconst int *lines;\n\tunsigned int nlines;\n};\n\n")
        f.write("\n".join(body))
        f.write("\n\nstatic const struct pylines_vector pylines_vectors[] = {\n")
        f.write("\n".join(entries))
        f.write("\n};\n\n#endif\n")


if __name__ == "__main__":
    main()
