// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The per-version offsets of pyframes.h, and how a binary's own _Py_DebugOffsets (read by
 * pydebug.c) fill them in for 3.13 and later.
 * Each 3.8-3.13.0 value was read three ways: gdb on the DWARF of the pyenv builds and of
 * Debian's python3.11 (python3.11-dbg), offsetof() compiled against each version's installed
 * headers with Py_BUILD_CORE, and in live processes by tests/e2e/check_pyframes.py. The 3.13,
 * 3.14 and 3.15 blob shapes are copies of their headers' declarations; what the blob gives,
 * and the table's 3.14/3.15 values, tests/e2e/check_debug_offsets.py compares with offsetof()
 * against Debian's 3.13.18, 3.14.10 and 3.15.2 headers, and follows in live processes of those
 * binaries (--live). Details: docs/python-frames.md.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pyframes.h"
#include "pyinterp.h"
#include "pylines.h"

#define NONE PY_OFFSET_NONE /* short, for the tables */

/*
 * A run of values that several versions share is written once, in one of the macros below, and
 * each version's entry names the macros that hold for it; what is left in an entry is its own.
 * PRE_ and FRAMEOBJ_CHAIN hold up to a version, SINCE_ from one on (each includes the one
 * before), the others for the versions their names give. No two macros of an entry set the same
 * field (gcc's -Woverride-init, in -Wextra, would say so).
 */

/* Fields that are the same in every version (Include/object.h, bytesobject.h, unicodeobject.h). */
#define COMMON_OBJECTS                                                                             \
	.object_type = 8, .type_name = 24, .bytes_size = 16, .bytes_data = 32,                     \
	.unicode_length = 16, .unicode_state = 32

/* Fields that do not exist before 3.11 (_PyInterpreterFrame, co_qualname, ...). */
#define PRE_311                                                                                    \
	.runtime_debug_offsets = NONE, .runtime_main_interpreter = NONE, .interp_gil_ptr = NONE,   \
	.tstate_cframe = NONE, .cframe_current_frame = NONE, .tstate_current_frame = NONE,         \
	.tstate_native_thread_id = NONE, .frame_instr_ptr = NONE, .frame_is_entry = NONE,          \
	.frame_owner = NONE, .frame_owner_incomplete = NONE, .code_qualname = NONE,                \
	.code_adaptive = NONE, .unicode_ascii_data = 48

/* 3.8-3.13: PyThreadState starts prev, next, interp (Include/cpython/pystate.h); struct
 * _gil_runtime_state interval, last_holder, locked (Include/internal/pycore_gil.h); f_code and
 * f_executable a plain PyObject *, no tag bits. */
#define PRE_314                                                                                    \
	.tstate_prev = 0, .tstate_next = 8, .tstate_interp = 16, .gil_last_holder = 8,             \
	.gil_locked = 16, .frame_code_tag_bits = 0

/* Shared by 3.8-3.10: the PyFrameObject chain and the 3.8 code object layout. */
#define FRAMEOBJ_CHAIN                                                                             \
	.runtime_interpreters_head = 32, .runtime_interpreters_main = 40, .interp_next = 0,        \
	.interp_threads_head = 8, .tstate_frame = 24, .tstate_thread_id = 176,                     \
	.frame_previous = 24, .frame_code = 32, .code_size = 176, .code_filename = 104,            \
	.code_name = 112, .code_firstlineno = 40, .code_linetable = 120

/* 3.11 on: frames are _PyInterpreterFrame (no PyFrameObject chain, no f_lasti), line tables
 * the locations table (Include/internal/pycore_frame.h, Include/cpython/code.h). */
#define SINCE_311                                                                                  \
	.tstate_frame = NONE, .frame_lasti = NONE, .lasti_unit = 0,                                \
	.linetable_format = PY_LINETABLE_LOCATIONS

/* 3.12 on: the GIL in the interpreter (no _PyRuntime.ceval.gil), no gilstate.tstate_current,
 * no is_entry; frames whose owner is 3 or more are shims, skipped (FRAME_OWNED_BY_CSTACK 3 in
 * 3.12 and 3.13, pycore_frame.h; 3.14 and 3.15 below). */
#define SINCE_312                                                                                  \
	.runtime_tstate_current = NONE, .runtime_gil = NONE, .frame_is_entry = NONE,               \
	.frame_owner_incomplete = 3, SINCE_311

/* 3.13 on: _Py_DebugOffsets first in _PyRuntime; tstate->current_frame, no _PyCFrame. */
#define SINCE_313                                                                                  \
	.runtime_debug_offsets = 0, .tstate_cframe = NONE, .cframe_current_frame = NONE, SINCE_312

/* 3.11-3.13: PyCodeObject's co_filename, co_name, co_qualname, co_linetable
 * (Include/cpython/code.h) and the frame's instruction pointer (prev_instr in 3.11 and 3.12,
 * instr_ptr in 3.13; pycore_frame.h) stay where 3.11 put them. */
#define IFRAME_311_313                                                                             \
	.code_filename = 112, .code_name = 120, .code_qualname = 128, .code_linetable = 136,       \
	.frame_instr_ptr = 56

/* 3.12 and 3.13: _PyInterpreterFrame starts f_code (3.12) or f_executable (3.13), previous,
 * and has owner at 70 (pycore_frame.h); co_firstlineno at 68; PyASCIIObject without wstr. */
#define IFRAME_312_313                                                                             \
	.frame_code = 0, .frame_previous = 8, .frame_owner = 70, .code_firstlineno = 68,           \
	.unicode_ascii_data = 40

/* 3.14+: the fields _Py_DebugOffsets gives, left to the binary (debug_overlay). */
#define FROM_DEBUG_OFFSETS                                                                         \
	.runtime_interpreters_head = NONE, .runtime_interpreters_main = NONE, .interp_next = NONE, \
	.interp_threads_head = NONE, .interp_gil_ptr = NONE, .gil_last_holder = NONE,              \
	.gil_locked = NONE, .tstate_size = NONE, .tstate_prev = NONE, .tstate_next = NONE,         \
	.tstate_interp = NONE, .tstate_current_frame = NONE, .tstate_thread_id = NONE,             \
	.tstate_native_thread_id = NONE, .frame_previous = NONE, .frame_code = NONE,               \
	.frame_instr_ptr = NONE, .frame_owner = NONE, .code_size = NONE, .code_filename = NONE,    \
	.code_name = NONE, .code_qualname = NONE, .code_firstlineno = NONE,                        \
	.code_linetable = NONE, .code_adaptive = NONE, .object_type = NONE, .type_name = NONE,     \
	.bytes_size = NONE, .bytes_data = NONE, .unicode_length = NONE, .unicode_state = NONE,     \
	.unicode_ascii_data = NONE

/* 3.14 on: what the blob gives left to it, and f_executable a tagged _PyStackRef (below). */
#define SINCE_314 FROM_DEBUG_OFFSETS, .frame_code_tag_bits = 3, SINCE_313

/* One group of related fields per line: easier to compare versions than one field a line. */
/* clang-format off */
static const struct py_frame_offsets table[] = {
    {
	/* Include/internal/pycore_pystate.h (_PyRuntimeState), Include/cpython/pystate.h,
	 * Include/frameobject.h, Include/code.h */
	.major = 3, .minor = 8, PRE_311, FRAMEOBJ_CHAIN, PRE_314, COMMON_OBJECTS,
	.runtime_size = 1464, .runtime_tstate_current = 1368, .runtime_autotss_key = 1392,
	.runtime_gil = 1152, .tstate_size = 264, .frame_lasti = 104, .lasti_unit = 1,
	.linetable_format = PY_LINETABLE_LNOTAB,
    },
    {
	/* Include/internal/pycore_runtime.h, pycore_interp.h, Include/cpython/pystate.h,
	 * Include/cpython/frameobject.h, Include/cpython/code.h */
	.major = 3, .minor = 9, PRE_311, FRAMEOBJ_CHAIN, PRE_314, COMMON_OBJECTS,
	.runtime_size = 656, .runtime_tstate_current = 568, .runtime_autotss_key = 584,
	.runtime_gil = 352, .tstate_size = 264, .frame_lasti = 104, .lasti_unit = 1,
	.linetable_format = PY_LINETABLE_LNOTAB,
    },
    {
	/* as 3.9; f_lasti now counts code units (2 bytes), co_linetable replaces co_lnotab */
	.major = 3, .minor = 10, PRE_311, FRAMEOBJ_CHAIN, PRE_314, COMMON_OBJECTS,
	.runtime_size = 672, .runtime_tstate_current = 568, .runtime_autotss_key = 584,
	.runtime_gil = 352, .tstate_size = 280, .frame_lasti = 96, .lasti_unit = 2,
	.linetable_format = PY_LINETABLE_310,
    },
    {
	/* Include/internal/pycore_runtime.h, pycore_interp.h, pycore_frame.h,
	 * Include/cpython/pystate.h (_PyCFrame), Include/cpython/code.h */
	.major = 3, .minor = 11, SINCE_311, IFRAME_311_313, PRE_314, COMMON_OBJECTS,
	.runtime_size = 166688, .runtime_debug_offsets = NONE, .runtime_tstate_current = 576,
	.runtime_autotss_key = 592, .runtime_interpreters_head = 40,
	.runtime_interpreters_main = 48, .runtime_main_interpreter = 58936, .runtime_gil = 360,
	.interp_next = 0, .interp_threads_head = 16, .interp_gil_ptr = NONE,
	.tstate_size = 360, .tstate_cframe = 56, .cframe_current_frame = 8,
	.tstate_current_frame = NONE, .tstate_thread_id = 152, .tstate_native_thread_id = 160,
	.frame_previous = 48, .frame_code = 32, .frame_is_entry = 68, .frame_owner = 69,
	.frame_owner_incomplete = NONE,
	.code_size = 192, .code_firstlineno = 72, .code_adaptive = 184, .unicode_ascii_data = 48,
    },
    {
	/* as 3.11; the GIL moved into the interpreter (interp->ceval.gil), no tstate_current;
	 * _PyCFrame lost use_tracing; FRAME_OWNED_BY_CSTACK = 3 shims */
	.major = 3, .minor = 12, SINCE_312, IFRAME_311_313, IFRAME_312_313, PRE_314, COMMON_OBJECTS,
	.runtime_size = 459944, .runtime_debug_offsets = NONE, .runtime_autotss_key = 1544,
	.runtime_interpreters_head = 40, .runtime_interpreters_main = 48,
	.runtime_main_interpreter = 76392,
	.interp_next = 0, .interp_threads_head = 72, .interp_gil_ptr = 384,
	.tstate_size = 288, .tstate_cframe = 56, .cframe_current_frame = 0,
	.tstate_current_frame = NONE, .tstate_thread_id = 136, .tstate_native_thread_id = 144,
	.code_size = 200, .code_adaptive = 192,
    },
    {
	/* as 3.12; _Py_DebugOffsets first in _PyRuntime, no cframe (tstate->current_frame),
	 * f_executable, instr_ptr points at the current instruction */
	.major = 3, .minor = 13, SINCE_313, IFRAME_311_313, IFRAME_312_313, PRE_314, COMMON_OBJECTS,
	.runtime_size = 283320, .runtime_autotss_key = 2160, .runtime_interpreters_head = 632,
	.runtime_interpreters_main = 640, .runtime_main_interpreter = 88352,
	.interp_next = 7264, .interp_threads_head = 7344, .interp_gil_ptr = 16,
	.tstate_size = 304, .tstate_current_frame = 72, .tstate_thread_id = 152,
	.tstate_native_thread_id = 160,
	.code_size = 208, .code_adaptive = 200,
    },
    /*
     * 3.14 and 3.15: only what _Py_DebugOffsets does not give; every field it gives is NONE
     * here and comes from the binary (py_frame_offsets_of). Each value below was compiled with
     * offsetof() against Debian's 3.14.10 and 3.15.2 headers (with the builds' own -D_Py_TIER2=3
     * -D_Py_JIT from PY_CORE_CFLAGS) and compared with the binaries by
     * tests/e2e/check_debug_offsets.py.
     *   frame_code_tag_bits 3: Py_TAG_BITS, Include/internal/pycore_stackref.h (default build);
     *     f_executable is a _PyStackRef whose bit 0 (Py_TAG_REFCNT) marks a reference that
     *     holds no count, PyStackRef_AsPyObjectBorrow() clears it; object addresses keep both
     *     low bits 0 (_PyObject_MIN_ALIGNMENT 4, Include/object.h).
     *   frame_owner_incomplete 3: _PyFrame_IsIncomplete() is owner >= FRAME_OWNED_BY_INTERPRETER
     *     (Include/internal/pycore_interpframe.h); enum _frameowner in
     *     pycore_interpframe_structs.h: THREAD 0, GENERATOR 1, FRAME_OBJECT 2, INTERPRETER 3,
     *     and in 3.14 only CSTACK 4 (3.15 has no CSTACK value).
     *   linetable_format: co_linetable "bytes object that holds location info"
     *     (Include/cpython/code.h), entry kinds of _PyCodeLocationInfoKind unchanged: SHORT0 0,
     *     ONE_LINE0-2 10-12, NO_COLUMNS 13, LONG 14, NONE 15.
     *   runtime_autotss_key: _PyRuntimeState.autoTSSkey (pycore_runtime_structs.h), gone in
     *     3.15; runtime_main_interpreter: _PyRuntimeState._main_interpreter. Both hold only for a
     *     build whose sizeof(_PyRuntimeState) is runtime_size (see debug_overlay()).
     *   runtime_interpreters_main: derived (struct pyinterpreters: head, then main).
     *   runtime_size: sizeof(_PyRuntimeState) of those builds, kept only as the key of the two
     *     values above; the blob's value replaces it.
     *   untested 0: check_debug_offsets.py --live walked both binaries' stacks (qualnames and
     *     first lines equal to the programs' own reports), and py_code_line() gave what their
     *     PyCode_Addr2Line() gives (docs/python-frames.md, section 3).
     */
    {
	.major = 3, .minor = 14, SINCE_314,
	.runtime_size = 316616, .runtime_autotss_key = 2336, .runtime_main_interpreter = 90752,
    },
    {
	.major = 3, .minor = 15, SINCE_314,
	.runtime_size = 346568, .runtime_autotss_key = NONE, .runtime_main_interpreter = 120328,
    },
};
/* clang-format on */

const struct py_frame_offsets *py_frame_offsets_for(int major, int minor)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].major == major && table[i].minor == minor)
			return &table[i];
	return NULL;
}

#define FIELD(f)                                                                                   \
	{                                                                                          \
#f, offsetof(struct py_frame_offsets, f)                                           \
	}
const struct py_frame_offset_field py_frame_offset_fields[] = {
    FIELD(major),
    FIELD(minor),
    FIELD(untested),
    FIELD(runtime_size),
    FIELD(runtime_debug_offsets),
    FIELD(runtime_tstate_current),
    FIELD(runtime_autotss_key),
    FIELD(runtime_interpreters_head),
    FIELD(runtime_interpreters_main),
    FIELD(runtime_main_interpreter),
    FIELD(runtime_gil),
    FIELD(interp_next),
    FIELD(interp_threads_head),
    FIELD(interp_gil_ptr),
    FIELD(gil_last_holder),
    FIELD(gil_locked),
    FIELD(tstate_size),
    FIELD(tstate_prev),
    FIELD(tstate_next),
    FIELD(tstate_interp),
    FIELD(tstate_frame),
    FIELD(tstate_cframe),
    FIELD(cframe_current_frame),
    FIELD(tstate_current_frame),
    FIELD(tstate_thread_id),
    FIELD(tstate_native_thread_id),
    FIELD(frame_previous),
    FIELD(frame_code),
    FIELD(frame_code_tag_bits),
    FIELD(frame_lasti),
    FIELD(lasti_unit),
    FIELD(frame_instr_ptr),
    FIELD(frame_is_entry),
    FIELD(frame_owner),
    FIELD(frame_owner_incomplete),
    FIELD(code_size),
    FIELD(code_filename),
    FIELD(code_name),
    FIELD(code_qualname),
    FIELD(code_firstlineno),
    FIELD(code_linetable),
    FIELD(code_adaptive),
    FIELD(linetable_format),
    FIELD(object_type),
    FIELD(type_name),
    FIELD(bytes_size),
    FIELD(bytes_data),
    FIELD(unicode_length),
    FIELD(unicode_state),
    FIELD(unicode_ascii_data),
    {NULL, 0},
};
#undef FIELD

/* The table entry for d's version with what d gives laid over it. */
static int debug_overlay(const struct py_debug_offsets *d, struct py_frame_offsets *out)
{
	const struct py_frame_offsets *base = py_frame_offsets_for(d->major, d->minor);
	struct py_frame_offsets o;

	if (!base)
		return -ENOTSUP;
	o = *base;
	/*
	 * The table's offsets inside _PyRuntimeState that the blob does not give (autoTSSkey,
	 * _main_interpreter) were read from one build; a build whose _PyRuntimeState has another
	 * size may have them elsewhere (3.13.0: _main_interpreter 88352, 3.13.18: 88424).
	 */
	if (o.runtime_size != d->runtime_size) {
		o.runtime_autotss_key = NONE;
		o.runtime_main_interpreter = NONE;
	}
	o.runtime_size = d->runtime_size;
	o.runtime_interpreters_head = d->runtime_interpreters_head;
	/* struct pyinterpreters: PyMutex mutex; head; main; (pycore_runtime.h 3.13,
	 * pycore_runtime_structs.h 3.14+) */
	o.runtime_interpreters_main = d->runtime_interpreters_head + 8;
	o.interp_next = d->interp_next;
	o.interp_threads_head = d->interp_threads_head;
	o.interp_gil_ptr = d->interp_ceval_gil;
	/* the blob gives the GIL fields inside PyInterpreterState._gil; keep them relative, as
	 * interp->ceval.gil points at the GIL in use */
	o.gil_locked = d->interp_gil_locked - d->interp_gil;
	o.gil_last_holder = d->interp_gil_holder - d->interp_gil;
	o.tstate_size = d->tstate_size;
	o.tstate_prev = d->tstate_prev;
	o.tstate_next = d->tstate_next;
	o.tstate_interp = d->tstate_interp;
	o.tstate_current_frame = d->tstate_current_frame;
	o.tstate_thread_id = d->tstate_thread_id;
	o.tstate_native_thread_id = d->tstate_native_thread_id;
	o.frame_previous = d->frame_previous;
	o.frame_code = d->frame_executable;
	o.frame_instr_ptr = d->frame_instr_ptr;
	o.frame_owner = d->frame_owner;
	o.code_size = d->code_size;
	o.code_filename = d->code_filename;
	o.code_name = d->code_name;
	o.code_qualname = d->code_qualname;
	o.code_linetable = d->code_linetable;
	o.code_firstlineno = d->code_firstlineno;
	o.code_adaptive = d->code_adaptive;
	o.object_type = d->object_type;
	o.type_name = d->type_name;
	o.bytes_size = d->bytes_ob_size;
	o.bytes_data = d->bytes_sval;
	o.unicode_length = d->unicode_length;
	o.unicode_state = d->unicode_state;
	o.unicode_ascii_data = d->unicode_ascii_size;
	*out = o;
	return 0;
}

int py_frame_offsets_from_debug(const void *blob, size_t len, struct py_frame_offsets *out)
{
	struct py_debug_offsets d;
	int err = py_debug_offsets_parse(blob, len, &d);

	return err ? err : debug_overlay(&d, out);
}

int py_interp_offsets_source(const struct py_interp *in, struct py_debug_offsets *d)
{
	int err;

	if (!in)
		return -EINVAL;
	if (in->free_threaded)
		return -ENOTSUP;
	if (in->major == 3 && in->minor < 13)
		return 0;
	err = py_interp_debug_offsets(in, d);
	return err ? err : 1;
}

int py_frame_offsets_of(const struct py_interp *in, struct py_frame_offsets *out)
{
	const struct py_frame_offsets *base;
	struct py_debug_offsets d;
	int src;

	if (!in || !out || !(base = py_frame_offsets_for(in->major, in->minor)))
		return in && out ? -ENOTSUP : -EINVAL;
	src = py_interp_offsets_source(in, &d);
	if (src <= 0) {
		if (!src)
			*out = *base;
		return src;
	}
	return debug_overlay(&d, out);
}

int py_interp_debug_offsets(const struct py_interp *in, struct py_debug_offsets *d)
{
	int err;

	if (!in->debug_offsets_len)
		return -ENODATA;
	err = py_debug_offsets_parse(in->debug_offsets, in->debug_offsets_len, d);
	if (err)
		return err;
	if (d->major != in->major || d->minor != in->minor)
		return -EINVAL; /* the blob and Py_Version disagree: not a file to trust */
	return 0;
}
