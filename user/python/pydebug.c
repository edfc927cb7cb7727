// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The reader of CPython's own _Py_DebugOffsets (3.13+): the blob an interpreter carries in its
 * binary, parsed by the shape of its version and checked for plausibility before any of it is
 * believed (it comes from an untrusted file). The 3.13, 3.14 and 3.15 shapes are copies of their
 * headers' declarations; tests/e2e/check_debug_offsets.py compares what this reads with
 * offsetof() against Debian's 3.13.18, 3.14.10 and 3.15.2 headers. Details:
 * docs/python-frames.md.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pyframes.h"

/*
 * _Py_DebugOffsets, one struct per version, mirroring the declaration field for field. Every
 * member is a uint64_t after the 8-byte cookie, so the C layout is the byte layout of the blob.
 * Only the groups up to the last one cowtrace reads need to be right, but each shape is
 * written out whole so that it can be compared with its header line by line.
 *
 * A group that more than one of the versions declares alike is written once below, as a named
 * struct, and used by each of them; a group's name carries the first version of its shape only
 * where the three versions do not all declare it alike (dbg_gc_313: the 3.13 and 3.14 gc group,
 * which 3.15 extends in place). Groups only one version has stay inline in that version's
 * struct. The headers: Include/internal/pycore_runtime.h (3.13), pycore_debug_offsets.h (3.14,
 * 3.15).
 */

/* The groups alike in 3.13, 3.14 and 3.15 */
struct dbg_runtime_state {
	uint64_t size, finalizing, interpreters_head;
};
struct dbg_pyobject {
	uint64_t size, ob_type;
};
struct dbg_tuple_object { /* also list_object: PyListObject's group has the same fields */
	uint64_t size, ob_item, ob_size;
};
struct dbg_dict_object {
	uint64_t size, ma_keys, ma_values;
};
struct dbg_float_object {
	uint64_t size, ob_fval;
};
struct dbg_long_object {
	uint64_t size, lv_tag, ob_digit;
};
struct dbg_bytes_object {
	uint64_t size, ob_size, ob_sval;
};

/* The groups of 3.13 that 3.14 keeps and 3.15 extends (the 3.15 shapes are in dbg_315) */
struct dbg_thread_state_313 {
	uint64_t size, prev, next, interp, current_frame, thread_id, native_thread_id,
	    datastack_chunk, status;
};
struct dbg_type_object_313 {
	uint64_t size, tp_name, tp_repr, tp_flags;
};
struct dbg_unicode_object_313 {
	uint64_t size, state, length, asciiobject_size;
};
struct dbg_gc_313 {
	uint64_t size, collecting;
};

/* The groups of 3.14 that 3.15 keeps: extended from 3.13's (those are in dbg_313), or new */
struct dbg_interpreter_state_314 {
	uint64_t size, id, next, threads_head, threads_main, gc, imports_modules, sysdict, builtins,
	    ceval_gil, gil_runtime_state, gil_runtime_state_enabled, gil_runtime_state_locked,
	    gil_runtime_state_holder, code_object_generation, tlbc_generation;
};
struct dbg_interpreter_frame_314 {
	uint64_t size, previous, executable, instr_ptr, localsplus, owner, stackpointer, tlbc_index;
};
struct dbg_code_object_314 {
	uint64_t size, filename, name, qualname, linetable, firstlineno, argcount, localsplusnames,
	    localspluskinds, co_code_adaptive, co_tlbc;
};
struct dbg_set_object {
	uint64_t size, used, table, mask;
};
struct dbg_gen_object {
	uint64_t size, gi_name, gi_iframe, gi_frame_state;
};
struct dbg_llist_node {
	uint64_t next, prev;
};
struct dbg_debugger_support {
	uint64_t eval_breaker, remote_debugger_support, remote_debugging_enabled,
	    debugger_pending_call, debugger_script_path, debugger_script_path_size;
};

/* 3.13: Include/internal/pycore_runtime.h (3.13.0 to 3.13.18 declare it alike) */
struct dbg_313 {
	char cookie[8];
	uint64_t version, free_threaded;
	struct dbg_runtime_state runtime_state;
	struct {
		uint64_t size, id, next, threads_head, gc, imports_modules, sysdict, builtins,
		    ceval_gil, gil_runtime_state, gil_runtime_state_enabled,
		    gil_runtime_state_locked, gil_runtime_state_holder;
	} interpreter_state;
	struct dbg_thread_state_313 thread_state;
	struct {
		uint64_t size, previous, executable, instr_ptr, localsplus, owner;
	} interpreter_frame;
	struct {
		uint64_t size, filename, name, qualname, linetable, firstlineno, argcount,
		    localsplusnames, localspluskinds, co_code_adaptive;
	} code_object;
	struct dbg_pyobject pyobject;
	struct dbg_type_object_313 type_object;
	struct dbg_tuple_object tuple_object, list_object;
	struct dbg_dict_object dict_object;
	struct dbg_float_object float_object;
	struct dbg_long_object long_object;
	struct dbg_bytes_object bytes_object;
	struct dbg_unicode_object_313 unicode_object;
	struct dbg_gc_313 gc;
};

/*
 * 3.14: Include/internal/pycore_debug_offsets.h of 3.14.10. Against 3.13: interpreter_state
 * gains threads_main, code_object_generation, tlbc_generation; interpreter_frame stackpointer,
 * tlbc_index; code_object co_tlbc; new set_object, gen_object, llist_node, debugger_support.
 */
struct dbg_314 {
	char cookie[8];
	uint64_t version, free_threaded;
	struct dbg_runtime_state runtime_state;
	struct dbg_interpreter_state_314 interpreter_state;
	struct dbg_thread_state_313 thread_state;
	struct dbg_interpreter_frame_314 interpreter_frame;
	struct dbg_code_object_314 code_object;
	struct dbg_pyobject pyobject;
	struct dbg_type_object_313 type_object;
	struct dbg_tuple_object tuple_object, list_object;
	struct dbg_set_object set_object;
	struct dbg_dict_object dict_object;
	struct dbg_float_object float_object;
	struct dbg_long_object long_object;
	struct dbg_bytes_object bytes_object;
	struct dbg_unicode_object_313 unicode_object;
	struct dbg_gc_313 gc;
	struct dbg_gen_object gen_object;
	struct dbg_llist_node llist_node;
	struct dbg_debugger_support debugger_support;
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
	struct dbg_runtime_state runtime_state;
	struct dbg_interpreter_state_314 interpreter_state;
	struct {
		uint64_t size, prev, next, interp, current_frame, base_frame, last_profiled_frame,
		    last_profiled_frame_seq, thread_id, native_thread_id, datastack_chunk, status,
		    holds_gil, gil_requested, current_exception, exc_state;
	} thread_state;
	struct {
		uint64_t exc_value;
	} err_stackitem;
	struct dbg_interpreter_frame_314 interpreter_frame;
	struct dbg_code_object_314 code_object;
	struct dbg_pyobject pyobject;
	struct {
		uint64_t size, tp_name, tp_repr, tp_flags, tp_basicsize, tp_dictoffset;
	} type_object;
	struct {
		uint64_t size, ht_cached_keys;
	} heap_type_object;
	struct dbg_tuple_object tuple_object, list_object;
	struct dbg_set_object set_object;
	struct dbg_dict_object dict_object;
	struct dbg_float_object float_object;
	struct dbg_long_object long_object;
	struct dbg_bytes_object bytes_object;
	struct {
		uint64_t size, state, length, asciiobject_size, compactunicodeobject_size;
	} unicode_object;
	struct {
		uint64_t size, collecting, frame, generation_stats_size, generation_stats;
	} gc;
	struct dbg_gen_object gen_object;
	struct dbg_llist_node llist_node;
	struct dbg_debugger_support debugger_support;
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
		return PY_OFFSET_NONE;
	v = u64_at(t->p, at);
	if (v >= PLAUSIBLE) {
		t->bad = true;
		return PY_OFFSET_NONE;
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
	    (d.type_basicsize != PY_OFFSET_NONE && !inside(d.type_basicsize, 8, d.type_size)))
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
