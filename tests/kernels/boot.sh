#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# boot.sh [-a ARCH] [-P] [-t SECS] [-s CPUS] [-m MB] VMLINUZ JOBDIR RESULTDIR
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
# an empty 64 MiB ext4 file system at /scratch (an NVMe disk) (guest-init). Executable ELF
# files in JOBDIR bring the shared libraries they need, at their host paths. -P adds python3
# with its libraries and a trimmed stdlib. -t: timeout of the whole run (default 1800 s), -s:
# CPUs (default 1), -m: memory (2048 MB).
#
# -a arm64 boots an arm64 kernel under qemu-system-aarch64 -M virt -cpu max instead, with
# Debian's arm64 busybox-static, and (-P) Debian's arm64 python3 (bookworm's 3.11, with its USDT
# probes), unpacked from their packages; JOBDIR's executables must be arm64 ones, their
# libraries come from the host's arm64 multiarch directories (scripts/deps.sh installs them). That
# machine has one serial port: run.sh's output and /out come back on the scratch disk.
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
PY=0 TMO=1800 CPUS=1 MEM=2048 ARCH=x86
while getopts "a:Pt:s:m:" o; do
	case $o in
	a) ARCH=$OPTARG ;;
	P) PY=1 ;;
	t) TMO=$OPTARG ;;
	s) CPUS=$OPTARG ;;
	m) MEM=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# = 3 ] || { echo "usage: boot.sh [-a x86|arm64] [-P] [-t SECS] [-s CPUS] [-m MB] VMLINUZ JOBDIR RESULTDIR" >&2; exit 2; }
case $ARCH in
x86 | arm64) ;;
*) echo "boot.sh: -a $ARCH: x86 or arm64" >&2; exit 2 ;;
esac
VMLINUZ=$1 JOB=$2 RES=$3
[ -f "$JOB/run.sh" ] || { echo "boot.sh: $JOB/run.sh: missing" >&2; exit 2; }

# ---- tools ----
# the host's busybox lists the applets (and is the x86 guest's); qemu for the guest's machine
static_busybox() { [ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked'; }
QEMU_PKG=qemu-system-x86 QEMU=qemu-system-x86_64
[ "$ARCH" = arm64 ] && QEMU_PKG=qemu-system-arm QEMU=qemu-system-aarch64
if ! command -v $QEMU >/dev/null || ! command -v cpio >/dev/null ||
	! command -v file >/dev/null || ! static_busybox; then
	echo "boot.sh: installing $QEMU_PKG, cpio, busybox-static" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q $QEMU_PKG cpio busybox-static file >/dev/null 2>&1 || {
		apt-get update -q >/dev/null 2>&1
		apt-get install -y -q $QEMU_PKG cpio busybox-static file >/dev/null
	}
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.boot.lock"
flock 9

# Debian packages of architecture arm64, unpacked once into $CACHE/arm64-debs/PKG (the
# system's apt lists name them once dpkg knows the architecture, as scripts/deps.sh makes it).
# Prints the directory of each.
arm64_debs() {
	local pkg d
	for pkg in "$@"; do
		d=$CACHE/arm64-debs/$pkg
		if [ ! -d "$d" ]; then
			local w
			w=$(mktemp -d "$CACHE/.deb.XXXXXX")
			(cd "$w" && apt-get -q download "$pkg:arm64") >"$w/log" 2>&1 || {
				echo "boot.sh: apt-get download $pkg:arm64 failed: $(tail -1 "$w/log")" >&2
				rm -rf "$w"
				exit 125
			}
			dpkg-deb -x "$w"/*.deb "$w/root"
			mkdir -p "$CACHE/arm64-debs"
			mv "$w/root" "$d"
			rm -rf "$w"
		fi
		echo "$d"
	done
}

# newc archive of directory $1 on stdout, everything owned by root
pack() { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet); }

# copy file $1 into tree $2 at the same path, as a regular file (symlinks followed: a link's
# target path may run through directory links the initramfs does not have)
put() {
	mkdir -p "$2$(dirname "$1")"
	[ -e "$2$1" ] || cp -L "$1" "$2$1"
}

# the shared libraries of ELF file $1 (and the dynamic loader) into tree $2: as ldd lists them
# on x86; for arm64 (no ldd for it here), NEEDED entries looked up, recursively, in tree $2
# itself and the host's arm64 multiarch directories
ARM64_LIBDIRS="/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu"
put_libs() {
	local lib
	file -L "$1" 2>/dev/null | grep -q 'ELF.*dynamically linked' || return 0
	if [ "$ARCH" = x86 ]; then
		for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ )]*' | sort -u); do
			put "$lib" "$2"
		done
		return 0
	fi
	put /lib/ld-linux-aarch64.so.1 "$2"
	local name dir found
	for name in $(readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		found=
		for dir in $ARM64_LIBDIRS; do
			if [ -e "$2$dir/$name" ]; then
				found=1
				break
			fi
			if [ -e "$dir/$name" ]; then
				put "$dir/$name" "$2"
				put_libs "$dir/$name" "$2"
				found=1
				break
			fi
		done
		[ -n "$found" ] || echo "boot.sh: $1 needs $name: not in $ARM64_LIBDIRS" >&2
	done
}

# ---- cached part 1: busybox and /init ----
BUSYBOX=/bin/busybox
[ "$ARCH" = arm64 ] && BUSYBOX=$(arm64_debs busybox-static)/bin/busybox
key=$( (sha256sum "$HERE/guest-init" "$BUSYBOX") | sha256sum | cut -c1-16)
BASE=$CACHE/initrd-base-$key.cpio
if [ ! -s "$BASE" ]; then
	t=$(mktemp -d)
	mkdir -p "$t"/{bin,sbin,usr/bin,usr/sbin,etc,root,proc,sys,dev,tmp,job,out}
	cp "$BUSYBOX" "$t/bin/busybox"
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
# the stdlib of python $1 from /usr/lib of tree $2 into tree $3
put_stdlib() {
	mkdir -p "$3/usr/lib"
	tar -C "$2/usr/lib" -cf - \
		--exclude="$1/test" --exclude="$1/idlelib" --exclude="$1/tkinter" \
		--exclude="$1/turtledemo" --exclude="$1/ensurepip" --exclude="$1/lib2to3" \
		--exclude="$1/site-packages" --exclude="$1/dist-packages" \
		--exclude="$1/config-*" --exclude=__pycache__ "$1" | tar -C "$3/usr/lib" -xf -
}
PYCPIO=
if [ $PY = 1 ] && [ "$ARCH" = arm64 ]; then
	# bookworm's python3.11 for arm64, as its packages unpack (the host's python3.11-minimal
	# cannot be installed beside it); its libraries from the host's arm64 directories
	dirs=$(arm64_debs python3.11-minimal libpython3.11-minimal libpython3.11-stdlib)
	libs=$(arm64_debs libexpat1) # the one library of the interpreter's the host lacks
	key=$(ls -d $dirs $libs | sha256sum | cut -c1-16)
	PYCPIO=$CACHE/initrd-arm64-python3.11-$key.cpio
	if [ ! -s "$PYCPIO" ]; then
		t=$(mktemp -d) u=$(mktemp -d)
		for d in $dirs; do cp -a "$d/." "$u/"; done
		mkdir -p "$t/usr/bin"
		cp "$u/usr/bin/python3.11" "$t/usr/bin/python3.11"
		ln -s python3.11 "$t/usr/bin/python3"
		for d in $libs; do cp -a "$d/." "$t/"; done
		rm -rf "$t/usr/share"
		put_stdlib python3.11 "$u" "$t"
		for so in "$t/usr/bin/python3.11" "$t/usr/lib/python3.11"/lib-dynload/*.so; do
			put_libs "$so" "$t" 2>/dev/null
		done
		pack "$t" >"$PYCPIO.tmp"
		mv "$PYCPIO.tmp" "$PYCPIO"
		rm -rf "$t" "$u"
	fi
elif [ $PY = 1 ]; then
	pybin=$(readlink -f /usr/bin/python3)
	pyver=$(basename "$pybin")
	key=$(stat -c '%s %Y' "$pybin" "/usr/lib/$pyver" | sha256sum | cut -c1-16)
	PYCPIO=$CACHE/initrd-$pyver-$key.cpio
	if [ ! -s "$PYCPIO" ]; then
		t=$(mktemp -d)
		put /usr/bin/python3 "$t"
		put "$pybin" "$t"
		put_libs "$pybin" "$t"
		put_stdlib "$pyver" / "$t"
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
if [ "$ARCH" = arm64 ]; then
	# one serial port (the console): guest-init leaves the output and /out on the scratch disk
	MACHINE=(-M virt -cpu max)
	CONSOLE="console=ttyAMA0 cowtrace.results=scratch"
	SERIALS=(-serial "file:$W/ttyS0")
else
	MACHINE=()
	CONSOLE="console=ttyS0"
	SERIALS=(-serial "file:$W/ttyS0" -serial "file:$W/ttyS1" -serial "file:$W/ttyS2")
fi
t0=$(date +%s.%N)
set +e
timeout -k 10 "$TMO" $QEMU "${MACHINE[@]}" -accel tcg -smp "$CPUS" -m "$MEM" \
	-nodefaults -no-reboot -display none -monitor none \
	-kernel "$VMLINUZ" -initrd "$W/initrd" \
	-drive "file=$W/scratch.img,if=none,id=scratch,format=raw" -device nvme,drive=scratch,serial=scratch \
	-append "$CONSOLE rdinit=/init panic=-1 quiet" \
	"${SERIALS[@]}" </dev/null >"$W/qemu.log" 2>&1
qrc=$?
set -e
t1=$(date +%s.%N)

if [ "$ARCH" = arm64 ]; then
	# the results guest-init left in /scratch/results, read without mounting (e2fsprogs)
	debugfs -R "dump /results/output.txt $W/ttyS1" "$W/scratch.img" >/dev/null 2>&1 || true
	debugfs -R "dump /results/out.tgz.b64 $W/ttyS2" "$W/scratch.img" >/dev/null 2>&1 || true
fi
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
