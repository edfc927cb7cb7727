// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The per-version offsets of pyframes.h, and the reader of CPython's own _Py_DebugOffsets.
 * Each 3.8-3.13 value was read three ways: gdb on the DWARF of the pyenv builds and of Debian's
 * python3.11 (python3.11-dbg), offsetof() compiled against each version's installed headers with
 * Py_BUILD_CORE, and in live processes by tests/e2e/check_pyframes.py. Details:
 * docs/python-frames.md.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "pyframes.h"
#include "pylines.h"

#define NONE (-1)

/* Fields that are the same in every version (Include/object.h, bytesobject.h, unicodeobject.h). */
#define COMMON_OBJECTS                                                                             \
	.object_type = 8, .bytes_size = 16, .bytes_data = 32, .unicode_length = 16,                \
	.unicode_state = 32

/* Fields that do not exist before 3.11 (_PyInterpreterFrame, co_qualname, ...). */
#define PRE_311                                                                                    \
	.runtime_debug_offsets = NONE, .runtime_main_interpreter = NONE, .interp_gil_ptr = NONE,   \
	.tstate_cframe = NONE, .cframe_current_frame = NONE, .tstate_current_frame = NONE,         \
	.tstate_native_thread_id = NONE, .frame_code_tag_bits = 0, .frame_instr_ptr = NONE,        \
	.frame_is_entry = NONE, .frame_owner = NONE, .frame_owner_incomplete = NONE,               \
	.code_qualname = NONE, .code_adaptive = NONE, .unicode_ascii_data = 48

/* Shared by 3.8-3.10: the PyFrameObject chain and the 3.8 code object layout. */
#define FRAMEOBJ_CHAIN                                                                             \
	.runtime_interpreters_head = 32, .runtime_interpreters_main = 40, .interp_next = 0,        \
	.interp_threads_head = 8, .gil_last_holder = 8, .gil_locked = 16, .tstate_prev = 0,        \
	.tstate_next = 8, .tstate_interp = 16, .tstate_frame = 24, .tstate_thread_id = 176,        \
	.frame_previous = 24, .frame_code = 32, .code_size = 176, .code_filename = 104,            \
	.code_name = 112, .code_firstlineno = 40, .code_linetable = 120

/* One group of related fields per line: easier to compare versions than one field a line. */
/* clang-format off */
static const struct py_frame_offsets table[] = {
    {
	/* Include/internal/pycore_pystate.h (_PyRuntimeState), Include/cpython/pystate.h,
	 * Include/frameobject.h, Include/code.h */
	.major = 3, .minor = 8, PRE_311, FRAMEOBJ_CHAIN, COMMON_OBJECTS,
	.runtime_size = 1464, .runtime_tstate_current = 1368, .runtime_autotss_key = 1392,
	.runtime_gil = 1152, .tstate_size = 264, .frame_lasti = 104, .lasti_unit = 1,
	.linetable_format = PY_LINETABLE_LNOTAB,
    },
    {
	/* Include/internal/pycore_runtime.h, pycore_interp.h, Include/cpython/pystate.h,
	 * Include/cpython/frameobject.h, Include/cpython/code.h */
	.major = 3, .minor = 9, PRE_311, FRAMEOBJ_CHAIN, COMMON_OBJECTS,
	.runtime_size = 656, .runtime_tstate_current = 568, .runtime_autotss_key = 584,
	.runtime_gil = 352, .tstate_size = 264, .frame_lasti = 104, .lasti_unit = 1,
	.linetable_format = PY_LINETABLE_LNOTAB,
    },
    {
	/* as 3.9; f_lasti now counts code units (2 bytes), co_linetable replaces co_lnotab */
	.major = 3, .minor = 10, PRE_311, FRAMEOBJ_CHAIN, COMMON_OBJECTS,
	.runtime_size = 672, .runtime_tstate_current = 568, .runtime_autotss_key = 584,
	.runtime_gil = 352, .tstate_size = 280, .frame_lasti = 96, .lasti_unit = 2,
	.linetable_format = PY_LINETABLE_310,
    },
    {
	/* Include/internal/pycore_runtime.h, pycore_interp.h, pycore_frame.h,
	 * Include/cpython/pystate.h (_PyCFrame), Include/cpython/code.h */
	.major = 3, .minor = 11, COMMON_OBJECTS,
	.runtime_size = 166688, .runtime_debug_offsets = NONE, .runtime_tstate_current = 576,
	.runtime_autotss_key = 592, .runtime_interpreters_head = 40,
	.runtime_interpreters_main = 48, .runtime_main_interpreter = 58936, .runtime_gil = 360,
	.interp_next = 0, .interp_threads_head = 16, .interp_gil_ptr = NONE,
	.gil_last_holder = 8, .gil_locked = 16,
	.tstate_size = 360, .tstate_prev = 0, .tstate_next = 8, .tstate_interp = 16,
	.tstate_frame = NONE, .tstate_cframe = 56, .cframe_current_frame = 8,
	.tstate_current_frame = NONE, .tstate_thread_id = 152, .tstate_native_thread_id = 160,
	.frame_previous = 48, .frame_code = 32, .frame_code_tag_bits = 0, .frame_lasti = NONE,
	.lasti_unit = 0, .frame_instr_ptr = 56, .frame_is_entry = 68, .frame_owner = 69,
	.frame_owner_incomplete = NONE,
	.code_size = 192, .code_filename = 112, .code_name = 120, .code_qualname = 128,
	.code_firstlineno = 72, .code_linetable = 136, .code_adaptive = 184,
	.linetable_format = PY_LINETABLE_LOCATIONS, .unicode_ascii_data = 48,
    },
    {
	/* as 3.11; the GIL moved into the interpreter (interp->ceval.gil), no tstate_current;
	 * _PyCFrame lost use_tracing; FRAME_OWNED_BY_CSTACK = 3 shims */
	.major = 3, .minor = 12, COMMON_OBJECTS,
	.runtime_size = 459944, .runtime_debug_offsets = NONE, .runtime_tstate_current = NONE,
	.runtime_autotss_key = 1544, .runtime_interpreters_head = 40,
	.runtime_interpreters_main = 48, .runtime_main_interpreter = 76392, .runtime_gil = NONE,
	.interp_next = 0, .interp_threads_head = 72, .interp_gil_ptr = 384,
	.gil_last_holder = 8, .gil_locked = 16,
	.tstate_size = 288, .tstate_prev = 0, .tstate_next = 8, .tstate_interp = 16,
	.tstate_frame = NONE, .tstate_cframe = 56, .cframe_current_frame = 0,
	.tstate_current_frame = NONE, .tstate_thread_id = 136, .tstate_native_thread_id = 144,
	.frame_previous = 8, .frame_code = 0, .frame_code_tag_bits = 0, .frame_lasti = NONE,
	.lasti_unit = 0, .frame_instr_ptr = 56, .frame_is_entry = NONE, .frame_owner = 70,
	.frame_owner_incomplete = 3,
	.code_size = 200, .code_filename = 112, .code_name = 120, .code_qualname = 128,
	.code_firstlineno = 68, .code_linetable = 136, .code_adaptive = 192,
	.linetable_format = PY_LINETABLE_LOCATIONS, .unicode_ascii_data = 40,
    },
    {
	/* as 3.12; _Py_DebugOffsets first in _PyRuntime, no cframe (tstate->current_frame),
	 * f_executable, instr_ptr points at the current instruction */
	.major = 3, .minor = 13, COMMON_OBJECTS,
	.runtime_size = 283320, .runtime_debug_offsets = 0, .runtime_tstate_current = NONE,
	.runtime_autotss_key = 2160, .runtime_interpreters_head = 632,
	.runtime_interpreters_main = 640, .runtime_main_interpreter = 88352, .runtime_gil = NONE,
	.interp_next = 7264, .interp_threads_head = 7344, .interp_gil_ptr = 16,
	.gil_last_holder = 8, .gil_locked = 16,
	.tstate_size = 304, .tstate_prev = 0, .tstate_next = 8, .tstate_interp = 16,
	.tstate_frame = NONE, .tstate_cframe = NONE, .cframe_current_frame = NONE,
	.tstate_current_frame = 72, .tstate_thread_id = 152, .tstate_native_thread_id = 160,
	.frame_previous = 8, .frame_code = 0, .frame_code_tag_bits = 0, .frame_lasti = NONE,
	.lasti_unit = 0, .frame_instr_ptr = 56, .frame_is_entry = NONE, .frame_owner = 70,
	.frame_owner_incomplete = 3,
	.code_size = 208, .code_filename = 112, .code_name = 120, .code_qualname = 128,
	.code_firstlineno = 68, .code_linetable = 136, .code_adaptive = 200,
	.linetable_format = PY_LINETABLE_LOCATIONS, .unicode_ascii_data = 40,
    },
    {
	/*
	 * UNTESTED, from CPython 3.14 sources: Include/internal/pycore_interpframe_structs.h
	 * (f_executable is a _PyStackRef whose low bit tags a deferred reference; owner after
	 * uint16_t return_offset at 72; FRAME_OWNED_BY_INTERPRETER = 3 and
	 * FRAME_OWNED_BY_CSTACK = 4, both incomplete), Include/cpython/unicodeobject.h. The
	 * runtime, interpreter, thread state and code object offsets are left to
	 * _Py_DebugOffsets (py_frame_offsets_from_debug), which every 3.14 build carries.
	 */
	.major = 3, .minor = 14, .untested = 1, COMMON_OBJECTS,
	.runtime_size = NONE, .runtime_debug_offsets = 0, .runtime_tstate_current = NONE,
	.runtime_autotss_key = NONE, .runtime_interpreters_head = NONE,
	.runtime_interpreters_main = NONE, .runtime_main_interpreter = NONE, .runtime_gil = NONE,
	.interp_next = NONE, .interp_threads_head = NONE, .interp_gil_ptr = NONE,
	.gil_last_holder = NONE, .gil_locked = NONE,
	.tstate_size = NONE, .tstate_prev = NONE, .tstate_next = NONE, .tstate_interp = NONE,
	.tstate_frame = NONE, .tstate_cframe = NONE, .cframe_current_frame = NONE,
	.tstate_current_frame = NONE, .tstate_thread_id = NONE, .tstate_native_thread_id = NONE,
	.frame_previous = 8, .frame_code = 0, .frame_code_tag_bits = 3, .frame_lasti = NONE,
	.lasti_unit = 0, .frame_instr_ptr = 56, .frame_is_entry = NONE, .frame_owner = 74,
	.frame_owner_incomplete = 3,
	.code_size = NONE, .code_filename = NONE, .code_name = NONE, .code_qualname = NONE,
	.code_firstlineno = NONE, .code_linetable = NONE, .code_adaptive = NONE,
	.linetable_format = PY_LINETABLE_LOCATIONS, .unicode_ascii_data = 40,
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
    FIELD(bytes_size),
    FIELD(bytes_data),
    FIELD(unicode_length),
    FIELD(unicode_state),
    FIELD(unicode_ascii_data),
    {NULL, 0},
};
#undef FIELD

/*
 * _Py_DebugOffsets as 3.13.0 declares it (Include/internal/pycore_runtime.h); every field is a
 * uint64_t, so the C layout is the byte layout (584 bytes, checked against the live 3.13.0).
 */
struct dbg_313 {
	char cookie[8];
	uint64_t version, free_threaded;
	struct {
		uint64_t size, finalizing, interpreters_head;
	} runtime_state;
	struct {
		uint64_t size, id, next, threads_head, gc, imports_modules, sysdict, builtins,
		    ceval_gil, gil_runtime_state, gil_runtime_state_enabled,
		    gil_runtime_state_locked, gil_runtime_state_holder;
	} interpreter_state;
	struct {
		uint64_t size, prev, next, interp, current_frame, thread_id, native_thread_id,
		    datastack_chunk, status;
	} thread_state;
	struct {
		uint64_t size, previous, executable, instr_ptr, localsplus, owner;
	} interpreter_frame;
	struct {
		uint64_t size, filename, name, qualname, linetable, firstlineno, argcount,
		    localsplusnames, localspluskinds, co_code_adaptive;
	} code_object;
	struct {
		uint64_t size, ob_type;
	} pyobject;
	struct {
		uint64_t size, tp_name, tp_repr, tp_flags;
	} type_object;
	struct {
		uint64_t size, ob_item, ob_size;
	} tuple_object, list_object;
	struct {
		uint64_t size, ma_keys, ma_values;
	} dict_object;
	struct {
		uint64_t size, ob_fval;
	} float_object;
	struct {
		uint64_t size, lv_tag, ob_digit;
	} long_object;
	struct {
		uint64_t size, ob_size, ob_sval;
	} bytes_object;
	struct {
		uint64_t size, state, length, asciiobject_size;
	} unicode_object;
	struct {
		uint64_t size, collecting;
	} gc;
};

/*
 * UNTESTED: 3.14 (Include/internal/pycore_debug_offsets.h). The published 3.14 sources seen
 * while writing this come in two shapes: both insert interpreter_state.threads_main and
 * interpreter_frame.stackpointer and add set_object before dict_object; the later one also has
 * interpreter_state.code_object_generation/tlbc_generation, interpreter_frame.tlbc_index and
 * code_object.co_tlbc. Only the groups up to unicode_object are needed here. The reader tries
 * the later shape first and keeps the one whose fixed anchors (PyObject is 16 bytes with
 * ob_type at 8, PyASCIIObject is 40 bytes, ob_sval at 32) hold.
 */
struct dbg_314_head {
	char cookie[8];
	uint64_t version, free_threaded;
	struct {
		uint64_t size, finalizing, interpreters_head;
	} runtime_state;
};

/* Offsets (bytes from the blob start) of the fields the reader takes, for one layout. */
struct dbg_layout {
	size_t size;
	size_t rt_size, rt_interpreters_head;
	size_t is_next, is_threads_head, is_ceval_gil, is_gil, is_gil_locked, is_gil_holder;
	size_t ts_size, ts_prev, ts_next, ts_interp, ts_current_frame, ts_thread_id,
	    ts_native_thread_id;
	size_t fr_previous, fr_executable, fr_instr_ptr, fr_owner;
	size_t co_size, co_filename, co_name, co_qualname, co_linetable, co_firstlineno,
	    co_adaptive;
	size_t ob_size, ob_type;
	size_t by_ob_size, by_ob_sval;
	size_t un_state, un_length, un_ascii_size;
};

#define L313(f) offsetof(struct dbg_313, f)
static const struct dbg_layout layout_313 = {
    .size = sizeof(struct dbg_313),
    .rt_size = L313(runtime_state.size),
    .rt_interpreters_head = L313(runtime_state.interpreters_head),
    .is_next = L313(interpreter_state.next),
    .is_threads_head = L313(interpreter_state.threads_head),
    .is_ceval_gil = L313(interpreter_state.ceval_gil),
    .is_gil = L313(interpreter_state.gil_runtime_state),
    .is_gil_locked = L313(interpreter_state.gil_runtime_state_locked),
    .is_gil_holder = L313(interpreter_state.gil_runtime_state_holder),
    .ts_size = L313(thread_state.size),
    .ts_prev = L313(thread_state.prev),
    .ts_next = L313(thread_state.next),
    .ts_interp = L313(thread_state.interp),
    .ts_current_frame = L313(thread_state.current_frame),
    .ts_thread_id = L313(thread_state.thread_id),
    .ts_native_thread_id = L313(thread_state.native_thread_id),
    .fr_previous = L313(interpreter_frame.previous),
    .fr_executable = L313(interpreter_frame.executable),
    .fr_instr_ptr = L313(interpreter_frame.instr_ptr),
    .fr_owner = L313(interpreter_frame.owner),
    .co_size = L313(code_object.size),
    .co_filename = L313(code_object.filename),
    .co_name = L313(code_object.name),
    .co_qualname = L313(code_object.qualname),
    .co_linetable = L313(code_object.linetable),
    .co_firstlineno = L313(code_object.firstlineno),
    .co_adaptive = L313(code_object.co_code_adaptive),
    .ob_size = L313(pyobject.size),
    .ob_type = L313(pyobject.ob_type),
    .by_ob_size = L313(bytes_object.ob_size),
    .by_ob_sval = L313(bytes_object.ob_sval),
    .un_state = L313(unicode_object.state),
    .un_length = L313(unicode_object.length),
    .un_ascii_size = L313(unicode_object.asciiobject_size),
};
#undef L313

/*
 * 3.14 layouts, counted in uint64_t slots from the blob start (see struct dbg_314_head): the
 * earlier shape first as (a), the later one as (b) where it differs.
 *   0 cookie, 1 version, 2 free_threaded, 3-5 runtime_state
 *   interpreter_state: 6 size, 7 id, 8 next, 9 threads_head, 10 threads_main, 11 gc,
 *     12 imports_modules, 13 sysdict, 14 builtins, 15 ceval_gil, 16 gil_runtime_state,
 *     17 enabled, 18 locked, 19 holder, (b) 20 code_object_generation, 21 tlbc_generation
 *   thread_state (9 slots): (a) 20, (b) 22: size, prev, next, interp, current_frame,
 *     thread_id, native_thread_id, datastack_chunk, status
 *   interpreter_frame: (a) 29: size, previous, executable, instr_ptr, localsplus, owner,
 *     stackpointer (7 slots); (b) 31, plus tlbc_index (8 slots)
 *   code_object: (a) 36 (10 slots), (b) 39 (11 slots, + co_tlbc): size, filename, name,
 *     qualname, linetable, firstlineno, argcount, localsplusnames, localspluskinds,
 *     co_code_adaptive
 *   pyobject (2), type_object (4), tuple (3), list (3), set (4), dict (3), float (2),
 *   long (3), bytes (3), unicode (4): size, state, length, asciiobject_size
 */
static struct dbg_layout layout_314(bool later)
{
	size_t is = 6, ts = later ? 22 : 20, fr = ts + 9, co = fr + (later ? 8 : 7),
	       ob = co + (later ? 11 : 10), by = ob + 2 + 4 + 3 + 3 + 4 + 3 + 2 + 3, un = by + 3;
	struct dbg_layout l = {
	    .size = (un + 4) * 8,
	    .rt_size = 3 * 8,
	    .rt_interpreters_head = 5 * 8,
	    .is_next = (is + 2) * 8,
	    .is_threads_head = (is + 3) * 8,
	    .is_ceval_gil = (is + 9) * 8,
	    .is_gil = (is + 10) * 8,
	    .is_gil_locked = (is + 12) * 8,
	    .is_gil_holder = (is + 13) * 8,
	    .ts_size = ts * 8,
	    .ts_prev = (ts + 1) * 8,
	    .ts_next = (ts + 2) * 8,
	    .ts_interp = (ts + 3) * 8,
	    .ts_current_frame = (ts + 4) * 8,
	    .ts_thread_id = (ts + 5) * 8,
	    .ts_native_thread_id = (ts + 6) * 8,
	    .fr_previous = (fr + 1) * 8,
	    .fr_executable = (fr + 2) * 8,
	    .fr_instr_ptr = (fr + 3) * 8,
	    .fr_owner = (fr + 5) * 8,
	    .co_size = co * 8,
	    .co_filename = (co + 1) * 8,
	    .co_name = (co + 2) * 8,
	    .co_qualname = (co + 3) * 8,
	    .co_linetable = (co + 4) * 8,
	    .co_firstlineno = (co + 5) * 8,
	    .co_adaptive = (co + 9) * 8,
	    .ob_size = ob * 8,
	    .ob_type = (ob + 1) * 8,
	    .by_ob_size = (by + 1) * 8,
	    .by_ob_sval = (by + 2) * 8,
	    .un_state = (un + 1) * 8,
	    .un_length = (un + 2) * 8,
	    .un_ascii_size = (un + 3) * 8,
	};

	return l;
}

static uint64_t u64_at(const unsigned char *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

/* The fixed facts every default build shares: a layout that contradicts them is the wrong one. */
static bool anchors_hold(const unsigned char *p, size_t len, const struct dbg_layout *l)
{
	return l->size <= len && u64_at(p, l->ob_size) == 16 && u64_at(p, l->ob_type) == 8 &&
	       u64_at(p, l->un_ascii_size) == 40 && u64_at(p, l->by_ob_sval) == 32;
}

#define PLAUSIBLE (1u << 20)

static int take(const unsigned char *p, size_t off, int *field)
{
	uint64_t v = u64_at(p, off);

	if (v >= PLAUSIBLE)
		return -EINVAL;
	*field = (int)v;
	return 0;
}

int py_frame_offsets_from_debug(const void *blob, size_t len, struct py_frame_offsets *out)
{
	const unsigned char *p = blob;
	const struct py_frame_offsets *base;
	struct dbg_layout l;
	uint64_t version, gil, locked, holder;
	int major, minor, err = 0;

	if (len < sizeof(struct dbg_314_head))
		return -ENODATA;
	if (memcmp(p, "xdebugpy", 8))
		return -EINVAL;
	version = u64_at(p, 8);
	major = (int)(version >> 24);
	minor = (int)((version >> 16) & 0xff);
	if (u64_at(p, 16) != 0)
		return -ENOTSUP; /* free-threaded */
	base = py_frame_offsets_for(major, minor);
	if (!base || minor < 13)
		return -ENOTSUP;
	if (minor == 13) {
		l = layout_313;
	} else {
		/* the later 3.14 shape is the longer one; a blob that fits neither is short */
		if (len < layout_314(false).size)
			return -ENODATA;
		l = layout_314(true);
		if (!anchors_hold(p, len, &l)) {
			l = layout_314(false);
			if (!anchors_hold(p, len, &l))
				return -ENOTSUP;
		}
	}
	if (len < l.size)
		return -ENODATA;

	*out = *base;
	err |= take(p, l.rt_interpreters_head, &out->runtime_interpreters_head);
	err |= take(p, l.is_next, &out->interp_next);
	err |= take(p, l.is_threads_head, &out->interp_threads_head);
	err |= take(p, l.is_ceval_gil, &out->interp_gil_ptr);
	err |= take(p, l.ts_size, &out->tstate_size);
	err |= take(p, l.ts_prev, &out->tstate_prev);
	err |= take(p, l.ts_next, &out->tstate_next);
	err |= take(p, l.ts_interp, &out->tstate_interp);
	err |= take(p, l.ts_current_frame, &out->tstate_current_frame);
	err |= take(p, l.ts_thread_id, &out->tstate_thread_id);
	err |= take(p, l.ts_native_thread_id, &out->tstate_native_thread_id);
	err |= take(p, l.fr_previous, &out->frame_previous);
	err |= take(p, l.fr_executable, &out->frame_code);
	err |= take(p, l.fr_instr_ptr, &out->frame_instr_ptr);
	err |= take(p, l.fr_owner, &out->frame_owner);
	err |= take(p, l.co_size, &out->code_size);
	err |= take(p, l.co_filename, &out->code_filename);
	err |= take(p, l.co_name, &out->code_name);
	err |= take(p, l.co_qualname, &out->code_qualname);
	err |= take(p, l.co_linetable, &out->code_linetable);
	err |= take(p, l.co_firstlineno, &out->code_firstlineno);
	err |= take(p, l.co_adaptive, &out->code_adaptive);
	err |= take(p, l.ob_type, &out->object_type);
	err |= take(p, l.by_ob_size, &out->bytes_size);
	err |= take(p, l.by_ob_sval, &out->bytes_data);
	err |= take(p, l.un_state, &out->unicode_state);
	err |= take(p, l.un_length, &out->unicode_length);
	err |= take(p, l.un_ascii_size, &out->unicode_ascii_data);
	if (err)
		return -EINVAL;
	/* _PyRuntimeState can exceed PLAUSIBLE (3.12: 450 KiB, later larger): not a bound */
	out->runtime_size = (int)(u64_at(p, l.rt_size) & 0x7fffffff);
	/* the GIL fields are given inside PyInterpreterState._gil; keep them relative */
	gil = u64_at(p, l.is_gil);
	locked = u64_at(p, l.is_gil_locked);
	holder = u64_at(p, l.is_gil_holder);
	if (locked < gil || holder < gil || locked - gil >= 4096 || holder - gil >= 4096)
		return -EINVAL;
	out->gil_locked = (int)(locked - gil);
	out->gil_last_holder = (int)(holder - gil);
	return 0;
}
