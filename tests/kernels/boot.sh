#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# boot.sh [-P] [-t SECS] [-s CPUS] [-m MB] VMLINUZ JOBDIR RESULTDIR
#
# Boots VMLINUZ under qemu-system-x86_64 -accel tcg (no KVM needed) with a busybox initramfs,
# runs JOBDIR/run.sh there (busybox sh, root, cwd /job = a copy of JOBDIR, stdin /dev/null) and
# brings back into RESULTDIR:
#
#   output.txt    run.sh's stdout and stderr
#   out/          whatever run.sh left in the guest's /out
#   console.txt   the kernel console
#   status        one line: rc=N boot_s=B run_s=R wall_s=W (rc of run.sh; boot_s: uptime when
#                 run.sh started; run_s: its duration; wall_s: the whole qemu run)
#
# The guest: /proc, /sys, devtmpfs, tmpfs /tmp, tracefs, debugfs, bpffs, ulimit -l unlimited,
# an empty 64 MiB ext4 file system at /scratch (an NVMe disk) (guest-init). Executable ELF files in JOBDIR bring the shared libraries ldd lists, at their
# host paths. -P adds the host's /usr/bin/python3 with its libraries and a trimmed stdlib.
# -t: timeout of the whole run (default 1800 s), -s: CPUs (default 1), -m: memory (2048 MB).
#
# The parts that do not change between runs are cached in $COWTRACE_KCACHE (default
# /var/cache/cowtrace-kernels): busybox with /init, and python. Missing tools (qemu, cpio, a
# static busybox) are installed with apt-get. Runs are serialised (a lock in the cache).
#
# Exit status: run.sh's; 124 timed out; 125 no status from the guest (panic, harness error:
# the console tail is printed on stderr); 2 usage.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${COWTRACE_KCACHE:-/var/cache/cowtrace-kernels}
PY=0 TMO=1800 CPUS=1 MEM=2048
while getopts "Pt:s:m:" o; do
	case $o in
	P) PY=1 ;;
	t) TMO=$OPTARG ;;
	s) CPUS=$OPTARG ;;
	m) MEM=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# = 3 ] || { echo "usage: boot.sh [-P] [-t SECS] [-s CPUS] [-m MB] VMLINUZ JOBDIR RESULTDIR" >&2; exit 2; }
VMLINUZ=$1 JOB=$2 RES=$3
[ -f "$JOB/run.sh" ] || { echo "boot.sh: $JOB/run.sh: missing" >&2; exit 2; }

# ---- tools ----
static_busybox() { [ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; }
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v cpio >/dev/null ||
	! command -v file >/dev/null || ! static_busybox; then
	echo "boot.sh: installing qemu-system-x86, cpio, busybox-static" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q qemu-system-x86 cpio busybox-static file >/dev/null 2>&1 || {
		apt-get update -q >/dev/null 2>&1
		apt-get install -y -q qemu-system-x86 cpio busybox-static file >/dev/null
	}
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.boot.lock"
flock 9

# newc archive of directory $1 on stdout, everything owned by root
pack() { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet); }

# copy file $1 into tree $2 at the same path, as a regular file (symlinks followed: a link's
# target path may run through directory links the initramfs does not have)
put() {
	mkdir -p "$2$(dirname "$1")"
	[ -e "$2$1" ] || cp -L "$1" "$2$1"
}

# the shared libraries of ELF file $1 (and the dynamic loader) into tree $2
put_libs() {
	local lib
	file -L "$1" 2>/dev/null | grep -q 'ELF.*dynamically linked' || return 0
	for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ )]*' | sort -u); do
		put "$lib" "$2"
	done
}

# ---- cached part 1: busybox and /init ----
key=$( (sha256sum "$HERE/guest-init" /bin/busybox) | sha256sum | cut -c1-16)
BASE=$CACHE/initrd-base-$key.cpio
if [ ! -s "$BASE" ]; then
	t=$(mktemp -d)
	mkdir -p "$t"/{bin,sbin,usr/bin,usr/sbin,etc,root,proc,sys,dev,tmp,job,out}
	cp /bin/busybox "$t/bin/busybox"
	for applet in $(/bin/busybox --list-full); do
		[ -e "$t/$applet" ] || ln -s /bin/busybox "$t/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$t/etc/passwd"
	printf 'root:x:0:\n' >"$t/etc/group"
	install -m 755 "$HERE/guest-init" "$t/init"
	pack "$t" >"$BASE.tmp"
	mv "$BASE.tmp" "$BASE"
	rm -rf "$t"
fi

# ---- cached part 2: python3 (Debian's, with its USDT probes), stdlib without tests/GUI ----
PYCPIO=
if [ $PY = 1 ]; then
	pybin=$(readlink -f /usr/bin/python3)
	pyver=$(basename "$pybin")
	key=$(stat -c '%s %Y' "$pybin" "/usr/lib/$pyver" | sha256sum | cut -c1-16)
	PYCPIO=$CACHE/initrd-$pyver-$key.cpio
	if [ ! -s "$PYCPIO" ]; then
		t=$(mktemp -d)
		put /usr/bin/python3 "$t"
		put "$pybin" "$t"
		put_libs "$pybin" "$t"
		mkdir -p "$t/usr/lib"
		tar -C /usr/lib -cf - \
			--exclude="$pyver/test" --exclude="$pyver/idlelib" --exclude="$pyver/tkinter" \
			--exclude="$pyver/turtledemo" --exclude="$pyver/ensurepip" --exclude="$pyver/lib2to3" \
			--exclude="$pyver/site-packages" --exclude="$pyver/dist-packages" \
			--exclude="$pyver/config-*" --exclude=__pycache__ "$pyver" | tar -C "$t/usr/lib" -xf -
		for so in "/usr/lib/$pyver"/lib-dynload/*.so; do put_libs "$so" "$t"; done
		pack "$t" >"$PYCPIO.tmp"
		mv "$PYCPIO.tmp" "$PYCPIO"
		rm -rf "$t"
	fi
fi

# ---- this run: the job and its libraries ----
mkdir -p "$RES"
RES=$(cd "$RES" && pwd)
rm -rf "$RES/out" "$RES/output.txt" "$RES/console.txt" "$RES/status"
W=$(mktemp -d /tmp/cowtrace-boot.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/tree/job"
cp -a "$JOB/." "$W/tree/job/"
while IFS= read -r -d '' f; do
	put_libs "$f" "$W/tree"
done < <(find "$W/tree/job" -type f -perm -u+x -print0)
pack "$W/tree" >"$W/job.cpio"
cat "$BASE" ${PYCPIO:+"$PYCPIO"} "$W/job.cpio" >"$W/initrd"

# a scratch disk, ext4 on NVMe (/scratch in the guest): the initramfs is shmem
truncate -s 64M "$W/scratch.img"
mkfs.ext4 -q -F "$W/scratch.img"

# ---- boot ----
: >"$W/ttyS0" && : >"$W/ttyS1" && : >"$W/ttyS2"
t0=$(date +%s.%N)
set +e
timeout -k 10 "$TMO" qemu-system-x86_64 -accel tcg -smp "$CPUS" -m "$MEM" \
	-nodefaults -no-reboot -display none -monitor none \
	-kernel "$VMLINUZ" -initrd "$W/initrd" \
	-drive "file=$W/scratch.img,if=none,id=scratch,format=raw" -device nvme,drive=scratch,serial=scratch \
	-append "console=ttyS0 rdinit=/init panic=-1 quiet" \
	-serial "file:$W/ttyS0" -serial "file:$W/ttyS1" -serial "file:$W/ttyS2" \
	</dev/null >"$W/qemu.log" 2>&1
qrc=$?
set -e
t1=$(date +%s.%N)

tr -d '\r' <"$W/ttyS0" >"$RES/console.txt"
tr -d '\r' <"$W/ttyS1" >"$RES/output.txt"
mkdir -p "$RES/out"
st=$(grep -o 'cowtrace-guest: status rc=[0-9]* start=[0-9.]* end=[0-9.]*' "$RES/console.txt" | tail -1 || true)
if [ $qrc = 124 ] || [ $qrc = 137 ]; then
	echo "boot.sh: timed out after $TMO s; console tail:" >&2
	tail -20 "$RES/console.txt" >&2
	echo "rc=124 wall_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" >"$RES/status"
	exit 124
fi
if [ -z "$st" ]; then
	echo "boot.sh: no status from the guest (qemu rc $qrc); console tail:" >&2
	tail -40 "$RES/console.txt" >&2
	cat "$W/qemu.log" >&2
	echo "rc=125 wall_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" >"$RES/status"
	exit 125
fi
if [ -s "$W/ttyS2" ]; then
	tr -d '\r' <"$W/ttyS2" | base64 -d | tar -C "$RES/out" -xzf - ||
		echo "boot.sh: could not unpack the guest's /out" >&2
fi
set -- $(echo "$st" | sed 's/.*rc=\([0-9]*\) start=\([0-9.]*\) end=\([0-9.]*\)/\1 \2 \3/')
awk -v rc="$1" -v s="$2" -v e="$3" -v a="$t0" -v b="$t1" \
	'BEGIN { printf "rc=%d boot_s=%.1f run_s=%.1f wall_s=%.1f\n", rc, s, e - s, b - a }' >"$RES/status"
cat "$RES/status" >&2
exit "$1"
