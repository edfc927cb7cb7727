/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Command-line options: parsed without side effects, so that the unit tests can call it. */
#ifndef COWTRACE_OPTIONS_H
#define COWTRACE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define OPT_PIDS_MAX 256 /* -p 1,2,3: the trees of several processes */

struct options {
	int pid;	    /* -p: the first pid; 0 when a COMMAND is given instead */
	int pids[OPT_PIDS_MAX]; /* -p: every pid given, in order, no repeats */
	int npids;
	char **command;	    /* argv of COMMAND (NULL-terminated), NULL with -p */
	double duration;    /* -d seconds; 0 = until the traced processes exit or a signal */
	double interval;    /* -i seconds; 0 = no live summary */
	const char *json_path;
	const char *fail_on;
	const char *btf_path;
	const char *detector; /* --detector: the one to use (NULL: the first that works) */
	const char *by;	    /* --by: cause, type, field or region (NULL: the default sections) */
	unsigned int buffer_mb; /* copy event buffer size */
	bool counts_only;   /* no object/field/cause attribution */
	bool no_stacks;	    /* don't walk Python stacks */
	bool per_process;   /* stack rows per process, not per role and program */
	bool native;	    /* also native (user) stacks, by frame pointers */
	bool no_direct_map; /* capture through the target's mapping, not the direct map */
	bool stop_command;  /* --stop: at -d, stop COMMAND (SIGTERM, then SIGKILL) */
	const char *folded_path;     /* --folded: collapsed stacks */
	const char *svg_path;	     /* --svg: interactive flame graph */
	const char *speedscope_path; /* --speedscope */
	const char *prometheus_path; /* --prometheus: figures for node_exporter's textfiles */
	bool prometheus_pids;	     /* --prometheus-pids: a pid label on per-process series */
	bool unit_bytes;	     /* --unit bytes: flame graphs weigh bytes, not pages */
	bool trace;
	bool quiet;
	bool verbose;
	bool help;
	bool list_detectors; /* --list-detectors */
	bool version;
};

/* Returns 0, or -EINVAL with a one-line reason in err (a usage error: exit status 2). */
int options_parse(int argc, char **argv, struct options *o, char *err, size_t errlen);
void options_usage(FILE *f);

#endif
