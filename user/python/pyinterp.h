// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Is an ELF file mapped into a traced process a CPython interpreter, and how can cowtrace see its
 * garbage collections? Reads the file only; never runs it. Per-version facts and how they were
 * verified: docs/python-versions.md.
 */
#ifndef COWTRACE_PYINTERP_H
#define COWTRACE_PYINTERP_H

#include <stdbool.h>
#include <sys/types.h>

#include "pyframes.h" /* PY_DEBUG_OFFSETS_MAX */

enum py_gc_source { PY_GC_NONE, PY_GC_USDT, PY_GC_UPROBE };

struct py_interp {
	/*
	 * The path as given, not resolved: the kernel follows symlinks itself when a uprobe is
	 * attached by path, and a user-space realpath() would resolve /proc/PID/root/... and
	 * /proc/PID/map_files/... textually, i.e. in our mount namespace instead of the target's.
	 * dev/ino identify the file that was actually inspected (fstat of the same descriptor),
	 * so callers can key binaries by them and notice a file replaced before attaching.
	 */
	char path[4096];
	dev_t dev;
	ino_t ino;
	/* 0,0,0 when unknown; micro is 0 when only the ABI tag ("cpython-39") gave the version */
	int major, minor, micro;
	bool free_threaded;	     /* 3.13t+: symbols, ABI tag or _Py_DebugOffsets say so */
	bool has_usdt_gc;	     /* .note.stapsdt has provider python, gc__start AND gc__done */
	enum py_gc_source gc_source; /* USDT preferred; else UPROBE when a collector is found */
	/*
	 * Uprobe fallback, filled whenever a collector function is found (also when gc_source is
	 * USDT, so a failed USDT attach can still fall back). Attach a uprobe and a uretprobe to
	 * gc_func_offset; the collection runs from entry to the matching return. From 3.13 on the
	 * function can be re-entered and return 0 at once when a finalizer calls gc.collect()
	 * during a collection: count depth per thread and end the collection at depth 0.
	 */
	char gc_func[64];	      /* symbol name, e.g. "gc_collect_main" */
	unsigned long gc_func_offset; /* FILE offset of that function (what a uprobe needs) */
	/*
	 * 1-based System V argument index holding the generation (int), or 0 if the entry cannot
	 * give it. A value outside 0..2 read from it means "not known at entry": 3.13 passes -1
	 * (GENERATION_AUTO) for automatic collections and picks the generation inside.
	 */
	int gc_gen_arg;
	/*
	 * A second entry point into the same collector, "" if none. GCC split collect() in the
	 * 3.6-3.8 builds: collect.constprop.0 is the copy with generation 2 folded in, called by
	 * PyGC_Collect() and _PyGC_CollectNoFail() (interpreter shutdown). Probe it like gc_func;
	 * it never nests with gc_func.
	 */
	char gc_func2[64];
	unsigned long gc_func2_offset;
	int gc_func2_gen; /* the generation it always collects, -1 if unknown */
	/*
	 * For stack walks: the link-time address and size of _PyRuntime (0 when the file has no
	 * such symbol), and of the segment mapped from file offset 0. In a process, _PyRuntime is
	 * at runtime_vaddr + (start of the file's offset-0 mapping - load_vaddr).
	 */
	unsigned long runtime_vaddr;
	unsigned long runtime_size;
	unsigned long load_vaddr;
	/*
	 * 3.13+ (ELFCLASS64, little-endian): the first bytes of _PyRuntime as the file holds them,
	 * i.e. _Py_DebugOffsets in the static initializer of the .PyRuntime section, for
	 * py_frame_offsets_of() and py_layout_of(). min(st_size, PY_DEBUG_OFFSETS_MAX) bytes, taken
	 * only when the symbol's whole extent lies in a section present in the file; stored as
	 * read, cookie and all (the parser checks them). debug_offsets_len is 0 when there is no
	 * such blob: before 3.13, no _PyRuntime, or bytes not in the file.
	 */
	unsigned int debug_offsets_len;
	unsigned char debug_offsets[PY_DEBUG_OFFSETS_MAX];
};

/*
 * 0 when path is a CPython interpreter (fills *out), -ENOENT when it is a valid ELF but not
 * CPython (also when the file does not exist: either way there is nothing to attach), other
 * -errno (-ENOEXEC for an empty, non-ELF, truncated or garbage file). *out is cleared first.
 */
int py_interp_inspect(const char *path, struct py_interp *out);

/*
 * Cheap name filter before opening files: the basename is python, python3, python3.X (with
 * ABI letters such as python3.13t), or libpython3.X*.so* (the libpython3.so stable-ABI stub
 * holds no interpreter and is left out).
 */
bool py_interp_name_candidate(const char *path);

const char *py_gc_source_name(enum py_gc_source s); /* "usdt", "uprobe", "none" */

#endif /* COWTRACE_PYINTERP_H */
