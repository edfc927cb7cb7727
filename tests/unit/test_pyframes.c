// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests for the _Py_DebugOffsets reader (user/python/pydebug.c) and the per-binary offsets
 * and layouts built on it: py_debug_offsets_parse(), py_frame_offsets_from_debug(),
 * py_frame_offsets_of(), py_layout_of() and the 3.15 reference-count rules
 * (user/python/pylayout.c).
 *
 * The blobs are built here, slot by slot, from this file's own transcription of each
 * version's _Py_DebugOffsets (the slots_3XX tables below, one entry per uint64_t, in the order
 * of Include/internal/pycore_runtime.h for 3.13 and pycore_debug_offsets.h for 3.14/3.15),
 * not from pyframes.c's structs: a field misplaced in either shows up as a wrong number. The
 * values are those of Debian's 3.13.18, 3.14.10 and 3.15.2 binaries, which
 * tests/e2e/check_debug_offsets.py found equal to offsetof()/sizeof() compiled against their
 * headers (docs/python-frames.md). The last tests read those binaries themselves when they are
 * installed (COWTRACE_SIDROOT, default /var/cache/cowtrace-sidroot/root) and skip otherwise.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pyframes.h"
#include "pyinterp.h"
#include "pylayout.h"
#include "pylines.h"

struct slot {
	const char *name;
	uint64_t value;
};

/* Generated once from the headers' declarations and the Debian binaries' .PyRuntime bytes. */
/* clang-format off */
static const struct slot slots_313[] = {
    {"version", 0x30d12f0},
    {"free_threaded", 0},
    {"runtime_state.size", 283408},
    {"runtime_state.finalizing", 608},
    {"runtime_state.interpreters_head", 632},
    {"interpreter_state.size", 194984},
    {"interpreter_state.id", 7272},
    {"interpreter_state.next", 7264},
    {"interpreter_state.threads_head", 7344},
    {"interpreter_state.gc", 7400},
    {"interpreter_state.imports_modules", 7656},
    {"interpreter_state.sysdict", 7640},
    {"interpreter_state.builtins", 7648},
    {"interpreter_state.ceval_gil", 16},
    {"interpreter_state.gil_runtime_state", 7752},
    {"interpreter_state.gil_runtime_state_enabled", 0},
    {"interpreter_state.gil_runtime_state_locked", 7768},
    {"interpreter_state.gil_runtime_state_holder", 7760},
    {"thread_state.size", 312},
    {"thread_state.prev", 0},
    {"thread_state.next", 8},
    {"thread_state.interp", 16},
    {"thread_state.current_frame", 72},
    {"thread_state.thread_id", 152},
    {"thread_state.native_thread_id", 160},
    {"thread_state.datastack_chunk", 232},
    {"thread_state.status", 32},
    {"interpreter_frame.size", 80},
    {"interpreter_frame.previous", 8},
    {"interpreter_frame.executable", 0},
    {"interpreter_frame.instr_ptr", 56},
    {"interpreter_frame.localsplus", 72},
    {"interpreter_frame.owner", 70},
    {"code_object.size", 208},
    {"code_object.filename", 112},
    {"code_object.name", 120},
    {"code_object.qualname", 128},
    {"code_object.linetable", 136},
    {"code_object.firstlineno", 68},
    {"code_object.argcount", 52},
    {"code_object.localsplusnames", 96},
    {"code_object.localspluskinds", 104},
    {"code_object.co_code_adaptive", 200},
    {"pyobject.size", 16},
    {"pyobject.ob_type", 8},
    {"type_object.size", 416},
    {"type_object.tp_name", 24},
    {"type_object.tp_repr", 88},
    {"type_object.tp_flags", 168},
    {"tuple_object.size", 32},
    {"tuple_object.ob_item", 24},
    {"tuple_object.ob_size", 16},
    {"list_object.size", 40},
    {"list_object.ob_item", 24},
    {"list_object.ob_size", 16},
    {"dict_object.size", 48},
    {"dict_object.ma_keys", 32},
    {"dict_object.ma_values", 40},
    {"float_object.size", 24},
    {"float_object.ob_fval", 16},
    {"long_object.size", 32},
    {"long_object.lv_tag", 16},
    {"long_object.ob_digit", 24},
    {"bytes_object.size", 40},
    {"bytes_object.ob_size", 16},
    {"bytes_object.ob_sval", 32},
    {"unicode_object.size", 64},
    {"unicode_object.state", 32},
    {"unicode_object.length", 16},
    {"unicode_object.asciiobject_size", 40},
    {"gc.size", 240},
    {"gc.collecting", 200},
};
static const struct slot slots_314[] = {
    {"version", 0x30e0af0},
    {"free_threaded", 0},
    {"runtime_state.size", 316616},
    {"runtime_state.finalizing", 784},
    {"runtime_state.interpreters_head", 808},
    {"interpreter_state.size", 225864},
    {"interpreter_state.id", 7280},
    {"interpreter_state.next", 7272},
    {"interpreter_state.threads_head", 7344},
    {"interpreter_state.threads_main", 7360},
    {"interpreter_state.gc", 7408},
    {"interpreter_state.imports_modules", 7688},
    {"interpreter_state.sysdict", 7672},
    {"interpreter_state.builtins", 7680},
    {"interpreter_state.ceval_gil", 16},
    {"interpreter_state.gil_runtime_state", 7784},
    {"interpreter_state.gil_runtime_state_enabled", 0},
    {"interpreter_state.gil_runtime_state_locked", 7800},
    {"interpreter_state.gil_runtime_state_holder", 7792},
    {"interpreter_state.code_object_generation", 7992},
    {"interpreter_state.tlbc_generation", 0},
    {"thread_state.size", 832},
    {"thread_state.prev", 0},
    {"thread_state.next", 8},
    {"thread_state.interp", 16},
    {"thread_state.current_frame", 72},
    {"thread_state.thread_id", 152},
    {"thread_state.native_thread_id", 160},
    {"thread_state.datastack_chunk", 232},
    {"thread_state.status", 32},
    {"interpreter_frame.size", 88},
    {"interpreter_frame.previous", 8},
    {"interpreter_frame.executable", 0},
    {"interpreter_frame.instr_ptr", 56},
    {"interpreter_frame.localsplus", 80},
    {"interpreter_frame.owner", 74},
    {"interpreter_frame.stackpointer", 64},
    {"interpreter_frame.tlbc_index", 0},
    {"code_object.size", 216},
    {"code_object.filename", 112},
    {"code_object.name", 120},
    {"code_object.qualname", 128},
    {"code_object.linetable", 136},
    {"code_object.firstlineno", 68},
    {"code_object.argcount", 52},
    {"code_object.localsplusnames", 96},
    {"code_object.localspluskinds", 104},
    {"code_object.co_code_adaptive", 208},
    {"code_object.co_tlbc", 0},
    {"pyobject.size", 16},
    {"pyobject.ob_type", 8},
    {"type_object.size", 416},
    {"type_object.tp_name", 24},
    {"type_object.tp_repr", 88},
    {"type_object.tp_flags", 168},
    {"tuple_object.size", 40},
    {"tuple_object.ob_item", 32},
    {"tuple_object.ob_size", 16},
    {"list_object.size", 40},
    {"list_object.ob_item", 24},
    {"list_object.ob_size", 16},
    {"set_object.size", 200},
    {"set_object.used", 24},
    {"set_object.table", 40},
    {"set_object.mask", 32},
    {"dict_object.size", 48},
    {"dict_object.ma_keys", 32},
    {"dict_object.ma_values", 40},
    {"float_object.size", 24},
    {"float_object.ob_fval", 16},
    {"long_object.size", 32},
    {"long_object.lv_tag", 16},
    {"long_object.ob_digit", 24},
    {"bytes_object.size", 40},
    {"bytes_object.ob_size", 16},
    {"bytes_object.ob_sval", 32},
    {"unicode_object.size", 64},
    {"unicode_object.state", 32},
    {"unicode_object.length", 16},
    {"unicode_object.asciiobject_size", 40},
    {"gc.size", 264},
    {"gc.collecting", 192},
    {"gen_object.size", 160},
    {"gen_object.gi_name", 24},
    {"gen_object.gi_iframe", 72},
    {"gen_object.gi_frame_state", 67},
    {"llist_node.next", 0},
    {"llist_node.prev", 8},
    {"debugger_support.eval_breaker", 24},
    {"debugger_support.remote_debugger_support", 304},
    {"debugger_support.remote_debugging_enabled", 8076},
    {"debugger_support.debugger_pending_call", 0},
    {"debugger_support.debugger_script_path", 4},
    {"debugger_support.debugger_script_path_size", 512},
};
static const struct slot slots_315[] = {
    {"version", 0x30f02f0},
    {"free_threaded", 0},
    {"runtime_state.size", 346568},
    {"runtime_state.finalizing", 912},
    {"runtime_state.interpreters_head", 936},
    {"interpreter_state.size", 226240},
    {"interpreter_state.id", 7272},
    {"interpreter_state.next", 7264},
    {"interpreter_state.threads_head", 7336},
    {"interpreter_state.threads_main", 7352},
    {"interpreter_state.gc", 7400},
    {"interpreter_state.imports_modules", 7592},
    {"interpreter_state.sysdict", 7576},
    {"interpreter_state.builtins", 7584},
    {"interpreter_state.ceval_gil", 16},
    {"interpreter_state.gil_runtime_state", 7736},
    {"interpreter_state.gil_runtime_state_enabled", 0},
    {"interpreter_state.gil_runtime_state_locked", 7752},
    {"interpreter_state.gil_runtime_state_holder", 7744},
    {"interpreter_state.code_object_generation", 7944},
    {"interpreter_state.tlbc_generation", 0},
    {"thread_state.size", 888},
    {"thread_state.prev", 0},
    {"thread_state.next", 8},
    {"thread_state.interp", 16},
    {"thread_state.current_frame", 72},
    {"thread_state.base_frame", 80},
    {"thread_state.last_profiled_frame", 88},
    {"thread_state.last_profiled_frame_seq", 96},
    {"thread_state.thread_id", 176},
    {"thread_state.native_thread_id", 184},
    {"thread_state.datastack_chunk", 256},
    {"thread_state.status", 32},
    {"thread_state.holds_gil", 36},
    {"thread_state.gil_requested", 40},
    {"thread_state.current_exception", 136},
    {"thread_state.exc_state", 288},
    {"err_stackitem.exc_value", 0},
    {"interpreter_frame.size", 88},
    {"interpreter_frame.previous", 8},
    {"interpreter_frame.executable", 0},
    {"interpreter_frame.instr_ptr", 56},
    {"interpreter_frame.localsplus", 80},
    {"interpreter_frame.owner", 74},
    {"interpreter_frame.stackpointer", 64},
    {"interpreter_frame.tlbc_index", 0},
    {"code_object.size", 216},
    {"code_object.filename", 112},
    {"code_object.name", 120},
    {"code_object.qualname", 128},
    {"code_object.linetable", 136},
    {"code_object.firstlineno", 68},
    {"code_object.argcount", 52},
    {"code_object.localsplusnames", 96},
    {"code_object.localspluskinds", 104},
    {"code_object.co_code_adaptive", 208},
    {"code_object.co_tlbc", 0},
    {"pyobject.size", 16},
    {"pyobject.ob_type", 8},
    {"type_object.size", 424},
    {"type_object.tp_name", 24},
    {"type_object.tp_repr", 88},
    {"type_object.tp_flags", 168},
    {"type_object.tp_basicsize", 32},
    {"type_object.tp_dictoffset", 288},
    {"heap_type_object.size", 944},
    {"heap_type_object.ht_cached_keys", 888},
    {"tuple_object.size", 40},
    {"tuple_object.ob_item", 32},
    {"tuple_object.ob_size", 16},
    {"list_object.size", 40},
    {"list_object.ob_item", 24},
    {"list_object.ob_size", 16},
    {"set_object.size", 200},
    {"set_object.used", 24},
    {"set_object.table", 40},
    {"set_object.mask", 32},
    {"dict_object.size", 48},
    {"dict_object.ma_keys", 32},
    {"dict_object.ma_values", 40},
    {"float_object.size", 24},
    {"float_object.ob_fval", 16},
    {"long_object.size", 32},
    {"long_object.lv_tag", 16},
    {"long_object.ob_digit", 24},
    {"bytes_object.size", 40},
    {"bytes_object.ob_size", 16},
    {"bytes_object.ob_sval", 32},
    {"unicode_object.size", 64},
    {"unicode_object.state", 32},
    {"unicode_object.length", 16},
    {"unicode_object.asciiobject_size", 40},
    {"unicode_object.compactunicodeobject_size", 56},
    {"gc.size", 176},
    {"gc.collecting", 112},
    {"gc.frame", 120},
    {"gc.generation_stats_size", 1120},
    {"gc.generation_stats", 104},
    {"gen_object.size", 160},
    {"gen_object.gi_name", 24},
    {"gen_object.gi_iframe", 72},
    {"gen_object.gi_frame_state", 67},
    {"llist_node.next", 0},
    {"llist_node.prev", 8},
    {"debugger_support.eval_breaker", 24},
    {"debugger_support.remote_debugger_support", 344},
    {"debugger_support.remote_debugging_enabled", 8028},
    {"debugger_support.debugger_pending_call", 0},
    {"debugger_support.debugger_script_path", 4},
    {"debugger_support.debugger_script_path_size", 512},
};
/* clang-format on */

#define NSLOTS(a) (sizeof(a) / sizeof((a)[0]))

struct shape {
	int minor;
	const struct slot *slots;
	size_t n; /* slots after the cookie */
};

static const struct shape shapes[] = {
    {13, slots_313, NSLOTS(slots_313)},
    {14, slots_314, NSLOTS(slots_314)},
    {15, slots_315, NSLOTS(slots_315)},
};

static const struct shape *shape_of(int minor)
{
	for (size_t i = 0; i < NSLOTS(shapes); i++)
		if (shapes[i].minor == minor)
			return &shapes[i];
	fail();
	return NULL;
}

/* A blob as long as the shape (returned), padded with zeros up to PY_DEBUG_OFFSETS_MAX. */
static size_t build(unsigned char *blob, int minor)
{
	const struct shape *s = shape_of(minor);

	memset(blob, 0, PY_DEBUG_OFFSETS_MAX);
	memcpy(blob, "xdebugpy", 8);
	for (size_t i = 0; i < s->n; i++)
		memcpy(blob + 8 + 8 * i, &s->slots[i].value, 8);
	return 8 + 8 * s->n;
}

/* The slot of that name in minor's shape, NULL when the version has none. */
static const struct slot *slot_of(int minor, const char *name)
{
	const struct shape *s = shape_of(minor);

	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->slots[i].name, name))
			return &s->slots[i];
	return NULL;
}

static void set(unsigned char *blob, int minor, const char *name, uint64_t v)
{
	const struct slot *sl = slot_of(minor, name);

	if (!sl)
		fail_msg("no slot %s in 3.%d", name, minor);
	memcpy(blob + 8 + 8 * (size_t)(sl - shape_of(minor)->slots), &v, 8);
}

static int parse(const unsigned char *blob, size_t len, struct py_debug_offsets *d)
{
	memset(d, 0x5a, sizeof(*d));
	return py_debug_offsets_parse(blob, len, d);
}

/* ---- the three shapes ---- */

static void test_shape_sizes(void **state)
{
	unsigned char b[PY_DEBUG_OFFSETS_MAX];

	/* 73, 95 and 111 eight-byte slots with the cookie: all fit the stored prefix */
	assert_int_equal(build(b, 13), 584);
	assert_int_equal(build(b, 14), 760);
	assert_int_equal(build(b, 15), 888);
	assert_true(888 <= PY_DEBUG_OFFSETS_MAX);
}

static void test_parse_313(void **state)
{
	unsigned char b[PY_DEBUG_OFFSETS_MAX];
	struct py_debug_offsets d;
	size_t n = build(b, 13);

	assert_int_equal(parse(b, n, &d), 0);
	assert_int_equal(d.major, 3);
	assert_int_equal(d.minor, 13);
	assert_int_equal(d.micro, 18);
	assert_int_equal(d.runtime_size, 283408);
	assert_int_equal(d.runtime_interpreters_head, 632);
	assert_int_equal(d.interp_size, 194984);
	assert_int_equal(d.interp_next, 7264);
	assert_int_equal(d.interp_threads_head, 7344);
	assert_int_equal(d.interp_ceval_gil, 16);
	assert_int_equal(d.interp_gil, 7752);
	assert_int_equal(d.interp_gil_locked, 7768);
	assert_int_equal(d.interp_gil_holder, 7760);
	assert_int_equal(d.tstate_size, 312);
	assert_int_equal(d.tstate_prev, 0);
	assert_int_equal(d.tstate_next, 8);
	assert_int_equal(d.tstate_interp, 16);
	assert_int_equal(d.tstate_current_frame, 72);
	assert_int_equal(d.tstate_thread_id, 152);
	assert_int_equal(d.tstate_native_thread_id, 160);
	assert_int_equal(d.frame_size, 80);
	assert_int_equal(d.frame_previous, 8);
	assert_int_equal(d.frame_executable, 0);
	assert_int_equal(d.frame_instr_ptr, 56);
	assert_int_equal(d.frame_owner, 70);
	assert_int_equal(d.code_size, 208);
	assert_int_equal(d.code_filename, 112);
	assert_int_equal(d.code_name, 120);
	assert_int_equal(d.code_qualname, 128);
	assert_int_equal(d.code_linetable, 136);
	assert_int_equal(d.code_firstlineno, 68);
	assert_int_equal(d.code_adaptive, 200);
	assert_int_equal(d.object_size, 16);
	assert_int_equal(d.object_type, 8);
	assert_int_equal(d.type_size, 416);
	assert_int_equal(d.type_name, 24);
	assert_int_equal(d.type_flags, 168);
	assert_int_equal(d.type_basicsize, -1); /* not in the 3.13 blob */
	assert_int_equal(d.bytes_size, 40);
	assert_int_equal(d.bytes_ob_size, 16);
	assert_int_equal(d.bytes_sval, 32);
	assert_int_equal(d.unicode_size, 64);
	assert_int_equal(d.unicode_state, 32);
	assert_int_equal(d.unicode_length, 16);
	assert_int_equal(d.unicode_ascii_size, 40);
}

static void test_parse_314(void **state)
{
	unsigned char b[PY_DEBUG_OFFSETS_MAX];
	struct py_debug_offsets d;
	size_t n = build(b, 14);

	assert_int_equal(parse(b, n, &d), 0);
	assert_int_equal(d.major, 3);
	assert_int_equal(d.minor, 14);
	assert_int_equal(d.micro, 10);
	assert_int_equal(d.runtime_size, 316616);
	assert_int_equal(d.runtime_interpreters_head, 808);
	assert_int_equal(d.interp_size, 225864);
	assert_int_equal(d.interp_next, 7272);
	assert_int_equal(d.interp_threads_head, 7344); /* not threads_main (7360), next to it */
	assert_int_equal(d.interp_ceval_gil, 16);
	assert_int_equal(d.interp_gil, 7784);
	assert_int_equal(d.interp_gil_locked, 7800);
	assert_int_equal(d.interp_gil_holder, 7792);
	assert_int_equal(d.tstate_size, 832);
	assert_int_equal(d.tstate_prev, 0);
	assert_int_equal(d.tstate_next, 8);
	assert_int_equal(d.tstate_interp, 16);
	assert_int_equal(d.tstate_current_frame, 72);
	assert_int_equal(d.tstate_thread_id, 152);
	assert_int_equal(d.tstate_native_thread_id, 160);
	assert_int_equal(d.frame_size, 88);
	assert_int_equal(d.frame_previous, 8);
	assert_int_equal(d.frame_executable, 0);
	assert_int_equal(d.frame_instr_ptr, 56);
	assert_int_equal(d.frame_owner, 74);
	assert_int_equal(d.code_size, 216);
	assert_int_equal(d.code_filename, 112);
	assert_int_equal(d.code_name, 120);
	assert_int_equal(d.code_qualname, 128);
	assert_int_equal(d.code_linetable, 136);
	assert_int_equal(d.code_firstlineno, 68);
	assert_int_equal(d.code_adaptive, 208);
	assert_int_equal(d.object_size, 16);
	assert_int_equal(d.object_type, 8);
	assert_int_equal(d.type_size, 416);
	assert_int_equal(d.type_name, 24);
	assert_int_equal(d.type_flags, 168);
	assert_int_equal(d.type_basicsize, -1);
	assert_int_equal(d.bytes_size, 40);
	assert_int_equal(d.bytes_ob_size, 16);
	assert_int_equal(d.bytes_sval, 32);
	assert_int_equal(d.unicode_size, 64);
	assert_int_equal(d.unicode_state, 32);
	assert_int_equal(d.unicode_length, 16);
	assert_int_equal(d.unicode_ascii_size, 40);
}

static void test_parse_315(void **state)
{
	unsigned char b[PY_DEBUG_OFFSETS_MAX];
	struct py_debug_offsets d;
	size_t n = build(b, 15);

	assert_int_equal(parse(b, n, &d), 0);
	assert_int_equal(d.minor, 15);
	assert_int_equal(d.micro, 2);
	assert_int_equal(d.runtime_size, 346568);
	assert_int_equal(d.runtime_interpreters_head, 936);
	assert_int_equal(d.interp_size, 226240);
	assert_int_equal(d.interp_next, 7264);
	assert_int_equal(d.interp_threads_head, 7336);
	assert_int_equal(d.interp_ceval_gil, 16);
	assert_int_equal(d.interp_gil, 7736);
	assert_int_equal(d.interp_gil_locked, 7752);
	assert_int_equal(d.interp_gil_holder, 7744);
	assert_int_equal(d.tstate_size, 888);
	assert_int_equal(d.tstate_prev, 0);
	assert_int_equal(d.tstate_next, 8);
	assert_int_equal(d.tstate_interp, 16);
	assert_int_equal(d.tstate_current_frame, 72);
	/* after base_frame, last_profiled_frame and its sequence number, new in 3.15 */
	assert_int_equal(d.tstate_thread_id, 176);
	assert_int_equal(d.tstate_native_thread_id, 184);
	assert_int_equal(d.frame_size, 88);
	assert_int_equal(d.frame_previous, 8);
	assert_int_equal(d.frame_executable, 0);
	assert_int_equal(d.frame_instr_ptr, 56);
	assert_int_equal(d.frame_owner, 74);
	assert_int_equal(d.code_size, 216);
	assert_int_equal(d.code_filename, 112);
	assert_int_equal(d.code_name, 120);
	assert_int_equal(d.code_qualname, 128);
	assert_int_equal(d.code_linetable, 136);
	assert_int_equal(d.code_firstlineno, 68);
	assert_int_equal(d.code_adaptive, 208);
	assert_int_equal(d.type_size, 424);
	assert_int_equal(d.type_name, 24);
	assert_int_equal(d.type_flags, 168);
	assert_int_equal(d.type_basicsize, 32);
	assert_int_equal(d.bytes_size, 40);
	assert_int_equal(d.bytes_ob_size, 16);
	assert_int_equal(d.bytes_sval, 32);
	assert_int_equal(d.unicode_size, 64);
	assert_int_equal(d.unicode_state, 32);
	assert_int_equal(d.unicode_length, 16);
	assert_int_equal(d.unicode_ascii_size, 40);
}

/*
 * Where the reader takes each value: every slot it reads, by its name in this file's
 * transcription, moved by 8 (up, or down where up leaves its structure) changes the one field
 * it fills by as much and no other; so each byte offset of pydebug.c's shapes is the slot's
 * place here, whatever the values. PyObject's two are checked for one value only, so any other
 * is refused. A slot a version lacks leaves its field -1.
 */
#define OFF(field) offsetof(struct py_debug_offsets, field)
static const struct {
	const char *slot;
	size_t field;
} takes[] = {
    {"runtime_state.size", OFF(runtime_size)},
    {"runtime_state.interpreters_head", OFF(runtime_interpreters_head)},
    {"interpreter_state.size", OFF(interp_size)},
    {"interpreter_state.next", OFF(interp_next)},
    {"interpreter_state.threads_head", OFF(interp_threads_head)},
    {"interpreter_state.ceval_gil", OFF(interp_ceval_gil)},
    {"interpreter_state.gil_runtime_state", OFF(interp_gil)},
    {"interpreter_state.gil_runtime_state_locked", OFF(interp_gil_locked)},
    {"interpreter_state.gil_runtime_state_holder", OFF(interp_gil_holder)},
    {"thread_state.size", OFF(tstate_size)},
    {"thread_state.prev", OFF(tstate_prev)},
    {"thread_state.next", OFF(tstate_next)},
    {"thread_state.interp", OFF(tstate_interp)},
    {"thread_state.current_frame", OFF(tstate_current_frame)},
    {"thread_state.thread_id", OFF(tstate_thread_id)},
    {"thread_state.native_thread_id", OFF(tstate_native_thread_id)},
    {"interpreter_frame.size", OFF(frame_size)},
    {"interpreter_frame.previous", OFF(frame_previous)},
    {"interpreter_frame.executable", OFF(frame_executable)},
    {"interpreter_frame.instr_ptr", OFF(frame_instr_ptr)},
    {"interpreter_frame.owner", OFF(frame_owner)},
    {"code_object.size", OFF(code_size)},
    {"code_object.filename", OFF(code_filename)},
    {"code_object.name", OFF(code_name)},
    {"code_object.qualname", OFF(code_qualname)},
    {"code_object.linetable", OFF(code_linetable)},
    {"code_object.firstlineno", OFF(code_firstlineno)},
    {"code_object.co_code_adaptive", OFF(code_adaptive)},
    {"pyobject.size", OFF(object_size)},
    {"pyobject.ob_type", OFF(object_type)},
    {"type_object.size", OFF(type_size)},
    {"type_object.tp_name", OFF(type_name)},
    {"type_object.tp_flags", OFF(type_flags)},
    {"type_object.tp_basicsize", OFF(type_basicsize)},
    {"bytes_object.size", OFF(bytes_size)},
    {"bytes_object.ob_size", OFF(bytes_ob_size)},
    {"bytes_object.ob_sval", OFF(bytes_sval)},
    {"unicode_object.size", OFF(unicode_size)},
    {"unicode_object.state", OFF(unicode_state)},
    {"unicode_object.length", OFF(unicode_length)},
    {"unicode_object.asciiobject_size", OFF(unicode_ascii_size)},
};
#undef OFF

static int field_of(const struct py_debug_offsets *d, size_t field)
{
	int v;

	memcpy(&v, (const char *)d + field, sizeof(v));
	return v;
}

static void test_slot_positions(void **state)
{
	unsigned char b[PY_DEBUG_OFFSETS_MAX];
	struct py_debug_offsets d0, d;

	for (int minor = 13; minor <= 15; minor++) {
		size_t n = build(b, minor);

		assert_int_equal(parse(b, n, &d0), 0);
		for (size_t k = 0; k < NSLOTS(takes); k++) {
			const struct slot *sl = slot_of(minor, takes[k].slot);
			int was = field_of(&d0, takes[k].field), delta = 8;

			if (!sl) {
				if (was != -1)
					fail_msg("3.%d has no %s, yet gives %d", minor,
						 takes[k].slot, was);
				continue;
			}
			build(b, minor);
			set(b, minor, sl->name, sl->value + 8);
			if (parse(b, n, &d)) {
				delta = -8;
				build(b, minor);
				set(b, minor, sl->name, sl->value - 8);
				if (parse(b, n, &d)) {
					/* refused both ways: only PyObject's pair has one value */
					if (strncmp(sl->name, "pyobject.", 9))
						fail_msg("3.%d %s: no value next to it parses",
							 minor, sl->name);
					continue;
				}
			}
			if (field_of(&d, takes[k].field) != was + delta)
				fail_msg("3.%d %s: not where the reader takes it", minor, sl->name);
			memcpy((char *)&d + takes[k].field, &was, sizeof(was));
			if (memcmp(&d, &d0, sizeof(d)))
				fail_msg("3.%d %s: moved another field", minor, sl->name);
		}
	}
}

/* ---- the documented errors ---- */

static void test_errors(void **state)
{
	unsigned char b[PY_DEBUG_OFFSETS_MAX];
	struct py_debug_offsets d;
	size_t n;

	for (int minor = 13; minor <= 15; minor++) {
		/* short: the header, then the shape */
		n = build(b, minor);
		assert_int_equal(parse(b, 0, &d), -ENODATA);
		assert_int_equal(parse(b, 23, &d), -ENODATA);
		assert_int_equal(parse(b, n - 1, &d), -ENODATA);
		assert_int_equal(parse(NULL, n, &d), -ENODATA);
		assert_int_equal(parse(b, n, &d), 0);
		assert_int_equal(parse(b, PY_DEBUG_OFFSETS_MAX, &d), 0); /* longer is fine */

		/* wrong cookie */
		b[7] = 'Y';
		assert_int_equal(parse(b, n, &d), -EINVAL);
		build(b, minor);
		memset(b, 0, 8);
		assert_int_equal(parse(b, n, &d), -EINVAL);

		/* free-threaded: declined; a flag that is neither 0 nor 1: malformed */
		build(b, minor);
		set(b, minor, "free_threaded", 1);
		assert_int_equal(parse(b, n, &d), -ENOTSUP);
		set(b, minor, "free_threaded", 2);
		assert_int_equal(parse(b, n, &d), -EINVAL);

		/* implausible offsets */
		build(b, minor);
		set(b, minor, "thread_state.thread_id", 1u << 20);
		assert_int_equal(parse(b, n, &d), -EINVAL);
		build(b, minor);
		set(b, minor, "thread_state.thread_id",
		    minor == 15	  ? 888
		    : minor == 14 ? 832
				  : 312);
		assert_int_equal(parse(b, n, &d), -EINVAL); /* past sizeof(PyThreadState) */
		build(b, minor);
		set(b, minor, "code_object.qualname", ~0ULL);
		assert_int_equal(parse(b, n, &d), -EINVAL);
		build(b, minor);
		set(b, minor, "interpreter_frame.owner", 88);
		assert_int_equal(parse(b, n, &d), -EINVAL);
		build(b, minor);
		set(b, minor, "runtime_state.size", 1ULL << 40);
		assert_int_equal(parse(b, n, &d), -EINVAL);
		build(b, minor);
		set(b, minor, "runtime_state.interpreters_head", 1ULL << 19);
		assert_int_equal(parse(b, n, &d), -EINVAL); /* beyond sizeof(_PyRuntimeState) */
		build(b, minor);
		set(b, minor, "pyobject.size", 24); /* not a default 64-bit build */
		assert_int_equal(parse(b, n, &d), -EINVAL);
		build(b, minor);
		set(b, minor, "interpreter_state.gil_runtime_state_locked", 8);
		assert_int_equal(parse(b, n, &d), -EINVAL); /* before the GIL it belongs to */
	}

	/* unknown versions: no shape is guessed */
	static const uint64_t versions[] = {
	    0x030c01f0,	 /* 3.12: no _Py_DebugOffsets at all */
	    0x031000f0,	 /* 3.16 */
	    0x030f00a1,	 /* 3.15.0a1: alphas and betas changed the shape */
	    0x030e00b3,	 /* 3.14.0b3 */
	    0x040d00f0,	 /* 4.13 */
	    0x1030d12f0, /* garbage above the 32 bits */
	};
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		n = build(b, 15);
		set(b, 15, "version", versions[i]);
		assert_int_equal(parse(b, PY_DEBUG_OFFSETS_MAX, &d), -ENOTSUP);
	}
	/* a release candidate has the final shape */
	n = build(b, 15);
	set(b, 15, "version", 0x030f00c1);
	assert_int_equal(parse(b, n, &d), 0);
	assert_int_equal(d.micro, 0);
}

/* A blob of one shape labelled with another version is refused, whichever way round. */
static void test_shape_mismatch(void **state)
{
	unsigned char b[PY_DEBUG_OFFSETS_MAX];
	struct py_debug_offsets d;
	static const int pairs[][2] = {{14, 15}, {15, 14}, {13, 14}, {14, 13}, {13, 15}, {15, 13}};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		int real = pairs[i][0], label = pairs[i][1];
		uint64_t v = 0x030000f0 | (uint64_t)label << 16;

		build(b, real);
		set(b, real, "version", v);
		assert_int_not_equal(parse(b, PY_DEBUG_OFFSETS_MAX, &d), 0);
	}
}

/* d is written only on success */
static void test_no_partial_output(void **state)
{
	unsigned char b[PY_DEBUG_OFFSETS_MAX], before[sizeof(struct py_debug_offsets)];
	struct py_debug_offsets d;
	struct py_frame_offsets o, obefore;

	build(b, 15);
	set(b, 15, "code_object.name", 4096);
	memset(&d, 0x5a, sizeof(d));
	memcpy(before, &d, sizeof(d));
	assert_int_equal(py_debug_offsets_parse(b, PY_DEBUG_OFFSETS_MAX, &d), -EINVAL);
	assert_memory_equal(&d, before, sizeof(d));
	memset(&o, 0x5a, sizeof(o));
	obefore = o;
	assert_int_equal(py_frame_offsets_from_debug(b, PY_DEBUG_OFFSETS_MAX, &o), -EINVAL);
	assert_memory_equal(&o, &obefore, sizeof(o));
}

/* ---- frame offsets: the table entry under the blob ---- */

static void test_frame_offsets_from_debug(void **state)
{
	unsigned char b[PY_DEBUG_OFFSETS_MAX];
	struct py_frame_offsets o;

	build(b, 15);
	assert_int_equal(py_frame_offsets_from_debug(b, PY_DEBUG_OFFSETS_MAX, &o), 0);
	assert_int_equal(o.major, 3);
	assert_int_equal(o.minor, 15);
	/* from the blob */
	assert_int_equal(o.runtime_size, 346568);
	assert_int_equal(o.runtime_interpreters_head, 936);
	assert_int_equal(o.runtime_interpreters_main, 944);
	assert_int_equal(o.interp_next, 7264);
	assert_int_equal(o.interp_threads_head, 7336);
	assert_int_equal(o.interp_gil_ptr, 16);
	assert_int_equal(o.gil_last_holder, 8); /* holder - _gil */
	assert_int_equal(o.gil_locked, 16);
	assert_int_equal(o.tstate_size, 888);
	assert_int_equal(o.tstate_prev, 0);
	assert_int_equal(o.tstate_next, 8);
	assert_int_equal(o.tstate_interp, 16);
	assert_int_equal(o.tstate_current_frame, 72);
	assert_int_equal(o.tstate_thread_id, 176);
	assert_int_equal(o.tstate_native_thread_id, 184);
	assert_int_equal(o.frame_previous, 8);
	assert_int_equal(o.frame_code, 0);
	assert_int_equal(o.frame_instr_ptr, 56);
	assert_int_equal(o.frame_owner, 74);
	assert_int_equal(o.code_size, 216);
	assert_int_equal(o.code_filename, 112);
	assert_int_equal(o.code_name, 120);
	assert_int_equal(o.code_qualname, 128);
	assert_int_equal(o.code_firstlineno, 68);
	assert_int_equal(o.code_linetable, 136);
	assert_int_equal(o.code_adaptive, 208);
	assert_int_equal(o.object_type, 8);
	assert_int_equal(o.bytes_size, 16);
	assert_int_equal(o.bytes_data, 32);
	assert_int_equal(o.unicode_length, 16);
	assert_int_equal(o.unicode_state, 32);
	assert_int_equal(o.unicode_ascii_data, 40);
	/* from the table: 3.15.2's headers */
	assert_int_equal(o.frame_code_tag_bits, 3);
	assert_int_equal(o.frame_owner_incomplete, 3);
	assert_int_equal(o.linetable_format, PY_LINETABLE_LOCATIONS);
	assert_int_equal(o.runtime_main_interpreter, 120328);
	assert_int_equal(o.runtime_autotss_key, -1);
	assert_int_equal(o.tstate_cframe, -1);
	assert_int_equal(o.cframe_current_frame, -1);
	assert_int_equal(o.tstate_frame, -1);
	assert_int_equal(o.frame_lasti, -1);
	assert_int_equal(o.frame_is_entry, -1);
	assert_int_equal(o.runtime_tstate_current, -1);
	assert_int_equal(o.runtime_debug_offsets, 0);

	/* 3.14 */
	build(b, 14);
	assert_int_equal(py_frame_offsets_from_debug(b, PY_DEBUG_OFFSETS_MAX, &o), 0);
	assert_int_equal(o.runtime_interpreters_head, 808);
	assert_int_equal(o.interp_threads_head, 7344);
	assert_int_equal(o.tstate_thread_id, 152);
	assert_int_equal(o.frame_owner, 74);
	assert_int_equal(o.frame_code_tag_bits, 3);
	assert_int_equal(o.frame_owner_incomplete, 3);
	assert_int_equal(o.runtime_autotss_key, 2336);
	assert_int_equal(o.runtime_main_interpreter, 90752);

	/* 3.13.18: a _PyRuntimeState of another size than 3.13.0's table (283320): the table's
	 * _main_interpreter and autoTSSkey offsets are dropped, not trusted */
	build(b, 13);
	assert_int_equal(py_frame_offsets_from_debug(b, PY_DEBUG_OFFSETS_MAX, &o), 0);
	assert_int_equal(o.runtime_size, 283408);
	assert_int_equal(o.tstate_size, 312);
	assert_int_equal(o.runtime_main_interpreter, -1);
	assert_int_equal(o.runtime_autotss_key, -1);
	assert_int_equal(o.frame_code_tag_bits, 0);
	assert_int_equal(o.frame_owner, 70);
	/* the same build size as the table's: kept */
	set(b, 13, "runtime_state.size", 283320);
	assert_int_equal(py_frame_offsets_from_debug(b, PY_DEBUG_OFFSETS_MAX, &o), 0);
	assert_int_equal(o.runtime_main_interpreter, 88352);
	assert_int_equal(o.runtime_autotss_key, 2160);
}

/* The static entries of 3.14/3.15 carry only what the blob does not give. */
static void test_table_entries(void **state)
{
	for (int minor = 14; minor <= 15; minor++) {
		const struct py_frame_offsets *o = py_frame_offsets_for(3, minor);

		assert_non_null(o);
		assert_int_equal(o->tstate_thread_id, -1);
		assert_int_equal(o->interp_threads_head, -1);
		assert_int_equal(o->frame_owner, -1);
		assert_int_equal(o->code_qualname, -1);
		assert_int_equal(o->unicode_ascii_data, -1);
		assert_int_equal(o->frame_code_tag_bits, 3);
		assert_int_equal(o->frame_owner_incomplete, 3);
		assert_int_equal(o->linetable_format, PY_LINETABLE_LOCATIONS);
		assert_int_equal(o->untested, 0);
	}
	assert_null(py_frame_offsets_for(3, 16));
	assert_null(py_frame_offsets_for(3, 7));
}

/*
 * Every field of every table entry, and of what the overlay makes of this file's 3.13, 3.14 and
 * 3.15 blobs, in py_frame_offset_fields' order: printed from pyframes.c and pydebug.c before
 * their shared runs were written once (pyframes.c's PRE_314, SINCE_311, ... macros, the named
 * groups of pydebug.c's shapes), which changed none of them. A macro that drops, adds or moves
 * a value shows up here by name; a field left out of an initializer would silently be 0.
 */
/* clang-format off */
static const char *const pinned_table[] = {
    /* 3.8 */
	"major=3 minor=8 untested=0 runtime_size=1464 runtime_debug_offsets=-1 "
	"runtime_tstate_current=1368 runtime_autotss_key=1392 runtime_interpreters_head=32 "
	"runtime_interpreters_main=40 runtime_main_interpreter=-1 runtime_gil=1152 "
	"interp_next=0 interp_threads_head=8 interp_gil_ptr=-1 gil_last_holder=8 "
	"gil_locked=16 tstate_size=264 tstate_prev=0 tstate_next=8 tstate_interp=16 "
	"tstate_frame=24 tstate_cframe=-1 cframe_current_frame=-1 tstate_current_frame=-1 "
	"tstate_thread_id=176 tstate_native_thread_id=-1 frame_previous=24 frame_code=32 "
	"frame_code_tag_bits=0 frame_lasti=104 lasti_unit=1 frame_instr_ptr=-1 "
	"frame_is_entry=-1 frame_owner=-1 frame_owner_incomplete=-1 code_size=176 "
	"code_filename=104 code_name=112 code_qualname=-1 code_firstlineno=40 "
	"code_linetable=120 code_adaptive=-1 linetable_format=1 object_type=8 type_name=24 "
	"bytes_size=16 bytes_data=32 unicode_length=16 unicode_state=32 unicode_ascii_data=48",
    /* 3.9 */
	"major=3 minor=9 untested=0 runtime_size=656 runtime_debug_offsets=-1 "
	"runtime_tstate_current=568 runtime_autotss_key=584 runtime_interpreters_head=32 "
	"runtime_interpreters_main=40 runtime_main_interpreter=-1 runtime_gil=352 "
	"interp_next=0 interp_threads_head=8 interp_gil_ptr=-1 gil_last_holder=8 "
	"gil_locked=16 tstate_size=264 tstate_prev=0 tstate_next=8 tstate_interp=16 "
	"tstate_frame=24 tstate_cframe=-1 cframe_current_frame=-1 tstate_current_frame=-1 "
	"tstate_thread_id=176 tstate_native_thread_id=-1 frame_previous=24 frame_code=32 "
	"frame_code_tag_bits=0 frame_lasti=104 lasti_unit=1 frame_instr_ptr=-1 "
	"frame_is_entry=-1 frame_owner=-1 frame_owner_incomplete=-1 code_size=176 "
	"code_filename=104 code_name=112 code_qualname=-1 code_firstlineno=40 "
	"code_linetable=120 code_adaptive=-1 linetable_format=1 object_type=8 type_name=24 "
	"bytes_size=16 bytes_data=32 unicode_length=16 unicode_state=32 unicode_ascii_data=48",
    /* 3.10 */
	"major=3 minor=10 untested=0 runtime_size=672 runtime_debug_offsets=-1 "
	"runtime_tstate_current=568 runtime_autotss_key=584 runtime_interpreters_head=32 "
	"runtime_interpreters_main=40 runtime_main_interpreter=-1 runtime_gil=352 "
	"interp_next=0 interp_threads_head=8 interp_gil_ptr=-1 gil_last_holder=8 "
	"gil_locked=16 tstate_size=280 tstate_prev=0 tstate_next=8 tstate_interp=16 "
	"tstate_frame=24 tstate_cframe=-1 cframe_current_frame=-1 tstate_current_frame=-1 "
	"tstate_thread_id=176 tstate_native_thread_id=-1 frame_previous=24 frame_code=32 "
	"frame_code_tag_bits=0 frame_lasti=96 lasti_unit=2 frame_instr_ptr=-1 "
	"frame_is_entry=-1 frame_owner=-1 frame_owner_incomplete=-1 code_size=176 "
	"code_filename=104 code_name=112 code_qualname=-1 code_firstlineno=40 "
	"code_linetable=120 code_adaptive=-1 linetable_format=2 object_type=8 type_name=24 "
	"bytes_size=16 bytes_data=32 unicode_length=16 unicode_state=32 unicode_ascii_data=48",
    /* 3.11 */
	"major=3 minor=11 untested=0 runtime_size=166688 runtime_debug_offsets=-1 "
	"runtime_tstate_current=576 runtime_autotss_key=592 runtime_interpreters_head=40 "
	"runtime_interpreters_main=48 runtime_main_interpreter=58936 runtime_gil=360 "
	"interp_next=0 interp_threads_head=16 interp_gil_ptr=-1 gil_last_holder=8 "
	"gil_locked=16 tstate_size=360 tstate_prev=0 tstate_next=8 tstate_interp=16 "
	"tstate_frame=-1 tstate_cframe=56 cframe_current_frame=8 tstate_current_frame=-1 "
	"tstate_thread_id=152 tstate_native_thread_id=160 frame_previous=48 frame_code=32 "
	"frame_code_tag_bits=0 frame_lasti=-1 lasti_unit=0 frame_instr_ptr=56 "
	"frame_is_entry=68 frame_owner=69 frame_owner_incomplete=-1 code_size=192 "
	"code_filename=112 code_name=120 code_qualname=128 code_firstlineno=72 "
	"code_linetable=136 code_adaptive=184 linetable_format=3 object_type=8 type_name=24 "
	"bytes_size=16 bytes_data=32 unicode_length=16 unicode_state=32 unicode_ascii_data=48",
    /* 3.12 */
	"major=3 minor=12 untested=0 runtime_size=459944 runtime_debug_offsets=-1 "
	"runtime_tstate_current=-1 runtime_autotss_key=1544 runtime_interpreters_head=40 "
	"runtime_interpreters_main=48 runtime_main_interpreter=76392 runtime_gil=-1 "
	"interp_next=0 interp_threads_head=72 interp_gil_ptr=384 gil_last_holder=8 "
	"gil_locked=16 tstate_size=288 tstate_prev=0 tstate_next=8 tstate_interp=16 "
	"tstate_frame=-1 tstate_cframe=56 cframe_current_frame=0 tstate_current_frame=-1 "
	"tstate_thread_id=136 tstate_native_thread_id=144 frame_previous=8 frame_code=0 "
	"frame_code_tag_bits=0 frame_lasti=-1 lasti_unit=0 frame_instr_ptr=56 "
	"frame_is_entry=-1 frame_owner=70 frame_owner_incomplete=3 code_size=200 "
	"code_filename=112 code_name=120 code_qualname=128 code_firstlineno=68 "
	"code_linetable=136 code_adaptive=192 linetable_format=3 object_type=8 type_name=24 "
	"bytes_size=16 bytes_data=32 unicode_length=16 unicode_state=32 unicode_ascii_data=40",
    /* 3.13 */
	"major=3 minor=13 untested=0 runtime_size=283320 runtime_debug_offsets=0 "
	"runtime_tstate_current=-1 runtime_autotss_key=2160 runtime_interpreters_head=632 "
	"runtime_interpreters_main=640 runtime_main_interpreter=88352 runtime_gil=-1 "
	"interp_next=7264 interp_threads_head=7344 interp_gil_ptr=16 gil_last_holder=8 "
	"gil_locked=16 tstate_size=304 tstate_prev=0 tstate_next=8 tstate_interp=16 "
	"tstate_frame=-1 tstate_cframe=-1 cframe_current_frame=-1 tstate_current_frame=72 "
	"tstate_thread_id=152 tstate_native_thread_id=160 frame_previous=8 frame_code=0 "
	"frame_code_tag_bits=0 frame_lasti=-1 lasti_unit=0 frame_instr_ptr=56 "
	"frame_is_entry=-1 frame_owner=70 frame_owner_incomplete=3 code_size=208 "
	"code_filename=112 code_name=120 code_qualname=128 code_firstlineno=68 "
	"code_linetable=136 code_adaptive=200 linetable_format=3 object_type=8 type_name=24 "
	"bytes_size=16 bytes_data=32 unicode_length=16 unicode_state=32 unicode_ascii_data=40",
    /* 3.14 */
	"major=3 minor=14 untested=0 runtime_size=316616 runtime_debug_offsets=0 "
	"runtime_tstate_current=-1 runtime_autotss_key=2336 runtime_interpreters_head=-1 "
	"runtime_interpreters_main=-1 runtime_main_interpreter=90752 runtime_gil=-1 "
	"interp_next=-1 interp_threads_head=-1 interp_gil_ptr=-1 gil_last_holder=-1 "
	"gil_locked=-1 tstate_size=-1 tstate_prev=-1 tstate_next=-1 tstate_interp=-1 "
	"tstate_frame=-1 tstate_cframe=-1 cframe_current_frame=-1 tstate_current_frame=-1 "
	"tstate_thread_id=-1 tstate_native_thread_id=-1 frame_previous=-1 frame_code=-1 "
	"frame_code_tag_bits=3 frame_lasti=-1 lasti_unit=0 frame_instr_ptr=-1 "
	"frame_is_entry=-1 frame_owner=-1 frame_owner_incomplete=3 code_size=-1 "
	"code_filename=-1 code_name=-1 code_qualname=-1 code_firstlineno=-1 "
	"code_linetable=-1 code_adaptive=-1 linetable_format=3 object_type=-1 type_name=-1 "
	"bytes_size=-1 bytes_data=-1 unicode_length=-1 unicode_state=-1 unicode_ascii_data=-1",
    /* 3.15 */
	"major=3 minor=15 untested=0 runtime_size=346568 runtime_debug_offsets=0 "
	"runtime_tstate_current=-1 runtime_autotss_key=-1 runtime_interpreters_head=-1 "
	"runtime_interpreters_main=-1 runtime_main_interpreter=120328 runtime_gil=-1 "
	"interp_next=-1 interp_threads_head=-1 interp_gil_ptr=-1 gil_last_holder=-1 "
	"gil_locked=-1 tstate_size=-1 tstate_prev=-1 tstate_next=-1 tstate_interp=-1 "
	"tstate_frame=-1 tstate_cframe=-1 cframe_current_frame=-1 tstate_current_frame=-1 "
	"tstate_thread_id=-1 tstate_native_thread_id=-1 frame_previous=-1 frame_code=-1 "
	"frame_code_tag_bits=3 frame_lasti=-1 lasti_unit=0 frame_instr_ptr=-1 "
	"frame_is_entry=-1 frame_owner=-1 frame_owner_incomplete=3 code_size=-1 "
	"code_filename=-1 code_name=-1 code_qualname=-1 code_firstlineno=-1 "
	"code_linetable=-1 code_adaptive=-1 linetable_format=3 object_type=-1 type_name=-1 "
	"bytes_size=-1 bytes_data=-1 unicode_length=-1 unicode_state=-1 unicode_ascii_data=-1",
    NULL,
};

static const char *const pinned_overlay[] = {
    /* 3.13 */
	"major=3 minor=13 untested=0 runtime_size=283408 runtime_debug_offsets=0 "
	"runtime_tstate_current=-1 runtime_autotss_key=-1 runtime_interpreters_head=632 "
	"runtime_interpreters_main=640 runtime_main_interpreter=-1 runtime_gil=-1 "
	"interp_next=7264 interp_threads_head=7344 interp_gil_ptr=16 gil_last_holder=8 "
	"gil_locked=16 tstate_size=312 tstate_prev=0 tstate_next=8 tstate_interp=16 "
	"tstate_frame=-1 tstate_cframe=-1 cframe_current_frame=-1 tstate_current_frame=72 "
	"tstate_thread_id=152 tstate_native_thread_id=160 frame_previous=8 frame_code=0 "
	"frame_code_tag_bits=0 frame_lasti=-1 lasti_unit=0 frame_instr_ptr=56 "
	"frame_is_entry=-1 frame_owner=70 frame_owner_incomplete=3 code_size=208 "
	"code_filename=112 code_name=120 code_qualname=128 code_firstlineno=68 "
	"code_linetable=136 code_adaptive=200 linetable_format=3 object_type=8 type_name=24 "
	"bytes_size=16 bytes_data=32 unicode_length=16 unicode_state=32 unicode_ascii_data=40",
    /* 3.14 */
	"major=3 minor=14 untested=0 runtime_size=316616 runtime_debug_offsets=0 "
	"runtime_tstate_current=-1 runtime_autotss_key=2336 runtime_interpreters_head=808 "
	"runtime_interpreters_main=816 runtime_main_interpreter=90752 runtime_gil=-1 "
	"interp_next=7272 interp_threads_head=7344 interp_gil_ptr=16 gil_last_holder=8 "
	"gil_locked=16 tstate_size=832 tstate_prev=0 tstate_next=8 tstate_interp=16 "
	"tstate_frame=-1 tstate_cframe=-1 cframe_current_frame=-1 tstate_current_frame=72 "
	"tstate_thread_id=152 tstate_native_thread_id=160 frame_previous=8 frame_code=0 "
	"frame_code_tag_bits=3 frame_lasti=-1 lasti_unit=0 frame_instr_ptr=56 "
	"frame_is_entry=-1 frame_owner=74 frame_owner_incomplete=3 code_size=216 "
	"code_filename=112 code_name=120 code_qualname=128 code_firstlineno=68 "
	"code_linetable=136 code_adaptive=208 linetable_format=3 object_type=8 type_name=24 "
	"bytes_size=16 bytes_data=32 unicode_length=16 unicode_state=32 unicode_ascii_data=40",
    /* 3.15 */
	"major=3 minor=15 untested=0 runtime_size=346568 runtime_debug_offsets=0 "
	"runtime_tstate_current=-1 runtime_autotss_key=-1 runtime_interpreters_head=936 "
	"runtime_interpreters_main=944 runtime_main_interpreter=120328 runtime_gil=-1 "
	"interp_next=7264 interp_threads_head=7336 interp_gil_ptr=16 gil_last_holder=8 "
	"gil_locked=16 tstate_size=888 tstate_prev=0 tstate_next=8 tstate_interp=16 "
	"tstate_frame=-1 tstate_cframe=-1 cframe_current_frame=-1 tstate_current_frame=72 "
	"tstate_thread_id=176 tstate_native_thread_id=184 frame_previous=8 frame_code=0 "
	"frame_code_tag_bits=3 frame_lasti=-1 lasti_unit=0 frame_instr_ptr=56 "
	"frame_is_entry=-1 frame_owner=74 frame_owner_incomplete=3 code_size=216 "
	"code_filename=112 code_name=120 code_qualname=128 code_firstlineno=68 "
	"code_linetable=136 code_adaptive=208 linetable_format=3 object_type=8 type_name=24 "
	"bytes_size=16 bytes_data=32 unicode_length=16 unicode_state=32 unicode_ascii_data=40",
};
/* clang-format on */

/* "name=value" for each field of o, in py_frame_offset_fields' order, space-separated. */
static void describe(const struct py_frame_offsets *o, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (const struct py_frame_offset_field *f = py_frame_offset_fields; f->name; f++) {
		int v;

		memcpy(&v, (const char *)o + f->offset, sizeof(v));
		at += (size_t)snprintf(buf + at, len - at, "%s%s=%d", at ? " " : "", f->name, v);
		assert_true(at < len);
	}
}

/* The field where got and want first differ, by name, else equal. */
static void same_fields(const char *what, const char *got, const char *want)
{
	size_t i = 0;

	while (got[i] && got[i] == want[i])
		i++;
	if (!got[i] && !want[i])
		return;
	while (i && got[i - 1] != ' ')
		i--;
	fail_msg("%s: %.60s, pinned %.60s", what, got + i, want + i);
}

static void test_pinned_offsets(void **state)
{
	unsigned char b[PY_DEBUG_OFFSETS_MAX];
	struct py_frame_offsets o;
	char got[4096], what[32];
	size_t nfields = 0, i = 0;

	/* the listing covers the whole struct, so that the strings below do */
	while (py_frame_offset_fields[nfields].name)
		nfields++;
	assert_int_equal(nfields * sizeof(int), sizeof(struct py_frame_offsets));

	for (int minor = 0; minor <= 20; minor++) {
		const struct py_frame_offsets *t = py_frame_offsets_for(3, minor);

		if (!t)
			continue;
		assert_non_null(pinned_table[i]);
		describe(t, got, sizeof(got));
		snprintf(what, sizeof(what), "table 3.%d", minor);
		same_fields(what, got, pinned_table[i++]);
	}
	assert_null(pinned_table[i]);

	for (int minor = 13; minor <= 15; minor++) {
		build(b, minor);
		assert_int_equal(py_frame_offsets_from_debug(b, PY_DEBUG_OFFSETS_MAX, &o), 0);
		describe(&o, got, sizeof(got));
		snprintf(what, sizeof(what), "overlay 3.%d", minor);
		same_fields(what, got, pinned_overlay[minor - 13]);
	}
}

/* ---- per binary ---- */

static void interp_with(struct py_interp *in, int minor, const unsigned char *blob, size_t n)
{
	memset(in, 0, sizeof(*in));
	in->major = 3;
	in->minor = minor;
	if (blob) {
		memcpy(in->debug_offsets, blob, n);
		in->debug_offsets_len = (unsigned int)n;
	}
}

static void test_frame_offsets_of(void **state)
{
	static struct py_interp in;
	unsigned char b[PY_DEBUG_OFFSETS_MAX];
	struct py_frame_offsets o;
	size_t n;

	/* before 3.13: the table, no blob needed */
	interp_with(&in, 12, NULL, 0);
	assert_int_equal(py_frame_offsets_of(&in, &o), 0);
	assert_memory_equal(&o, py_frame_offsets_for(3, 12), sizeof(o));
	interp_with(&in, 8, NULL, 0);
	assert_int_equal(py_frame_offsets_of(&in, &o), 0);
	assert_int_equal(o.frame_lasti, 104);

	/* 3.13+: the blob is required */
	interp_with(&in, 15, NULL, 0);
	assert_int_equal(py_frame_offsets_of(&in, &o), -ENODATA);
	n = build(b, 15);
	interp_with(&in, 15, b, n);
	assert_int_equal(py_frame_offsets_of(&in, &o), 0);
	assert_int_equal(o.tstate_thread_id, 176);
	assert_int_equal(o.interp_threads_head, 7336);
	assert_int_equal(o.frame_owner_incomplete, 3);
	/* a short stored prefix */
	interp_with(&in, 15, b, 200);
	assert_int_equal(py_frame_offsets_of(&in, &o), -ENODATA);

	/* the blob names another version than Py_Version */
	interp_with(&in, 14, b, n);
	assert_int_equal(py_frame_offsets_of(&in, &o), -EINVAL);

	/* free-threaded (by the inspector's other signals), unknown versions */
	interp_with(&in, 15, b, n);
	in.free_threaded = true;
	assert_int_equal(py_frame_offsets_of(&in, &o), -ENOTSUP);
	interp_with(&in, 16, b, n);
	assert_int_equal(py_frame_offsets_of(&in, &o), -ENOTSUP);
	interp_with(&in, 7, NULL, 0);
	assert_int_equal(py_frame_offsets_of(&in, &o), -ENOTSUP);
	in.major = 2;
	assert_int_equal(py_frame_offsets_of(&in, &o), -ENOTSUP);
	assert_int_equal(py_frame_offsets_of(NULL, &o), -EINVAL);

	/* the blob's own free-threaded flag */
	set(b, 15, "free_threaded", 1);
	interp_with(&in, 15, b, n);
	assert_int_equal(py_frame_offsets_of(&in, &o), -ENOTSUP);
}

static void test_layout_of(void **state)
{
	static struct py_interp in;
	unsigned char b[PY_DEBUG_OFFSETS_MAX];
	struct py_layout L;
	size_t n;

	/* 3.15: the static entry, overlaid with the blob's offsets */
	assert_non_null(py_layout_for(3, 15));
	n = build(b, 15);
	interp_with(&in, 15, b, n);
	assert_int_equal(py_layout_of(&in, &L), 0);
	assert_int_equal(L.major, 3);
	assert_int_equal(L.minor, 15);
	assert_int_equal(L.pool_size, 16384);
	assert_int_equal(L.pool_header, 48);
	assert_int_equal(L.alignment, 16);
	assert_int_equal(L.small_max, 512);
	assert_int_equal(L.gc_head, 16);
	assert_int_equal(L.preheader_flags, PY_TPFLAGS_MANAGED_DICT | PY_TPFLAGS_MANAGED_WEAKREF);
	assert_int_equal(L.preheader, 16);
	assert_int_equal(L.tp_name_off, 24);
	assert_int_equal(L.tp_flags_off, 168);
	assert_int_equal(L.tp_basicsize_off, 32);
	assert_int_equal(L.str_ascii_size, 40);
	assert_true(L.tested);
	assert_int_equal(py_preheader_size(&L, PY_TPFLAGS_HAVE_GC | PY_TPFLAGS_MANAGED_DICT), 32);

	/* the values are the blob's: a build that moved them is followed */
	set(b, 15, "type_object.tp_flags", 176);
	set(b, 15, "type_object.tp_basicsize", 40);
	set(b, 15, "unicode_object.asciiobject_size", 48);
	set(b, 15, "unicode_object.size", 72);
	interp_with(&in, 15, b, n);
	assert_int_equal(py_layout_of(&in, &L), 0);
	assert_int_equal(L.tp_flags_off, 176);
	assert_int_equal(L.tp_basicsize_off, 40);
	assert_int_equal(L.str_ascii_size, 48);

	/* 3.14: tp_basicsize is not in the blob, the table's 32 stays */
	n = build(b, 14);
	set(b, 14, "type_object.tp_name", 16);
	interp_with(&in, 14, b, n);
	assert_int_equal(py_layout_of(&in, &L), 0);
	assert_int_equal(L.tp_name_off, 16);
	assert_int_equal(L.tp_basicsize_off, 32);
	assert_int_equal(L.pool_size, 16384);

	/* before 3.13: the table */
	interp_with(&in, 9, NULL, 0);
	assert_int_equal(py_layout_of(&in, &L), 0);
	assert_memory_equal(&L, py_layout_for(3, 9), sizeof(L));

	/* errors, as py_frame_offsets_of */
	interp_with(&in, 13, NULL, 0);
	assert_int_equal(py_layout_of(&in, &L), -ENODATA);
	n = build(b, 13);
	interp_with(&in, 14, b, n);
	assert_int_equal(py_layout_of(&in, &L), -EINVAL);
	interp_with(&in, 13, b, n);
	in.free_threaded = true;
	assert_int_equal(py_layout_of(&in, &L), -ENOTSUP);
	interp_with(&in, 16, b, n);
	assert_int_equal(py_layout_of(&in, &L), -ENOTSUP);
	b[0] = 'X';
	interp_with(&in, 13, b, n);
	assert_int_equal(py_layout_of(&in, &L), -EINVAL);
}

/*
 * 3.15's Include/refcount.h and object.h: _Py_IsImmortal() is (int32_t)ob_refcnt < 0;
 * _Py_IMMORTAL_INITIAL_REFCNT 3 << 30, _Py_IMMORTAL_MINIMUM_REFCNT 1 << 31,
 * _Py_STATIC_IMMORTAL_INITIAL_REFCNT 0xC0000000 | (IMMORTAL 1 | STATIC 4) << 48, and
 * _Py_LEGACY_ABI_CHECK_FLAG 2 may be set too.
 */
static void test_refcounts_315(void **state)
{
	static struct py_interp in;
	unsigned char b[PY_DEBUG_OFFSETS_MAX];
	struct py_layout L;

	interp_with(&in, 15, b, build(b, 15));
	assert_int_equal(py_layout_of(&in, &L), 0);
	assert_true(py_refcnt_immortal(&L, 0xC0000000ULL));
	assert_true(py_refcnt_immortal(&L, 0x80000000ULL));
	assert_true(py_refcnt_immortal(&L, 0xFFFFFFFFULL));
	assert_true(py_refcnt_immortal(&L, 0x50000C0000000ULL)); /* None, int: measured */
	assert_true(py_refcnt_immortal(&L, 0x70000C0000000ULL)); /* a static module definition */
	assert_true(py_refcnt_immortal(&L, 0x10000C0000000ULL));
	assert_false(py_refcnt_immortal(&L, 0x7FFFFFFFULL));
	assert_false(py_refcnt_immortal(&L, 1));
	assert_false(py_refcnt_immortal(&L, 0xC0000000ULL | (1ULL << 32))); /* ob_overflow */
	assert_false(py_refcnt_immortal(&L, 0x80000C0000000ULL));	    /* an undefined flag */
	assert_false(py_refcnt_immortal(&L, 0x7f00C0000000ULL));	    /* a pointer */
	assert_true(py_refcnt_live(&L, 1));
	assert_true(py_refcnt_live(&L, 0x7FFFFFFFULL));
	assert_true(py_refcnt_live(&L, 0x50000C0000000ULL));
	assert_false(py_refcnt_live(&L, 0));
	assert_false(py_refcnt_live(&L, 5 | (1ULL << 48)));
	assert_false(py_refcnt_live(&L, 0x7f0012345678ULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shape_sizes),
	    cmocka_unit_test(test_parse_313),
	    cmocka_unit_test(test_parse_314),
	    cmocka_unit_test(test_parse_315),
	    cmocka_unit_test(test_slot_positions),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_shape_mismatch),
	    cmocka_unit_test(test_no_partial_output),
	    cmocka_unit_test(test_frame_offsets_from_debug),
	    cmocka_unit_test(test_table_entries),
	    cmocka_unit_test(test_pinned_offsets),
	    cmocka_unit_test(test_frame_offsets_of),
	    cmocka_unit_test(test_layout_of),
	    cmocka_unit_test(test_refcounts_315),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
