#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Install what cowtrace needs to build, test and run its demo, on Debian or Ubuntu (as root).
# Idempotent, and quick when everything is there: apt runs only for what is missing.
set -eu
# build: clang llvm make gcc pkg-config libbpf-dev libelf-dev zlib1g-dev bpftool
# tests: libcmocka-dev python3 python3-pytest util-linux (setpriv), chromium (renders the SVG
# flame graph headless; its labels need a font), nodejs (checks the SVG's script)
PKGS="clang llvm make gcc pkg-config libbpf-dev libelf-dev zlib1g-dev bpftool libcmocka-dev
python3 python3-pytest util-linux chromium fonts-dejavu-core nodejs"
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
apt-get update -qq
# with recommends: chromium is tested here as Debian installs it by default
# shellcheck disable=SC2086
apt-get install -y -qq $missing >/dev/null
