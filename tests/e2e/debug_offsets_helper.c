// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The two sides of tests/e2e/check_debug_offsets.py, one "name value" line per fact, the same
 * names on both sides so that the script can compare them line by line.
 *
 * Built with -DHELPER_TRUTH against one CPython version's development headers (Py_BUILD_CORE,
 * the internal headers, and the -D flags the interpreter itself was compiled with: Debian's
 * 3.15 has an 8 bytes larger PyInterpreterState with -D_Py_TIER2=3 -D_Py_JIT): the facts as
 * that version's compiler sees them, offsetof() and sizeof() of the structures themselves, the
 * enum and macro values, and _Py_IsImmortal() of each reference count given on the command
 * line. Nothing here reads _Py_DebugOffsets: the blob is what is under test.
 *
 *   cc -DHELPER_TRUTH -DPy_BUILD_CORE [-D...] -I INC -I INC/python3.X -I INC/python3.X/internal
 *      debug_offsets_helper.c -o truth; ./truth REFCNT...
 *
 * Built without it, against user/python/ and linked with its pyinterp*.c, pyframes.c,
 * pydebug.c, pylayout.c and pylines.c: what cowtrace makes of an interpreter's ELF file (py_interp_inspect(), then
 * py_debug_offsets_parse() of the blob it stored, py_frame_offsets_of() and py_layout_of()),
 * and py_refcnt_immortal()/py_refcnt_live() of the same counts.
 *
 *   cc -std=gnu11 -D_GNU_SOURCE -I user/python -I user/trace -I user/lib
 *      debug_offsets_helper.c user/python/pyinterp*.c user/python/pyframes.c
 *      user/python/pydebug.c user/python/pylayout.c user/python/pylines.c user/lib/elfsym.c
 *      -lelf -o ours; ./ours FILE REFCNT...
 *
 * A side prints only the facts it has; the script requires every name the truth side prints.
 */
#ifdef HELPER_TRUTH
#include "Python.h" /* first: it sets the feature macros the C library headers read */
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P(name, v) printf("%s %lld\n", (name), (long long)(v))

#ifdef HELPER_TRUTH

#include "internal/pycore_runtime.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_code.h"
#include "internal/pycore_gc.h"
#include "internal/pycore_object.h"
#include "internal/pycore_obmalloc.h"
#if PY_VERSION_HEX >= 0x030e0000
#include "internal/pycore_interpframe_structs.h"
#include "internal/pycore_stackref.h"
#endif

/* PyASCIIObject.state: an anonymous struct in 3.13, struct _PyUnicodeObject_state in 3.14+ */
typedef __typeof__(((PyASCIIObject *)0)->state) state_t;

/* The bits a state word has when only the fields the caller set are non-zero. */
static unsigned int state_bits(state_t s)
{
	unsigned int w = 0;

	memcpy(&w, &s, sizeof(w) < sizeof(s) ? sizeof(w) : sizeof(s));
	return w;
}

int main(int argc, char **argv)
{
	state_t st;

	P("version_major", PY_MAJOR_VERSION);
	P("version_minor", PY_MINOR_VERSION);
	P("version_micro", PY_MICRO_VERSION);
#ifdef Py_GIL_DISABLED
	P("free_threaded", 1);
#else
	P("free_threaded", 0);
#endif
	/*
	 * What _Py_DebugOffsets should say (the dbg_ lines: struct py_debug_offsets, pyframes.h),
	 * each from the structure itself. _PyRuntimeState: Include/internal/pycore_runtime.h
	 * (3.13), pycore_runtime_structs.h (3.14+); PyInterpreterState: pycore_interp.h (3.13),
	 * pycore_interp_structs.h (3.14+); PyThreadState: Include/cpython/pystate.h;
	 * _PyInterpreterFrame: pycore_frame.h (3.13), pycore_interpframe_structs.h (3.14+);
	 * PyCodeObject: Include/cpython/code.h; PyTypeObject: Include/cpython/object.h.
	 */
	P("dbg_runtime_size", sizeof(_PyRuntimeState));
	P("dbg_runtime_interpreters_head", offsetof(_PyRuntimeState, interpreters.head));
	P("dbg_interp_size", sizeof(PyInterpreterState));
	P("dbg_interp_next", offsetof(PyInterpreterState, next));
	P("dbg_interp_threads_head", offsetof(PyInterpreterState, threads.head));
	P("dbg_interp_ceval_gil", offsetof(PyInterpreterState, ceval.gil));
	P("dbg_interp_gil", offsetof(PyInterpreterState, _gil));
	P("dbg_interp_gil_locked", offsetof(PyInterpreterState, _gil.locked));
	P("dbg_interp_gil_holder", offsetof(PyInterpreterState, _gil.last_holder));
	P("dbg_tstate_size", sizeof(PyThreadState));
	P("dbg_tstate_prev", offsetof(PyThreadState, prev));
	P("dbg_tstate_next", offsetof(PyThreadState, next));
	P("dbg_tstate_interp", offsetof(PyThreadState, interp));
	P("dbg_tstate_current_frame", offsetof(PyThreadState, current_frame));
	P("dbg_tstate_thread_id", offsetof(PyThreadState, thread_id));
	P("dbg_tstate_native_thread_id", offsetof(PyThreadState, native_thread_id));
	P("dbg_frame_size", sizeof(_PyInterpreterFrame));
	P("dbg_frame_previous", offsetof(_PyInterpreterFrame, previous));
	P("dbg_frame_executable", offsetof(_PyInterpreterFrame, f_executable));
	P("dbg_frame_instr_ptr", offsetof(_PyInterpreterFrame, instr_ptr));
	P("dbg_frame_owner", offsetof(_PyInterpreterFrame, owner));
	P("dbg_code_size", sizeof(PyCodeObject));
	P("dbg_code_filename", offsetof(PyCodeObject, co_filename));
	P("dbg_code_name", offsetof(PyCodeObject, co_name));
	P("dbg_code_qualname", offsetof(PyCodeObject, co_qualname));
	P("dbg_code_linetable", offsetof(PyCodeObject, co_linetable));
	P("dbg_code_firstlineno", offsetof(PyCodeObject, co_firstlineno));
	P("dbg_code_adaptive", offsetof(PyCodeObject, co_code_adaptive));
	P("dbg_object_size", sizeof(PyObject));
	P("dbg_object_type", offsetof(PyObject, ob_type));
	P("dbg_type_size", sizeof(PyTypeObject));
	P("dbg_type_name", offsetof(PyTypeObject, tp_name));
	P("dbg_type_flags", offsetof(PyTypeObject, tp_flags));
#if PY_VERSION_HEX >= 0x030f0000
	P("dbg_type_basicsize", offsetof(PyTypeObject, tp_basicsize));
#else
	P("dbg_type_basicsize", -1);  /* not in the 3.13/3.14 blob */
#endif
	P("dbg_bytes_size", sizeof(PyBytesObject));
	P("dbg_bytes_ob_size", offsetof(PyBytesObject, ob_base.ob_size));
	P("dbg_bytes_sval", offsetof(PyBytesObject, ob_sval));
	P("dbg_unicode_size", sizeof(PyUnicodeObject));
	P("dbg_unicode_state", offsetof(PyASCIIObject, state));
	P("dbg_unicode_length", offsetof(PyASCIIObject, length));
	P("dbg_unicode_ascii_size", sizeof(PyASCIIObject));

	/* struct py_frame_offsets (pyframes.h), the same structures */
	P("runtime_size", sizeof(_PyRuntimeState));
	P("runtime_interpreters_head", offsetof(_PyRuntimeState, interpreters.head));
	P("runtime_interpreters_main", offsetof(_PyRuntimeState, interpreters.main));
	P("runtime_main_interpreter", offsetof(_PyRuntimeState, _main_interpreter));
#if PY_VERSION_HEX < 0x030f0000
	P("runtime_autotss_key", offsetof(_PyRuntimeState, autoTSSkey));
#else
	P("runtime_autotss_key", -1); /* gone in 3.15 */
#endif
	/* PyInterpreterState: pycore_interp.h (3.13), pycore_interp_structs.h (3.14+) */
	P("interp_next", offsetof(PyInterpreterState, next));
	P("interp_threads_head", offsetof(PyInterpreterState, threads.head));
	P("interp_gil_ptr", offsetof(PyInterpreterState, ceval.gil));
	P("gil_last_holder", offsetof(struct _gil_runtime_state, last_holder));
	P("gil_locked", offsetof(struct _gil_runtime_state, locked));
	/* PyThreadState: Include/cpython/pystate.h */
	P("tstate_size", sizeof(PyThreadState));
	P("tstate_prev", offsetof(PyThreadState, prev));
	P("tstate_next", offsetof(PyThreadState, next));
	P("tstate_interp", offsetof(PyThreadState, interp));
	P("tstate_current_frame", offsetof(PyThreadState, current_frame));
	P("tstate_thread_id", offsetof(PyThreadState, thread_id));
	P("tstate_native_thread_id", offsetof(PyThreadState, native_thread_id));
	/* _PyInterpreterFrame: pycore_frame.h (3.13), pycore_interpframe_structs.h (3.14+) */
	P("frame_previous", offsetof(_PyInterpreterFrame, previous));
	P("frame_code", offsetof(_PyInterpreterFrame, f_executable));
	P("frame_instr_ptr", offsetof(_PyInterpreterFrame, instr_ptr));
	P("frame_owner", offsetof(_PyInterpreterFrame, owner));
	/*
	 * _PyFrame_IsIncomplete(): owner == FRAME_OWNED_BY_CSTACK (3.13, the last value),
	 * owner >= FRAME_OWNED_BY_INTERPRETER (3.14: INTERPRETER 3, CSTACK 4; 3.15: no CSTACK).
	 */
#if PY_VERSION_HEX >= 0x030e0000
#define FRAME_OWNED_BY_INTERPRETER_OR_CSTACK FRAME_OWNED_BY_INTERPRETER
	P("frame_owner_incomplete", FRAME_OWNED_BY_INTERPRETER);
	/* f_executable is a _PyStackRef: a default build tags Py_TAG_REFCNT in Py_TAG_BITS */
	P("frame_code_tag_bits", Py_TAG_BITS);
#else
#define FRAME_OWNED_BY_INTERPRETER_OR_CSTACK FRAME_OWNED_BY_CSTACK
	P("frame_owner_incomplete", FRAME_OWNED_BY_CSTACK);
	P("frame_code_tag_bits", 0); /* PyObject *f_executable */
#endif
	/* note_: shown by the script, not compared (cowtrace needs only the threshold) */
	P("note_frame_owner_thread", FRAME_OWNED_BY_THREAD);
	P("note_frame_owner_generator", FRAME_OWNED_BY_GENERATOR);
	P("note_frame_owner_frame_object", FRAME_OWNED_BY_FRAME_OBJECT);
	P("note_frame_owner_interpreter_or_cstack", FRAME_OWNED_BY_INTERPRETER_OR_CSTACK);
	/* PyCodeObject: Include/cpython/code.h */
	P("code_size", sizeof(PyCodeObject));
	P("code_filename", offsetof(PyCodeObject, co_filename));
	P("code_name", offsetof(PyCodeObject, co_name));
	P("code_qualname", offsetof(PyCodeObject, co_qualname));
	P("code_firstlineno", offsetof(PyCodeObject, co_firstlineno));
	P("code_linetable", offsetof(PyCodeObject, co_linetable));
	P("code_adaptive", offsetof(PyCodeObject, co_code_adaptive));
	/* the location table of 3.11+ (PY_LINETABLE_LOCATIONS = 3 in user/python/pylines.h) when the
	 * entry kinds are the ones py_code_line() decodes */
	P("linetable_format",
	  PY_CODE_LOCATION_INFO_SHORT0 == 0 && PY_CODE_LOCATION_INFO_ONE_LINE0 == 10 &&
		  PY_CODE_LOCATION_INFO_ONE_LINE2 == 12 && PY_CODE_LOCATION_INFO_NO_COLUMNS == 13 &&
		  PY_CODE_LOCATION_INFO_LONG == 14 && PY_CODE_LOCATION_INFO_NONE == 15
	      ? 3
	      : 0);
	/* objects: Include/object.h, cpython/bytesobject.h, cpython/unicodeobject.h */
	P("object_type", offsetof(PyObject, ob_type));
	P("type_name", offsetof(PyTypeObject, tp_name));
	P("bytes_size", offsetof(PyBytesObject, ob_base.ob_size));
	P("bytes_data", offsetof(PyBytesObject, ob_sval));
	P("unicode_length", offsetof(PyASCIIObject, length));
	P("unicode_state", offsetof(PyASCIIObject, state));
	P("unicode_ascii_data", sizeof(PyASCIIObject));
	memset(&st, 0, sizeof(st));
	st.kind = 7;
	P("unicode_state_kind_mask", state_bits(st));
	memset(&st, 0, sizeof(st));
	st.compact = 1;
	P("unicode_state_compact", state_bits(st));
	memset(&st, 0, sizeof(st));
	st.ascii = 1;
	P("unicode_state_ascii", state_bits(st));

	/* pymalloc: Include/internal/pycore_obmalloc.h */
	P("pool_size", POOL_SIZE);
	P("pool_header", POOL_OVERHEAD);
	P("alignment", ALIGNMENT);
	P("small_max", SMALL_REQUEST_THRESHOLD);
	/* _PyType_PreHeaderSize(): Include/internal/pycore_object.h */
	P("gc_head", sizeof(PyGC_Head));
	P("preheader_flags", Py_TPFLAGS_PREHEADER);
	P("preheader", 2 * sizeof(PyObject *));
	P("tp_name_off", offsetof(PyTypeObject, tp_name));
	P("tp_flags_off", offsetof(PyTypeObject, tp_flags));
	P("tp_basicsize_off", offsetof(PyTypeObject, tp_basicsize));
	P("str_ascii_size", sizeof(PyASCIIObject));
	P("object_head", sizeof(PyObject));
	P("tpflags_managed_weakref", Py_TPFLAGS_MANAGED_WEAKREF);
	P("tpflags_managed_dict", Py_TPFLAGS_MANAGED_DICT);
	P("tpflags_heaptype", Py_TPFLAGS_HEAPTYPE);
	P("tpflags_ready", Py_TPFLAGS_READY);
	P("tpflags_have_gc", Py_TPFLAGS_HAVE_GC);
	P("tpflags_unicode_subclass", Py_TPFLAGS_UNICODE_SUBCLASS);
	P("tpflags_type_subclass", Py_TPFLAGS_TYPE_SUBCLASS);
	/* the collector: NUM_GENERATIONS (pycore_gc.h 3.13, pycore_interp_structs.h 3.14+) */
	P("note_gc_generations", NUM_GENERATIONS);

	/* _Py_IsImmortal() (Include/object.h 3.13, Include/refcount.h 3.14+) of each count */
	for (int i = 1; i < argc; i++) {
		unsigned long long v = strtoull(argv[i], NULL, 0);
		char name[64];
		PyObject o;

		memset(&o, 0, sizeof(o));
		memcpy(&o, &v, sizeof(v)); /* the 8 bytes at ob_refcnt */
		snprintf(name, sizeof(name), "immortal_%#llx", v);
		P(name, _Py_IsImmortal(&o) ? 1 : 0);
	}
#ifdef _Py_IMMORTAL_INITIAL_REFCNT
	P("refcnt_immortal_initial", (unsigned long long)_Py_IMMORTAL_INITIAL_REFCNT);
	P("refcnt_static_immortal_initial", (unsigned long long)_Py_STATIC_IMMORTAL_INITIAL_REFCNT);
	P("refcnt_immortal_minimum", (unsigned long long)_Py_IMMORTAL_MINIMUM_REFCNT);
#else
	P("refcnt_immortal_initial", (unsigned long long)_Py_IMMORTAL_REFCNT);
#endif
	return 0;
}

#else /* cowtrace's side */

#include "pyframes.h"
#include "pyinterp.h"
#include "pylayout.h"

int main(int argc, char **argv)
{
	static struct py_interp in;
	struct py_debug_offsets d;
	struct py_frame_offsets o;
	struct py_layout L;
	int err;

	if (argc < 2) {
		fprintf(stderr, "usage: %s ELF-FILE [REFCNT...]\n", argv[0]);
		return 2;
	}
	err = py_interp_inspect(argv[1], &in);
	if (err) {
		fprintf(stderr, "py_interp_inspect: %s\n", strerror(-err));
		return 1;
	}
	P("version_major", in.major);
	P("version_minor", in.minor);
	P("version_micro", in.micro);
	P("free_threaded", in.free_threaded);
	P("debug_offsets_len", in.debug_offsets_len);
	err = py_debug_offsets_parse(in.debug_offsets, in.debug_offsets_len, &d);
	if (err) {
		fprintf(stderr, "py_debug_offsets_parse: %s\n", strerror(-err));
		return 1;
	}
	P("blob_version_major", d.major);
	P("blob_version_minor", d.minor);
	P("blob_version_micro", d.micro);
#define D(f) P("dbg_" #f, d.f)
	D(runtime_size);
	D(runtime_interpreters_head);
	D(interp_size);
	D(interp_next);
	D(interp_threads_head);
	D(interp_ceval_gil);
	D(interp_gil);
	D(interp_gil_locked);
	D(interp_gil_holder);
	D(tstate_size);
	D(tstate_prev);
	D(tstate_next);
	D(tstate_interp);
	D(tstate_current_frame);
	D(tstate_thread_id);
	D(tstate_native_thread_id);
	D(frame_size);
	D(frame_previous);
	D(frame_executable);
	D(frame_instr_ptr);
	D(frame_owner);
	D(code_size);
	D(code_filename);
	D(code_name);
	D(code_qualname);
	D(code_linetable);
	D(code_firstlineno);
	D(code_adaptive);
	D(object_size);
	D(object_type);
	D(type_size);
	D(type_name);
	D(type_flags);
	D(type_basicsize);
	D(bytes_size);
	D(bytes_ob_size);
	D(bytes_sval);
	D(unicode_size);
	D(unicode_state);
	D(unicode_length);
	D(unicode_ascii_size);
#undef D
	/* where _PyRuntime is, for the live walk of check_debug_offsets.py --live */
	P("runtime_vaddr", in.runtime_vaddr);
	P("load_vaddr", in.load_vaddr);
	err = py_frame_offsets_of(&in, &o);
	if (err) {
		fprintf(stderr, "py_frame_offsets_of: %s\n", strerror(-err));
		return 1;
	}
	for (const struct py_frame_offset_field *f = py_frame_offset_fields; f->name; f++) {
		int v;

		memcpy(&v, (const char *)&o + f->offset, sizeof(v));
		P(f->name, v);
	}
	P("unicode_state_kind_mask", PY_UNICODE_STATE_KIND_MASK << PY_UNICODE_STATE_KIND_SHIFT);
	P("unicode_state_compact", PY_UNICODE_STATE_COMPACT);
	P("unicode_state_ascii", PY_UNICODE_STATE_ASCII);

	err = py_layout_of(&in, &L);
	if (err) {
		fprintf(stderr, "py_layout_of: %s\n", strerror(-err));
		return 1;
	}
	P("pool_size", L.pool_size);
	P("pool_header", L.pool_header);
	P("alignment", L.alignment);
	P("small_max", L.small_max);
	P("gc_head", L.gc_head);
	P("preheader_flags", L.preheader_flags);
	P("preheader", L.preheader);
	P("tp_name_off", L.tp_name_off);
	P("tp_flags_off", L.tp_flags_off);
	P("tp_basicsize_off", L.tp_basicsize_off);
	P("str_ascii_size", L.str_ascii_size);
	P("object_head", PY_OBJECT_HEAD);
	P("tpflags_managed_weakref", PY_TPFLAGS_MANAGED_WEAKREF);
	P("tpflags_managed_dict", PY_TPFLAGS_MANAGED_DICT);
	P("tpflags_heaptype", PY_TPFLAGS_HEAPTYPE);
	P("tpflags_ready", PY_TPFLAGS_READY);
	P("tpflags_have_gc", PY_TPFLAGS_HAVE_GC);
	P("tpflags_unicode_subclass", PY_TPFLAGS_UNICODE_SUBCLASS);
	P("tpflags_type_subclass", PY_TPFLAGS_TYPE_SUBCLASS);
	for (int i = 2; i < argc; i++) {
		unsigned long long v = strtoull(argv[i], NULL, 0);
		char name[64];

		snprintf(name, sizeof(name), "immortal_%#llx", v);
		P(name, py_refcnt_immortal(&L, v) ? 1 : 0);
		snprintf(name, sizeof(name), "live_%#llx", v);
		P(name, py_refcnt_live(&L, v) ? 1 : 0);
	}
	return 0;
}

#endif
