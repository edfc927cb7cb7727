#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Run libFuzzer harnesses one after the other, each for SECONDS, on a fresh copy of its
# committed seeds (tests/fuzz/seeds/NAME is never written to):
#   tests/fuzz/run.sh SECONDS DIR NAME...
# DIR holds the harness binaries; the corpus each run grows stays in DIR/corpus/NAME, its log in
# DIR/NAME.log, an input that crashed in DIR/crashes/. All run; the status is 1 if any failed.
set -u
secs=$1
dir=$2
shift 2
seeds=$(dirname "$0")/seeds
status=0
mkdir -p "$dir/crashes"
for name in "$@"; do
	corpus=$dir/corpus/$name
	log=$dir/$name.log
	rm -rf "$corpus" "$dir/crashes/$name-"*
	mkdir -p "$corpus"
	if [ -d "$seeds/$name" ]; then
		cp "$seeds/$name"/* "$corpus"/ 2>/dev/null
	fi
	n=$(find "$corpus" -type f | wc -l)
	# fuzz_pystacks keeps its cache across runs (the harness says why): libFuzzer's leak check
	# after each run would take it for a leak every time, and take most of the time. LSan still
	# checks at exit, when whatever is still held is reachable.
	leaks=1
	[ "$name" = fuzz_pystacks ] && leaks=0
	if "$dir/$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-detect_leaks=$leaks -print_final_stats=1 -artifact_prefix="$dir/crashes/$name-" \
		"$corpus" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		printf '  %-8s %-14s %s s, %s runs, corpus %s -> %s\n' FUZZ "$name" "$secs" \
			"$runs" "$n" "$(find "$corpus" -type f | wc -l)"
	else
		status=1
		printf '  %-8s %-14s FAILED, log %s\n' FUZZ "$name" "$log" >&2
		grep -m1 -A40 'ERROR: \|runtime error: \|deadly signal\|ERROR: libFuzzer' "$log" >&2
		for c in "$dir/crashes/$name-"*; do
			[ -e "$c" ] && echo "  reproduce: $dir/$name $c" >&2
		done
	fi
done
exit $status
