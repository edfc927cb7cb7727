// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * user/python/pythread.c: sizeof(struct pthread) as a glibc records it for debuggers
 * (_thread_db_sizeof_pthread), which the arm64 stack walk subtracts from the thread pointer.
 * Shared objects built here hold the symbol with chosen values (or not at all); glibc's own
 * files, where this machine has them, hold the real value.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "pythread.h"

static char dir[] = "/tmp/cowtrace-test-pythread.XXXXXX";

/* a shared object whose source is src, at dir/name; its descriptor */
static int build_so(const char *name, const char *src)
{
	char c[4200], so[4200], cmd[9000];
	FILE *f;

	snprintf(c, sizeof(c), "%s/%s.c", dir, name);
	snprintf(so, sizeof(so), "%s/%s.so", dir, name);
	f = fopen(c, "w");
	assert_non_null(f);
	fputs(src, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cc -shared -fPIC -o %s %s", so, c);
	assert_int_equal(system(cmd), 0);
	return open(so, O_RDONLY);
}

static long size_in(const char *name, const char *src)
{
	int fd = build_so(name, src);
	long v;

	assert_true(fd >= 0);
	v = pythread_sizeof_pthread(fd);
	close(fd);
	return v;
}

static void test_value_read_from_its_segment(void **state)
{
	(void)state;
	/* data before it, so that its file offset and address differ from the section's start */
	assert_int_equal(size_in("plain", "const int pad[300] = { 1 };\n"
					  "const unsigned int _thread_db_sizeof_pthread = 1856;\n"),
			 1856);
	/* in .data (a writable segment, mapped at another offset than its file position) */
	assert_int_equal(size_in("data", "unsigned int _thread_db_sizeof_pthread = 2304;\n"
					 "int other[1000] = { 2 };\n"),
			 2304);
}

static void test_implausible_or_missing_refused(void **state)
{
	(void)state;
	assert_int_equal(size_in("small", "const unsigned int _thread_db_sizeof_pthread = 7;\n"), -1);
	assert_int_equal(size_in("huge",
				 "const unsigned int _thread_db_sizeof_pthread = 70000;\n"), -1);
	/* the right name, not a 4-byte object */
	assert_int_equal(size_in("wide", "const unsigned long _thread_db_sizeof_pthread = 1856;\n"),
			 -1);
	assert_int_equal(size_in("func", "int _thread_db_sizeof_pthread(void) { return 1856; }\n"),
			 -1);
	assert_int_equal(size_in("none", "const unsigned int other = 1856;\n"), -1);
}

static void test_truncated_file_refused(void **state)
{
	char path[4200];
	struct stat st;
	int fd;

	(void)state;
	fd = build_so("cut", "const int pad[4000] = { 1 };\n"
			     "const unsigned int _thread_db_sizeof_pthread = 1856;\n");
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/cut.so", dir);
	assert_int_equal(stat(path, &st), 0);
	/* cut inside the data: the symbol tables at the end are gone */
	assert_int_equal(truncate(path, st.st_size / 2), 0);
	fd = open(path, O_RDONLY);
	assert_int_equal(pythread_sizeof_pthread(fd), -1);
	close(fd);
	/* not ELF at all */
	fd = open("/proc/self/cmdline", O_RDONLY);
	assert_int_equal(pythread_sizeof_pthread(fd), -1);
	close(fd);
}

/* glibc's own value, for each libc this machine has (the host's, the arm64 one of the cross
 * toolchain): plausible, and the same read twice */
static void test_glibc_files(void **state)
{
	static const char *const libcs[] = { "/lib/x86_64-linux-gnu/libc.so.6",
					     "/lib/aarch64-linux-gnu/libc.so.6" };
	int seen = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(libcs) / sizeof(libcs[0]); i++) {
		int fd = open(libcs[i], O_RDONLY);
		long v;

		if (fd < 0)
			continue;
		v = pythread_sizeof_pthread(fd);
		print_message("%s: sizeof(struct pthread) %ld\n", libcs[i], v);
		assert_in_range(v, 1024, 4096);
		assert_int_equal(pythread_sizeof_pthread(fd), v);
		close(fd);
		seen++;
	}
	assert_true(seen > 0);
}

/* the libc this very process maps, found through its maps as a target's is */
static void test_own_libc_found(void **state)
{
	int fd = open("/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY);
	long want;

	(void)state;
	if (fd < 0)
		fd = open("/lib/aarch64-linux-gnu/libc.so.6", O_RDONLY);
	assert_true(fd >= 0);
	want = pythread_sizeof_pthread(fd);
	close(fd);
	assert_int_equal(pythread_target_sizeof_pthread(getpid()), want);
	/* no such process */
	assert_int_equal(pythread_target_sizeof_pthread(0x7ffffff0), -1);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[200];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value_read_from_its_segment),
		cmocka_unit_test(test_implausible_or_missing_refused),
		cmocka_unit_test(test_truncated_file_refused),
		cmocka_unit_test(test_glibc_files),
		cmocka_unit_test(test_own_libc_found),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
