#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Workers that write the payload of shared objects (not their headers).

A store from Python code into an object always comes after a reference to it is taken, and the
reference count sits in the same block: the page is copied by that `refcount` write, not by the
store. So the modes are built so that the first write to each page is known:

  --mode ctypes    the parent builds --objects floats and as many CRecord instances (__slots__,
                   four slots) and notes, in an array.array, the address of each float's value
                   (ob_fval, at +16) and of each record's first slot (at +16). A worker writes 8
                   bytes at every such address with ctypes.memmove(addr, addr, 8) (the bytes do
                   not change) without ever touching the objects' headers: every page is copied
                   by a payload write of a live float or CRecord: `mutation`, field payload, on
                   every CPython version.
  --mode slots     SlotRecord instances with 60 slots: 512-byte pymalloc blocks, the largest
                   size class. A worker assigns the last slot (r.s59 = True) of every record in
                   the order they were allocated (ascending addresses). With 16 KiB pools
                   (3.10+) the page boundaries inside a pool fall 464 bytes into a block, so the
                   record that straddles a boundary has its header (ob_refcnt) on one page and
                   s59 on the next, and that store is the first write to the next page: 3 of
                   every 4 pages are copied by `mutation` of a SlotRecord's payload, the 4th by
                   `refcount`. With 4 KiB pools (3.8, 3.9) no block straddles a page: all
                   `refcount`.
  --mode bytearray worker 0 writes one byte per page of one big bytearray (--big-mib MiB: its
                   buffer is a separate malloc'd block without an object header); worker 1 writes
                   b[0] = 1 in each of --objects small bytearrays of 200 bytes (each buffer a
                   separate 208-byte pymalloc block without an object header; the bytearray
                   objects themselves are 64-byte blocks elsewhere, their ob_refcnt written).

Prints one "info mode=M objects=N ..." line with the expected page counts, and "worker
pid=<pid>" from each worker:
  ctypes     float_pages, record_pages: distinct pages holding a written float value / CRecord
             slot (each copied once, by a payload write)
  slots      mutation_pages, refcount_pages: pages whose first write in the worker's order is the
             s59 store / an ob_refcnt (computed by replaying the worker's writes)
  bytearray  big_pages (worker 0: pages of the big buffer it writes), object_pages and
             buffer_pages (worker 1: pages holding the small bytearray objects' ob_refcnt / the
             first byte of their buffers)
Standard library only, 3.8+ (ctypes and array are part of it).
"""

import argparse
import array
import ctypes
import gc
import sys

from _common import info, pages, refcount_pages, run_workers


class CRecord:
    __slots__ = ("a", "b", "c", "d")

    def __init__(self, i):
        self.a = i
        self.b = None
        self.c = None
        self.d = None


# zero-padded: CPython lays slots out in sorted name order, and s59 must be the last one
SLOTS = ["s%02d" % i for i in range(60)]


class SlotRecord:
    __slots__ = SLOTS

    def __init__(self, i):
        self.s00 = i


# Offset of the first slot and of a float's value: right after PyObject_HEAD (ob_refcnt,
# ob_type), in every CPython 3 version.
PAYLOAD_OFFSET = 16


def payload_addresses(objs):
    addrs = array.array("Q", (id(o) + PAYLOAD_OFFSET for o in objs))
    return addrs


def buffer_address(buf):
    """Address of a bytearray's buffer (the export is released before returning)."""
    view = (ctypes.c_char * 1).from_buffer(buf)
    addr = ctypes.addressof(view)
    del view
    return addr


def first_writes(records, slot_offset):
    """Replay set_last_slot(): (pages first written by the s59 store, by an ob_refcnt write)."""
    first = {}
    for r in records:
        first.setdefault(id(r) >> 12, "refcount")
        first.setdefault((id(r) + slot_offset) >> 12, "mutation")
    kinds = list(first.values())
    return kinds.count("mutation"), kinds.count("refcount")


def write_payloads(addrs):
    memmove = ctypes.memmove
    for a in addrs:
        memmove(a, a, 8)


def worker_ctypes(index, float_addrs, record_addrs):
    write_payloads(float_addrs)
    write_payloads(record_addrs)


def set_last_slot(records):
    for r in records:
        r.s59 = True


def worker_slots(index, records):
    set_last_slot(records)


def worker_bytearray(index, big, smalls):
    if index == 0:
        for i in range(0, len(big), 4096):
            big[i] = 1
    else:
        for b in smalls:
            b[0] = 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["ctypes", "slots", "bytearray"], required=True)
    ap.add_argument("--objects", type=int, default=0, help="default: per mode")
    ap.add_argument("--big-mib", type=int, default=32)
    args = ap.parse_args()

    gc.disable()  # no collection anywhere: only the writes this workload is about
    if args.mode == "ctypes":
        n = args.objects or 200000
        floats = [i + 0.5 for i in range(n)]
        records = [CRecord(i) for i in range(n)]
        # check the layout assumption before relying on it
        probe = ctypes.c_double.from_address(id(floats[7]) + PAYLOAD_OFFSET).value
        assert probe == 7.5, probe
        slot = ctypes.c_void_p.from_address(id(records[7]) + PAYLOAD_OFFSET).value
        assert slot == id(records[7].a), (slot, id(records[7].a))
        float_addrs = payload_addresses(floats)
        record_addrs = payload_addresses(records)
        info(mode=args.mode, objects=n, float_size=sys.getsizeof(floats[0]),
             record_size=sys.getsizeof(records[0]), float_pages=len(pages(float_addrs)),
             record_pages=len(pages(record_addrs)))
        run_workers(1, worker_ctypes, float_addrs, record_addrs)
    elif args.mode == "slots":
        n = args.objects or 40000
        records = [SlotRecord(i) for i in range(n)]
        slot_offset = PAYLOAD_OFFSET + 8 * 59
        probe = SlotRecord(-1)
        probe.s59 = probe
        assert ctypes.c_void_p.from_address(id(probe) + slot_offset).value == id(probe)
        del probe.s59
        mutation_pages, refcount_first = first_writes(records, slot_offset)
        info(mode=args.mode, objects=n, record_size=sys.getsizeof(records[0]),
             mutation_pages=mutation_pages, refcount_pages=refcount_first)
        run_workers(1, worker_slots, records)
    else:
        n = args.objects or 20000
        big = bytearray(b"\x5a") * (args.big_mib << 20)
        smalls = [bytearray(b"\xa5" * 200) for _ in range(n)]
        start = buffer_address(big)
        info(mode=args.mode, objects=n, big_bytes=len(big), small_bytes=len(smalls[0]),
             big_pages=len(pages(range(start, start + len(big), 4096))),
             object_pages=len(refcount_pages(smalls)),
             buffer_pages=len(pages(buffer_address(b) for b in smalls)))
        run_workers(2, worker_bytearray, big, smalls)


if __name__ == "__main__":
    main()
