/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The final report: what was measured, as text, as JSON, and as figures for the --fail-on gate. */
#ifndef COWTRACE_REPORT_H
#define COWTRACE_REPORT_H

#include <linux/types.h>
#include <stdbool.h>
#include <stdio.h>
#include "cowtrace.h"
#include "procfs.h"
#include "attrib.h"

struct report_counts {
	unsigned long long kind[COW_KINDS];
	unsigned long long gc[GC_GENS + 1]; /* [GC_GEN_UNKNOWN]: generation not known */
};

struct report_proc {
	struct cow_proc_info info;
	struct report_counts counts;
	const char *cmdline;	/* NULL when it could not be read */
	int ns_pid;		/* the pid in its own pid namespace, 0 unknown */
	struct proc_mem mem;	/* last sample of smaps_rollup; mem_s < 0: none */
	double mem_s;		/* when, seconds from the start of the trace */
	const char *cgroup;	/* cgroup v2 path, NULL unknown */
	const char *py_version; /* NULL when not a CPython process */
	const char *gc_source;	/* "usdt", "uprobe:<function>", "none" */
	/* copies attributed to each cause from decoded events; all zero without attribution.
	 * [CAUSE_GC] is not used: the exact count is counts.gc */
	unsigned long long causes[CAUSE_COUNT];
	unsigned long long gc_header; /* gc copies of object headers (attrib_slot_gc_headers) */
};

/* One BPF program's run time while kernel.bpf_stats_enabled was 1 (all its runs, on every
 * process: the tracepoints fire system-wide and return early for the untraced). */
struct report_bpf_prog {
	const char *name;
	unsigned long long runs;
	unsigned long long run_ns;
};

#define REPORT_BPF_PROGS_MAX 16

struct report {
	const char *version;
	const char *detector;
	const char *kernel;
	double duration_s;
	unsigned long long start_ns; /* CLOCK_MONOTONIC at attach: process times are relative */
	unsigned long long lost_events;
	unsigned long long slots_exhausted;
	/* runs of our BPF programs the kernel skipped (bpf_prog_info.recursion_misses: a program
	 * is not run on a CPU where it is already running, as when a task preempted inside it
	 * leaves the CPU to one that hits the same hook): counts can be low by that much */
	unsigned long long missed_runs;
	struct report_counts total;
	unsigned long long causes[CAUSE_COUNT]; /* sum over processes */
	unsigned long long gc_header;		/* sum over processes */
	struct report_proc *procs;
	size_t nprocs;
	bool attribution;		/* object/field/cause attribution was on */
	const struct attrib_row *rows;	/* aggregated (cause, type, field, region), most first */
	size_t nrows;
	const char *by;			/* --by, or NULL for the default sections */
	const struct attrib_stack_row *srows; /* by Python stack, most first (--by stack) */
	size_t nsrows;
	bool bpf_stats; /* kernel.bpf_stats_enabled was 1 at the end: bpf_progs are filled */
	struct report_bpf_prog bpf_progs[REPORT_BPF_PROGS_MAX]; /* the programs that ran */
	size_t nbpf_progs;
};

struct report_figure {
	const char *name;
	const char *help;
};
/* The figures --fail-on knows, NULL-terminated. */
extern const struct report_figure report_figures[];

unsigned long long report_pages(const struct report_counts *c); /* anon + file */
unsigned long long report_gc(const struct report_counts *c);
void report_add(struct report_counts *sum, const struct report_counts *c);
/* Copies outside collections that no decoded event explains (lost events, or no attribution). */
unsigned long long report_unattributed(const struct report_counts *c,
				       const unsigned long long causes[CAUSE_COUNT]);
double report_figure_value(const struct report *r, const char *name);

void report_text(FILE *f, const struct report *r);
int report_json(FILE *f, const struct report *r); /* 0 or -errno */

#endif
