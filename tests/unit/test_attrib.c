// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * user/attrib/attrib.c without BPF, on copy events made up here for this test's own process,
 * which runs no CPython: each is decoded by its mapping (the heap, the stack, an anonymous
 * mapping) and summed into rows and per-slot causes; events that are not page copies of a known
 * slot (zero-page copies, file corrections, a slot out of range) count nowhere. The decoding of
 * CPython memory itself is tests/unit/test_pyobj.c's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/types.h>
#include "cowtrace.h"
#include "cowtrace.skel.h"
#include "attrib.h"
#include "tracees.h"

struct fixture {
	struct tracees t;
	struct cowtrace_bpf skel;
	struct cowtrace_bpf__bss bss;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->skel.bss = &f->bss;
	f->bss.next_slot = 2;
	f->t.skel = &f->skel;
	f->t.slots = calloc(COWTRACE_MAX_SLOTS, sizeof(*f->t.slots));
	f->t.procs = calloc(COWTRACE_MAX_SLOTS, sizeof(*f->t.procs));
	if (!f->t.slots || !f->t.procs)
		return -1;
	f->t.procs[0] = (struct cow_proc_info){.pid = getpid(), .parent_slot = COWTRACE_NO_SLOT};
	f->t.procs[1] = (struct cow_proc_info){.pid = getpid(), .parent_slot = 0};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->t.slots);
	free(f->t.procs);
	free(f);
	return 0;
}

static struct cow_copy_event copy(unsigned int slot, const void *addr, const void *sp)
{
	return (struct cow_copy_event){.type = EV_COPY, .slot = slot, .pid = getpid(),
				       .addr = (uintptr_t)addr, .sp = (uintptr_t)sp,
				       .kind = COW_ANON};
}

static unsigned long long pages_of(const struct attrib_row *rows, size_t n, enum cow_cause cause,
				   enum cow_region region)
{
	unsigned long long sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (rows[i].cause == cause && rows[i].region == region)
			sum += rows[i].pages;
	return sum;
}

static void test_native_rows_by_region(void **state)
{
	struct fixture *f = *state;
	struct attrib *a = attrib_new(&f->t, false, false);
	/* the brk heap itself (malloc may not be there: ASan's is not) */
	char *heap = sbrk(4096), local = 0;
	void *anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const struct attrib_row *rows;
	const unsigned long long *causes;
	struct cow_copy_event e;
	unsigned long long total = 0;
	size_t n, i;
	int k;

	assert_non_null(a);
	assert_true(heap != (void *)-1);
	assert_true(anon != MAP_FAILED);
	for (k = 0; k < 3; k++) {
		e = copy(0, heap, &local);
		attrib_event(a, &e);
	}
	e = copy(1, &local, &local); /* the writing thread's own stack */
	attrib_event(a, &e);
	e = copy(1, anon, &local);
	attrib_event(a, &e);
	/* not counted: a zero-page copy, a file copy's correction, a slot out of range */
	e = copy(0, heap, &local);
	e.kind = COW_ZERO;
	attrib_event(a, &e);
	e = copy(0, heap, &local);
	e.type = EV_COPY_FILE;
	attrib_event(a, &e);
	e = copy(COWTRACE_MAX_SLOTS, heap, &local);
	attrib_event(a, &e);

	rows = attrib_rows(a, &n);
	assert_non_null(rows);
	for (i = 0; i < n; i++)
		total += rows[i].pages;
	assert_int_equal(total, 5);
	assert_int_equal(pages_of(rows, n, CAUSE_NATIVE, REGION_MALLOC), 3);
	assert_int_equal(pages_of(rows, n, CAUSE_NATIVE, REGION_STACK), 1);
	assert_int_equal(pages_of(rows, n, CAUSE_NATIVE, REGION_OTHER), 1);
	/* most pages first */
	assert_int_equal(rows[0].pages, 3);
	causes = attrib_slot_causes(a, 0);
	assert_non_null(causes);
	assert_int_equal(causes[CAUSE_NATIVE], 3);
	causes = attrib_slot_causes(a, 1);
	assert_non_null(causes);
	assert_int_equal(causes[CAUSE_NATIVE], 2);
	assert_null(attrib_slot_causes(a, 5)); /* never seen */
	assert_int_equal(attrib_slot_gc_headers(a, 0), 0);
	attrib_free(a);
	munmap(anon, 4096);
	sbrk(-4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_native_rows_by_region, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
