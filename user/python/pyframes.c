// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The per-version offsets of pyframes.h, and the reader of CPython's own _Py_DebugOffsets.
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

/* 3.14+: the fields _Py_DebugOffsets gives, left to the binary (debug_overlay). */
#define FROM_DEBUG_OFFSETS                                                                         \
	.runtime_interpreters_head = NONE, .runtime_interpreters_main = NONE, .interp_next = NONE, \
	.interp_threads_head = NONE, .interp_gil_ptr = NONE, .gil_last_holder = NONE,              \
	.gil_locked = NONE, .tstate_size = NONE, .tstate_prev = NONE, .tstate_next = NONE,         \
	.tstate_interp = NONE, .tstate_current_frame = NONE, .tstate_thread_id = NONE,             \
	.tstate_native_thread_id = NONE, .frame_previous = NONE, .frame_code = NONE,               \
	.frame_instr_ptr = NONE, .frame_owner = NONE, .code_size = NONE, .code_filename = NONE,    \
	.code_name = NONE, .code_qualname = NONE, .code_firstlineno = NONE,                        \
	.code_linetable = NONE, .code_adaptive = NONE, .object_type = NONE, .bytes_size = NONE,    \
	.bytes_data = NONE, .unicode_length = NONE, .unicode_state = NONE,                         \
	.unicode_ascii_data = NONE

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
	.major = 3, .minor = 14, FROM_DEBUG_OFFSETS,
	.runtime_size = 316616, .runtime_debug_offsets = 0, .runtime_tstate_current = NONE,
	.runtime_autotss_key = 2336, .runtime_main_interpreter = 90752, .runtime_gil = NONE,
	.tstate_frame = NONE, .tstate_cframe = NONE, .cframe_current_frame = NONE,
	.frame_code_tag_bits = 3, .frame_lasti = NONE, .lasti_unit = 0, .frame_is_entry = NONE,
	.frame_owner_incomplete = 3, .linetable_format = PY_LINETABLE_LOCATIONS,
    },
    {
	.major = 3, .minor = 15, FROM_DEBUG_OFFSETS,
	.runtime_size = 346568, .runtime_debug_offsets = 0, .runtime_tstate_current = NONE,
	.runtime_autotss_key = NONE, .runtime_main_interpreter = 120328, .runtime_gil = NONE,
	.tstate_frame = NONE, .tstate_cframe = NONE, .cframe_current_frame = NONE,
	.frame_code_tag_bits = 3, .frame_lasti = NONE, .lasti_unit = 0, .frame_is_entry = NONE,
	.frame_owner_incomplete = 3, .linetable_format = PY_LINETABLE_LOCATIONS,
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
 * _Py_DebugOffsets, one struct per version, mirroring the declaration field for field. Every
 * member is a uint64_t after the 8-byte cookie, so the C layout is the byte layout of the blob.
 * Only the groups up to the last one cowtrace reads need to be right, but each shape is
 * written out whole so that it can be compared with its header line by line.
 */

/* 3.13: Include/internal/pycore_runtime.h (3.13.0 to 3.13.18 declare it alike) */
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
 * 3.14: Include/internal/pycore_debug_offsets.h of 3.14.10. Against 3.13: interpreter_state
 * gains threads_main, code_object_generation, tlbc_generation; interpreter_frame stackpointer,
 * tlbc_index; code_object co_tlbc; new set_object, gen_object, llist_node, debugger_support.
 */
struct dbg_314 {
	char cookie[8];
	uint64_t version, free_threaded;
	struct {
		uint64_t size, finalizing, interpreters_head;
	} runtime_state;
	struct {
		uint64_t size, id, next, threads_head, threads_main, gc, imports_modules, sysdict,
		    builtins, ceval_gil, gil_runtime_state, gil_runtime_state_enabled,
		    gil_runtime_state_locked, gil_runtime_state_holder, code_object_generation,
		    tlbc_generation;
	} interpreter_state;
	struct {
		uint64_t size, prev, next, interp, current_frame, thread_id, native_thread_id,
		    datastack_chunk, status;
	} thread_state;
	struct {
		uint64_t size, previous, executable, instr_ptr, localsplus, owner, stackpointer,
		    tlbc_index;
	} interpreter_frame;
	struct {
		uint64_t size, filename, name, qualname, linetable, firstlineno, argcount,
		    localsplusnames, localspluskinds, co_code_adaptive, co_tlbc;
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
		uint64_t size, used, table, mask;
	} set_object;
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
	struct {
		uint64_t size, gi_name, gi_iframe, gi_frame_state;
	} gen_object;
	struct {
		uint64_t next, prev;
	} llist_node;
	struct {
		uint64_t eval_breaker, remote_debugger_support, remote_debugging_enabled,
		    debugger_pending_call, debugger_script_path, debugger_script_path_size;
	} debugger_support;
};

/*
 * 3.15: Include/internal/pycore_debug_offsets.h of 3.15.2. Against 3.14: thread_state gains
 * base_frame, last_profiled_frame, last_profiled_frame_seq (before thread_id), holds_gil,
 * gil_requested, current_exception, exc_state; new err_stackitem after it; type_object gains
 * tp_basicsize, tp_dictoffset; new heap_type_object; unicode_object gains
 * compactunicodeobject_size; gc gains frame, generation_stats_size, generation_stats.
 */
struct dbg_315 {
	char cookie[8];
	uint64_t version, free_threaded;
	struct {
		uint64_t size, finalizing, interpreters_head;
	} runtime_state;
	struct {
		uint64_t size, id, next, threads_head, threads_main, gc, imports_modules, sysdict,
		    builtins, ceval_gil, gil_runtime_state, gil_runtime_state_enabled,
		    gil_runtime_state_locked, gil_runtime_state_holder, code_object_generation,
		    tlbc_generation;
	} interpreter_state;
	struct {
		uint64_t size, prev, next, interp, current_frame, base_frame, last_profiled_frame,
		    last_profiled_frame_seq, thread_id, native_thread_id, datastack_chunk, status,
		    holds_gil, gil_requested, current_exception, exc_state;
	} thread_state;
	struct {
		uint64_t exc_value;
	} err_stackitem;
	struct {
		uint64_t size, previous, executable, instr_ptr, localsplus, owner, stackpointer,
		    tlbc_index;
	} interpreter_frame;
	struct {
		uint64_t size, filename, name, qualname, linetable, firstlineno, argcount,
		    localsplusnames, localspluskinds, co_code_adaptive, co_tlbc;
	} code_object;
	struct {
		uint64_t size, ob_type;
	} pyobject;
	struct {
		uint64_t size, tp_name, tp_repr, tp_flags, tp_basicsize, tp_dictoffset;
	} type_object;
	struct {
		uint64_t size, ht_cached_keys;
	} heap_type_object;
	struct {
		uint64_t size, ob_item, ob_size;
	} tuple_object, list_object;
	struct {
		uint64_t size, used, table, mask;
	} set_object;
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
		uint64_t size, state, length, asciiobject_size, compactunicodeobject_size;
	} unicode_object;
	struct {
		uint64_t size, collecting, frame, generation_stats_size, generation_stats;
	} gc;
	struct {
		uint64_t size, gi_name, gi_iframe, gi_frame_state;
	} gen_object;
	struct {
		uint64_t next, prev;
	} llist_node;
	struct {
		uint64_t eval_breaker, remote_debugger_support, remote_debugging_enabled,
		    debugger_pending_call, debugger_script_path, debugger_script_path_size;
	} debugger_support;
};

/* Sizes counted from the headers: 73, 95 and 111 eight-byte slots. */
_Static_assert(sizeof(struct dbg_313) == 584, "3.13 _Py_DebugOffsets");
_Static_assert(sizeof(struct dbg_314) == 760, "3.14 _Py_DebugOffsets");
_Static_assert(sizeof(struct dbg_315) == 888, "3.15 _Py_DebugOffsets");
_Static_assert(sizeof(struct dbg_315) <= PY_DEBUG_OFFSETS_MAX, "PY_DEBUG_OFFSETS_MAX too small");
_Static_assert(sizeof(struct dbg_314) <= PY_DEBUG_OFFSETS_MAX, "PY_DEBUG_OFFSETS_MAX too small");

/* Where, in one shape, each value cowtrace reads is: byte offsets from the blob start, 0 = the
 * shape has no such field (offset 0 is the cookie, never a value). */
struct dbg_shape {
	int minor;
	size_t size;
	size_t rt_size, rt_interpreters_head;
	size_t is_size, is_next, is_threads_head, is_ceval_gil, is_gil, is_gil_locked,
	    is_gil_holder;
	size_t ts_size, ts_prev, ts_next, ts_interp, ts_current_frame, ts_thread_id,
	    ts_native_thread_id;
	size_t fr_size, fr_previous, fr_executable, fr_instr_ptr, fr_owner;
	size_t co_size, co_filename, co_name, co_qualname, co_linetable, co_firstlineno,
	    co_adaptive;
	size_t ob_size, ob_type;
	size_t tp_size, tp_name, tp_flags, tp_basicsize;
	size_t by_size, by_ob_size, by_ob_sval;
	size_t un_size, un_state, un_length, un_ascii_size;
};

/* The fields every shape has, by the same names. */
#define SHAPE(T, min)                                                                              \
	.minor = (min), .size = sizeof(struct T),                                                  \
	.rt_size = offsetof(struct T, runtime_state.size),                                         \
	.rt_interpreters_head = offsetof(struct T, runtime_state.interpreters_head),               \
	.is_size = offsetof(struct T, interpreter_state.size),                                     \
	.is_next = offsetof(struct T, interpreter_state.next),                                     \
	.is_threads_head = offsetof(struct T, interpreter_state.threads_head),                     \
	.is_ceval_gil = offsetof(struct T, interpreter_state.ceval_gil),                           \
	.is_gil = offsetof(struct T, interpreter_state.gil_runtime_state),                         \
	.is_gil_locked = offsetof(struct T, interpreter_state.gil_runtime_state_locked),           \
	.is_gil_holder = offsetof(struct T, interpreter_state.gil_runtime_state_holder),           \
	.ts_size = offsetof(struct T, thread_state.size),                                          \
	.ts_prev = offsetof(struct T, thread_state.prev),                                          \
	.ts_next = offsetof(struct T, thread_state.next),                                          \
	.ts_interp = offsetof(struct T, thread_state.interp),                                      \
	.ts_current_frame = offsetof(struct T, thread_state.current_frame),                        \
	.ts_thread_id = offsetof(struct T, thread_state.thread_id),                                \
	.ts_native_thread_id = offsetof(struct T, thread_state.native_thread_id),                  \
	.fr_size = offsetof(struct T, interpreter_frame.size),                                     \
	.fr_previous = offsetof(struct T, interpreter_frame.previous),                             \
	.fr_executable = offsetof(struct T, interpreter_frame.executable),                         \
	.fr_instr_ptr = offsetof(struct T, interpreter_frame.instr_ptr),                           \
	.fr_owner = offsetof(struct T, interpreter_frame.owner),                                   \
	.co_size = offsetof(struct T, code_object.size),                                           \
	.co_filename = offsetof(struct T, code_object.filename),                                   \
	.co_name = offsetof(struct T, code_object.name),                                           \
	.co_qualname = offsetof(struct T, code_object.qualname),                                   \
	.co_linetable = offsetof(struct T, code_object.linetable),                                 \
	.co_firstlineno = offsetof(struct T, code_object.firstlineno),                             \
	.co_adaptive = offsetof(struct T, code_object.co_code_adaptive),                           \
	.ob_size = offsetof(struct T, pyobject.size),                                              \
	.ob_type = offsetof(struct T, pyobject.ob_type),                                           \
	.tp_size = offsetof(struct T, type_object.size),                                           \
	.tp_name = offsetof(struct T, type_object.tp_name),                                        \
	.tp_flags = offsetof(struct T, type_object.tp_flags),                                      \
	.by_size = offsetof(struct T, bytes_object.size),                                          \
	.by_ob_size = offsetof(struct T, bytes_object.ob_size),                                    \
	.by_ob_sval = offsetof(struct T, bytes_object.ob_sval),                                    \
	.un_size = offsetof(struct T, unicode_object.size),                                        \
	.un_state = offsetof(struct T, unicode_object.state),                                      \
	.un_length = offsetof(struct T, unicode_object.length),                                    \
	.un_ascii_size = offsetof(struct T, unicode_object.asciiobject_size)

static const struct dbg_shape shapes[] = {
    {SHAPE(dbg_313, 13)},
    {SHAPE(dbg_314, 14)},
    {SHAPE(dbg_315, 15), .tp_basicsize = offsetof(struct dbg_315, type_object.tp_basicsize)},
};
#undef SHAPE

static uint64_t u64_at(const unsigned char *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

/* An offset or size is at most this: the largest structure read, PyInterpreterState, is 221 KiB
 * in 3.15. _PyRuntimeState (338 KiB in 3.15) has its own bound below. */
#define PLAUSIBLE     (1u << 20)
#define RUNTIME_LIMIT (1u << 28)

/* Taking the values in order, stop at the first implausible one. */
struct taker {
	const unsigned char *p;
	bool bad;
};

static int take(struct taker *t, size_t at)
{
	uint64_t v;

	if (!at)
		return NONE;
	v = u64_at(t->p, at);
	if (v >= PLAUSIBLE) {
		t->bad = true;
		return NONE;
	}
	return (int)v;
}

/* A field of width bytes at off lies inside a structure of size bytes. */
static bool inside(int off, int width, int size)
{
	return off >= 0 && size >= width && off <= size - width;
}

/* Release levels whose shape is the final one (Include/patchlevel.h: 0xC candidate, 0xF final). */
static bool released(uint64_t version)
{
	unsigned int level = (version >> 4) & 0xf;

	return level == 0xc || level == 0xf;
}

int py_debug_offsets_parse(const void *blob, size_t len, struct py_debug_offsets *out)
{
	const unsigned char *p = blob;
	const struct dbg_shape *s = NULL;
	struct py_debug_offsets d;
	struct taker t = {.p = p};
	uint64_t version, ft, rt;
	int minor;

	if (!blob || len < 24)
		return -ENODATA;
	if (memcmp(p, "xdebugpy", 8))
		return -EINVAL;
	ft = u64_at(p, 16);
	if (ft > 1)
		return -EINVAL;
	if (ft)
		return -ENOTSUP; /* free-threaded: other shapes and layouts, declined */
	version = u64_at(p, 8);
	minor = (int)((version >> 16) & 0xff);
	if (version >> 24 != 3 || !released(version))
		return -ENOTSUP;
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (shapes[i].minor == minor)
			s = &shapes[i];
	if (!s)
		return -ENOTSUP;
	if (len < s->size)
		return -ENODATA;

	memset(&d, 0, sizeof(d));
	d.major = 3;
	d.minor = minor;
	d.micro = (int)((version >> 8) & 0xff);
	d.runtime_interpreters_head = take(&t, s->rt_interpreters_head);
	d.interp_size = take(&t, s->is_size);
	d.interp_next = take(&t, s->is_next);
	d.interp_threads_head = take(&t, s->is_threads_head);
	d.interp_ceval_gil = take(&t, s->is_ceval_gil);
	d.interp_gil = take(&t, s->is_gil);
	d.interp_gil_locked = take(&t, s->is_gil_locked);
	d.interp_gil_holder = take(&t, s->is_gil_holder);
	d.tstate_size = take(&t, s->ts_size);
	d.tstate_prev = take(&t, s->ts_prev);
	d.tstate_next = take(&t, s->ts_next);
	d.tstate_interp = take(&t, s->ts_interp);
	d.tstate_current_frame = take(&t, s->ts_current_frame);
	d.tstate_thread_id = take(&t, s->ts_thread_id);
	d.tstate_native_thread_id = take(&t, s->ts_native_thread_id);
	d.frame_size = take(&t, s->fr_size);
	d.frame_previous = take(&t, s->fr_previous);
	d.frame_executable = take(&t, s->fr_executable);
	d.frame_instr_ptr = take(&t, s->fr_instr_ptr);
	d.frame_owner = take(&t, s->fr_owner);
	d.code_size = take(&t, s->co_size);
	d.code_filename = take(&t, s->co_filename);
	d.code_name = take(&t, s->co_name);
	d.code_qualname = take(&t, s->co_qualname);
	d.code_linetable = take(&t, s->co_linetable);
	d.code_firstlineno = take(&t, s->co_firstlineno);
	d.code_adaptive = take(&t, s->co_adaptive);
	d.object_size = take(&t, s->ob_size);
	d.object_type = take(&t, s->ob_type);
	d.type_size = take(&t, s->tp_size);
	d.type_name = take(&t, s->tp_name);
	d.type_flags = take(&t, s->tp_flags);
	d.type_basicsize = take(&t, s->tp_basicsize);
	d.bytes_size = take(&t, s->by_size);
	d.bytes_ob_size = take(&t, s->by_ob_size);
	d.bytes_sval = take(&t, s->by_ob_sval);
	d.unicode_size = take(&t, s->un_size);
	d.unicode_state = take(&t, s->un_state);
	d.unicode_length = take(&t, s->un_length);
	d.unicode_ascii_size = take(&t, s->un_ascii_size);
	rt = u64_at(p, s->rt_size);
	if (t.bad || rt >= RUNTIME_LIMIT)
		return -EINVAL;
	d.runtime_size = (int)rt;

	/*
	 * Each offset inside the structure whose size the blob gives: a blob whose groups are not
	 * where the shape says puts sizes where offsets should be, and fails here. Pointers are 8
	 * bytes, co_firstlineno an int, owner a char, PyASCIIObject.state 4 bytes of bit fields.
	 */
	if (!inside(d.runtime_interpreters_head, 8, d.runtime_size) ||
	    !inside(d.interp_next, 8, d.interp_size) ||
	    !inside(d.interp_threads_head, 8, d.interp_size) ||
	    !inside(d.interp_ceval_gil, 8, d.interp_size) ||
	    !inside(d.interp_gil, 8, d.interp_size) ||
	    !inside(d.interp_gil_locked, 4, d.interp_size) ||
	    !inside(d.interp_gil_holder, 8, d.interp_size) || d.interp_gil_locked < d.interp_gil ||
	    d.interp_gil_holder < d.interp_gil || d.interp_gil_locked - d.interp_gil >= 4096 ||
	    d.interp_gil_holder - d.interp_gil >= 4096)
		return -EINVAL;
	if (!inside(d.tstate_prev, 8, d.tstate_size) || !inside(d.tstate_next, 8, d.tstate_size) ||
	    !inside(d.tstate_interp, 8, d.tstate_size) ||
	    !inside(d.tstate_current_frame, 8, d.tstate_size) ||
	    !inside(d.tstate_thread_id, 8, d.tstate_size) ||
	    !inside(d.tstate_native_thread_id, 8, d.tstate_size))
		return -EINVAL;
	if (!inside(d.frame_previous, 8, d.frame_size) ||
	    !inside(d.frame_executable, 8, d.frame_size) ||
	    !inside(d.frame_instr_ptr, 8, d.frame_size) || !inside(d.frame_owner, 1, d.frame_size))
		return -EINVAL;
	if (!inside(d.code_filename, 8, d.code_size) || !inside(d.code_name, 8, d.code_size) ||
	    !inside(d.code_qualname, 8, d.code_size) || !inside(d.code_linetable, 8, d.code_size) ||
	    !inside(d.code_firstlineno, 4, d.code_size) || !inside(d.code_adaptive, 0, d.code_size))
		return -EINVAL;
	/* Include/object.h: the 64-bit default-build PyObject, {ob_refcnt, ob_type} */
	if (d.object_size != 16 || d.object_type != 8)
		return -EINVAL;
	if (!inside(d.type_name, 8, d.type_size) || !inside(d.type_flags, 8, d.type_size) ||
	    (d.type_basicsize != NONE && !inside(d.type_basicsize, 8, d.type_size)))
		return -EINVAL;
	if (!inside(d.bytes_ob_size, 8, d.bytes_sval) || !inside(d.bytes_sval, 1, d.bytes_size))
		return -EINVAL;
	if (!inside(d.unicode_length, 8, d.unicode_ascii_size) ||
	    !inside(d.unicode_state, 4, d.unicode_ascii_size) ||
	    !inside(d.unicode_ascii_size, 0, d.unicode_size))
		return -EINVAL;
	*out = d;
	return 0;
}

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

int py_frame_offsets_of(const struct py_interp *in, struct py_frame_offsets *out)
{
	const struct py_frame_offsets *base;
	struct py_debug_offsets d;
	int err;

	if (!in || !out)
		return -EINVAL;
	if (in->free_threaded)
		return -ENOTSUP;
	base = py_frame_offsets_for(in->major, in->minor);
	if (!base)
		return -ENOTSUP;
	if (in->minor < 13) {
		*out = *base;
		return 0;
	}
	err = py_interp_debug_offsets(in, &d);
	if (err)
		return err;
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
