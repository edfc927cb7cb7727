#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# sidroot.sh: make sure a Debian unstable root with python3.13, python3.14 and python3.15 is in
# the cache, then print its path on stdout.
#
# The root is `debootstrap --variant=minbase --include=python3.13,python3.14,python3.15 sid`
# from the archive the machine's own apt sources name (tests/lib/archive.sh). The first build
# takes about two minutes: into a temporary directory beside its final place, checked (each
# interpreter runs inside it), stamped with the recipe it was made from, then renamed into
# place, so a root that is there is whole. Later calls compare the stamp with the recipe below
# and reuse the root at once; a changed recipe (another package list) builds a new one.
# debootstrap is installed with apt-get when it is missing.
#
# Cache: $COWTRACE_SIDROOT_CACHE, default /var/cache/cowtrace-sidroot; the root is root-vREV
# in it (remove it to rebuild from today's unstable). Exit 1 with one line on stderr
# ("sidroot.sh: ...") when the root cannot be built: the tests report it.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib/archive.sh
. "$HERE/../lib/archive.sh"

CACHE=${COWTRACE_SIDROOT_CACHE:-/var/cache/cowtrace-sidroot}
SUITE=sid
PYTHONS=(3.13 3.14 3.15)
# the interpreters, and their headers (internal ones included): tests/e2e/check_debug_offsets.py
# compares cowtrace's reading of each binary's _Py_DebugOffsets with offsetof() from them
INCLUDE=$(printf 'python%s,' "${PYTHONS[@]}")$(printf 'libpython%s-dev,' "${PYTHONS[@]}")
INCLUDE=${INCLUDE%,}
# REV names the root directory: bump it when the way a root is made changes incompatibly
REV=2
ROOT=$CACHE/root-v$REV
STAMP=.cowtrace-sidroot
RECIPE="rev=$REV suite=$SUITE variant=minbase include=$INCLUDE"

fail() {
	echo "sidroot.sh: $*" >&2
	exit 1
}

usable() {
	local v
	[ -f "$1/$STAMP" ] && [ "$(cat "$1/$STAMP")" = "$RECIPE" ] || return 1
	for v in "${PYTHONS[@]}"; do
		[ -x "$1/usr/bin/python$v" ] || return 1
	done
}

# Unmount whatever is mounted below $1 (a build debootstrap did not finish can leave its
# /proc and /sys there), deepest first, then remove it without leaving its file system.
remove_tree() {
	local m
	[ -e "$1" ] || return 0
	awk -v top="$(realpath "$1")/" 'index($2 "/", top) == 1 { print $2 }' /proc/self/mounts |
		sort -r | while read -r m; do umount -l "$m" || true; done
	rm -rf --one-file-system "$1"
}

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap and chroot)"
mkdir -p "$CACHE"
exec 8>"$CACHE/.lock"
flock 8

if usable "$ROOT"; then
	echo "$ROOT"
	exit 0
fi

if ! command -v debootstrap >/dev/null; then
	echo "sidroot.sh: installing debootstrap" >&2
	{ apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap; } \
		>"$CACHE/apt.log" 2>&1 ||
		fail "apt-get install debootstrap failed: $(tail -1 "$CACHE/apt.log")"
fi

uri=$(archive_uri | head -1)
[ -n "$uri" ] || fail "no Debian archive in /etc/apt/sources.list{,.d/*.sources}" \
	"(set COWTRACE_ARCHIVE)"

work=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'remove_tree "$work"' EXIT
echo "sidroot.sh: building $ROOT: $SUITE with $INCLUDE (about 2 minutes)" >&2
log=$CACHE/debootstrap.log
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$work/root" "$uri" \
	>"$log" 2>&1 || fail "debootstrap $SUITE failed (log: $log): $(tail -1 "$log")"
for v in "${PYTHONS[@]}"; do
	got=$(chroot "$work/root" "/usr/bin/python$v" -c \
		'import sys; print("%d.%d" % sys.version_info[:2])' 2>&1) ||
		fail "python$v does not run in the new root: $got"
	[ "$got" = "$v" ] || fail "python$v in the new root says it is $got"
done
# the downloaded packages are not needed any more
rm -f "$work/root/var/cache/apt/archives/"*.deb
printf '%s\n' "$RECIPE" >"$work/root/$STAMP"

# a root of another recipe in the same place goes, with the build directory
if [ -e "$ROOT" ]; then
	mv "$ROOT" "$work/old"
fi
mv "$work/root" "$ROOT"
for old in "$CACHE"/root-v*; do
	[ "$old" = "$ROOT" ] || remove_tree "$old"
done
echo "$ROOT"
