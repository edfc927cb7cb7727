// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Line numbers from CPython line tables. The bytes come from a traced process and are untrusted:
 * every read is bounds-checked, a malformed table gives -1, never a read past len. Each decoder
 * follows PyCode_Addr2Line() of its version (Objects/codeobject.c); the comments name the
 * CPython functions they mirror. Formats: docs/python-frames.md, CPython's
 * Objects/lnotab_notes.txt (3.8-3.10) and InternalDocs/locations.md (3.11+).
 */
#include <stdbool.h>
#include <stdint.h>

#include "pylines.h"

/*
 * Lines are ints in CPython, and every line a real table reaches is one: a running line that
 * leaves the int range (co_firstlineno near INT_MAX, then a step up) makes the table malformed.
 * The running line and address are kept in 64 bits, where one more step (at most 2^29 lines,
 * 255 bytes) cannot overflow, and the line is checked after each step.
 */
static bool line_ok(int64_t line)
{
	return line >= INT32_MIN && line <= INT32_MAX;
}

enum py_linetable_format py_linetable_format_for(int major, int minor)
{
	if (major != 3 || minor < 8)
		return PY_LINETABLE_NONE;
	if (minor <= 9)
		return PY_LINETABLE_LNOTAB;
	if (minor == 10)
		return PY_LINETABLE_310;
	return PY_LINETABLE_LOCATIONS;
}

/*
 * 3.8/3.9: pairs (address increment in bytes, line increment as a signed byte); the line of an
 * address is firstlineno plus the line increments of every pair whose summed address is <= it.
 * Large jumps are split into several pairs (255 addresses, +127/-128 lines each).
 */
static int line_lnotab(const unsigned char *t, size_t len, int firstlineno, int addrq)
{
	int64_t line = firstlineno, addr = 0;

	for (size_t i = 0; i + 1 < len; i += 2) {
		addr += t[i];
		if (addr > addrq)
			break;
		line += (signed char)t[i + 1];
		if (!line_ok(line))
			return -1;
	}
	return (int)line;
}

/*
 * 3.10: pairs (address delta in bytes, unsigned; line delta, signed byte) describing
 * consecutive address ranges [start, start + delta); a line delta of -128 means "no line" for
 * that range and leaves the running line unchanged. Empty ranges only carry line deltas.
 * Mirrors PyLineTable_InitAddressRange / advance / PyLineTable_NextAddressRange /
 * _PyCode_CheckLineNumber: the first non-empty range containing addrq gives the line.
 */
static int line_310(const unsigned char *t, size_t len, int firstlineno, int addrq)
{
	int64_t computed = firstlineno, start, end = 0, line = -1;
	size_t i = 0;

	for (;;) {
		/* PyLineTable_NextAddressRange: advance at least once, then past empty ranges */
		if (i + 1 >= len)
			return -1;
		do {
			int ldelta;

			if (i + 1 >= len)
				return -1; /* CPython asserts here: a table ending in an empty range
					    */
			start = end;
			end += t[i];
			ldelta = (signed char)t[i + 1];
			i += 2;
			if (ldelta == -128) {
				line = -1;
			} else {
				computed += ldelta;
				if (!line_ok(computed))
					return -1;
				line = computed;
			}
		} while (start == end);
		if (addrq < end)
			return addrq >= start ? (int)line : -1;
	}
}

/*
 * 3.11+ location table. Each entry starts with a byte 1CCCCLLL: C the kind, L + 1 the number of
 * code units (2 bytes each) it covers; the bytes after it (bit 7 clear) hold varints:
 *   15       no location: line -1, running line unchanged
 *   14       long form: signed varint line delta, then end line, column, end column
 *   13       no column info: signed varint line delta
 *   10-12    one-line forms: line delta kind - 10, then two column bytes
 *   0-9      short forms: same line, one column byte
 * A varint is 6-bit chunks, least significant first, 0x40 set on all but the last; a signed
 * varint keeps the sign in bit 0 (scan_varint / scan_signed_varint / get_line_delta).
 */
static bool read_varint(const unsigned char *t, size_t len, size_t *i, unsigned int *out)
{
	unsigned int val = 0, shift = 0;
	unsigned char b;

	do {
		if (*i >= len || shift > 26)
			return false;
		b = t[(*i)++];
		val |= (unsigned int)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	*out = val;
	return true;
}

static int line_locations(const unsigned char *t, size_t len, int firstlineno, int addrq)
{
	int64_t computed = firstlineno, end = 0;
	size_t i = 0;

	while (i < len) {
		unsigned char first = t[i];
		int code = (first >> 3) & 15, delta = 0;
		int64_t start = end, line;
		size_t next = i + 1;

		if (!(first & 128))
			return -1; /* not at the start of an entry */
		if (code == 13 || code == 14) {
			unsigned int u;

			if (!read_varint(t, len, &next, &u))
				return -1;
			delta = (u & 1) ? -(int)(u >> 1) : (int)(u >> 1);
		} else if (code >= 10 && code <= 12) {
			delta = code - 10;
		}
		computed += delta;
		if (!line_ok(computed))
			return -1;
		line = code == 15 ? -1 : computed;
		end += ((first & 7) + 1) * 2;
		if (addrq >= start && addrq < end)
			return (int)line;
		/* the next entry begins at the next byte with bit 7 set */
		i++;
		while (i < len && !(t[i] & 128))
			i++;
	}
	return -1;
}

int py_code_line(int major, int minor, const unsigned char *linetable, size_t len, int firstlineno,
		 int instr_offset_bytes)
{
	enum py_linetable_format f = py_linetable_format_for(major, minor);

	if (f == PY_LINETABLE_NONE)
		return -1;
	if (!linetable)
		len = 0;
	if (instr_offset_bytes < 0)
		return firstlineno;
	switch (f) {
	case PY_LINETABLE_LNOTAB:
		return line_lnotab(linetable, len, firstlineno, instr_offset_bytes);
	case PY_LINETABLE_310:
		return line_310(linetable, len, firstlineno, instr_offset_bytes);
	case PY_LINETABLE_LOCATIONS:
		return line_locations(linetable, len, firstlineno, instr_offset_bytes);
	default:
		return -1;
	}
}
