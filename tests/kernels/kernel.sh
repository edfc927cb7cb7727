#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# kernel.sh SPEC: make sure one of Debian's stock cloud kernels is in the cache, then print
# "KVER VMLINUZ" on stdout. x86-64 kernels by default; SPEC "arm64-6.1" or "arm64-6.12" names
# the arm64 kernel of that series (the same lookup, for package architecture arm64).
#
#   6.1    the newest linux-image-6.1.0-NN-cloud-amd64 the system's apt knows (bookworm)
#   6.12   the newest linux-image-6.12.*+deb12-cloud-amd64 (bookworm-security)
#   sid    the newest cloud kernel of Debian unstable. The system does not track unstable, so
#          its package lists live in a private apt state under the cache, built from the
#          archive the system's own apt sources name (nothing is added to the system's apt).
#   KVER   a full version, e.g. 6.1.0-57-cloud-amd64, looked up in the system's lists
#
# Packages come from the archive with `apt-get download` and are unpacked with dpkg -x; only
# the vmlinuz (and the config, when there is one) is kept. The image is in linux-image-KVER's
# /boot on older kernels, in linux-binary-KVER's /usr/lib/modules/KVER/ on newer unstable ones.
#
# Cache: $COWTRACE_KCACHE, default /var/cache/cowtrace-kernels. A cached kernel is reused
# without asking apt anything once its version is known. Exit 1 with one line on stderr
# ("kernel.sh: ...") when the kernel cannot be had: the tests turn that into a skip.
set -euo pipefail

CACHE=${COWTRACE_KCACHE:-/var/cache/cowtrace-kernels}
SPEC=${1:?usage: kernel.sh [arm64-]6.1|6.12|sid|KVER}
# unstable's lists are refreshed when older than this many days
SID_MAX_AGE_DAYS=3

fail() {
	echo "kernel.sh: $SPEC: $*" >&2
	exit 1
}

# the kernel's architecture: Debian's flavour suffix and the package architecture to fetch
FLAVOUR=cloud-amd64 PKGARCH=
case $SPEC in
arm64-*)
	FLAVOUR=cloud-arm64 PKGARCH=:arm64
	dpkg --print-foreign-architectures | grep -qx arm64 ||
		fail "dpkg does not know architecture arm64 (dpkg --add-architecture arm64; apt-get update)"
	;;
esac
SERIES=${SPEC#arm64-}

mkdir -p "$CACHE"
exec 8>"$CACHE/.kernel.lock"
flock 8

# archive_uri: the archive the machine installs from (one home for that fact)
# shellcheck source-path=SCRIPTDIR source=../lib/archive.sh
. "$(dirname "$0")/../lib/archive.sh"

# apt with unstable's private state (lists under $CACHE/apt-sid), updated when missing or old
SIDAPT=$CACHE/apt-sid
sid() {
	"$@" -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$SIDAPT/sources.d" \
		-o Dir::State::Lists="$SIDAPT/lists" -o Dir::Cache="$SIDAPT/cache" \
		-o APT::Sandbox::User=root
}
sid_update() {
	local uri stamp=$SIDAPT/updated
	if [ -f "$stamp" ] && [ -z "$(find "$stamp" -mtime +"$SID_MAX_AGE_DAYS")" ]; then
		return 0
	fi
	uri=$(archive_uri | head -1)
	[ -n "$uri" ] || fail "no Debian archive URI in /etc/apt/sources.list{,.d/*.sources}"
	mkdir -p "$SIDAPT/sources.d" "$SIDAPT/lists/partial" "$SIDAPT/cache/archives/partial"
	cat >"$SIDAPT/sources.d/unstable.sources" <<-EOF
		Types: deb
		URIs: $uri
		Suites: unstable
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	sid apt-get -q update >"$SIDAPT/update.log" 2>&1 ||
		fail "apt-get update of unstable from $uri failed: $(tail -1 "$SIDAPT/update.log")"
	touch "$stamp"
}

# apt with the system's own state; its lists are fetched once if they name no such kernel
sys() { "$@"; }

# newest version among package names on stdin (apt-cache search output)
newest() {
	awk '{ print $1 }' | sed -E 's/^linux-(image|binary)-//' | sort -uV | tail -1
}

find_version() {
	local apt=$1 re=$2 v
	v=$($apt apt-cache search --names-only "$re" 2>/dev/null | newest)
	if [ -z "$v" ] && [ "$apt" = sys ]; then
		apt-get -q update >/dev/null 2>&1 || true
		v=$(apt-cache search --names-only "$re" 2>/dev/null | newest)
	fi
	printf '%s' "$v"
}

APT=sys
case $SERIES in
6.1) KVER=$(find_version sys "^linux-image-6\\.1\\.0-[0-9]+-$FLAVOUR\$") ;;
6.12) KVER=$(find_version sys "^linux-image-6\\.12\\.[0-9]+\\+deb12-$FLAVOUR\$") ;;
sid)
	APT=sid
	sid_update
	KVER=$(find_version sid "^linux-(image|binary)-[0-9][0-9.]*\\+deb[0-9]+-$FLAVOUR\$")
	;;
[0-9]*-cloud-amd64 | [0-9]*-cloud-arm64) KVER=$SERIES ;;
*) fail "unknown kernel spec (6.1, 6.12, sid or a full version)" ;;
esac
[ -n "$KVER" ] || fail "apt knows no matching cloud kernel package"

VMLINUZ=$CACHE/$KVER/vmlinuz
if [ ! -s "$VMLINUZ" ]; then
	work=$(mktemp -d "$CACHE/.fetch.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	got=0
	for pkg in "linux-image-$KVER" "linux-binary-$KVER"; do
		(cd "$work" && $APT apt-get -q download "$pkg$PKGARCH") >"$work/download.log" 2>&1 || continue
		dpkg-deb -x "$work/${pkg}"_*.deb "$work/root"
		for f in "$work/root/boot/vmlinuz-$KVER" "$work/root/usr/lib/modules/$KVER/vmlinuz"; do
			[ -s "$f" ] && got=1 && break
		done
		[ $got = 1 ] && break
	done
	[ $got = 1 ] || fail "neither linux-image-$KVER nor linux-binary-$KVER brought a vmlinuz" \
		"($(tail -1 "$work/download.log" 2>/dev/null))"
	mkdir -p "$CACHE/$KVER"
	for c in "$work/root/boot/config-$KVER" "$work/root/usr/lib/modules/$KVER/config"; do
		[ -s "$c" ] && cp "$c" "$CACHE/$KVER/config"
	done
	cp "$f" "$VMLINUZ.tmp"
	mv "$VMLINUZ.tmp" "$VMLINUZ"
fi
echo "$KVER $VMLINUZ"
