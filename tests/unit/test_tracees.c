// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * user/trace/tracees.c without BPF: the maps it shares with BPF are plain arrays here, the
 * skeleton a stand-in holding only the slot counter. What is tested is what user space writes
 * for BPF when a process execs and forks (the pool size and stack configuration, including the
 * pending state of a program whose interpreter is still being looked for), and the roles.
 * The processes are this test's own (no CPython maps in it, so none is found).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/types.h>
#include "cowtrace.h"
#include "cowtrace.skel.h"
#include "pyattach.h"
#include "tracees.h"

struct fixture {
	struct tracees t;
	struct cowtrace_bpf skel;
	struct cowtrace_bpf__bss bss;
	struct py_binding py; /* a CPython the test says a process runs */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->skel.bss = &f->bss;
	f->bss.next_slot = 4;
	f->t.skel = &f->skel;
	f->t.pa = pyattach_new(NULL); /* scans only: nothing to attach in this process */
	f->t.slots = calloc(COWTRACE_MAX_SLOTS, sizeof(*f->t.slots));
	f->t.procs = calloc(COWTRACE_MAX_SLOTS, sizeof(*f->t.procs));
	f->t.pool_shifts = calloc(COWTRACE_MAX_SLOTS, sizeof(*f->t.pool_shifts));
	f->t.stack_cfgs = calloc(COWTRACE_MAX_SLOTS, sizeof(*f->t.stack_cfgs));
	f->py.interp.major = 3;
	f->py.interp.minor = 12;
	*state = f;
	return f->t.pa && f->t.slots && f->t.procs && f->t.pool_shifts && f->t.stack_cfgs ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	for (i = 0; i < COWTRACE_MAX_SLOTS; i++) {
		free(f->t.slots[i].cmdline);
		free(f->t.slots[i].cgroup);
	}
	free(f->t.slots);
	free(f->t.procs);
	free(f->t.pool_shifts);
	free(f->t.stack_cfgs);
	pyattach_free(f->t.pa);
	free(f);
	return 0;
}

static void proc(struct fixture *f, unsigned int slot, unsigned int parent, unsigned int role)
{
	f->t.procs[slot] = (struct cow_proc_info){
	    .pid = getpid(), .ppid = getppid(), .parent_slot = parent, .role = role};
}

/* An exec'd program is pending while it is looked at often, then not CPython. */
static void test_exec_pending_then_settled(void **state)
{
	struct fixture *f = *state;
	unsigned long long now = 1000000000ULL;
	int ticks = 0;

	proc(f, 0, COWTRACE_NO_SLOT, ROLE_ROOT);
	tracees_on_exec(&f->t, 0, getpid(), now);
	assert_null(f->t.slots[0].python);
	assert_true(f->t.slots[0].scans_left > 3);
	assert_int_equal(f->t.pool_shifts[0], COW_POOL_SHIFT_PENDING);
	/* the fast scans run out: no longer pending (slow scans go on, for embedded CPython) */
	while (f->t.pool_shifts[0] == COW_POOL_SHIFT_PENDING && ticks < 1000) {
		now = f->t.slots[0].next_scan_ns;
		tracees_tick(&f->t, now);
		ticks++;
	}
	assert_int_equal(f->t.pool_shifts[0], 0);
	assert_true(ticks >= 30 && ticks < 1000);
	assert_true(f->t.slots[0].scans_left > 0); /* the slow ones */
}

/* A forked child gets its parent's pool size and stack configuration from user space, even
 * when BPF copied them before the parent's were written. */
static void test_fork_inherits_what_the_parent_has_now(void **state)
{
	struct fixture *f = *state;

	proc(f, 0, COWTRACE_NO_SLOT, ROLE_ROOT);
	proc(f, 1, 0, ROLE_WORKER);
	f->t.slots[0].python = &f->py;
	f->t.pool_shifts[0] = 14;
	f->t.stack_cfgs[0].runtime = 0x7f0000001000ULL;
	f->t.stack_cfgs[0].kind = 3;
	f->t.stack_cfgs[0].tstate_frame = 56;
	/* what BPF copied at the fork, before the parent's interpreter was known */
	f->t.pool_shifts[1] = COW_POOL_SHIFT_PENDING;
	tracees_on_fork(&f->t, 1, getpid());
	assert_ptr_equal(f->t.slots[1].python, &f->py);
	assert_int_equal(f->t.pool_shifts[1], 14);
	assert_memory_equal(&f->t.stack_cfgs[1], &f->t.stack_cfgs[0], sizeof(struct cow_stack_cfg));
	assert_int_equal(f->t.slots[1].scans_left, 0);
	assert_int_equal(tracees_role(&f->t, 1), ROLE_WORKER);
}

/* A child of a parent still being looked at is pending too, and is looked at itself. */
static void test_fork_of_a_pending_parent(void **state)
{
	struct fixture *f = *state;

	proc(f, 0, COWTRACE_NO_SLOT, ROLE_ROOT);
	proc(f, 1, 0, ROLE_WORKER);
	tracees_on_exec(&f->t, 0, getpid(), 1000000000ULL);
	assert_int_equal(f->t.pool_shifts[0], COW_POOL_SHIFT_PENDING);
	tracees_on_fork(&f->t, 1, getpid());
	assert_null(f->t.slots[1].python);
	assert_int_equal(f->t.pool_shifts[1], COW_POOL_SHIFT_PENDING);
	assert_int_equal(f->t.slots[1].scans_left, f->t.slots[0].scans_left);
	assert_true(f->t.slots[1].scans_left > 0);
}

static void test_roles(void **state)
{
	struct fixture *f = *state;

	proc(f, 0, COWTRACE_NO_SLOT, ROLE_ROOT);
	proc(f, 1, 0, ROLE_WORKER);
	proc(f, 2, 0, ROLE_WORKER);
	proc(f, 3, 0, ROLE_WORKER);
	f->t.slots[0].python = &f->py;
	f->t.any_python = true;
	f->t.slots[1].python = &f->py; /* forked, runs its parent's CPython */
	f->t.slots[2].python = &f->py; /* exec'd a CPython of its own */
	f->t.procs[2].flags = PROC_EXECED;
	f->t.procs[3].flags = PROC_EXECED; /* exec'd something else */
	assert_int_equal(tracees_role(&f->t, 0), ROLE_ROOT);
	assert_int_equal(tracees_role(&f->t, 1), ROLE_WORKER);
	assert_int_equal(tracees_role(&f->t, 2), ROLE_MASTER);
	assert_int_equal(tracees_role(&f->t, 3), ROLE_HELPER);
	/* in a tree without CPython, a forked child that did not exec is a worker */
	f->t.any_python = false;
	f->t.slots[1].python = NULL;
	assert_int_equal(tracees_role(&f->t, 1), ROLE_WORKER);
	assert_string_equal(cow_role_name(ROLE_MASTER), "master");
	assert_int_equal(tracees_nslots(&f->t), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_exec_pending_then_settled, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fork_inherits_what_the_parent_has_now, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_fork_of_a_pending_parent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roles, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
