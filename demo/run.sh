#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# make demo: a pre-fork server traced twice, without and with gc.freeze(), then the workers'
# copy-on-write pages side by side. Needs root. About 10 s.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=/usr/bin/python3

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (cowtrace loads BPF programs)" >&2
	exit 1
fi
[ -x ./cowtrace ] || make -s

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

out=build/demo
mkdir -p "$out"

run() { # name, extra server arguments...
	local name=$1
	shift
	echo "=== cowtrace --svg $out/$name.svg -- $PYTHON demo/prefork_server.py --workers 2${*:+ $*} ==="
	./cowtrace --json "$tmp/$name.json" --svg "$out/$name.svg" --folded "$out/$name.folded" \
		-- "$PYTHON" demo/prefork_server.py --workers 2 "$@"
	echo
}

run plain
run freeze --freeze

"$PYTHON" - "$tmp/plain.json" "$tmp/freeze.json" <<'EOF'
import json
import sys

def workers(path):
    with open(path) as f:
        report = json.load(f)
    return [p for p in report["processes"] if p["role"] == "worker"]

plain, frozen = workers(sys.argv[1]), workers(sys.argv[2])
row = "%-7s %9s %9s %6s   %9s %9s %6s"
print("Copy-on-write pages per worker (4 KiB each):")
print("%-7s %-26s   %-26s" % ("", "without freeze", "with gc.freeze()"))
print(row % ("worker", "pages", "gc", "gc%", "pages", "gc", "gc%"))
for i in range(max(len(plain), len(frozen))):
    cols = ["#%d" % (i + 1)]
    for side in (plain, frozen):
        if i < len(side):
            p = side[i]
            gc = p["by_cause"]["gc"]
            pct = 100.0 * gc / p["pages"] if p["pages"] else 0.0
            cols += [str(p["pages"]), str(gc), "%.1f" % pct]
        else:
            cols += ["-", "-", "-"]
    print(row % tuple(cols))
gc_plain = sum(p["by_cause"]["gc"] for p in plain)
gc_frozen = sum(p["by_cause"]["gc"] for p in frozen)
all_plain = sum(p["pages"] for p in plain)
all_frozen = sum(p["pages"] for p in frozen)
print()
print("All workers: gc copies %.1f MiB -> %.1f MiB, all copies %.1f MiB -> %.1f MiB with freeze"
      % (gc_plain / 256.0, gc_frozen / 256.0, all_plain / 256.0, all_frozen / 256.0))
EOF
echo
echo "Flame graphs (open in a browser): $out/plain.svg and $out/freeze.svg"
