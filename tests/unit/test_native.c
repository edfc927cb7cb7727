// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * user/attrib/native.c: native stacks named from the ELF symbols of the files mapped at each
 * address, here this test's own functions (a PIE: the load bias must be undone) and libc's.
 * Root or not: without the capability /proc/PID/map_files needs, files are reached by their
 * path in the process's root (procfs_open_mapped).
 * The BPF stack map is this file's bpf_map_lookup_elem(), which the library's calls reach
 * (the executable's definition comes first).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <linux/types.h>
#include "cowtrace.h"
#include "native.h"

#define FAKE_FD 4242

static __u64 fake_ips[COW_NATIVE_MAX];
static __u32 asked_key;

int bpf_map_lookup_elem(int fd, const void *key, void *value)
{
	if (fd != FAKE_FD)
		return -1;
	memcpy(&asked_key, key, sizeof(asked_key));
	memcpy(value, fake_ips, sizeof(fake_ips));
	return 0;
}

/* functions whose addresses the fake stack holds (never called) */
__attribute__((noinline, used)) int native_test_inner(int x)
{
	return x * 3 + 1;
}

__attribute__((noinline, used)) int native_test_outer(int x)
{
	return native_test_inner(x) + 2;
}

static void test_names_own_and_libc_functions(void **state)
{
	struct native_syms *ns = native_syms_new(FAKE_FD);
	char exe[4096], want[4200];
	const struct pystack *s;
	int pid = getpid();
	ssize_t n;

	(void)state;
	assert_non_null(ns);
	/* frames are named "function (file)", the file as this process maps it */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	memset(fake_ips, 0, sizeof(fake_ips));
	/* innermost first, as the kernel gives them; an address inside each function */
	fake_ips[0] = (uintptr_t)native_test_inner + 4;
	fake_ips[1] = (uintptr_t)native_test_outer + 4;
	fake_ips[2] = (uintptr_t)getpid + 1;
	s = native_get(ns, 0, 7, &pid, 1);
	assert_non_null(s);
	assert_int_equal(asked_key, 6); /* id is 1 + the BPF stack id */
	assert_int_equal(s->n, 3);
	assert_false(s->truncated);
	/* outermost first */
	assert_non_null(strstr(s->frames[0], "getpid"));
	assert_non_null(strstr(s->frames[0], "libc.so"));
	snprintf(want, sizeof(want), "native_test_outer (%s)", strrchr(exe, '/') + 1);
	assert_string_equal(s->frames[1], want);
	snprintf(want, sizeof(want), "native_test_inner (%s)", strrchr(exe, '/') + 1);
	assert_string_equal(s->frames[2], want);
	/* the same id in the same family: the same stack, not looked up again */
	asked_key = 0;
	assert_ptr_equal(native_get(ns, 0, 7, &pid, 1), s);
	native_syms_free(ns);
}

static void test_unmapped_and_full(void **state)
{
	struct native_syms *ns = native_syms_new(FAKE_FD);
	const struct pystack *s;
	int pid = getpid(), i;

	(void)state;
	assert_non_null(ns);
	/* an address no mapping holds is named as unknown, with the address */
	memset(fake_ips, 0, sizeof(fake_ips));
	fake_ips[0] = 0x10;
	s = native_get(ns, 0, 1, &pid, 1);
	assert_non_null(s);
	assert_int_equal(s->n, 1);
	assert_string_equal(s->frames[0], "[unknown] (0x10)");
	/* a stack as deep as the map holds is marked cut */
	for (i = 0; i < COW_NATIVE_MAX; i++)
		fake_ips[i] = (uintptr_t)native_test_inner + 4;
	s = native_get(ns, 0, 2, &pid, 1);
	assert_non_null(s);
	assert_int_equal(s->n, COW_NATIVE_MAX);
	assert_true(s->truncated);
	/* no id, or a map that does not answer: nothing */
	assert_null(native_get(ns, 0, 0, &pid, 1));
	native_syms_free(ns);
	ns = native_syms_new(FAKE_FD + 1);
	assert_null(native_get(ns, 0, 3, &pid, 1));
	native_syms_free(ns);
}

/* Processes that cannot name the addresses any more (a zombie has no mappings, a pid that is
 * gone has no /proc entry) are passed over for the next one; when none can, the stack is not
 * kept, and a later call with a live process names it. */
static void test_gone_processes_passed_over(void **state)
{
	struct native_syms *ns = native_syms_new(FAKE_FD);
	const struct pystack *s;
	int pids[3], status;
	pid_t zombie;

	(void)state;
	assert_non_null(ns);
	zombie = fork();
	assert_true(zombie >= 0);
	if (zombie == 0)
		_exit(0);
	/* a zombie until reaped below: /proc/PID/maps is there, and empty */
	usleep(100000);
	memset(fake_ips, 0, sizeof(fake_ips));
	fake_ips[0] = (uintptr_t)native_test_inner + 4;
	pids[0] = zombie;
	pids[1] = 0x7ffffff0; /* no such process */
	assert_null(native_get(ns, 0, 5, pids, 2));
	pids[2] = getpid();
	s = native_get(ns, 0, 5, pids, 3);
	assert_non_null(s);
	assert_int_equal(s->n, 1);
	assert_non_null(strstr(s->frames[0], "native_test_inner ("));
	assert_int_equal(waitpid(zombie, &status, 0), zombie);
	native_syms_free(ns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_own_and_libc_functions),
		cmocka_unit_test(test_unmapped_and_full),
		cmocka_unit_test(test_gone_processes_passed_over),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
