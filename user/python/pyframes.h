/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where CPython keeps what a stack walker needs, per version: from _PyRuntime to the thread
 * state of a given thread, from there along the frame chain to the code objects, and in the code
 * objects the names, file, first line and line table. Offsets are bytes, x86-64, default
 * (GIL) builds; -1 means the field does not exist in that version.
 *
 * Every value for 3.8-3.13 was read from the DWARF of the pyenv builds and of Debian's 3.11
 * (gdb), computed again with offsetof() against each version's installed headers, and followed
 * in live processes by tests/e2e/check_pyframes.py. From 3.13 on the interpreter carries its
 * own offsets (_Py_DebugOffsets, below): py_frame_offsets_of() takes them from the ELF file and
 * the table supplies only what they lack; tests/e2e/check_debug_offsets.py compares the result
 * with offsetof() compiled against the headers of Debian's 3.13.18, 3.14.10 and 3.15.2.
 * Sources, commands and output: docs/python-frames.md.
 *
 * The walk, in short (see the doc for the costs and the reasons):
 *   tstate:  the thread list of the interpreter, matched on thread_id, which is pthread_self()
 *            and on x86-64 glibc equals the thread's fs base (task->thread.fsbase); it survives
 *            fork(), while native_thread_id (3.11+) is rewritten only in PyOS_AfterFork_Child.
 *            3.8-3.11 also have runtime_tstate_current, which is only the GIL holder.
 *   frame:   3.8-3.10 tstate->frame (PyFrameObject); 3.11/3.12 tstate->cframe->current_frame;
 *            3.13+ tstate->current_frame (both _PyInterpreterFrame)
 *   next:    frame_previous; in 3.12+ skip frames whose owner >= frame_owner_incomplete
 *   code:    frame_code, with the low frame_code_tag_bits cleared (3.14+ _PyStackRef)
 *   offset:  3.8-3.10 f_lasti * lasti_unit; 3.11+ frame_instr_ptr value - (code + code_adaptive)
 *   line:    py_code_line() (pylines.h) on the bytes of code_linetable
 */
#ifndef COWTRACE_PYFRAMES_H
#define COWTRACE_PYFRAMES_H

#include <stddef.h>
#include <stdint.h>

/*
 * PyASCIIObject.state (Include/cpython/unicodeobject.h), the same bits in 3.8-3.15 default
 * builds: interned:2, kind:3, compact:1, ascii:1, then ready:1 (<= 3.11) or
 * statically_allocated:1 (3.12+). A string whose state has COMPACT and ASCII set keeps its
 * characters right after the PyASCIIObject header (unicode_ascii_data), NUL-terminated, length
 * at unicode_length. Names and file names of code objects are nearly always such strings.
 */
#define PY_UNICODE_STATE_KIND_SHIFT 2
#define PY_UNICODE_STATE_KIND_MASK  7
#define PY_UNICODE_STATE_COMPACT    (1u << 5)
#define PY_UNICODE_STATE_ASCII	    (1u << 6)

/*
 * All fields are int so that the table can be listed generically (py_frame_offset_fields).
 * Offsets are relative to the start of the named structure.
 */
struct py_frame_offsets {
	int major, minor;
	int untested; /* 1: the stack walk was never followed in a live process of this version */

	/* _PyRuntime (the symbol; 3.13+: debug offsets first) */
	int runtime_size;	       /* sizeof(_PyRuntimeState), = st_size of the symbol */
	int runtime_debug_offsets;     /* _Py_DebugOffsets, "xdebugpy" (3.13+) */
	int runtime_tstate_current;    /* gilstate.tstate_current: GIL holder or NULL (3.8-3.11) */
	int runtime_autotss_key;       /* Py_tss_t autoTSSkey; the pthread_key_t is at +4 */
	int runtime_interpreters_head; /* PyInterpreterState * */
	int runtime_interpreters_main; /* PyInterpreterState * */
	int runtime_main_interpreter;  /* the main interpreter, embedded (3.11+) */
	int runtime_gil;	       /* ceval.gil: struct _gil_runtime_state (3.8-3.11) */

	/* PyInterpreterState */
	int interp_next;
	int interp_threads_head; /* tstate_head (3.8-3.10), threads.head (3.11+) */
	int interp_gil_ptr;	 /* ceval.gil, pointer to the GIL in use (3.12+) */

	/* struct _gil_runtime_state */
	int gil_last_holder; /* PyThreadState *, the last thread that took the GIL */
	int gil_locked;	     /* int; the GIL is held now when it is 1 */

	/* PyThreadState */
	int tstate_size;
	int tstate_prev;
	int tstate_next;
	int tstate_interp;
	int tstate_frame;	     /* PyFrameObject *frame (3.8-3.10) */
	int tstate_cframe;	     /* _PyCFrame *cframe (3.11, 3.12) */
	int cframe_current_frame;    /* _PyInterpreterFrame * in _PyCFrame (3.11, 3.12) */
	int tstate_current_frame;    /* _PyInterpreterFrame *current_frame (3.13+) */
	int tstate_thread_id;	     /* unsigned long, pthread_self() */
	int tstate_native_thread_id; /* unsigned long, gettid() (3.11+) */

	/* the frame: PyFrameObject (3.8-3.10) or _PyInterpreterFrame (3.11+) */
	int frame_previous;	    /* f_back / previous */
	int frame_code;		    /* f_code (3.8-3.12) / f_executable (3.13+) */
	int frame_code_tag_bits;    /* low bits to clear in frame_code (3.14+ _PyStackRef) */
	int frame_lasti;	    /* int f_lasti (3.8-3.10) */
	int lasti_unit;		    /* bytes per f_lasti step: 1 (3.8, 3.9), 2 (3.10) */
	int frame_instr_ptr;	    /* prev_instr (3.11, 3.12) / instr_ptr (3.13+) */
	int frame_is_entry;	    /* char is_entry (3.11 only) */
	int frame_owner;	    /* char owner (3.11+) */
	int frame_owner_incomplete; /* skip frames with owner >= this (3.12+: C-stack shims) */

	/* PyCodeObject */
	int code_size; /* sizeof(PyCodeObject) */
	int code_filename;
	int code_name;
	int code_qualname;    /* 3.11+ */
	int code_firstlineno; /* int */
	int code_linetable;   /* bytes: co_lnotab (3.8, 3.9), co_linetable (3.10+) */
	int code_adaptive;    /* co_code_adaptive, the bytecode in the object (3.11+) */
	int linetable_format; /* enum py_linetable_format (pylines.h) */

	/* objects */
	int object_type;	/* ob_type */
	int type_name;		/* PyTypeObject.tp_name (a code object's type is checked by name) */
	int bytes_size;		/* ob_size of a bytes object */
	int bytes_data;		/* ob_sval */
	int unicode_length;	/* PyASCIIObject.length */
	int unicode_state;	/* PyASCIIObject.state (4 bytes of bit fields) */
	int unicode_ascii_data; /* sizeof(PyASCIIObject): compact ASCII characters */
};

/*
 * The table entry for a version, NULL when unknown (before 3.8, after 3.15, not 3.x). From 3.14
 * on the entry holds only what _Py_DebugOffsets does not give (everything it gives is -1): use
 * py_frame_offsets_of() for a binary, which fills the rest from the binary itself.
 */
const struct py_frame_offsets *py_frame_offsets_for(int major, int minor);

/* an offset a version does not have (or, in a 3.14+ table entry, that the binary gives) */
#define PY_OFFSET_NONE (-1)

/* The fields of struct py_frame_offsets by name, ending with {NULL, 0}: for listings and tests. */
struct py_frame_offset_field {
	const char *name;
	size_t offset; /* offsetof(struct py_frame_offsets, name) */
};
extern const struct py_frame_offset_field py_frame_offset_fields[];

/*
 * _Py_DebugOffsets (3.13+), the first field of _PyRuntime and, in the ELF file, the first bytes
 * of the .PyRuntime section's static initializer: char cookie[8] = "xdebugpy", uint64_t version
 * (PY_VERSION_HEX), uint64_t free_threaded, then groups of uint64_t offsets and sizes, declared
 * in Include/internal/pycore_runtime.h (3.13) and pycore_debug_offsets.h (3.14, 3.15). The
 * groups grow between versions (3.14 inserts interpreter_state.threads_main, 3.15
 * thread_state.base_frame, ...), so the shape is chosen by the version in the blob, and a
 * version whose shape is not written in pyframes.c is refused, never guessed.
 *
 * What cowtrace takes from it, for any shape: byte offsets and sizes as the interpreter's own
 * compiler computed them, each checked to lie inside the structure whose size the blob gives.
 * -1 where the shape has no such field.
 */
struct py_debug_offsets {
	int major, minor, micro; /* from version */
	int runtime_size, runtime_interpreters_head;
	int interp_size, interp_next, interp_threads_head;
	int interp_ceval_gil; /* ceval.gil: struct _gil_runtime_state *, the GIL in use */
	int interp_gil, interp_gil_locked, interp_gil_holder; /* the embedded _gil, its fields */
	int tstate_size, tstate_prev, tstate_next, tstate_interp, tstate_current_frame,
	    tstate_thread_id, tstate_native_thread_id;
	int frame_size, frame_previous, frame_executable, frame_instr_ptr, frame_owner;
	int code_size, code_filename, code_name, code_qualname, code_linetable, code_firstlineno,
	    code_adaptive;
	int object_size, object_type;
	int type_size, type_name, type_flags, type_basicsize; /* tp_basicsize: 3.15+ */
	int bytes_size, bytes_ob_size, bytes_sval;
	int unicode_size, unicode_state, unicode_length, unicode_ascii_size;
};

/*
 * Parse the blob read at the start of _PyRuntime (len bytes; more than the shape is fine).
 * Returns 0, or, checked in this order:
 *   -ENODATA  len is shorter than the 24-byte header or than the version's shape
 *   -EINVAL   the cookie is not "xdebugpy", or free_threaded is neither 0 nor 1
 *   -ENOTSUP  free_threaded is 1 (cowtrace declines free-threaded builds), or the version is
 *             not one whose shape is known: 3.13, 3.14, 3.15, release candidates and finals
 *   -EINVAL   an implausible value: an offset >= 1 MiB or outside its structure, PyObject not
 *             16 bytes with ob_type at 8 (not a 64-bit default build)
 * *out is written only on success.
 */
int py_debug_offsets_parse(const void *blob, size_t len, struct py_debug_offsets *out);

struct py_interp;
/* The debug offsets a 3.13+ binary carries (struct py_interp's blob, parsed): 0, -ENODATA when
 * it has none, -EINVAL when they name another version than the binary does, or what
 * py_debug_offsets_parse() returns. */
int py_interp_debug_offsets(const struct py_interp *in, struct py_debug_offsets *d);
/*
 * Where in's layouts (frames, objects) come from: 0, the version's table alone (before 3.13);
 * 1, the table with the binary's own debug offsets over it (*d filled); -EINVAL without in,
 * -ENOTSUP for a free-threaded build, or what py_interp_debug_offsets() returns.
 */
int py_interp_offsets_source(const struct py_interp *in, struct py_debug_offsets *d);

/*
 * Fill *out from the blob: the table entry for the blob's version first (for what the blob does
 * not carry: cframe, tag bits, owner values, line table format), then every offset the blob
 * gives. Returns what py_debug_offsets_parse() returns; *out is written only on success.
 */
int py_frame_offsets_from_debug(const void *blob, size_t len, struct py_frame_offsets *out);

/*
 * The offsets for one interpreter binary (py_interp_inspect()): for 3.8-3.12 the table entry;
 * for 3.13+ the table entry overlaid with the binary's own _Py_DebugOffsets (the blob that
 * py_interp_inspect() stored in *in). Returns 0, -ENOTSUP for a version or blob shape that is
 * not known or a free-threaded build, -ENODATA when a 3.13+ binary gave no blob, -EINVAL when
 * the blob is malformed or names another version than the binary's Py_Version.
 */
int py_frame_offsets_of(const struct py_interp *in, struct py_frame_offsets *out);

/*
 * Bytes to read from the start of _PyRuntime so that any known shape fits: 584 (3.13), 760
 * (3.14), 888 (3.15); pyframes.c checks each at compile time.
 */
#define PY_DEBUG_OFFSETS_MAX 1024

#endif /* COWTRACE_PYFRAMES_H */
