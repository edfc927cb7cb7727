#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# kinds.sh COW_WRITER DIR PAGES KIND...: the command matrix.sh traces. For each KIND, one
# cow_writer child that copies PAGES pages of that kind and one that copies none (-n 0); each
# child's line (with its pid) goes to DIR/KIND-PAGES.line and DIR/KIND-0.line, a failure to
# DIR/failures. Exits 1 if any cow_writer failed.
cw=$1 dir=$2 n=$3
shift 3
mkdir -p "$dir"
status=0
for kind in "$@"; do
	for pages in "$n" 0; do
		"$cw" -k "$kind" -n "$pages" -o "$dir/$kind-$pages.line" || {
			echo "$kind-$pages rc=$?" >>"$dir/failures"
			status=1
		}
	done
done
exit $status
