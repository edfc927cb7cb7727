/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Instruction offset -> source line, from a code object's line table as read out of a traced
 * process (the bytes of co_lnotab or co_linetable, and co_firstlineno). One decoder per format:
 *   3.8, 3.9    co_lnotab: (address delta, signed line delta) byte pairs
 *   3.10        co_linetable: (unsigned address delta, signed line delta) pairs, -128 = no line
 *   3.11-3.14   co_linetable: the location table (PEP 626/657), variable-length entries
 * Each mirrors PyCode_Addr2Line() of that version (Objects/codeobject.c); test vectors come from
 * the real interpreters (tests/unit/gen_pylines_vectors.py). Format and offsets per version:
 * docs/python-frames.md.
 */
#ifndef COWTRACE_PYLINES_H
#define COWTRACE_PYLINES_H

#include <stddef.h>

enum py_linetable_format {
	PY_LINETABLE_NONE = 0,	/* unknown version */
	PY_LINETABLE_LNOTAB,	/* 3.8, 3.9 co_lnotab */
	PY_LINETABLE_310,	/* 3.10 co_linetable */
	PY_LINETABLE_LOCATIONS, /* 3.11+ co_linetable (location table) */
};

enum py_linetable_format py_linetable_format_for(int major, int minor);

/*
 * The line of the instruction at byte offset instr_offset_bytes in the code (always even; the
 * code unit index times 2). A negative offset (a frame that has not started: f_lasti -1 in
 * 3.10, prev_instr one unit before the code in 3.11/3.12) gives firstlineno, as in CPython.
 *
 * Where to get the offset:
 *   3.8, 3.9  f_lasti (bytes)
 *   3.10      f_lasti * 2 (f_lasti counts code units)
 *   3.11+     (frame pointer) - (code object address + offset of co_code_adaptive), where the
 *             pointer is prev_instr (3.11, 3.12) or instr_ptr (3.13+)
 *
 * Returns what PyCode_Addr2Line() of that version returns: the line, or -1 when the instruction
 * has no line (3.10 "-128" entries, 3.11+ "no location" entries) or, in 3.10+, lies past the
 * end of the table (3.8/3.9 give the last line there). Also -1 for a malformed table (where
 * CPython would assert) and an unknown version. linetable may be NULL when len is 0.
 */
int py_code_line(int major, int minor, const unsigned char *linetable, size_t len, int firstlineno,
		 int instr_offset_bytes);

#endif /* COWTRACE_PYLINES_H */
