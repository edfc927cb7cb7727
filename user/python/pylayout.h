// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-version memory layout of CPython objects and of pymalloc, for 64-bit default (GIL) builds
 * of CPython 3.8 to 3.15, as far as the copy-on-write decoder (pyobj.c) and the type validator
 * (pytypes.c) need it. Every value is cited in pylayout.c. From 3.13 on, py_layout_of() takes
 * the type and string offsets from the interpreter's own _Py_DebugOffsets (pyframes.h).
 * Free-threaded builds have no PyGC_Head and use mimalloc: they are refused.
 */
#ifndef COWTRACE_PYLAYOUT_H
#define COWTRACE_PYLAYOUT_H

#include <stdbool.h>

/* tp_flags bits (Include/object.h; same values in 3.8-3.15 where they exist) */
#define PY_TPFLAGS_MANAGED_WEAKREF  (1UL << 3) /* 3.12+ */
#define PY_TPFLAGS_MANAGED_DICT	    (1UL << 4) /* 3.11+ */
#define PY_TPFLAGS_HEAPTYPE	    (1UL << 9)
#define PY_TPFLAGS_READY	    (1UL << 12) /* PyType_Ready() done */
#define PY_TPFLAGS_HAVE_GC	    (1UL << 14)
#define PY_TPFLAGS_UNICODE_SUBCLASS (1UL << 28) /* str and its subclasses */
#define PY_TPFLAGS_TYPE_SUBCLASS    (1UL << 31) /* type and its subclasses (metatypes) */

/* sizeof(PyObject) with the default build's header: ob_refcnt and ob_type */
#define PY_OBJECT_HEAD 16

struct py_layout {
	int major, minor;
	unsigned int pool_size;	       /* 4096 (3.8/3.9) or 16384 (3.10+) */
	unsigned int pool_header;      /* POOL_OVERHEAD: 48 */
	unsigned int alignment;	       /* ALIGNMENT: 16; block size = (szidx + 1) * alignment */
	unsigned int small_max;	       /* SMALL_REQUEST_THRESHOLD: 512 */
	unsigned int gc_head;	       /* sizeof(PyGC_Head): 16, right before a GC object */
	unsigned long preheader_flags; /* tp_flags bits that add 16 bytes before the GC head */
	unsigned int preheader;	       /* size of that pre-header: 16 (0 before 3.11) */
	unsigned int tp_name_off, tp_flags_off, tp_basicsize_off;
	/*
	 * sizeof(PyASCIIObject). Compact str objects are allocated with this header plus the
	 * characters, i.e. smaller than str's tp_basicsize (sizeof(PyUnicodeObject)): the one
	 * built-in type whose instances can be smaller than tp_basicsize.
	 */
	unsigned int str_ascii_size;
	/* false where an entry comes from published sources only, never run here (none today:
	 * 3.14 and 3.15 were compared with Debian's 3.14.10 and 3.15.2) */
	bool tested;
};

/* The static entry, for 3.8-3.15; NULL for anything else. From 3.13 on, use py_layout_of(),
 * which takes the binary's own offsets. */
const struct py_layout *py_layout_for(int major, int minor);

struct py_interp;

/*
 * The layout for one interpreter binary (py_interp_inspect()): the static facts of its version
 * (pool geometry, GC head, pre-header, immortality rule: 3.8-3.15), with, for 3.13+,
 * tp_name, tp_flags, tp_basicsize (3.15 only; the PyTypeObject start did not move) and
 * sizeof(PyASCIIObject) taken from the binary's _Py_DebugOffsets. Returns 0, -ENOTSUP for an
 * unknown version or blob shape or a free-threaded build, -ENODATA when a 3.13+ binary gave no
 * blob, -EINVAL for a malformed blob or one that names another version than the binary.
 */
int py_layout_of(const struct py_interp *in, struct py_layout *out);

/*
 * Is refcnt (the 8 bytes at ob_refcnt, as read) the count of an immortal object in this
 * version? Never before 3.12 (PEP 683); the rules per version are in pylayout.c.
 */
bool py_refcnt_immortal(const struct py_layout *L, unsigned long long refcnt);

/* Could a live object carry this ob_refcnt value: a mortal count >= 1 or an immortal one. */
bool py_refcnt_live(const struct py_layout *L, unsigned long long refcnt);

/* Bytes allocated before the object for a type with these tp_flags (pre-header + GC head). */
unsigned int py_preheader_size(const struct py_layout *L, unsigned long tp_flags);

/*
 * Could p be a user-space pointer of a process on this architecture (the first page is never
 * mapped)? x86-64: below 2^47 (4-level paging); arm64: below 2^48 (its libraries and heap sit
 * just below it, 0xffff...). Either kernel hands out higher addresses (5-level paging, 52-bit
 * VA) only on explicit request.
 */
#if defined(__aarch64__)
#define PY_USER_VA_BITS 48
#else
#define PY_USER_VA_BITS 47
#endif
static inline bool py_user_ptr(unsigned long long p)
{
	return p >= 4096 && p < (1ULL << PY_USER_VA_BITS);
}

#endif
