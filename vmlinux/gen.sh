#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Regenerate a committed vmlinux.h: the fallback used when the build machine's kernel has no
# BTF, and the only one a cross build uses.
#
#   gen.sh [BTF]   this machine's architecture, from BTF (default: the running kernel's)
#   gen.sh arm64   arm64, from the BTF inside Debian's newest bookworm arm64 cloud kernel
#                  (tests/kernels/kernel.sh arm64-6.12 fetches it; CO-RE relocates for older
#                  kernels, and the BPF code checks what 6.1 lacks with bpf_core_field_exists)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = arm64 ]; then
	arch=arm64
	image=$("$here/../tests/kernels/kernel.sh" arm64-6.12 | cut -d' ' -f2)
	btf=$(mktemp)
	trap 'rm -f "$btf"' EXIT
	python3 "$here/btf_from_image.py" "$image" "$btf"
	from="$image"
else
	arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
	btf=${1:-/sys/kernel/btf/vmlinux}
	from="$btf ($(uname -r))"
fi
dir=$here/$arch
mkdir -p "$dir"
bpftool btf dump file "$btf" format c > "$dir/vmlinux.h.tmp"
mv "$dir/vmlinux.h.tmp" "$dir/vmlinux.h"
echo "wrote $dir/vmlinux.h from $from"
