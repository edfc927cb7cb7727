#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Install what cowtrace needs to build, test and run its demo, on Debian or Ubuntu (as root).
# Idempotent, and quick when everything is there: apt runs only for what is missing.
set -eu
# build: clang llvm make gcc pkg-config libbpf-dev libelf-dev zlib1g-dev bpftool, libjansson-dev
# (cowtrace diff parses reports from elsewhere with it)
# tests: libcmocka-dev python3 python3-pytest util-linux (setpriv), chromium (renders the SVG
# flame graph headless; its labels need a font), nodejs (checks the SVG's script); the kernel
# matrix: qemu-system-x86 busybox-static cpio; the container suite: debootstrap (its root);
# make unit-sanitize and make fuzz: libclang-rt-dev (the default clang's ASan, UBSan and libFuzzer
# runtimes, which clang only recommends); tests/e2e/test_prometheus.py: prometheus (its promtool
# checks the --prometheus file); tests/e2e/test_gate.py: gunicorn (the staging gate on a real
# gunicorn --preload app)
# PKG:arm64 is the package of that architecture; dpkg-query knows it by that name
# the arm64 build (make ARCH=arm64) and its kernels in the matrix: Debian's cross compiler, the
# arm64 libraries cowtrace links (dpkg's foreign architecture arm64), qemu-system-arm;
# e2fsprogs' debugfs reads the arm64 guests' results off their disk
PKGS="clang llvm make gcc pkg-config libbpf-dev libelf-dev zlib1g-dev bpftool libjansson-dev
libcmocka-dev python3 python3-pytest util-linux chromium fonts-dejavu-core nodejs qemu-system-x86
busybox-static cpio debootstrap libclang-rt-dev prometheus gunicorn
gcc-aarch64-linux-gnu libc6-dev-arm64-cross libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64
libjansson-dev:arm64 qemu-system-arm e2fsprogs"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
apt-get update -qq
# with recommends: chromium is tested here as Debian installs it by default
# shellcheck disable=SC2086
apt-get install -y -qq $missing >/dev/null
