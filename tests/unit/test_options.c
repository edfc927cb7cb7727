// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Command-line parsing: what each form yields, and that every bad form is a usage error. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>
#include "options.h"

#define ARGV(...) ((char *[]){ "cowtrace", __VA_ARGS__, NULL })
#define ARGC(v)	  ((int)(sizeof(v) / sizeof(v[0])) - 1)

static int parse(int argc, char **argv, struct options *o, char *err)
{
	return options_parse(argc, argv, o, err, 256);
}

static void test_pid_form(void **state)
{
	char *argv[] = { "cowtrace", "-p", "1234", "-d", "2.5", "-i", "1", "--json", "-",
			 "--fail-on", "gc > 0", "-q", NULL };
	struct options o;
	char err[256];

	assert_int_equal(parse(ARGC(argv), argv, &o, err), 0);
	assert_int_equal(o.pid, 1234);
	assert_null(o.command);
	assert_true(o.duration == 2.5);
	assert_true(o.interval == 1.0);
	assert_string_equal(o.json_path, "-");
	assert_string_equal(o.fail_on, "gc > 0");
	assert_true(o.quiet);
	assert_false(o.trace);
}

static void test_pid_lists(void **state)
{
	char *list[] = { "cowtrace", "-p", "12,7,3", NULL };
	char *twice[] = { "cowtrace", "-p", "5", "--pid", "6,5", "-p", "7", NULL };
	char *bad[][4] = {
		{ "cowtrace", "-p", "1,", NULL }, { "cowtrace", "-p", ",1", NULL },
		{ "cowtrace", "-p", "1,,2", NULL }, { "cowtrace", "-p", "1,x", NULL },
		{ "cowtrace", "-p", "1;2", NULL }, { "cowtrace", "-p", "1, 2", NULL },
	};
	struct options o;
	char err[256];
	size_t i;

	assert_int_equal(parse(ARGC(list), list, &o, err), 0);
	assert_int_equal(o.npids, 3);
	assert_int_equal(o.pids[0], 12);
	assert_int_equal(o.pids[1], 7);
	assert_int_equal(o.pids[2], 3);
	assert_int_equal(o.pid, 12);
	/* repeated -p adds, a pid given twice counts once */
	assert_int_equal(parse(ARGC(twice), twice, &o, err), 0);
	assert_int_equal(o.npids, 3);
	assert_int_equal(o.pids[0], 5);
	assert_int_equal(o.pids[1], 6);
	assert_int_equal(o.pids[2], 7);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(ARGC(bad[i]), bad[i], &o, err), -EINVAL);
		assert_non_null(strstr(err, "invalid pid"));
	}
}

static void test_command_form(void **state)
{
	char *argv[] = { "cowtrace", "-T", "--", "python3", "-c", "pass", NULL };
	char *bare[] = { "cowtrace", "python3", "-v", NULL };
	struct options o;
	char err[256];

	assert_int_equal(parse(ARGC(argv), argv, &o, err), 0);
	assert_int_equal(o.pid, 0);
	assert_non_null(o.command);
	assert_string_equal(o.command[0], "python3");
	assert_string_equal(o.command[1], "-c");
	assert_string_equal(o.command[2], "pass");
	assert_null(o.command[3]);
	assert_true(o.trace);

	/* without "--" the first non-option starts COMMAND; its own options are not ours */
	assert_int_equal(parse(ARGC(bare), bare, &o, err), 0);
	assert_string_equal(o.command[0], "python3");
	assert_string_equal(o.command[1], "-v");
	assert_false(o.verbose);
}

static void expect_usage_error(char **argv, int argc, const char *needle)
{
	struct options o;
	char err[256];

	assert_int_equal(parse(argc, argv, &o, err), -EINVAL);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_bad_forms(void **state)
{
	char *a[] = { "cowtrace", "-p", "abc", NULL };
	char *b[] = { "cowtrace", "-p", "12x", NULL };
	char *c[] = { "cowtrace", "-p", "-5", NULL };
	char *d[] = { "cowtrace", NULL };
	char *e[] = { "cowtrace", "-p", "1", "--", "ls", NULL };
	char *f[] = { "cowtrace", "--bogus", "-p", "1", NULL };
	char *g[] = { "cowtrace", "-x", "-p", "1", NULL };
	char *h[] = { "cowtrace", "-p", NULL };
	char *i[] = { "cowtrace", "-d", "0", "-p", "1", NULL };
	char *j[] = { "cowtrace", "-d", "nan", "-p", "1", NULL };
	char *k[] = { "cowtrace", "-i", "-1", "-p", "1", NULL };
	char *l[] = { "cowtrace", "--json", "", "-p", "1", NULL };
	char *m[] = { "cowtrace", "-T", "--json", "-", "-p", "1", NULL };
	char *n[] = { "cowtrace", "-p", "99999999999", NULL };
	char *o[] = { "cowtrace", "--per-process", "--no-stacks", "-p", "1", NULL };
	char *q[] = { "cowtrace", "--per-process", "-c", "-p", "1", NULL };

	expect_usage_error(a, ARGC(a), "invalid pid 'abc'");
	expect_usage_error(b, ARGC(b), "invalid pid '12x'");
	expect_usage_error(c, ARGC(c), "invalid pid '-5'");
	expect_usage_error(d, ARGC(d), "nothing to trace");
	expect_usage_error(e, ARGC(e), "not both");
	expect_usage_error(f, ARGC(f), "unknown option '--bogus'");
	expect_usage_error(g, ARGC(g), "unknown option '-x'");
	expect_usage_error(h, ARGC(h), "needs an argument");
	expect_usage_error(i, ARGC(i), "invalid duration '0'");
	expect_usage_error(j, ARGC(j), "invalid duration 'nan'");
	expect_usage_error(k, ARGC(k), "invalid interval '-1'");
	expect_usage_error(l, ARGC(l), "--json needs a file name");
	expect_usage_error(m, ARGC(m), "both want stdout");
	expect_usage_error(n, ARGC(n), "invalid pid");
	expect_usage_error(o, ARGC(o), "--per-process splits stacks");
	expect_usage_error(q, ARGC(q), "--per-process splits stacks");
}

static void test_help_and_version_win(void **state)
{
	char *h[] = { "cowtrace", "--help", NULL };
	char *v[] = { "cowtrace", "-V", NULL };
	struct options o;
	char err[256];

	/* no target needed: --help and --version answer before the checks */
	assert_int_equal(parse(ARGC(h), h, &o, err), 0);
	assert_true(o.help);
	assert_int_equal(parse(ARGC(v), v, &o, err), 0);
	assert_true(o.version);
}

/* --list-detectors needs nothing to trace; --detector names one for a trace (checked later). */
static void test_detectors(void **state)
{
	char *list[] = { "cowtrace", "--list-detectors", NULL };
	char *use[] = { "cowtrace", "--detector", "fault-alloc-tp", "-p", "1", NULL };
	char *bare[] = { "cowtrace", "--detector", NULL };
	struct options o;
	char err[256];

	assert_int_equal(parse(ARGC(list), list, &o, err), 0);
	assert_true(o.list_detectors);
	assert_null(o.detector);
	assert_int_equal(parse(ARGC(use), use, &o, err), 0);
	assert_string_equal(o.detector, "fault-alloc-tp");
	assert_false(o.list_detectors);
	assert_int_equal(o.pid, 1);
	assert_int_equal(parse(ARGC(bare), bare, &o, err), -EINVAL);
	assert_non_null(strstr(err, "needs an argument"));
}

/* Two reports naming one file: the last written would replace the others. */
static void test_outputs_one_file(void **state)
{
	char *same[] = { "cowtrace", "--svg", "a", "--speedscope", "a", "-p", "1", NULL };
	char *apart[] = { "cowtrace", "--svg", "a", "--speedscope", "b", "--json", "c", "-p", "1",
			  NULL };
	struct options o;
	char err[256];

	assert_int_equal(parse(ARGC(same), same, &o, err), -EINVAL);
	assert_string_equal(err, "--svg and --speedscope both name a");
	assert_int_equal(parse(ARGC(apart), apart, &o, err), 0);
}

static void test_repeatable(void **state)
{
	char *a[] = { "cowtrace", "-p", "7", NULL };
	char *b[] = { "cowtrace", "-p", "8", NULL };
	struct options o;
	char err[256];

	/* getopt keeps state between calls; options_parse must reset it */
	assert_int_equal(parse(ARGC(a), a, &o, err), 0);
	assert_int_equal(o.pid, 7);
	assert_int_equal(parse(ARGC(b), b, &o, err), 0);
	assert_int_equal(o.pid, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pid_form),
		cmocka_unit_test(test_pid_lists),
		cmocka_unit_test(test_command_form),
		cmocka_unit_test(test_bad_forms),
		cmocka_unit_test(test_help_and_version_win),
		cmocka_unit_test(test_repeatable),
		cmocka_unit_test(test_detectors),
		cmocka_unit_test(test_outputs_one_file),
	};

	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
