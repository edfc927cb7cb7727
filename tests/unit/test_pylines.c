// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests for user/python/pylines.c. The expected lines come from the interpreters themselves:
 * tests/unit/pylines_vectors.h holds the line tables of real code objects compiled by each
 * installed CPython (3.8-3.13 and Debian's 3.11) and, for every instruction offset, what that
 * interpreter's PyCode_Addr2Line() returned (regenerate with tests/unit/gen_pylines_vectors.py).
 * Hand-made tables cover what no compiler emits: truncated and malformed input.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pylines.h"
#include "pylines_vectors.h"

#define NVEC (sizeof(pylines_vectors) / sizeof(pylines_vectors[0]))

/* Every offset of every real code object, and the offset before the first instruction. */
static void test_real_code_objects(void **state)
{
	unsigned int checked = 0;

	for (size_t k = 0; k < NVEC; k++) {
		const struct pylines_vector *v = &pylines_vectors[k];

		for (unsigned int i = 0; i < v->nlines; i++) {
			int got = py_code_line(v->major, v->minor, v->table, v->table_len,
					       v->firstlineno, (int)(2 * i));

			if (got != v->lines[i])
				fail_msg("%s %s offset %u: got %d, interpreter says %d", v->interp,
					 v->name, 2 * i, got, v->lines[i]);
			checked++;
		}
		assert_int_equal(
		    py_code_line(v->major, v->minor, v->table, v->table_len, v->firstlineno, -2),
		    v->before);
	}
	print_message("%u offsets in %zu code objects\n", checked, NVEC);
	assert_true(checked > 1000);
}

/* The committed vectors still cover every format and the entries that split or go back. */
static void test_vectors_cover_formats(void **state)
{
	bool minor_seen[14] = {false};
	bool lnotab_split_addr = false, lnotab_neg = false, lnotab_big = false;
	bool t310_noline = false, t310_neg = false;
	bool kind[16] = {false};
	bool gap_seen = false;

	for (size_t k = 0; k < NVEC; k++) {
		const struct pylines_vector *v = &pylines_vectors[k];
		enum py_linetable_format f = py_linetable_format_for(v->major, v->minor);

		assert_int_equal(v->major, 3);
		assert_true(v->minor >= 8 && v->minor <= 13);
		minor_seen[v->minor] = true;
		for (unsigned int i = 0; f != PY_LINETABLE_LOCATIONS && i + 1 < v->table_len;
		     i += 2) {
			signed char l = (signed char)v->table[i + 1];

			if (f == PY_LINETABLE_LNOTAB) {
				lnotab_split_addr |= v->table[i] == 255 && l == 0;
				lnotab_neg |= l < 0;
				lnotab_big |= l == 127;
			} else {
				t310_noline |= l == -128;
				t310_neg |= l < 0 && l != -128;
			}
		}
		for (unsigned int i = 0; f == PY_LINETABLE_LOCATIONS && i < v->table_len; i++)
			if (v->table[i] & 128)
				kind[(v->table[i] >> 3) & 15] = true;
		/* the 300-line string: a line more than 127 after the previous one */
		if (!strcmp(v->name, "gap")) {
			int last = -1;

			for (unsigned int i = 0; i < v->nlines; i++)
				if (v->lines[i] > last)
					last = v->lines[i];
			assert_true(last > v->firstlineno + 300);
			gap_seen = true;
		}
	}
	for (int m = 8; m <= 13; m++)
		if (!minor_seen[m])
			fail_msg("no vectors for 3.%d", m);
	assert_true(lnotab_split_addr);
	assert_true(lnotab_neg);
	assert_true(lnotab_big);
	assert_true(t310_noline);
	assert_true(t310_neg);
	/* short (0-9), one-line (10-12), no column (13), long (14), none (15) */
	for (int c = 0; c < 16; c++)
		if (!kind[c])
			fail_msg("no location table entry of kind %d", c);
	assert_true(gap_seen);
}

/*
 * Every prefix of every real table, copied into a buffer of exactly that size, so that a read
 * past the end shows under valgrind or ASan. A prefix is a valid table of fewer entries in all
 * formats, but can end inside an entry: the answer must then be a line or -1, never a crash.
 */
static void test_truncated_tables(void **state)
{
	for (size_t k = 0; k < NVEC; k++) {
		const struct pylines_vector *v = &pylines_vectors[k];

		for (unsigned int n = 0; n <= v->table_len; n++) {
			unsigned char *p = malloc(n ? n : 1);

			assert_non_null(p);
			memcpy(p, v->table, n);
			for (unsigned int i = 0; i < v->nlines; i++) {
				int got = py_code_line(v->major, v->minor, p, n, v->firstlineno,
						       (int)(2 * i));

				assert_true(got >= -1);
				/* the full table answers as the interpreter did */
				if (n == v->table_len)
					assert_int_equal(got, v->lines[i]);
			}
			free(p);
		}
	}
}

static void test_format_for(void **state)
{
	assert_int_equal(py_linetable_format_for(2, 7), PY_LINETABLE_NONE);
	assert_int_equal(py_linetable_format_for(3, 7), PY_LINETABLE_NONE);
	assert_int_equal(py_linetable_format_for(3, 8), PY_LINETABLE_LNOTAB);
	assert_int_equal(py_linetable_format_for(3, 9), PY_LINETABLE_LNOTAB);
	assert_int_equal(py_linetable_format_for(3, 10), PY_LINETABLE_310);
	assert_int_equal(py_linetable_format_for(3, 11), PY_LINETABLE_LOCATIONS);
	assert_int_equal(py_linetable_format_for(3, 14), PY_LINETABLE_LOCATIONS);
	assert_int_equal(py_linetable_format_for(4, 0), PY_LINETABLE_NONE);
	assert_int_equal(py_code_line(3, 7, (const unsigned char *)"\0\1", 2, 5, 0), -1);
}

/* Small tables written by hand from the format descriptions. */
static void test_hand_made(void **state)
{
	/* lnotab: +0 bytes +1 line, +6 bytes -2 lines (signed), +255 bytes +0 */
	static const unsigned char lnotab[] = {0, 1, 6, 0xfe, 255, 0, 1, 3};
	/* 3.10: [0,4) line+1, [4,4) +5 (empty), [4,8) no line, [8,10) +1 */
	static const unsigned char t310[] = {4, 1, 0, 5, 4, 0x80, 2, 1};
	/*
	 * 3.11+: short form (kind 0) 2 units on the first line; one-line form +2 (kind 12) with
	 * 2 column bytes, 1 unit; no-column form (13) with signed varint -3 (u = 7), 1 unit;
	 * long form (14) with +70 (u = 140 = 0b10_001100: 0x4c then 0x02), 1 unit, 3 more
	 * varints; none (15), 1 unit.
	 */
	/* one entry a line */
	/* clang-format off */
	static const unsigned char loc[] = {
	    0x80 | 0 << 3 | 1, 0x05,
	    0x80 | 12 << 3 | 0, 0x01, 0x02,
	    0x80 | 13 << 3 | 0, 0x07,
	    0x80 | 14 << 3 | 0, 0x4c, 0x02, 0x00, 0x01, 0x02,
	    0x80 | 15 << 3 | 0,
	};
	/* clang-format on */

	assert_int_equal(py_code_line(3, 8, lnotab, sizeof(lnotab), 10, 0), 11);
	assert_int_equal(py_code_line(3, 8, lnotab, sizeof(lnotab), 10, 4), 11);
	assert_int_equal(py_code_line(3, 9, lnotab, sizeof(lnotab), 10, 6), 9);
	assert_int_equal(py_code_line(3, 9, lnotab, sizeof(lnotab), 10, 260), 9);
	assert_int_equal(py_code_line(3, 9, lnotab, sizeof(lnotab), 10, 262), 12);
	assert_int_equal(py_code_line(3, 9, lnotab, sizeof(lnotab), 10, 5000), 12);
	assert_int_equal(py_code_line(3, 8, NULL, 0, 10, 100), 10);

	assert_int_equal(py_code_line(3, 10, t310, sizeof(t310), 10, 0), 11);
	assert_int_equal(py_code_line(3, 10, t310, sizeof(t310), 10, 2), 11);
	assert_int_equal(py_code_line(3, 10, t310, sizeof(t310), 10, 4), -1);
	assert_int_equal(py_code_line(3, 10, t310, sizeof(t310), 10, 8), 17);
	assert_int_equal(py_code_line(3, 10, t310, sizeof(t310), 10, 10), -1);
	assert_int_equal(py_code_line(3, 10, t310, sizeof(t310), 10, -2), 10);
	assert_int_equal(py_code_line(3, 10, NULL, 0, 10, 0), -1);

	assert_int_equal(py_code_line(3, 11, loc, sizeof(loc), 10, 0), 10);
	assert_int_equal(py_code_line(3, 11, loc, sizeof(loc), 10, 2), 10);
	assert_int_equal(py_code_line(3, 12, loc, sizeof(loc), 10, 4), 12);
	assert_int_equal(py_code_line(3, 13, loc, sizeof(loc), 10, 6), 9);
	assert_int_equal(py_code_line(3, 13, loc, sizeof(loc), 10, 8), 79);
	assert_int_equal(py_code_line(3, 13, loc, sizeof(loc), 10, 10), -1);
	assert_int_equal(py_code_line(3, 13, loc, sizeof(loc), 10, 12), -1);
	assert_int_equal(py_code_line(3, 13, loc, sizeof(loc), 10, -2), 10);
	assert_int_equal(py_code_line(3, 14, NULL, 0, 10, 0), -1);
}

static void test_malformed(void **state)
{
	/* 3.11+: the first byte must start an entry */
	static const unsigned char no_start[] = {0x05, 0x80};
	/* a varint whose continuation bit never ends */
	static const unsigned char endless[] = {0x80 | 13 << 3, 0x40, 0x40, 0x40};
	/* a varint with more chunks than an int holds */
	static const unsigned char huge[] = {0x80 | 13 << 3, 0x7f, 0x7f, 0x7f,
					     0x7f,	     0x7f, 0x7f, 0x01};
	/* 3.10: a table ending in empty ranges */
	static const unsigned char empty_end[] = {0, 1, 0, 1};
	/* odd length: the last half pair is ignored (lnotab) or ends the table (3.10) */
	static const unsigned char odd[] = {2, 1, 2};

	assert_int_equal(py_code_line(3, 11, no_start, sizeof(no_start), 1, 0), -1);
	assert_int_equal(py_code_line(3, 11, endless, sizeof(endless), 1, 0), -1);
	assert_int_equal(py_code_line(3, 12, huge, sizeof(huge), 1, 0), -1);
	assert_int_equal(py_code_line(3, 10, empty_end, sizeof(empty_end), 1, 0), -1);
	assert_int_equal(py_code_line(3, 8, odd, sizeof(odd), 1, 0), 1);
	assert_int_equal(py_code_line(3, 8, odd, sizeof(odd), 1, 4), 2);
	assert_int_equal(py_code_line(3, 10, odd, sizeof(odd), 1, 0), 2);
	assert_int_equal(py_code_line(3, 10, odd, sizeof(odd), 1, 2), -1);
}

/*
 * co_firstlineno near INT_MAX (or INT_MIN), then a step beyond: the running line used to
 * overflow an int (undefined behaviour; found by tests/fuzz/fuzz_pylines, in each of the three
 * decoders). No real table leaves the int range: such a table is malformed, -1. Lines up to the
 * limits themselves are still given.
 */
static void test_line_overflow(void **state)
{
	/* lnotab: +2 bytes +1 line, twice; then 0 bytes -128 lines */
	static const unsigned char lnotab[] = {2, 1, 2, 1};
	static const unsigned char lnotab_down[] = {0, 0x80};
	/* 3.10: [0,2) +1, [2,4) +1, [4,6) +1 */
	static const unsigned char t310[] = {2, 1, 2, 1, 2, 1};
	/* 3.11+: one-line form +1 (kind 11), one unit each; no-column form -2^29 + 1 (kind 13,
	 * u = 2^30 - 1: five chunks of 63) */
	static const unsigned char loc[] = {0x80 | 11 << 3, 1, 2, 0x80 | 11 << 3, 1, 2};
	static const unsigned char loc_down[] = {0x80 | 13 << 3, 0x7f, 0x7f, 0x7f, 0x7f, 0x3f};

	assert_int_equal(py_code_line(3, 8, lnotab, sizeof(lnotab), INT_MAX - 2, 4), INT_MAX);
	assert_int_equal(py_code_line(3, 8, lnotab, sizeof(lnotab), INT_MAX - 1, 2), INT_MAX);
	assert_int_equal(py_code_line(3, 8, lnotab, sizeof(lnotab), INT_MAX - 1, 4), -1);
	assert_int_equal(py_code_line(3, 9, lnotab, sizeof(lnotab), INT_MAX, 0), INT_MAX);
	assert_int_equal(py_code_line(3, 9, lnotab, sizeof(lnotab), INT_MAX, 2), -1);
	assert_int_equal(py_code_line(3, 9, lnotab_down, sizeof(lnotab_down), INT_MIN + 128, 0),
			 INT_MIN);
	assert_int_equal(py_code_line(3, 9, lnotab_down, sizeof(lnotab_down), INT_MIN + 127, 0),
			 -1);

	assert_int_equal(py_code_line(3, 10, t310, sizeof(t310), INT_MAX - 3, 4), INT_MAX);
	assert_int_equal(py_code_line(3, 10, t310, sizeof(t310), INT_MAX - 1, 0), INT_MAX);
	assert_int_equal(py_code_line(3, 10, t310, sizeof(t310), INT_MAX - 1, 2), -1);
	assert_int_equal(py_code_line(3, 10, t310, sizeof(t310), INT_MAX, 0), -1);

	assert_int_equal(py_code_line(3, 11, loc, sizeof(loc), INT_MAX - 2, 2), INT_MAX);
	assert_int_equal(py_code_line(3, 12, loc, sizeof(loc), INT_MAX - 1, 0), INT_MAX);
	assert_int_equal(py_code_line(3, 13, loc, sizeof(loc), INT_MAX - 1, 2), -1);
	assert_int_equal(py_code_line(3, 14, loc, sizeof(loc), INT_MAX, 0), -1);
	assert_int_equal(py_code_line(3, 13, loc_down, sizeof(loc_down), 0, 0), -(1 << 29) + 1);
	assert_int_equal(
	    py_code_line(3, 13, loc_down, sizeof(loc_down), INT_MIN + (1 << 29) - 1, 0), INT_MIN);
	assert_int_equal(
	    py_code_line(3, 13, loc_down, sizeof(loc_down), INT_MIN + (1 << 29) - 2, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_real_code_objects), cmocka_unit_test(test_vectors_cover_formats),
	    cmocka_unit_test(test_truncated_tables),  cmocka_unit_test(test_format_for),
	    cmocka_unit_test(test_hand_made),	      cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_line_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
