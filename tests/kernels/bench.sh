#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# bench.sh [KERNEL...]: make bench's C workload (tests/bench.py --workload C --all-detectors)
# inside each kernel of the matrix (6.1, 6.12, sid; default all three), under qemu TCG: each
# detector that works there, each mode, side by side with the untraced run. Emulated copies
# are slow and the machine is not the guest's alone: read the ratios, not the nanoseconds.
# Run by `make bench-kernels` (not by make test: minutes per kernel, and nothing is asserted).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
[ $# -gt 0 ] || set -- 6.1 6.12 sid
job=$(mktemp -d)
trap 'rm -rf "$job"' EXIT
cp "$REPO/cowtrace" "$REPO/build/workloads/cow_bench" "$REPO/tests/bench.py" "$job/"
cat >"$job/run.sh" <<'RUN'
COWTRACE=/job/cowtrace COW_BENCH=/job/cow_bench python3 /job/bench.py --workload C \
	--all-detectors --runs 3 --rounds 5 --mib 16
RUN
for k in "$@"; do
	read -r kver vmlinuz < <("$HERE/kernel.sh" "$k")
	res=$(mktemp -d)
	echo "=== $kver"
	"$HERE/boot.sh" -P -t 3600 "$vmlinuz" "$job" "$res" || echo "bench.sh: $kver: rc $?"
	cat "$res/output.txt"
	rm -rf "$res"
done
