// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests for user/python/pystacks.c: stacks as BPF records them, named from code objects in a
 * fake address space laid out with each version's offsets (pyframes.h). The BPF map is this
 * file's bpf_map_lookup_elem(), which serves the stack under test.
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
#include <bpf/bpf.h>

#include "cowtrace.h"
#include "pyframes.h"
#include "pystacks.h"

static struct cow_stack the_stack;

int bpf_map_lookup_elem(int fd, const void *key, void *value)
{
	memcpy(value, &the_stack, sizeof(the_stack));
	return 0;
}

/* one flat region of memory at BASE */
#define BASE	 0x7f0000000000ULL
#define MEM_SIZE 4096
#define CODE	 (BASE + 0x000)
#define TYPE	 (BASE + 0x400)
#define TPNAME	 (BASE + 0x500)
#define NAME	 (BASE + 0x600)
#define FILE_	 (BASE + 0x700)
#define TABLE	 (BASE + 0x800)

static uint8_t mem[MEM_SIZE];
static struct pystacks *ps;

static int mem_read(void *ctx, unsigned long long addr, void *buf, size_t len)
{
	if (addr < BASE || addr - BASE > MEM_SIZE || len > MEM_SIZE - (addr - BASE))
		return -EFAULT;
	memcpy(buf, mem + (addr - BASE), len);
	return 0;
}

static void put64(uint64_t addr, uint64_t v)
{
	memcpy(mem + (addr - BASE), &v, sizeof(v));
}

static void put_str(const struct py_frame_offsets *off, uint64_t addr, const char *s)
{
	uint32_t state = PY_UNICODE_STATE_COMPACT | PY_UNICODE_STATE_ASCII;

	put64(addr + off->unicode_length, strlen(s));
	memcpy(mem + (addr - BASE) + off->unicode_state, &state, sizeof(state));
	memcpy(mem + (addr - BASE) + off->unicode_ascii_data, s, strlen(s) + 1);
}

/* a code object "f" in "a.py", first line 10, with a 3.10 line table */
static const struct py_frame_offsets *build_310(void)
{
	const struct py_frame_offsets *off = py_frame_offsets_for(3, 10);
	/* [0,4) line 11, [4,8) line 12 */
	static const unsigned char table[] = {4, 1, 4, 1};
	int32_t first = 10;

	assert_non_null(off);
	memset(mem, 0, sizeof(mem));
	put64(CODE + off->object_type, TYPE);
	put64(TYPE + off->type_name, TPNAME);
	memcpy(mem + (TPNAME - BASE), "code", 5);
	put64(CODE + off->code_name, NAME);
	put64(CODE + off->code_filename, FILE_);
	memcpy(mem + (CODE - BASE) + off->code_firstlineno, &first, sizeof(first));
	put64(CODE + off->code_linetable, TABLE);
	put_str(off, NAME, "f");
	put_str(off, FILE_, "a.py");
	put64(TABLE + off->bytes_size, sizeof(table));
	memcpy(mem + (TABLE - BASE) + off->bytes_data, table, sizeof(table));
	return off;
}

static const char *one_frame(const struct py_frame_offsets *off, uint64_t instr, __u64 id)
{
	struct mem_reader r = {.read = mem_read};
	const struct pystack *s;

	memset(&the_stack, 0, sizeof(the_stack));
	the_stack.depth = 1;
	the_stack.code[0] = CODE;
	the_stack.instr[0] = instr;
	memcpy(the_stack.name[0], "f", 2);
	s = pystacks_get(ps, off, 1, id, &r);
	assert_non_null(s);
	assert_int_equal(s->n, 1);
	return s->frames[0];
}

static void test_lines_310(void **state)
{
	const struct py_frame_offsets *off = build_310();

	/* f_lasti counts code units in 3.10: unit 2 is byte 4 */
	assert_string_equal(one_frame(off, 0, 1), "f (a.py:11)");
	assert_string_equal(one_frame(off, 2, 2), "f (a.py:12)");
	assert_string_equal(one_frame(off, (uint64_t)-1, 3), "f (a.py:10)");
}

/*
 * An f_lasti that is no int (garbage BPF read from a frame being torn down): doubled in 64 signed
 * bits it overflowed (undefined behaviour; found by tests/fuzz/fuzz_pystacks). Now no line.
 */
static void test_lasti_not_an_int(void **state)
{
	const struct py_frame_offsets *off = build_310();

	assert_string_equal(one_frame(off, 1ULL << 62 | 1, 10), "f (a.py)");
	assert_string_equal(one_frame(off, 1ULL << 63, 11), "f (a.py)");
	assert_string_equal(one_frame(off, 1ULL << 31, 12), "f (a.py)");
}

/*
 * Many stacks and code objects: 1200 families, each with one stack of the one code object. The
 * stack index grows past its first 1024 slots, twice, and the code cache (512 entries, keyed by
 * family too) starts over twice; every stack keeps its name, and asked for again is the same
 * pointer, which callers keep.
 */
static void test_many_stacks(void **state)
{
	const struct py_frame_offsets *off = build_310();
	struct mem_reader r = {.read = mem_read};
	static const struct pystack *first[1200];
	unsigned int fam;

	memset(&the_stack, 0, sizeof(the_stack));
	the_stack.depth = 1;
	the_stack.code[0] = CODE;
	the_stack.instr[0] = 2;
	memcpy(the_stack.name[0], "f", 2);
	for (fam = 0; fam < 1200; fam++) {
		first[fam] = pystacks_get(ps, off, fam, 1 + fam % 7, &r);
		assert_non_null(first[fam]);
		assert_int_equal(first[fam]->n, 1);
		assert_string_equal(first[fam]->frames[0], "f (a.py:12)");
	}
	/* the map would now serve another stack: what was named is not read again */
	the_stack.depth = 0;
	for (fam = 0; fam < 1200; fam++)
		assert_ptr_equal(pystacks_get(ps, off, fam, 1 + fam % 7, &r), first[fam]);
	assert_int_equal(pystacks_get(ps, off, 5, 3, &r)->n, 0); /* a stack not asked for yet */
	assert_null(pystacks_get(ps, off, 5, 0, &r));		 /* no stack */
}

static int setup(void **state)
{
	ps = pystacks_new(-1);
	return ps ? 0 : -1;
}

static int teardown(void **state)
{
	pystacks_free(ps);
	ps = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lines_310, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lasti_not_an_int, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_stacks, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
