// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* --prometheus: the exposition of a synthetic report, names from hostile processes, the
 * bound on programs, and the file put in place whole. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "options.h"
#include "prometheus.h"

#define NPROCS_MAX 64

static struct report_proc procs[NPROCS_MAX];
static struct report rep;

static void add_proc(unsigned int pid, unsigned int role, const char *comm, unsigned long long anon,
		     unsigned long long gc2, unsigned long long refcount)
{
	struct report_proc *p = &procs[rep.nprocs++];

	memset(p, 0, sizeof(*p));
	p->info.pid = pid;
	p->info.ppid = 1;
	p->info.role = role;
	snprintf(p->info.comm, sizeof(p->info.comm), "%s", comm);
	p->counts.kind[COW_ANON] = anon;
	p->counts.gc[2] = gc2;
	p->causes[CAUSE_REFCOUNT] = refcount;
	report_add(&rep.total, &p->counts);
	rep.causes[CAUSE_REFCOUNT] += refcount;
}

static int setup(void **state)
{
	memset(&rep, 0, sizeof(rep));
	rep.version = "0.1.0";
	rep.detector = "fault-alloc-tp";
	rep.kernel = "6.1.0-\"odd\"";
	rep.duration_s = 2.5;
	rep.procs = procs;
	rep.attribution = true;
	rep.lost_events = 7;
	rep.missed_runs = 3;
	add_proc(100, ROLE_ROOT, "gunicorn", 10, 0, 4);
	add_proc(101, ROLE_WORKER, "gunicorn", 1000, 700, 200);
	add_proc(102, ROLE_WORKER, "gunicorn", 900, 600, 100);
	procs[2].info.flags = PROC_EXITED;
	procs[1].counts.kind[COW_FILE] = 5;
	procs[1].counts.kind[COW_ZERO] = 9;
	rep.total.kind[COW_FILE] += 5;
	rep.total.kind[COW_ZERO] += 9;
	procs[1].counts.gc[GC_GEN_UNKNOWN] = 1;
	rep.total.gc[GC_GEN_UNKNOWN] += 1;
	return 0;
}

/* The exposition of rep, NUL-terminated, malloc'd. */
static char *expose(bool pids)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(prometheus_write(f, &rep, pids), 0);
	fclose(f);
	return buf;
}

static int count_lines(const char *text, const char *prefix)
{
	const char *line = text;
	int n = 0;

	while (line && *line) {
		n += !strncmp(line, prefix, strlen(prefix));
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	return n;
}

/* Every line a comment of the two kinds or one of our samples, ending in a number: nothing a
 * process names itself can start a line of its own. */
static void assert_well_formed(const char *text)
{
	const char *line = text, *end, *sp;
	char name[128];

	assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	for (; *line; line = end + 1) {
		end = strchr(line, '\n');
		assert_non_null(end);
		if (!strncmp(line, "# HELP cowtrace_", 16) ||
		    !strncmp(line, "# TYPE cowtrace_", 16))
			continue;
		assert_true(!strncmp(line, "cowtrace_", 9));
		sp = end;
		while (sp > line && sp[-1] != ' ')
			sp--;
		assert_true(sp > line && sp < end);
		for (const char *c = sp; c < end; c++)
			assert_true(strchr("0123456789.", *c) != NULL);
		/* the family was announced before its first sample */
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(line, "{ "), line);
		{
			char type[160];

			snprintf(type, sizeof(type), "# TYPE %s ", name);
			assert_non_null(strstr(text, type));
			assert_true(strstr(text, type) < line);
		}
	}
}

static void test_figures(void **state)
{
	char *t = expose(false);

	assert_well_formed(t);
	assert_non_null(strstr(t, "# HELP cowtrace_copied_pages_total "));
	assert_non_null(strstr(t, "# TYPE cowtrace_copied_pages_total counter\n"));
	assert_non_null(strstr(t, "\ncowtrace_copied_pages_total{kind=\"anon\"} 1910\n"));
	assert_non_null(strstr(t, "\ncowtrace_copied_pages_total{kind=\"file\"} 5\n"));
	assert_non_null(strstr(t, "\ncowtrace_copied_pages_total{kind=\"zero\"} 9\n"));
	/* the two gunicorn workers are one series; the root another */
	assert_non_null(
	    strstr(t, "\ncowtrace_copied_pages_by_cause_total{cause=\"gc\",role=\"worker\","
		      "program=\"gunicorn\"} 1301\n"));
	assert_non_null(strstr(t, "\ncowtrace_copied_pages_by_cause_total{cause=\"refcount\","
				  "role=\"worker\",program=\"gunicorn\"} 300\n"));
	/* 1905 pages - 1301 gc - 300 refcount */
	assert_non_null(strstr(t, "\ncowtrace_copied_pages_by_cause_total{cause=\"unattributed\","
				  "role=\"worker\",program=\"gunicorn\"} 304\n"));
	assert_non_null(strstr(t, "\ncowtrace_copied_pages_by_cause_total{cause=\"refcount\","
				  "role=\"root\",program=\"gunicorn\"} 4\n"));
	assert_int_equal(count_lines(t, "cowtrace_copied_pages_by_cause_total{"),
			 2 * (CAUSE_COUNT + 1));
	assert_non_null(strstr(t, "\ncowtrace_gc_copied_pages_total{generation=\"2\"} 1300\n"));
	assert_non_null(strstr(t, "\ncowtrace_gc_copied_pages_total{generation=\"unknown\"} 1\n"));
	assert_non_null(strstr(t, "# TYPE cowtrace_processes gauge\n"));
	assert_non_null(strstr(t, "\ncowtrace_processes{role=\"worker\"} 2\n"));
	assert_non_null(strstr(t, "\ncowtrace_processes{role=\"root\"} 1\n"));
	assert_non_null(strstr(t, "\ncowtrace_processes_alive{role=\"worker\"} 1\n"));
	assert_non_null(strstr(t, "\ncowtrace_lost_events_total 7\n"));
	assert_non_null(strstr(t, "\ncowtrace_missed_bpf_runs_total 3\n"));
	assert_non_null(strstr(t, "\ncowtrace_trace_seconds 2.500\n"));
	assert_non_null(strstr(t, "kernel=\"6.1.0-\\\"odd\\\"\"} 1\n"));
	/* no pid label unless asked for, no timestamps, no BPF run times unless kept */
	assert_null(strstr(t, "pid="));
	assert_null(strstr(t, "bpf_program"));
	/* each family announced once */
	assert_int_equal(count_lines(t, "# TYPE cowtrace_copied_pages_total "), 1);
	assert_int_equal(count_lines(t, "# HELP "), count_lines(t, "# TYPE "));
	free(t);
}

static void test_pids(void **state)
{
	char *t;

	/* a reused pid: two processes, one series */
	add_proc(101, ROLE_WORKER, "gunicorn", 5, 0, 0);
	t = expose(true);
	assert_well_formed(t);
	assert_non_null(
	    strstr(t, "\ncowtrace_copied_pages_by_cause_total{cause=\"gc\",role=\"worker\","
		      "program=\"gunicorn\",pid=\"101\"} 701\n"));
	assert_non_null(strstr(t, "\ncowtrace_copied_pages_by_cause_total{cause=\"unattributed\","
				  "role=\"worker\",program=\"gunicorn\",pid=\"101\"} 109\n"));
	assert_non_null(
	    strstr(t, "\ncowtrace_copied_pages_by_cause_total{cause=\"gc\",role=\"worker\","
		      "program=\"gunicorn\",pid=\"102\"} 600\n"));
	assert_int_equal(count_lines(t, "cowtrace_copied_pages_by_cause_total{"),
			 3 * (CAUSE_COUNT + 1));
	free(t);
}

static void test_escape(void **state)
{
	char buf[64];

	assert_string_equal(prometheus_label_escape(buf, sizeof(buf), "gunicorn"), "gunicorn");
	assert_string_equal(prometheus_label_escape(buf, sizeof(buf), "a\"b\\c\nd"),
			    "a\\\"b\\\\c\\nd");
	/* UTF-8 stays; control characters, C1 controls and ill-formed bytes become U+FFFD */
	assert_string_equal(prometheus_label_escape(buf, sizeof(buf), "caf\xc3\xa9"),
			    "caf\xc3\xa9");
	assert_string_equal(prometheus_label_escape(buf, sizeof(buf), "\x1b[2J\r\t\x7f"),
			    "\xef\xbf\xbd[2J\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(prometheus_label_escape(buf, sizeof(buf), "\xff\xc3(\xc2\x85"),
			    "\xef\xbf\xbd\xef\xbf\xbd(\xef\xbf\xbd");
	/* overlong, surrogate, past U+10FFFF, cut short */
	assert_string_equal(prometheus_label_escape(buf, sizeof(buf), "\xc0\xaf"),
			    "\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(prometheus_label_escape(buf, sizeof(buf), "\xed\xa0\x80"),
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(prometheus_label_escape(buf, sizeof(buf), "\xf4\x90\x80\x80"),
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(prometheus_label_escape(buf, sizeof(buf), "x\xe2\x82"),
			    "x\xef\xbf\xbd\xef\xbf\xbd");
	/* a short buffer cuts between whole escapes */
	assert_string_equal(prometheus_label_escape(buf, 4, "ab\"c"), "ab");
	assert_string_equal(prometheus_label_escape(buf, 5, "ab\"c"), "ab\\\"");
	assert_string_equal(prometheus_label_escape(buf, 5, "a\xc3\xa9\xc3\xa9"), "a\xc3\xa9");
	assert_string_equal(prometheus_label_escape(buf, sizeof(buf), NULL), "");
}

static void test_hostile_names(void **state)
{
	char *t;

	/* a comm that tries to end the label and start a sample of its own */
	add_proc(200, ROLE_WORKER, "\"} 1\nevil 9", 1, 0, 0);
	add_proc(201, ROLE_WORKER, "x\\\"\n\x1b]0;t\x07", 2, 0, 0);
	add_proc(202, ROLE_HELPER, "\xff\xfe\xc3", 3, 0, 0);
	/* two comms that escape alike: one series, summed */
	add_proc(203, ROLE_HELPER, "\x01q", 4, 0, 0);
	add_proc(204, ROLE_HELPER, "\x02q", 5, 0, 0);
	t = expose(false);
	assert_well_formed(t);
	assert_null(strstr(t, "\nevil"));
	assert_non_null(
	    strstr(t, "{cause=\"unattributed\",role=\"worker\",program=\"\\\"} 1\\nevil 9\"} 1\n"));
	assert_non_null(strstr(t, "{cause=\"unattributed\",role=\"worker\",program=\"x\\\\\\\"\\n"
				  "\xef\xbf\xbd]0;t\xef\xbf\xbd\"} 2\n"));
	assert_non_null(strstr(t, "{cause=\"unattributed\",role=\"helper\",program=\"\xef\xbf\xbd"
				  "\xef\xbf\xbd\xef\xbf\xbd\"} 3\n"));
	assert_non_null(
	    strstr(t, "{cause=\"unattributed\",role=\"helper\",program=\"\xef\xbf\xbdq\"} 9\n"));
	assert_null(strchr(t, '\x1b'));
	assert_null(strchr(t, '\x07'));
	free(t);
}

/* Programs past PROM_PROGRAMS_MAX (by pages) share one series; the biggest keep theirs. */
static void test_programs_bounded(void **state)
{
	unsigned long long other = 0;
	char comm[16], line[160], *t;
	int i;

	for (i = 0; i < PROM_PROGRAMS_MAX + 10; i++) {
		snprintf(comm, sizeof(comm), "prog%02d", i);
		add_proc(1000 + i, ROLE_HELPER, comm, 100 + i, 0, 0);
		if (i <= 10)
			other += 100 + i;
	}
	/* a process that is called (other) itself joins the same series */
	add_proc(3000, ROLE_HELPER, PROM_OTHER_PROGRAM, 1, 0, 0);
	other += 1;
	t = expose(false);
	assert_well_formed(t);
	/* the gunicorn workers and prog41 to prog11 keep theirs; prog10 to prog00 and the
	 * gunicorn root (10 pages) go to (other), one series per role */
	assert_int_equal(count_lines(t, "cowtrace_copied_pages_by_cause_total{cause=\"gc\","),
			 PROM_PROGRAMS_MAX + 2);
	assert_null(strstr(t, "program=\"prog10\""));
	assert_non_null(strstr(t, "program=\"prog11\""));
	assert_non_null(strstr(t, "{cause=\"refcount\",role=\"root\",program=\"(other)\"} 4\n"));
	assert_non_null(strstr(t, "program=\"prog41\""));
	snprintf(line, sizeof(line),
		 "{cause=\"unattributed\",role=\"helper\",program=\"(other)\"} %llu\n", other);
	assert_non_null(strstr(t, line));
	free(t);
	/* with pids, every process has its own */
	t = expose(true);
	assert_int_equal(count_lines(t, "cowtrace_copied_pages_by_cause_total{cause=\"gc\","),
			 rep.nprocs);
	free(t);
}

static void test_bpf_stats(void **state)
{
	char *t;

	rep.bpf_stats = true;
	rep.bpf_progs[0] =
	    (struct report_bpf_prog){.name = "handle_fault", .runs = 12, .run_ns = 1500};
	rep.nbpf_progs = 1;
	t = expose(false);
	assert_well_formed(t);
	assert_non_null(strstr(t, "\ncowtrace_bpf_runs_total{bpf_program=\"handle_fault\"} 12\n"));
	assert_non_null(strstr(t, "\ncowtrace_bpf_run_seconds_total{bpf_program=\"handle_fault\"} "
				  "0.000001500\n"));
	free(t);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 16);

	assert_non_null(f);
	assert_non_null(buf);
	assert_true(fread(buf, 1, (1 << 16) - 1, f) > 0);
	fclose(f);
	return buf;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* The file is replaced whole at each update; no temporary file is left behind. */
static void test_file(void **state)
{
	char dir[] = "/tmp/cowtrace-prom-XXXXXX", path[64], *t;
	struct prom_file pf;
	struct stat st1, st2;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cow.prom", dir);
	assert_int_equal(prom_file_open(&pf, path, false), 0);
	assert_int_equal(count_entries(dir), 1); /* the first temporary file, not cow.prom */
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(prom_file_update(&pf, &rep), 0);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(stat(path, &st1), 0);
	t = read_all(path);
	assert_non_null(strstr(t, "\ncowtrace_trace_seconds 2.500\n"));
	free(t);
	rep.duration_s = 5;
	assert_int_equal(prom_file_update(&pf, &rep), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_true(st1.st_ino != st2.st_ino);
	t = read_all(path);
	assert_non_null(strstr(t, "\ncowtrace_trace_seconds 5.000\n"));
	free(t);
	prom_file_close(&pf);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	/* no output asked for: nothing happens */
	assert_int_equal(prom_file_open(&pf, NULL, false), 0);
	assert_int_equal(prom_file_update(&pf, &rep), 0);
	prom_file_close(&pf);
	/* a directory that does not exist fails at open, before anything is traced */
	assert_int_not_equal(prom_file_open(&pf, "/nonexistent-cowtrace/x.prom", false), 0);
	prom_file_close(&pf);
}

static int parse(char **argv, struct options *o, char *err, size_t len)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	return options_parse(argc, argv, o, err, len);
}

static void test_options(void **state)
{
	char *ok[] = {"cowtrace", "--prometheus", "c.prom", "--prometheus-pids", "-i", "5",
		      "--",	  "true",	  NULL};
	char *no_file[] = {"cowtrace", "--prometheus-pids", "--", "true", NULL};
	char *dash[] = {"cowtrace", "--prometheus", "-", "--", "true", NULL};
	char *empty[] = {"cowtrace", "--prometheus", "", "--", "true", NULL};
	char *same[] = {"cowtrace", "--prometheus", "x", "--svg", "x", "--", "true", NULL};
	struct options o;
	char err[256];

	assert_int_equal(parse(ok, &o, err, sizeof(err)), 0);
	assert_string_equal(o.prometheus_path, "c.prom");
	assert_true(o.prometheus_pids);
	assert_int_not_equal(parse(no_file, &o, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "--prometheus FILE"));
	assert_int_not_equal(parse(dash, &o, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "not stdout"));
	assert_int_not_equal(parse(empty, &o, err, sizeof(err)), 0);
	assert_int_not_equal(parse(same, &o, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "--prometheus"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_figures, setup),
	    cmocka_unit_test_setup(test_pids, setup),
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test_setup(test_hostile_names, setup),
	    cmocka_unit_test_setup(test_programs_bounded, setup),
	    cmocka_unit_test_setup(test_bpf_stats, setup),
	    cmocka_unit_test_setup(test_file, setup),
	    cmocka_unit_test(test_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
