# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Ground truth for copy-on-write copies, read from /proc/PID/pagemap.

A copy-on-write break replaces the page frame behind a virtual page: the pagemap entry stays
present and its page frame number (PFN, bits 0-54) changes. A process can therefore count the
pages that a piece of its own code copied by snapshotting the PFNs of its writable private
mappings before and after that code and counting the entries that changed.

The snapshot is built to disturb the process as little as possible, because anything it writes
between the two snapshots would be counted too:

  * the address ranges and all buffers are fixed when the Snapshot is created (the ranges are
    the writable private mappings at that moment, i.e. the ones inherited over fork; a mapping
    created later cannot hold a copy-on-write page);
  * take() only calls os.preadv() into preallocated memoryview slices, so it allocates nothing
    but the integers preadv returns;
  * measure() runs once with a no-op first (warm-up): the pages the snapshot code itself writes
    (its frames, the refcounts of the objects it uses, the buffers) are then already private
    when the real window opens. The no-op window's count is returned as the noise figure.

Not counted: pages first touched in the window (no copy: zero-filled), a write to the shared
zero page (a "zero" copy, which cowtrace keeps out of "pages"; recognised by the zero page's PFN),
pages unmapped before the second snapshot. PFNs read as 0 without CAP_SYS_ADMIN: root only.

Runs on CPython 3.8 and later; standard library only.
"""

import array
import ctypes
import mmap
import os
import sys

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
PRESENT = 1 << 63
PFN_MASK = (1 << 55) - 1


def writable_private_ranges(pid="self"):
    """[(start, end)] of the writable private mappings of pid, from /proc/PID/maps."""
    ranges = []
    with open("/proc/%s/maps" % pid) as f:
        for line in f:
            fields = line.split()
            perms = fields[1]
            if perms[1] != "w" or perms[3] != "p":
                continue
            lo, hi = fields[0].split("-")
            ranges.append((int(lo, 16), int(hi, 16)))
    return ranges


def _read_entry(fd, addr):
    data = os.pread(fd, 8, addr // PAGE_SIZE * 8)
    return array.array("Q", data)[0]


def zero_page_pfn(fd):
    """PFN of the shared zero page, -1 when the kernel does not map it: read-fault two fresh
    private anonymous pages and look. Both get the zero page's frame where the kernel uses it;
    some do not (Firecracker guests booted with pvm_no_zero_page=1 give each a page of its own)."""
    m = mmap.mmap(-1, 2 * PAGE_SIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        anchor = ctypes.c_char.from_buffer(m)
        addr = ctypes.addressof(anchor)
        _ = m[0], m[PAGE_SIZE]  # read faults
        a, b = _read_entry(fd, addr), _read_entry(fd, addr + PAGE_SIZE)
        del anchor
    finally:
        m.close()
    if not (a & PRESENT and b & PRESENT) or (a & PFN_MASK) != (b & PFN_MASK):
        return -1
    return a & PFN_MASK


def kernel_maps_zero_page():
    """Whether a read fault on private anonymous memory maps the shared zero page here."""
    fd = os.open("/proc/self/pagemap", os.O_RDONLY)
    try:
        return zero_page_pfn(fd) >= 0
    finally:
        os.close(fd)


class Snapshot:
    """nbufs preallocated pagemap snapshots of fixed address ranges of one process."""

    def __init__(self, nbufs=3, pid="self", ranges=None):
        self.ranges = list(ranges) if ranges is not None else writable_private_ranges(pid)
        self.npages = sum((hi - lo) // PAGE_SIZE for lo, hi in self.ranges)
        self.fd = os.open("/proc/%s/pagemap" % pid, os.O_RDONLY)
        self.zero_pfn = zero_page_pfn(self.fd) if pid == "self" else -1
        self.bufs = []
        self.iovs = []
        for _ in range(nbufs):
            buf = bytearray(self.npages * 8)
            view = memoryview(buf)
            iov = []
            off = 0
            for lo, hi in self.ranges:
                n = (hi - lo) // PAGE_SIZE * 8
                # (file offset, [destination], expected length): all built here, once.
                iov.append((lo // PAGE_SIZE * 8, [view[off:off + n]], n))
                off += n
            self.bufs.append(buf)
            self.iovs.append(iov)

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def take(self, i):
        """Fill buffer i with the current pagemap entries. Allocation-light on purpose."""
        fd = self.fd
        preadv = os.preadv
        for off, dst, n in self.iovs[i]:
            if preadv(fd, dst, off) != n:
                self._take_slow(off, dst[0], n)

    def _take_slow(self, off, dst, n):
        # pagemap reads are normally complete; finish a short one piece by piece.
        done = 0
        while done < n:
            got = os.preadv(self.fd, [dst[done:]], off + done)
            if got <= 0:
                dst[done:] = bytes(n - done)  # vanished: read as "not present"
                return
            done += got

    def changed(self, i, j, addresses=None):
        """Pages present in both snapshots whose frame differs (= copied in between).

        Writes to the zero page are left out. When addresses is a list, the virtual address of
        each copied page is appended to it.
        """
        a = array.array("Q")
        a.frombytes(self.bufs[i])
        b = array.array("Q")
        b.frombytes(self.bufs[j])
        if sys.byteorder != "little":
            a.byteswap()
            b.byteswap()
        zero = self.zero_pfn
        count = 0
        idx = 0
        for lo, hi in self.ranges:
            n = (hi - lo) // PAGE_SIZE
            if a[idx:idx + n] == b[idx:idx + n]:
                idx += n
                continue
            for k in range(idx, idx + n):
                x = a[k]
                y = b[k]
                if x == y or not (x & PRESENT) or not (y & PRESENT):
                    continue
                px = x & PFN_MASK
                if px == (y & PFN_MASK) or px == zero:
                    continue
                count += 1
                if addresses is not None:
                    addresses.append(lo + (k - idx) * PAGE_SIZE)
            idx += n
        return count

    def pfns_visible(self, i):
        """True when present entries carry PFNs (they read as 0 without CAP_SYS_ADMIN)."""
        a = array.array("Q")
        a.frombytes(self.bufs[i])
        for x in a:
            if x & PRESENT and x & PFN_MASK:
                return True
        return False


class Window:
    """Counts the pages a call copies: snapshot, call, snapshot, compare.

    Buffer 0 is a baseline taken at creation (for copied_since_start()), buffers 1 and 2 the
    before/after pair of each measured call.
    """

    def __init__(self, pid="self"):
        self.snap = Snapshot(nbufs=3, pid=pid)
        self.snap.take(0)
        if not self.snap.pfns_visible(0):
            raise PermissionError("pagemap shows no page frame numbers (needs root)")
        # Warm-up: run the measuring path twice with a no-op, so that the pages it writes are
        # private before a real window opens; the second run's count is the residual noise.
        self.measure(_noop)
        self.noise = self.measure(_noop)

    def measure(self, fn, addresses=None):
        """Run fn() between two snapshots; return the number of pages copied meanwhile."""
        take = self.snap.take
        take(1)
        fn()
        take(2)
        return self.snap.changed(1, 2, addresses)

    def copied_since_start(self):
        """Pages copied since this Window was created (all causes)."""
        self.snap.take(1)
        return self.snap.changed(0, 1)

    @property
    def pages_scanned(self):
        return self.snap.npages

    def close(self):
        self.snap.close()


def _noop():
    return 0
