#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# matrix.sh: cowtrace's exactness checks on the running kernel, for test_kernels.py, which runs
# it inside each Debian kernel under qemu (busybox sh) and directly on the host. It only runs
# things and keeps what they leave; every assertion is made on the host.
#
# Environment: OUT (results directory), COWTRACE, COW_WRITER (paths), N (pages per kind, 200),
# PYTHON and PYWL (an interpreter and tests/workloads/py; the Python smoke run is skipped when
# PYTHON is empty), RUN_TIMEOUT (seconds per cowtrace run, 900).
#
# Each cowtrace start verifies its BPF programs, which takes tens of seconds to minutes under
# TCG, so the runs are few:
#   $OUT/detectors.{txt,err,rc}   cowtrace --list-detectors ("NAME available" or
#                                 "NAME unavailable: reason"; the first available is the
#                                 default). If it fails (an older cowtrace), one run named
#                                 "default" without --detector stands in for the detectors.
#   $OUT/det-NAME/                per available detector, one run over every kind:
#                                 cowtrace --detector NAME --json cowtrace.json -- sh kinds.sh
#   $OUT/mode-{no-direct-map,no-stacks,counts-only}/   the default detector, anon only
#   $OUT/native/                  --native: one cow_writer -k anon whose parent lingers 8 s
#                                 (its maps name the exited child's addresses; under TCG the
#                                 naming came 3 s after the copies on arm64 6.12),
#                                 with --folded (the child's copies under touch_pages())
#   $OUT/py/                      Python smoke run: full_collect.py under cowtrace
# Every run directory has cowtrace.json, stdout.txt, stderr.txt (cowtrace -v), KIND-PAGES.line
# (cow_writer's lines), and a line "NAME rc=RC seconds=S" is added to $OUT/runs.txt.
set -u

: "${OUT:?}" "${COWTRACE:?}" "${COW_WRITER:?}"
N=${N:-200}
PYTHON=${PYTHON:-}
PYWL=${PYWL:-}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
KINDS="anon file zero kread gup"
HERE=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$OUT"
: >"$OUT/runs.txt"
uname -r >"$OUT/kernel.txt"
# the preemption mode ("none voluntary (full) lazy": the current one in parentheses)
cat /sys/kernel/debug/sched/preempt >"$OUT/preempt.txt" 2>/dev/null
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# run NAME ARGS...: cowtrace -v ARGS with its report in $OUT/NAME/, timed
run() {
	name=$1
	shift
	dir=$OUT/$name
	mkdir -p "$dir"
	t0=$(uptime_s)
	echo "matrix: $name: cowtrace $*"
	timeout "$RUN_TIMEOUT" "$COWTRACE" -v --json "$dir/cowtrace.json" "$@" \
		>"$dir/stdout.txt" 2>"$dir/stderr.txt" </dev/null
	rc=$?
	t1=$(uptime_s)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	echo "$name rc=$rc seconds=$secs" >>"$OUT/runs.txt"
	echo "matrix: $name: rc $rc, $secs s"
	[ $rc = 0 ] || grep -v '^libbpf: \(prog\|map\|elf\|sec\|CO-RE\)' "$dir/stderr.txt" | tail -15
}

"$COWTRACE" --list-detectors >"$OUT/detectors.txt" 2>"$OUT/detectors.err"
echo $? >"$OUT/detectors.rc"
echo "matrix: kernel $(uname -r); detectors (rc $(cat "$OUT/detectors.rc")):"
cat "$OUT/detectors.txt" "$OUT/detectors.err"
available=$(awk '$2 == "available" { print $1 }' "$OUT/detectors.txt")
[ "$(cat "$OUT/detectors.rc")" = 0 ] || available=

if [ -n "$available" ]; then
	for det in $available; do
		run "det-$det" --detector "$det" -- sh "$HERE/kinds.sh" "$COW_WRITER" "$OUT/det-$det" "$N" $KINDS
	done
else
	run det-default -- sh "$HERE/kinds.sh" "$COW_WRITER" "$OUT/det-default" "$N" $KINDS
fi

run mode-no-direct-map --no-direct-map -- sh "$HERE/kinds.sh" "$COW_WRITER" "$OUT/mode-no-direct-map" "$N" anon
run mode-no-stacks --no-stacks -- sh "$HERE/kinds.sh" "$COW_WRITER" "$OUT/mode-no-stacks" "$N" anon
run mode-counts-only -c -- sh "$HERE/kinds.sh" "$COW_WRITER" "$OUT/mode-counts-only" "$N" anon
mkdir -p "$OUT/native"
run native --native --folded "$OUT/native/cowtrace.folded" -- \
	"$COW_WRITER" -k anon -n "$N" -l 8 -o "$OUT/native/anon-$N.line"

if [ -n "$PYTHON" ]; then
	# a longer settle than the workload's default: under TCG the tracer identifies the
	# interpreter slowly
	export COW_WORKLOAD_SETTLE=${COW_WORKLOAD_SETTLE:-2}
	run py --folded "$OUT/py/cowtrace.folded" -- \
		"$PYTHON" "$PYWL/full_collect.py" --records 20000 --workers 2 --collections 1
fi
echo "matrix: done"
