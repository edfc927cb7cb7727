#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""btf_from_image.py IMAGE OUT: the kernel's BTF (what it serves as /sys/kernel/btf/vmlinux),
taken out of a kernel image file (a raw or gzip-compressed arm64 Image, as Debian's vmlinuz is):
the image has no ELF sections to name it, so the blob is found by its header, a little-endian
struct btf_header (magic 0xeb9f, version 1, hdr_len 24) whose type and string sections follow
each other and whose string section starts with the empty string. The largest such blob is the
kernel's own."""
import gzip
import struct
import sys

HEADER = struct.Struct("<HBBIIIII")  # magic version flags hdr_len type_off type_len str_off str_len


def find_btf(data):
    best = None
    at = data.find(b"\x9f\xeb\x01")
    while at >= 0:
        if at + HEADER.size <= len(data):
            _, _, _, hdr_len, toff, tlen, soff, slen = HEADER.unpack_from(data, at)
            end = at + hdr_len + soff + slen
            if (hdr_len == HEADER.size and toff == 0 and soff == tlen and slen > 0 and
                    end <= len(data) and data[at + hdr_len + soff] == 0 and
                    (best is None or end - at > best[1] - best[0])):
                best = (at, end)
        at = data.find(b"\x9f\xeb\x01", at + 1)
    return best


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: btf_from_image.py IMAGE OUT")
    data = open(sys.argv[1], "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    found = find_btf(data)
    if not found:
        sys.exit("btf_from_image.py: %s: no BTF blob found" % sys.argv[1])
    with open(sys.argv[2], "wb") as out:
        out.write(data[found[0]:found[1]])
    print("BTF at offset %#x, %d bytes" % (found[0], found[1] - found[0]))


main()
