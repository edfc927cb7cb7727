// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cowtrace diff on synthetic reports: reading (older reports without newer keys, wrong types,
 * files that are not reports), pairing (roles, workers by start time, objects by cause, type
 * and field), the gate's figures, and the text and JSON written from them.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include "diff.h"
#include "gate.h"

/* Run A: a root and three workers, listed out of start order; objects in two regions. */
static const char report_a[] =
	"{\"tool\": \"cowtrace\", \"version\": \"0.1.0\", \"duration_s\": 2.5,"
	" \"totals\": {\"pages\": 1000, \"bytes\": 4096000,"
	"  \"by_kind\": {\"anon\": 990, \"file\": 10, \"zero\": 3},"
	"  \"by_cause\": {\"gc\": 800, \"refcount\": 150, \"native\": 40, \"unattributed\": 10},"
	"  \"gc_generations\": {\"0\": 0, \"1\": 0, \"2\": 800, \"unknown\": 0}},"
	" \"attribution\": true,"
	" \"objects\": ["
	"  {\"cause\": \"gc\", \"type\": \"list\", \"field\": \"gc_header\","
	"   \"region\": \"pymalloc\", \"pages\": 500},"
	"  {\"cause\": \"gc\", \"type\": \"list\", \"field\": \"gc_header\","
	"   \"region\": \"malloc\", \"pages\": 100},"
	"  {\"cause\": \"refcount\", \"type\": \"str\", \"field\": \"ob_refcnt\","
	"   \"region\": \"pymalloc\", \"pages\": 150},"
	"  {\"cause\": \"native\", \"type\": null, \"field\": \"unknown\","
	"   \"region\": \"malloc\", \"pages\": 40}],"
	" \"processes\": ["
	"  {\"pid\": 10, \"role\": \"root\", \"start_s\": 0.0, \"pages\": 40,"
	"   \"by_kind\": {\"anon\": 30, \"file\": 10, \"zero\": 3},"
	"   \"by_cause\": {\"gc\": 0, \"native\": 40}},"
	"  {\"pid\": 13, \"role\": \"worker\", \"start_s\": 0.9, \"pages\": 160,"
	"   \"by_cause\": {\"gc\": 100, \"refcount\": 50, \"unattributed\": 10}},"
	"  {\"pid\": 11, \"role\": \"worker\", \"start_s\": 0.5, \"pages\": 400,"
	"   \"by_cause\": {\"gc\": 350, \"refcount\": 50}},"
	"  {\"pid\": 12, \"role\": \"worker\", \"start_s\": 0.6, \"pages\": 400,"
	"   \"by_cause\": {\"gc\": 350, \"refcount\": 50}}],"
	" \"bpf_stats\": null}";

/* Run B: the same after the change; two workers, a helper role A does not have. */
static const char report_b[] =
	"{\"tool\": \"cowtrace\", \"version\": \"0.2.0\", \"duration_s\": 2.0,"
	" \"totals\": {\"pages\": 600,"
	"  \"by_kind\": {\"anon\": 590, \"file\": 10, \"zero\": 0},"
	"  \"by_cause\": {\"gc\": 4, \"refcount\": 550, \"native\": 46},"
	"  \"gc_generations\": {\"0\": 0, \"1\": 0, \"2\": 4, \"unknown\": 0}},"
	" \"objects\": ["
	"  {\"cause\": \"refcount\", \"type\": \"str\", \"field\": \"ob_refcnt\","
	"   \"region\": \"pymalloc\", \"pages\": 250},"
	"  {\"cause\": \"refcount\", \"type\": \"list\", \"field\": \"ob_refcnt\","
	"   \"region\": \"pymalloc\", \"pages\": 300},"
	"  {\"cause\": \"gc\", \"type\": \"list\", \"field\": \"gc_header\","
	"   \"region\": \"pymalloc\", \"pages\": 4},"
	"  {\"cause\": \"native\", \"type\": null, \"field\": \"unknown\","
	"   \"region\": \"malloc\", \"pages\": 46}],"
	" \"processes\": ["
	"  {\"pid\": 20, \"role\": \"root\", \"start_s\": 0.0, \"pages\": 40,"
	"   \"by_cause\": {\"native\": 40}},"
	"  {\"pid\": 22, \"role\": \"worker\", \"start_s\": 0.7, \"pages\": 290,"
	"   \"by_cause\": {\"gc\": 2, \"refcount\": 288}},"
	"  {\"pid\": 21, \"role\": \"worker\", \"start_s\": 0.4, \"pages\": 264,"
	"   \"by_cause\": {\"gc\": 2, \"refcount\": 262}},"
	"  {\"pid\": 23, \"role\": \"helper\", \"start_s\": 0.2, \"pages\": 6,"
	"   \"by_cause\": {\"native\": 6}}]}";

struct fixture {
	struct diff_report r[2];
	struct diff d;
};

static int parse_str(const char *text, struct diff_report *r, char *err, size_t errlen)
{
	return diff_report_parse(text, strlen(text), r, err, errlen);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[256];

	assert_non_null(fx);
	assert_int_equal(parse_str(report_a, &fx->r[0], err, sizeof(err)), 0);
	assert_int_equal(parse_str(report_b, &fx->r[1], err, sizeof(err)), 0);
	assert_int_equal(diff_compute(&fx->d, "a.json", &fx->r[0], "b.json", &fx->r[1]), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	diff_free(&fx->d);
	diff_report_free(&fx->r[0]);
	diff_report_free(&fx->r[1]);
	free(fx);
	return 0;
}

static void test_parse_full(void **state)
{
	struct fixture *fx = *state;
	const struct diff_report *a = &fx->r[0];

	assert_string_equal(a->version, "0.1.0");
	assert_true(a->duration_s == 2.5);
	assert_int_equal(a->missing, 0);
	assert_int_equal(a->total.pages, 1000);
	assert_int_equal(a->total.anon, 990);
	assert_int_equal(a->total.zero, 3);
	assert_int_equal(a->total.cause[CAUSE_GC], 800);
	assert_int_equal(a->total.cause[CAUSE_REFCOUNT], 150);
	assert_int_equal(a->total.cause[DIFF_UNATTRIBUTED], 10);
	assert_int_equal(a->total.gen[2], 800);
	assert_int_equal(a->nprocs, 4);
	assert_string_equal(a->procs[1].role, "worker");
	assert_int_equal(a->procs[1].pid, 13);
	assert_true(a->procs[1].start_s == 0.9);
	assert_int_equal(a->nobjs, 4);
	/* a null type reads as "?" */
	assert_string_equal(a->objs[3].type, "?");
}

/* Reports of older versions lack keys: each reads as 0, and the absent sections are told. */
static void test_missing_keys(void **state)
{
	struct diff_report r;
	char err[256], buf[160];

	assert_int_equal(parse_str("{\"tool\": \"cowtrace\"}", &r, err, sizeof(err)), 0);
	assert_int_equal(r.total.pages, 0);
	assert_int_equal(r.nprocs, 0);
	assert_int_equal(r.nobjs, 0);
	assert_string_equal(r.version, "?");
	assert_true(isnan(r.duration_s));
	assert_true(r.missing & DIFF_NO_TOTALS);
	assert_true(r.missing & DIFF_NO_PROCESSES);
	assert_true(r.missing & DIFF_NO_OBJECTS);
	assert_string_equal(diff_missing_text(r.missing, buf, sizeof(buf)),
			    "totals, processes, objects");
	diff_report_free(&r);

	/* the first reports: by_cause {gc, other}, no objects; pages from by_kind when absent;
	 * gc from the generations when by_cause has none; null is absent */
	assert_int_equal(parse_str("{\"tool\": \"cowtrace\", \"version\": null, \"totals\": {"
				   "\"by_kind\": {\"anon\": 70, \"file\": 5},"
				   "\"by_cause\": {\"other\": 45},"
				   "\"gc_generations\": {\"0\": 10, \"2\": 20}},"
				   "\"processes\": [{\"pid\": 1}, {}]}",
				   &r, err, sizeof(err)),
			 0);
	assert_int_equal(r.total.pages, 75);
	assert_int_equal(r.total.cause[CAUSE_GC], 30);
	assert_int_equal(r.total.cause[CAUSE_REFCOUNT], 0);
	assert_int_equal(r.missing, DIFF_NO_OBJECTS);
	assert_int_equal(r.nprocs, 2);
	assert_string_equal(r.procs[0].role, "?");
	assert_true(isnan(r.procs[1].start_s));
	diff_report_free(&r);
}

static void expect_error(const char *text, const char *needle)
{
	struct diff_report r;
	char err[512] = "";

	assert_int_equal(parse_str(text, &r, err, sizeof(err)), -EINVAL);
	if (!strstr(err, needle))
		fail_msg("for %s\nexpected '%s' in: %s", text, needle, err);
	if (strchr(err, '\n') || strchr(err, '\033'))
		fail_msg("not one clean line: %s", err);
	/* nothing is left allocated, and freeing again is harmless */
	assert_null(r.procs);
	assert_null(r.objs);
	diff_report_free(&r);
}

static void test_wrong_types(void **state)
{
	expect_error("{\"tool\": \"cowtrace\", \"totals\": {\"pages\": \"12\"}}",
		     "totals.pages: expected a count (a whole number), got a string");
	expect_error("{\"tool\": \"cowtrace\", \"totals\": {\"pages\": 1.5}}",
		     "totals.pages: expected a count");
	expect_error("{\"tool\": \"cowtrace\", \"totals\": {\"pages\": -1}}",
		     "totals.pages: -1 is not a page count");
	expect_error("{\"tool\": \"cowtrace\", \"totals\": {\"pages\": 9007199254740993}}",
		     "is not a page count");
	expect_error("{\"tool\": \"cowtrace\", \"totals\": []}",
		     "totals: expected an object, got an array");
	expect_error("{\"tool\": \"cowtrace\", \"totals\": {\"by_cause\": 3}}",
		     "totals.by_cause: expected an object, got an integer");
	expect_error("{\"tool\": \"cowtrace\", \"totals\": {\"by_cause\": {\"gc\": true}}}",
		     "totals.by_cause.gc: expected a count");
	expect_error("{\"tool\": \"cowtrace\", \"processes\": {}}",
		     "processes: expected an array, got an object");
	expect_error("{\"tool\": \"cowtrace\", \"processes\": [{\"role\": \"root\"}, 7]}",
		     "processes[1]: expected an object, got an integer");
	expect_error("{\"tool\": \"cowtrace\", \"processes\": [{\"role\": 1}]}",
		     "processes[0].role: expected a string, got an integer");
	expect_error("{\"tool\": \"cowtrace\", \"processes\": [{\"start_s\": \"0.5\"}]}",
		     "processes[0].start_s: expected a number");
	expect_error("{\"tool\": \"cowtrace\", \"processes\": [{\"by_kind\": {\"anon\": []}}]}",
		     "processes[0].by_kind.anon: expected a count");
	expect_error("{\"tool\": \"cowtrace\", \"objects\": [{\"type\": {}}]}",
		     "objects[0].type: expected a string, got an object");
	expect_error("{\"tool\": \"cowtrace\", \"objects\": [{\"pages\": null}, \"x\"]}",
		     "objects[1]: expected an object, got a string");
}

static void test_not_a_report(void **state)
{
	struct diff_report r;
	char nul[] = "{\"tool\": \"cow\0trace\"}", err[512];
	char deep[20000];

	expect_error("", "not a cowtrace report: not JSON");
	expect_error("root:x:0:0:root:/root:/bin/bash", "not a cowtrace report: not JSON");
	expect_error("{\"tool\": \"cowtrace\"", "not JSON");
	expect_error("[1, 2]", "not a cowtrace report (an array, not an object)");
	expect_error("{}", "not a cowtrace report (no \"tool\": \"cowtrace\")");
	expect_error("{\"tool\": \"perf\"}", "no \"tool\": \"cowtrace\"");
	expect_error("{\"tool\": 1}", "no \"tool\": \"cowtrace\"");
	expect_error("{\"tool\": \"cowtrace\", \"kind\": \"diff\"}",
		     "a cowtrace diff, not a report");
	/* one key twice: which would win is not for us to guess */
	expect_error("{\"tool\": \"cowtrace\", \"totals\": {\"pages\": 1, \"pages\": 2}}",
		     "duplicate");
	/* control bytes quoted from the input are escaped in the message */
	expect_error("{\"tool\": \"cowtrace\", \033[2J}", "not JSON");
	/* invalid UTF-8 in a string */
	expect_error("{\"tool\": \"cowtrace\", \"version\": \"\xff\xfe\"}", "not JSON");
	/* a NUL inside the text */
	assert_int_equal(diff_report_parse(nul, sizeof(nul) - 1, &r, err, sizeof(err)), -EINVAL);
	/* nesting far deeper than any report: refused, not a stack overflow */
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	expect_error(deep, "not JSON");
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/cowtrace-test-diff-XXXXXX", err[256];
	struct diff_report r;
	FILE *f;
	int fd;

	assert_int_equal(diff_report_load("/nonexistent/report.json", &r, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "cannot read it"));
	assert_int_equal(diff_report_load("/tmp", &r, err, sizeof(err)), -EISDIR);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(report_a, f);
	fclose(f);
	assert_int_equal(diff_report_load(path, &r, err, sizeof(err)), 0);
	assert_int_equal(r.total.pages, 1000);
	assert_int_equal(r.nprocs, 4);
	diff_report_free(&r);
	unlink(path);
}

static void test_pairing(void **state)
{
	struct fixture *fx = *state;
	const struct diff *d = &fx->d;
	size_t i;

	/* roles in order of first appearance, A's then B's */
	assert_int_equal(d->nroles, 3);
	assert_string_equal(d->roles[0].name, "root");
	assert_string_equal(d->roles[1].name, "worker");
	assert_string_equal(d->roles[2].name, "helper");
	assert_int_equal(d->roles[1].procs[0], 3);
	assert_int_equal(d->roles[1].procs[1], 2);
	assert_int_equal(d->roles[1].c[0].pages, 960);
	assert_int_equal(d->roles[1].c[1].cause[CAUSE_REFCOUNT], 550);
	assert_int_equal(d->roles[2].procs[0], 0);

	/* workers by start time, whatever their order in the file */
	assert_int_equal(d->nw[0], 3);
	assert_int_equal(d->nw[1], 2);
	assert_int_equal(d->nworkers, 3);
	assert_int_equal(d->workers[0].p[0]->pid, 11);
	assert_int_equal(d->workers[0].p[1]->pid, 21);
	assert_int_equal(d->workers[1].p[0]->pid, 12);
	assert_int_equal(d->workers[1].p[1]->pid, 22);
	assert_int_equal(d->workers[2].p[0]->pid, 13);
	assert_null(d->workers[2].p[1]);

	/* objects by (cause, type, field), regions summed, largest change first */
	assert_int_equal(d->nobjs, 4);
	assert_string_equal(d->objs[0].cause, "gc");
	assert_string_equal(d->objs[0].type, "list");
	assert_int_equal(d->objs[0].pages[0], 600);
	assert_int_equal(d->objs[0].pages[1], 4);
	assert_string_equal(d->objs[1].type, "list");
	assert_string_equal(d->objs[1].field, "ob_refcnt");
	assert_int_equal(d->objs[1].pages[0], 0);
	assert_int_equal(d->objs[1].pages[1], 300);
	assert_string_equal(d->objs[2].type, "str");
	assert_string_equal(d->objs[3].cause, "native");
	for (i = 1; i < d->nobjs; i++) {
		long long now = (long long)d->objs[i].pages[1] - (long long)d->objs[i].pages[0];
		long long before = (long long)d->objs[i - 1].pages[1] -
				   (long long)d->objs[i - 1].pages[0];

		assert_true(llabs(now) <= llabs(before));
	}
}

static void assert_near(double v, double want)
{
	if (!(v - want < 1e-9 && want - v < 1e-9))
		fail_msg("%.12g, expected %.12g", v, want);
}

static void test_figures(void **state)
{
	struct fixture *fx = *state;
	const struct diff *d = &fx->d;
	const char *const *name;

	assert_near(diff_figure_value(d, "pages_a"), 1000);
	assert_near(diff_figure_value(d, "pages_b"), 600);
	assert_near(diff_figure_value(d, "pages_change"), -400);
	assert_near(diff_figure_value(d, "pages_change_pct"), -40);
	assert_near(diff_figure_value(d, "gc_pages_change"), -796);
	assert_near(diff_figure_value(d, "other_pages_a"), 200);
	assert_near(diff_figure_value(d, "other_pages_b"), 596);
	assert_near(diff_figure_value(d, "workers_change"), -1);
	assert_near(diff_figure_value(d, "pages_per_worker_a"), 320);
	assert_near(diff_figure_value(d, "pages_per_worker_b"), 277);
	assert_near(diff_figure_value(d, "gc_pages_per_worker_a"), 800.0 / 3);
	assert_near(diff_figure_value(d, "gc_pages_per_worker_b"), 2);
	assert_near(diff_figure_value(d, "gc_pages_per_worker_change_pct"),
		    100.0 * (2 - 800.0 / 3) / (800.0 / 3));
	/* every name the gate accepts has a value here */
	for (name = diff_figure_names; *name; name++)
		assert_false(isnan(diff_figure_value(d, *name)));
	assert_true(isnan(diff_figure_value(d, "pages")));

	assert_near(diff_change_pct(0, 0), 0);
	assert_true(isnan(diff_change_pct(0, 5)));
	assert_near(diff_change_pct(200, 50), -75);
	assert_true(isnan(diff_change_pct(NAN, 5)));
}

static double value(const char *name, void *ctx)
{
	return diff_figure_value(ctx, name);
}

static void test_gate(void **state)
{
	struct fixture *fx = *state;
	char err[1024], why[256];
	struct gate *g;

	/* gc pages per worker fell by 99.25%: "> -90" does not hold, "> -99.5" does */
	g = gate_parse_signed("gc_pages_per_worker_change_pct > -90", diff_figure_names, err,
			      sizeof(err));
	assert_non_null(g);
	assert_false(gate_eval(g, value, &fx->d, why, sizeof(why)));
	gate_free(g);
	g = gate_parse_signed("gc_pages_per_worker_change_pct>-99.5 and pages_change < 0",
			      diff_figure_names, err, sizeof(err));
	assert_non_null(g);
	assert_true(gate_eval(g, value, &fx->d, why, sizeof(why)));
	assert_non_null(strstr(why, "gc_pages_per_worker_change_pct = -99.25 > -99.5"));
	assert_non_null(strstr(why, "pages_change = -400 < 0"));
	gate_free(g);
	/* the tracer's own gate keeps refusing negative numbers; names are the diff's */
	assert_null(gate_parse("pages_a > -1", diff_figure_names, err, sizeof(err)));
	assert_non_null(strstr(err, "negative number"));
	assert_null(gate_parse_signed("gc > 0", diff_figure_names, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown figure 'gc'"));
	assert_null(gate_parse_signed("pages_a > - 1", diff_figure_names, err, sizeof(err)));
	assert_null(gate_parse_signed("pages_a > --1", diff_figure_names, err, sizeof(err)));
}

/* A figure no run defines (no workers) makes no comparison hold. */
static void test_undefined(void **state)
{
	struct diff_report r[2];
	struct diff d;
	char err[256];
	struct gate *g;

	assert_int_equal(parse_str("{\"tool\": \"cowtrace\"}", &r[0], err, sizeof(err)), 0);
	assert_int_equal(parse_str(report_b, &r[1], err, sizeof(err)), 0);
	assert_int_equal(diff_compute(&d, "a", &r[0], "b", &r[1]), 0);
	assert_true(isnan(diff_figure_value(&d, "gc_pages_per_worker_a")));
	assert_true(isnan(diff_figure_value(&d, "gc_pages_per_worker_change_pct")));
	assert_true(isnan(diff_figure_value(&d, "pages_change_pct")));
	assert_near(diff_figure_value(&d, "pages_change"), 600);
	g = gate_parse_signed("gc_pages_per_worker_change_pct > -90 or pages_change_pct != 0",
			      diff_figure_names, err, sizeof(err));
	assert_false(gate_eval(g, value, &d, err, sizeof(err)));
	gate_free(g);
	diff_free(&d);
	diff_report_free(&r[0]);
	diff_report_free(&r[1]);
}

static char *render_text(const struct diff *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	diff_text(f, d);
	fclose(f);
	return buf;
}

static void test_text(void **state)
{
	struct fixture *fx = *state;
	char *out = render_text(&fx->d), *line, *save = NULL;

	assert_non_null(
		strstr(out, "A  a.json: cowtrace 0.1.0, 4 processes (3 workers), traced 2.50 s"));
	assert_non_null(strstr(out, "copied pages                          1000         600        "
				    "-400    -40.0\n"));
	assert_non_null(strstr(out, "  gc pages per worker"));
	assert_non_null(strstr(out, "helper    processes                      0           1        "
				    "  +1        -\n"));
	/* the third worker of A has no partner in B */
	assert_non_null(strstr(out, "#3         13        -      160        -        -       -"));
	assert_non_null(strstr(out, "refcount          list                         ob_refcnt   "
				    "       0      300     +300        -\n"));
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strlen(line) >= 100)
			fail_msg("line of %zu columns: %s", strlen(line), line);
	free(out);
}

/* Names from a report are escaped on the terminal, and kept exact in the JSON. */
static void test_hostile_names(void **state)
{
	static const char evil[] =
		"{\"tool\": \"cowtrace\", \"version\": \"\\u001b]0;pwned\\u0007\","
		" \"objects\": [{\"cause\": \"gc\", \"type\": \"\\u001b[2Jx\", \"field\": \"f\","
		" \"pages\": 3}],"
		" \"processes\": [{\"role\": \"\\u001b[31mworker\", \"pages\": 1}]}";
	struct diff_report r[2];
	struct diff d;
	char err[256], *out;

	assert_int_equal(parse_str(evil, &r[0], err, sizeof(err)), 0);
	assert_int_equal(parse_str(evil, &r[1], err, sizeof(err)), 0);
	assert_int_equal(diff_compute(&d, "a\033[2J", &r[0], "b", &r[1]), 0);
	out = render_text(&d);
	assert_null(strchr(out, '\033'));
	assert_null(strchr(out, '\007'));
	assert_non_null(strstr(out, "\\x1b[2Jx"));
	free(out);
	diff_free(&d);
	diff_report_free(&r[0]);
	diff_report_free(&r[1]);
}

static void test_json(void **state)
{
	struct fixture *fx = *state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_t *root, *figs, *v;
	json_error_t jerr;
	const char *const *name;
	struct diff_report again;
	char err[256];

	assert_non_null(f);
	assert_int_equal(diff_json(f, &fx->d), 0);
	fclose(f);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		fail_msg("not JSON: %s", jerr.text);
	assert_string_equal(json_string_value(json_object_get(root, "kind")), "diff");
	/* the figures are the gate's, exactly */
	figs = json_object_get(root, "figures");
	for (name = diff_figure_names; *name; name++) {
		v = json_object_get(figs, *name);
		assert_non_null(v);
		/* written with 3 decimals */
		if (!(json_number_value(v) - diff_figure_value(&fx->d, *name) < 0.0005 + 1e-9 &&
		      diff_figure_value(&fx->d, *name) - json_number_value(v) < 0.0005 + 1e-9))
			fail_msg("%s: %g in the JSON, %g", *name, json_number_value(v),
				 diff_figure_value(&fx->d, *name));
	}
	v = json_object_get(json_object_get(root, "totals"), "pages");
	assert_int_equal(json_integer_value(json_object_get(v, "change")), -400);
	assert_near(json_number_value(json_object_get(v, "change_pct")), -40);
	/* the unmatched worker: null on B's side */
	v = json_array_get(json_object_get(root, "workers"), 2);
	assert_true(json_is_null(json_object_get(v, "pid_b")));
	assert_true(json_is_null(json_object_get(json_object_get(v, "pages"), "b")));
	assert_true(json_is_null(json_object_get(json_object_get(v, "pages"), "change")));
	v = json_object_get(json_object_get(json_object_get(v, "by_cause"), "gc"), "a");
	assert_int_equal(json_integer_value(v), 100);
	assert_int_equal(json_array_size(json_object_get(root, "objects")), 4);
	assert_int_equal(json_array_size(json_object_get(root, "roles")), 3);
	json_decref(root);
	/* a diff is not a report: diffing it again is refused */
	assert_int_equal(diff_report_parse(buf, len, &again, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "a cowtrace diff"));
	free(buf);
}

static void expect_usage(int argc, char **argv, const char *needle)
{
	struct diff_options o;
	char err[256];

	assert_int_equal(diff_options_parse(argc, argv, &o, err, sizeof(err)), -EINVAL);
	if (!strstr(err, needle))
		fail_msg("expected '%s' in: %s", needle, err);
}

#define ARGC(a) ((int)(sizeof(a) / sizeof(a[0])) - 1)

static void test_options(void **state)
{
	char *ok[] = { "diff", "a.json", "--json", "-", "b.json", "--fail-on", "pages_a > 0", "-q",
		       NULL };
	char *help[] = { "diff", "--help", NULL };
	char *one[] = { "diff", "a.json", NULL };
	char *three[] = { "diff", "a", "b", "c", NULL };
	char *bogus[] = { "diff", "a", "b", "--bogus", NULL };
	char *noarg[] = { "diff", "a", "b", "--json", NULL };
	char *empty[] = { "diff", "a", "", NULL };
	struct diff_options o;
	char err[256];

	assert_int_equal(diff_options_parse(ARGC(ok), ok, &o, err, sizeof(err)), 0);
	assert_string_equal(o.path[0], "a.json");
	assert_string_equal(o.path[1], "b.json");
	assert_string_equal(o.json_path, "-");
	assert_string_equal(o.fail_on, "pages_a > 0");
	assert_true(o.quiet);
	assert_int_equal(diff_options_parse(ARGC(help), help, &o, err, sizeof(err)), 0);
	assert_true(o.help);
	expect_usage(ARGC(one), one, "give two reports");
	expect_usage(ARGC(three), three, "one report too many: 'c'");
	expect_usage(ARGC(bogus), bogus, "unknown option '--bogus'");
	expect_usage(ARGC(noarg), noarg, "'--json' needs an argument");
	expect_usage(ARGC(empty), empty, "an empty file name");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_parse_full, setup, teardown),
		cmocka_unit_test(test_missing_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_not_a_report),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test_setup_teardown(test_pairing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_figures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gate, setup, teardown),
		cmocka_unit_test(test_undefined),
		cmocka_unit_test_setup_teardown(test_text, setup, teardown),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test(test_options),
	};

	return cmocka_run_group_tests_name("diff", tests, NULL, NULL);
}
