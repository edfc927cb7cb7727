/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cowtrace diff A.json B.json: what changed between two runs (before and after a change, such
 * as gc.freeze()). Each copy is credited to the first write that copied its page, so what a
 * change saves shows only as the difference between two runs, never in one run's breakdown.
 *
 * Two stages: diff_load.c reads a --json report (a file from anywhere: parsed with jansson,
 * every value checked, keys an older cowtrace did not write read as 0) into a diff_report;
 * diff.c pairs two of them (totals, roles, workers by start order, objects) and writes the
 * comparison as text, as JSON and as figures for the --fail-on gate.
 */
#ifndef COWTRACE_DIFF_H
#define COWTRACE_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "pyobj.h"
#include "report.h"

/* The causes of a report's by_cause: cow_cause_name(0 .. CAUSE_COUNT - 1) ("gc" first), then
 * "unattributed". */
#define DIFF_CAUSES	 (CAUSE_COUNT + 1)
#define DIFF_UNATTRIBUTED CAUSE_COUNT
#define DIFF_GENS	 4 /* gc_generations: "0", "1", "2", "unknown" */

/* Largest count believed: 2^53 pages (exact as a double; real runs are far below). */
#define DIFF_COUNT_MAX (1ULL << 53)
/* Largest report file read (a report of a large server is a few MiB). */
#define DIFF_FILE_MAX (64u << 20)
/* Longest string kept from a report (role, cause, type, field); longer ones are cut. */
#define DIFF_STR_MAX 255

struct diff_counts {
	unsigned long long pages; /* anon + file */
	unsigned long long anon, file, zero;
	unsigned long long cause[DIFF_CAUSES]; /* [CAUSE_GC]: all gc pages */
	unsigned long long gen[DIFF_GENS];
};

struct diff_proc {
	char *role; /* "?" when the report has none */
	unsigned long long pid;
	double start_s; /* NaN when unknown */
	struct diff_counts c;
};

struct diff_object {
	char *cause, *type, *field; /* "?" when absent or null */
	unsigned long long pages;
};

/* Sections of a report that were absent (an older cowtrace, or a report cut short). */
enum {
	DIFF_NO_BY_KIND = 1 << 0,
	DIFF_NO_BY_CAUSE = 1 << 1,
	DIFF_NO_GENERATIONS = 1 << 2,
	DIFF_NO_PROCESSES = 1 << 3,
	DIFF_NO_OBJECTS = 1 << 4,
	DIFF_NO_TOTALS = 1 << 5,
};

struct diff_report {
	char *version;	   /* the cowtrace that wrote it, "?" unknown */
	double duration_s; /* NaN unknown */
	struct diff_counts total;
	struct diff_proc *procs;
	size_t nprocs;
	struct diff_object *objs;
	size_t nobjs;
	unsigned int missing; /* DIFF_NO_* */
};

/*
 * Reads one report from text (len bytes, need not be NUL-terminated). Returns 0, or -EINVAL
 * with a one-line reason in err (safe to print: bytes of the input are escaped) when the text
 * is not JSON, not a cowtrace report, or holds a value of the wrong type or out of range.
 * Missing keys are 0 (and missing sections are flagged in r->missing). -ENOMEM: out of memory.
 */
int diff_report_parse(const char *text, size_t len, struct diff_report *r, char *err,
		      size_t errlen);
/* The same from a file (at most DIFF_FILE_MAX bytes); -errno when it cannot be read. */
int diff_report_load(const char *path, struct diff_report *r, char *err, size_t errlen);
void diff_report_free(struct diff_report *r);
/* "by_cause", "gc_generations", ...: what r->missing says, comma-separated ("" for none). */
const char *diff_missing_text(unsigned int missing, char *buf, size_t len);

/* The sum of several processes' counts (saturating: a hostile report cannot wrap it). */
void diff_counts_add(struct diff_counts *sum, const struct diff_counts *c);

/* One process role, and the processes of each run in it. */
struct diff_role {
	const char *name;
	unsigned long long procs[2];
	struct diff_counts c[2];
};

/* The i-th worker of A beside the i-th of B (by start time); NULL where one run has fewer. */
struct diff_worker_pair {
	const struct diff_proc *p[2];
};

/* One (cause, type, field) of the objects table in both runs, summed over regions. */
struct diff_object_pair {
	const char *cause, *type, *field;
	unsigned long long pages[2];
};

struct diff {
	const char *path[2];
	const struct diff_report *r[2];
	struct diff_role *roles;
	size_t nroles;
	struct diff_worker_pair *workers;
	size_t nworkers;	     /* pairs: the larger of the two runs' worker counts */
	unsigned long long nw[2];    /* each run's workers */
	struct diff_counts wsum[2];  /* each run's workers, summed */
	struct diff_object_pair *objs; /* largest change first */
	size_t nobjs;
};

/* Pairs a and b (they must outlive d). 0 or -ENOMEM. */
int diff_compute(struct diff *d, const char *path_a, const struct diff_report *a,
		 const char *path_b, const struct diff_report *b);
void diff_free(struct diff *d);

/* The gate's figures, NULL-terminated; and every one of their names, for gate_parse_signed(). */
extern const struct report_figure diff_figures[];
extern const char *const diff_figure_names[];
/* A figure's value; NaN when undefined (a percentage of 0, a mean over no workers). */
double diff_figure_value(const struct diff *d, const char *name);

/* 100 * (b - a) / a; 0 when both are 0, NaN when only a is. */
double diff_change_pct(double a, double b);
/* b - a of two sums (both below 2^62, so that it always fits) */
long long diff_change(unsigned long long a, unsigned long long b);
/* the pages not copied by the collector */
unsigned long long diff_other_pages(const struct diff_counts *c);

#define DIFF_TEXT_OBJECTS 15 /* rows of the objects table the text shows */
void diff_text(FILE *f, const struct diff *d);
int diff_json(FILE *f, const struct diff *d); /* 0 or -errno */

struct diff_options {
	const char *path[2];
	const char *json_path;
	const char *fail_on;
	bool quiet;
	bool help;
};

/* argv[0] is "diff". 0, or -EINVAL with a one-line reason (a usage error: exit status 2). */
int diff_options_parse(int argc, char **argv, struct diff_options *o, char *err, size_t errlen);
void diff_usage(FILE *f);

/* cowtrace diff: returns the exit status (0, 1 an input that is not a report, 2 usage, 3 the
 * gate held). */
int diff_main(int argc, char **argv);

#endif
