// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The report: figures for the gate, the JSON keys later issues rely on, text under 100 columns. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "report.h"

static struct report_proc procs[3];
static struct report rep;

static int setup(void **state)
{
	memset(procs, 0, sizeof(procs));
	procs[0].info = (struct cow_proc_info){ .pid = 100, .ppid = 1, .role = ROLE_ROOT,
						.start_ns = 1000000000ULL, .comm = "python3" };
	procs[0].counts.kind[COW_ANON] = 10;
	procs[0].py_version = "3.11.2";
	procs[0].gc_source = "usdt";
	procs[0].cmdline = "python3 \"srv\".py";

	procs[1].info = (struct cow_proc_info){ .pid = 101, .ppid = 100, .role = ROLE_WORKER,
						.start_ns = 1500000000ULL, .exit_ns = 3000000000ULL,
						.exit_code = 7 << 8, .flags = PROC_EXITED,
						.comm = "python3" };
	procs[1].counts.kind[COW_ANON] = 900;
	procs[1].counts.kind[COW_FILE] = 100;
	procs[1].counts.kind[COW_ZERO] = 50;
	procs[1].counts.gc[0] = 100;
	procs[1].counts.gc[2] = 700;
	procs[1].py_version = "3.11.2";
	procs[1].gc_source = "usdt";

	procs[2].info = (struct cow_proc_info){ .pid = 102, .ppid = 100, .role = ROLE_WORKER,
						.exit_code = SIGKILL, .flags = PROC_EXITED | PROC_EXECED,
						.start_ns = 1000000000ULL, .exit_ns = 2000000000ULL,
						.comm = "a very long comm" };
	procs[2].counts.kind[COW_ANON] = 90;

	memset(&rep, 0, sizeof(rep));
	rep.version = "0.1.0";
	rep.detector = "fault-alloc-tp";
	rep.kernel = "6.18.0";
	rep.duration_s = 4.25;
	rep.start_ns = 1000000000ULL;
	rep.procs = procs;
	rep.nprocs = 3;
	for (int i = 0; i < 3; i++)
		report_add(&rep.total, &procs[i].counts);
	return 0;
}

static void test_sums_and_figures(void **state)
{
	assert_int_equal(report_pages(&rep.total), 10 + 1000 + 90);
	assert_int_equal(report_gc(&rep.total), 800);
	assert_true(report_figure_value(&rep, "pages") == 1100);
	assert_true(report_figure_value(&rep, "zero") == 50);
	assert_true(report_figure_value(&rep, "file") == 100);
	assert_true(report_figure_value(&rep, "gc") == 800);
	assert_true(report_figure_value(&rep, "other") == 300);
	assert_true(report_figure_value(&rep, "gc_gen0") == 100);
	assert_true(report_figure_value(&rep, "gc_gen1") == 0);
	assert_true(report_figure_value(&rep, "gc_gen2") == 700);
	assert_true(report_figure_value(&rep, "gc_pct") > 72.72 &&
		    report_figure_value(&rep, "gc_pct") < 72.73);
	assert_true(report_figure_value(&rep, "worker_pages_max") == 1000);
	assert_true(report_figure_value(&rep, "worker_gc_max") == 800);
	assert_true(report_figure_value(&rep, "workers") == 2);
	assert_true(report_figure_value(&rep, "processes") == 3);
	assert_true(report_figure_value(&rep, "duration_s") == 4.25);
	/* every documented figure has a value (a name the evaluator does not know is NaN, which
	 * no gate comparison holds on: a typo would never trip the gate) */
	for (const struct report_figure *f = report_figures; f->name; f++)
		if (isnan(report_figure_value(&rep, f->name)))
			fail_msg("figure %s has no value", f->name);
	assert_true(isnan(report_figure_value(&rep, "no_such_figure")));
}

static char *render(int (*fn)(FILE *, const struct report *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(fn(f, &rep), 0);
	fclose(f);
	return buf;
}

static int text_fn(FILE *f, const struct report *r)
{
	report_text(f, r);
	return 0;
}

static void test_json(void **state)
{
	char *out = render(report_json);

	assert_non_null(strstr(out, "\"tool\": \"cowtrace\""));
	assert_non_null(strstr(out, "\"detector\": \"fault-alloc-tp\""));
	assert_non_null(strstr(out, "\"duration_s\": 4.250"));
	/* totals: pages are anon + file; zero only in by_kind */
	assert_non_null(strstr(out, "\"totals\": {\n    \"pages\": 1100,\n    \"bytes\": 4505600"));
	assert_non_null(strstr(out, "\"zero\": 50"));
	/* no attribution in this report: what gc does not explain is unattributed */
	assert_non_null(strstr(out, "\"by_cause\": {\n      \"gc\": 800,\n      \"refcount\": 0,"));
	assert_non_null(strstr(out, "\"unattributed\": 300\n"));
	assert_null(strstr(out, "\"other\""));
	assert_non_null(strstr(out, "\"attribution\": false"));
	assert_non_null(strstr(out, "\"objects\": []"));
	/* quotes in a command line are escaped; a process without one says null */
	assert_non_null(strstr(out, "\"cmdline\": \"python3 \\\"srv\\\".py\""));
	assert_non_null(strstr(out, "\"cmdline\": null"));
	/* exit status in the shell's convention; relative times */
	assert_non_null(strstr(out, "\"exit_code\": 7"));
	assert_non_null(strstr(out, "\"exit_code\": 137"));
	assert_non_null(strstr(out, "\"start_s\": 0.500000"));
	assert_non_null(strstr(out, "\"exit_s\": 2.000000"));
	assert_non_null(strstr(out, "\"python\": {\n        \"version\": \"3.11.2\",\n"
				    "        \"gc_source\": \"usdt\""));
	assert_non_null(strstr(out, "\"python\": null"));
	assert_non_null(strstr(out, "\"role\": \"worker\""));
	assert_non_null(strstr(out, "\"exec\": true"));
	free(out);
}

static void test_text(void **state)
{
	char *out = render(text_fn), *line, *save = NULL;
	int rows = 0;

	assert_non_null(strstr(out, "copied pages:  1100 (4.3 MiB)   anon 1000   file 100   zero 50"));
	assert_non_null(strstr(out, "gc 800 (72.7%: gen0 100, gen1 0, gen2 700)   other 300 (27.3%)"));
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strlen(line) >= 100)
			fail_msg("line of %zu columns: %s", strlen(line), line);
		if (strstr(line, " worker ") || strstr(line, " root "))
			rows++;
	}
	assert_int_equal(rows, 3);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_sums_and_figures, setup),
		cmocka_unit_test_setup(test_json, setup),
		cmocka_unit_test_setup(test_text, setup),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
