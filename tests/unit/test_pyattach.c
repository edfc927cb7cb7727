// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * user/python/pyattach.c without BPF (no skeleton: reaching an attach would crash, so each
 * test shows the file was turned away before): files that are not CPython, a file too large to
 * be read, a scan of a process without CPython, and no new file looked at once the run ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "procfs.h"
#include "pyattach.h"

static int stop_asked;

static bool stop_now(void *arg)
{
	stop_asked++;
	return *(bool *)arg;
}

static void test_not_cpython(void **state)
{
	struct pyattach *pa = pyattach_new(NULL);

	(void)state;
	assert_non_null(pa);
	assert_null(pyattach_file(pa, "/bin/true"));
	assert_null(pyattach_file(pa, "/etc/passwd"));
	assert_null(pyattach_file(pa, "/dev/null")); /* not a regular file */
	assert_null(pyattach_file(pa, "/no/such/file"));
	/* this test's own process runs no CPython */
	assert_null(pyattach_scan_pid(pa, getpid()));
	assert_null(pyattach_scan_pid(pa, PROCFS_PID_MAX));
	pyattach_free(pa);
}

/* A real interpreter (Debian's python3.11, USDT probes and all) grown past PROCFS_ELF_READ_MAX
 * with a sparse tail: still a valid ELF file, refused unread. Read, it would be taken for CPython
 * and attached to, which this skeleton-less instance cannot survive. */
static void test_too_large(void **state)
{
	char dir[] = "/tmp/cowtrace-pyattach-XXXXXX", path[128], buf[65536];
	struct pyattach *pa = pyattach_new(NULL);
	int in, out;
	ssize_t n;

	(void)state;
	assert_non_null(pa);
	in = open("/usr/bin/python3.11", O_RDONLY);
	assert_true(in >= 0);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/python3.11", dir);
	out = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0755);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, n), n);
	close(in);
	assert_int_equal(ftruncate(out, (off_t)PROCFS_ELF_READ_MAX + 4096), 0);
	close(out);
	assert_null(pyattach_file(pa, path));
	unlink(path);
	rmdir(dir);
	pyattach_free(pa);
}

/* Once the run is ending, a file not looked at yet is not read (a CPython here would otherwise
 * go on to an attach, which this skeleton-less instance cannot survive). */
static void test_stopped(void **state)
{
	static const char *const pythons[] = {"/usr/bin/python3.11", "/usr/bin/python3"};
	struct pyattach *pa = pyattach_new(NULL);
	bool stop = true;
	size_t i;

	(void)state;
	assert_non_null(pa);
	pyattach_set_stop(pa, stop_now, &stop);
	stop_asked = 0;
	for (i = 0; i < sizeof(pythons) / sizeof(pythons[0]); i++)
		if (access(pythons[i], R_OK) == 0)
			assert_null(pyattach_file(pa, pythons[i]));
	assert_true(stop_asked >= 1);
	pyattach_free(pa);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_not_cpython),
	    cmocka_unit_test(test_too_large),
	    cmocka_unit_test(test_stopped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
